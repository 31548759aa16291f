/*
 * fairbeta migrate: applies the embedded migrations in order, each in its
 * own transaction, under an advisory lock so that two migrators never race.
 * An applied migration whose text has changed stops everything.
 */
#include "fb.h"

#include "admin.h"
#include "migrate.h"

/* "fairbeta" in ASCII: the advisory lock key every migrator takes. */
#define MIGRATE_LOCK_KEY "7306080799868257633"

static const char SQL_CREATE[] =
	"CREATE TABLE IF NOT EXISTS schema_migrations ("
	" version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
	" applied_at timestamptz NOT NULL DEFAULT now())";

static bool
ok(PGresult *r, const char *what)
{
	ExecStatusType st = PQresultStatus(r);

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return true;
	fprintf(stderr, "fairbeta migrate: %s: %s", what, PQresultErrorMessage(r));
	return false;
}

static bool
exec_ok(PGconn *pg, const char *sql, const char *what)
{
	PGresult *r = PQexec(pg, sql);
	bool good = ok(r, what);

	PQclear(r);
	return good;
}

static int
apply_one(PGconn *pg, const struct migration *m, const char *version, const char *sum)
{
	const char *params[3] = { version, m->name, sum };
	PGresult *r;

	if (!exec_ok(pg, "BEGIN", "begin"))
		return -1;
	if (!exec_ok(pg, m->sql, m->name))
		goto fail;
	r = PQexecParams(pg, "INSERT INTO schema_migrations (version, name, checksum)"
	    " VALUES ($1, $2, $3)", 3, NULL, params, NULL, NULL, 0);
	if (!ok(r, "record")) {
		PQclear(r);
		goto fail;
	}
	PQclear(r);
	if (!exec_ok(pg, "COMMIT", "commit"))
		return -1;
	printf("applied %s\n", m->name);
	return 0;
fail:
	exec_ok(pg, "ROLLBACK", "rollback");
	return -1;
}

int
cmd_migrate(int argc, char **argv)
{
	PGconn *pg;
	PGresult *applied = NULL;
	int rc = 1, n = 0;
	size_t i;

	FB_UNUSED(argc);
	FB_UNUSED(argv);
	if ((pg = admin_connect("fairbeta-migrate")) == NULL)
		return 1;
	if (!exec_ok(pg, "SET client_min_messages = warning", "settings") ||
	    !exec_ok(pg, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", "lock") ||
	    !exec_ok(pg, SQL_CREATE, "schema_migrations"))
		goto out;
	applied = PQexec(pg, MIGRATE_SELECT);
	if (!ok(applied, "read schema_migrations"))
		goto out;
	for (i = 0; i < fb_migrations_count; i++) {
		const struct migration *m = &fb_migrations[i];
		char version[32], sum[65];
		int row;

		migrate_version(m, version, sizeof(version));
		migrate_checksum(m, sum);
		for (row = 0; row < PQntuples(applied); row++)
			if (strcmp(PQgetvalue(applied, row, 0), version) == 0)
				break;
		if (row < PQntuples(applied)) {
			if (strcmp(PQgetvalue(applied, row, 1), sum) != 0) {
				fprintf(stderr, "fairbeta migrate: %s was changed after it was applied"
				    " (checksum %s, recorded %s); write a new migration instead\n",
				    m->name, sum, PQgetvalue(applied, row, 1));
				goto out;
			}
			continue;
		}
		if (apply_one(pg, m, version, sum) != 0)
			goto out;
		n++;
	}
	printf("migrations: %d applied now, %zu in all, schema current\n", n,
	    fb_migrations_count);
	rc = 0;
out:
	PQclear(applied);
	exec_ok(pg, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", "unlock");
	PQfinish(pg);
	return rc;
}
