/*
 * db.h: PostgreSQL connections driven by a libevent loop. Never blocks.
 *
 * A pool belongs to one event loop and owns a fixed number of connections,
 * each connected with PQconnectStartParams/PQconnectPoll and switched to
 * non-blocking mode. Work is submitted as a job: an ordered list of
 * parameterized statements run on one connection, optionally wrapped in a
 * transaction. Jobs wait in a bounded FIFO when every connection is busy.
 *
 * Round trips (issue 11). Every connection runs in libpq's pipeline mode
 * and prepares each statement the first time it runs it, keyed by the SQL
 * text (callers pass SQL constants; they never name statements; the cache
 * is bounded, DB_PREPARED_MAX per connection, beyond which statements run
 * unnamed). A job goes out in flights, each ended by a Sync: the first
 * carries BEGIN, the guard, and every statement up to and including the
 * first one with a step callback; the next flight goes out once that step
 * has decided; COMMIT rides with the last statements when no step waits on
 * them. A job without steps is thus one round trip, BEGIN to COMMIT. A
 * failure aborts the rest of its flight (PGRES_PIPELINE_ABORTED) and the
 * job rolls back as before. A flight without BEGIN runs as one implicit
 * transaction: a job without DB_TX whose statements write must still keep
 * each write in its own flight (behind a step) if they may commit apart.
 *
 * After a reconnect the new connection prepares afresh; a statement whose
 * plan a migration invalidated ("cached plan must not change result type",
 * 0A000) makes the connection forget every prepared statement (DEALLOCATE
 * ALL) and the job run again, so no request fails for it.
 *
 * Connections that break are replaced with exponential backoff; the job that
 * was running on one finishes with DB_UNAVAILABLE. A connection left inside a
 * transaction (failed or not) is rolled back before it is reused.
 */
#ifndef FB_DB_H
#define FB_DB_H

#include <libpq-fe.h>

/*
 * A cell of a result, never NULL: "" (and an error in the log) for a row or
 * column outside it, where libpq's PQgetvalue returns NULL. Every reader of
 * results includes this header, and the macro below routes PQgetvalue
 * through it, so a statement that returns no row where its reader assumed
 * one (issue 10: the cash of a program never funded) can never crash the
 * server. Readers still check PQntuples before row 0; this is the net.
 */
const char *db_value(const PGresult *r, int row, int col);
#define PQgetvalue(r, row, col) db_value((r), (row), (col))

struct event_base;
struct db_pool;
struct db_job;

enum db_status {
	DB_OK = 0,       /* every statement ran; committed when DB_TX */
	DB_SQL_ERROR,    /* a statement failed (see db_job_sqlstate); rolled back */
	DB_ABORTED,      /* a step callback refused to go on: rolled back with DB_TX;
	                  * without it, nothing after that step ran */
	DB_UNAVAILABLE,  /* no usable connection, or it broke during the job */
	DB_BUSY,         /* the wait queue is full, or the job waited too long */
};

enum {
	DB_TX = 1 << 0,     /* BEGIN ... COMMIT around the statements */
	/*
	 * Rerun from the start on 40001/40P01 (5 tries). Every DB_TX job gets it:
	 * step callbacks must therefore be rerunnable (decide from the result,
	 * append statements; keep nothing they cannot recompute).
	 */
	DB_RETRY = 1 << 1,
	DB_STREAM = 1 << 2, /* set by db_job_set_rows() */
};

struct db_pool_opts {
	const char *url;            /* libpq URL or key=value string */
	const char *application_name;
	int size;                   /* connections */
	int queue_max;              /* waiting jobs before DB_BUSY */
	int queue_timeout_ms;       /* longest wait before DB_BUSY */
	int statement_timeout_ms;   /* 0: server default */
	int connect_timeout_ms;     /* one connection attempt, every host; 0: 5000 */
};

struct db_pool_stats {
	int conns, ready, in_use, waiting;
	long long flights;      /* round trips: Syncs sent */
	long long statements;   /* statements run, BEGIN/COMMIT aside */
	long long prepares;     /* statements prepared (once per connection each) */
	long long replans;      /* jobs run again after a migration changed a plan */
};

/* Prepared statements kept per connection; more distinct SQL runs unnamed. */
#define DB_PREPARED_MAX 256

/*
 * Called after each statement succeeds, in order, with its result (valid only
 * during the call). Return 0 to go on; -1 to stop and roll back (the job ends
 * with DB_ABORTED). The callback may db_job_add() further statements.
 */
typedef int db_step_fn(struct db_job *job, const PGresult *res, void *arg);

/*
 * Called exactly once per accepted job, from the loop. Results are readable
 * with db_job_result() during the call; the pool frees the job afterwards.
 */
typedef void db_done_fn(struct db_job *job, enum db_status st, void *arg);

/*
 * Streaming: the job's last statement runs in single-row mode and each row
 * goes to rows() as it arrives (the result is valid during the call only).
 * rows() returns 0 to go on or 1 to pause: the connection then stops
 * reading, so the server waits and memory stays flat, until
 * db_job_resume(). A paused job holds its connection: resume it always.
 */
typedef int db_row_fn(struct db_job *job, const PGresult *row, void *arg);
void db_job_set_rows(struct db_job *job, db_row_fn *rows);
void db_job_resume(struct db_job *job);
/*
 * Gives up a running job (a stream nobody reads any more): its connection
 * is closed, the server stops the query, the job ends DB_UNAVAILABLE and
 * the pool connects anew.
 */
void db_job_cancel(struct db_job *job);

/*
 * NOTIFY: fn(channel, arg) for every notification any of the pool's
 * connections receives (after a job has run LISTEN on it). A connection
 * that is replaced forgets its LISTEN: run it again from time to time.
 */
typedef void db_notify_fn(const char *channel, void *arg);
void db_pool_on_notify(struct db_pool *pool, db_notify_fn *fn, void *arg);

struct db_pool *db_pool_new(struct event_base *base, const struct db_pool_opts *o);
/* Closes connections; jobs still waiting or running end with DB_UNAVAILABLE. */
void db_pool_free(struct db_pool *pool);
void db_pool_stats(struct db_pool *pool, struct db_pool_stats *out);

struct db_job *db_job_new(unsigned flags);
void db_job_free(struct db_job *job);

/*
 * The parameters of a statement, counted by the compiler: DB_PARAMS(a, b)
 * is "2, (const char *const[]){ a, b }", so no count is written by hand and
 * each argument must be a string (NULL is SQL NULL).
 */
#define DB_PARAMS(...) \
	(int)(sizeof((const char *[]){ NULL, __VA_ARGS__ }) / sizeof(const char *) - 1), \
	((const char *const[]){ NULL, __VA_ARGS__ } + 1)

/*
 * Appends a statement with its text parameters (copied): db_job_add(job,
 * step, sql, p1, p2, ...). Returns its index for db_job_result().
 */
#define db_job_add(job, step, ...) db_job_add_sql(job, step, __VA_ARGS__)
#define db_job_add_sql(job, step, sql, ...) \
	db_job_addv((job), (step), (sql), DB_PARAMS(__VA_ARGS__))
int db_job_addv(struct db_job *job, db_step_fn *step, const char *sql,
    int nparams, const char *const *params);

/*
 * A statement run after the transaction's COMMIT, in the same flight, as a
 * transaction of its own (DB_TX jobs only; not with a stream): what a caller
 * reads back once its change is committed, so that the locks the change took
 * are not held while the read runs. It runs only when every statement and
 * the COMMIT succeeded (a failure skips the rest of the flight). Returns an
 * index (DB_AFTER_BASE + n) for db_job_result(). When it fails the job
 * reports the failure though its transaction committed; a plan a migration
 * changed reruns only these statements.
 */
#define DB_AFTER_BASE (1 << 24)
#define db_job_add_after(job, ...) db_job_add_after_sql(job, __VA_ARGS__)
#define db_job_add_after_sql(job, sql, ...) \
	db_job_add_afterv((job), (sql), DB_PARAMS(__VA_ARGS__))
int db_job_add_afterv(struct db_job *job, const char *sql, int nparams,
    const char *const *params);

/*
 * Guards: statements run before the job's own, in the order added, inside
 * its transaction and in its first flight, whose results are not the job's.
 * When one fails, the whole flight is aborted and the job ends DB_SQL_ERROR
 * with its SQLSTATE, so nothing the job would have done happens (the API
 * checks a session, and claims an Idempotency-Key, this way in the same
 * round trip as the request's first statements). The SQLSTATE tells which.
 */
#define DB_GUARDS_MAX 4
void db_job_add_guard(struct db_job *job, const char *sql, int nparams,
    const char *const *params);
enum db_guard {
	DB_GUARD_UNKNOWN = 0,  /* no guard, or they never all ran (the job never did) */
	DB_GUARD_PASSED,       /* every guard */
	DB_GUARD_FAILED,       /* one of them, and the job with it: DB_SQL_ERROR */
};
enum db_guard db_job_guard(struct db_job *job);

/* Accessors accept a NULL job (a refused submission) and return NULL or "". */
const PGresult *db_job_result(struct db_job *job, int index);
const char *db_job_sqlstate(struct db_job *job);   /* "" unless DB_SQL_ERROR */
const char *db_job_errmsg(struct db_job *job);
const char *db_job_constraint(struct db_job *job); /* violated constraint name or "" */

/*
 * Hands the job to the pool. Returns DB_OK when accepted (done will be called
 * later, never from inside this call); otherwise DB_BUSY or DB_UNAVAILABLE,
 * the job has been freed and done will not be called.
 */
enum db_status db_submit(struct db_pool *pool, struct db_job *job,
    db_done_fn *done, void *arg);

const char *db_status_str(enum db_status st);

#endif
