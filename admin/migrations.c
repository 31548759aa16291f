/*
 * fairbeta migrate: applies the embedded migrations in order, each in its
 * own transaction, under an advisory lock so that two migrators never race.
 * An applied migration whose text has changed stops everything.
 */
#include "fb.h"

#include "admin.h"
#include "email.h"
#include "migrate.h"
#include "migrations.h"

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

/*
 * Gives every account still without one its normalized address and skeleton
 * (0008: SQL cannot call ICU). Idempotent, and run after every migration
 * pass, so rows written by an older server during an upgrade are caught
 * too. The table is locked against writes for the pass, so what it checks
 * stays true until it commits. Oldest accounts first: when two existing
 * accounts already clash, the older keeps the identity and the newer is
 * left pending and reported (the API still compares new addresses with
 * pending rows, and the account still signs in by its stored address);
 * an operator resolves it by hand. O(pending rows) statements.
 */
static const char SQL_BACKFILL_PENDING[] =
	"SELECT id, email FROM users WHERE email_skeleton IS NULL ORDER BY created_at, id";
enum { PENDING_ID, PENDING_EMAIL };
static const char SQL_BACKFILL_SET[] =
	"UPDATE users SET email_norm = $2, email_skeleton = $3"
	" WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM users o WHERE o.id <> $1"
	"   AND (o.email_norm = $2 OR o.email_skeleton = $3))";

static int
email_backfill(PGconn *pg)
{
	PGresult *rows = NULL, *r;
	int row, done = 0, left = 0, rc = -1;

	if (!exec_ok(pg, "BEGIN", "begin") ||
	    !exec_ok(pg, "LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE", "lock users"))
		goto out;
	rows = PQexec(pg, SQL_BACKFILL_PENDING);
	if (!ok(rows, "read accounts without a normalized address"))
		goto out;
	for (row = 0; row < PQntuples(rows); row++) {
		const char *id = PQgetvalue(rows, row, PENDING_ID);
		const char *email = PQgetvalue(rows, row, PENDING_EMAIL);
		char norm[EMAIL_FORM_MAX], skel[EMAIL_FORM_MAX];
		bool set;

		if (email_normalize(email, norm, sizeof(norm)) != 0 ||
		    email_skeleton(norm, skel, sizeof(skel)) != 0) {
			fprintf(stderr, "fairbeta migrate: warning: user %s: the address %s cannot"
			    " be normalized; left pending\n", id, email);
			left++;
			continue;
		}
		r = PQexecParams(pg, SQL_BACKFILL_SET, 3, NULL,
		    (const char *[]){ id, norm, skel }, NULL, NULL, 0);
		set = ok(r, "set a normalized address");
		if (set && strcmp(PQcmdTuples(r), "1") != 0) {
			fprintf(stderr, "fairbeta migrate: warning: user %s: the address %s is the"
			    " same as, or looks like, an older account's; left pending: disable or"
			    " rename one of them\n", id, email);
			left++;
		} else if (set) {
			done++;
		}
		PQclear(r);
		if (!set)
			goto out;
	}
	if (!exec_ok(pg, "COMMIT", "commit"))
		goto out;
	if (done > 0 || left > 0)
		printf("email identities: %d accounts given one, %d left pending\n", done, left);
	rc = 0;
out:
	if (rc != 0)
		exec_ok(pg, "ROLLBACK", "rollback");
	PQclear(rows);
	return rc;
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
			if (strcmp(PQgetvalue(applied, row, MIGRATE_COL_VERSION), version) == 0)
				break;
		if (row < PQntuples(applied)) {
			if (strcmp(PQgetvalue(applied, row, MIGRATE_COL_CHECKSUM), sum) != 0) {
				fprintf(stderr, "fairbeta migrate: %s was changed after it was applied"
				    " (checksum %s, recorded %s); write a new migration instead\n",
				    m->name, sum, PQgetvalue(applied, row, MIGRATE_COL_CHECKSUM));
				goto out;
			}
			continue;
		}
		if (apply_one(pg, m, version, sum) != 0)
			goto out;
		n++;
	}
	if (email_backfill(pg) != 0)
		goto out;
	printf("migrations: %d applied now, %zu in all, schema current\n", n,
	    fb_migrations_count);
	rc = 0;
out:
	PQclear(applied);
	exec_ok(pg, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", "unlock");
	PQfinish(pg);
	return rc;
}
