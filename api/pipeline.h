/*
 * pipeline.h: from a request's arrival to its handler, and the handler's way
 * to the database.
 *
 * http_dispatch() makes the request (request.h), routes it, checks its
 * headers and query, authenticates the caller, decodes and checks the body
 * against the route's schema, runs the Idempotency-Key stage (idem.h), and
 * calls the route's handler: the pipeline is the only caller of handlers.
 * Handlers send their statements with req_db(), which carries the guards the
 * pipeline needs (the session hint's) in the job's first flight.
 */
#ifndef FB_PIPELINE_H
#define FB_PIPELINE_H

#include "request.h"

/* The request entry point, given to evhttp_set_gencb with a http_listener. */
void http_dispatch(struct evhttp_request *req, void *loop);

/*
 * Submits a job. done(rc, job) is called once the job has succeeded; a job
 * that failed (or that the pool refused) is answered by reply_db_failure()
 * instead, with the problem a step recorded with req_refuse() when there is
 * one. Either way the request gets exactly one reply.
 */
typedef void req_db_fn(struct reqctx *rc, struct db_job *job);
void req_db(struct reqctx *rc, struct db_job *job, req_db_fn *done);

/*
 * The same for a caller that answers some failures in words of its own
 * (a posting the ledger refused, say): done(rc, job, st) sees every outcome,
 * job NULL when the pool refused it; reply_db_failure() accepts a NULL job.
 */
typedef void req_db_any_fn(struct reqctx *rc, struct db_job *job, enum db_status st);
void req_db_any(struct reqctx *rc, struct db_job *job, req_db_any_fn *done);

/*
 * Runs work(rc) on the hashing threads, then done(rc) on this loop. On a
 * full queue it replies 503 itself and returns -1.
 */
int req_offload(struct reqctx *rc, req_work_fn *work, req_work_fn *done);

/* The request a step callback's arg belongs to (jobs sent with req_db). */
struct reqctx *req_of(void *step_arg);

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

#endif
