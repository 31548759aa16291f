/*
 * h_audit.c: reading the audit log, newest first, keyset-paginated by id so
 * that rows written while a client pages appear neither twice nor as gaps.
 */
#include "fb.h"

#include "crypto.h"
#include "handlers.h"
#include "jsonv.h"
#include "list.h"
#include "repr.h"
#include "valid.h"

/* What finance may read: the entities of money movement. */
static const char LEDGER_TYPES[] =
	"{ledger_account,ledger_transaction,payout_batch,payout_item}";
static const char *const ledger_types[] = {
	"ledger_account", "ledger_transaction", "payout_batch", "payout_item", NULL,
};

static bool
is_ledger_type(const char *t)
{
	const char *const *k;

	for (k = ledger_types; *k; k++)
		if (strcmp(*k, t) == 0)
			return true;
	return false;
}

static const char *const audit_params[] = {
	"entity_type", "entity_id", "actor_id", "from", "to", "limit", "cursor", NULL,
};

static const char SQL_AUDIT_LIST[] =
	"SELECT id, rfc3339(at), actor_id, actor_role, action, entity_type, entity_id,"
	"       before, after, request_id"
	"  FROM audit_log"
	" WHERE ($1::text IS NULL OR entity_type = $1)"
	"   AND ($2::text IS NULL OR entity_id = $2)"
	"   AND ($3::uuid IS NULL OR actor_id = $3)"
	"   AND ($4::timestamptz IS NULL OR at >= $4)"
	"   AND ($5::timestamptz IS NULL OR at < $5)"
	"   AND ($6::bigint IS NULL OR id < $6)"
	"   AND ($7::text[] IS NULL OR entity_type = ANY ($7))"
	" ORDER BY id DESC LIMIT $8";
enum {
	AL_ID, AL_AT, AL_ACTOR, AL_ROLE, AL_ACTION, AL_ENTITY_TYPE, AL_ENTITY, AL_BEFORE, AL_AFTER,
	AL_REQUEST,
};

static json_t *
audit_row(const PGresult *r, int i)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
	    "id", repr_str(r, i, AL_ID), "at", repr_str(r, i, AL_AT),
	    "actor_id", repr_str(r, i, AL_ACTOR), "actor_role", repr_str(r, i, AL_ROLE),
	    "action", repr_str(r, i, AL_ACTION), "entity_type", repr_str(r, i, AL_ENTITY_TYPE),
	    "entity_id", repr_str(r, i, AL_ENTITY), "before", repr_json(r, i, AL_BEFORE),
	    "after", repr_json(r, i, AL_AFTER), "request_id", repr_str(r, i, AL_REQUEST));
}

static void
audit_listed(struct reqctx *rc, struct db_job *job)
{
	struct list_page *page = rc->h;

	reply_list(rc, job, 0, page->limit, 0, audit_row);
}

/* What audit rows name: a UUID, or "<program uuid>/<version>" (terms, rates). */
static bool
entity_id_ok(const char *s)
{
	char id[CRYPTO_UUID_LEN];
	size_t n = strlen(s), i;

	if (crypto_uuid_valid(s))
		return true;
	if (n < 38 || n > 46 || s[36] != '/' || s[37] == '0')
		return false;
	memcpy(id, s, 36);
	id[36] = '\0';
	for (i = 37; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return crypto_uuid_valid(id);
}

/* The filters, in the order of audit_params: no list_filter says them. */
static void
audit_check(struct reqctx *rc, json_t *errors)
{
	const char *etype = req_query(rc, "entity_type"), *eid = req_query(rc, "entity_id");
	const char *actor = req_query(rc, "actor_id");

	if (etype && (strlen(etype) == 0 || strlen(etype) > 64))
		jv_error(errors, "entity_type", "must be 1 to 64 characters");
	if (eid && !entity_id_ok(eid))
		jv_error(errors, "entity_id", "must be a UUID, or <program id>/<version> for "
		    "terms and rate cards");
	if (actor && !crypto_uuid_valid(actor))
		jv_error(errors, "actor_id", "must be a UUID");
	list_check_window(rc, errors);
}

void
h_audit_list(struct reqctx *rc)
{
	const char *etype = req_query(rc, "entity_type");
	const char *types = NULL;
	struct list_page *page = arena_alloc(rc->arena, sizeof(*page));
	struct db_job *job;

	if (!list_begin(rc, audit_params, NULL, audit_check, page))
		return;
	if (rc->scope.ledger_only) {
		if (etype && !is_ledger_type(etype)) {
			reply_problem(rc, 403, "forbidden",
			    "finance may read the audit of ledger entities only");
			return;
		}
		types = LEDGER_TYPES;
	}
	rc->h = page;
	job = db_job_new(0);
	db_job_add(job, NULL, SQL_AUDIT_LIST, etype, req_query(rc, "entity_id"),
	    req_query(rc, "actor_id"), req_query(rc, "from"), req_query(rc, "to"),
	    page->cursor, types, page->fetch);
	req_db(rc, job, audit_listed);
}
