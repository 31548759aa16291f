/*
 * pipeline.c: what happens to a request between its arrival and its
 * handler: routing, header and query checks, authentication (a cached
 * session hint confirmed by a guard in the first job, or a lookup), the
 * body's decoding and schema, the Idempotency-Key stage, then the handler
 * from the route table. Handlers reach the database through req_db(), which
 * carries the pipeline's guards.
 */
#include "fb.h"

#include <ctype.h>
#include <stdarg.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>

#include "authcache.h"
#include "crypto.h"
#include "idem.h"
#include "jsonv.h"
#include "pipeline.h"
#include "loop.h"
#include "replica.h"
#include "workpool.h"

/* Fails (FB401, migration 0009) unless the token still names this caller. */
static const char SQL_AUTH_GUARD[] =
	"SELECT CASE WHEN EXISTS (SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id"
	"   WHERE s.token_hash = $1 AND s.id = $2 AND u.id = $3 AND u.role = $4"
	"     AND u.email = $5 AND u.display_name = $6 AND s.revoked_at IS NULL"
	"     AND s.expires_at > now() AND u.disabled_at IS NULL)"
	" THEN true ELSE auth_refused() END";

static void req_authenticate(struct reqctx *rc);
static reply_stage_fn auth_hold;
static void req_run_handler(struct reqctx *rc);

/* A job of a request in flight: whom to tell, and how. */
struct db_call {
	struct reqctx *rc;
	req_db_fn *ok;              /* success only (req_db) */
	req_db_any_fn *any;         /* every outcome (req_db_any) */
};

static void auth_restart(struct reqctx *rc);

/* The one place a request's job ends: the guards first, then its caller. */
static void
call_finish(struct db_call *call, struct db_job *job, enum db_status st)
{
	struct db_call c = *call;

	free(call);
	if (c.any != NULL)
		c.any(c.rc, job, st);
	else if (st == DB_OK)
		c.ok(c.rc, job);
	else
		reply_db_failure(c.rc, job, st);
}

static void
req_db_done(struct db_job *job, enum db_status st, void *arg)
{
	struct db_call *call = arg;
	struct reqctx *rc = call->rc;

	if (rc->guarded == job)
		rc->guarded = NULL;
	if (idem_claim_refused(job)) {
		/* the session's guard, sent first, passed; the key is taken */
		free(call);
		rc->auth_hint = false;
		idem_taken(rc);
		return;
	}
	if (rc->auth_hint) {
		switch (db_job_guard(job)) {
		case DB_GUARD_PASSED:
			rc->auth_hint = false;
			break;
		case DB_GUARD_FAILED:
			/* nothing the job did happened: start again, looked up */
			free(call);
			auth_restart(rc);
			return;
		case DB_GUARD_UNKNOWN:
			break;   /* the job never ran: its failure is the answer */
		}
	}
	call_finish(call, job, st);
}

struct reqctx *
req_of(void *step_arg)
{
	return ((struct db_call *)step_arg)->rc;
}

/*
 * Submits a job with the guards the request needs in its first flight: the
 * session hint's (first), then, with claim, an Idempotency-Key's claim.
 * claim is true for a handler's jobs, false for the session's lookup, which
 * always reads the primary; a handler's job on an RT_REPLICA route reads
 * the replica when it may (replica.h).
 */
static void
req_db_guarded(struct reqctx *rc, struct db_job *job, struct db_call *call, bool claim)
{
	struct db_pool *pool = rc->loop->db, *replica;
	enum db_status st;
	bool guarded;

	call->rc = rc;
	/* a lag-tolerant read of a confirmed (or anonymous) caller */
	if (claim && (rc->route->flags & RT_REPLICA) && !rc->auth_hint && pool != NULL &&
	    (replica = replica_pool(rc->loop->replica)) != NULL)
		pool = replica;
	if (rc->auth_hint) {
		const char *p[] = { rc->token_hash, rc->user.session_id, rc->user.id,
		    rc->user.role, rc->user.email, rc->user.display_name };

		db_job_add_guard(job, SQL_AUTH_GUARD, FB_ARRAY_LEN(p), p);
	}
	if (claim)
		idem_claim_guard(rc, job);
	if (pool == NULL) {               /* past the shutdown deadline */
		db_job_free(job);
		call_finish(call, NULL, DB_UNAVAILABLE);
		return;
	}
	guarded = rc->auth_hint;
	st = db_submit(pool, job, req_db_done, call);
	if (st != DB_OK) {
		call_finish(call, NULL, st);
		return;
	}
	if (guarded)
		rc->guarded = job;   /* until its done: db_submit never calls it */
}

static struct db_call *
call_new(req_db_fn *ok, req_db_any_fn *any)
{
	struct db_call *call = fb_calloc(1, sizeof(*call));

	call->ok = ok;
	call->any = any;
	return call;
}

void
req_db(struct reqctx *rc, struct db_job *job, req_db_fn *done)
{
	req_db_guarded(rc, job, call_new(done, NULL), true);
}

void
req_db_any(struct reqctx *rc, struct db_job *job, req_db_any_fn *done)
{
	req_db_guarded(rc, job, call_new(NULL, done), true);
}

struct work_call {
	struct reqctx *rc;
	req_work_fn *work, *done;
};

static void
work_run(void *arg)
{
	struct work_call *w = arg;

	w->work(w->rc);
}

static void
work_done(void *arg)
{
	struct work_call *w = arg;
	struct reqctx *rc = w->rc;
	req_work_fn *done = w->done;

	free(w);
	done(rc);
}

int
req_offload(struct reqctx *rc, req_work_fn *work, req_work_fn *done)
{
	struct work_call *w = fb_malloc(sizeof(*w));

	w->rc = rc;
	w->work = work;
	w->done = done;
	if (workpool_submit(rc->loop->srv->hashers, rc->loop->inbox, work_run,
	    work_done, w) != 0) {
		free(w);
		req_set_header(rc, "Retry-After", "1");
		reply_problem(rc, 503, "busy", "too many sign-ins at once; try again shortly");
		return -1;
	}
	return 0;
}

/* ---- the pipeline: route, authenticate, decode, handle ---- */

static unsigned
method_bit(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET:     return M_GET;
	case EVHTTP_REQ_HEAD:    return M_HEAD;
	case EVHTTP_REQ_POST:    return M_POST;
	case EVHTTP_REQ_PUT:     return M_PUT;
	case EVHTTP_REQ_PATCH:   return M_PATCH;
	case EVHTTP_REQ_DELETE:  return M_DELETE;
	case EVHTTP_REQ_OPTIONS: return M_OPTIONS;
	default:                 return 0;
	}
}

/* Accepts a client's X-Request-Id only when it is short and plain. */
static bool
request_id_ok(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!isalnum((unsigned char)s[n]) && s[n] != '-' && s[n] != '_' &&
		    s[n] != '.' && s[n] != ':')
			return false;
	return n > 0 && n < 64;
}

/*
 * Headers that say one thing once. A second copy is refused rather than
 * guessed at: two Content-Lengths (or one with Transfer-Encoding) frame the
 * body two ways, the way requests are smuggled past proxies; two
 * Authorizations or Idempotency-Keys would have libevent's first one act
 * while a proxy or log saw the other.
 */
static const char *const singleton_headers[] = {
	"Authorization", "Content-Length", "Content-Type", "Transfer-Encoding",
	"Idempotency-Key", "If-Match", "If-None-Match", "Host",
};

/* NULL, or the name of a header the request repeats or frames twice. */
static const char *
headers_refusal(struct evhttp_request *req)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct evkeyval *kv;
	size_t i;

	for (i = 0; i < FB_ARRAY_LEN(singleton_headers); i++) {
		int n = 0;

		TAILQ_FOREACH(kv, in, next)
			if (strcasecmp(kv->key, singleton_headers[i]) == 0)
				n++;
		if (n > 1)
			return singleton_headers[i];
	}
	if (evhttp_find_header(in, "Content-Length") != NULL &&
	    evhttp_find_header(in, "Transfer-Encoding") != NULL)
		return "Content-Length with Transfer-Encoding";
	return NULL;
}

static int
hex_digit(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool
utf8_ok(const char *s)
{
	json_t *probe = json_string(s);     /* jansson refuses text that is not UTF-8 */

	json_decref(probe);
	return probe != NULL;
}

/*
 * A query string fairbeta will read, parameter by parameter: every escape is
 * two hex digits and not %00 (a NUL would cut the value short after
 * validation saw all of it), and every name and value decodes to UTF-8.
 * Problems go to errors under the parameter's name, as other bad parameters.
 */
static void
query_check(struct reqctx *rc, const char *q, json_t *errors)
{
	struct evkeyval *kv;
	const char *seg = q, *p;

	while (*seg) {
		size_t n = strcspn(seg, "&"), name = strcspn(seg, "=&");

		for (p = seg; p < seg + n; p++)
			if (*p == '%' && (!hex_digit(p[1]) || !hex_digit(p[2]) ||
			    (p[1] == '0' && p[2] == '0'))) {
				char *field = arena_strndup(rc->arena, seg, name);

				jv_error(errors, utf8_ok(field) ? field : "",
				    "has a bad percent-escape or an encoded NUL (%00)");
				break;
			}
		seg += n + (seg[n] == '&');
	}
	TAILQ_FOREACH(kv, &rc->query, next)
		if (!utf8_ok(kv->key) || !utf8_ok(kv->value))
			jv_error(errors, utf8_ok(kv->key) ? kv->key : "",
			    "is not UTF-8 text");
}

static bool
content_type_is_json(const char *ct)
{
	size_t n = strlen("application/json");

	if (ct == NULL)
		return false;
	while (*ct == ' ')
		ct++;
	return strncasecmp(ct, "application/json", n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

void
http_dispatch(struct evhttp_request *req, void *arg)
{
	struct http_listener *l = arg;
	struct loop *loop = l->loop;
	struct reqctx *rc = request_new(req, loop);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *rid = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "X-Request-Id");
	const char *raw_path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *raw_query = uri ? evhttp_uri_get_query(uri) : NULL;
	char allow[64], *work;
	const char *refused;
	json_t *errors;
	bool connect;
	int n;

	rc->stage[REPLY_CONFIRM] = auth_hold;
	connect = evhttp_request_get_command(req) == EVHTTP_REQ_CONNECT;
	rc->method = method_bit(evhttp_request_get_command(req));
	rc->log.method = rc->method ? router_method_name(rc->method) : "OTHER";
	if (rc->method == 0) {
		/*
		 * A method we do not serve (CONNECT, TRACE, PROPFIND, "get"): answered
		 * 405 or 404 below. libevent reads no body for these, so the
		 * connection closes after the answer rather than parse that body as
		 * the next request; and it sends no body in answer to CONNECT, so
		 * the request is marked GET for the answer's sake.
		 */
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		req->type = EVHTTP_REQ_GET;
	}
	if (rid != NULL && request_id_ok(rid))
		snprintf(rc->log.request_id, sizeof(rc->log.request_id), "%s", rid);
	else
		crypto_uuid_new(rc->log.request_id);

	if (raw_path == NULL || *raw_path == '\0')
		raw_path = "/";
	/*
	 * libevent reads a target "//x" as an authority ("x") with an empty
	 * path, which would be "/": it is a path whose first segment is empty,
	 * and names nothing (404), as "/v1//me" does. A CONNECT's target is
	 * always read as an authority: it is routed as sent, never as "/".
	 */
	if (evhttp_request_get_uri(req) != NULL &&
	    (strncmp(evhttp_request_get_uri(req), "//", 2) == 0 || connect))
		raw_path = evhttp_request_get_uri(req);
	/* routed as received: the router decodes each segment after splitting */
	rc->path = arena_strdup(rc->arena, raw_path);
	work = arena_strdup(rc->arena, raw_path);
	if ((refused = headers_refusal(req)) != NULL) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		reply_problem(rc, 400, "bad-request", "the request repeats or contradicts a header: %s",
		    refused);
		return;
	}
	if (raw_query != NULL) {
		if (evhttp_parse_query_str(raw_query, &rc->query) != 0) {
			reply_problem(rc, 400, "bad-request", "the query string is not valid");
			return;
		}
		rc->query_parsed = true;
		query_check(rc, raw_query, errors = json_array());
		if (json_array_size(errors) > 0) {
			reply_invalid(rc, errors);
			return;
		}
		json_decref(errors);
	}

	rc->observe = l->observe;
	if (router_match(l->routes, l->nroutes, rc->method, work, &rc->match) != 0) {
		rc->log.route = "unmatched";
		if (rc->match.allow) {
			router_allow_header(rc->match.allow, allow, sizeof(allow));
			req_set_header(rc, "Allow", allow);
			reply_problem(rc, 405, "method-not-allowed", "%s is not allowed here; use %s",
			    rc->method ? rc->log.method : "this method", allow);
		} else {
			reply_problem(rc, 404, "not-found", "no such resource");
		}
		return;
	}
	rc->route_index = rc->match.index;
	rc->route = &l->routes[rc->match.index];
	rc->log.route = rc->route->pattern;

	n = (int)evbuffer_get_length(evhttp_request_get_input_buffer(req));
	if (!(rc->route->flags & RT_BODY) && n > 0) {
		reply_problem(rc, 400, "bad-request", "%s %s takes no body", rc->log.method,
		    rc->route->pattern);
		return;
	}
	if ((rc->route->flags & RT_BODY) && n > rc->loop->srv->cfg->max_body) {
		reply_problem(rc, 413, "payload-too-large", "the body is larger than %ld bytes",
		    rc->loop->srv->cfg->max_body);
		return;
	}
	/* without a token: public routes, and those a token is optional on */
	if ((rc->route->roles == ROLE_ANYONE || (rc->route->flags & RT_AUTH_OPTIONAL)) &&
	    !((rc->route->flags & RT_AUTH_OPTIONAL) && (req_header(rc, "Authorization") != NULL ||
	    req_cookie(rc, REQ_SESSION_COOKIE) != NULL)))
		req_run_handler(rc);
	else
		req_authenticate(rc);
}

json_t *
req_body_errors(struct reqctx *rc)
{
	json_t *errors = rc->body_errors;

	if (!(rc->route->flags & RT_BODY_MORE))
		fb_fatal("%s %s: req_body_errors() without RT_BODY_MORE", rc->log.method,
		    rc->route->pattern);
	rc->body_errors = NULL;
	return errors != NULL ? errors : json_array();
}

/*
 * Checks the body against the route's schema. Returns false when it has
 * answered 422; on RT_BODY_MORE routes the problems wait for the handler.
 */
static bool
req_check_body(struct reqctx *rc)
{
	json_t *errors = json_array();

	jv_check_schema(rc->body, rc->route->body, "", errors);
	if (rc->route->flags & RT_BODY_MORE) {
		rc->body_errors = errors;
		return true;
	}
	if (json_array_size(errors) > 0) {
		reply_invalid(rc, errors);
		return false;
	}
	json_decref(errors);
	return true;
}

/* The route's scope, for this caller (router.h, enum route_scope). */
static void
req_set_scope(struct reqctx *rc)
{
	unsigned role = rc->authed ? rc->user.role_bit : 0;

	memset(&rc->scope, 0, sizeof(rc->scope));
	switch (rc->route->scope) {
	case SCOPE_ALL:
		rc->scope.all = rc->authed;
		break;
	case SCOPE_LEDGER:
		rc->scope.all = role == ROLE_ADMIN;
		rc->scope.ledger_only = role == ROLE_FINANCE;
		break;
	case SCOPE_OWN:
		rc->scope.all = role != 0 && role != ROLE_ARTIST;
		rc->scope.owner = role == ROLE_ARTIST ? rc->user.id : NULL;
		break;
	}
}

/*
 * Decodes the JSON body when the route takes one and checks it against the
 * route's schema, then calls the handler. A body with problems is answered
 * before an Idempotency-Key is claimed, so it is never stored under one.
 */
static void
req_run_handler(struct reqctx *rc)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(rc->req);
	size_t len = evbuffer_get_length(in);
	bool keyed = rc->method == M_POST && rc->authed &&
	    req_header(rc, "Idempotency-Key") != NULL;
	char detail[256];

	if ((rc->route->flags & RT_BODY_OPTIONAL) && len == 0) {
		rc->body = json_object();
	} else if (rc->route->flags & RT_BODY) {
		const char *ct = req_header(rc, "Content-Type");

		if (!content_type_is_json(ct)) {
			reply_problem(rc, 415, "unsupported-media-type",
			    "send the body as application/json");
			return;
		}
		switch (jv_parse((const char *)evbuffer_pullup(in, -1), len, &rc->body,
		    detail, sizeof(detail))) {
		case JV_PARSED:
			break;
		case JV_MALFORMED:
			reply_problem(rc, 400, "malformed-json", "%s", detail);
			return;
		case JV_NOT_OBJECT: {
			json_t *errors = json_array();

			jv_error(errors, "", "the body must be a JSON object");
			reply_invalid(rc, errors);
			return;
		}
		}
	}
	if ((rc->route->flags & RT_IDEMPOTENT) && !keyed) {
		reply_problem(rc, 400, "idempotency-key-required",
		    "this request moves money: send an Idempotency-Key header");
		return;
	}
	if ((rc->route->flags & RT_BODY) && !req_check_body(rc))
		return;
	if (keyed && !idem_prepare(rc, req_header(rc, "Idempotency-Key")))
		return;
	req_set_scope(rc);
	rc->route->handler(rc);
}

static const char SQL_AUTH[] =
	"SELECT s.id, u.id, u.role, u.email, u.display_name, rfc3339(u.created_at)"
	" FROM sessions s JOIN users u ON u.id = s.user_id"
	" WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now()"
	"   AND u.disabled_at IS NULL";
enum { AU_SESSION, AU_USER, AU_ROLE, AU_EMAIL, AU_DISPLAY_NAME, AU_CREATED_AT };

static void
user_from_row(struct reqctx *rc, const PGresult *r, struct auth_user *u)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->session_id, sizeof(u->session_id), "%s", PQgetvalue(r, 0, AU_SESSION));
	snprintf(u->id, sizeof(u->id), "%s", PQgetvalue(r, 0, AU_USER));
	snprintf(u->role, sizeof(u->role), "%s", PQgetvalue(r, 0, AU_ROLE));
	u->email = arena_strdup(rc->arena, PQgetvalue(r, 0, AU_EMAIL));
	u->display_name = arena_strdup(rc->arena, PQgetvalue(r, 0, AU_DISPLAY_NAME));
	u->created_at = arena_strdup(rc->arena, PQgetvalue(r, 0, AU_CREATED_AT));
	u->role_bit = router_role_bit(u->role);
}

/* The caller is known: check the route's roles, then run the handler. */
static void
auth_enter(struct reqctx *rc)
{
	rc->authed = true;
	snprintf(rc->log.actor, sizeof(rc->log.actor), "%s", rc->user.id);
	if (rc->route->roles != ROLE_ANYONE && !(rc->route->roles & rc->user.role_bit)) {
		reply_problem(rc, 403, "forbidden", "the %s role may not do this", rc->user.role);
		return;
	}
	req_run_handler(rc);
}

static void
auth_done(struct reqctx *rc, struct db_job *job, enum db_status st)
{
	const PGresult *r = db_job_result(job, 0);

	if (st != DB_OK) {
		reply_db_failure(rc, job, st);
		return;
	}
	if (PQntuples(r) != 1) {
		authcache_forget(rc->loop->auth, rc->token_hash);
		if (rc->by_cookie && (rc->route->flags & RT_AUTH_OPTIONAL)) {
			/* a stale console cookie on a public route: forget it, go on as
			 * anyone (a bearer token the caller chose is never ignored) */
			req_set_session_cookie(rc, NULL, 0);
			req_run_handler(rc);
			return;
		}
		reply_problem(rc, 401, "unauthorized", "the token is invalid, expired or revoked");
		return;
	}
	user_from_row(rc, r, &rc->user);
	authcache_put(rc->loop->auth, rc->token_hash, &rc->user);
	auth_enter(rc);
}

static void
auth_lookup(struct reqctx *rc)
{
	struct db_job *job = db_job_new(0);

	db_job_add(job, NULL, SQL_AUTH, rc->token_hash);
	req_db_guarded(rc, job, call_new(NULL, auth_done), false);
}

/*
 * A request that changes something with the console's cookie must come from
 * the console: from this origin (Origin names the Host; Sec-Fetch-Site, when
 * sent, says same-origin) and with X-Fairbeta-Console, a header no HTML form
 * can send and no other site's script may without a CORS grant, which this
 * server never gives. Bearer tokens are not sent by browsers on their own,
 * so they need none of this.
 */
static bool
req_cross_site(struct reqctx *rc)
{
	const char *origin = req_header(rc, "Origin"), *host = req_header(rc, "Host");
	const char *site = req_header(rc, "Sec-Fetch-Site"), *o;

	if (rc->method == M_GET || rc->method == M_HEAD)
		return false;
	if (origin == NULL || host == NULL || req_header(rc, "X-Fairbeta-Console") == NULL ||
	    (site != NULL && strcmp(site, "same-origin") != 0))
		return true;
	o = strncmp(origin, "https://", 8) == 0 ? origin + 8 :
	    strncmp(origin, "http://", 7) == 0 ? origin + 7 : NULL;
	return o == NULL || strcasecmp(o, host) != 0;
}

/*
 * Session token -> session and user; 401 without a usable token. The token
 * is the bearer token, or else the console's cookie (then 403 for a change
 * from another site). A token this loop has looked up before runs the
 * handler at once as that caller, unconfirmed (authcache.h): its first job
 * carries the guard, and a reply made before any job waits for a lookup.
 */
static void
req_authenticate(struct reqctx *rc)
{
	const char *h = req_header(rc, "Authorization"), *token = NULL;

	if (h != NULL && strncasecmp(h, "Bearer ", 7) == 0) {
		token = h + 7;
	} else if (h == NULL && (token = req_cookie(rc, REQ_SESSION_COOKIE)) != NULL) {
		rc->by_cookie = true;
	}
	if (token == NULL || strlen(token) < 16 || strlen(token) > 128) {
		reply_problem(rc, 401, "unauthorized",
		    "send Authorization: Bearer <token>, or sign in to the console");
		return;
	}
	if (rc->by_cookie && req_cross_site(rc)) {
		reply_problem(rc, 403, "csrf", "a change made with the console's cookie must come"
		    " from the console itself (same origin, X-Fairbeta-Console)");
		return;
	}
	crypto_sha256_hex(token, strlen(token), rc->token_hash);
	/* a replica read is checked on the primary first, never on the replica */
	if (!(rc->route->flags & RT_REPLICA) &&
	    authcache_get(rc->loop->auth, rc->token_hash, &rc->user, rc->arena)) {
		rc->user.role_bit = router_role_bit(rc->user.role);
		/* a refusal on the hint alone would not be exact: look it up */
		if (rc->route->roles == ROLE_ANYONE || (rc->route->roles & rc->user.role_bit)) {
			rc->auth_hint = true;
			auth_enter(rc);
			return;
		}
	}
	auth_lookup(rc);
}

/*
 * The hint was wrong (a guard failed, or a held reply's lookup disagreed):
 * forget it and everything the handler made of it, and run the request
 * again as the database says. Nothing it did reached the database: a guard
 * fails its whole flight, and a held reply had sent no job at all.
 */
static void
auth_reset(struct reqctx *rc)
{
	authcache_count_refuted(rc->loop->auth);
	authcache_forget(rc->loop->auth, rc->token_hash);
	rc->auth_hint = false;
	rc->authed = false;
	rc->replied = false;
	rc->log.actor[0] = '\0';
	rc->h = NULL;
	json_decref(rc->body);
	json_decref(rc->body_errors);
	json_decref(rc->refusal.ext);
	rc->body = rc->body_errors = NULL;
	memset(&rc->refusal, 0, sizeof(rc->refusal));
	memset(&rc->idem, 0, sizeof(rc->idem));
	rc->stage[REPLY_STORE] = NULL;
	if (rc->held.buf != NULL)
		evbuffer_free(rc->held.buf);
	rc->held.buf = NULL;
	evhttp_clear_headers(evhttp_request_get_output_headers(rc->req));
}

void
req_forget_session(struct reqctx *rc)
{
	authcache_forget(rc->loop->auth, rc->token_hash);
}

static void
auth_restart(struct reqctx *rc)
{
	log_info(&rc->log, "session changed under a cached caller; looking it up");
	auth_reset(rc);
	auth_lookup(rc);
}

static void
auth_held_checked(struct reqctx *rc, struct db_job *job, enum db_status st)
{
	const PGresult *r = db_job_result(job, 0);
	struct auth_user now;
	struct evbuffer *buf = rc->held.buf;

	if (st == DB_OK && PQntuples(r) == 1) {
		user_from_row(rc, r, &now);
		if (authcache_same(&now, &rc->user)) {
			rc->auth_hint = false;
			rc->held.buf = NULL;
			reply_resume(rc, REPLY_CONFIRM, rc->held.status, buf);
			evbuffer_free(buf);
			return;
		}
	}
	if (st != DB_OK) {
		/* confirmation impossible: the held reply is not given */
		auth_reset(rc);
		reply_db_failure(rc, job, st);
		return;
	}
	auth_reset(rc);
	auth_done(rc, job, st);
}

/*
 * The reply stage REPLY_CONFIRM: keeps a reply made on the hint alone until
 * a lookup confirms the caller.
 */
static bool
auth_hold(struct reqctx *rc, int status, struct evbuffer *buf)
{
	struct db_job *job;

	if (req_caller_confirmed(rc))
		return false;
	job = db_job_new(0);

	rc->held.status = status;
	rc->held.buf = evbuffer_new();
	if (buf != NULL)
		evbuffer_add_buffer(rc->held.buf, buf);
	rc->auth_hint = false;   /* this lookup is the confirmation: no guard */
	db_job_add(job, NULL, SQL_AUTH, rc->token_hash);
	req_db_guarded(rc, job, call_new(NULL, auth_held_checked), false);
	return true;
}
