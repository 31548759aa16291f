/*
 * ledger.c: what the routes that post to the ledger share.
 */
#include "fb.h"

#include "jsonv.h"
#include "ledger.h"

/* What the database refused, in the words of the API. */
bool
ledger_refusal(struct reqctx *rc, struct db_job *job, enum db_status st)
{
	const char *c = db_job_constraint(job);

	if (st != DB_SQL_ERROR)
		return false;
	if (strcmp(c, "payable_not_negative") == 0) {
		reply_problem(rc, 409, "insufficient-balance",
		    "an artist's payable balance would go below zero");
	} else if (strcmp(c, "ledger_balanced") == 0 || strcmp(c, "ledger_account_program") == 0 ||
	    strcmp(c, "ledger_entry_zero") == 0 || strcmp(c, "ledger_entries_count") == 0) {
		json_t *errors = json_array();

		jv_error(errors, "entries", db_job_errmsg(job));
		reply_problem_ext(rc, 422, "validation", json_pack("{s:o}", "errors", errors),
		    "the entries cannot be posted");
	} else if (strcmp(c, "four_eyes") == 0) {
		reply_problem(rc, 403, "four-eyes",
		    "a payout batch is approved by a finance user other than the one who drafted it");
	} else if (strcmp(c, "ledger_transactions_reverses_key") == 0) {
		reply_problem(rc, 409, "already-reversed", "this transaction has been reversed already");
	} else {
		return false;
	}
	return true;
}
