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
#include "handlers.h"
#include "http.h"
#include "idem.h"
#include "jsonv.h"
#include "metrics.h"
#include "server.h"
#include "workpool.h"

#define PROBLEM_BASE "https://fairbeta.dev/problems/"

/* Fails (FB401, migration 0009) unless the token still names this caller. */
static const char SQL_AUTH_GUARD[] =
	"SELECT CASE WHEN EXISTS (SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id"
	"   WHERE s.token_hash = $1 AND s.id = $2 AND u.id = $3 AND u.role = $4"
	"     AND u.email = $5 AND u.display_name = $6 AND s.revoked_at IS NULL"
	"     AND s.expires_at > now() AND u.disabled_at IS NULL)"
	" THEN true ELSE auth_refused() END";

static const struct {
	int status;
	const char *title;
} titles[] = {
	{ 200, "OK" }, { 201, "Created" }, { 204, "No Content" }, { 304, "Not Modified" },
	{ 400, "Bad Request" }, { 401, "Unauthorized" }, { 403, "Forbidden" },
	{ 404, "Not Found" }, { 405, "Method Not Allowed" }, { 409, "Conflict" },
	{ 412, "Precondition Failed" }, { 413, "Content Too Large" },
	{ 415, "Unsupported Media Type" }, { 422, "Unprocessable Content" },
	{ 429, "Too Many Requests" }, { 500, "Internal Server Error" },
	{ 503, "Service Unavailable" },
};

static const char *
status_title(int status)
{
	size_t i;

	for (i = 0; i < FB_ARRAY_LEN(titles); i++)
		if (titles[i].status == status)
			return titles[i].title;
	return "Error";
}

static void req_authenticate(struct reqctx *rc);
static void req_run_handler(struct reqctx *rc);

/* ---- lifetime ---- */

static void
rc_free(struct reqctx *rc)
{
	if (rc->query_parsed)
		evhttp_clear_headers(&rc->query);
	json_decref(rc->body);
	json_decref(rc->body_errors);
	json_decref(rc->refusal.ext);
	if (rc->held.buf != NULL)
		evbuffer_free(rc->held.buf);
	arena_free(rc->arena);
	free(rc);
}

/*
 * The one place a request ends: headers common to every reply, the send,
 * the access log line, the metrics, and the frees.
 */
/* libevent has written the whole reply: the connection may now be closed. */
static void
reply_written(struct evhttp_request *req, void *arg)
{
	struct loop *loop = arg;

	FB_UNUSED(req);
	atomic_fetch_sub(&loop->unsent, 1);
}

/*
 * A reply is queued, not yet written. A drain must not close the connection
 * under it, so count it until libevent says it is out (a request whose
 * client already left is freed by the send instead).
 */
static void
reply_count_unsent(struct reqctx *rc)
{
	if (evhttp_request_get_connection(rc->req) != NULL) {
		atomic_fetch_add(&rc->loop->unsent, 1);
		evhttp_request_set_on_complete_cb(rc->req, reply_written, rc->loop);
	}
}

/* After the send: the access log line, the metrics, and the frees. */
static void
reply_done(struct reqctx *rc, int status)
{
	int64_t dur = fb_now_us() - rc->started_us;
	struct loop *loop = rc->loop;

	if (log_min_level <= LOG_INFO)
		log_emit(LOG_INFO, &rc->log, json_pack("{s:i, s:f}", "status", status,
		    "duration_ms", (double)dur / 1000.0), "request");
	if (rc->observe)
		metrics_observe(rc->route_index, rc->method, status, dur);
	rc_free(rc);
	atomic_fetch_sub(&loop->inflight, 1);
}

static void
reply_send(struct reqctx *rc, int status, struct evbuffer *buf)
{
	rc->status = status;
	evhttp_add_header(evhttp_request_get_output_headers(rc->req), "X-Request-Id",
	    rc->log.request_id);
	reply_count_unsent(rc);
	evhttp_send_reply(rc->req, status, status_title(status), buf);
	reply_done(rc, status);
}

void
reply_after_store(struct reqctx *rc, int status, struct evbuffer *buf)
{
	reply_send(rc, status, buf);
}

/* A reply the request's caller is confirmed to get. */
static void
reply_release(struct reqctx *rc, int status, struct evbuffer *buf)
{
	/* under an Idempotency-Key the reply is stored before the client sees it */
	if (idem_finish(rc, status, buf))
		return;
	reply_send(rc, status, buf);
}

static void auth_hold(struct reqctx *rc, int status, struct evbuffer *buf);

/*
 * Whether the caller is confirmed: looked up, or the guard of a job still
 * running has passed (a stream's rows, or a step, may answer before its
 * job is done).
 */
static bool
auth_confirmed(struct reqctx *rc)
{
	if (rc->auth_hint && rc->guarded != NULL &&
	    db_job_guard(rc->guarded) == DB_GUARD_PASSED)
		rc->auth_hint = false;
	return !rc->auth_hint;
}

static void
reply_finish(struct reqctx *rc, int status, struct evbuffer *buf)
{
	if (rc->replied)
		fb_fatal("request %s answered twice", rc->log.request_id);
	if (status < 400 && json_array_size(rc->body_errors) > 0)
		fb_fatal("%s %s: the handler lost its body's problems (req_body_errors)",
		    rc->log.method, rc->route->pattern);
	rc->replied = true;
	if (!auth_confirmed(rc)) {
		/* answered before any guarded job: confirm the caller first */
		auth_hold(rc, status, buf);
		return;
	}
	reply_release(rc, status, buf);
}

static void
text_free(const void *data, size_t len, void *arg)
{
	FB_UNUSED(len);
	FB_UNUSED(arg);
	free((void *)data);
}

/* ---- streamed replies ---- */

static void
stream_drained(struct reqctx *rc)
{
	req_work_fn *fn = rc->stream.drained;

	rc->stream.drained = NULL;
	if (fn != NULL)
		fn(rc);
}

static void
stream_chunk_sent(struct evhttp_connection *evcon, void *arg)
{
	FB_UNUSED(evcon);
	stream_drained(arg);
}

/* The client went away mid-stream: whoever waits for a drain goes on. */
static void
stream_closed(struct evhttp_connection *evcon, void *arg)
{
	struct reqctx *rc = arg;

	FB_UNUSED(evcon);
	rc->stream.gone = true;
	rc->stream.conn = NULL;
	stream_drained(rc);
}

void
reply_stream_begin(struct reqctx *rc, const char *content_type)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(rc->req);

	if (rc->replied)
		fb_fatal("request %s answered twice", rc->log.request_id);
	if (!auth_confirmed(rc))
		fb_fatal("%s %s: a stream begun before any job confirmed the caller",
		    rc->log.method, rc->route->pattern);
	rc->replied = true;
	rc->status = 200;
	rc->stream.on = true;
	evhttp_add_header(h, "X-Request-Id", rc->log.request_id);
	evhttp_add_header(h, "Content-Type", content_type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	rc->stream.conn = evhttp_request_get_connection(rc->req);
	if (rc->stream.conn == NULL) {
		rc->stream.gone = true;
		return;
	}
	evhttp_connection_set_closecb(rc->stream.conn, stream_closed, rc);
	evhttp_send_reply_start(rc->req, 200, "OK");
}

bool
reply_stream_chunk(struct reqctx *rc, struct evbuffer *buf, req_work_fn *drained)
{
	if (rc->stream.gone || evhttp_request_get_connection(rc->req) == NULL ||
	    rc->method == M_HEAD || evbuffer_get_length(buf) == 0) {
		/* libevent sends nothing then, and would never call back */
		rc->stream.gone = rc->stream.gone || rc->method == M_HEAD ||
		    evhttp_request_get_connection(rc->req) == NULL;
		evbuffer_drain(buf, evbuffer_get_length(buf));
		return false;
	}
	rc->stream.drained = drained;
	evhttp_send_reply_chunk_with_cb(rc->req, buf, stream_chunk_sent, rc);
	return true;
}

void
reply_stream_end(struct reqctx *rc, bool complete)
{
	if (rc->stream.conn != NULL)
		evhttp_connection_set_closecb(rc->stream.conn, NULL, NULL);
	if (!rc->stream.gone && evhttp_request_get_connection(rc->req) != NULL) {
		if (!complete) {
			/* no terminating chunk: the client sees a cut response */
			evhttp_connection_free(evhttp_request_get_connection(rc->req));
			reply_done(rc, 500);
			return;
		}
		reply_count_unsent(rc);
	}
	evhttp_send_reply_end(rc->req);
	reply_done(rc, rc->stream.gone ? 499 : complete ? 200 : 500);
}

/* Sends s (a document's text, taken and freed) with its content type. */
static void
reply_text_owned(struct reqctx *rc, int status, const char *ctype, char *s)
{
	struct evbuffer *buf = evbuffer_new();

	if (s != NULL)
		evbuffer_add_reference(buf, s, strlen(s), text_free, NULL);
	evhttp_add_header(evhttp_request_get_output_headers(rc->req), "Content-Type", ctype);
	reply_finish(rc, status, buf);
	evbuffer_free(buf);
}

static void
reply_body(struct reqctx *rc, int status, const char *ctype, json_t *body)
{
	char *s = json_dumps(body, JSON_COMPACT);

	json_decref(body);
	reply_text_owned(rc, status, ctype, s);
}

void
reply_raw(struct reqctx *rc, int status, const char *content_type, const char *body)
{
	struct evbuffer *buf = evbuffer_new();

	evbuffer_add(buf, body, strlen(body));
	if (content_type[0])
		evhttp_add_header(evhttp_request_get_output_headers(rc->req), "Content-Type",
		    content_type);
	reply_finish(rc, status, buf);
	evbuffer_free(buf);
}

void
reply_json(struct reqctx *rc, int status, json_t *body)
{
	reply_body(rc, status, "application/json", body);
}

/*
 * A document's text s (taken) under etag: 304 with no body when a 200's
 * If-None-Match names it, else the document.
 */
static void
reply_tagged(struct reqctx *rc, int status, const char *etag, char *s)
{
	const char *inm = req_header(rc, "If-None-Match");

	req_set_header(rc, "ETag", etag);
	if (status == 200 && inm != NULL && req_if_match(inm, etag)) {
		free(s);
		reply_finish(rc, 304, NULL);
		return;
	}
	reply_text_owned(rc, status, "application/json", s);
}

void
reply_json_tagged(struct reqctx *rc, int status, json_t *body, const char *etag)
{
	char *s = json_dumps(body, JSON_COMPACT);

	json_decref(body);
	reply_tagged(rc, status, etag, s);
}

/*
 * The ETag is a digest of the very bytes sent: one serialization, and the
 * same document always gives the same bytes (jansson keeps members in the
 * order they were set, and the reprs set them in a fixed order).
 */
void
reply_json_etag(struct reqctx *rc, int status, json_t *body)
{
	char *s = json_dumps(body, JSON_COMPACT);
	char hex[CRYPTO_HASH_HEX_LEN], etag[40];

	json_decref(body);
	crypto_sha256_hex(s ? s : "", s ? strlen(s) : 0, hex);
	snprintf(etag, sizeof(etag), "\"%.32s\"", hex);
	reply_tagged(rc, status, etag, s);
}

void
reply_empty(struct reqctx *rc, int status)
{
	reply_finish(rc, status, NULL);
}

void
reply_text(struct reqctx *rc, int status, const char *content_type, struct evbuffer *buf)
{
	evhttp_add_header(evhttp_request_get_output_headers(rc->req), "Content-Type",
	    content_type);
	reply_finish(rc, status, buf);
}

void
reply_problem_ext(struct reqctx *rc, int status, const char *slug, json_t *ext,
    const char *detail)
{
	json_t *p = json_object(), *inst;
	char type[128];

	snprintf(type, sizeof(type), PROBLEM_BASE "%s", slug);
	json_object_set_new(p, "type", json_string(type));
	json_object_set_new(p, "title", json_string(status_title(status)));
	json_object_set_new(p, "status", json_integer(status));
	/* a bounded detail may end inside a character of a quoted name */
	json_object_set_new(p, "detail", json_stringn(detail, jv_utf8_whole_len(detail)));
	/* the path as received; not UTF-8 (jansson refuses it): the root */
	inst = json_string(rc->path ? rc->path : "/");
	json_object_set_new(p, "instance", inst ? inst : json_string("/"));
	json_object_set_new(p, "request_id", json_string(rc->log.request_id));
	if (ext != NULL) {
		json_object_update(p, ext);
		json_decref(ext);
	}
	if (status == 401)
		req_set_header(rc, "WWW-Authenticate", "Bearer");
	if (status == 503 && req_header_out_missing(rc, "Retry-After"))
		req_set_header(rc, "Retry-After", "1");
	if (status >= 500)
		log_warn(&rc->log, "%d: %s", status, detail);
	reply_body(rc, status, "application/problem+json", p);
}

void
reply_problem(struct reqctx *rc, int status, const char *slug, const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	reply_problem_ext(rc, status, slug, NULL, detail);
}

void
reply_invalid(struct reqctx *rc, json_t *errors)
{
	json_t *ext = json_object();
	const char *first = json_string_value(json_object_get(json_array_get(errors, 0), "field"));
	char detail[256];

	snprintf(detail, sizeof(detail), "the request has %zu invalid field%s%s%s",
	    json_array_size(errors), json_array_size(errors) == 1 ? "" : "s",
	    first ? ", first: " : "", first ? first : "");
	json_object_set_new(ext, "errors", errors);
	reply_problem_ext(rc, 422, "validation", ext, detail);
}

/*
 * What a failed statement means for the client, by SQLSTATE (longest prefix
 * first). Input is validated before it reaches SQL, exactly as the columns
 * store it; this table is the net under that: a value the database still
 * refuses is the client's 422 or 409, a transaction that lost a race more
 * often than the pool retries it is 503 with Retry-After, and only what is
 * left (a bug of ours) is 500.
 */
static const struct {
	const char *prefix;
	int status;
	const char *slug;
	const char *detail;
} sqlstate_replies[] = {
	{ "23505", 409, "conflict", "the request conflicts with an existing resource" },
	{ "23503", 409, "conflict", "the request refers to something that no longer exists" },
	{ "23",    422, "validation", "a value is out of the range the resource accepts" },
	{ "22",    422, "validation", "a value is out of the range the resource accepts" },
	{ "54",    422, "validation", "a value is too large or too complex" },
	{ "40",    503, "busy", "the change lost a race with another; try again" },
	{ "57014", 503, "busy", "the request took too long; try again shortly" },
	{ "53",    503, "busy", "the database is short of resources; try again shortly" },
};

static int
sqlstate_find(const char *ss)
{
	size_t i;

	for (i = 0; i < FB_ARRAY_LEN(sqlstate_replies); i++)
		if (strncmp(ss, sqlstate_replies[i].prefix,
		    strlen(sqlstate_replies[i].prefix)) == 0)
			return (int)i;
	return -1;
}

int
http_sqlstate_status(const char *sqlstate)
{
	int i = sqlstate_find(sqlstate);

	return i < 0 ? 500 : sqlstate_replies[i].status;
}

/* Answers a DB_SQL_ERROR from the table above; false when it is ours (500). */
static bool
reply_sqlstate(struct reqctx *rc, struct db_job *job)
{
	const char *ss = db_job_sqlstate(job);
	int i = sqlstate_find(ss);

	if (i < 0)
		return false;
	if (sqlstate_replies[i].status < 500)
		log_warn(&rc->log, "validation gap: the database refused %s (%s %s)",
		    ss, db_job_constraint(job), db_job_errmsg(job));
	else
		req_set_header(rc, "Retry-After", "1");
	reply_problem(rc, sqlstate_replies[i].status, sqlstate_replies[i].slug, "%s",
	    sqlstate_replies[i].detail);
	return true;
}

void
reply_db_failure(struct reqctx *rc, struct db_job *job, enum db_status st)
{
	if (st == DB_ABORTED && rc->refusal.status != 0) {
		json_t *ext = rc->refusal.ext;

		rc->refusal.ext = NULL;
		reply_problem_ext(rc, rc->refusal.status, rc->refusal.slug, ext,
		    rc->refusal.detail);
		return;
	}
	if (st == DB_SQL_ERROR && reply_sqlstate(rc, job))
		return;
	switch (st) {
	case DB_BUSY:
		req_set_header(rc, "Retry-After", "1");
		reply_problem(rc, 503, "busy", "the server is busy; try again shortly");
		break;
	case DB_UNAVAILABLE:
		req_set_header(rc, "Retry-After", "2");
		reply_problem(rc, 503, "database-unavailable",
		    "the database is unavailable; try again shortly");
		break;
	default:
		log_error(&rc->log, "database: %s %s %s", db_status_str(st),
		    job ? db_job_sqlstate(job) : "", job ? db_job_errmsg(job) : "");
		reply_problem(rc, 500, "internal", "an internal error occurred");
		break;
	}
}

/* ---- request helpers ---- */

const char *
req_param(struct reqctx *rc, int i)
{
	return i < rc->match.nparams ? rc->match.params[i] : "";
}

const char *
req_param_uuid(struct reqctx *rc, int i)
{
	const char *p = req_param(rc, i);

	return crypto_uuid_valid(p) ? p : NULL;
}

const char *
req_viewer(struct reqctx *rc)
{
	return rc->authed && rc->user.role_bit == ROLE_ARTIST ? rc->user.id : NULL;
}

const char *
req_query(struct reqctx *rc, const char *name)
{
	return rc->query_parsed ? evhttp_find_header(&rc->query, name) : NULL;
}

const char *
req_header(struct reqctx *rc, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(rc->req), name);
}

bool
req_header_out_missing(struct reqctx *rc, const char *name)
{
	return evhttp_find_header(evhttp_request_get_output_headers(rc->req), name) == NULL;
}

void
req_set_header(struct reqctx *rc, const char *name, const char *value)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(rc->req);

	evhttp_remove_header(h, name);
	evhttp_add_header(h, name, value);
}

const char *
req_actor_id(struct reqctx *rc)
{
	return rc->authed ? rc->user.id : NULL;
}

const char *
req_actor_role(struct reqctx *rc)
{
	return rc->authed ? rc->user.role : NULL;
}

struct db_call {
	struct reqctx *rc;
	req_db_fn *done;
};

static void auth_restart(struct reqctx *rc);

static void
req_db_done(struct db_job *job, enum db_status st, void *arg)
{
	struct db_call *call = arg;
	struct reqctx *rc = call->rc;
	req_db_fn *done = call->done;

	free(call);
	if (rc->guarded == job)
		rc->guarded = NULL;
	if (rc->auth_hint) {
		switch (db_job_guard(job)) {
		case DB_GUARD_PASSED:
			rc->auth_hint = false;
			break;
		case DB_GUARD_FAILED:
			/* nothing the job did happened: start again, looked up */
			auth_restart(rc);
			return;
		case DB_GUARD_UNKNOWN:
			break;   /* the job never ran: its failure is the answer */
		}
	}
	done(rc, job, st);
}

struct reqctx *
req_of(void *step_arg)
{
	return ((struct db_call *)step_arg)->rc;
}

int
req_refuse(struct reqctx *rc, int status, const char *slug, json_t *ext,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rc->refusal.detail = arena_vprintf(rc->arena, fmt, ap);
	va_end(ap);
	rc->refusal.status = status;
	rc->refusal.slug = slug;
	json_decref(rc->refusal.ext);
	rc->refusal.ext = ext;
	return -1;
}

/*
 * RFC 9110: "*" alone, or a comma-separated list of entity tags ("x" or
 * W/"x", where x has no quote, control or space). A header that is neither
 * matches nothing, so a malformed If-Match never lets a change through.
 */
bool
req_if_match(const char *header, const char *etag)
{
	size_t n = strlen(etag);
	const char *p = header, *q;
	bool found = false;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '*') {
		for (q = p + 1; *q == ' ' || *q == '\t'; q++)
			;
		return *q == '\0';
	}
	for (;;) {
		bool weak = strncmp(p, "W/", 2) == 0;

		q = weak ? p + 2 : p;
		if (*q++ != '"')
			return false;
		while (*q && *q != '"' && (unsigned char)*q > 0x20 && *q != 0x7f)
			q++;
		if (*q++ != '"')
			return false;
		/* weak tags never match: If-Match uses the strong comparison */
		if (!weak && (size_t)(q - p) == n && strncmp(p, etag, n) == 0)
			found = true;
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q == '\0')
			return found;
		if (*q++ != ',')
			return false;
		while (*q == ' ' || *q == '\t')
			q++;
		p = q;
	}
}

void
req_db(struct reqctx *rc, struct db_job *job, req_db_fn *done)
{
	struct db_call *call = fb_malloc(sizeof(*call));
	enum db_status st;
	bool guarded;

	call->rc = rc;
	call->done = done;
	if (rc->auth_hint) {
		const char *p[] = { rc->token_hash, rc->user.session_id, rc->user.id,
		    rc->user.role, rc->user.email, rc->user.display_name };

		db_job_set_guard(job, SQL_AUTH_GUARD, FB_ARRAY_LEN(p), p);
	}
	if (rc->loop->db == NULL) {       /* past the shutdown deadline */
		db_job_free(job);
		free(call);
		done(rc, NULL, DB_UNAVAILABLE);
		return;
	}
	guarded = rc->auth_hint;
	st = db_submit(rc->loop->db, job, req_db_done, call);
	if (st != DB_OK) {
		free(call);
		done(rc, NULL, st);
		return;
	}
	if (guarded)
		rc->guarded = job;   /* until its done: db_submit never calls it */
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
	struct reqctx *rc = fb_calloc(1, sizeof(*rc));
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *rid = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "X-Request-Id");
	const char *raw_path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *raw_query = uri ? evhttp_uri_get_query(uri) : NULL;
	char allow[64], *work;
	const char *refused;
	json_t *errors;
	int n;

	atomic_fetch_add(&loop->inflight, 1);
	rc->req = req;
	rc->loop = loop;
	rc->arena = arena_new(4096);
	rc->started_us = fb_now_us();
	rc->route_index = -1;
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
	if (rc->route->roles == ROLE_ANYONE && !((rc->route->flags & RT_AUTH_OPTIONAL) &&
	    req_header(rc, "Authorization") != NULL))
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
	if (keyed) {
		idem_begin(rc, req_header(rc, "Idempotency-Key"));
		return;
	}
	rc->route->handler(rc);
}

static const char SQL_AUTH[] =
	"SELECT s.id, u.id, u.role, u.email, u.display_name, rfc3339(u.created_at)"
	" FROM sessions s JOIN users u ON u.id = s.user_id"
	" WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now()"
	"   AND u.disabled_at IS NULL";

static void
user_from_row(struct reqctx *rc, const PGresult *r, struct auth_user *u)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->session_id, sizeof(u->session_id), "%s", PQgetvalue(r, 0, 0));
	snprintf(u->id, sizeof(u->id), "%s", PQgetvalue(r, 0, 1));
	snprintf(u->role, sizeof(u->role), "%s", PQgetvalue(r, 0, 2));
	u->email = arena_strdup(rc->arena, PQgetvalue(r, 0, 3));
	u->display_name = arena_strdup(rc->arena, PQgetvalue(r, 0, 4));
	u->created_at = arena_strdup(rc->arena, PQgetvalue(r, 0, 5));
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

	db_job_add(job, NULL, SQL_AUTH, 1, rc->token_hash);
	req_db(rc, job, auth_done);
}

/*
 * Bearer token -> session and user; 401 without a usable token. A token
 * this loop has looked up before runs the handler at once as that caller,
 * unconfirmed (authcache.h): its first job carries the guard, and a reply
 * made before any job waits for a lookup.
 */
static void
req_authenticate(struct reqctx *rc)
{
	const char *h = req_header(rc, "Authorization");

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || strlen(h + 7) < 16 ||
	    strlen(h + 7) > 128) {
		reply_problem(rc, 401, "unauthorized", "send Authorization: Bearer <token>");
		return;
	}
	crypto_sha256_hex(h + 7, strlen(h + 7), rc->token_hash);
	if (authcache_get(rc->loop->auth, rc->token_hash, &rc->user, rc->arena)) {
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
			reply_release(rc, rc->held.status, buf);
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

/* Keeps a reply made on the hint alone until a lookup confirms the caller. */
static void
auth_hold(struct reqctx *rc, int status, struct evbuffer *buf)
{
	struct db_job *job = db_job_new(0);

	rc->held.status = status;
	rc->held.buf = evbuffer_new();
	if (buf != NULL)
		evbuffer_add_buffer(rc->held.buf, buf);
	rc->auth_hint = false;   /* this lookup is the confirmation: no guard */
	db_job_add(job, NULL, SQL_AUTH, 1, rc->token_hash);
	req_db(rc, job, auth_held_checked);
}
