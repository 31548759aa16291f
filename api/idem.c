/*
 * idem.c: claiming, replaying and storing Idempotency-Key requests.
 */
#include "fb.h"

#include <event2/http.h>

#include "crypto.h"
#include "handlers.h"
#include "idem.h"
#include "jsonv.h"
#include "server.h"

#define IDEM_LOCK_S "60"

/*
 * One statement: claim the key (new, or a stale in-flight claim of the same
 * request, or an expired key), else read what is there. No row means a
 * concurrent claim is not visible yet: in flight.
 */
static const char SQL_CLAIM[] =
	"WITH claim AS ("
	"  INSERT INTO idempotency_keys AS k (user_id, key, request_hash, locked_until)"
	"  VALUES ($1, $2, $3, now() + interval '" IDEM_LOCK_S " seconds')"
	"  ON CONFLICT (user_id, key) DO UPDATE SET request_hash = EXCLUDED.request_hash,"
	"     state = 'in_flight', status = NULL, content_type = NULL, body = NULL,"
	"     created_at = now(), locked_until = EXCLUDED.locked_until"
	"   WHERE (k.state = 'in_flight' AND k.locked_until < now()"
	"          AND k.request_hash = EXCLUDED.request_hash)"
	"      OR k.created_at < now() - interval '24 hours'"
	"  RETURNING 1)"
	" SELECT 'claimed', NULL, NULL, NULL, NULL, NULL FROM claim"
	" UNION ALL"
	" SELECT state, request_hash, status, content_type, body, etag FROM idempotency_keys"
	"  WHERE user_id = $1 AND key = $2 AND NOT EXISTS (SELECT 1 FROM claim)";

static const char SQL_STORE[] =
	"UPDATE idempotency_keys SET state = 'done', status = $3, content_type = $4, body = $5,"
	"       etag = $6 WHERE user_id = $1 AND key = $2";

static const char SQL_FREE[] =
	"DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND state = 'in_flight'";

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

static void
claimed(struct reqctx *rc, struct db_job *job, enum db_status st)
{
	const PGresult *r = db_job_result(job, 0);
	const char *state;

	if (st != DB_OK) {
		reply_db_failure(rc, job, st);
		return;
	}
	if (PQntuples(r) == 0) {
		reply_problem(rc, 409, "idempotency-in-flight",
		    "a request with this Idempotency-Key is still being processed");
		return;
	}
	state = PQgetvalue(r, 0, 0);
	if (strcmp(state, "claimed") == 0) {
		rc->idem.claimed = true;
		rc->route->handler(rc);
	} else if (strcmp(PQgetvalue(r, 0, 1), rc->idem.hash) != 0) {
		json_t *errors = json_array();

		jv_error(errors, "Idempotency-Key", "was used before with a different request");
		reply_problem_ext(rc, 422, "validation", json_pack("{s:o}", "errors", errors),
		    "this Idempotency-Key was used before with a different request");
	} else if (strcmp(state, "in_flight") == 0) {
		reply_problem(rc, 409, "idempotency-in-flight",
		    "a request with this Idempotency-Key is still being processed");
	} else {
		req_set_header(rc, "Idempotent-Replayed", "true");
		if (!PQgetisnull(r, 0, 5))
			req_set_header(rc, "ETag", PQgetvalue(r, 0, 5));
		reply_raw(rc, atoi(PQgetvalue(r, 0, 2)), PQgetvalue(r, 0, 3),
		    PQgetvalue(r, 0, 4));
	}
}

void
idem_begin(struct reqctx *rc, const char *key)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(rc->req);
	char *canon = rc->body ? json_dumps(rc->body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	char *asked;
	struct db_job *job;

	if (!idem_key_valid(key)) {
		json_t *errors = json_array();

		free(canon);
		jv_error(errors, "Idempotency-Key",
		    "must be 1 to 200 printable ASCII characters without spaces");
		reply_invalid(rc, errors);
		return;
	}
	/* what was asked: the path and the body (canonical when it is JSON) */
	asked = arena_printf(rc->arena, "POST %s\n%s", rc->path, canon ? canon :
	    arena_strndup(rc->arena, (const char *)evbuffer_pullup(in, -1),
	    evbuffer_get_length(in)));
	free(canon);
	crypto_sha256_hex(asked, strlen(asked), rc->idem.hash);
	rc->idem.key = arena_strdup(rc->arena, key);
	job = db_job_new(0);
	db_job_add(job, NULL, SQL_CLAIM, 3, rc->user.id, key, rc->idem.hash);
	req_db(rc, job, claimed);
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
	reply_after_store(p->rc, p->status, p->body);
	evbuffer_free(p->body);
	free(p);
}

bool
idem_finish(struct reqctx *rc, int status, struct evbuffer *body)
{
	struct pending_reply *p;
	const char *ctype;
	char code[16];
	struct db_job *job;
	enum db_status st;

	if (!rc->idem.claimed)
		return false;
	rc->idem.claimed = false;
	if (rc->loop->db == NULL)         /* past the shutdown deadline */
		return false;
	job = db_job_new(0);
	if (status >= 500) {
		db_job_add(job, NULL, SQL_FREE, 2, rc->user.id, rc->idem.key);
	} else {
		struct evkeyvalq *h = evhttp_request_get_output_headers(rc->req);

		ctype = evhttp_find_header(h, "Content-Type");
		snprintf(code, sizeof(code), "%d", status);
		db_job_add(job, NULL, SQL_STORE, 6, rc->user.id, rc->idem.key, code,
		    ctype ? ctype : "", body ? arena_strndup(rc->arena,
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
		/* the key stays in flight until its lock runs out; answer anyway */
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
