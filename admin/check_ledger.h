/*
 * check_ledger.h: `fairbeta admin check-ledger`, an offline audit of the
 * double-entry ledger (migration 0004) against its own invariants.
 */
#ifndef FB_CHECK_LEDGER_H
#define FB_CHECK_LEDGER_H

/*
 * Runs every check in one read-only snapshot of FAIRBETA_DATABASE_URL and
 * prints one line per violation on stdout. Returns the exit status: 0 when
 * the ledger is consistent, 1 when a check found a violation, 2 when it could
 * not check (bad usage, no connection, a query that failed).
 */
int cmd_check_ledger(int argc, char **argv);

#endif
