/*
 * admin.h: what every subcommand of the fairbeta command-line tool shares.
 * The tool is the one place where blocking libpq calls are right: it runs
 * one thing and exits.
 */
#ifndef FB_ADMIN_H
#define FB_ADMIN_H

#include <libpq-fe.h>

/* Connects to FAIRBETA_DATABASE_URL; NULL after printing why. */
PGconn *admin_connect(const char *appname);

#endif
