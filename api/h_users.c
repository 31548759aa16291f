/*
 * h_users.c: the signed-in user, and accounts created (and listed) by an
 * admin.
 */
#include "fb.h"

#include "audit.h"
#include "crypto.h"
#include "email.h"
#include "handlers.h"
#include "jsonv.h"
#include "list.h"
#include "repr.h"
#include "valid.h"
#include "vocab.h"


static const struct jv_field user_fields[] = {
	{ "email",        JV_STRING, JV_REQUIRED | JV_ONELINE, 3, 254, NULL, NULL },
	{ "password",     JV_STRING, JV_REQUIRED, 8, 256, NULL, NULL },
	{ "display_name", JV_STRING, JV_REQUIRED | JV_ONELINE, 1, 100, NULL, NULL },
	{ "role",         JV_STRING, JV_REQUIRED, 0, 0, vocab_roles, NULL },
};
const struct jv_schema user_create_body = JV_SCHEMA(user_fields);

/* Does nothing on a clash with any unique address form (lib/email.h). */
static const char SQL_INSERT_USER[] =
	"INSERT INTO users (id, email, password_hash, display_name, role, email_norm,"
	" email_skeleton) VALUES ($1, lower($2), $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING"
	" RETURNING email, rfc3339(created_at)";
enum { IU_EMAIL, IU_CREATED_AT };

static const char SQL_LIST[] =
	"SELECT u.id, u.email, u.display_name, u.role, rfc3339(u.created_at),"
	"       rfc3339(u.disabled_at), u.seq FROM users u"
	" WHERE ($1::text IS NULL OR u.role = $1) AND ($2::bigint IS NULL OR u.seq < $2)"
	" ORDER BY u.seq DESC LIMIT $3";
enum { UL_ID, UL_EMAIL, UL_DISPLAY_NAME, UL_ROLE, UL_CREATED_AT, UL_DISABLED_AT, UL_SEQ };

static const char *const list_query[] = { "role", "limit", "cursor", NULL };
static const struct list_filter list_filters[] = {
	{ "role", vocab_roles, "must be admin, staff, finance or artist" },
	{ NULL, NULL, NULL },
};

struct newuser {
	char id[CRYPTO_UUID_LEN];
	char *email, *password, *display_name, *role;
	struct email_identity addr;
	char hash[CRYPTO_PWHASH_LEN];
	bool hashed;
};

void
h_me(struct reqctx *rc)
{
	reply_json_etag(rc, 200, user_json(rc->user.id, rc->user.email,
	    rc->user.display_name, rc->user.role, rc->user.created_at));
}

/* 409 for the address of an account made before its identity was (0008). */
static int
pending_step(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct newuser *u = rc->h;

	FB_UNUSED(job);
	switch (email_clash_rows(&u->addr, res, 0)) {
	case EMAIL_CLASH_TAKEN:
		return req_refuse(rc, 409, "conflict", NULL, "a user with this email already exists");
	case EMAIL_CLASH_CONFUSABLE:
		return req_refuse(rc, 409, EMAIL_SLUG_CONFUSABLE, NULL, EMAIL_DETAIL_CONFUSABLE);
	default:
		return 0;
	}
}

static int
clash_step(struct db_job *job, const PGresult *res, void *arg)
{
	FB_UNUSED(job);
	if (PQntuples(res) == 1 && PQgetvalue(res, 0, EMAIL_CLASH_COL_TAKEN)[0] == 'f')
		return req_refuse(req_of(arg), 409, EMAIL_SLUG_CONFUSABLE, NULL,
		    EMAIL_DETAIL_CONFUSABLE);
	return req_refuse(req_of(arg), 409, "conflict", NULL,
	    "a user with this email already exists");
}

/* The address (or one like it) was taken: ask which, then roll back. */
static int
insert_step(struct db_job *job, const PGresult *res, void *arg)
{
	struct newuser *u = req_of(arg)->h;

	if (PQntuples(res) == 1)
		return 0;
	db_job_add(job, clash_step, EMAIL_SQL_CLASH, u->addr.norm, u->addr.skel, u->email);
	return 0;
}

static void
user_created(struct reqctx *rc, struct db_job *job)
{
	struct newuser *u = rc->h;
	const PGresult *r;

	r = db_job_result(job, 1);
	reply_json(rc, 201, user_json(u->id, PQgetvalue(r, 0, IU_EMAIL), u->display_name,
	    u->role, PQgetvalue(r, 0, IU_CREATED_AT)));
}

static void
hash_work(struct reqctx *rc)
{
	struct newuser *u = rc->h;

	u->hashed = crypto_password_hash(u->password, u->hash) == 0;
	sodium_memzero(u->password, strlen(u->password));
}

static void
hash_done(struct reqctx *rc)
{
	struct newuser *u = rc->h;
	struct db_job *job;
	json_t *after;

	if (!u->hashed) {
		reply_problem(rc, 500, "internal", "the password could not be hashed");
		return;
	}
	job = db_job_new(DB_TX);
	db_job_add(job, pending_step, EMAIL_SQL_PENDING);
	db_job_add(job, insert_step, SQL_INSERT_USER, u->id, u->email, u->hash,
	    u->display_name, u->role, u->addr.norm, u->addr.skel);
	after = json_pack("{s:s, s:s, s:s, s:s}", "id", u->id, "email", u->email,
	    "display_name", u->display_name, "role", u->role);
	audit_add(job, &(struct audit_entry){
		.actor_id = req_actor_id(rc), .actor_role = req_actor_role(rc),
		.action = "user.create", .entity_type = "user", .entity_id = u->id,
		.after = after, .request_id = rc->log.request_id,
	});
	json_decref(after);
	req_db(rc, job, user_created);
}

void
h_user_create(struct reqctx *rc)
{
	json_t *errors = req_body_errors(rc);
	struct newuser *u = arena_alloc(rc->arena, sizeof(*u));
	fb_err why;

	memset(u, 0, sizeof(*u));
	if (json_is_string(json_object_get(rc->body, "email")) &&
	    !email_identify(jv_str(rc->body, "email"), &u->addr, why))
		jv_error(errors, "email", why);
	if (json_array_size(errors) > 0) {
		reply_invalid(rc, errors);
		return;
	}
	json_decref(errors);
	crypto_uuid_new(u->id);
	u->email = u->addr.addr;
	u->password = arena_strdup(rc->arena, jv_str(rc->body, "password"));
	u->display_name = arena_strdup(rc->arena, jv_str(rc->body, "display_name"));
	u->role = arena_strdup(rc->arena, jv_str(rc->body, "role"));
	rc->h = u;
	req_offload(rc, hash_work, hash_done);
}

/* ---- GET /v1/users ---- */

static json_t *
user_row(const PGresult *r, int row)
{
	json_t *u = user_json(PQgetvalue(r, row, UL_ID), PQgetvalue(r, row, UL_EMAIL),
	    PQgetvalue(r, row, UL_DISPLAY_NAME), PQgetvalue(r, row, UL_ROLE),
	    PQgetvalue(r, row, UL_CREATED_AT));

	json_object_set_new(u, "disabled_at", repr_str(r, row, UL_DISABLED_AT));
	return u;
}

void
h_user_list(struct reqctx *rc)
{
	struct list_page *page = arena_alloc(rc->arena, sizeof(*page));
	struct db_job *job;

	if (!list_begin(rc, list_query, list_filters, NULL, page))
		return;
	job = db_job_new(0);
	db_job_add(job, NULL, SQL_LIST, req_query(rc, "role"), page->cursor, page->fetch);
	list_submit(rc, job, page, 0, UL_SEQ, user_row);
}
