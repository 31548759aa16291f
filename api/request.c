/*
 * request.c: a request's lifetime and the only ways it is answered. The
 * pipeline (pipeline.c) makes the request and runs its handler; the stages a
 * reply passes before it is sent are hooks the request carries, so this
 * module knows nothing of what they are.
 */
#include "fb.h"

#include <ctype.h>
#include <stdarg.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>

#include "crypto.h"
#include "jsonv.h"
#include "metrics.h"
#include "request.h"
#include "loop.h"

#define PROBLEM_BASE "https://fairbeta.dev/problems/"

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

/* ---- lifetime ---- */

struct reqctx *
request_new(struct evhttp_request *req, struct loop *loop)
{
	struct reqctx *rc = fb_calloc(1, sizeof(*rc));

	atomic_fetch_add(&loop->inflight, 1);
	rc->req = req;
	rc->loop = loop;
	rc->arena = arena_new(4096);
	rc->started_us = fb_now_us();
	rc->route_index = -1;
	return rc;
}

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

/*
 * The one place a request's reply is sent: the headers common to every
 * reply, the send, then the access log line, the metrics and the frees.
 */
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

/* Through the stages from first on (each may take the reply), then sent. */
static void
reply_through(struct reqctx *rc, int first, int status, struct evbuffer *buf)
{
	int s;

	for (s = first; s < REPLY_STAGES; s++)
		if (rc->stage[s] != NULL && rc->stage[s](rc, status, buf))
			return;
	reply_send(rc, status, buf);
}

void
reply_resume(struct reqctx *rc, enum reply_stage done, int status, struct evbuffer *buf)
{
	reply_through(rc, (int)done + 1, status, buf);
}

bool
req_caller_confirmed(struct reqctx *rc)
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
	reply_through(rc, 0, status, buf);
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
	if (!req_caller_confirmed(rc))
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
req_scope_all(const struct reqctx *rc)
{
	return rc->scope.all ? "true" : "false";
}

const char *
req_scope_owner(const struct reqctx *rc)
{
	return rc->scope.owner;
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

const char *
req_cookie(struct reqctx *rc, const char *name)
{
	const char *h = req_header(rc, "Cookie"), *p, *end, *eq;
	size_t n = strlen(name);

	for (p = h; p != NULL && *p; p = *end ? end + 1 : end) {
		while (*p == ' ')
			p++;
		end = strchr(p, ';');
		if (end == NULL)
			end = p + strlen(p);
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq != NULL && (size_t)(eq - p) == n && strncmp(p, name, n) == 0)
			return arena_strndup(rc->arena, eq + 1, (size_t)(end - eq - 1));
	}
	return NULL;
}

void
req_set_session_cookie(struct reqctx *rc, const char *token, long max_age)
{
	const char *proto = req_header(rc, "X-Forwarded-Proto");
	bool tls = proto != NULL && strcasecmp(proto, "https") == 0;

	req_set_header(rc, "Set-Cookie", arena_printf(rc->arena,
	    REQ_SESSION_COOKIE "=%s; Path=/; Max-Age=%ld; HttpOnly; SameSite=Strict%s",
	    token ? token : "", token ? max_age : 0, tls ? "; Secure" : ""));
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
