/*
 * h_invitations.c: invitation codes into a program.
 *
 * A code is 256 random bits, returned once and stored only as its SHA-256,
 * like session tokens: a stolen database does not let anyone enroll.
 */
#include "fb.h"

#include <time.h>

#include "audit.h"
#include "crypto.h"
#include "email.h"
#include "handlers.h"
#include "jsonv.h"
#include "list.h"
#include "program.h"
#include "repr.h"
#include "valid.h"

#define INVITATION_MAX_DAYS 366

static const struct jv_field invitation_fields[] = {
	{ "email",      JV_STRING,  JV_NULLABLE | JV_ONELINE, 3, 254, NULL, NULL },
	{ "max_uses",   JV_INTEGER, JV_REQUIRED, 1, 10000, NULL, NULL },
	{ "expires_at", JV_STRING,  JV_REQUIRED, 1, 64, NULL, NULL },
};
const struct jv_schema invitation_create_body = JV_SCHEMA(invitation_fields);

static const char *const list_query[] = { "limit", "cursor", NULL };

static const char SQL_PROGRAM_OPEN_FOR_INVITES[] =
	"SELECT status FROM programs WHERE id = $1 FOR SHARE";

static const char SQL_INSERT[] =
	"INSERT INTO invitations AS i (id, program_id, code_hash, email, max_uses,"
	"   expires_at, created_by)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING " REPR_INVITATION_COLS;

static const char SQL_PROGRAM_EXISTS[] =
	"SELECT 1 FROM programs WHERE id = $1";

static const char SQL_LIST[] =
	"SELECT " REPR_INVITATION_COLS " FROM invitations i"
	" WHERE i.program_id = $1 AND ($2::bigint IS NULL OR i.seq < $2)"
	" ORDER BY i.seq DESC LIMIT $3";

static const char SQL_LOCK[] =
	"SELECT revoked_at IS NOT NULL FROM invitations WHERE id = $1 FOR UPDATE";
enum { LOCK_REVOKED };

static const char SQL_REVOKE[] =
	"UPDATE invitations AS i SET revoked_at = now() WHERE i.id = $1"
	" RETURNING " REPR_INVITATION_COLS;

struct invite {
	char code[CRYPTO_TOKEN_LEN];
	int result;
	struct list_page page;
};

/* Audits the new or changed invitation (never its code). */
static int
invitation_audit(struct db_job *job, const PGresult *res, void *arg,
    const char *action)
{
	struct reqctx *rc = req_of(arg);
	json_t *after = repr_invitation(res, 0);

	audit_add(job, &(struct audit_entry){
		.actor_id = req_actor_id(rc), .actor_role = req_actor_role(rc),
		.action = action, .entity_type = "invitation",
		.entity_id = PQgetvalue(res, 0, RI_ID), .after = after,
		.request_id = rc->log.request_id,
	});
	json_decref(after);
	return 0;
}

static int
invitation_inserted(struct db_job *job, const PGresult *res, void *arg)
{
	return invitation_audit(job, res, arg, "invitation.create");
}

static int
invitation_updated(struct db_job *job, const PGresult *res, void *arg)
{
	return invitation_audit(job, res, arg, "invitation.revoke");
}

/* ---- POST /v1/programs/:id/invitations ---- */

static void
invitation_created(struct reqctx *rc, struct db_job *job)
{
	struct invite *inv = rc->h;
	json_t *body;

	body = repr_invitation(db_job_result(job, inv->result), 0);
	json_object_set_new(body, "code", json_string(inv->code));
	sodium_memzero(inv->code, sizeof(inv->code));
	req_set_header(rc, "Cache-Control", "no-store");
	reply_json(rc, 201, body);
}

void
h_invitation_create(struct reqctx *rc)
{
	const char *program = req_param_uuid(rc, 0), *expires;
	const json_t *b = rc->body;
	json_t *errors;
	struct invite *inv;
	char id[CRYPTO_UUID_LEN], hash[CRYPTO_HASH_HEX_LEN], *email = NULL;
	struct db_job *job;
	int64_t at;

	if (program == NULL) {
		reply_problem(rc, 404, "not-found", "no such program");
		return;
	}
	errors = req_body_errors(rc);
	if (jv_str(b, "email") != NULL) {
		/* screened like an account's address: an invitation names one */
		struct email_identity ident;
		fb_err why;

		if (!valid_email(jv_str(b, "email")))
			jv_error(errors, "email", "is not an email address");
		else if (!email_identify(jv_str(b, "email"), &ident, why))
			jv_error(errors, "email", why);
		else
			email = arena_strdup(rc->arena, ident.addr);
	}
	expires = jv_str(b, "expires_at");
	if (expires != NULL) {
		int64_t now = (int64_t)time(NULL) * 1000000;

		if (valid_rfc3339_us(expires, &at) != 0)
			jv_error(errors, "expires_at", "must be an RFC 3339 date-time");
		else if (at <= now)
			jv_error(errors, "expires_at", "must be in the future");
		else if (at > now + (int64_t)INVITATION_MAX_DAYS * 86400 * 1000000)
			jv_error(errors, "expires_at", "must be at most 366 days ahead");
	}
	if (json_array_size(errors) > 0) {
		reply_invalid(rc, errors);
		return;
	}
	json_decref(errors);

	inv = arena_alloc(rc->arena, sizeof(*inv));
	crypto_token_new("fbi_", inv->code, sizeof(inv->code));
	crypto_sha256_hex(inv->code, strlen(inv->code), hash);
	crypto_uuid_new(id);
	rc->h = inv;
	job = db_job_new(DB_TX);
	db_job_add(job, program_step_changeable, SQL_PROGRAM_OPEN_FOR_INVITES, program);
	inv->result = db_job_add(job, invitation_inserted, SQL_INSERT, id, program, hash,
	    email, arena_printf(rc->arena, "%lld", jv_int(b, "max_uses", 1)), expires,
	    rc->user.id);
	req_db(rc, job, invitation_created);
}

/* ---- GET /v1/programs/:id/invitations ---- */

static void
invitations_listed(struct reqctx *rc, struct db_job *job)
{
	struct invite *inv = rc->h;

	reply_list(rc, job, 1, inv->page.limit, REPR_INVITATION_SEQ, repr_invitation);
}

void
h_invitation_list(struct reqctx *rc)
{
	const char *program = req_param_uuid(rc, 0);
	struct invite *inv = arena_alloc(rc->arena, sizeof(*inv));
	struct db_job *job;

	if (program == NULL) {
		reply_problem(rc, 404, "not-found", "no such program");
		return;
	}
	if (!list_begin(rc, list_query, NULL, NULL, &inv->page))
		return;
	rc->h = inv;
	job = db_job_new(0);
	db_job_add(job, program_step_found, SQL_PROGRAM_EXISTS, program);
	db_job_add(job, NULL, SQL_LIST, program, inv->page.cursor, inv->page.fetch);
	req_db(rc, job, invitations_listed);
}

/* ---- POST /v1/invitations/:id/revoke ---- */

static int
invitation_locked(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);

	FB_UNUSED(job);
	if (PQntuples(res) != 1)
		return req_refuse(rc, 404, "not-found", NULL, "no such invitation");
	if (PQgetvalue(res, 0, LOCK_REVOKED)[0] == 't')
		return req_refuse(rc, 409, "conflict", NULL,
		    "the invitation has already been revoked");
	return 0;
}

static void
invitation_revoked(struct reqctx *rc, struct db_job *job)
{
	reply_json(rc, 200, repr_invitation(db_job_result(job, 1), 0));
}

void
h_invitation_revoke(struct reqctx *rc)
{
	const char *id = req_param_uuid(rc, 0);
	struct db_job *job;

	if (id == NULL) {
		reply_problem(rc, 404, "not-found", "no such invitation");
		return;
	}
	job = db_job_new(DB_TX);
	db_job_add(job, invitation_locked, SQL_LOCK, id);
	db_job_add(job, invitation_updated, SQL_REVOKE, id);
	req_db(rc, job, invitation_revoked);
}
