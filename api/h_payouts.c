/*
 * h_payouts.c: payout batches. A finance user drafts a batch of what each
 * artist is owed; a different finance user approves it, which posts every
 * item (debit payable, credit cash) in one transaction, or none when the
 * program's cash is short; items are then marked paid with the bank's
 * reference, or failed, which posts the reversal that restores the payable.
 */
#include "fb.h"

#include <event2/buffer.h>

#include "audit.h"
#include "crypto.h"
#include "csv.h"
#include "handlers.h"
#include "program.h"
#include "idem.h"
#include "jsonv.h"
#include "ledger.h"
#include "list.h"
#include "repr.h"

static const struct jv_field draft_fields[] = {
	{ "min_amount_minor", JV_INTEGER, 0, 1, 1000000000000000LL, NULL, NULL },
};
const struct jv_schema payout_draft_body = JV_SCHEMA(draft_fields);

static const struct jv_field paid_fields[] = {
	{ "external_ref", JV_STRING, JV_REQUIRED | JV_ONELINE, 1, 200, NULL, NULL },
};
const struct jv_schema payout_item_paid_body = JV_SCHEMA(paid_fields);

static const struct jv_field failed_fields[] = {
	{ "reason", JV_STRING, JV_REQUIRED | JV_TEXT, 1, 1000, NULL, NULL },
};
const struct jv_schema payout_item_failed_body = JV_SCHEMA(failed_fields);

#define ITEM_JSON(i) \
	"json_build_object('id', " i ".id, 'artist_id', " i ".artist_id," \
	" 'amount_minor', " i ".amount_minor, 'status', " i ".status," \
	" 'external_ref', " i ".external_ref, 'failure_reason', " i ".failure_reason," \
	" 'transaction_id', " i ".transaction_id)"

/* A batch with its items, as one json column. */
#define BATCH_JSON(b) \
	"json_build_object('id', " b ".id, 'program_id', " b ".program_id," \
	" 'status', " b ".status, 'min_amount_minor', " b ".min_amount_minor," \
	" 'total_minor', " b ".total_minor, 'currency', " b ".currency," \
	" 'created_by', " b ".created_by, 'created_at', rfc3339(" b ".created_at)," \
	" 'approved_by', " b ".approved_by, 'approved_at', rfc3339(" b ".approved_at)," \
	" 'items', coalesce((SELECT json_agg(" ITEM_JSON("i") " ORDER BY i.artist_id)" \
	"                     FROM payout_items i WHERE i.batch_id = " b ".id), '[]'))"

static const char SQL_BATCH[] =
	"SELECT " BATCH_JSON("b")
	"  FROM payout_batches b WHERE b.id = $1 OR ($2::text IS NOT NULL AND b.effect_key = $2)";
enum { BATCH_OBJECT };

static const char SQL_PROGRAM_EXISTS[] = "SELECT 1 FROM programs WHERE id = $1";
static const char SQL_BATCHES[] =
	"SELECT " BATCH_JSON("b") ", b.seq FROM payout_batches b"
	" WHERE b.program_id = $1 AND ($2::bigint IS NULL OR b.seq < $2)"
	" ORDER BY b.seq DESC LIMIT $3";
enum { BL_OBJECT, BL_SEQ };

static const char SQL_PROGRAM_LOCK[] =
	"SELECT currency, (SELECT id FROM payout_batches WHERE effect_key = $2)"
	"  FROM programs WHERE id = $1 FOR UPDATE";
enum { PL_CURRENCY, PL_DRAFTED };

/* One item per artist owed at least the minimum; no row when nobody is. */
static const char SQL_DRAFT[] =
	"WITH owed AS ("
	"  SELECT id, owner_id, balance FROM ledger_accounts"
	"   WHERE program_id = $2 AND kind = 'payable' AND balance >= $3),"
	" b AS ("
	"  INSERT INTO payout_batches (id, program_id, min_amount_minor, total_minor, currency,"
	"                              created_by, effect_key)"
	"  SELECT $1, $2, $3, sum(balance), $4, $5, $6 FROM owed HAVING count(*) > 0"
	"  RETURNING id, total_minor),"
	" i AS ("
	"  INSERT INTO payout_items (id, batch_id, artist_id, account_id, amount_minor)"
	"  SELECT gen_random_uuid(), b.id, owed.owner_id, owed.id, owed.balance FROM owed, b"
	"  RETURNING 1)"
	" SELECT b.total_minor, (SELECT count(*) FROM i) FROM b";
enum { DR_TOTAL, DR_ITEMS };

static const char SQL_APPROVE_LOCK[] =
	"SELECT b.status, b.created_by = $2, b.program_id, b.total_minor,"
	"       (SELECT count(*) FROM payout_items WHERE batch_id = b.id)"
	"  FROM payout_batches b WHERE b.id = $1 FOR UPDATE";
enum { AL_STATUS, AL_OWN_DRAFT, AL_PROGRAM, AL_TOTAL, AL_ITEMS };

/* The cash is locked while it is checked, so two approvals cannot both
 * spend it; the items' payables are locked with it, all in the ledger's one
 * lock order (migration 0007). One row: the cash, 0 before any funding. */
static const char SQL_CASH_LOCK[] =
	"SELECT ledger_lock_payout($1, $2)";
enum { CL_CASH };

/* Posts every item; the ledger refuses a payable below zero. */
static const char SQL_POST_ITEMS[] =
	"WITH posted AS MATERIALIZED ("
	"  SELECT i.id AS item,"
	"         ledger_post(gen_random_uuid(), b.program_id, 'payout',"
	"                     'payout batch ' || b.id,"
	"                     ARRAY[i.account_id, ledger_account(b.program_id, 'cash', NULL)],"
	"                     ARRAY[i.amount_minor, -i.amount_minor], $2, $3,"
	"                     'payout:' || i.id) AS tx"
	"    FROM payout_items i JOIN payout_batches b ON b.id = i.batch_id"
	"   WHERE i.batch_id = $1)"
	" UPDATE payout_items p SET status = 'posted', transaction_id = posted.tx,"
	"        updated_at = now()"
	"   FROM posted WHERE p.id = posted.item";

static const char SQL_APPROVED[] =
	"UPDATE payout_batches SET status = 'approved', approved_by = $2, approved_at = now()"
	" WHERE id = $1";

static const char SQL_ITEM_LOCK[] =
	"SELECT i.status, b.program_id, i.artist_id, i.amount_minor, i.account_id"
	"  FROM payout_items i JOIN payout_batches b ON b.id = i.batch_id"
	" WHERE i.batch_id = $1 AND i.id = $2 FOR UPDATE OF i";
enum { IL_STATUS, IL_PROGRAM, IL_ARTIST, IL_AMOUNT, IL_ACCOUNT };

static const char SQL_ITEM_PAID[] =
	"UPDATE payout_items SET status = 'paid', external_ref = $2, updated_at = now()"
	" WHERE id = $1";

/* Restores the payable: debit cash, credit payable. */
static const char SQL_ITEM_FAILED[] =
	"UPDATE payout_items i SET status = 'failed', failure_reason = $2, updated_at = now(),"
	"       reversal_id = ledger_post(gen_random_uuid(), $3, 'payout_failed',"
	"                     left('payout failed: ' || $2, 1000),"
	"                     ARRAY[ledger_account($3, 'cash', NULL), i.account_id],"
	"                     ARRAY[i.amount_minor, -i.amount_minor], $4, $5,"
	"                     'payout_failed:' || i.id)"
	" WHERE i.id = $1";

static const char SQL_ITEM[] =
	"SELECT " ITEM_JSON("i") " FROM payout_items i WHERE i.id = $1";

static const char SQL_EXPORT[] =
	"SELECT i.id, i.artist_id, u.display_name, u.email, i.amount_minor, b.currency,"
	"       i.status, i.external_ref"
	"  FROM payout_batches b JOIN payout_items i ON i.batch_id = b.id"
	"  JOIN users u ON u.id = i.artist_id"
	" WHERE b.id = $1 ORDER BY i.artist_id";

struct payout {
	char id[CRYPTO_UUID_LEN];       /* the batch */
	char program[CRYPTO_UUID_LEN];
	long long total;
	json_t *approved;               /* the event, until the cash is checked */
	const char *item;
	const char *effect_key;
	int result;
	int status;                     /* of the reply */
};

static struct payout *
payout_new(struct reqctx *rc, const char *batch)
{
	struct payout *p = arena_alloc(rc->arena, sizeof(*p));

	memset(p, 0, sizeof(*p));
	if (batch != NULL)
		snprintf(p->id, sizeof(p->id), "%.36s", batch);
	else
		crypto_uuid_new(p->id);
	p->effect_key = idem_effect_key(rc);
	p->result = -1;
	p->status = 200;
	rc->h = p;
	return p;
}

static void
payout_audit(struct reqctx *rc, struct db_job *job, const char *action,
    const char *type, const char *id, json_t *after)
{
	audit_add(job, &(struct audit_entry){
		.actor_id = req_actor_id(rc), .actor_role = req_actor_role(rc),
		.action = action, .entity_type = type, .entity_id = id, .after = after,
		.request_id = rc->log.request_id,
	});
	json_decref(after);
}

static void
payout_done(struct reqctx *rc, struct db_job *job, enum db_status st)
{
	struct payout *p = rc->h;

	json_decref(p->approved);        /* when the job stopped before the cash check */
	p->approved = NULL;
	if (ledger_refusal(rc, job, st))
		return;
	if (st != DB_OK) {
		reply_db_failure(rc, job, st);
		return;
	}
	reply_json(rc, p->status, repr_json(db_job_result(job, p->result), 0, 0));
}

/* ---- POST /v1/programs/:id/payout-batches ---- */

static int
drafted(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct payout *p = rc->h;

	if (PQntuples(res) != 1)
		return req_refuse(rc, 409, "nothing-to-pay", NULL,
		    "no artist in this program is owed the minimum amount");
	payout_audit(rc, job, "payout.draft", "payout_batch", p->id,
	    json_pack("{s:s, s:o, s:o}", "program_id", req_param(rc, 0),
	    "total_minor", repr_int(res, 0, DR_TOTAL), "items", repr_int(res, 0, DR_ITEMS)));
	return 0;
}

static int
draft_program_locked(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct payout *p = rc->h;
	char min[24];

	if (program_step_found(job, res, arg) != 0)
		return -1;
	if (PQgetisnull(res, 0, PL_DRAFTED)) {    /* not drafted under this key before */
		snprintf(min, sizeof(min), "%lld", jv_int(rc->body, "min_amount_minor", 1));
		db_job_add(job, drafted, SQL_DRAFT, p->id, req_param(rc, 0), min,
		    PQgetvalue(res, 0, PL_CURRENCY), rc->user.id, p->effect_key);
	}
	p->result = db_job_add(job, NULL, SQL_BATCH, p->id, p->effect_key);
	return 0;
}

void
h_payout_draft(struct reqctx *rc)
{
	const char *program = req_param_uuid(rc, 0);
	struct payout *p;
	struct db_job *job;

	if (program == NULL) {
		reply_problem(rc, 404, "not-found", "no such program");
		return;
	}
	p = payout_new(rc, NULL);
	p->status = 201;
	job = db_job_new(DB_TX | DB_RETRY);
	db_job_add(job, draft_program_locked, SQL_PROGRAM_LOCK, program, p->effect_key);
	req_db_any(rc, job, payout_done);
}

/* ---- GET /v1/programs/:id/payout-batches ---- */

void
h_payout_list(struct reqctx *rc)
{
	static const char *const known[] = { "limit", "cursor", NULL };
	const char *program = req_param_uuid(rc, 0);
	struct list_page *page;
	struct db_job *job;

	if (program == NULL) {
		reply_problem(rc, 404, "not-found", "no such program");
		return;
	}
	page = arena_alloc(rc->arena, sizeof(*page));
	if (!list_begin(rc, known, NULL, NULL, page))
		return;
	job = db_job_new(0);
	db_job_add(job, program_step_found, SQL_PROGRAM_EXISTS, program);
	db_job_add(job, NULL, SQL_BATCHES, program, page->cursor, page->fetch);
	list_submit(rc, job, page, 1, BL_SEQ, repr_row_json);
}

/* ---- GET /v1/payout-batches/:id ---- */

static void
batch_read(struct reqctx *rc, struct db_job *job)
{
	const PGresult *r = db_job_result(job, 0);

	if (PQntuples(r) != 1) {
		reply_problem(rc, 404, "not-found", "no such payout batch");
		return;
	}
	reply_json_etag(rc, 200, repr_json(r, 0, BATCH_OBJECT));
}

void
h_payout_get(struct reqctx *rc)
{
	const char *id = req_param_uuid(rc, 0);
	struct db_job *job;

	if (id == NULL) {
		reply_problem(rc, 404, "not-found", "no such payout batch");
		return;
	}
	job = db_job_new(0);
	db_job_add(job, NULL, SQL_BATCH, id, NULL);
	req_db(rc, job, batch_read);
}

/* ---- POST /v1/payout-batches/:id/approve ---- */

static int
cash_locked(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct payout *p = rc->h;
	long long cash = PQntuples(res) == 1 ? strtoll(PQgetvalue(res, 0, CL_CASH), NULL, 10) : 0;
	json_t *after = p->approved;

	p->approved = NULL;
	if (cash < p->total) {
		json_decref(after);
		return req_refuse(rc, 409, "insufficient-cash",
		    json_pack("{s:I, s:I}", "cash_minor", (json_int_t)cash,
		    "total_minor", (json_int_t)p->total),
		    "the program has %lld in cash and the batch needs %lld; fund it first",
		    cash, p->total);
	}
	db_job_add(job, NULL, SQL_POST_ITEMS, p->id, rc->user.id, rc->log.request_id);
	db_job_add(job, NULL, SQL_APPROVED, p->id, rc->user.id);
	outbox_add(job, "payout.approved", p->program, "payout_batch", p->id, after,
	    rc->log.request_id);
	payout_audit(rc, job, "payout.approve", "payout_batch", p->id, after);
	p->result = db_job_add(job, NULL, SQL_BATCH, p->id, NULL);
	return 0;
}

static int
approve_locked(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct payout *p = rc->h;

	if (PQntuples(res) != 1)
		return req_refuse(rc, 404, "not-found", NULL, "no such payout batch");
	if (PQgetvalue(res, 0, AL_OWN_DRAFT)[0] == 't')
		return req_refuse(rc, 403, "four-eyes", NULL,
		    "a payout batch is approved by a finance user other than the one who drafted it");
	if (strcmp(PQgetvalue(res, 0, AL_STATUS), "draft") != 0)
		return req_refuse(rc, 409, "conflict", NULL, "the batch is already approved");
	snprintf(p->program, sizeof(p->program), "%.36s", PQgetvalue(res, 0, AL_PROGRAM));
	p->total = strtoll(PQgetvalue(res, 0, AL_TOTAL), NULL, 10);
	json_decref(p->approved);
	p->approved = json_pack("{s:s, s:s, s:o, s:o}", "batch_id", p->id,
	    "program_id", p->program, "total_minor", repr_int(res, 0, AL_TOTAL),
	    "items", repr_int(res, 0, AL_ITEMS));
	db_job_add(job, cash_locked, SQL_CASH_LOCK, p->id, p->program);
	return 0;
}

void
h_payout_approve(struct reqctx *rc)
{
	const char *id = req_param_uuid(rc, 0);
	struct payout *p;
	struct db_job *job;

	if (id == NULL) {
		reply_problem(rc, 404, "not-found", "no such payout batch");
		return;
	}
	p = payout_new(rc, id);
	job = db_job_new(DB_TX | DB_RETRY);
	db_job_add(job, approve_locked, SQL_APPROVE_LOCK, p->id, rc->user.id);
	req_db_any(rc, job, payout_done);
}

/* ---- POST /v1/payout-batches/:id/items/:item/paid and /failed ---- */

static int
item_locked(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct payout *p = rc->h;
	bool paid = rc->route->handler == h_payout_item_paid;
	const char *status, *event = paid ? "payout.paid" : "payout.failed";
	json_t *after;

	if (PQntuples(res) != 1)
		return req_refuse(rc, 404, "not-found", NULL, "no such payout item");
	status = PQgetvalue(res, 0, IL_STATUS);
	if (paid ? strcmp(status, "posted") != 0 :
	    (strcmp(status, "posted") != 0 && strcmp(status, "paid") != 0))
		return req_refuse(rc, 409, "conflict", NULL, "the item is %s", status);
	if (paid)
		db_job_add(job, NULL, SQL_ITEM_PAID, p->item, jv_str(rc->body, "external_ref"));
	else
		db_job_add(job, NULL, SQL_ITEM_FAILED, p->item, jv_str(rc->body, "reason"),
		    PQgetvalue(res, 0, IL_PROGRAM), rc->user.id, rc->log.request_id);
	after = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s?, s:s?}", "batch_id", p->id,
	    "item_id", p->item, "program_id", PQgetvalue(res, 0, IL_PROGRAM),
	    "artist_id", PQgetvalue(res, 0, IL_ARTIST), "amount_minor", repr_int(res, 0, IL_AMOUNT),
	    "external_ref", jv_str(rc->body, "external_ref"),
	    "reason", jv_str(rc->body, "reason"));
	outbox_add(job, event, PQgetvalue(res, 0, IL_PROGRAM), "payout_item", p->item, after,
	    rc->log.request_id);
	payout_audit(rc, job, paid ? "payout.item_paid" : "payout.item_failed", "payout_item",
	    p->item, after);
	p->result = db_job_add(job, NULL, SQL_ITEM, p->item);
	return 0;
}

static void
item_change(struct reqctx *rc)
{
	const char *batch = req_param_uuid(rc, 0), *item = req_param_uuid(rc, 1);
	struct payout *p;
	struct db_job *job;

	if (batch == NULL || item == NULL) {
		reply_problem(rc, 404, "not-found", "no such payout item");
		return;
	}
	p = payout_new(rc, batch);
	p->item = item;
	job = db_job_new(DB_TX | DB_RETRY);
	db_job_add(job, item_locked, SQL_ITEM_LOCK, p->id, item);
	req_db_any(rc, job, payout_done);
}

void
h_payout_item_paid(struct reqctx *rc)
{
	item_change(rc);
}

void
h_payout_item_failed(struct reqctx *rc)
{
	item_change(rc);
}

/* ---- GET /v1/exports/payout-batches/:id?format=csv ---- */

static void
batch_exported(struct reqctx *rc, struct db_job *job)
{
	static const char *const header[] = {
		"item_id", "artist_id", "artist_name", "artist_email", "amount_minor",
		"currency", "status", "external_ref",
	};
	const PGresult *r = db_job_result(job, 1);
	struct evbuffer *out;
	int i, c, n = (int)FB_ARRAY_LEN(header);

	out = evbuffer_new();
	for (c = 0; c < n; c++)
		csv_field(out, header[c], c == n - 1);
	/* the name and the reference are free text: csv_text keeps formulas out */
	for (i = 0; i < PQntuples(r); i++)
		for (c = 0; c < n; c++)
			(c == 2 || c == 7 ? csv_text : csv_field)(out, PQgetisnull(r, i, c) ? NULL :
			    PQgetvalue(r, i, c), c == n - 1);
	req_set_header(rc, "Content-Disposition",
	    arena_printf(rc->arena, "attachment; filename=\"payout-%s.csv\"", req_param(rc, 0)));
	reply_text(rc, 200, "text/csv; charset=utf-8", out);
	evbuffer_free(out);
}

static int
batch_exists(struct db_job *job, const PGresult *res, void *arg)
{
	FB_UNUSED(job);
	if (PQntuples(res) != 1)
		return req_refuse(req_of(arg), 404, "not-found", NULL, "no such payout batch");
	return 0;
}

void
h_export_payout_batch(struct reqctx *rc)
{
	static const char *const known[] = { "format", NULL };
	const char *id = req_param_uuid(rc, 0), *format = req_query(rc, "format");
	json_t *errors;
	struct db_job *job;

	if (id == NULL) {
		reply_problem(rc, 404, "not-found", "no such payout batch");
		return;
	}
	errors = json_array();
	list_check_query(rc, known, errors);
	if (format && strcmp(format, "csv") != 0)
		jv_error(errors, "format", "must be csv");
	if (json_array_size(errors) > 0) {
		reply_invalid(rc, errors);
		return;
	}
	json_decref(errors);
	job = db_job_new(DB_TX);     /* one snapshot for the check and the rows */
	db_job_add(job, batch_exists, "SELECT 1 FROM payout_batches WHERE id = $1", id);
	db_job_add(job, NULL, SQL_EXPORT, id);
	req_db(rc, job, batch_exported);
}
