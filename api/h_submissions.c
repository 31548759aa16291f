/*
 * h_submissions.c: what artists submit, and what becomes of it afterwards
 * (withdrawal, exhibitions). The review itself is in h_review.c.
 *
 * A submission records the terms version the artist had accepted and the
 * rate card in force when it was made: a rejection may cite only those
 * clauses, and the ledger pays at that card. A retried POST with the same
 * Idempotency-Key gets the first one's stored reply (idem.h); should that
 * reply be lost, the submission carries its effect's key under a unique
 * index (artist, key), so a retry still finds it and never submits twice.
 */
#include "fb.h"

#include <ctype.h>
#include <math.h>

#include "audit.h"
#include "crypto.h"
#include "handlers.h"
#include "program.h"
#include "idem.h"
#include "jsonv.h"
#include "list.h"
#include "repr.h"
#include "submission.h"
#include "valid.h"
#include "vocab.h"

static const char *const submission_statuses[] = {
	"pending", "in_review", "approved", "deemed_approved", "rejected",
	"changes_requested", "appealed", "withdrawn", NULL,
};

static const struct jv_field media_fields[] = {
	{ "uri",    JV_STRING,  JV_REQUIRED | JV_ONELINE, 1, 2048, NULL, NULL },
	{ "sha256", JV_STRING,  JV_REQUIRED, 64, 64, NULL, NULL },
	{ "bytes",  JV_INTEGER, JV_REQUIRED, 0, 1000000000000LL, NULL, NULL },
	{ "mime",   JV_STRING,  JV_REQUIRED, 3, 255, NULL, NULL },  /* mime_type() */
};
static const struct jv_schema media_schema = JV_SCHEMA(media_fields);

static const struct jv_field generation_fields[] = {
	{ "model",         JV_STRING,  JV_REQUIRED | JV_ONELINE, 1, 100, NULL, NULL },
	{ "model_version", JV_STRING,  JV_ONELINE, 0, 100, NULL, NULL },
	{ "prompt",        JV_STRING,  JV_TEXT, 0, 10000, NULL, NULL },
	{ "seed",          JV_INTEGER, 0, 0, 0, NULL, NULL },
	{ "resolution",    JV_STRING,  JV_ONELINE, 1, 32, NULL, NULL },
	{ "duration_s",    JV_NUMBER,  0, 0, 0, NULL, NULL },
};
static const struct jv_schema generation_schema = JV_SCHEMA(generation_fields);

static const struct jv_field submission_fields[] = {
	{ "kind",        JV_STRING, JV_REQUIRED, 0, 0, vocab_submission_kinds, NULL },
	{ "title",       JV_STRING, JV_REQUIRED | JV_ONELINE, 1, 200, NULL, NULL },
	{ "description", JV_STRING, JV_TEXT, 0, 10000, NULL, NULL },
	{ "media",       JV_ARRAY,  0, 0, 20, NULL, &media_schema },
	{ "hours",       JV_NUMBER, 0, 0, 0, NULL, NULL },
	{ "generation",  JV_OBJECT, JV_NULLABLE, 0, 0, NULL, &generation_schema },
};
const struct jv_schema submission_create_body = JV_SCHEMA(submission_fields);

static const struct jv_field exhibit_fields[] = {
	{ "venue",     JV_STRING, JV_REQUIRED | JV_ONELINE, 1, 200, NULL, NULL },
	{ "starts_at", JV_STRING, JV_REQUIRED, 1, 64, NULL, NULL },
};
const struct jv_schema submission_exhibit_body = JV_SCHEMA(exhibit_fields);

static const char *const list_query[] = {
	"program_id", "status", "kind", "limit", "cursor", NULL,
};
static const struct list_filter list_filters[] = {
	{ "program_id", NULL, "must be a UUID" },
	{ "status", submission_statuses, "is not a submission status" },
	{ "kind", vocab_submission_kinds, "must be work, bug_report, feedback or session" },
	{ NULL, NULL, NULL },
};

static const char SQL_BY_KEY[] =
	"SELECT id FROM submissions WHERE artist_id = $1 AND idempotency_key = $2";
enum { BK_ID };

/* What a submission needs; locks the program against new terms meanwhile. */
static const char SQL_CHECK[] =
	"SELECT p.status, p.submission_kinds @> ARRAY[$3::text], e.id, e.terms_version,"
	"       (SELECT max(version) FROM terms_versions t WHERE t.program_id = p.id),"
	"       (SELECT max(version) FROM rate_cards c WHERE c.program_id = p.id),"
	"       p.review_sla_hours"
	"  FROM programs p"
	"  LEFT JOIN enrollments e ON e.program_id = p.id AND e.artist_id = $2"
	"       AND e.status = 'active'"
	" WHERE p.id = $1 AND " REPR_PROGRAM_VISIBLE("p", "false", "$2")
	" FOR SHARE OF p";
enum {
	CK_STATUS, CK_KIND_OK, CK_ENROLLMENT, CK_TERMS_ACCEPTED, CK_TERMS_LATEST, CK_RATES_LATEST,
	CK_SLA_HOURS,
};

static const char SQL_INSERT[] =
	"INSERT INTO submissions (id, program_id, artist_id, enrollment_id, kind, title,"
	"   description, media, hours, generation, terms_version, rate_card_version,"
	"   review_due_at, review_warn_at, idempotency_key)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::numeric, $10::jsonb, $11, $12,"
	"   now() + make_interval(hours => $13::int),"
	"   now() + make_interval(secs => $13::int * 3600 * 0.8), $14)"
	" ON CONFLICT (artist_id, idempotency_key) WHERE idempotency_key IS NOT NULL"
	" DO NOTHING RETURNING rfc3339(review_due_at)";
enum { INS_REVIEW_DUE_AT };


static const char SQL_DECISIONS[] =
	"SELECT coalesce(json_agg(json_build_object('outcome', outcome, 'reason', reason,"
	"         'clause_keys', to_json(clause_keys), 'decided_by', decided_by,"
	"         'decided_at', rfc3339(decided_at), 'on_appeal', on_appeal) ORDER BY id), '[]')"
	"  FROM decisions WHERE submission_id = $1";
enum { DECISIONS_ARRAY };

static const char SQL_EXHIBITIONS[] =
	"SELECT coalesce(json_agg(json_build_object('id', id, 'venue', venue,"
	"         'starts_at', rfc3339(starts_at), 'created_at', rfc3339(created_at))"
	"         ORDER BY created_at, id), '[]')"
	"  FROM exhibitions WHERE submission_id = $1";
enum { EXHIBITIONS_ARRAY };

static const char SQL_LIST[] =
	"SELECT " REPR_SUBMISSION_COLS " FROM " REPR_SUBMISSION_FROM
	" WHERE ($1::boolean OR s.artist_id = $2::uuid)"
	"   AND ($3::uuid IS NULL OR s.program_id = $3::uuid)"
	"   AND ($4::text IS NULL OR s.status = $4) AND ($5::text IS NULL OR s.kind = $5)"
	"   AND ($6::bigint IS NULL OR s.seq < $6)"
	" ORDER BY s.seq DESC LIMIT $7";

static const char SQL_LOCK[] =
	"SELECT status FROM submissions"
	" WHERE id = $1 AND ($2::boolean OR artist_id = $3::uuid) FOR UPDATE";
enum { LOCK_STATUS };

static const char SQL_WITHDRAW[] =
	"UPDATE submissions SET status = 'withdrawn', updated_at = now() WHERE id = $1";

static const char SQL_EXHIBIT[] =
	"INSERT INTO exhibitions (id, submission_id, venue, starts_at, created_by)"
	" VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"
	" RETURNING id, submission_id, venue, rfc3339(starts_at), rfc3339(created_at)";
enum { EX_ID, EX_SUBMISSION, EX_VENUE, EX_STARTS_AT, EX_CREATED_AT };

static const char SQL_LEDGER_EXHIBITED[] = "SELECT ledger_on_exhibited($1, $2)";

struct submit {
	char id[CRYPTO_UUID_LEN];
	const char *program_id;
	const char *key;                      /* idem_effect_key(), or NULL */
	bool replayed;
	int result;                           /* statement whose row is the reply */
	struct list_page page;
};


/* ---- POST /v1/programs/:id/submissions ---- */

static int
replay_step(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct submit *sb = rc->h;

	if (PQntuples(res) != 1)
		return 0;       /* a new key: the statements after this one insert */
	sb->replayed = true;     /* submit_checked then adds nothing */
	snprintf(sb->id, sizeof(sb->id), "%.36s", PQgetvalue(res, 0, BK_ID));
	sb->result = submission_select(job, sb->id);
	return 0;
}

static int
submission_inserted(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct submit *sb = rc->h;
	json_t *after;

	if (PQntuples(res) != 1) {
		/* a concurrent request with the same key committed first */
		db_job_add(job, replay_step, SQL_BY_KEY, rc->user.id, sb->key);
		return 0;
	}
	after = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "submission_id", sb->id,
	    "program_id", sb->program_id, "artist_id", rc->user.id,
	    "kind", jv_str(rc->body, "kind"), "title", jv_str(rc->body, "title"),
	    "review_due_at", PQgetvalue(res, 0, INS_REVIEW_DUE_AT));
	submission_audit(rc, job, "submission.create", sb->id, after);
	outbox_add(job, "submission.created", sb->program_id, "submission", sb->id, after,
	    rc->log.request_id);
	json_decref(after);
	sb->result = submission_select(job, sb->id);
	return 0;
}

static char *
dump(const json_t *v, const char *absent)
{
	return v && !json_is_null(v) ? json_dumps(v, JSON_COMPACT) : (absent ? strdup(absent) : NULL);
}

static long long hours_hundredths(double v);

static int
submit_checked(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct submit *sb = rc->h;
	const json_t *b = rc->body;
	char hours[32], *media, *generation;

	if (sb->replayed)
		return 0;
	if (program_step_found(job, res, arg) != 0)
		return -1;
	if (PQgetisnull(res, 0, CK_ENROLLMENT))
		return req_refuse(rc, 403, "not-enrolled", NULL,
		    "only artists enrolled in the program submit to it");
	if (strcmp(PQgetvalue(res, 0, CK_STATUS), "open") != 0)
		return req_refuse(rc, 409, "program-not-open", NULL,
		    "the program is not open for submissions");
	if (PQgetvalue(res, 0, CK_KIND_OK)[0] != 't')
		return req_refuse(rc, 422, "validation",
		    json_pack("{s:[{s:s, s:s}]}", "errors", "field", "kind", "message",
		    "is not a kind of submission this program accepts"),
		    "this program does not accept %s submissions", jv_str(b, "kind"));
	if (strcmp(PQgetvalue(res, 0, CK_TERMS_ACCEPTED), PQgetvalue(res, 0, CK_TERMS_LATEST)) != 0)
		return req_refuse(rc, 409, "terms-not-accepted",
		    json_pack("{s:I}", "latest_terms_version",
		    (json_int_t)strtoll(PQgetvalue(res, 0, CK_TERMS_LATEST), NULL, 10)),
		    "the terms changed: accept version %s before submitting again",
		    PQgetvalue(res, 0, CK_TERMS_LATEST));

	hours[0] = '\0';
	if (json_is_number(json_object_get(b, "hours"))) {
		long long h = hours_hundredths(json_number_value(json_object_get(b, "hours")));

		snprintf(hours, sizeof(hours), "%lld.%02lld", h / 100, h % 100);
	}
	media = dump(json_object_get(b, "media"), "[]");
	generation = dump(json_object_get(b, "generation"), NULL);
	db_job_add(job, submission_inserted, SQL_INSERT, sb->id, sb->program_id,
	    rc->user.id, PQgetvalue(res, 0, CK_ENROLLMENT), jv_str(b, "kind"), jv_str(b, "title"),
	    jv_str(b, "description") ? jv_str(b, "description") : "", media,
	    hours[0] ? hours : NULL, generation, PQgetvalue(res, 0, CK_TERMS_ACCEPTED),
	    PQgetisnull(res, 0, CK_RATES_LATEST) ? NULL : PQgetvalue(res, 0, CK_RATES_LATEST),
	    PQgetvalue(res, 0, CK_SLA_HOURS),
	    sb->key);
	free(media);
	free(generation);
	return 0;
}

static void
submitted(struct reqctx *rc, struct db_job *job)
{
	struct submit *sb = rc->h;

	if (sb->result < 0) {        /* the key's row vanished: cannot happen */
		reply_problem(rc, 409, "conflict", "the request raced with itself; retry it");
		return;
	}
	submission_reply(rc, job, sb->result, 201);
}

static bool
lower_hex(const char *s, size_t n)
{
	size_t i;

	if (strlen(s) != n)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* type/subtype, each a run of token characters */
static bool
mime_type(const char *s)
{
	const char *slash = strchr(s, '/');
	size_t i;

	if (slash == NULL || slash == s || slash[1] == '\0' || strchr(slash + 1, '/'))
		return false;
	for (i = 0; s[i]; i++)
		if (s[i] != '/' && !isalnum((unsigned char)s[i]) && !strchr("!#$&^_.+-", s[i]))
			return false;
	return true;
}

static void
check_media(const json_t *media, json_t *errors)
{
	const json_t *m;
	char field[48];
	size_t i;

	json_array_foreach(media, i, m) {
		const char *uri = jv_str(m, "uri"), *sha = jv_str(m, "sha256");
		const char *mime = jv_str(m, "mime");

		snprintf(field, sizeof(field), "media[%zu].uri", i);
		if (uri && strncmp(uri, "https://", 8) != 0 && strncmp(uri, "http://", 7) != 0)
			jv_error(errors, field, "must be an http:// or https:// URI");
		snprintf(field, sizeof(field), "media[%zu].sha256", i);
		if (sha && !lower_hex(sha, 64))
			jv_error(errors, field, "must be 64 lowercase hexadecimal digits");
		snprintf(field, sizeof(field), "media[%zu].mime", i);
		if (mime && !mime_type(mime))
			jv_error(errors, field, "must be a media type such as video/mp4");
	}
}

/*
 * Hours as the column stores them, numeric(4,2): whole hundredths, or -1 when
 * the number is not exactly the one a two-decimal value parses to (1e-300 is
 * not 0.00, and 0.30000000000000004 is not 0.3, though 0.3 is).
 */
static long long
hours_hundredths(double v)
{
	double c = v * 100;

	if (!(c >= 0 && c < 1e6) || (double)llround(c) / 100.0 != v)
		return -1;
	return (long long)llround(c);
}

static void
check_hours(const json_t *b, json_t *errors)
{
	const json_t *h = json_object_get(b, "hours");
	const char *kind = jv_str(b, "kind");
	bool session = kind && strcmp(kind, "session") == 0;

	if (h == NULL) {
		if (session)
			jv_error(errors, "hours", "is required for a session");
		return;
	}
	if (!json_is_number(h))
		return;
	if (kind && !session) {
		jv_error(errors, "hours", "is only for sessions");
	} else {
		long long c = hours_hundredths(json_number_value(h));

		if (!(json_number_value(h) > 0 && json_number_value(h) <= 24))
			jv_error(errors, "hours", "must be more than 0 and at most 24");
		else if (c < 1 || c > 2400)
			jv_error(errors, "hours", "must be a whole number of hundredths "
			    "of an hour, at least 0.01");
	}
}

static void
check_generation(const json_t *b, json_t *errors)
{
	const json_t *g = json_object_get(b, "generation");
	const json_t *d = json_object_get(g, "duration_s");

	if (!json_is_object(g))
		return;
	if (json_is_number(d) && !(json_number_value(d) >= 0 && json_number_value(d) <= 3600))
		jv_error(errors, "generation.duration_s", "must be from 0 to 3600");
}

void
h_submission_create(struct reqctx *rc)
{
	const char *program = req_param_uuid(rc, 0);
	const json_t *b = rc->body;
	json_t *errors;
	struct submit *sb;
	struct db_job *job;

	if (program == NULL) {
		reply_problem(rc, 404, "not-found", "no such program");
		return;
	}
	errors = req_body_errors(rc);
	check_media(json_object_get(b, "media"), errors);
	check_hours(b, errors);
	check_generation(b, errors);
	if (json_array_size(errors) > 0) {
		reply_invalid(rc, errors);
		return;
	}
	json_decref(errors);

	sb = arena_alloc(rc->arena, sizeof(*sb));
	memset(sb, 0, sizeof(*sb));
	crypto_uuid_new(sb->id);
	sb->program_id = program;
	sb->key = idem_effect_key(rc);
	sb->result = -1;
	rc->h = sb;

	job = db_job_new(DB_TX);
	if (sb->key != NULL)
		db_job_add(job, replay_step, SQL_BY_KEY, rc->user.id, sb->key);
	db_job_add(job, submit_checked, SQL_CHECK, program, rc->user.id, jv_str(b, "kind"));
	req_db(rc, job, submitted);
}

/* ---- GET /v1/submissions ---- */

static void
submissions_listed(struct reqctx *rc, struct db_job *job)
{
	struct submit *sb = rc->h;

	reply_list(rc, job, 0, sb->page.limit, REPR_SUBMISSION_SEQ,
	    rc->scope.all ? repr_submission : repr_submission_artist);
}

void
h_submission_list(struct reqctx *rc)
{
	struct submit *sb = arena_alloc(rc->arena, sizeof(*sb));
	struct db_job *job;

	if (!list_begin(rc, list_query, list_filters, NULL, &sb->page))
		return;
	rc->h = sb;
	job = db_job_new(0);
	db_job_add(job, NULL, SQL_LIST, req_scope_all(rc), req_scope_owner(rc),
	    req_query(rc, "program_id"), req_query(rc, "status"), req_query(rc, "kind"),
	    sb->page.cursor, sb->page.fetch);
	req_db(rc, job, submissions_listed);
}

/* ---- GET /v1/submissions/:id ---- */

/*
 * One flight: the submission, its decisions and its exhibitions go out
 * together (no step stops between them: reads need no early refusal).
 */
static void
submission_read(struct reqctx *rc, struct db_job *job)
{
	const PGresult *r = db_job_result(job, 0);
	json_t *body;

	if (PQntuples(r) != 1) {
		reply_problem(rc, 404, "not-found", "no such submission");
		return;
	}
	body = rc->scope.all ? repr_submission(r, 0) : repr_submission_artist(r, 0);
	json_object_set_new(body, "decisions",
	    repr_json(db_job_result(job, 1), 0, DECISIONS_ARRAY));
	json_object_set_new(body, "exhibitions",
	    repr_json(db_job_result(job, 2), 0, EXHIBITIONS_ARRAY));
	reply_json_etag(rc, 200, body);
}

void
h_submission_get(struct reqctx *rc)
{
	const char *id = req_param_uuid(rc, 0);
	struct db_job *job;

	if (id == NULL) {
		reply_problem(rc, 404, "not-found", "no such submission");
		return;
	}
	job = db_job_new(0);
	submission_select_as(job, id, rc);
	db_job_add(job, NULL, SQL_DECISIONS, id);
	db_job_add(job, NULL, SQL_EXHIBITIONS, id);
	req_db(rc, job, submission_read);
}

/* ---- POST /v1/submissions/:id/withdraw and /exhibit ---- */

static void
submission_changed(struct reqctx *rc, struct db_job *job)
{
	struct submit *sb = rc->h;

	submission_reply(rc, job, sb->result, 200);
}

static int
withdraw_locked(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct submit *sb = rc->h;
	json_t *after;

	if (PQntuples(res) != 1)
		return req_refuse(rc, 404, "not-found", NULL, "no such submission");
	if (strcmp(PQgetvalue(res, 0, LOCK_STATUS), "pending") != 0)
		return req_refuse(rc, 409, "conflict", NULL,
		    "only a pending submission can be withdrawn; this one is %s",
		    PQgetvalue(res, 0, LOCK_STATUS));
	db_job_add(job, NULL, SQL_WITHDRAW, sb->id);
	after = json_pack("{s:s}", "status", "withdrawn");
	submission_audit(rc, job, "submission.withdraw", sb->id, after);
	json_decref(after);
	sb->result = submission_select(job, sb->id);
	return 0;
}

/* Starts a change of one submission: a transaction locking it first. */
static void
submission_change(struct reqctx *rc, db_step_fn *locked, req_db_fn *done)
{
	const char *id = req_param_uuid(rc, 0);
	struct submit *sb;
	struct db_job *job;

	if (id == NULL) {
		reply_problem(rc, 404, "not-found", "no such submission");
		return;
	}
	sb = arena_alloc(rc->arena, sizeof(*sb));
	memset(sb, 0, sizeof(*sb));
	snprintf(sb->id, sizeof(sb->id), "%.36s", id);
	sb->result = -1;
	rc->h = sb;
	job = db_job_new(DB_TX);
	db_job_add(job, locked, SQL_LOCK, id, req_scope_all(rc), req_scope_owner(rc));
	req_db(rc, job, done);
}

void
h_submission_withdraw(struct reqctx *rc)
{
	submission_change(rc, withdraw_locked, submission_changed);
}

static int
exhibition_inserted(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct submit *sb = rc->h;
	json_t *after;

	if (PQntuples(res) != 1)
		return req_refuse(rc, 409, "conflict", NULL,
		    "this submission is already exhibited at this venue");
	db_job_add(job, NULL, SQL_LEDGER_EXHIBITED, PQgetvalue(res, 0, EX_ID), rc->log.request_id);
	after = json_pack("{s:s, s:s, s:s}", "exhibition_id", PQgetvalue(res, 0, EX_ID),
	    "venue", PQgetvalue(res, 0, EX_VENUE), "starts_at", PQgetvalue(res, 0, EX_STARTS_AT));
	submission_audit(rc, job, "submission.exhibit", sb->id, after);
	json_decref(after);
	return 0;
}

static int
exhibit_locked(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct submit *sb = rc->h;
	const char *status;
	char id[CRYPTO_UUID_LEN];

	if (PQntuples(res) != 1)
		return req_refuse(rc, 404, "not-found", NULL, "no such submission");
	status = PQgetvalue(res, 0, LOCK_STATUS);
	if (strcmp(status, "approved") != 0 && strcmp(status, "deemed_approved") != 0)
		return req_refuse(rc, 409, "conflict", NULL,
		    "only approved work is exhibited; this submission is %s", status);
	crypto_uuid_new(id);
	sb->result = db_job_add(job, exhibition_inserted, SQL_EXHIBIT, id, sb->id,
	    jv_str(rc->body, "venue"), jv_str(rc->body, "starts_at"), rc->user.id);
	return 0;
}

static void
exhibited(struct reqctx *rc, struct db_job *job)
{
	struct submit *sb = rc->h;
	const PGresult *r = db_job_result(job, sb->result);

	reply_json(rc, 201, json_pack("{s:o, s:o, s:o, s:o, s:o}",
	    "id", repr_str(r, 0, EX_ID), "submission_id", repr_str(r, 0, EX_SUBMISSION),
	    "venue", repr_str(r, 0, EX_VENUE), "starts_at", repr_str(r, 0, EX_STARTS_AT),
	    "created_at", repr_str(r, 0, EX_CREATED_AT)));
}

void
h_submission_exhibit(struct reqctx *rc)
{
	json_t *errors = req_body_errors(rc);
	const char *starts = jv_str(rc->body, "starts_at");

	if (starts && !valid_rfc3339(starts))
		jv_error(errors, "starts_at", "must be an RFC 3339 date-time");
	if (json_array_size(errors) > 0) {
		reply_invalid(rc, errors);
		return;
	}
	json_decref(errors);
	submission_change(rc, exhibit_locked, exhibited);
}
