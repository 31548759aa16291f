/*
 * admin.h: the fairbeta command-line tool's subcommands. The tool is the one
 * place where blocking libpq calls are right: it runs one thing and exits.
 */
#ifndef FB_ADMIN_H
#define FB_ADMIN_H

#include <libpq-fe.h>

/* Connects to FAIRBETA_DATABASE_URL; NULL after printing why. */
PGconn *admin_connect(const char *appname);

int cmd_migrate(int argc, char **argv);
int cmd_create_user(int argc, char **argv);

#endif
