/*
 * h_sessions.c: signing in and out.
 *
 * Sign-in is three steps: one query reads the user and the recent failures
 * for the address; Argon2id verification runs on the hashing threads (an
 * unknown address is verified against a dummy hash, so both answers take
 * the same time and say the same thing); a last transaction records the
 * session or the failure. Failures are counted in the database, so the
 * limit holds across server processes.
 *
 * The console signs in with "cookie": true: the token then goes only into
 * an HttpOnly, SameSite=Strict cookie, never into a body page script reads;
 * the session is the same row, with the same lifetime and revocation.
 */
#include "fb.h"

#include "audit.h"
#include "crypto.h"
#include "email.h"
#include "handlers.h"
#include "jsonv.h"
#include "loop.h"
#include "repr.h"
#include "valid.h"

#define LOGIN_MAX_FAILURES 10

struct login {
	char *email, *password;   /* email: the stored address, once found */
	char *key;                /* the normalized address failures count under */
	char *user_id, *hash, *role, *display_name, *created_at;
	char token[CRYPTO_TOKEN_LEN];
	char session_id[CRYPTO_UUID_LEN];
	bool verified;
};

static const struct jv_field login_fields[] = {
	{ "email",    JV_STRING, JV_REQUIRED, 1, 254, NULL, NULL },
	{ "password", JV_STRING, JV_REQUIRED, 1, 1024, NULL, NULL },
	{ "cookie",   JV_BOOLEAN, 0, 0, 0, NULL, NULL },
};
const struct jv_schema session_create_body = JV_SCHEMA(login_fields);

/*
 * $1 the normalized address (lib/email.h), so that the address signs in as
 * it was typed at creation, in any case or compatibility form, and every
 * spelling counts against one limit; $2 the typed address lower-cased, for
 * an account not yet given its normalized form (0008, `fairbeta migrate`).
 */
static const char SQL_LOOKUP[] =
	"SELECT u.id, u.password_hash, u.role, u.display_name, rfc3339(u.created_at),"
	"       f.n, f.retry_after, u.email"
	"  FROM (SELECT count(*) AS n,"
	"               greatest(1, ceil(extract(epoch FROM min(at) + interval '15 minutes' - now())))::int"
	"                 AS retry_after"
	"          FROM login_failures"
	"         WHERE email = $1 AND at > now() - interval '15 minutes') f"
	"  LEFT JOIN LATERAL (SELECT * FROM users"
	"                      WHERE (email_norm = $1 OR (email_norm IS NULL AND email = $2))"
	"                        AND disabled_at IS NULL"
	"                      ORDER BY email_norm IS NULL LIMIT 1) u ON true";
enum {
	LU_USER, LU_HASH, LU_ROLE, LU_DISPLAY_NAME, LU_CREATED_AT, LU_FAILURES, LU_RETRY_AFTER,
	LU_EMAIL,
};

static const char SQL_FAILURE[] =
	"WITH old AS (DELETE FROM login_failures"
	"              WHERE email = $1 AND at < now() - interval '1 day')"
	" INSERT INTO login_failures (email) VALUES ($1)";

static const char SQL_SESSION[] =
	"INSERT INTO sessions (id, user_id, token_hash, expires_at)"
	" VALUES ($1, $2, $3, now() + make_interval(secs => $4::int))"
	" RETURNING rfc3339(expires_at)";
enum { SE_EXPIRES_AT };

static const char SQL_CLEAR_FAILURES[] =
	"DELETE FROM login_failures WHERE email = $1";

static const char SQL_REVOKE[] =
	"UPDATE sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL";

static void
login_unauthorized(struct reqctx *rc, struct db_job *job)
{
	FB_UNUSED(job);
	reply_problem(rc, 401, "unauthorized", "the email or password is wrong");
}

static void
session_created(struct reqctx *rc, struct db_job *job)
{
	struct login *l = rc->h;
	json_t *body;

	body = json_pack("{s:s, s:o}",
	    "expires_at", PQgetvalue(db_job_result(job, 0), 0, SE_EXPIRES_AT),
	    "user", user_json(l->user_id, l->email, l->display_name, l->role,
	    l->created_at));
	if (json_is_true(json_object_get(rc->body, "cookie")))
		req_set_session_cookie(rc, l->token, rc->loop->srv->cfg->session_ttl_s);
	else
		json_object_set_new(body, "token", json_string(l->token));
	sodium_memzero(l->token, sizeof(l->token));
	req_set_header(rc, "Cache-Control", "no-store");
	reply_json(rc, 201, body);
}

static void
verify_work(struct reqctx *rc)
{
	struct login *l = rc->h;
	const char *hash = l->hash ? l->hash : rc->loop->srv->dummy_hash;

	l->verified = crypto_password_verify(hash, l->password) && l->hash != NULL;
	sodium_memzero(l->password, strlen(l->password));
}

static void
verify_done(struct reqctx *rc)
{
	struct login *l = rc->h;
	char token_hash[CRYPTO_HASH_HEX_LEN], ttl[24];
	struct db_job *job;
	json_t *after;

	if (!l->verified) {
		job = db_job_new(0);
		db_job_add(job, NULL, SQL_FAILURE, l->key);
		log_info(&rc->log, "sign-in failed");
		req_db(rc, job, login_unauthorized);
		return;
	}
	crypto_token_new("fbt_", l->token, sizeof(l->token));
	crypto_sha256_hex(l->token, strlen(l->token), token_hash);
	crypto_uuid_new(l->session_id);
	snprintf(ttl, sizeof(ttl), "%ld", rc->loop->srv->cfg->session_ttl_s);
	snprintf(rc->log.actor, sizeof(rc->log.actor), "%s", l->user_id);

	job = db_job_new(DB_TX);
	db_job_add(job, NULL, SQL_SESSION, l->session_id, l->user_id, token_hash, ttl);
	db_job_add(job, NULL, SQL_CLEAR_FAILURES, l->key);
	after = json_pack("{s:s}", "user_id", l->user_id);
	audit_add(job, &(struct audit_entry){
		.actor_id = l->user_id, .actor_role = l->role, .action = "session.create",
		.entity_type = "session", .entity_id = l->session_id, .after = after,
		.request_id = rc->log.request_id,
	});
	json_decref(after);
	req_db(rc, job, session_created);
}

static char *
col(struct reqctx *rc, const PGresult *r, int c)
{
	return PQgetisnull(r, 0, c) ? NULL : arena_strdup(rc->arena, PQgetvalue(r, 0, c));
}

static void
lookup_done(struct reqctx *rc, struct db_job *job)
{
	struct login *l = rc->h;
	const PGresult *r;

	r = db_job_result(job, 0);
	if (atoi(PQgetvalue(r, 0, LU_FAILURES)) >= LOGIN_MAX_FAILURES) {
		req_set_header(rc, "Retry-After", PQgetvalue(r, 0, LU_RETRY_AFTER));
		reply_problem(rc, 429, "too-many-attempts",
		    "too many failed sign-ins for this address; try again later");
		return;
	}
	l->user_id = col(rc, r, LU_USER);
	l->hash = col(rc, r, LU_HASH);
	l->role = col(rc, r, LU_ROLE);
	l->display_name = col(rc, r, LU_DISPLAY_NAME);
	l->created_at = col(rc, r, LU_CREATED_AT);
	if (!PQgetisnull(r, 0, LU_EMAIL))
		l->email = col(rc, r, LU_EMAIL);
	req_offload(rc, verify_work, verify_done);
}

void
h_session_create(struct reqctx *rc)
{
	struct login *l;
	struct db_job *job;

	l = arena_alloc(rc->arena, sizeof(*l));
	memset(l, 0, sizeof(*l));
	l->email = arena_strdup(rc->arena, jv_str(rc->body, "email"));
	valid_lower(l->email);
	l->key = arena_alloc(rc->arena, EMAIL_FORM_MAX);
	if (email_normalize(l->email, l->key, EMAIL_FORM_MAX) != 0)
		l->key = l->email;      /* nothing normalizes to it: an unknown address */
	l->password = arena_strdup(rc->arena, jv_str(rc->body, "password"));
	rc->h = l;

	job = db_job_new(0);
	db_job_add(job, NULL, SQL_LOOKUP, l->key, l->email);
	req_db(rc, job, lookup_done);
}

static void
session_revoked(struct reqctx *rc, struct db_job *job)
{
	FB_UNUSED(job);
	req_forget_session(rc);
	if (rc->by_cookie)
		req_set_session_cookie(rc, NULL, 0);
	reply_empty(rc, 204);
}

void
h_session_delete(struct reqctx *rc)
{
	struct db_job *job = db_job_new(DB_TX);

	db_job_add(job, NULL, SQL_REVOKE, rc->user.session_id);
	audit_add(job, &(struct audit_entry){
		.actor_id = rc->user.id, .actor_role = rc->user.role,
		.action = "session.revoke", .entity_type = "session",
		.entity_id = rc->user.session_id, .request_id = rc->log.request_id,
	});
	req_db(rc, job, session_revoked);
}
