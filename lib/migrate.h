/*
 * migrate.h: the schema migrations compiled into every binary.
 *
 * db/migrations/NNNN_name.sql files are embedded at build time, in order.
 * The admin tool applies them (admin/migrate.c); the server only compares
 * what the database has applied with what it was built with, for /readyz.
 */
#ifndef FB_MIGRATE_H
#define FB_MIGRATE_H

#include <libpq-fe.h>

struct migration {
	const char *name;        /* file name, e.g. 0001_foundation.sql */
	const char *sql;
	size_t len;
};

extern const struct migration fb_migrations[];
extern const size_t fb_migrations_count;

enum migrate_state { MIGRATE_CURRENT, MIGRATE_PENDING, MIGRATE_MISMATCH };

/* Hex SHA-256 of a migration's text, as recorded in schema_migrations. */
void migrate_checksum(const struct migration *m, char out[65]);

/* The version of a migration: its name up to the first '_'. */
void migrate_version(const struct migration *m, char *out, size_t outlen);

/*
 * Compares rows (version, checksum) of schema_migrations, ordered by version,
 * with the embedded list. Pure; used by /readyz.
 */
enum migrate_state migrate_compare(const PGresult *applied);

#define MIGRATE_SELECT "SELECT version, checksum FROM schema_migrations ORDER BY version"
enum { MIGRATE_COL_VERSION, MIGRATE_COL_CHECKSUM };

#endif
