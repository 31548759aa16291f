/*
 * h_terms.c: a program's terms and rate cards, both versioned.
 *
 * Publishing locks the program row, so versions are numbered 1, 2, 3...
 * without gaps or races, and an enrollment (which locks the same row) always
 * sees the latest version. Published versions are never changed: the
 * database refuses UPDATE and DELETE on them.
 */
#include "fb.h"

#include "audit.h"
#include "handlers.h"
#include "jsonv.h"
#include "program.h"
#include "repr.h"
#include "valid.h"

#define MAX_AMOUNT_MINOR 1000000000000000LL   /* 10^15 minor units */

static const char *const clause_kinds[] = {
	"confidentiality", "responsible_use", "sharing", "compensation", "other", NULL,
};

static const struct jv_field clause_fields[] = {
	{ "key",   JV_STRING, JV_REQUIRED, 1, 64, NULL, NULL },
	{ "kind",  JV_STRING, JV_REQUIRED, 0, 0, clause_kinds, NULL },
	{ "title", JV_STRING, JV_REQUIRED | JV_ONELINE, 1, 200, NULL, NULL },
	{ "body",  JV_STRING, JV_REQUIRED | JV_TEXT, 1, 20000, NULL, NULL },
};
static const struct jv_schema clause_schema = JV_SCHEMA(clause_fields);

static const struct jv_field terms_fields[] = {
	{ "clauses",            JV_ARRAY,  JV_REQUIRED, 1, 100, NULL, &clause_schema },
	{ "confidential_until", JV_STRING, JV_NULLABLE, 0, 64, NULL, NULL },
};
const struct jv_schema terms_publish_body = JV_SCHEMA(terms_fields);

static const struct jv_field rate_fields[] = {
	{ "kind",         JV_STRING,  JV_REQUIRED, 0, 0, repr_rate_kinds, NULL },
	{ "amount_minor", JV_INTEGER, JV_REQUIRED, 0, MAX_AMOUNT_MINOR, NULL, NULL },
};
static const struct jv_schema rate_schema = JV_SCHEMA(rate_fields);

static const struct jv_field rates_fields[] = {
	{ "rates", JV_ARRAY, JV_REQUIRED, 1, REPR_NRATE_KINDS, NULL, &rate_schema },
};
const struct jv_schema rates_put_body = JV_SCHEMA(rates_fields);

/* Locks the program for a new version; $1 id. */
static const char SQL_LOCK_PROGRAM[] =
	"SELECT status, array_to_json(submission_kinds) FROM programs"
	" WHERE id = $1 FOR UPDATE";
enum { LP_STATUS, LP_KINDS };

static const char SQL_INSERT_TERMS[] =
	"INSERT INTO terms_versions AS t (program_id, version, clauses,"
	"   confidential_until, published_by)"
	" SELECT $1, coalesce(max(version), 0) + 1, $2::jsonb, $3::timestamptz, $4"
	"   FROM terms_versions WHERE program_id = $1"
	" RETURNING " REPR_TERMS_COLS;
enum { IT_TERMS, IT_VERSION = IT_TERMS + 1 };

/* $4 NULL: the latest version. */
static const char SQL_GET_TERMS[] =
	"SELECT p.status, " REPR_TERMS_COLS
	"  FROM programs p"
	"  LEFT JOIN terms_versions t ON t.program_id = p.id AND t.version ="
	"       coalesce($4::int, (SELECT max(version) FROM terms_versions"
	"                           WHERE program_id = p.id))"
	" WHERE p.id = $1 AND " REPR_PROGRAM_VISIBLE("p", "$2", "$3");
/* This and SQL_GET_RATES: the program's status, then the version's (all NULL if none). */
enum { GV_STATUS, GV_VERSION };

static const char SQL_INSERT_CARD[] =
	"INSERT INTO rate_cards (program_id, version, created_by)"
	" SELECT $1, coalesce(max(version), 0) + 1, $2 FROM rate_cards WHERE program_id = $1";

static const char SQL_INSERT_RATES[] =
	"INSERT INTO rates (program_id, version, kind, amount_minor)"
	" SELECT $1, (SELECT max(version) FROM rate_cards WHERE program_id = $1), k, a"
	"   FROM unnest($2::text[], $3::bigint[]) AS u (k, a)";

static const char SQL_READINESS[] =
	"SELECT array_to_json(program_readiness(id, submission_kinds))"
	"  FROM programs WHERE id = $1";

/* $4 NULL: the current card. */
static const char SQL_GET_RATES[] =
	"SELECT p.status, " REPR_RATES_COLS
	"  FROM programs p"
	"  LEFT JOIN rate_cards c ON c.program_id = p.id AND c.version ="
	"       coalesce($4::int, (SELECT max(version) FROM rate_cards"
	"                           WHERE program_id = p.id))"
	" WHERE p.id = $1 AND " REPR_PROGRAM_VISIBLE("p", "$2", "$3");

struct publish {
	const char *program_id;
	bool announce;         /* the program is open: tell enrolled artists */
	int result;            /* statement whose row is the reply */
};

/* A path version: 1..9 digits, else NULL (404). */
static const char *
version_param(struct reqctx *rc, int i)
{
	const char *v = req_param(rc, i);
	size_t n = strlen(v), k;

	if (n == 0 || n > 9 || v[0] == '0')
		return NULL;
	for (k = 0; k < n; k++)
		if (v[k] < '0' || v[k] > '9')
			return NULL;
	return v;
}

/*
 * The common start of publishing terms or a rate card: 404 for a bad id,
 * 422 for the errors found (stolen), else a transaction whose first
 * statement locks the program and whose step, locked, goes on.
 */
static void
publish_start(struct reqctx *rc, json_t *errors, db_step_fn *locked, req_db_fn *done)
{
	const char *id = req_param_uuid(rc, 0);
	struct publish *p;
	struct db_job *job;

	if (id == NULL) {
		json_decref(errors);
		reply_problem(rc, 404, "not-found", "no such program");
		return;
	}
	if (json_array_size(errors) > 0) {
		reply_invalid(rc, errors);
		return;
	}
	json_decref(errors);
	p = arena_alloc(rc->arena, sizeof(*p));
	p->program_id = id;
	p->announce = false;
	p->result = -1;
	rc->h = p;
	job = db_job_new(DB_TX);
	db_job_add(job, locked, SQL_LOCK_PROGRAM, id);
	req_db(rc, job, done);
}

static void
published(struct reqctx *rc, struct db_job *job, int status,
    json_t *(*repr)(const PGresult *, int, int))
{
	struct publish *p = rc->h;

	reply_json(rc, status, repr(db_job_result(job, p->result), 0, 0));
}

/* ---- POST /v1/programs/:id/terms ---- */

static int
terms_inserted(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct publish *p = rc->h;
	json_t *after = repr_terms(res, 0, IT_TERMS);
	const char *entity = arena_printf(rc->arena, "%s/%s", p->program_id,
	    PQgetvalue(res, 0, IT_VERSION));

	audit_add(job, &(struct audit_entry){
		.actor_id = req_actor_id(rc), .actor_role = req_actor_role(rc),
		.action = "terms.publish", .entity_type = "program_terms",
		.entity_id = entity, .after = after, .request_id = rc->log.request_id,
	});
	if (p->announce)
		outbox_add(job, "terms.published", p->program_id, "program_terms",
		    entity, after, rc->log.request_id);
	json_decref(after);
	return 0;
}

static int
terms_program_locked(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct publish *p = rc->h;
	char *clauses;

	if (program_step_changeable(job, res, arg) != 0)
		return -1;
	p->announce = strcmp(PQgetvalue(res, 0, LP_STATUS), "open") == 0;
	clauses = json_dumps(json_object_get(rc->body, "clauses"), JSON_COMPACT);
	p->result = db_job_add(job, terms_inserted, SQL_INSERT_TERMS, p->program_id,
	    clauses, jv_str(rc->body, "confidential_until"), rc->user.id);
	free(clauses);
	return 0;
}

static void
terms_published(struct reqctx *rc, struct db_job *job)
{
	published(rc, job, 201, repr_terms);
}

void
h_terms_publish(struct reqctx *rc)
{
	const json_t *b = rc->body, *clauses = json_object_get(b, "clauses"), *c;
	json_t *errors = req_body_errors(rc);
	const char *until;
	char field[48];
	size_t i;

	until = jv_str(b, "confidential_until");
	if (until && !valid_rfc3339(until))
		jv_error(errors, "confidential_until", "must be an RFC 3339 date-time");
	json_array_foreach(clauses, i, c) {
		const char *key = jv_str(c, "key");

		if (key == NULL)
			continue;
		snprintf(field, sizeof(field), "clauses[%zu].key", i);
		if (!valid_key(key))
			jv_error(errors, field, "must be 1 to 64 of a-z, 0-9, _, . and -,"
			    " starting with a letter or digit");
		if (jv_repeats(clauses, i, "key"))
			jv_error(errors, field, "is already used by an earlier clause");
	}
	publish_start(rc, errors, terms_program_locked, terms_published);
}

/* ---- GET /v1/programs/:id/terms[/:version], .../rates[/:version] ---- */

struct version_read {
	const char *what;                    /* "terms", "rate card" */
	json_t *(*repr)(const PGresult *, int, int);
};

static void
version_read_done(struct reqctx *rc, struct db_job *job)
{
	struct version_read *v = rc->h;
	const PGresult *r = db_job_result(job, 0);

	if (PQntuples(r) != 1)
		reply_problem(rc, 404, "not-found", "no such program");
	else if (PQgetisnull(r, 0, GV_VERSION))
		reply_problem(rc, 404, "not-found", "%s %s", v->what,
		    req_param(rc, 1)[0] ? "has no such version" : "has not been published yet");
	else
		reply_json_etag(rc, 200, v->repr(r, 0, GV_VERSION));
}

static void
version_read(struct reqctx *rc, const char *sql, const char *what,
    json_t *(*repr)(const PGresult *, int, int))
{
	const char *id = req_param_uuid(rc, 0), *version = NULL;
	struct version_read *v;
	struct db_job *job;

	if (rc->match.nparams > 1 && (version = version_param(rc, 1)) == NULL)
		id = NULL;
	if (id == NULL) {
		reply_problem(rc, 404, "not-found", "no such program or version");
		return;
	}
	v = arena_alloc(rc->arena, sizeof(*v));
	v->what = what;
	v->repr = repr;
	rc->h = v;
	job = db_job_new(0);
	db_job_add(job, NULL, sql, id, req_scope_all(rc), req_scope_owner(rc), version);
	req_db(rc, job, version_read_done);
}

void
h_terms_get(struct reqctx *rc)
{
	version_read(rc, SQL_GET_TERMS, "the program's terms", repr_terms);
}

void
h_rates_get(struct reqctx *rc)
{
	version_read(rc, SQL_GET_RATES, "the program's rate card", repr_rates);
}

/* ---- PUT /v1/programs/:id/rates ---- */

static const char SQL_CURRENT_CARD[] =
	"SELECT " REPR_RATES_COLS
	"  FROM rate_cards c JOIN programs p ON p.id = c.program_id"
	" WHERE c.program_id = $1 ORDER BY c.version DESC LIMIT 1";
enum { CC_RATES, CC_VERSION = CC_RATES + 1 };

static int
card_read(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct publish *p = rc->h;
	json_t *after = repr_rates(res, 0, CC_RATES);

	audit_add(job, &(struct audit_entry){
		.actor_id = req_actor_id(rc), .actor_role = req_actor_role(rc),
		.action = "rates.publish", .entity_type = "program_rates",
		.entity_id = arena_printf(rc->arena, "%s/%s", p->program_id,
		    PQgetvalue(res, 0, CC_VERSION)),
		.after = after, .request_id = rc->log.request_id,
	});
	json_decref(after);
	return 0;
}

static int
rates_program_locked(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct publish *p = rc->h;
	const json_t *rates = json_object_get(rc->body, "rates"), *r;
	long long amount[REPR_NRATE_KINDS] = { 0 };
	char *kinds = arena_strdup(rc->arena, "{"), *amounts = arena_strdup(rc->arena, "{");
	size_t i, k;

	if (program_step_changeable(job, res, arg) != 0)
		return -1;
	json_array_foreach(rates, i, r)
		for (k = 0; repr_rate_kinds[k]; k++)
			if (strcmp(repr_rate_kinds[k], jv_str(r, "kind")) == 0)
				amount[k] = jv_int(r, "amount_minor", 0);
	for (k = 0; repr_rate_kinds[k]; k++) {
		kinds = arena_printf(rc->arena, "%s%s%s", kinds, k ? "," : "", repr_rate_kinds[k]);
		amounts = arena_printf(rc->arena, "%s%s%lld", amounts, k ? "," : "", amount[k]);
	}
	kinds = arena_printf(rc->arena, "%s}", kinds);
	amounts = arena_printf(rc->arena, "%s}", amounts);

	db_job_add(job, NULL, SQL_INSERT_CARD, p->program_id, rc->user.id);
	db_job_add(job, NULL, SQL_INSERT_RATES, p->program_id, kinds, amounts);
	if (strcmp(PQgetvalue(res, 0, LP_STATUS), "open") == 0)
		db_job_add(job, program_step_ready, SQL_READINESS, p->program_id);
	p->result = db_job_add(job, card_read, SQL_CURRENT_CARD, p->program_id);
	return 0;
}

static void
rates_published(struct reqctx *rc, struct db_job *job)
{
	published(rc, job, 200, repr_rates);
}

void
h_rates_put(struct reqctx *rc)
{
	const json_t *rates = json_object_get(rc->body, "rates");
	json_t *errors = req_body_errors(rc);
	char field[48];
	size_t i;

	for (i = 0; i < json_array_size(rates); i++) {
		snprintf(field, sizeof(field), "rates[%zu].kind", i);
		if (jv_repeats(rates, i, "kind"))
			jv_error(errors, field, "is already listed");
	}
	publish_start(rc, errors, rates_program_locked, rates_published);
}
