/*
 * h_ledger.c: funding, manual adjustments, reversals, and reading the
 * ledger (accounts, transactions, an artist's balance and statement).
 *
 * Money moves only through the SQL function ledger_post(): one round trip
 * that locks the accounts in id order, checks the entries sum to zero,
 * updates the balances and writes the entries. The database refuses what
 * is not allowed (unbalanced, a payable below zero, an account of another
 * program); this file turns those refusals into 409s and 422s. A request
 * under an Idempotency-Key posts with that key as its effect key, so even
 * a request repeated after a crash posts once.
 */
#include "fb.h"

#include "audit.h"
#include "crypto.h"
#include "handlers.h"
#include "program.h"
#include "idem.h"
#include "jsonv.h"
#include "ledger.h"
#include "list.h"
#include "repr.h"
#include "valid.h"

#define MAX_AMOUNT 1000000000000000LL

/* Memos are one line: they end up in CSV exports and bank files. */
static const struct jv_field funding_fields[] = {
	{ "amount_minor", JV_INTEGER, JV_REQUIRED, 1, MAX_AMOUNT, NULL, NULL },
	{ "memo",         JV_STRING,  JV_ONELINE, 0, 1000, NULL, NULL },
};
const struct jv_schema ledger_fund_body = JV_SCHEMA(funding_fields);

static const struct jv_field entry_fields[] = {
	{ "account_id",   JV_STRING,  JV_REQUIRED, 36, 36, NULL, NULL },
	{ "amount_minor", JV_INTEGER, JV_REQUIRED, -MAX_AMOUNT, MAX_AMOUNT, NULL, NULL },
};
static const struct jv_schema entry_schema = JV_SCHEMA(entry_fields);

static const struct jv_field adjust_fields[] = {
	{ "program_id", JV_STRING, JV_REQUIRED, 36, 36, NULL, NULL },
	{ "memo",       JV_STRING, JV_ONELINE, 0, 1000, NULL, NULL },
	{ "entries",    JV_ARRAY,  JV_REQUIRED, 2, 50, NULL, &entry_schema },
};
const struct jv_schema ledger_adjust_body = JV_SCHEMA(adjust_fields);

static const struct jv_field reverse_fields[] = {
	{ "memo", JV_STRING, JV_ONELINE, 0, 1000, NULL, NULL },
};
const struct jv_schema ledger_reverse_body = JV_SCHEMA(reverse_fields);

static const char SQL_FUND[] =
	"SELECT ledger_post($1, p.id, 'funding', $2,"
	"         ARRAY[ledger_account(p.id, 'cash', NULL), ledger_account(p.id, 'funding', NULL)],"
	"         ARRAY[$3::bigint, -$3::bigint], $4, $5, $6)"
	"  FROM programs p WHERE p.id = $7";

static const char SQL_ADJUST[] =
	"SELECT ledger_post($1, p.id, 'adjustment', $2, $3::uuid[], $4::bigint[], $5, $6, $7)"
	"  FROM programs p WHERE p.id = $8";

/* The posted transaction, or the one an earlier run under the key posted. */
static const char SQL_TX_BY_ID_OR_KEY[] =
	"SELECT " REPR_TRANSACTION_JSON("t") " FROM ledger_transactions t"
	" WHERE t.id = $1 OR ($2::text IS NOT NULL AND t.effect_key = $2)";
enum { TK_TRANSACTION };

static const char SQL_TX_GET[] =
	"SELECT " REPR_TRANSACTION_JSON("t") " FROM ledger_transactions t WHERE t.id = $1";
enum { TG_TRANSACTION };

static const char SQL_TO_REVERSE[] =
	"SELECT t.program_id, t.kind,"
	"       EXISTS (SELECT 1 FROM ledger_transactions r WHERE r.reverses = t.id),"
	"       array_agg(e.account_id ORDER BY e.id), array_agg(-e.amount_minor ORDER BY e.id)"
	"  FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id"
	" WHERE t.id = $1 GROUP BY t.id";
enum { TR_PROGRAM, TR_KIND, TR_REVERSED, TR_ACCOUNTS, TR_AMOUNTS };

static const char SQL_REVERSE[] =
	"SELECT ledger_post($1, $2, 'reversal', $3, $4::uuid[], $5::bigint[], $6, $7,"
	"                   'reversal:' || $8::text, $8::uuid)";
enum { RV_TRANSACTION };

static const char SQL_ACCOUNTS[] =
	"SELECT " REPR_ACCOUNT_JSON("a") ", a.seq FROM ledger_accounts a"
	" WHERE ($1::uuid IS NULL OR a.program_id = $1::uuid)"
	"   AND ($2::bigint IS NULL OR a.seq < $2) ORDER BY a.seq DESC LIMIT $3";

static const char SQL_TRANSACTIONS[] =
	"SELECT " REPR_TRANSACTION_JSON("t") ", t.seq FROM ledger_transactions t"
	" WHERE ($1::uuid IS NULL OR t.program_id = $1::uuid)"
	"   AND ($2::timestamptz IS NULL OR t.created_at >= $2)"
	"   AND ($3::timestamptz IS NULL OR t.created_at < $3)"
	"   AND ($4::bigint IS NULL OR t.seq < $4) ORDER BY t.seq DESC LIMIT $5";

static const char SQL_BALANCE[] =
	"SELECT coalesce(json_agg(json_build_object('program_id', program_id,"
	"         'currency', currency, 'earned_minor', earned, 'paid_minor', paid,"
	"         'payable_minor', balance) ORDER BY program_id), '[]')"
	"  FROM ledger_accounts WHERE kind = 'payable' AND owner_id = $1";
enum { BALANCE_ARRAY };

/* The artist's side: what raises the payable is positive. */
static const char SQL_STATEMENT[] =
	"SELECT json_build_object('entry_id', e.id::text, 'transaction_id', e.transaction_id,"
	"         'program_id', a.program_id, 'kind', t.kind, 'memo', t.memo,"
	"         'amount_minor', -e.amount_minor, 'balance_minor', e.balance_after,"
	"         'currency', a.currency, 'at', rfc3339(e.created_at)), e.id"
	"  FROM ledger_accounts a"
	"  JOIN ledger_entries e ON e.account_id = a.id"
	"  JOIN ledger_transactions t ON t.id = e.transaction_id"
	" WHERE a.kind = 'payable' AND a.owner_id = $1"
	"   AND ($2::uuid IS NULL OR a.program_id = $2::uuid)"
	"   AND ($3::timestamptz IS NULL OR e.created_at >= $3)"
	"   AND ($4::timestamptz IS NULL OR e.created_at < $4)"
	"   AND ($5::bigint IS NULL OR e.id < $5)"
	" ORDER BY e.id DESC LIMIT $6";

struct posting {
	char id[CRYPTO_UUID_LEN];
	const char *effect_key;
	const char *action;         /* audit action */
	int posting;                /* the ledger_post() statement; no row: no program */
	int result;
	struct list_page page;
};

static struct posting *
posting_new(struct reqctx *rc, const char *action)
{
	struct posting *p = arena_alloc(rc->arena, sizeof(*p));

	memset(p, 0, sizeof(*p));
	crypto_uuid_new(p->id);
	p->effect_key = idem_effect_key(rc);
	p->action = action;
	p->posting = -1;
	p->result = -1;
	rc->h = p;
	return p;
}

/* The program exists (else 404); audits what was posted and reads it back. */
static int
posted(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct posting *p = rc->h;
	json_t *after;

	if (program_step_found(job, res, arg) != 0)
		return -1;
	if (!PQgetisnull(res, 0, RV_TRANSACTION)) {
		after = json_pack("{s:s, s:O}", "transaction_id", p->id, "request", rc->body);
		audit_add(job, &(struct audit_entry){
			.actor_id = req_actor_id(rc), .actor_role = req_actor_role(rc),
			.action = p->action, .entity_type = "ledger_transaction",
			.entity_id = p->id, .after = after, .request_id = rc->log.request_id,
		});
		json_decref(after);
	}
	p->result = db_job_add_after(job, SQL_TX_BY_ID_OR_KEY, p->id, p->effect_key);
	return 0;
}

/*
 * A funding or an adjustment in one flight: the posting and its audit row
 * (only when this request posted, not an earlier one under the effect key)
 * from BEGIN to COMMIT, then the transaction read back after the COMMIT.
 * No step stops between them, so the accounts ledger_post() locks are held
 * only while the server posts, neither across a round trip nor while it
 * builds the reply (issue 11, P2: every funding of a program locks the same
 * two accounts, and reading back inside the transaction cost a third of
 * the throughput).
 */
static req_db_any_fn posting_done;

static void
posting_submit(struct reqctx *rc, struct posting *p, struct db_job *job)
{
	json_t *after = json_pack("{s:s, s:O}", "transaction_id", p->id, "request", rc->body);

	audit_add_if_posted(job, &(struct audit_entry){
		.actor_id = req_actor_id(rc), .actor_role = req_actor_role(rc),
		.action = p->action, .entity_type = "ledger_transaction",
		.entity_id = p->id, .after = after, .request_id = rc->log.request_id,
	}, p->id);
	json_decref(after);
	p->result = db_job_add_after(job, SQL_TX_BY_ID_OR_KEY, p->id, p->effect_key);
	req_db_any(rc, job, posting_done);
}


static void
posting_done(struct reqctx *rc, struct db_job *job, enum db_status st)
{
	struct posting *p = rc->h;
	const PGresult *r;

	if (ledger_refusal(rc, job, st))
		return;
	if (st != DB_OK) {
		reply_db_failure(rc, job, st);
		return;
	}
	if (p->posting >= 0 && PQntuples(db_job_result(job, p->posting)) != 1) {
		reply_problem(rc, 404, "not-found", "no such program");
		return;
	}
	r = db_job_result(job, p->result);
	if (PQntuples(r) != 1) {
		reply_problem(rc, 409, "conflict", "the posting raced with another; retry it");
		return;
	}
	reply_json(rc, 201, repr_json(r, 0, TK_TRANSACTION));
}

/* ---- POST /v1/programs/:id/funding ---- */

void
h_ledger_fund(struct reqctx *rc)
{
	const char *program = req_param_uuid(rc, 0), *memo = jv_str(rc->body, "memo");
	struct posting *p;
	struct db_job *job;
	char amount[24];

	if (program == NULL) {
		reply_problem(rc, 404, "not-found", "no such program");
		return;
	}
	p = posting_new(rc, "ledger.fund");
	snprintf(amount, sizeof(amount), "%lld", jv_int(rc->body, "amount_minor", 0));
	job = db_job_new(DB_TX | DB_RETRY);
	p->posting = db_job_add(job, NULL, SQL_FUND, p->id, memo ? memo : "", amount,
	    rc->user.id, rc->log.request_id, p->effect_key, program);
	posting_submit(rc, p, job);
}

/* ---- POST /v1/ledger/transactions ---- */

void
h_ledger_adjust(struct reqctx *rc)
{
	const json_t *b = rc->body, *entries = json_object_get(b, "entries"), *e;
	const char *program = jv_str(b, "program_id"), *memo = jv_str(b, "memo");
	json_t *errors = req_body_errors(rc);
	char *accounts, *amounts, field[48];
	long long sum = 0;
	struct posting *p;
	struct db_job *job;
	size_t i;

	if (program && !crypto_uuid_valid(program))
		jv_error(errors, "program_id", "must be a UUID");
	json_array_foreach(entries, i, e) {
		const char *acct = jv_str(e, "account_id");

		snprintf(field, sizeof(field), "entries[%zu]", i);
		if (acct && !crypto_uuid_valid(acct))
			jv_error(errors, field, "account_id must be a UUID");
		if (json_is_integer(json_object_get(e, "amount_minor")) &&
		    jv_int(e, "amount_minor", 0) == 0)
			jv_error(errors, field, "amount_minor must not be zero");
		/* amounts are 64-bit: a sum that would wrap cannot balance */
		if (__builtin_add_overflow(sum, jv_int(e, "amount_minor", 0), &sum)) {
			jv_error(errors, "entries", "the amounts add up beyond 64 bits");
			break;
		}
	}
	if (json_array_size(errors) == 0 && sum != 0)
		jv_error(errors, "entries", "must sum to zero (debits positive, credits negative)");
	if (json_array_size(errors) > 0) {
		reply_invalid(rc, errors);
		return;
	}
	json_decref(errors);

	accounts = arena_strdup(rc->arena, "{");
	amounts = arena_strdup(rc->arena, "{");
	json_array_foreach(entries, i, e) {
		accounts = arena_printf(rc->arena, "%s%s%s", accounts, i ? "," : "",
		    jv_str(e, "account_id"));
		amounts = arena_printf(rc->arena, "%s%s%lld", amounts, i ? "," : "",
		    jv_int(e, "amount_minor", 0));
	}
	accounts = arena_printf(rc->arena, "%s}", accounts);
	amounts = arena_printf(rc->arena, "%s}", amounts);
	p = posting_new(rc, "ledger.adjust");
	job = db_job_new(DB_TX | DB_RETRY);
	p->posting = db_job_add(job, NULL, SQL_ADJUST, p->id, memo ? memo : "", accounts,
	    amounts, rc->user.id, rc->log.request_id, p->effect_key, program);
	posting_submit(rc, p, job);
}

/* ---- POST /v1/ledger/transactions/:id/reverse ---- */

static int
reversal_posted(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);

	if (PQgetisnull(res, 0, RV_TRANSACTION))
		return req_refuse(rc, 409, "already-reversed", NULL,
		    "this transaction has been reversed already");
	return posted(job, res, arg);
}

static int
to_reverse(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct posting *p = rc->h;
	const char *memo = jv_str(rc->body, "memo"), *kind;

	if (PQntuples(res) != 1)
		return req_refuse(rc, 404, "not-found", NULL, "no such transaction");
	kind = PQgetvalue(res, 0, TR_KIND);
	if (PQgetvalue(res, 0, TR_REVERSED)[0] == 't')
		return req_refuse(rc, 409, "already-reversed", NULL,
		    "this transaction has been reversed already");
	if (strcmp(kind, "payout") == 0 || strcmp(kind, "payout_failed") == 0)
		return req_refuse(rc, 409, "conflict", NULL,
		    "payouts are undone by marking the payout item failed");
	db_job_add(job, reversal_posted, SQL_REVERSE, p->id, PQgetvalue(res, 0, TR_PROGRAM),
	    memo ? memo : arena_printf(rc->arena, "reversal of %s", req_param(rc, 0)),
	    PQgetvalue(res, 0, TR_ACCOUNTS), PQgetvalue(res, 0, TR_AMOUNTS), rc->user.id,
	    rc->log.request_id, req_param(rc, 0));
	return 0;
}

void
h_ledger_reverse(struct reqctx *rc)
{
	const char *id = req_param_uuid(rc, 0);
	struct db_job *job;

	if (id == NULL) {
		reply_problem(rc, 404, "not-found", "no such transaction");
		return;
	}
	posting_new(rc, "ledger.reverse");
	job = db_job_new(DB_TX | DB_RETRY);
	db_job_add(job, to_reverse, SQL_TO_REVERSE, id);
	req_db_any(rc, job, posting_done);
}

/* ---- reading ---- */

static void
listed(struct reqctx *rc, struct db_job *job)
{
	struct posting *p = rc->h;

	reply_list(rc, job, 0, p->page.limit, 1, repr_row_json);
}

static const struct list_filter program_filter[] = {
	{ "program_id", NULL, "must be a UUID" },
	{ NULL, NULL, NULL },
};

void
h_ledger_accounts(struct reqctx *rc)
{
	static const char *const known[] = { "program_id", "limit", "cursor", NULL };
	struct posting *p = posting_new(rc, NULL);
	struct db_job *job;

	if (!list_begin(rc, known, program_filter, NULL, &p->page))
		return;
	job = db_job_new(0);
	db_job_add(job, NULL, SQL_ACCOUNTS, req_query(rc, "program_id"), p->page.cursor,
	    p->page.fetch);
	req_db(rc, job, listed);
}

/*
 * A list filtered by program and time: the statement's parameters are the
 * owner (when given), program_id, from, to, the cursor and limit + 1.
 */
static void
dated_list(struct reqctx *rc, const char *sql, const char *owner)
{
	static const char *const known[] = {
		"program_id", "from", "to", "limit", "cursor", NULL,
	};
	const char *params[6];
	struct posting *p = posting_new(rc, NULL);
	struct db_job *job;
	int n = 0;

	if (!list_begin(rc, known, program_filter, list_check_window, &p->page))
		return;
	if (owner != NULL)
		params[n++] = owner;
	params[n++] = req_query(rc, "program_id");
	params[n++] = req_query(rc, "from");
	params[n++] = req_query(rc, "to");
	params[n++] = p->page.cursor;
	params[n++] = p->page.fetch;
	job = db_job_new(0);
	db_job_addv(job, NULL, sql, n, params);
	req_db(rc, job, listed);
}

void
h_ledger_transactions(struct reqctx *rc)
{
	dated_list(rc, SQL_TRANSACTIONS, NULL);
}

static void
transaction_read(struct reqctx *rc, struct db_job *job)
{
	const PGresult *r = db_job_result(job, 0);

	if (PQntuples(r) != 1) {
		reply_problem(rc, 404, "not-found", "no such transaction");
		return;
	}
	reply_json_etag(rc, 200, repr_json(r, 0, TG_TRANSACTION));
}

void
h_ledger_transaction_get(struct reqctx *rc)
{
	const char *id = req_param_uuid(rc, 0);
	struct db_job *job;

	if (id == NULL) {
		reply_problem(rc, 404, "not-found", "no such transaction");
		return;
	}
	job = db_job_new(0);
	db_job_add(job, NULL, SQL_TX_GET, id);
	req_db(rc, job, transaction_read);
}

static void
balance_read(struct reqctx *rc, struct db_job *job)
{
	reply_json(rc, 200, json_pack("{s:o}", "items",
	    repr_json(db_job_result(job, 0), 0, BALANCE_ARRAY)));
}

void
h_my_balance(struct reqctx *rc)
{
	struct db_job *job = db_job_new(0);

	db_job_add(job, NULL, SQL_BALANCE, rc->user.id);
	req_db(rc, job, balance_read);
}

void
h_my_statement(struct reqctx *rc)
{
	dated_list(rc, SQL_STATEMENT, rc->user.id);
}
