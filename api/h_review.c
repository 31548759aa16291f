/*
 * h_review.c: the review queue. Reviewers claim the most urgent submission
 * with a lease, then decide or release it; artists appeal a rejection once.
 *
 * A claim is one statement: the earliest-due claimable row is locked with
 * FOR UPDATE SKIP LOCKED and marked in_review in the same UPDATE, so two
 * reviewers never get the same item and never wait on each other. A claim
 * whose lease ran out is claimable again. The deadline worker may deem a
 * submission approved while it is claimed: its decision then finds the
 * claim gone (409), because silence past the deadline favours the artist.
 */
#include "fb.h"

#include "audit.h"
#include "crypto.h"
#include "handlers.h"
#include "jsonv.h"
#include "loop.h"
#include "program.h"
#include "repr.h"
#include "submission.h"
#include "vocab.h"

#define APPEAL_WINDOW "14 days"

static const char *const outcomes[] = { "approved", "rejected", "changes_requested", NULL };

static const struct jv_field claim_fields[] = {
	{ "kinds", JV_ARRAY, 0, 1, 4, NULL, NULL },
};
const struct jv_schema queue_claim_body = JV_SCHEMA(claim_fields);

static const struct jv_field decision_fields[] = {
	{ "outcome",     JV_STRING, JV_REQUIRED, 0, 0, outcomes, NULL },
	{ "reason",      JV_STRING, JV_NULLABLE | JV_TEXT, 1, 2000, NULL, NULL },
	{ "clause_keys", JV_ARRAY,  JV_NULLABLE, 0, 20, NULL, NULL },
};
const struct jv_schema submission_decide_body = JV_SCHEMA(decision_fields);

static const struct jv_field appeal_fields[] = {
	{ "statement", JV_STRING, JV_REQUIRED | JV_TEXT, 1, 5000, NULL, NULL },
};
const struct jv_schema submission_appeal_body = JV_SCHEMA(appeal_fields);

static const char SQL_PROGRAM[] = "SELECT 1 FROM programs WHERE id = $1";

/* $1 program, $2 kinds or NULL, $3 the reviewer, $4 lease seconds. */
static const char SQL_CLAIM[] =
	"WITH c AS ("
	"  SELECT s.id FROM submissions s"
	"   WHERE s.program_id = $1"
	/* the queue index's own predicate, which the planner cannot infer from the OR */
	"     AND s.status IN ('pending', 'in_review', 'appealed')"
	"     AND (s.status IN ('pending', 'appealed')"
	"          OR (s.status = 'in_review' AND s.lease_expires_at <= now()))"
	"     AND ($2::text[] IS NULL OR s.kind = ANY ($2::text[]))"
	"     AND (s.appeal_of IS NULL OR s.appeal_of <> $3::uuid)"
	"   ORDER BY s.review_due_at, (s.appealed_at IS NOT NULL) DESC, s.seq"
	"   LIMIT 1 FOR UPDATE SKIP LOCKED)"
	" UPDATE submissions s SET status = 'in_review', claimed_by = $3, claimed_at = now(),"
	"        lease_expires_at = now() + make_interval(secs => $4::int), updated_at = now()"
	"   FROM c WHERE s.id = c.id RETURNING s.id, rfc3339(s.lease_expires_at)";
enum { CL_SUBMISSION, CL_LEASE_EXPIRES_AT };

/* $2 the caller: does it hold a live claim? */
static const char SQL_LOCK[] =
	"SELECT s.status, s.claimed_by = $2::uuid AND s.lease_expires_at > now(),"
	"       coalesce(s.appeal_of = $2::uuid, false), s.program_id, s.artist_id,"
	"       s.appealed_at IS NOT NULL, s.terms_version"
	"  FROM submissions s WHERE s.id = $1 FOR UPDATE";
enum { LK_STATUS, LK_HOLDER, LK_APPEAL_OF_ME, LK_PROGRAM, LK_ARTIST, LK_APPEAL, LK_TERMS };

/* The positions (0-based) of $2's keys that the submission's terms lack. */
static const char SQL_UNKNOWN_CLAUSES[] =
	"SELECT coalesce(json_agg(u.o - 1 ORDER BY u.o), '[]')"
	"  FROM submissions s, unnest($2::text[]) WITH ORDINALITY AS u (k, o)"
	" WHERE s.id = $1 AND NOT EXISTS ("
	"       SELECT 1 FROM terms_versions t, jsonb_array_elements(t.clauses) c"
	"        WHERE t.program_id = s.program_id AND t.version = s.terms_version"
	"          AND c ->> 'key' = u.k)";
enum { UC_POSITIONS };

static const char SQL_RELEASE[] =
	"UPDATE submissions SET status = CASE WHEN appealed_at IS NULL THEN 'pending'"
	"       ELSE 'appealed' END, claimed_by = NULL, claimed_at = NULL,"
	"       lease_expires_at = NULL, updated_at = now() WHERE id = $1";

static const char SQL_DECIDE[] =
	"UPDATE submissions SET status = $2, decided_at = now(), decided_by = $3,"
	"       claimed_by = NULL, claimed_at = NULL, lease_expires_at = NULL,"
	"       updated_at = now() WHERE id = $1";

static const char SQL_DECISION[] =
	"INSERT INTO decisions (submission_id, outcome, reason, clause_keys, decided_by,"
	"   on_appeal) VALUES ($1, $2, $3, $4::text[], $5, $6)";

/* The one place a reviewer's approval reaches the ledger. */
static const char SQL_LEDGER_ACCEPTED[] = "SELECT ledger_on_accepted($1, $2)";

static const char SQL_APPEAL_LOCK[] =
	"SELECT s.status, s.decided_at < now() - interval '" APPEAL_WINDOW "',"
	"       s.appealed_at IS NOT NULL, s.program_id"
	"  FROM submissions s WHERE s.id = $1 AND s.artist_id = $2 FOR UPDATE";
enum { AL_STATUS, AL_WINDOW_CLOSED, AL_APPEALED, AL_PROGRAM };

static const char SQL_APPEAL[] =
	"UPDATE submissions s SET status = 'appealed', appeal_statement = $2,"
	"       appealed_at = now(), appeal_of = s.decided_by, decided_at = NULL,"
	"       review_due_at = now() + make_interval(hours => p.review_sla_hours),"
	"       review_warn_at = now() + make_interval(secs => p.review_sla_hours * 3600 * 0.8),"
	"       sla_warned_at = NULL, updated_at = now()"
	"  FROM programs p WHERE s.id = $1 AND p.id = s.program_id"
	" RETURNING rfc3339(s.review_due_at)";
enum { AP_REVIEW_DUE_AT };

static const char SQL_QUEUE[] =
	"SELECT coalesce((SELECT json_agg(json_build_object('status', status, 'kind', kind,"
	"                   'count', n) ORDER BY status, kind)"
	"                  FROM (SELECT status, kind, count(*) AS n FROM submissions"
	"                         WHERE program_id = $1 GROUP BY status, kind) g), '[]'),"
	"       rfc3339(min(review_due_at)),"
	"       count(*) FILTER (WHERE review_due_at < now()),"
	"       count(*) FILTER (WHERE status = 'in_review' AND lease_expires_at > now())"
	"  FROM submissions"
	" WHERE program_id = $1 AND status IN ('pending', 'in_review', 'appealed')";
enum { Q_COUNTS, Q_OLDEST_DUE, Q_OVERDUE, Q_OPEN_CLAIMS };

struct review {
	char id[CRYPTO_UUID_LEN];
	char program[CRYPTO_UUID_LEN];
	int result;
	bool empty;          /* claim: nothing to hand out */
};

static struct review *
review_new(struct reqctx *rc, const char *id)
{
	struct review *rv = arena_alloc(rc->arena, sizeof(*rv));

	memset(rv, 0, sizeof(*rv));
	if (id != NULL)
		snprintf(rv->id, sizeof(rv->id), "%.36s", id);
	rv->result = -1;
	rc->h = rv;
	return rv;
}

static void
reviewed(struct reqctx *rc, struct db_job *job)
{
	struct review *rv = rc->h;

	if (rv->empty)
		reply_empty(rc, 204);
	else
		submission_reply(rc, job, rv->result, 200);
}

/* A JSON array of strings as a PostgreSQL array literal, quoted (arena). */
static char *
text_array(struct reqctx *rc, const json_t *a)
{
	char *out = arena_strdup(rc->arena, "{");
	const json_t *v;
	size_t i;

	json_array_foreach(a, i, v) {
		const char *s = json_string_value(v);
		char *q = arena_alloc(rc->arena, 2 * strlen(s) + 3), *w = q;

		*w++ = '"';
		for (; *s; s++) {
			if (*s == '"' || *s == '\\')
				*w++ = '\\';
			*w++ = *s;
		}
		*w++ = '"';
		*w = '\0';
		out = arena_printf(rc->arena, "%s%s%s", out, i ? "," : "", q);
	}
	return arena_printf(rc->arena, "%s}", out);
}

/* ---- POST /v1/programs/:id/queue/claim ---- */

static int
claimed(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct review *rv = rc->h;
	json_t *after;

	if (PQntuples(res) == 0) {
		rv->empty = true;
		return 0;
	}
	snprintf(rv->id, sizeof(rv->id), "%.36s", PQgetvalue(res, 0, CL_SUBMISSION));
	after = json_pack("{s:s, s:s, s:s}", "status", "in_review", "reviewer_id",
	    rc->user.id, "lease_expires_at", PQgetvalue(res, 0, CL_LEASE_EXPIRES_AT));
	submission_audit(rc, job, "submission.claim", rv->id, after);
	json_decref(after);
	rv->result = submission_select(job, rv->id);
	return 0;
}

void
h_queue_claim(struct reqctx *rc)
{
	const char *program = req_param_uuid(rc, 0);
	const json_t *k = json_object_get(rc->body, "kinds"), *v;
	json_t *errors;
	char field[48], lease[24];
	struct db_job *job;
	size_t i;

	if (program == NULL) {
		reply_problem(rc, 404, "not-found", "no such program");
		return;
	}
	errors = req_body_errors(rc);
	json_array_foreach(k, i, v) {
		const char *const *kk;

		snprintf(field, sizeof(field), "kinds[%zu]", i);
		for (kk = vocab_submission_kinds; *kk && !(json_is_string(v) && strcmp(*kk, json_string_value(v)) == 0); kk++)
			;
		if (*kk == NULL)
			jv_error(errors, field, "must be work, bug_report, feedback or session");
		else if (jv_repeats(k, i, NULL))
			jv_error(errors, field, "is listed twice");
	}
	if (json_array_size(errors) > 0) {
		reply_invalid(rc, errors);
		return;
	}
	json_decref(errors);
	review_new(rc, NULL);
	snprintf(lease, sizeof(lease), "%ld", rc->loop->srv->cfg->claim_lease_s);
	job = db_job_new(DB_TX);
	db_job_add(job, program_step_found, SQL_PROGRAM, program);
	db_job_add(job, claimed, SQL_CLAIM, program, k ? text_array(rc, k) : NULL,
	    rc->user.id, lease);
	req_db(rc, job, reviewed);
}

/* ---- POST /v1/submissions/:id/release and /decision ---- */

static int
holder_check(struct reqctx *rc, const PGresult *res)
{
	if (PQntuples(res) != 1)
		return req_refuse(rc, 404, "not-found", NULL, "no such submission");
	if (strcmp(PQgetvalue(res, 0, LK_STATUS), "in_review") != 0 ||
	    PQgetvalue(res, 0, LK_HOLDER)[0] != 't')
		return req_refuse(rc, 409, "not-claim-holder", NULL,
		    "you do not hold a live claim on this submission (it is %s)",
		    PQgetvalue(res, 0, LK_STATUS));
	return 0;
}

static int
release_locked(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct review *rv = rc->h;
	json_t *after;

	if (holder_check(rc, res) != 0)
		return -1;
	db_job_add(job, NULL, SQL_RELEASE, rv->id);
	after = json_pack("{s:s}", "released_by", rc->user.id);
	submission_audit(rc, job, "submission.release", rv->id, after);
	json_decref(after);
	rv->result = submission_select(job, rv->id);
	return 0;
}

static void
review_change(struct reqctx *rc, db_step_fn *locked, const char *sql)
{
	const char *id = req_param_uuid(rc, 0);
	struct review *rv;
	struct db_job *job;

	if (id == NULL) {
		reply_problem(rc, 404, "not-found", "no such submission");
		return;
	}
	rv = review_new(rc, id);
	job = db_job_new(DB_TX);
	db_job_add(job, locked, sql, rv->id, rc->user.id);
	req_db(rc, job, reviewed);
}

void
h_submission_release(struct reqctx *rc)
{
	review_change(rc, release_locked, SQL_LOCK);
}

static int
clauses_known(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	json_t *unknown = json_loads(PQgetvalue(res, 0, UC_POSITIONS), 0, NULL), *errors, *i;
	size_t n;

	FB_UNUSED(job);
	if (json_array_size(unknown) == 0) {
		json_decref(unknown);
		return 0;
	}
	errors = json_array();
	json_array_foreach(unknown, n, i) {
		char field[48];

		snprintf(field, sizeof(field), "clause_keys[%lld]",
		    (long long)json_integer_value(i));
		jv_error(errors, field,
		    "is not a clause of the terms version this submission was made under");
	}
	json_decref(unknown);
	return req_refuse(rc, 422, "validation", json_pack("{s:o}", "errors", errors),
	    "a decision may cite only clauses of the terms the artist accepted");
}

static int
decide_locked(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct review *rv = rc->h;
	const json_t *b = rc->body, *keys = json_object_get(b, "clause_keys");
	const char *outcome = jv_str(b, "outcome"), *program, *keys_lit;
	bool appeal;
	json_t *after;

	if (holder_check(rc, res) != 0)
		return -1;
	if (PQgetvalue(res, 0, LK_APPEAL_OF_ME)[0] == 't')
		return req_refuse(rc, 409, "conflict", NULL,
		    "you made the decision under appeal; another reviewer decides the appeal");
	program = PQgetvalue(res, 0, LK_PROGRAM);
	appeal = PQgetvalue(res, 0, LK_APPEAL)[0] == 't';
	keys_lit = json_array_size(keys) ? text_array(rc, keys) : "{}";

	db_job_add(job, clauses_known, SQL_UNKNOWN_CLAUSES, rv->id, keys_lit);
	db_job_add(job, NULL, SQL_DECIDE, rv->id, outcome, rc->user.id);
	db_job_add(job, NULL, SQL_DECISION, rv->id, outcome, jv_str(b, "reason"), keys_lit,
	    rc->user.id, appeal ? "true" : "false");
	if (strcmp(outcome, "approved") == 0)
		db_job_add(job, NULL, SQL_LEDGER_ACCEPTED, rv->id, rc->log.request_id);
	after = json_pack("{s:s, s:s, s:s?, s:O?, s:b}", "submission_id", rv->id,
	    "outcome", outcome, "reason", jv_str(b, "reason"), "clause_keys", keys,
	    "on_appeal", appeal);
	json_object_set_new(after, "program_id", json_string(program));
	json_object_set_new(after, "artist_id", json_string(PQgetvalue(res, 0, LK_ARTIST)));
	submission_audit(rc, job, "submission.decide", rv->id, after);
	outbox_add(job, "submission.decided", program, "submission", rv->id, after,
	    rc->log.request_id);
	json_decref(after);
	rv->result = submission_select(job, rv->id);
	return 0;
}

void
h_submission_decide(struct reqctx *rc)
{
	const json_t *b = rc->body, *keys = json_object_get(b, "clause_keys"), *k;
	const char *outcome = jv_str(b, "outcome");
	json_t *errors = req_body_errors(rc);
	char field[48];
	size_t i;

	json_array_foreach(keys, i, k) {
		snprintf(field, sizeof(field), "clause_keys[%zu]", i);
		if (!json_is_string(k) || json_string_length(k) < 1 || json_string_length(k) > 64)
			jv_error(errors, field, "must be a clause key (1 to 64 characters)");
	}
	if (outcome && strcmp(outcome, "approved") != 0) {
		if (jv_str(b, "reason") == NULL)
			jv_error(errors, "reason", "is required to reject or request changes");
		if (json_array_size(keys) == 0)
			jv_error(errors, "clause_keys",
			    "must cite at least one clause of the terms the artist accepted");
	}
	if (json_array_size(errors) > 0) {
		reply_invalid(rc, errors);
		return;
	}
	json_decref(errors);
	review_change(rc, decide_locked, SQL_LOCK);
}

/* ---- POST /v1/submissions/:id/appeal ---- */

static int
appeal_made(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct review *rv = rc->h;
	json_t *after;

	after = json_pack("{s:s, s:s, s:s, s:s}", "submission_id", rv->id,
	    "statement", jv_str(rc->body, "statement"), "review_due_at",
	    PQgetvalue(res, 0, AP_REVIEW_DUE_AT), "artist_id", rc->user.id);
	submission_audit(rc, job, "submission.appeal", rv->id, after);
	json_object_set_new(after, "program_id", json_string(rv->program));
	outbox_add(job, "submission.appealed", rv->program, "submission", rv->id, after,
	    rc->log.request_id);
	json_decref(after);
	rv->result = submission_select(job, rv->id);
	return 0;
}

static int
appeal_locked(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct review *rv = rc->h;

	if (PQntuples(res) != 1)
		return req_refuse(rc, 404, "not-found", NULL, "no such submission");
	if (PQgetvalue(res, 0, AL_APPEALED)[0] == 't')
		return req_refuse(rc, 409, "conflict", NULL,
		    "this submission has been appealed already; an appeal is heard once");
	if (strcmp(PQgetvalue(res, 0, AL_STATUS), "rejected") != 0)
		return req_refuse(rc, 409, "conflict", NULL,
		    "only a rejection can be appealed; this submission is %s",
		    PQgetvalue(res, 0, AL_STATUS));
	if (PQgetvalue(res, 0, AL_WINDOW_CLOSED)[0] == 't')
		return req_refuse(rc, 409, "appeal-window-closed", NULL,
		    "a rejection can be appealed within " APPEAL_WINDOW " of the decision");
	snprintf(rv->program, sizeof(rv->program), "%.36s", PQgetvalue(res, 0, AL_PROGRAM));
	db_job_add(job, appeal_made, SQL_APPEAL, rv->id, jv_str(rc->body, "statement"));
	return 0;
}

void
h_submission_appeal(struct reqctx *rc)
{
	review_change(rc, appeal_locked, SQL_APPEAL_LOCK);
}

/* ---- GET /v1/programs/:id/queue ---- */

static void
queue_read(struct reqctx *rc, struct db_job *job)
{
	const PGresult *r = db_job_result(job, 1);

	reply_json(rc, 200, json_pack("{s:s, s:o, s:o, s:o, s:o}",
	    "program_id", req_param(rc, 0), "counts", repr_json(r, 0, Q_COUNTS),
	    "oldest_review_due_at", repr_str(r, 0, Q_OLDEST_DUE),
	    "overdue", repr_int(r, 0, Q_OVERDUE), "open_claims", repr_int(r, 0, Q_OPEN_CLAIMS)));
}

void
h_queue_stats(struct reqctx *rc)
{
	const char *program = req_param_uuid(rc, 0);
	struct db_job *job;

	if (program == NULL) {
		reply_problem(rc, 404, "not-found", "no such program");
		return;
	}
	job = db_job_new(0);
	db_job_add(job, program_step_found, SQL_PROGRAM, program);
	db_job_add(job, NULL, SQL_QUEUE, program);
	req_db(rc, job, queue_read);
}
