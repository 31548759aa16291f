/*
 * h_licenses.c: usage licenses. Staff ask to use an approved work for
 * promotion or training, for a fee no lower than the program's rate for that
 * use; only the work's artist grants it, and silence is never consent (the
 * worker expires a request left unanswered). Granting writes the license and
 * accrues its fee through the ledger's one posting function in the same
 * transaction. The artist may revoke a license: it ends after the program's
 * notice period, and the fee stays earned.
 *
 * Every change locks its row first (FOR UPDATE), so an accept racing another
 * accept, a withdrawal or the worker's expiry ends in one state; two staff
 * asking at once meet the unique index of pending requests.
 */
#include "fb.h"

#include "audit.h"
#include "crypto.h"
#include "handlers.h"
#include "jsonv.h"
#include "list.h"
#include "program.h"
#include "repr.h"

static const char *const use_values[] = { "promotion", "training", NULL };
static const char *const request_statuses[] = {
	"pending", "accepted", "declined", "withdrawn", "expired", NULL,
};
static const char *const license_statuses[] = {
	"active", "ending", "revoked", "ended", NULL,
};

static const struct jv_field request_fields[] = {
	{ "use",       JV_STRING,  JV_REQUIRED, 0, 0, use_values, NULL },
	{ "scope",     JV_STRING,  JV_REQUIRED | JV_TEXT, 1, 500, NULL, NULL },
	{ "term_days", JV_INTEGER, JV_REQUIRED, 1, 3650, NULL, NULL },
	{ "fee_minor", JV_INTEGER, JV_REQUIRED, 1, 1000000000000000LL, NULL, NULL },
	{ "note",      JV_STRING,  JV_TEXT, 0, 2000, NULL, NULL },
};
const struct jv_schema license_request_body = JV_SCHEMA(request_fields);

static const struct jv_field reason_fields[] = {
	{ "reason", JV_STRING, JV_TEXT, 0, 2000, NULL, NULL },
};
const struct jv_schema license_reason_body = JV_SCHEMA(reason_fields);

/* How long an artist has to answer: then the request expires, unanswered. */
#define REQUEST_DAYS "30"
/* A work's requests and licenses, newest first, at most this many each. */
#define WORK_LIST_MAX "200"

/* The work, its program's currency and the current rate for the use ($2). */
static const char SQL_WORK[] =
	"SELECT s.kind, s.status, s.program_id, s.artist_id, p.currency,"
	"       (SELECT r.amount_minor FROM rates r"
	"         WHERE r.program_id = s.program_id AND r.kind = $2 || '_license'"
	"           AND r.version = (SELECT max(c.version) FROM rate_cards c"
	"                             WHERE c.program_id = s.program_id))"
	"  FROM submissions s JOIN programs p ON p.id = s.program_id"
	" WHERE s.id = $1 FOR SHARE OF s";
enum { WK_KIND, WK_STATUS, WK_PROGRAM, WK_ARTIST, WK_CURRENCY, WK_RATE };

static const char SQL_REQUEST_INSERT[] =
	"INSERT INTO license_requests AS r (id, program_id, submission_id, artist_id, use,"
	"   scope, term_days, fee_minor, currency, note, requested_by, expires_at)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
	"   now() + interval '" REQUEST_DAYS " days')"
	" ON CONFLICT (submission_id, use) WHERE status = 'pending' DO NOTHING"
	" RETURNING " REPR_LICENSE_REQUEST_COLS;

/* A request the caller's scope sees, locked; lapsed: past its expires_at. */
static const char SQL_REQUEST_LOCK[] =
	"SELECT r.status, r.expires_at <= now() FROM license_requests r"
	" WHERE r.id = $1 AND ($2::boolean OR r.artist_id = $3::uuid) FOR UPDATE";
enum { RK_STATUS, RK_LAPSED };

/* $2 the new status (declined, withdrawn, accepted), $3 a decline's reason */
static const char SQL_REQUEST_DECIDE[] =
	"UPDATE license_requests r SET status = $2, decided_at = now(), decline_reason = $3"
	" WHERE r.id = $1 RETURNING " REPR_LICENSE_REQUEST_COLS;

static const char SQL_LICENSE_GRANT[] =
	"INSERT INTO licenses AS l (id, request_id, program_id, submission_id, artist_id, use,"
	"   scope, fee_minor, currency, until)"
	" SELECT $1, r.id, r.program_id, r.submission_id, r.artist_id, r.use, r.scope,"
	"        r.fee_minor, r.currency, now() + make_interval(days => r.term_days)"
	"   FROM license_requests r WHERE r.id = $2"
	" RETURNING " REPR_LICENSE_COLS;

/* The fee, accrued once (0013's ledger_on_licensed), and the license's link to it. */
static const char SQL_LICENSE_ACCRUE[] =
	"UPDATE licenses SET transaction_id = ledger_on_licensed(id, $2) WHERE id = $1";

static const char SQL_LICENSE_GET[] =
	"SELECT " REPR_LICENSE_COLS " FROM licenses l WHERE l.id = $1";

static const char SQL_LICENSE_LOCK[] =
	"SELECT l.status, l.until <= now() FROM licenses l"
	" WHERE l.id = $1 AND ($2::boolean OR l.artist_id = $3::uuid) FOR UPDATE";
enum { LK_STATUS, LK_LAPSED };

/* It ends after the notice in force now, never later than its term. */
#define LICENSE_END "least(l.until, now() + make_interval(days => p.license_notice_days))"
static const char SQL_LICENSE_REVOKE[] =
	"UPDATE licenses l SET until = " LICENSE_END ", revoked_at = now(), revoke_reason = $2,"
	"   status = CASE WHEN " LICENSE_END " > now() THEN 'ending' ELSE 'revoked' END,"
	"   ended_at = CASE WHEN " LICENSE_END " > now() THEN NULL ELSE now() END"
	"  FROM programs p WHERE p.id = l.program_id AND l.id = $1"
	" RETURNING " REPR_LICENSE_COLS;

/* In force at this instant, whether or not the worker has ended it yet. */
static const char SQL_CHECK[] =
	"SELECT f.id, rfc3339(f.until) FROM submissions s LEFT JOIN LATERAL"
	"  (SELECT l.id, l.until FROM licenses l WHERE l.submission_id = s.id AND l.use = $2"
	"      AND l.status IN ('active', 'ending') AND l.until > now()"
	"    ORDER BY l.until DESC LIMIT 1) f ON true"
	" WHERE s.id = $1";
enum { CK_LICENSE, CK_UNTIL };

static const char SQL_WORK_VISIBLE[] =
	"SELECT 1 FROM submissions s WHERE s.id = $1 AND ($2::boolean OR s.artist_id = $3::uuid)";
static const char SQL_WORK_REQUESTS[] =
	"SELECT " REPR_LICENSE_REQUEST_COLS " FROM license_requests r"
	" WHERE r.submission_id = $1 ORDER BY r.seq DESC LIMIT " WORK_LIST_MAX;
static const char SQL_WORK_LICENSES[] =
	"SELECT " REPR_LICENSE_COLS " FROM licenses l"
	" WHERE l.submission_id = $1 ORDER BY l.seq DESC LIMIT " WORK_LIST_MAX;

static const char SQL_MY_REQUESTS[] =
	"SELECT " REPR_LICENSE_REQUEST_COLS " FROM license_requests r"
	" WHERE r.artist_id = $1 AND ($2::text IS NULL OR r.status = $2)"
	"   AND ($3::bigint IS NULL OR r.seq < $3)"
	" ORDER BY r.seq DESC LIMIT $4";

static const char SQL_PROGRAM_EXISTS[] = "SELECT 1 FROM programs WHERE id = $1";
static const char SQL_PROGRAM_LICENSES[] =
	"SELECT " REPR_LICENSE_COLS " FROM licenses l"
	" WHERE l.program_id = $1 AND ($2::text IS NULL OR l.use = $2)"
	"   AND ($3::text IS NULL OR l.status = $3) AND ($4::bigint IS NULL OR l.seq < $4)"
	" ORDER BY l.seq DESC LIMIT $5";

static const char *const my_requests_query[] = { "status", "limit", "cursor", NULL };
static const char *const program_licenses_query[] = {
	"use", "status", "limit", "cursor", NULL,
};
static const char *const check_query[] = { "submission_id", "use", NULL };

/* The handler's state for every route here. */
struct lic {
	char id[CRYPTO_UUID_LEN];       /* the request or license changed */
	char new_id[CRYPTO_UUID_LEN];   /* the row this request creates */
	const char *to;                 /* a request's new status */
	int result;                     /* the statement whose rows are the reply */
	struct list_page page;
};

static struct lic *
lic_new(struct reqctx *rc, const char *id)
{
	struct lic *l = arena_alloc(rc->arena, sizeof(*l));

	memset(l, 0, sizeof(*l));
	if (id != NULL)
		snprintf(l->id, sizeof(l->id), "%.36s", id);
	l->result = -1;
	rc->h = l;
	return l;
}

static bool
one_of(const char *v, const char *const *values)
{
	for (; *values; values++)
		if (strcmp(*values, v) == 0)
			return true;
	return false;
}

/* The event of a license request or license, with what subscribers need. */
static void
license_event(struct reqctx *rc, struct db_job *job, const char *type,
    const char *entity_type, const PGresult *res, int id_col, int program_col,
    const json_t *payload)
{
	outbox_add(job, type, PQgetvalue(res, 0, program_col), entity_type,
	    PQgetvalue(res, 0, id_col), payload, rc->log.request_id);
}

static void
license_audit(struct reqctx *rc, struct db_job *job, const char *action,
    const char *entity_type, const char *id, const json_t *after)
{
	audit_add(job, &(struct audit_entry){
		.actor_id = req_actor_id(rc), .actor_role = req_actor_role(rc),
		.action = action, .entity_type = entity_type, .entity_id = id,
		.after = after, .request_id = rc->log.request_id,
	});
}

/* Audit row and event of a request's change, from its RETURNING row. */
static void
request_written(struct reqctx *rc, struct db_job *job, const PGresult *res,
    const char *action, const char *event)
{
	json_t *after = repr_license_request(res, 0);
	json_t *payload = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:O, s:O}",
	    "request_id", PQgetvalue(res, 0, RQ_ID), "scope", PQgetvalue(res, 0, RQ_SCOPE),
	    "program_id", PQgetvalue(res, 0, RQ_PROGRAM_ID),
	    "submission_id", PQgetvalue(res, 0, RQ_SUBMISSION_ID),
	    "artist_id", PQgetvalue(res, 0, RQ_ARTIST_ID), "use", PQgetvalue(res, 0, RQ_USE),
	    "status", PQgetvalue(res, 0, RQ_STATUS),
	    "fee_minor", json_object_get(after, "fee_minor"),
	    "currency", json_object_get(after, "currency"),
	    "expires_at", json_object_get(after, "expires_at"));

	license_audit(rc, job, action, "license_request", PQgetvalue(res, 0, RQ_ID), after);
	license_event(rc, job, event, "license_request", res, RQ_ID, RQ_PROGRAM_ID, payload);
	json_decref(payload);
	json_decref(after);
}

/* Audit row and events of a license's change, from its RETURNING row. */
static void
license_written(struct reqctx *rc, struct db_job *job, const PGresult *res,
    const char *action, const char *event)
{
	json_t *after = repr_license(res, 0);
	json_t *payload = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:O}",
	    "license_id", PQgetvalue(res, 0, RL_ID),
	    "request_id", PQgetvalue(res, 0, RL_REQUEST_ID),
	    "program_id", PQgetvalue(res, 0, RL_PROGRAM_ID),
	    "submission_id", PQgetvalue(res, 0, RL_SUBMISSION_ID),
	    "artist_id", PQgetvalue(res, 0, RL_ARTIST_ID), "use", PQgetvalue(res, 0, RL_USE),
	    "status", PQgetvalue(res, 0, RL_STATUS),
	    "until", json_object_get(after, "until"),
	    "fee_minor", json_object_get(after, "fee_minor"));

	license_audit(rc, job, action, "license", PQgetvalue(res, 0, RL_ID), after);
	license_event(rc, job, event, "license", res, RL_ID, RL_PROGRAM_ID, payload);
	/* revoked with no notice: it has ended as well, now */
	if (strcmp(PQgetvalue(res, 0, RL_STATUS), "revoked") == 0)
		license_event(rc, job, "license.ended", "license", res, RL_ID, RL_PROGRAM_ID,
		    payload);
	json_decref(payload);
	json_decref(after);
}

static void
reply_request(struct reqctx *rc, struct db_job *job, int status)
{
	struct lic *l = rc->h;

	reply_json(rc, status, repr_license_request(db_job_result(job, l->result), 0));
}

/* ---- POST /v1/submissions/:id/license-requests ---- */

static int
request_inserted(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);

	if (PQntuples(res) != 1)
		return req_refuse(rc, 409, "conflict", NULL,
		    "a %s license request for this work is already pending",
		    jv_str(rc->body, "use"));
	request_written(rc, job, res, "license.request", "license.requested");
	return 0;
}

static int
work_locked(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct lic *l = rc->h;
	const json_t *b = rc->body;
	const char *use = jv_str(b, "use"), *status;
	long long rate, fee = jv_int(b, "fee_minor", 0);
	char fee_text[24], term[16];

	if (PQntuples(res) != 1)
		return req_refuse(rc, 404, "not-found", NULL, "no such submission");
	status = PQgetvalue(res, 0, WK_STATUS);
	if (strcmp(PQgetvalue(res, 0, WK_KIND), "work") != 0)
		return req_refuse(rc, 409, "conflict", NULL,
		    "only works are licensed; this submission is a %s",
		    PQgetvalue(res, 0, WK_KIND));
	if (strcmp(status, "approved") != 0 && strcmp(status, "deemed_approved") != 0)
		return req_refuse(rc, 409, "conflict", NULL,
		    "only approved work is licensed; this submission is %s", status);
	rate = strtoll(PQgetvalue(res, 0, WK_RATE), NULL, 10);
	if (rate <= 0)
		return req_refuse(rc, 409, "no-rate", NULL,
		    "the program's rate card has no %s_license rate: no unpaid licenses", use);
	if (fee < rate)
		return req_refuse(rc, 422, "validation",
		    json_pack("{s:[{s:s, s:s}]}", "errors", "field", "fee_minor", "message",
		    arena_printf(rc->arena, "must be at least %lld, the program's %s_license rate",
		    rate, use)),
		    "fee_minor must be at least %lld, the program's %s_license rate", rate, use);
	snprintf(fee_text, sizeof(fee_text), "%lld", fee);
	snprintf(term, sizeof(term), "%lld", jv_int(b, "term_days", 0));
	l->result = db_job_add(job, request_inserted, SQL_REQUEST_INSERT, l->new_id,
	    PQgetvalue(res, 0, WK_PROGRAM), l->id, PQgetvalue(res, 0, WK_ARTIST), use,
	    jv_str(b, "scope"), term, fee_text, PQgetvalue(res, 0, WK_CURRENCY),
	    jv_str(b, "note"), rc->user.id);
	return 0;
}

static void
request_created(struct reqctx *rc, struct db_job *job)
{
	reply_request(rc, job, 201);
}

void
h_license_request(struct reqctx *rc)
{
	const char *id = req_param_uuid(rc, 0);
	struct lic *l;
	struct db_job *job;

	if (id == NULL) {
		reply_problem(rc, 404, "not-found", "no such submission");
		return;
	}
	l = lic_new(rc, id);
	crypto_uuid_new(l->new_id);
	job = db_job_new(DB_TX);
	db_job_add(job, work_locked, SQL_WORK, l->id, jv_str(rc->body, "use"));
	req_db(rc, job, request_created);
}

/* ---- POST /v1/license-requests/:id/{accept,decline,withdraw} ---- */

static int
request_decided(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct lic *l = rc->h;

	if (strcmp(l->to, "declined") == 0)
		request_written(rc, job, res, "license.decline", "license.declined");
	else if (strcmp(l->to, "withdrawn") == 0)
		request_written(rc, job, res, "license.withdraw", "license.withdrawn");
	return 0;
}

static int
license_granted(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct lic *l = rc->h;

	license_written(rc, job, res, "license.accept", "license.granted");
	db_job_add(job, NULL, SQL_LICENSE_ACCRUE, l->new_id, rc->log.request_id);
	l->result = db_job_add(job, NULL, SQL_LICENSE_GET, l->new_id);
	return 0;
}

static int
request_locked(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct lic *l = rc->h;
	const char *status;
	bool accept = strcmp(l->to, "accepted") == 0;

	if (PQntuples(res) != 1)
		return req_refuse(rc, 404, "not-found", NULL, "no such license request");
	status = PQgetvalue(res, 0, RK_STATUS);
	if (strcmp(status, "pending") != 0)
		return req_refuse(rc, 409, "conflict", NULL,
		    "only a pending license request can be answered or withdrawn; this one is %s",
		    status);
	if (PQgetvalue(res, 0, RK_LAPSED)[0] == 't')
		return req_refuse(rc, 409, "conflict", NULL,
		    "this license request has expired unanswered; staff may ask again");
	l->result = db_job_add(job, request_decided, SQL_REQUEST_DECIDE, l->id, l->to,
	    strcmp(l->to, "declined") == 0 ? jv_str(rc->body, "reason") : NULL);
	if (accept) {
		crypto_uuid_new(l->new_id);
		db_job_add(job, license_granted, SQL_LICENSE_GRANT, l->new_id, l->id);
	}
	return 0;
}

static void
request_answered(struct reqctx *rc, struct db_job *job)
{
	struct lic *l = rc->h;

	if (strcmp(l->to, "accepted") == 0)
		reply_json(rc, 200, repr_license(db_job_result(job, l->result), 0));
	else
		reply_request(rc, job, 200);
}

static void
request_change(struct reqctx *rc, const char *to)
{
	const char *id = req_param_uuid(rc, 0);
	struct lic *l;
	struct db_job *job;

	if (id == NULL) {
		reply_problem(rc, 404, "not-found", "no such license request");
		return;
	}
	l = lic_new(rc, id);
	l->to = to;
	job = db_job_new(DB_TX);
	db_job_add(job, request_locked, SQL_REQUEST_LOCK, l->id, req_scope_all(rc),
	    req_scope_owner(rc));
	req_db(rc, job, request_answered);
}

void
h_license_accept(struct reqctx *rc)
{
	request_change(rc, "accepted");
}

void
h_license_decline(struct reqctx *rc)
{
	request_change(rc, "declined");
}

void
h_license_withdraw(struct reqctx *rc)
{
	request_change(rc, "withdrawn");
}

/* ---- POST /v1/licenses/:id/revoke ---- */

static int
license_revoked(struct db_job *job, const PGresult *res, void *arg)
{
	license_written(req_of(arg), job, res, "license.revoke", "license.revoked");
	return 0;
}

static int
license_locked(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct lic *l = rc->h;

	if (PQntuples(res) != 1)
		return req_refuse(rc, 404, "not-found", NULL, "no such license");
	if (strcmp(PQgetvalue(res, 0, LK_STATUS), "active") != 0)
		return req_refuse(rc, 409, "conflict", NULL,
		    "only an active license can be revoked; this one is %s",
		    PQgetvalue(res, 0, LK_STATUS));
	if (PQgetvalue(res, 0, LK_LAPSED)[0] == 't')
		return req_refuse(rc, 409, "conflict", NULL, "this license's term is over");
	l->result = db_job_add(job, license_revoked, SQL_LICENSE_REVOKE, l->id,
	    jv_str(rc->body, "reason"));
	return 0;
}

static void
license_changed(struct reqctx *rc, struct db_job *job)
{
	struct lic *l = rc->h;

	reply_json(rc, 200, repr_license(db_job_result(job, l->result), 0));
}

void
h_license_revoke(struct reqctx *rc)
{
	const char *id = req_param_uuid(rc, 0);
	struct lic *l;
	struct db_job *job;

	if (id == NULL) {
		reply_problem(rc, 404, "not-found", "no such license");
		return;
	}
	l = lic_new(rc, id);
	job = db_job_new(DB_TX);
	db_job_add(job, license_locked, SQL_LICENSE_LOCK, l->id, req_scope_all(rc),
	    req_scope_owner(rc));
	req_db(rc, job, license_changed);
}

/* ---- GET /v1/licenses/check ---- */

static void
checked(struct reqctx *rc, struct db_job *job)
{
	const PGresult *r = db_job_result(job, 0);

	if (PQntuples(r) != 1) {
		reply_problem(rc, 404, "not-found", "no such submission");
		return;
	}
	reply_json(rc, 200, json_pack("{s:b, s:o, s:o}",
	    "licensed", !PQgetisnull(r, 0, CK_LICENSE),
	    "license_id", repr_str(r, 0, CK_LICENSE), "until", repr_str(r, 0, CK_UNTIL)));
}

void
h_license_check(struct reqctx *rc)
{
	const char *work = req_query(rc, "submission_id"), *use = req_query(rc, "use");
	json_t *errors = json_array();
	struct db_job *job;

	list_check_query(rc, check_query, errors);
	if (work == NULL)
		jv_error(errors, "submission_id", "is required");
	else if (!crypto_uuid_valid(work))
		jv_error(errors, "submission_id", "must be a UUID");
	if (use == NULL)
		jv_error(errors, "use", "is required");
	else if (!one_of(use, use_values))
		jv_error(errors, "use", "must be promotion or training");
	if (json_array_size(errors) > 0) {
		reply_invalid(rc, errors);
		return;
	}
	json_decref(errors);
	job = db_job_new(0);
	db_job_add(job, NULL, SQL_CHECK, work, use);
	req_db(rc, job, checked);
}

/* ---- GET /v1/submissions/:id/licenses ---- */

static void
work_licenses_read(struct reqctx *rc, struct db_job *job)
{
	const PGresult *requests = db_job_result(job, 1), *licenses = db_job_result(job, 2);
	json_t *rq = json_array(), *li = json_array();
	int i;

	if (PQntuples(db_job_result(job, 0)) != 1) {
		json_decref(rq);
		json_decref(li);
		reply_problem(rc, 404, "not-found", "no such submission");
		return;
	}
	for (i = 0; i < PQntuples(requests); i++)
		json_array_append_new(rq, repr_license_request(requests, i));
	for (i = 0; i < PQntuples(licenses); i++)
		json_array_append_new(li, repr_license(licenses, i));
	reply_json(rc, 200, json_pack("{s:o, s:o}", "requests", rq, "licenses", li));
}

void
h_work_licenses(struct reqctx *rc)
{
	const char *id = req_param_uuid(rc, 0);
	struct db_job *job;

	if (id == NULL) {
		reply_problem(rc, 404, "not-found", "no such submission");
		return;
	}
	/* one snapshot: the requests and licenses agree with each other */
	job = db_job_new(DB_TX);
	db_job_add(job, NULL, SQL_WORK_VISIBLE, id, req_scope_all(rc), req_scope_owner(rc));
	db_job_add(job, NULL, SQL_WORK_REQUESTS, id);
	db_job_add(job, NULL, SQL_WORK_LICENSES, id);
	req_db(rc, job, work_licenses_read);
}

/* ---- GET /v1/me/license-requests, GET /v1/programs/:id/licenses ---- */

static const struct list_filter request_filters[] = {
	{ "status", request_statuses,
	  "must be pending, accepted, declined, withdrawn or expired" },
	{ NULL, NULL, NULL },
};
static const struct list_filter license_filters[] = {
	{ "use", use_values, "must be promotion or training" },
	{ "status", license_statuses, "must be active, ending, revoked or ended" },
	{ NULL, NULL, NULL },
};

void
h_my_license_requests(struct reqctx *rc)
{
	struct lic *l = lic_new(rc, NULL);
	struct db_job *job;

	if (!list_begin(rc, my_requests_query, request_filters, NULL, &l->page))
		return;
	job = db_job_new(0);
	db_job_add(job, NULL, SQL_MY_REQUESTS, rc->user.id, req_query(rc, "status"),
	    l->page.cursor, l->page.fetch);
	list_submit(rc, job, &l->page, 0, REPR_LICENSE_REQUEST_SEQ, repr_license_request);
}

void
h_program_licenses(struct reqctx *rc)
{
	const char *program = req_param_uuid(rc, 0);
	struct lic *l;
	struct db_job *job;

	if (program == NULL) {
		reply_problem(rc, 404, "not-found", "no such program");
		return;
	}
	l = lic_new(rc, NULL);
	if (!list_begin(rc, program_licenses_query, license_filters, NULL, &l->page))
		return;
	job = db_job_new(0);
	db_job_add(job, program_step_found, SQL_PROGRAM_EXISTS, program);
	db_job_add(job, NULL, SQL_PROGRAM_LICENSES, program, req_query(rc, "use"),
	    req_query(rc, "status"), l->page.cursor, l->page.fetch);
	list_submit(rc, job, &l->page, 1, REPR_LICENSE_SEQ, repr_license);
}
