/*
 * h_enrollments.c: joining a program with an invitation code, accepting new
 * terms, withdrawing, and the lists of enrollments.
 *
 * Enrolling is one transaction that first locks the invitation and the
 * program rows, then checks everything against what is committed by then:
 * the code's uses, the seats left, the latest terms, an existing enrollment.
 * Concurrent enrollments in a program therefore queue on its row, and the
 * last seat and the last use of a code go to exactly one of them.
 *
 * Someone without an account enrolls and signs up at once: the request is
 * checked first without locks (so a bad code costs no Argon2id work), the
 * password is hashed on the hashing threads, and the account is created in
 * the same transaction as the enrollment.
 */
#include "fb.h"

#include "audit.h"
#include "crypto.h"
#include "email.h"
#include "handlers.h"
#include "jsonv.h"
#include "list.h"
#include "program.h"
#include "repr.h"
#include "valid.h"

static const struct jv_field enroll_fields[] = {
	{ "invitation_code",      JV_STRING,  JV_REQUIRED | JV_ONELINE, 1, 200, NULL, NULL },
	{ "accept_terms_version", JV_INTEGER, JV_REQUIRED, 1, 1000000000, NULL, NULL },
	{ "email",                JV_STRING,  JV_ONELINE, 3, 254, NULL, NULL },
	{ "password",             JV_STRING,  0, 8, 256, NULL, NULL },
	{ "display_name",         JV_STRING,  JV_ONELINE, 1, 100, NULL, NULL },
};
const struct jv_schema enrollment_create_body = JV_SCHEMA(enroll_fields);

static const struct jv_field accept_fields[] = {
	{ "version", JV_INTEGER, JV_REQUIRED, 1, 1000000000, NULL, NULL },
};
const struct jv_schema enrollment_accept_terms_body = JV_SCHEMA(accept_fields);

static const struct jv_field withdraw_fields[] = {
	{ "reason", JV_STRING, JV_NULLABLE | JV_TEXT, 0, 1000, NULL, NULL },
};
const struct jv_schema enrollment_withdraw_body = JV_SCHEMA(withdraw_fields);

static const char *const list_query[] = { "status", "limit", "cursor", NULL };
static const char *const status_values[] = { "active", "withdrawn", NULL };
static const struct list_filter list_filters[] = {
	{ "status", status_values, "must be active or withdrawn" },
	{ NULL, NULL, NULL },
};

/* Serializes enrollments per program and per code; $1 the code's hash. */
static const char SQL_LOCK[] =
	"SELECT 1 FROM invitations i JOIN programs p ON p.id = i.program_id"
	" WHERE i.code_hash = $1 FOR UPDATE OF i, p";

/*
 * Everything an enrollment depends on; $2 the artist, $3 a new account's
 * email, $4 and $5 its normalized form and skeleton (lib/email.h): the
 * last column is NULL when no account has or resembles the address, 't'
 * when one has it, 'f' when one's looks like it.
 */
static const char SQL_CHECK[] =
	"SELECT i.id, i.program_id, i.email, i.uses >= i.max_uses,"
	"       i.expires_at <= now(), i.revoked_at IS NOT NULL, p.status,"
	"       p.seats_taken >= p.capacity,"
	"       (SELECT max(version) FROM terms_versions t WHERE t.program_id = p.id),"
	"       EXISTS (SELECT 1 FROM enrollments e WHERE e.program_id = p.id"
	"                  AND e.artist_id = $2::uuid AND e.status = 'active'),"
	"       (SELECT bool_or(u.email_norm = $4 OR u.email = lower($3)) FROM users u"
	"         WHERE u.email_norm = $4 OR u.email_skeleton = $5 OR u.email = lower($3))"
	"  FROM invitations i JOIN programs p ON p.id = i.program_id"
	" WHERE i.code_hash = $1";
enum {
	CK_INVITATION, CK_PROGRAM, CK_EMAIL, CK_USED_UP, CK_EXPIRED, CK_REVOKED,
	CK_STATUS, CK_FULL, CK_LATEST, CK_ENROLLED, CK_EMAIL_TAKEN,
};

static const char SQL_INSERT_USER[] =
	"INSERT INTO users (id, email, password_hash, display_name, role, email_norm,"
	" email_skeleton) VALUES ($1, lower($2), $3, $4, 'artist', $5, $6)"
	" ON CONFLICT (email) DO NOTHING RETURNING id";

static const char SQL_USE_INVITATION[] =
	"UPDATE invitations SET uses = uses + 1 WHERE id = $1";

static const char SQL_TAKE_SEAT[] =
	"UPDATE programs SET seats_taken = seats_taken + 1 WHERE id = $1";

static const char SQL_INSERT_ENROLLMENT[] =
	"INSERT INTO enrollments (id, program_id, artist_id, invitation_id, terms_version)"
	" VALUES ($1, $2, $3, $4, $5)";

static const char SQL_ACCEPT[] =
	"INSERT INTO terms_acceptances (enrollment_id, program_id, version)"
	" VALUES ($1, $2, $3)";

/* $2: the artist an artist caller is limited to, else NULL. */
static const char SQL_GET[] =
	"SELECT " REPR_ENROLLMENT_COLS
	"  FROM enrollments e JOIN users u ON u.id = e.artist_id"
	" WHERE e.id = $1 AND ($2::boolean OR e.artist_id = $3::uuid)";

static const char SQL_ACCEPTANCES[] =
	"SELECT coalesce(json_agg(json_build_object('version', version,"
	"         'accepted_at', rfc3339(accepted_at)) ORDER BY version), '[]')"
	"  FROM terms_acceptances WHERE enrollment_id = $1";
enum { ACCEPTANCES_ARRAY };

static const char SQL_LOCK_ENROLLMENT[] =
	"SELECT e.status, e.program_id, e.terms_version,"
	"       (SELECT max(version) FROM terms_versions t WHERE t.program_id = e.program_id)"
	"  FROM enrollments e"
	" WHERE e.id = $1 AND ($2::boolean OR e.artist_id = $3::uuid) FOR UPDATE";
enum { LE_STATUS, LE_PROGRAM, LE_TERMS, LE_TERMS_LATEST };

static const char SQL_UPDATE_TERMS[] =
	"UPDATE enrollments SET terms_version = $2, terms_accepted_at = now() WHERE id = $1";

static const char SQL_WITHDRAW[] =
	"UPDATE enrollments SET status = 'withdrawn', withdrawn_at = now(),"
	"  withdraw_reason = $2 WHERE id = $1";

static const char SQL_FREE_SEAT[] =
	"UPDATE programs SET seats_taken = seats_taken - 1 WHERE id = $1";

static const char SQL_PROGRAM_EXISTS[] =
	"SELECT 1 FROM programs WHERE id = $1";

static const char SQL_LIST_PROGRAM[] =
	"SELECT " REPR_ENROLLMENT_COLS
	"  FROM enrollments e JOIN users u ON u.id = e.artist_id"
	" WHERE e.program_id = $1 AND ($2::text IS NULL OR e.status = $2)"
	"   AND ($3::bigint IS NULL OR e.seq < $3)"
	" ORDER BY e.seq DESC LIMIT $4";

static const char SQL_LIST_ARTIST[] =
	"SELECT " REPR_ENROLLMENT_COLS
	"  FROM enrollments e JOIN users u ON u.id = e.artist_id"
	" WHERE e.artist_id = $1 AND ($2::text IS NULL OR e.status = $2)"
	"   AND ($3::bigint IS NULL OR e.seq < $3)"
	" ORDER BY e.seq DESC LIMIT $4";

struct enroll {
	char code_hash[CRYPTO_HASH_HEX_LEN];
	char id[CRYPTO_UUID_LEN];
	char user_id[CRYPTO_UUID_LEN];
	long long version;
	bool new_account;
	char *email, *password, *display_name;   /* arena */
	struct email_identity *addr;             /* arena; a new account's */
	char hash[CRYPTO_PWHASH_LEN];
	bool hashed;
	int result;        /* statement whose row is the reply */
	struct list_page page; /* lists */
};

/* ---- POST /v1/invitations/preview ---- */

static const struct jv_field preview_fields[] = {
	{ "invitation_code", JV_STRING, JV_REQUIRED | JV_ONELINE, 1, 200, NULL, NULL },
};
const struct jv_schema invitation_preview_body = JV_SCHEMA(preview_fields);

/* What the code is worth, and what the invited artist would be agreeing to. */
static const char SQL_PREVIEW_CODE[] =
	"SELECT i.revoked_at IS NOT NULL, i.expires_at <= now(), i.uses >= i.max_uses"
	"  FROM invitations i WHERE i.code_hash = $1";
enum { PV_REVOKED, PV_EXPIRED, PV_USED_UP };
static const char SQL_PREVIEW_PROGRAM[] =
	"SELECT " REPR_PROGRAM_COLS " FROM invitations i JOIN programs p ON p.id = i.program_id"
	" WHERE i.code_hash = $1";
static const char SQL_PREVIEW_TERMS[] =
	"SELECT " REPR_TERMS_COLS " FROM invitations i"
	"  JOIN terms_versions t ON t.program_id = i.program_id"
	" WHERE i.code_hash = $1 ORDER BY t.version DESC LIMIT 1";
static const char SQL_PREVIEW_RATES[] =
	"SELECT " REPR_RATES_COLS " FROM invitations i JOIN programs p ON p.id = i.program_id"
	"  JOIN rate_cards c ON c.program_id = i.program_id"
	" WHERE i.code_hash = $1 ORDER BY c.version DESC LIMIT 1";
enum { PREVIEW_CODE, PREVIEW_PROGRAM, PREVIEW_TERMS, PREVIEW_RATES };

static void
previewed(struct reqctx *rc, struct db_job *job)
{
	const PGresult *code = db_job_result(job, PREVIEW_CODE);
	const PGresult *terms = db_job_result(job, PREVIEW_TERMS);
	const PGresult *rates = db_job_result(job, PREVIEW_RATES);
	const char *why = NULL;

	/* the words enrollment uses: they say nothing about any program */
	if (PQntuples(code) != 1)
		why = "this invitation code is not valid";
	else if (PQgetvalue(code, 0, PV_REVOKED)[0] == 't')
		why = "this invitation code has been revoked";
	else if (PQgetvalue(code, 0, PV_EXPIRED)[0] == 't')
		why = "this invitation code has expired";
	else if (PQgetvalue(code, 0, PV_USED_UP)[0] == 't')
		why = "this invitation code has been used up";
	if (why != NULL) {
		/* enrollment's very answer: the message is also the detail */
		reply_problem_ext(rc, 422, "validation", json_pack("{s:[{s:s, s:s}]}", "errors",
		    "field", "invitation_code", "message", why), why);
		return;
	}
	req_set_header(rc, "Cache-Control", "no-store");
	reply_json(rc, 200, json_pack("{s:o, s:o, s:o}",
	    "program", repr_program(db_job_result(job, PREVIEW_PROGRAM), 0),
	    "terms", PQntuples(terms) == 1 ? repr_terms(terms, 0, 0) : json_null(),
	    "rates", PQntuples(rates) == 1 ? repr_rates(rates, 0, 0) : json_null()));
}

void
h_invitation_preview(struct reqctx *rc)
{
	const char *code = jv_str(rc->body, "invitation_code");
	char hash[CRYPTO_HASH_HEX_LEN];
	struct db_job *job;

	crypto_sha256_hex(code, strlen(code), hash);
	job = db_job_new(DB_TX);       /* one snapshot of the code, program, terms and rates */
	db_job_add(job, NULL, SQL_PREVIEW_CODE, hash);
	db_job_add(job, NULL, SQL_PREVIEW_PROGRAM, hash);
	db_job_add(job, NULL, SQL_PREVIEW_TERMS, hash);
	db_job_add(job, NULL, SQL_PREVIEW_RATES, hash);
	req_db(rc, job, previewed);
}

/* ---- POST /v1/enrollments ---- */

/* 422 naming the code, in words that say nothing about any program. */
static int
code_refused(struct reqctx *rc, const char *why)
{
	return req_refuse(rc, 422, "validation",
	    json_pack("{s:[{s:s, s:s}]}", "errors", "field", "invitation_code",
	    "message", why), "%s", why);
}

/* Applies the rules to a SQL_CHECK row, in the order the contract gives. */
static int
enroll_verdict(struct reqctx *rc, const PGresult *r)
{
	struct enroll *en = rc->h;
	long long latest;

#define T(col) (PQgetvalue(r, 0, (col))[0] == 't')
	if (PQntuples(r) != 1)
		return code_refused(rc, "this invitation code is not valid");
	if (T(CK_REVOKED))
		return code_refused(rc, "this invitation code has been revoked");
	if (T(CK_EXPIRED))
		return code_refused(rc, "this invitation code has expired");
	if (T(CK_USED_UP))
		return code_refused(rc, "this invitation code has been used up");
	if (!PQgetisnull(r, 0, CK_EMAIL) && !email_same(PQgetvalue(r, 0, CK_EMAIL), en->email))
		return code_refused(rc,
		    "this invitation code was issued for a different email address");
	if (strcmp(PQgetvalue(r, 0, CK_STATUS), "open") != 0)
		return req_refuse(rc, 409, "program-not-open", NULL,
		    "the program is not open for enrollment");
	latest = PQgetisnull(r, 0, CK_LATEST) ? 0 : strtoll(PQgetvalue(r, 0, CK_LATEST), NULL, 10);
	if (latest != en->version)
		return req_refuse(rc, 409, "terms-outdated",
		    json_pack("{s:I}", "latest_terms_version", (json_int_t)latest),
		    "version %lld of the terms is the latest; read and accept it",
		    latest);
	if (T(CK_ENROLLED))
		return req_refuse(rc, 409, "already-enrolled", NULL,
		    "you are already enrolled in this program");
	if (en->new_account && T(CK_EMAIL_TAKEN))
		return req_refuse(rc, 409, "conflict",
		    NULL, "an account with this email exists; sign in and enroll with your token");
	if (en->new_account && !PQgetisnull(r, 0, CK_EMAIL_TAKEN))
		return req_refuse(rc, 409, EMAIL_SLUG_CONFUSABLE, NULL, EMAIL_DETAIL_CONFUSABLE);
	if (T(CK_FULL))
		return req_refuse(rc, 409, "program-full",
		    NULL, "the program is full: every seat is taken");
#undef T
	return 0;
}

static int
precheck_step(struct db_job *job, const PGresult *res, void *arg)
{
	FB_UNUSED(job);
	return enroll_verdict(req_of(arg), res);
}

/* 409 for the address of an account made before its identity was (0008). */
static int
email_pending_step(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct enroll *en = rc->h;

	FB_UNUSED(job);
	switch (email_clash_rows(en->addr, res, 0)) {
	case EMAIL_CLASH_TAKEN:
		return req_refuse(rc, 409, "conflict", NULL,
		    "an account with this email exists; sign in and enroll with your token");
	case EMAIL_CLASH_CONFUSABLE:
		return req_refuse(rc, 409, EMAIL_SLUG_CONFUSABLE, NULL, EMAIL_DETAIL_CONFUSABLE);
	default:
		return 0;
	}
}

static int
user_inserted(struct db_job *job, const PGresult *res, void *arg)
{
	FB_UNUSED(job);
	if (PQntuples(res) != 1)
		return req_refuse(req_of(arg), 409, "conflict", NULL,
		    "an account with this email exists; sign in and enroll with your token");
	return 0;
}

/* After the locks: check again, then write everything. */
static int
enroll_checked(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct enroll *en = rc->h;
	const char *invitation, *program;
	char version[24];
	json_t *after;

	if (enroll_verdict(rc, res) != 0)
		return -1;
	invitation = PQgetvalue(res, 0, CK_INVITATION);
	program = PQgetvalue(res, 0, CK_PROGRAM);
	snprintf(version, sizeof(version), "%lld", en->version);

	if (en->new_account) {
		db_job_add(job, email_pending_step, EMAIL_SQL_PENDING);
		db_job_add(job, user_inserted, SQL_INSERT_USER, en->user_id, en->email,
		    en->hash, en->display_name, en->addr->norm, en->addr->skel);
		after = json_pack("{s:s, s:s, s:s, s:s}", "id", en->user_id, "email", en->email,
		    "display_name", en->display_name, "role", "artist");
		audit_add(job, &(struct audit_entry){
			.actor_id = en->user_id, .actor_role = "artist",
			.action = "user.create", .entity_type = "user",
			.entity_id = en->user_id, .after = after,
			.request_id = rc->log.request_id,
		});
		json_decref(after);
	}
	db_job_add(job, NULL, SQL_USE_INVITATION, invitation);
	db_job_add(job, NULL, SQL_TAKE_SEAT, program);
	db_job_add(job, NULL, SQL_INSERT_ENROLLMENT, en->id, program, en->user_id,
	    invitation, version);
	db_job_add(job, NULL, SQL_ACCEPT, en->id, program, version);
	after = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "id", en->id,
	    "program_id", program, "artist_id", en->user_id, "invitation_id", invitation,
	    "terms_version", (json_int_t)en->version, "status", "active");
	audit_add(job, &(struct audit_entry){
		.actor_id = en->user_id, .actor_role = "artist",
		.action = "enrollment.create", .entity_type = "enrollment",
		.entity_id = en->id, .after = after, .request_id = rc->log.request_id,
	});
	outbox_add(job, "enrollment.created", program, "enrollment", en->id, after,
	    rc->log.request_id);
	json_decref(after);
	en->result = db_job_add(job, NULL, SQL_GET, en->id, "true", NULL);
	return 0;
}

static void
enrolled(struct reqctx *rc, struct db_job *job, enum db_status st)
{
	struct enroll *en = rc->h;
	const char *constraint = db_job_constraint(job);

	if (st == DB_SQL_ERROR && strcmp(constraint, "enrollments_active") == 0) {
		reply_problem(rc, 409, "already-enrolled", "you are already enrolled in this program");
		return;
	}
	/* a race lost to a creation the checks above could not see yet */
	if (st == DB_SQL_ERROR && strcmp(constraint, "users_email_skeleton") == 0) {
		reply_problem(rc, 409, EMAIL_SLUG_CONFUSABLE, "%s", EMAIL_DETAIL_CONFUSABLE);
		return;
	}
	if (st == DB_SQL_ERROR && (strcmp(constraint, "users_email_key") == 0 ||
	    strcmp(constraint, "users_email_norm") == 0)) {
		reply_problem(rc, 409, "conflict",
		    "an account with this email exists; sign in and enroll with your token");
		return;
	}
	if (st != DB_OK) {
		reply_db_failure(rc, job, st);
		return;
	}
	reply_json(rc, 201, repr_enrollment(db_job_result(job, en->result), 0));
}

static void
enroll_commit(struct reqctx *rc)
{
	struct enroll *en = rc->h;
	struct db_job *job = db_job_new(DB_TX | DB_RETRY);

	db_job_add(job, NULL, SQL_LOCK, en->code_hash);
	db_job_add(job, enroll_checked, SQL_CHECK, en->code_hash,
	    en->new_account ? NULL : en->user_id, en->new_account ? en->email : NULL,
	    en->new_account ? en->addr->norm : NULL, en->new_account ? en->addr->skel : NULL);
	req_db_any(rc, job, enrolled);
}

static void
hash_work(struct reqctx *rc)
{
	struct enroll *en = rc->h;

	en->hashed = crypto_password_hash(en->password, en->hash) == 0;
	sodium_memzero(en->password, strlen(en->password));
}

static void
hash_done(struct reqctx *rc)
{
	struct enroll *en = rc->h;

	if (!en->hashed) {
		reply_problem(rc, 500, "internal", "the password could not be hashed");
		return;
	}
	enroll_commit(rc);
}

static void
prechecked(struct reqctx *rc, struct db_job *job)
{
	FB_UNUSED(job);
	req_offload(rc, hash_work, hash_done);
}

void
h_enrollment_create(struct reqctx *rc)
{
	const json_t *b = rc->body;
	static const char *const account_fields[] = { "email", "password", "display_name" };
	json_t *errors = req_body_errors(rc);
	struct enroll *en;
	struct email_identity *addr;
	const char *code;
	struct db_job *job;
	fb_err why;
	size_t i;

	for (i = 0; i < FB_ARRAY_LEN(account_fields); i++) {
		bool given = json_object_get(b, account_fields[i]) != NULL;

		if (rc->authed && given)
			jv_error(errors, account_fields[i],
			    "must be left out when signed in: the token says who you are");
		else if (!rc->authed && !given)
			jv_error(errors, account_fields[i],
			    "is required to create your account (or sign in first)");
	}
	addr = arena_alloc(rc->arena, sizeof(*addr));
	if (!rc->authed && jv_str(b, "email") && !email_identify(jv_str(b, "email"), addr, why))
		jv_error(errors, "email", why);
	if (json_array_size(errors) > 0) {
		reply_invalid(rc, errors);
		return;
	}
	json_decref(errors);

	en = arena_alloc(rc->arena, sizeof(*en));
	memset(en, 0, sizeof(*en));
	rc->h = en;
	code = jv_str(b, "invitation_code");
	crypto_sha256_hex(code, strlen(code), en->code_hash);
	crypto_uuid_new(en->id);
	en->version = jv_int(b, "accept_terms_version", 0);
	en->new_account = !rc->authed;
	if (!en->new_account) {
		snprintf(en->user_id, sizeof(en->user_id), "%.36s", rc->user.id);
		en->email = rc->user.email;
		enroll_commit(rc);
		return;
	}
	crypto_uuid_new(en->user_id);
	en->addr = addr;
	en->email = addr->addr;
	en->password = arena_strdup(rc->arena, jv_str(b, "password"));
	en->display_name = arena_strdup(rc->arena, jv_str(b, "display_name"));
	job = db_job_new(0);
	db_job_add(job, precheck_step, SQL_CHECK, en->code_hash, NULL, en->email,
	    addr->norm, addr->skel);
	req_db(rc, job, prechecked);
}

/* ---- GET /v1/enrollments/:id ---- */

static int
enrollment_found(struct db_job *job, const PGresult *res, void *arg)
{
	FB_UNUSED(job);
	if (PQntuples(res) != 1)
		return req_refuse(req_of(arg), 404, "not-found", NULL, "no such enrollment");
	return 0;
}

static void
enrollment_read(struct reqctx *rc, struct db_job *job)
{
	json_t *body;

	body = repr_enrollment(db_job_result(job, 0), 0);
	json_object_set_new(body, "acceptances",
	    repr_json(db_job_result(job, 1), 0, ACCEPTANCES_ARRAY));
	reply_json_etag(rc, 200, body);
}

void
h_enrollment_get(struct reqctx *rc)
{
	const char *id = req_param_uuid(rc, 0);
	struct db_job *job;

	if (id == NULL) {
		reply_problem(rc, 404, "not-found", "no such enrollment");
		return;
	}
	job = db_job_new(0);
	db_job_add(job, enrollment_found, SQL_GET, id, req_scope_all(rc), req_scope_owner(rc));
	db_job_add(job, NULL, SQL_ACCEPTANCES, id);
	req_db(rc, job, enrollment_read);
}

/* ---- POST /v1/enrollments/:id/accept-terms and /withdraw ---- */

static int
enrollment_changeable(struct reqctx *rc, const PGresult *res)
{
	if (PQntuples(res) != 1)
		return req_refuse(rc, 404, "not-found", NULL, "no such enrollment");
	if (strcmp(PQgetvalue(res, 0, LE_STATUS), "active") != 0)
		return req_refuse(rc, 409, "conflict", NULL, "the enrollment has been withdrawn");
	return 0;
}

static int
accept_locked(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct enroll *en = rc->h;
	long long current, latest;
	char version[24];
	json_t *before, *after;

	if (enrollment_changeable(rc, res) != 0)
		return -1;
	current = strtoll(PQgetvalue(res, 0, LE_TERMS), NULL, 10);
	latest = strtoll(PQgetvalue(res, 0, LE_TERMS_LATEST), NULL, 10);
	if (en->version != latest)
		return req_refuse(rc, 409, "terms-outdated",
		    json_pack("{s:I}", "latest_terms_version", (json_int_t)latest),
		    "version %lld of the terms is the latest; read and accept it", latest);
	if (en->version != current) {
		snprintf(version, sizeof(version), "%lld", en->version);
		db_job_add(job, NULL, SQL_UPDATE_TERMS, en->id, version);
		db_job_add(job, NULL, SQL_ACCEPT, en->id, PQgetvalue(res, 0, LE_PROGRAM), version);
		before = json_pack("{s:I}", "terms_version", (json_int_t)current);
		after = json_pack("{s:I}", "terms_version", (json_int_t)en->version);
		audit_add(job, &(struct audit_entry){
			.actor_id = req_actor_id(rc), .actor_role = req_actor_role(rc),
			.action = "enrollment.accept_terms", .entity_type = "enrollment",
			.entity_id = en->id, .before = before, .after = after,
			.request_id = rc->log.request_id,
		});
		json_decref(before);
		json_decref(after);
	}
	en->result = db_job_add(job, NULL, SQL_GET, en->id, "true", NULL);
	return 0;
}

static int
withdraw_locked(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct enroll *en = rc->h;
	const char *reason = jv_str(rc->body, "reason");
	json_t *after;

	if (enrollment_changeable(rc, res) != 0)
		return -1;
	db_job_add(job, NULL, SQL_WITHDRAW, en->id, reason);
	db_job_add(job, NULL, SQL_FREE_SEAT, PQgetvalue(res, 0, LE_PROGRAM));
	after = json_pack("{s:s, s:s?}", "status", "withdrawn", "reason", reason);
	audit_add(job, &(struct audit_entry){
		.actor_id = req_actor_id(rc), .actor_role = req_actor_role(rc),
		.action = "enrollment.withdraw", .entity_type = "enrollment",
		.entity_id = en->id, .after = after, .request_id = rc->log.request_id,
	});
	json_decref(after);
	en->result = db_job_add(job, NULL, SQL_GET, en->id, "true", NULL);
	return 0;
}

static void
enrollment_changed(struct reqctx *rc, struct db_job *job)
{
	struct enroll *en = rc->h;

	reply_json(rc, 200, repr_enrollment(db_job_result(job, en->result), 0));
}

static void
enrollment_change(struct reqctx *rc, db_step_fn *locked)
{
	const char *id = req_param_uuid(rc, 0);
	struct enroll *en;
	struct db_job *job;

	if (id == NULL) {
		reply_problem(rc, 404, "not-found", "no such enrollment");
		return;
	}
	en = arena_alloc(rc->arena, sizeof(*en));
	memset(en, 0, sizeof(*en));
	snprintf(en->id, sizeof(en->id), "%.36s", id);
	en->version = jv_int(rc->body, "version", 0);
	rc->h = en;
	job = db_job_new(DB_TX);
	db_job_add(job, locked, SQL_LOCK_ENROLLMENT, id, req_scope_all(rc),
	    req_scope_owner(rc));
	req_db(rc, job, enrollment_changed);
}

void
h_enrollment_accept_terms(struct reqctx *rc)
{
	enrollment_change(rc, accept_locked);
}

void
h_enrollment_withdraw(struct reqctx *rc)
{
	enrollment_change(rc, withdraw_locked);
}

/* ---- GET /v1/programs/:id/enrollments, GET /v1/me/enrollments ---- */

static void
enrollments_listed(struct reqctx *rc, struct db_job *job)
{
	struct enroll *en = rc->h;

	reply_list(rc, job, en->result, en->page.limit, REPR_ENROLLMENT_SEQ, repr_enrollment);
}

static void
enrollment_list(struct reqctx *rc, const char *program, const char *artist)
{
	const char *status = req_query(rc, "status");
	struct enroll *en = arena_alloc(rc->arena, sizeof(*en));
	struct db_job *job;

	if (!list_begin(rc, list_query, list_filters, NULL, &en->page))
		return;
	rc->h = en;
	job = db_job_new(0);
	if (program != NULL) {
		db_job_add(job, program_step_found, SQL_PROGRAM_EXISTS, program);
		en->result = db_job_add(job, NULL, SQL_LIST_PROGRAM, program, status,
		    en->page.cursor, en->page.fetch);
	} else {
		en->result = db_job_add(job, NULL, SQL_LIST_ARTIST, artist, status,
		    en->page.cursor, en->page.fetch);
	}
	req_db(rc, job, enrollments_listed);
}

void
h_program_enrollments(struct reqctx *rc)
{
	const char *program = req_param_uuid(rc, 0);

	if (program == NULL) {
		reply_problem(rc, 404, "not-found", "no such program");
		return;
	}
	enrollment_list(rc, program, NULL);
}

void
h_my_enrollments(struct reqctx *rc)
{
	enrollment_list(rc, NULL, rc->user.id);
}
