/*
 * h_users.c: the signed-in user, and accounts created by an admin.
 */
#include "fb.h"

#include "audit.h"
#include "crypto.h"
#include "handlers.h"
#include "jsonv.h"
#include "valid.h"

static const char *const role_names[] = { "admin", "staff", "finance", "artist", NULL };

static const struct jv_field user_fields[] = {
	{ "email",        JV_STRING, JV_REQUIRED | JV_ONELINE, 3, 254, NULL },
	{ "password",     JV_STRING, JV_REQUIRED, 8, 256, NULL },
	{ "display_name", JV_STRING, JV_REQUIRED | JV_ONELINE, 1, 100, NULL },
	{ "role",         JV_STRING, JV_REQUIRED, 0, 0, role_names },
};

static const char SQL_INSERT_USER[] =
	"INSERT INTO users (id, email, password_hash, display_name, role)"
	" VALUES ($1, $2, $3, $4, $5) ON CONFLICT (email) DO NOTHING"
	" RETURNING rfc3339(created_at)";

struct newuser {
	char id[CRYPTO_UUID_LEN];
	char *email, *password, *display_name, *role;
	char hash[CRYPTO_PWHASH_LEN];
	bool hashed;
};

void
h_me(struct reqctx *rc)
{
	reply_json_etag(rc, 200, user_json(rc->user.id, rc->user.email,
	    rc->user.display_name, rc->user.role, rc->user.created_at));
}

/* Aborts the transaction (DB_ABORTED) when the address was already taken. */
static int
insert_step(struct db_job *job, const PGresult *res, void *arg)
{
	FB_UNUSED(job);
	FB_UNUSED(arg);
	return PQntuples(res) == 1 ? 0 : -1;
}

static void
user_created(struct reqctx *rc, struct db_job *job, enum db_status st)
{
	struct newuser *u = rc->h;

	if (st == DB_ABORTED) {
		reply_problem(rc, 409, "conflict", "a user with this email already exists");
		return;
	}
	if (st != DB_OK) {
		reply_db_failure(rc, job, st);
		return;
	}
	reply_json(rc, 201, user_json(u->id, u->email, u->display_name, u->role,
	    PQgetvalue(db_job_result(job, 0), 0, 0)));
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
	db_job_add(job, insert_step, SQL_INSERT_USER, 5, u->id, u->email, u->hash,
	    u->display_name, u->role);
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
	json_t *errors = json_array();
	struct newuser *u;

	jv_check(rc->body, user_fields, FB_ARRAY_LEN(user_fields), "", errors);
	if (json_is_string(json_object_get(rc->body, "email")) &&
	    !valid_email(jv_str(rc->body, "email")))
		jv_error(errors, "email", "is not an email address");
	if (json_array_size(errors) > 0) {
		reply_invalid(rc, errors);
		return;
	}
	json_decref(errors);
	u = arena_alloc(rc->arena, sizeof(*u));
	memset(u, 0, sizeof(*u));
	crypto_uuid_new(u->id);
	u->email = arena_strdup(rc->arena, jv_str(rc->body, "email"));
	valid_lower(u->email);
	u->password = arena_strdup(rc->arena, jv_str(rc->body, "password"));
	u->display_name = arena_strdup(rc->arena, jv_str(rc->body, "display_name"));
	u->role = arena_strdup(rc->arena, jv_str(rc->body, "role"));
	rc->h = u;
	req_offload(rc, hash_work, hash_done);
}
