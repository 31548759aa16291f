/*
 * fairbeta admin check-ledger: re-derives what the ledger stores and reports
 * every place where the two disagree.
 *
 * The database already refuses most corruption (balanced transactions at
 * commit, append-only entries, payable >= 0), and ledger_post() keeps the
 * accounts' balance, version, earned and paid in step with the entries. This
 * command trusts none of that: it is what an operator runs after a restore,
 * a manual fix or a suspected bug, so each check recomputes an invariant from
 * the entries themselves.
 *
 * Each check is one query returning the violating rows, at most
 * CHECK_MAX_LINES of them, each carrying the total count in its first column
 * so that a huge breakage prints a bounded report that still says how big it
 * is. The remaining columns are printed as name=value, so a check is just its
 * name and its SQL.
 */
#include "fb.h"

#include "admin.h"
#include "check_ledger.h"

/* Lines printed per check; a text, since it is a query parameter. */
#define CHECK_MAX_LINES "100"

struct ledger_check {
	const char *name;   /* starts each violation line */
	const char *sql;    /* $1: row limit; CHECK_COL_TOTAL: the count of violations */
};
enum { CHECK_COL_TOTAL };   /* every check's first column; the rest are printed */

/* +1 for debit-normal accounts, -1 for credit-normal ones (see 0004). */
#define SIGN_SQL "CASE WHEN a.kind IN ('cash', 'expense') THEN 1 ELSE -1 END"

/*
 * Cost: every check is at most one pass over ledger_entries (the account
 * checks go through its (account_id, account_version) index once per
 * account), so the whole run is a few sequential scans of the ledger.
 */
static const struct ledger_check checks[] = {
	{ "unbalanced-transaction",
	  "SELECT count(*) OVER () AS total, t.id AS transaction,"
	  "       sum(e.amount_minor) AS sum_minor"
	  "  FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id"
	  " GROUP BY t.id, t.seq HAVING sum(e.amount_minor) <> 0"
	  " ORDER BY t.seq LIMIT $1" },
	/* A left join: a transaction with no entries at all is the worst case. */
	{ "too-few-entries",
	  "SELECT count(*) OVER () AS total, t.id AS transaction, count(e.id) AS entries"
	  "  FROM ledger_transactions t LEFT JOIN ledger_entries e ON e.transaction_id = t.id"
	  " GROUP BY t.id, t.seq HAVING count(e.id) < 2"
	  " ORDER BY t.seq LIMIT $1" },
	/* Implied by the first check, but also catches entries whose transaction
	 * row is missing should the foreign key ever be dropped. */
	{ "unbalanced-ledger",
	  "SELECT count(*) OVER () AS total, s.sum_minor"
	  "  FROM (SELECT coalesce(sum(amount_minor), 0) AS sum_minor FROM ledger_entries) s"
	  " WHERE s.sum_minor <> 0 LIMIT $1" },
	{ "account-balance-vs-entries",
	  "SELECT count(*) OVER () AS total, a.id AS account, a.kind, a.balance,"
	  "       s.entries_sum"
	  "  FROM ledger_accounts a CROSS JOIN LATERAL"
	  "       (SELECT " SIGN_SQL " * coalesce(sum(e.amount_minor), 0) AS entries_sum"
	  "          FROM ledger_entries e WHERE e.account_id = a.id) s"
	  " WHERE a.balance <> s.entries_sum"
	  " ORDER BY a.seq LIMIT $1" },
	/* An account with no entries must be at 0: nothing ever moved it. */
	{ "account-balance-vs-latest-entry",
	  "SELECT count(*) OVER () AS total, a.id AS account, a.kind, a.balance,"
	  "       l.balance_after AS latest_balance_after, l.account_version AS latest_version"
	  "  FROM ledger_accounts a LEFT JOIN LATERAL"
	  "       (SELECT e.balance_after, e.account_version FROM ledger_entries e"
	  "         WHERE e.account_id = a.id ORDER BY e.account_version DESC LIMIT 1) l ON true"
	  " WHERE a.balance <> coalesce(l.balance_after, 0)"
	  " ORDER BY a.seq LIMIT $1" },
	{ "account-version",
	  "SELECT count(*) OVER () AS total, a.id AS account, a.kind, a.version, n.entries"
	  "  FROM ledger_accounts a CROSS JOIN LATERAL"
	  "       (SELECT count(*) AS entries FROM ledger_entries e"
	  "         WHERE e.account_id = a.id) n"
	  " WHERE a.version <> n.entries"
	  " ORDER BY a.seq LIMIT $1" },
	{ "negative-payable",
	  "SELECT count(*) OVER () AS total, a.id AS account, a.owner_id AS artist, a.balance"
	  "  FROM ledger_accounts a WHERE a.kind = 'payable' AND a.balance < 0"
	  " ORDER BY a.seq LIMIT $1" },
	{ "payable-earned-paid",
	  "SELECT count(*) OVER () AS total, a.id AS account, a.owner_id AS artist,"
	  "       a.earned, a.paid, a.balance"
	  "  FROM ledger_accounts a"
	  " WHERE a.kind = 'payable' AND a.earned - a.paid <> a.balance"
	  " ORDER BY a.seq LIMIT $1" },
};

static const char SQL_COUNTS[] =
	"SELECT (SELECT count(*) FROM ledger_transactions),"
	"       (SELECT count(*) FROM ledger_entries),"
	"       (SELECT count(*) FROM ledger_accounts)";
enum { COUNT_TRANSACTIONS, COUNT_ENTRIES, COUNT_ACCOUNTS };

/* Runs a statement without rows or parameters; false after printing why. */
static bool
exec_ok(PGconn *pg, const char *sql)
{
	PGresult *r = PQexecParams(pg, sql, 0, NULL, NULL, NULL, NULL, 0);
	bool good = PQresultStatus(r) == PGRES_COMMAND_OK;

	if (!good)
		fprintf(stderr, "fairbeta check-ledger: %s", PQresultErrorMessage(r));
	PQclear(r);
	return good;
}

/* One violation: "name: col=value col=value", skipping the count column. */
static void
print_violation(const char *name, PGresult *r, int row)
{
	int col;

	printf("%s:", name);
	for (col = 1; col < PQnfields(r); col++)
		printf(" %s=%s", PQfname(r, col),
		    PQgetisnull(r, row, col) ? "null" : PQgetvalue(r, row, col));
	printf("\n");
}

/*
 * Runs one check and prints its violations. Adds their total (not only the
 * printed ones) to *found. Returns 0, or -1 when the query failed.
 */
static int
run_check(PGconn *pg, const struct ledger_check *c, long *found)
{
	const char *params[1] = { CHECK_MAX_LINES };
	PGresult *r;
	long total;
	int row, rows, rc = -1;

	r = PQexecParams(pg, c->sql, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "fairbeta check-ledger: %s: %s", c->name,
		    PQresultErrorMessage(r));
		goto out;
	}
	rows = PQntuples(r);
	total = rows > 0 ? strtol(PQgetvalue(r, 0, CHECK_COL_TOTAL), NULL, 10) : 0;
	for (row = 0; row < rows; row++)
		print_violation(c->name, r, row);
	if (total > rows)
		printf("%s: %ld more not shown\n", c->name, total - rows);
	*found += total;
	rc = 0;
out:
	PQclear(r);
	return rc;
}

/* Prints the summary line of a consistent ledger. Returns 0 or -1. */
static int
print_ok(PGconn *pg)
{
	PGresult *r = PQexecParams(pg, SQL_COUNTS, 0, NULL, NULL, NULL, NULL, 0);
	int rc = -1;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		fprintf(stderr, "fairbeta check-ledger: counts: %s", PQresultErrorMessage(r));
		goto out;
	}
	printf("ledger ok: %s transactions, %s entries, %s accounts\n",
	    PQgetvalue(r, 0, COUNT_TRANSACTIONS), PQgetvalue(r, 0, COUNT_ENTRIES),
	    PQgetvalue(r, 0, COUNT_ACCOUNTS));
	rc = 0;
out:
	PQclear(r);
	return rc;
}

int
cmd_check_ledger(int argc, char **argv)
{
	PGconn *pg = NULL;
	long found = 0;
	size_t i;
	int rc = 2;

	FB_UNUSED(argv);
	if (argc != 1) {
		fprintf(stderr, "usage: fairbeta admin check-ledger\n");
		return 2;
	}
	if ((pg = admin_connect("fairbeta-check-ledger")) == NULL)
		goto out;
	/*
	 * One snapshot for every check: the API may post while we read, and
	 * an account's balance read by one query against entries read by the
	 * next would report a violation that never existed.
	 */
	if (!exec_ok(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"))
		goto out;
	for (i = 0; i < FB_ARRAY_LEN(checks); i++)
		if (run_check(pg, &checks[i], &found) != 0)
			goto out;
	if (found > 0) {
		printf("ledger check failed: %ld violation%s\n", found, found == 1 ? "" : "s");
		rc = 1;
		goto out;
	}
	if (print_ok(pg) != 0)
		goto out;
	rc = 0;
out:
	/* Read-only: ending the session discards the transaction. */
	PQfinish(pg);
	fflush(stdout);
	return rc;
}
