/*
 * request.h: the request context and the only ways a request is answered.
 *
 * A reqctx is created for each request the pipeline (pipeline.h) accepts and lives until
 * its single reply: it owns an arena for everything the handler allocates,
 * the request id, the authenticated user, the parsed body and query, and a
 * count of pending asynchronous work. Handlers end by calling exactly one
 * reply_* function; replying twice is a bug and aborts.
 *
 * When the client goes away mid-request, libevent detaches the request from
 * its connection; the reply still runs (and frees the request) once pending
 * work ends, so nothing is used after free and nothing leaks.
 */
#ifndef FB_REQUEST_H
#define FB_REQUEST_H

#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "arena.h"
#include "authcache.h"
#include "db.h"
#include "log.h"
#include "router.h"

struct loop;
struct reqctx;

/* A continuation of a request (after CPU work, or a drained chunk). */
typedef void req_work_fn(struct reqctx *rc);

/*
 * The stages a reply passes, in this order, before it is sent. Each is a hook
 * the request carries (NULL: none): it returns false to let the reply go on,
 * or true when it has taken the reply, and then hands it on later with
 * reply_resume(rc, its stage, ...). This module calls them and knows nothing
 * else of them.
 */
enum reply_stage {
	REPLY_CONFIRM,      /* the pipeline: a caller known only from the session hint */
	REPLY_STORE,        /* the Idempotency-Key layer: stored before it is sent */
	REPLY_STAGES,
};
typedef bool reply_stage_fn(struct reqctx *rc, int status, struct evbuffer *buf);

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
	/*
	 * What this caller sees (the route's scope for this caller, set by the
	 * pipeline before the handler runs): every object, or only owner's
	 * (NULL: nobody's, only what is public). Queries take both as explicit
	 * parameters, req_scope_all() and req_scope_owner(), in the form
	 * ($all::boolean OR x.owner = $owner::uuid), so that a parameter left
	 * out denies instead of showing everything.
	 */
	struct {
		bool all;
		const char *owner;
		bool ledger_only;       /* SCOPE_LEDGER as finance */
	} scope;
	char token_hash[65];             /* the session token's SHA-256, hex */
	bool by_cookie;                  /* the token came in the console's cookie */
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
	reply_stage_fn *stage[REPLY_STAGES];
	void *h;                         /* the handler's own state (arena) */
	struct {                         /* Idempotency-Key (idem.c) */
		char *key;               /* arena; NULL without the header */
		char hash[65];           /* of the request */
		char token[40];          /* this request's claim */
		bool pending;            /* the claim has not been sent yet */
		bool taken;              /* answered from the key's row: nothing to store */
	} idem;
	struct {                         /* why a step refused (req_refuse) */
		int status;
		const char *slug;
		char *detail;            /* arena */
		json_t *ext;
	} refusal;
};

/* ---- replies: each ends the request ---- */

/* A new request on loop, counted in flight until its reply is sent. */
struct reqctx *request_new(struct evhttp_request *req, struct loop *loop);

/* Hands on a reply the given stage took, to the stages after it and the send. */
void reply_resume(struct reqctx *rc, enum reply_stage done, int status,
    struct evbuffer *buf);
/*
 * Whether the caller is confirmed: looked up, or the guard of a job has
 * passed (a stream's rows, or a step, may answer before its job is done).
 */
bool req_caller_confirmed(struct reqctx *rc);
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
/* The request's scope as SQL parameters: "true" or "false"; an id or NULL. */
const char *req_scope_all(const struct reqctx *rc);
const char *req_scope_owner(const struct reqctx *rc);
/* A query parameter, or NULL. */
const char *req_query(struct reqctx *rc, const char *name);
/* A request header, or NULL. */
const char *req_header(struct reqctx *rc, const char *name);
/* A cookie of the request's Cookie header (arena), or NULL. */
const char *req_cookie(struct reqctx *rc, const char *name);
/*
 * The console's session cookie (HttpOnly, SameSite=Strict): set to token
 * for max_age seconds, or cleared when token is NULL. Secure when the
 * request came over TLS (a proxy's X-Forwarded-Proto: https).
 */
#define REQ_SESSION_COOKIE "fairbeta_session"
void req_set_session_cookie(struct reqctx *rc, const char *token, long max_age);
void req_set_header(struct reqctx *rc, const char *name, const char *value);
bool req_header_out_missing(struct reqctx *rc, const char *name);

/*
 * Records the problem that ends the request once the job rolls back, for a
 * step callback that refuses to go on: `return req_refuse(...);` (-1).
 * ext (stolen) is merged into the problem, as with reply_problem_ext().
 */
int req_refuse(struct reqctx *rc, int status, const char *slug, json_t *ext,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Whether an If-Match header value names etag (or is "*"); weak tags never do. */
bool req_if_match(const char *header, const char *etag);


/* The audit actor of this request: NULL for an anonymous caller. */
const char *req_actor_id(struct reqctx *rc);
const char *req_actor_role(struct reqctx *rc);

#endif
