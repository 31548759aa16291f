/*
 * migrations.h: `fairbeta migrate`, which applies the migrations embedded
 * in the binary (lib/migrate.h) to FAIRBETA_DATABASE_URL.
 */
#ifndef FB_ADMIN_MIGRATIONS_H
#define FB_ADMIN_MIGRATIONS_H

/* Runs the subcommand; returns the exit status. */
int cmd_migrate(int argc, char **argv);

#endif
