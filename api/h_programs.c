/*
 * h_programs.c: creating, listing, reading and changing programs.
 *
 * A program is born a draft, opens once its terms and rate card make it fair
 * (program_readiness() in the database says what is missing), and closes
 * for good. Changes need the current ETag in If-Match; the row is locked
 * while the change is checked, so two editors cannot both win.
 */
#include "fb.h"

#include "audit.h"
#include "crypto.h"
#include "currency.h"
#include "handlers.h"
#include "jsonv.h"
#include "list.h"
#include "program.h"
#include "repr.h"
#include "valid.h"
#include "vocab.h"

static const char *const sharing_values[] = { "after_review", "open", NULL };
static const char *const status_values[] = { "draft", "open", "closed", NULL };

static const struct jv_field program_fields[] = {
	/* slug and currency: the handler checks their formats (valid_slug, currency_valid) */
	{ "slug",                JV_STRING,  JV_REQUIRED, 3, 64, NULL, NULL },
	{ "name",                JV_STRING,  JV_REQUIRED | JV_ONELINE, 1, 200, NULL, NULL },
	{ "description",         JV_STRING,  JV_TEXT, 0, 10000, NULL, NULL },
	{ "currency",            JV_STRING,  JV_REQUIRED, 3, 3, NULL, NULL },
	{ "capacity",            JV_INTEGER, JV_REQUIRED, 1, 100000, NULL, NULL },
	{ "review_sla_hours",    JV_INTEGER, JV_REQUIRED, 1, 720, NULL, NULL },
	{ "sharing",             JV_STRING,  0, 0, 0, sharing_values, NULL },
	{ "public_transparency", JV_BOOLEAN, 0, 0, 0, NULL, NULL },
	{ "submission_kinds",    JV_ARRAY,   0, 1, 4, NULL, NULL },
	{ "license_notice_days", JV_INTEGER, 0, 0, 365, NULL, NULL },
};
const struct jv_schema program_create_body = JV_SCHEMA(program_fields);

static const struct jv_field patch_fields[] = {
	{ "name",                JV_STRING,  JV_ONELINE, 1, 200, NULL, NULL },
	{ "description",         JV_STRING,  JV_TEXT, 0, 10000, NULL, NULL },
	{ "capacity",            JV_INTEGER, 0, 1, 100000, NULL, NULL },
	{ "review_sla_hours",    JV_INTEGER, 0, 1, 720, NULL, NULL },
	{ "sharing",             JV_STRING,  0, 0, 0, sharing_values, NULL },
	{ "public_transparency", JV_BOOLEAN, 0, 0, 0, NULL, NULL },
	{ "submission_kinds",    JV_ARRAY,   0, 1, 4, NULL, NULL },
	{ "status",              JV_STRING,  0, 0, 0, status_values, NULL },
	{ "license_notice_days", JV_INTEGER, 0, 0, 365, NULL, NULL },
};
const struct jv_schema program_patch_body = JV_SCHEMA(patch_fields);

static const char *const list_query[] = { "status", "limit", "cursor", NULL };
static const struct list_filter list_filters[] = {
	{ "status", status_values, "must be draft, open or closed" },
	{ NULL, NULL, NULL },
};

static const char SQL_INSERT[] =
	"INSERT INTO programs AS p (id, slug, name, description, currency, capacity,"
	"   review_sla_hours, sharing, public_transparency, submission_kinds, created_by,"
	"   license_notice_days)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text[], $11, coalesce($12::int, 30))"
	" ON CONFLICT (slug) DO NOTHING RETURNING " REPR_PROGRAM_COLS;

static const char SQL_GET[] =
	"SELECT " REPR_PROGRAM_COLS " FROM programs p"
	" WHERE p.id = $1 AND " REPR_PROGRAM_VISIBLE("p", "$2", "$3");

static const char SQL_LIST[] =
	"SELECT " REPR_PROGRAM_COLS " FROM programs p"
	" WHERE ($1::text IS NULL OR p.status = $1)"
	"   AND " REPR_PROGRAM_VISIBLE("p", "$2", "$3")
	"   AND ($4::bigint IS NULL OR p.seq < $4)"
	" ORDER BY p.seq DESC LIMIT $5";

static const char SQL_LOCK[] =
	"SELECT " REPR_PROGRAM_COLS ", p.seats_taken FROM programs p"
	" WHERE p.id = $1 FOR UPDATE";

static const char SQL_READINESS[] =
	"SELECT array_to_json(program_readiness($1, $2::text[]))";

/* Unset parameters keep the column; times follow the status move. */
static const char SQL_UPDATE[] =
	"UPDATE programs AS p SET"
	"  name = coalesce($2, p.name),"
	"  description = coalesce($3, p.description),"
	"  capacity = coalesce($4::int, p.capacity),"
	"  review_sla_hours = coalesce($5::int, p.review_sla_hours),"
	"  sharing = coalesce($6, p.sharing),"
	"  public_transparency = coalesce($7::boolean, p.public_transparency),"
	"  submission_kinds = coalesce($8::text[], p.submission_kinds),"
	"  status = coalesce($9, p.status),"
	"  license_notice_days = coalesce($10::int, p.license_notice_days),"
	"  opened_at = CASE WHEN $9 = 'open' THEN now() ELSE p.opened_at END,"
	"  closed_at = CASE WHEN $9 = 'closed' THEN now() ELSE p.closed_at END,"
	"  revision = p.revision + 1, updated_at = now()"
	" WHERE p.id = $1 RETURNING " REPR_PROGRAM_COLS;

/* The change a PATCH asks for, each field NULL when not given. */
struct program_patch {
	const char *id;
	const char *if_match;
	const char *name, *description, *capacity, *review_sla_hours, *sharing;
	const char *public_transparency, *submission_kinds, *status, *license_notice_days;
	long long capacity_n;
	int result;           /* statement whose row is the reply */
	json_t *before;
};

/* A JSON array of submission kinds as a PostgreSQL array literal (arena). */
static char *
kinds_literal(struct reqctx *rc, const json_t *kinds)
{
	size_t i;
	json_t *k;
	char *out = arena_strdup(rc->arena, "{");

	json_array_foreach(kinds, i, k)
		out = arena_printf(rc->arena, "%s%s%s", out, i ? "," : "",
		    json_string_value(k));
	return arena_printf(rc->arena, "%s}", out);
}

/* submission_kinds: distinct known kinds. */
static void
check_kinds(const json_t *body, json_t *errors)
{
	const json_t *kinds = json_object_get(body, "submission_kinds");
	size_t i;
	json_t *k;
	char field[48];

	if (!json_is_array(kinds))
		return;
	json_array_foreach(kinds, i, k) {
		const char *const *v;

		snprintf(field, sizeof(field), "submission_kinds[%zu]", i);
		if (!json_is_string(k)) {
			jv_error(errors, field, "must be a string");
			continue;
		}
		for (v = vocab_submission_kinds; *v && strcmp(*v, json_string_value(k)) != 0; v++)
			;
		if (*v == NULL)
			jv_error(errors, field,
			    "must be one of work, bug_report, feedback, session");
		if (jv_repeats(kinds, i, NULL))
			jv_error(errors, field, "is listed twice");
	}
}

static const char *
int_text(struct reqctx *rc, const json_t *body, const char *name)
{
	const json_t *v = json_object_get(body, name);

	return json_is_integer(v) ? arena_printf(rc->arena, "%lld",
	    (long long)json_integer_value(v)) : NULL;
}

static const char *
bool_text(const json_t *body, const char *name)
{
	const json_t *v = json_object_get(body, name);

	return json_is_boolean(v) ? (json_is_true(v) ? "true" : "false") : NULL;
}


/* ---- POST /v1/programs ---- */

static int
program_inserted(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	json_t *after;

	if (PQntuples(res) != 1)
		return req_refuse(rc, 409, "conflict", NULL,
		    "a program with this slug already exists");
	after = repr_program(res, 0);
	audit_add(job, &(struct audit_entry){
		.actor_id = req_actor_id(rc), .actor_role = req_actor_role(rc),
		.action = "program.create", .entity_type = "program",
		.entity_id = PQgetvalue(res, 0, RP_ID), .after = after,
		.request_id = rc->log.request_id,
	});
	json_decref(after);
	return 0;
}

static void
program_created(struct reqctx *rc, struct db_job *job)
{
	const PGresult *r = db_job_result(job, 0);
	char etag[32];

	repr_program_etag(r, 0, etag, sizeof(etag));
	req_set_header(rc, "ETag", etag);
	reply_json(rc, 201, repr_program(r, 0));
}

void
h_program_create(struct reqctx *rc)
{
	const json_t *b = rc->body;
	json_t *errors = req_body_errors(rc), *kinds;
	const char *slug, *currency, *desc, *sharing;
	char id[CRYPTO_UUID_LEN];
	struct db_job *job;

	slug = jv_str(b, "slug");
	currency = jv_str(b, "currency");
	if (slug && !valid_slug(slug))
		jv_error(errors, "slug",
		    "must be lowercase letters, digits and single dashes inside");
	if (currency && !currency_valid(currency))
		jv_error(errors, "currency", "must be an active ISO 4217 code such as EUR");
	check_kinds(b, errors);
	if (json_array_size(errors) > 0) {
		reply_invalid(rc, errors);
		return;
	}
	json_decref(errors);

	kinds = json_object_get(b, "submission_kinds");
	desc = jv_str(b, "description");
	sharing = jv_str(b, "sharing");
	crypto_uuid_new(id);
	job = db_job_new(DB_TX);
	db_job_add(job, program_inserted, SQL_INSERT, id, slug, jv_str(b, "name"),
	    desc ? desc : "", currency, int_text(rc, b, "capacity"),
	    int_text(rc, b, "review_sla_hours"), sharing ? sharing : "after_review",
	    bool_text(b, "public_transparency") ? bool_text(b, "public_transparency") : "true",
	    kinds ? kinds_literal(rc, kinds) : "{work,bug_report,feedback,session}" /* vocab_submission_kinds */,
	    rc->user.id, int_text(rc, b, "license_notice_days"));
	req_db(rc, job, program_created);
}

/* ---- GET /v1/programs ---- */

void
h_program_list(struct reqctx *rc)
{
	struct list_page *page = arena_alloc(rc->arena, sizeof(*page));
	struct db_job *job;

	if (!list_begin(rc, list_query, list_filters, NULL, page))
		return;
	job = db_job_new(0);
	db_job_add(job, NULL, SQL_LIST, req_query(rc, "status"), req_scope_all(rc),
	    req_scope_owner(rc), page->cursor, page->fetch);
	list_submit(rc, job, page, 0, REPR_PROGRAM_SEQ, repr_program);
}

/* ---- GET /v1/programs/:id ---- */

static void
program_read(struct reqctx *rc, struct db_job *job)
{
	const PGresult *r = db_job_result(job, 0);
	char etag[32];

	if (PQntuples(r) != 1) {
		reply_problem(rc, 404, "not-found", "no such program");
		return;
	}
	repr_program_etag(r, 0, etag, sizeof(etag));
	reply_json_tagged(rc, 200, repr_program(r, 0), etag);
}

void
h_program_get(struct reqctx *rc)
{
	const char *id = req_param_uuid(rc, 0);
	struct db_job *job;

	if (id == NULL) {
		reply_problem(rc, 404, "not-found", "no such program");
		return;
	}
	job = db_job_new(0);
	db_job_add(job, NULL, SQL_GET, id, req_scope_all(rc), req_scope_owner(rc));
	req_db(rc, job, program_read);
}

/* ---- PATCH /v1/programs/:id ---- */

static int
program_updated(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct program_patch *pp = rc->h;
	json_t *after = repr_program(res, 0);

	audit_add(job, &(struct audit_entry){
		.actor_id = req_actor_id(rc), .actor_role = req_actor_role(rc),
		.action = "program.update", .entity_type = "program",
		.entity_id = pp->id, .before = pp->before, .after = after,
		.request_id = rc->log.request_id,
	});
	json_decref(after);
	return 0;
}

/* Whether the patch changes a column from the locked row's value. */
static bool
differs(const PGresult *r, int col, const char *v)
{
	return v != NULL && strcmp(PQgetvalue(r, 0, col), v) != 0;
}

static int
program_locked(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct program_patch *pp = rc->h;
	const char *status, *to = pp->status, *kinds;
	char etag[32];
	bool change;

	if (program_step_found(job, res, arg) != 0)
		return -1;
	status = PQgetvalue(res, 0, RP_STATUS);
	repr_program_etag(res, 0, etag, sizeof(etag));
	if (!req_if_match(pp->if_match, etag))
		return req_refuse(rc, 412, "precondition-failed", NULL,
		    "the program has changed since %s; its ETag is now %s",
		    pp->if_match, etag);
	if (strcmp(status, "closed") == 0)
		return req_refuse(rc, 409, "invalid-transition", NULL,
		    "the program is closed and can no longer change");
	if (to != NULL && strcmp(to, status) == 0)
		to = pp->status = NULL;
	if (to != NULL && !((strcmp(status, "draft") == 0 && strcmp(to, "open") == 0) ||
	    (strcmp(status, "open") == 0 && strcmp(to, "closed") == 0)))
		return req_refuse(rc, 409, "invalid-transition", NULL,
		    "a program moves draft to open to closed only, not %s to %s",
		    status, to);
	/* compare {a,b} with the row's JSON array text by re-rendering it */
	kinds = pp->submission_kinds;
	if (kinds != NULL) {
		json_t *row = repr_json(res, 0, RP_SUBMISSION_KINDS);
		char *lit = kinds_literal(rc, row);

		json_decref(row);
		if (strcmp(lit, kinds) == 0)
			kinds = pp->submission_kinds = NULL;
		else if (strcmp(status, "draft") != 0)
			return req_refuse(rc, 409, "invalid-transition", NULL,
			    "submission_kinds can change only while the program is a draft");
	}
	if (pp->capacity != NULL &&
	    pp->capacity_n < strtoll(PQgetvalue(res, 0, REPR_PROGRAM_NCOLS), NULL, 10))
		return req_refuse(rc, 409, "conflict", NULL,
		    "capacity %lld is below the %s active enrollments", pp->capacity_n,
		    PQgetvalue(res, 0, REPR_PROGRAM_NCOLS));

	change = differs(res, RP_NAME, pp->name) ||
	    differs(res, RP_DESCRIPTION, pp->description) ||
	    differs(res, RP_CAPACITY, pp->capacity) ||
	    differs(res, RP_REVIEW_SLA_HOURS, pp->review_sla_hours) ||
	    differs(res, RP_SHARING, pp->sharing) ||
	    differs(res, RP_LICENSE_NOTICE_DAYS, pp->license_notice_days) ||
	    kinds != NULL || to != NULL ||
	    (pp->public_transparency != NULL &&
	    (PQgetvalue(res, 0, RP_PUBLIC_TRANSPARENCY)[0] == 't') !=
	    (pp->public_transparency[0] == 't'));
	if (!change)
		return 0;          /* the reply is the locked row, unchanged */

	if (to != NULL && strcmp(to, "open") == 0) {
		json_t *cur = repr_json(res, 0, RP_SUBMISSION_KINDS);

		db_job_add(job, program_step_ready, SQL_READINESS, pp->id,
		    kinds ? kinds : kinds_literal(rc, cur));
		json_decref(cur);
	}
	pp->before = repr_program(res, 0);
	pp->result = db_job_add(job, program_updated, SQL_UPDATE, pp->id, pp->name,
	    pp->description, pp->capacity, pp->review_sla_hours, pp->sharing,
	    pp->public_transparency, kinds, to, pp->license_notice_days);
	return 0;
}

/* Every outcome: the row before the change is freed whatever happened. */
static void
program_patched(struct reqctx *rc, struct db_job *job, enum db_status st)
{
	struct program_patch *pp = rc->h;
	const PGresult *r = db_job_result(job, pp->result);
	char etag[32];

	json_decref(pp->before);
	pp->before = NULL;
	if (st != DB_OK) {
		reply_db_failure(rc, job, st);
		return;
	}
	repr_program_etag(r, 0, etag, sizeof(etag));
	req_set_header(rc, "ETag", etag);
	reply_json(rc, 200, repr_program(r, 0));
}

void
h_program_patch(struct reqctx *rc)
{
	const json_t *b = rc->body;
	const char *id = req_param_uuid(rc, 0);
	struct program_patch *pp;
	json_t *errors;
	struct db_job *job;

	if (id == NULL) {
		reply_problem(rc, 404, "not-found", "no such program");
		return;
	}
	errors = req_body_errors(rc);
	check_kinds(b, errors);
	if (json_object_size(b) == 0)
		jv_error(errors, "", "name at least one field to change");
	if (json_array_size(errors) > 0) {
		reply_invalid(rc, errors);
		return;
	}
	json_decref(errors);
	if (req_header(rc, "If-Match") == NULL) {
		reply_problem(rc, 428, "precondition-required",
		    "send If-Match with the program's current ETag");
		return;
	}

	pp = arena_alloc(rc->arena, sizeof(*pp));
	memset(pp, 0, sizeof(*pp));
	pp->id = id;
	pp->if_match = req_header(rc, "If-Match");
	pp->name = jv_str(b, "name");
	pp->description = jv_str(b, "description");
	pp->capacity = int_text(rc, b, "capacity");
	pp->capacity_n = jv_int(b, "capacity", 0);
	pp->review_sla_hours = int_text(rc, b, "review_sla_hours");
	pp->sharing = jv_str(b, "sharing");
	pp->public_transparency = bool_text(b, "public_transparency");
	if (json_object_get(b, "submission_kinds") != NULL)
		pp->submission_kinds = kinds_literal(rc, json_object_get(b, "submission_kinds"));
	pp->status = jv_str(b, "status");
	pp->license_notice_days = int_text(rc, b, "license_notice_days");
	rc->h = pp;

	job = db_job_new(DB_TX);
	db_job_add(job, program_locked, SQL_LOCK, id);
	req_db_any(rc, job, program_patched);
}
