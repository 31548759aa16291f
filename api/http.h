/*
 * http.h: the request context and the only ways a request is answered.
 *
 * A reqctx is created for each request the router accepts and lives until
 * its single reply: it owns an arena for everything the handler allocates,
 * the request id, the authenticated user, the parsed body and query, and a
 * count of pending asynchronous work. Handlers end by calling exactly one
 * reply_* function; replying twice is a bug and aborts.
 *
 * When the client goes away mid-request, libevent detaches the request from
 * its connection; the reply still runs (and frees the request) once pending
 * work ends, so nothing is used after free and nothing leaks.
 */
#ifndef FB_HTTP_H
#define FB_HTTP_H

#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "arena.h"
#include "db.h"
#include "log.h"
#include "router.h"

struct loop;
struct reqctx;

/* A continuation of a request (after CPU work, or a drained chunk). */
typedef void req_work_fn(struct reqctx *rc);

struct auth_user {
	char id[40];
	char session_id[40];
	char role[16];
	unsigned role_bit;
	char *email;                /* arena */
	char *display_name;         /* arena */
	char *created_at;           /* arena */
};

struct reqctx {
	struct evhttp_request *req;
	struct loop *loop;
	struct arena *arena;
	struct log_ctx log;
	const struct route *route;
	int route_index;
	unsigned method;
	char *path;                      /* arena: the decoded path */
	struct route_match match;
	struct evkeyvalq query;
	bool query_parsed;
	struct auth_user user;
	bool authed;
	char token_hash[65];             /* the bearer token's SHA-256, hex */
	bool auth_hint;                  /* running as the cached caller, unconfirmed */
	struct db_job *guarded;          /* the running job that carries the guard */
	struct {                         /* a reply waiting for that confirmation */
		int status;
		struct evbuffer *buf;
	} held;
	json_t *body;                    /* parsed JSON body, if the route takes one */
	json_t *body_errors;             /* RT_BODY_MORE: the schema's problems (req_body_errors) */
	int64_t started_us;
	int status;
	bool replied;
	bool observe;                    /* counted in the request metrics */
	struct {                         /* a streamed reply (reply_stream_*) */
		bool on;
		bool gone;               /* the client closed the connection */
		req_work_fn *drained;    /* waiting for the client to take a chunk */
		struct evhttp_connection *conn;
	} stream;
	void *h;                         /* the handler's own state (arena) */
	struct {                         /* Idempotency-Key (idem.c) */
		char *key;               /* arena; NULL without the header */
		char hash[65];
		bool claimed;            /* this request runs under the key */
	} idem;
	struct {                         /* why a step refused (req_refuse) */
		int status;
		const char *slug;
		char *detail;            /* arena */
		json_t *ext;
	} refusal;
};

/* The request entry point, given to evhttp_set_gencb with a http_listener. */
void http_dispatch(struct evhttp_request *req, void *loop);

/* ---- replies: each ends the request ---- */

/* For idem.c: sends a reply whose storing under its key has finished. */
void reply_after_store(struct reqctx *rc, int status, struct evbuffer *buf);
/* A stored reply sent again as it was (idempotent replays). */
void reply_raw(struct reqctx *rc, int status, const char *content_type, const char *body);
/* 2xx/3xx with a JSON body (stolen). */
void reply_json(struct reqctx *rc, int status, json_t *body);
/* Same, with an ETag computed from the body (If-None-Match gives 304). */
void reply_json_etag(struct reqctx *rc, int status, json_t *body);
void reply_empty(struct reqctx *rc, int status);
void reply_text(struct reqctx *rc, int status, const char *content_type,
    struct evbuffer *buf);
/* RFC 9457 problem document. slug names the type URI. detail is printf-like. */
void reply_problem(struct reqctx *rc, int status, const char *slug,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* A problem with extra members (stolen) merged in. */
void reply_problem_ext(struct reqctx *rc, int status, const char *slug,
    json_t *ext, const char *detail);
/* 422 with errors [{field, message}] (stolen). */
void reply_invalid(struct reqctx *rc, json_t *errors);
/* Same, with a given ETag (a quoted string). */
void reply_json_tagged(struct reqctx *rc, int status, json_t *body, const char *etag);
/*
 * Maps a failed job to its reply: the problem a step recorded with
 * req_refuse() when the job was DB_ABORTED, else 503 (busy/unavailable) or
 * 500, logging the cause.
 */
void reply_db_failure(struct reqctx *rc, struct db_job *job, enum db_status st);
/*
 * The status reply_db_failure() gives a statement that failed with this
 * SQLSTATE: 422 for a value the database refuses (classes 22, 23 but
 * 23503/23505, 54), 409 for unique and foreign-key conflicts, 503 for lost
 * races (class 40, after the pool's retries), timeouts and exhausted
 * resources, and 500 for anything else, which is a bug of ours.
 */
int http_sqlstate_status(const char *sqlstate);

/*
 * Streamed replies (exports), with chunked encoding: begin, any number of
 * chunks, end. A chunk is handed to libevent only when the client has
 * taken the previous one, so memory stays flat whatever the size: chunk()
 * moves buf's contents out and later calls drained(rc), once the client
 * has read it or has gone. It returns false when the client has gone (then
 * stop producing and end). end() ends the request; complete false cuts the
 * response short, so the client sees it is incomplete.
 */
void reply_stream_begin(struct reqctx *rc, const char *content_type);
bool reply_stream_chunk(struct reqctx *rc, struct evbuffer *buf, req_work_fn *drained);
void reply_stream_end(struct reqctx *rc, bool complete);

/* ---- request helpers ---- */

/* A path capture by position (0-based), NUL-terminated. */
const char *req_param(struct reqctx *rc, int i);
/* A path capture that must be a UUID, or NULL (the caller answers 404). */
const char *req_param_uuid(struct reqctx *rc, int i);
/* The artist a query should limit programs to: the caller when an artist. */
const char *req_viewer(struct reqctx *rc);
/* A query parameter, or NULL. */
const char *req_query(struct reqctx *rc, const char *name);
/* A request header, or NULL. */
const char *req_header(struct reqctx *rc, const char *name);
void req_set_header(struct reqctx *rc, const char *name, const char *value);
bool req_header_out_missing(struct reqctx *rc, const char *name);

/*
 * Submits a job; done(rc, job, st) is called exactly once: later, or at once
 * with job NULL when the pool refuses it (DB_BUSY, DB_UNAVAILABLE). Either
 * way done decides the reply; reply_db_failure() accepts a NULL job.
 */
typedef void req_db_fn(struct reqctx *rc, struct db_job *job, enum db_status st);
void req_db(struct reqctx *rc, struct db_job *job, req_db_fn *done);

/*
 * Runs work(rc) on the hashing threads, then done(rc) on this loop. On a
 * full queue it replies 503 itself and returns -1.
 */
int req_offload(struct reqctx *rc, req_work_fn *work, req_work_fn *done);

/* The request a step callback's arg belongs to (jobs sent with req_db). */
struct reqctx *req_of(void *step_arg);
/*
 * Records the problem that ends the request once the job rolls back, for a
 * step callback that refuses to go on: `return req_refuse(...);` (-1).
 * ext (stolen) is merged into the problem, as with reply_problem_ext().
 */
int req_refuse(struct reqctx *rc, int status, const char *slug, json_t *ext,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Whether an If-Match header value names etag (or is "*"); weak tags never do. */
bool req_if_match(const char *header, const char *etag);

/*
 * On an RT_BODY_MORE route: the problems the route's body schema found, as
 * an errors array for reply_invalid() (the caller owns it). The handler adds
 * its own checks' problems and answers 422 when there is any; a success
 * reply to a body with schema problems left untaken is a bug and aborts.
 * Calling it on another route aborts too: there the pipeline has answered.
 */
json_t *req_body_errors(struct reqctx *rc);

/* The caller's session has ended: this loop stops holding it as a hint. */
void req_forget_session(struct reqctx *rc);

/* The audit actor of this request: NULL for an anonymous caller. */
const char *req_actor_id(struct reqctx *rc);
const char *req_actor_role(struct reqctx *rc);

#endif
