/*
 * idem.c: preparing, claiming, replaying and storing Idempotency-Key
 * requests.
 */
#include "fb.h"

#include <event2/buffer.h>
#include <event2/http.h>

#include "crypto.h"
#include "idem.h"
#include "jsonv.h"
#include "loop.h"

#define IDEM_LOCK_S "60"

/*
 * The claim, as a guard: the key is new, or an in-flight claim of the same
 * request whose lock ran out (its server died after committing it), or
 * older than 24 hours; else idem_taken() fails the guard (FB409, migration
 * 0012). A claim not yet committed by another request makes this wait for
 * it, then find the key taken.
 */
static const char SQL_CLAIM_GUARD[] =
	"WITH claim AS ("
	"  INSERT INTO idempotency_keys AS k (user_id, key, request_hash, claim, locked_until)"
	"  VALUES ($1, $2, $3, $4, now() + interval '" IDEM_LOCK_S " seconds')"
	"  ON CONFLICT (user_id, key) DO UPDATE SET request_hash = EXCLUDED.request_hash,"
	"     claim = EXCLUDED.claim, state = 'in_flight', status = NULL, content_type = NULL,"
	"     body = NULL, etag = NULL, created_at = now(), locked_until = EXCLUDED.locked_until"
	"   WHERE (k.state = 'in_flight' AND k.locked_until < now()"
	"          AND k.request_hash = EXCLUDED.request_hash)"
	"      OR k.created_at < now() - interval '24 hours'"
	"  RETURNING 1)"
	" SELECT CASE WHEN EXISTS (SELECT 1 FROM claim) THEN true ELSE idem_taken() END";

/* What the key holds, for a request that found it taken. */
static const char SQL_TAKEN[] =
	"SELECT state, request_hash, status, content_type, body, etag FROM idempotency_keys"
	" WHERE user_id = $1 AND key = $2";
enum { TAKEN_STATE, TAKEN_HASH, TAKEN_STATUS, TAKEN_CTYPE, TAKEN_BODY, TAKEN_ETAG };

/*
 * The reply, under this request's claim: inserted when the claim rolled back
 * with the handler's transaction (or was never sent), and never over a key
 * another request has claimed since.
 */
static const char SQL_STORE[] =
	"INSERT INTO idempotency_keys AS k (user_id, key, request_hash, claim, state, status,"
	"   content_type, body, etag, locked_until)"
	" VALUES ($1, $2, $3, $4, 'done', $5, $6, $7, $8, now())"
	" ON CONFLICT (user_id, key) DO UPDATE SET state = 'done', status = EXCLUDED.status,"
	"   content_type = EXCLUDED.content_type, body = EXCLUDED.body, etag = EXCLUDED.etag"
	" WHERE k.claim = EXCLUDED.claim";

static const char SQL_FREE[] =
	"DELETE FROM idempotency_keys"
	" WHERE user_id = $1 AND key = $2 AND claim = $3 AND state = 'in_flight'";

static reply_stage_fn idem_store;

bool
idem_key_valid(const char *key)
{
	size_t n = strlen(key), i;

	if (n == 0 || n > IDEM_KEY_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (key[i] < 0x21 || key[i] > 0x7e)
			return false;
	return true;
}

bool
idem_prepare(struct reqctx *rc, const char *key)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(rc->req);
	char *canon, *asked;

	if (!idem_key_valid(key)) {
		json_t *errors = json_array();

		jv_error(errors, "Idempotency-Key",
		    "must be 1 to 200 printable ASCII characters without spaces");
		reply_invalid(rc, errors);
		return false;
	}
	/* what was asked: the path and the body (canonical when it is JSON) */
	canon = rc->body ? json_dumps(rc->body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	asked = arena_printf(rc->arena, "POST %s\n%s", rc->path, canon ? canon :
	    arena_strndup(rc->arena, (const char *)evbuffer_pullup(in, -1),
	    evbuffer_get_length(in)));
	free(canon);
	crypto_sha256_hex(asked, strlen(asked), rc->idem.hash);
	crypto_uuid_new(rc->idem.token);
	rc->idem.key = arena_strdup(rc->arena, key);
	rc->idem.pending = true;
	rc->stage[REPLY_STORE] = idem_store;
	return true;
}

void
idem_claim_guard(struct reqctx *rc, struct db_job *job)
{
	const char *p[] = { rc->user.id, rc->idem.key, rc->idem.hash, rc->idem.token };

	if (!rc->idem.pending)
		return;
	rc->idem.pending = false;
	db_job_add_guard(job, SQL_CLAIM_GUARD, FB_ARRAY_LEN(p), p);
}

bool
idem_claim_refused(struct db_job *job)
{
	return db_job_guard(job) == DB_GUARD_FAILED && strcmp(db_job_sqlstate(job), "FB409") == 0;
}

static void
taken_read(struct db_job *job, enum db_status st, void *arg)
{
	struct reqctx *rc = arg;
	const PGresult *r = db_job_result(job, 0);

	if (st != DB_OK) {
		reply_db_failure(rc, job, st);
	} else if (PQntuples(r) == 0 ||
	    strcmp(PQgetvalue(r, 0, TAKEN_STATE), "in_flight") == 0) {
		/* none: the request holding it failed and freed it just now */
		reply_problem(rc, 409, "idempotency-in-flight",
		    "a request with this Idempotency-Key is still being processed");
	} else if (strcmp(PQgetvalue(r, 0, TAKEN_HASH), rc->idem.hash) != 0) {
		json_t *errors = json_array();

		jv_error(errors, "Idempotency-Key", "was used before with a different request");
		reply_problem_ext(rc, 422, "validation", json_pack("{s:o}", "errors", errors),
		    "this Idempotency-Key was used before with a different request");
	} else {
		req_set_header(rc, "Idempotent-Replayed", "true");
		if (!PQgetisnull(r, 0, TAKEN_ETAG))
			req_set_header(rc, "ETag", PQgetvalue(r, 0, TAKEN_ETAG));
		reply_raw(rc, atoi(PQgetvalue(r, 0, TAKEN_STATUS)),
		    PQgetvalue(r, 0, TAKEN_CTYPE), PQgetvalue(r, 0, TAKEN_BODY));
	}
}

void
idem_taken(struct reqctx *rc)
{
	struct db_job *job;
	enum db_status st = DB_UNAVAILABLE;

	rc->idem.taken = true;
	rc->h = NULL;     /* the handler's state: it will not be called back */
	evhttp_clear_headers(evhttp_request_get_output_headers(rc->req));
	job = db_job_new(0);
	db_job_add(job, NULL, SQL_TAKEN, rc->user.id, rc->idem.key);
	if (rc->loop->db != NULL)
		st = db_submit(rc->loop->db, job, taken_read, rc);
	else
		db_job_free(job);
	if (st != DB_OK)
		reply_db_failure(rc, NULL, st);
}

struct pending_reply {
	struct reqctx *rc;
	int status;
	struct evbuffer *body;
};

static void
stored(struct db_job *job, enum db_status st, void *arg)
{
	struct pending_reply *p = arg;

	if (st != DB_OK)
		log_warn(&p->rc->log, "idempotency: storing the reply failed: %s %s",
		    db_status_str(st), db_job_errmsg(job));
	reply_resume(p->rc, REPLY_STORE, p->status, p->body);
	evbuffer_free(p->body);
	free(p);
}

/*
 * The reply stage REPLY_STORE: stores the reply under the key (a 5xx frees
 * it instead) and sends it once that is done, so that a client holding the
 * answer finds it stored.
 */
static bool
idem_store(struct reqctx *rc, int status, struct evbuffer *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(rc->req);
	struct pending_reply *p;
	const char *ctype;
	char code[16];
	struct db_job *job;
	enum db_status st;

	if (rc->idem.key == NULL || rc->idem.taken || rc->loop->db == NULL)
		return false;
	job = db_job_new(0);
	if (status >= 500) {
		db_job_add(job, NULL, SQL_FREE, rc->user.id, rc->idem.key, rc->idem.token);
	} else {
		ctype = evhttp_find_header(h, "Content-Type");
		snprintf(code, sizeof(code), "%d", status);
		db_job_add(job, NULL, SQL_STORE, rc->user.id, rc->idem.key, rc->idem.hash,
		    rc->idem.token, code, ctype ? ctype : "", body ? arena_strndup(rc->arena,
		    (const char *)evbuffer_pullup(body, -1), evbuffer_get_length(body)) : "",
		    evhttp_find_header(h, "ETag"));
	}
	p = fb_malloc(sizeof(*p));
	p->rc = rc;
	p->status = status;
	p->body = evbuffer_new();
	if (body != NULL)
		evbuffer_add_buffer(p->body, body);
	st = db_submit(rc->loop->db, job, stored, p);
	if (st != DB_OK) {
		/* a claim stays in flight until its lock runs out; answer anyway */
		log_warn(&rc->log, "idempotency: cannot store the reply: %s", db_status_str(st));
		if (body != NULL)
			evbuffer_add_buffer(body, p->body);
		evbuffer_free(p->body);
		free(p);
		return false;
	}
	return true;
}

const char *
idem_effect_key(struct reqctx *rc)
{
	if (rc->idem.key == NULL)
		return NULL;
	/* the request is part of it: a key reused after 24 h is a new effect */
	return arena_printf(rc->arena, "idem:%s:%s:%.16s", rc->user.id, rc->idem.key,
	    rc->idem.hash);
}
