#include "fb.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <sys/queue.h>

#include <event2/event.h>

#include "db.h"
#include "log.h"

#define DB_MAX_TRIES      5
#define DB_BACKOFF_MIN_MS 100
#define DB_BACKOFF_MAX_MS 2000

struct db_stmt {
	const char *sql;       /* static: the caller's literal */
	int nparams;
	char **params;
	db_step_fn *step;
	PGresult *res;
};

struct db_job {
	TAILQ_ENTRY(db_job) link;
	unsigned flags;
	struct db_stmt *stmts;
	int nstmts, cap;
	int nsubmitted;        /* statements added before db_submit: a retry keeps these */
	int tries;
	db_done_fn *done;
	void *arg;
	int64_t enqueued_us;
	db_row_fn *rows;       /* DB_STREAM: gets the last statement's rows */
	struct db_conn *conn;  /* while running */
	char sqlstate[6];
	char *errmsg;
	char *constraint;
};

TAILQ_HEAD(db_jobq, db_job);

/* A connection's life. conn_set_state() is the only place that changes it. */
enum conn_state {
	CONN_DOWN,        /* no socket; a backoff timer will reconnect */
	CONN_CONNECTING,  /* PQconnectPoll in progress */
	CONN_IDLE,        /* ready for a job */
	CONN_BUSY,        /* running a job */
	CONN_RESET,       /* rolling back a transaction left open, then idle */
};

static const char *conn_state_names[] = {
	"down", "connecting", "idle", "busy", "reset",
};

/* Where a running job is: which command is in flight. */
enum job_phase { PH_BEGIN, PH_STMT, PH_COMMIT, PH_ROLLBACK };

struct db_conn {
	struct db_pool *pool;
	int id;
	PGconn *pg;
	enum conn_state state;
	int fd;
	struct event *ev_read, *ev_write;
	struct event *ev_timer;     /* reconnect backoff and deferred breakage */
	bool want_write;            /* during connect: poll asked for writability */
	bool break_pending;
	int backoff_ms;
	struct db_job *job;
	enum job_phase phase;
	int cur;
	bool inflight;
	bool paused;                /* a stream's consumer is full: stop reading */
	PGresult *pending;
	enum db_status outcome;     /* what a rollback in progress ends with */
};

struct db_pool {
	struct event_base *base;
	struct db_pool_opts opts;
	char *url, *appname, *options;
	struct db_conn *conns;
	struct db_jobq queue;
	int queue_len;
	struct event *ev_queue;
	atomic_int n_ready, n_in_use, n_waiting;
	bool closing;
	bool ever_ready;           /* a connection has been ready once: past start-up */
	db_notify_fn *on_notify;
	void *notify_arg;
};

static void conn_start(struct db_conn *c);
static void conn_io_cb(evutil_socket_t fd, short what, void *arg);
static void conn_dispatch(struct db_conn *c);
static void conn_send_next(struct db_conn *c);
static void conn_broken(struct db_conn *c, const char *why);

const char *
db_status_str(enum db_status st)
{
	static const char *names[] = { "ok", "sql_error", "aborted", "unavailable", "busy" };

	return (unsigned)st < FB_ARRAY_LEN(names) ? names[st] : "?";
}

/* ---- jobs ------------------------------------------------------------- */

const char *
db_value(const PGresult *r, int row, int col)
{
	/* the parentheses call libpq's own function, not the macro */
	const char *v = r != NULL ? (PQgetvalue)(r, row, col) : NULL;

	if (v == NULL) {
		log_error(NULL, "db: row %d, column %d is outside a result of %d rows; read as empty",
		    row, col, r != NULL ? PQntuples(r) : -1);
		return "";
	}
	return v;
}

struct db_job *
db_job_new(unsigned flags)
{
	struct db_job *job = fb_calloc(1, sizeof(*job));

	/* a transaction is all or nothing, so rerunning it is always safe: every
	 * one is retried on serialization failure or deadlock */
	job->flags = (flags & DB_TX) ? flags | DB_RETRY : flags;
	return job;
}

static void
stmt_clear(struct db_stmt *s)
{
	int i;

	for (i = 0; i < s->nparams; i++)
		free(s->params[i]);
	free(s->params);
	PQclear(s->res);
	memset(s, 0, sizeof(*s));
}

static void
job_clear_error(struct db_job *job)
{
	job->sqlstate[0] = '\0';
	free(job->errmsg);
	free(job->constraint);
	job->errmsg = job->constraint = NULL;
}

void
db_job_free(struct db_job *job)
{
	int i;

	if (job == NULL)
		return;
	for (i = 0; i < job->nstmts; i++)
		stmt_clear(&job->stmts[i]);
	free(job->stmts);
	job_clear_error(job);
	free(job);
}

int
db_job_addv(struct db_job *job, db_step_fn *step, const char *sql,
    int nparams, const char *const *params)
{
	struct db_stmt *s;
	int i;

	if (job->nstmts == job->cap) {
		job->cap = job->cap ? job->cap * 2 : 4;
		job->stmts = fb_realloc(job->stmts, (size_t)job->cap * sizeof(*s));
	}
	s = &job->stmts[job->nstmts];
	memset(s, 0, sizeof(*s));
	s->sql = sql;
	s->step = step;
	s->nparams = nparams;
	s->params = fb_calloc((size_t)FB_MAX(nparams, 1), sizeof(char *));
	for (i = 0; i < nparams; i++)
		s->params[i] = params[i] ? fb_strdup(params[i]) : NULL;
	return job->nstmts++;
}

int
db_job_add(struct db_job *job, db_step_fn *step, const char *sql, int nparams, ...)
{
	const char *params[64];
	va_list ap;
	int i;

	if (nparams < 0 || nparams > (int)FB_ARRAY_LEN(params))
		fb_fatal("db_job_add: %d parameters", nparams);
	va_start(ap, nparams);
	for (i = 0; i < nparams; i++)
		params[i] = va_arg(ap, const char *);
	va_end(ap);
	return db_job_addv(job, step, sql, nparams, params);
}

const PGresult *
db_job_result(struct db_job *job, int index)
{
	if (job == NULL || index < 0 || index >= job->nstmts)
		return NULL;
	return job->stmts[index].res;
}

const char *
db_job_sqlstate(struct db_job *job)
{
	return job ? job->sqlstate : "";
}

const char *
db_job_errmsg(struct db_job *job)
{
	return job && job->errmsg ? job->errmsg : "";
}

const char *
db_job_constraint(struct db_job *job)
{
	return job && job->constraint ? job->constraint : "";
}

static void
job_record_error(struct db_job *job, const PGresult *res, PGconn *pg)
{
	const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(pg);
	const char *con = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;

	job_clear_error(job);
	snprintf(job->sqlstate, sizeof(job->sqlstate), "%s", st ? st : "XX000");
	job->errmsg = fb_strdup(msg ? msg : "");
	job->constraint = fb_strdup(con ? con : "");
}

/* Makes the job ready to run again from its first statement. */
static void
job_rewind(struct db_job *job)
{
	int i;

	for (i = job->nsubmitted; i < job->nstmts; i++)
		stmt_clear(&job->stmts[i]);
	job->nstmts = job->nsubmitted;
	for (i = 0; i < job->nstmts; i++) {
		PQclear(job->stmts[i].res);
		job->stmts[i].res = NULL;
	}
	job_clear_error(job);
}

static void
job_finish(struct db_job *job, enum db_status st)
{
	job->done(job, st, job->arg);
	db_job_free(job);
}

/* ---- the wait queue --------------------------------------------------- */

static void
queue_arm(struct db_pool *pool)
{
	struct db_job *head = TAILQ_FIRST(&pool->queue);
	int64_t left;
	struct timeval tv;

	if (head == NULL) {
		event_del(pool->ev_queue);
		return;
	}
	left = head->enqueued_us + (int64_t)pool->opts.queue_timeout_ms * 1000 - fb_now_us();
	if (left < 0)
		left = 0;
	tv.tv_sec = left / 1000000;
	tv.tv_usec = left % 1000000;
	event_add(pool->ev_queue, &tv);
}

static struct db_job *
queue_pop(struct db_pool *pool)
{
	struct db_job *job = TAILQ_FIRST(&pool->queue);

	if (job != NULL) {
		TAILQ_REMOVE(&pool->queue, job, link);
		pool->queue_len--;
		atomic_store(&pool->n_waiting, pool->queue_len);
	}
	return job;
}

static void
queue_expire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db_pool *pool = arg;
	int64_t limit = (int64_t)pool->opts.queue_timeout_ms * 1000;
	int64_t now = fb_now_us();
	struct db_job *job;

	FB_UNUSED(fd);
	FB_UNUSED(what);
	while ((job = TAILQ_FIRST(&pool->queue)) != NULL &&
	    now - job->enqueued_us >= limit) {
		queue_pop(pool);
		log_warn(NULL, "db: job waited %lld ms for a connection",
		    (long long)((now - job->enqueued_us) / 1000));
		job_finish(job, DB_BUSY);
	}
	queue_arm(pool);
}

static void
queue_fail_all(struct db_pool *pool, enum db_status st)
{
	struct db_job *job;

	while ((job = queue_pop(pool)) != NULL)
		job_finish(job, st);
	event_del(pool->ev_queue);
}

/* ---- connection state ------------------------------------------------- */

static bool
state_ready(enum conn_state s)
{
	return s == CONN_IDLE || s == CONN_BUSY || s == CONN_RESET;
}

static bool
state_in_use(enum conn_state s)
{
	return s == CONN_BUSY || s == CONN_RESET;
}

/*
 * The single transition function: refuses impossible moves (a bug, so
 * fatal) and keeps the pool's counters in step with the states.
 */
static void
conn_set_state(struct db_conn *c, enum conn_state to)
{
	static const unsigned allowed[] = {
		[CONN_DOWN]       = 1u << CONN_CONNECTING | 1u << CONN_DOWN,
		[CONN_CONNECTING] = 1u << CONN_IDLE | 1u << CONN_DOWN,
		[CONN_IDLE]       = 1u << CONN_BUSY | 1u << CONN_DOWN,
		[CONN_BUSY]       = 1u << CONN_IDLE | 1u << CONN_RESET | 1u << CONN_DOWN | 1u << CONN_BUSY,
		[CONN_RESET]      = 1u << CONN_IDLE | 1u << CONN_DOWN,
	};
	enum conn_state from = c->state;
	struct db_pool *pool = c->pool;

	if (!(allowed[from] & (1u << to)))
		fb_fatal("db conn %d: %s -> %s", c->id, conn_state_names[from],
		    conn_state_names[to]);
	if (state_ready(from) != state_ready(to))
		atomic_fetch_add(&pool->n_ready, state_ready(to) ? 1 : -1);
	if (state_ready(to))
		pool->ever_ready = true;
	if (state_in_use(from) != state_in_use(to))
		atomic_fetch_add(&pool->n_in_use, state_in_use(to) ? 1 : -1);
	c->state = to;
	if (from != to)
		log_debug(NULL, "db conn %d: %s -> %s", c->id, conn_state_names[from],
		    conn_state_names[to]);
}

/*
 * Start-up: no connection has been ready yet and a first attempt is still
 * under way. Jobs then wait (bounded by the queue) instead of failing, so a
 * server that was just started does not answer 503 to its first requests;
 * if every attempt fails, conn_broken() fails them. Past start-up, no ready
 * connection means an outage, and jobs fail at once.
 */
static bool
pool_starting(struct db_pool *pool)
{
	int i;

	if (pool->ever_ready)
		return false;
	for (i = 0; i < pool->opts.size; i++)
		if (pool->conns[i].state == CONN_CONNECTING)
			return true;
	return false;
}

static int
pool_ready_count(struct db_pool *pool)
{
	return atomic_load(&pool->n_ready);
}

static void
conn_events_free(struct db_conn *c)
{
	if (c->ev_read) {
		event_free(c->ev_read);
		c->ev_read = NULL;
	}
	if (c->ev_write) {
		event_free(c->ev_write);
		c->ev_write = NULL;
	}
	c->fd = -1;
}

/* (Re)creates the socket events when libpq's socket changes. */
static void
conn_events_for_socket(struct db_conn *c)
{
	int fd = PQsocket(c->pg);

	if (fd == c->fd && c->ev_read != NULL)
		return;
	conn_events_free(c);
	c->fd = fd;
	c->ev_read = event_new(c->pool->base, fd, EV_READ, conn_io_cb, c);
	c->ev_write = event_new(c->pool->base, fd, EV_WRITE, conn_io_cb, c);
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db_conn *c = arg;

	FB_UNUSED(fd);
	FB_UNUSED(what);
	if (c->break_pending) {
		c->break_pending = false;
		conn_broken(c, PQerrorMessage(c->pg));
		return;
	}
	if (c->state == CONN_DOWN && !c->pool->closing)
		conn_start(c);
}

static void
conn_schedule_reconnect(struct db_conn *c)
{
	struct timeval tv;
	int ms = c->backoff_ms;

	/* jitter: 75%..125% so that loops do not reconnect in lockstep */
	ms = ms * 3 / 4 + (int)(random() % (ms / 2 + 1));
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	event_add(c->ev_timer, &tv);
	c->backoff_ms = FB_MIN(c->backoff_ms * 2, DB_BACKOFF_MAX_MS);
}

/*
 * The connection is unusable: close it, fail its job, schedule a reconnect.
 * When no connection is left ready, waiting jobs fail at once rather than
 * hang until their timeout.
 */
static void
conn_broken(struct db_conn *c, const char *why)
{
	struct db_pool *pool = c->pool;
	struct db_job *job = c->job;
	char msg[200];

	snprintf(msg, sizeof(msg), "%s", why ? why : "");
	msg[strcspn(msg, "\n")] = '\0';
	if (c->state != CONN_CONNECTING || c->backoff_ms <= DB_BACKOFF_MIN_MS)
		log_warn(NULL, "db conn %d: lost (%s): %s", c->id,
		    conn_state_names[c->state], msg);
	c->job = NULL;
	c->inflight = false;
	PQclear(c->pending);
	c->pending = NULL;
	conn_events_free(c);
	PQfinish(c->pg);
	c->pg = NULL;
	conn_set_state(c, CONN_DOWN);
	if (!pool->closing)
		conn_schedule_reconnect(c);
	if (job != NULL)
		job_finish(job, DB_UNAVAILABLE);
	if (pool_ready_count(pool) == 0 && !pool_starting(pool))
		queue_fail_all(pool, DB_UNAVAILABLE);
}

/* A failure found while sending is handled from the loop, never re-entrantly. */
static void
conn_defer_break(struct db_conn *c)
{
	c->break_pending = true;
	event_active(c->ev_timer, EV_TIMEOUT, 1);
}

static void
conn_connect_poll(struct db_conn *c)
{
	switch (PQconnectPoll(c->pg)) {
	case PGRES_POLLING_READING:
		conn_events_for_socket(c);
		c->want_write = false;
		event_add(c->ev_read, NULL);
		break;
	case PGRES_POLLING_WRITING:
		conn_events_for_socket(c);
		c->want_write = true;
		event_add(c->ev_write, NULL);
		break;
	case PGRES_POLLING_OK:
		if (PQsetnonblocking(c->pg, 1) != 0) {
			conn_broken(c, "cannot set non-blocking mode");
			break;
		}
		conn_events_for_socket(c);
		c->backoff_ms = DB_BACKOFF_MIN_MS;
		conn_set_state(c, CONN_IDLE);
		log_info(NULL, "db conn %d: ready", c->id);
		event_add(c->ev_read, NULL);
		conn_dispatch(c);
		break;
	default:
		conn_broken(c, PQerrorMessage(c->pg));
		break;
	}
}

static void
conn_start(struct db_conn *c)
{
	struct db_pool *pool = c->pool;
	const char *keys[] = { "dbname", "application_name", "options", NULL };
	const char *vals[] = { pool->url, pool->appname, pool->options, NULL };

	c->pg = PQconnectStartParams(keys, vals, 1);
	conn_set_state(c, CONN_CONNECTING);
	if (c->pg == NULL || PQstatus(c->pg) == CONNECTION_BAD) {
		conn_broken(c, c->pg ? PQerrorMessage(c->pg) : "out of memory");
		return;
	}
	c->fd = -1;
	conn_events_for_socket(c);
	c->want_write = true;
	event_add(c->ev_write, NULL);
}

/* ---- running a job ---------------------------------------------------- */

static void
conn_send(struct db_conn *c, const char *sql, int nparams, char *const *params)
{
	int r;

	if (!PQsendQueryParams(c->pg, sql, nparams, NULL,
	    (const char *const *)params, NULL, NULL, 0)) {
		conn_defer_break(c);
		return;
	}
	c->inflight = true;
	r = PQflush(c->pg);
	if (r < 0) {
		conn_defer_break(c);
		return;
	}
	if (r == 1)
		event_add(c->ev_write, NULL);
}

static void
conn_send_simple(struct db_conn *c, const char *sql)
{
	conn_send(c, sql, 0, NULL);
}

/* Hands the connection's job back to its owner, then readies the connection. */
static void
conn_finish_job(struct db_conn *c, enum db_status st)
{
	struct db_job *job = c->job;
	const char *ss = job->sqlstate;

	if (st == DB_SQL_ERROR && (job->flags & DB_RETRY) && job->tries < DB_MAX_TRIES &&
	    (strcmp(ss, "40001") == 0 || strcmp(ss, "40P01") == 0) &&
	    PQtransactionStatus(c->pg) == PQTRANS_IDLE) {
		job->tries++;
		log_info(NULL, "db conn %d: retrying job after %s (try %d)", c->id, ss,
		    job->tries + 1);
		job_rewind(job);
		c->phase = (job->flags & DB_TX) ? PH_BEGIN : PH_STMT;
		c->cur = 0;
		if (c->phase == PH_BEGIN)
			conn_send_simple(c, "BEGIN");
		else
			conn_send_next(c);
		return;
	}
	c->job = NULL;
	c->paused = false;
	job->conn = NULL;
	job_finish(job, st);
	if (c->pg == NULL)   /* the pool is closing under us */
		return;
	if (PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
		conn_set_state(c, CONN_RESET);
		conn_send_simple(c, "ROLLBACK");
		return;
	}
	conn_set_state(c, CONN_IDLE);
	conn_dispatch(c);
}

static void
conn_fail_job(struct db_conn *c, enum db_status st)
{
	if (c->job->flags & DB_TX) {
		c->outcome = st;
		c->phase = PH_ROLLBACK;
		conn_send_simple(c, "ROLLBACK");
	} else {
		conn_finish_job(c, st);
	}
}

static void
conn_send_next(struct db_conn *c)
{
	struct db_job *job = c->job;

	if (c->cur < job->nstmts) {
		struct db_stmt *s = &job->stmts[c->cur];

		conn_send(c, s->sql, s->nparams, s->params);
		if ((job->flags & DB_STREAM) && c->cur == job->nstmts - 1 && c->inflight &&
		    !PQsetSingleRowMode(c->pg))
			conn_defer_break(c);
	} else if (job->flags & DB_TX) {
		c->phase = PH_COMMIT;
		conn_send_simple(c, "COMMIT");
	} else {
		conn_finish_job(c, DB_OK);
	}
}

/* One command finished with res (owned here). Decides what to send next. */
static void
conn_command_done(struct db_conn *c, PGresult *res)
{
	ExecStatusType rs = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	bool ok = rs == PGRES_COMMAND_OK || rs == PGRES_TUPLES_OK;
	struct db_job *job = c->job;

	c->inflight = false;
	if (c->state == CONN_RESET) {
		PQclear(res);
		conn_set_state(c, CONN_IDLE);
		conn_dispatch(c);
		return;
	}
	switch (c->phase) {
	case PH_BEGIN:
		if (!ok) {
			job_record_error(job, res, c->pg);
			PQclear(res);
			conn_finish_job(c, DB_SQL_ERROR);
			return;
		}
		PQclear(res);
		c->phase = PH_STMT;
		c->cur = 0;
		conn_send_next(c);
		break;
	case PH_STMT:
		if (!ok) {
			job_record_error(job, res, c->pg);
			PQclear(res);
			conn_fail_job(c, DB_SQL_ERROR);
			return;
		}
		job->stmts[c->cur].res = res;
		if (job->stmts[c->cur].step != NULL &&
		    job->stmts[c->cur].step(job, res, job->arg) != 0) {
			conn_fail_job(c, DB_ABORTED);
			return;
		}
		c->cur++;
		conn_send_next(c);
		break;
	case PH_COMMIT:
		if (!ok)
			job_record_error(job, res, c->pg);
		PQclear(res);
		conn_finish_job(c, ok ? DB_OK : DB_SQL_ERROR);
		break;
	case PH_ROLLBACK:
		PQclear(res);
		conn_finish_job(c, c->outcome);
		break;
	}
}

static void
conn_notifies(struct db_conn *c)
{
	PGnotify *n;

	while (c->pg != NULL && (n = PQnotifies(c->pg)) != NULL) {
		if (c->pool->on_notify != NULL)
			c->pool->on_notify(n->relname, c->pool->notify_arg);
		PQfreemem(n);
	}
}

static void
conn_read(struct db_conn *c)
{
	if (!PQconsumeInput(c->pg)) {
		conn_broken(c, PQerrorMessage(c->pg));
		return;
	}
	conn_notifies(c);
	while (c->pg != NULL && c->inflight && !c->paused && !PQisBusy(c->pg)) {
		PGresult *r = PQgetResult(c->pg);

		if (r != NULL && PQresultStatus(r) == PGRES_SINGLE_TUPLE) {
			/* a streamed row: the consumer may ask us to stop reading */
			if (c->job->rows(c->job, r, c->job->arg) != 0)
				c->paused = true;
			PQclear(r);
			continue;
		}
		if (r == NULL) {
			PGresult *res = c->pending;

			c->pending = NULL;
			conn_command_done(c, res);
			continue;
		}
		if (c->pending == NULL || PQresultStatus(r) == PGRES_FATAL_ERROR) {
			PQclear(c->pending);
			c->pending = r;
		} else {
			PQclear(r);
		}
	}
	if (c->pg == NULL)
		return;
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		conn_broken(c, PQerrorMessage(c->pg));
		return;
	}
	conn_notifies(c);    /* also those parsed along with the results */
	if (!c->paused)      /* paused: the server waits on a full socket */
		event_add(c->ev_read, NULL);
}

void
db_pool_on_notify(struct db_pool *pool, db_notify_fn *fn, void *arg)
{
	pool->on_notify = fn;
	pool->notify_arg = arg;
}

void
db_job_set_rows(struct db_job *job, db_row_fn *rows)
{
	job->rows = rows;
	job->flags |= DB_STREAM;
}

void
db_job_cancel(struct db_job *job)
{
	struct db_conn *c = job->conn;

	/* a query cannot be stopped without blocking; the connection is dropped */
	if (c != NULL && !c->break_pending) {
		c->paused = false;
		conn_defer_break(c);
	}
}

void
db_job_resume(struct db_job *job)
{
	struct db_conn *c = job->conn;

	if (c == NULL || !c->paused)
		return;
	c->paused = false;
	conn_read(c);
}

static void
conn_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db_conn *c = arg;

	FB_UNUSED(fd);
	if (c->state == CONN_CONNECTING) {
		if (((what & EV_WRITE) && c->want_write) ||
		    ((what & EV_READ) && !c->want_write))
			conn_connect_poll(c);
		return;
	}
	if (c->pg == NULL || c->break_pending)
		return;
	if (what & EV_WRITE) {
		int r = PQflush(c->pg);

		if (r < 0) {
			conn_broken(c, PQerrorMessage(c->pg));
			return;
		}
		if (r == 1)
			event_add(c->ev_write, NULL);
	}
	if (what & EV_READ)
		conn_read(c);
}

/* An idle connection takes the oldest waiting job, if any. */
static void
conn_dispatch(struct db_conn *c)
{
	struct db_job *job;

	if (c->state != CONN_IDLE || c->pool->closing)
		return;
	job = queue_pop(c->pool);
	if (job == NULL) {
		if (TAILQ_EMPTY(&c->pool->queue))
			event_del(c->pool->ev_queue);
		return;
	}
	queue_arm(c->pool);
	conn_set_state(c, CONN_BUSY);
	c->job = job;
	job->conn = c;
	c->cur = 0;
	if (job->flags & DB_TX) {
		c->phase = PH_BEGIN;
		conn_send_simple(c, "BEGIN");
	} else {
		c->phase = PH_STMT;
		conn_send_next(c);
	}
}

/* ---- the pool --------------------------------------------------------- */

struct db_pool *
db_pool_new(struct event_base *base, const struct db_pool_opts *o)
{
	struct db_pool *pool = fb_calloc(1, sizeof(*pool));
	char opts[64];
	int i;

	pool->base = base;
	pool->opts = *o;
	pool->url = fb_strdup(o->url);
	pool->appname = fb_strdup(o->application_name ? o->application_name : "fairbeta");
	snprintf(opts, sizeof(opts), "-c statement_timeout=%d", o->statement_timeout_ms);
	pool->options = fb_strdup(opts);
	TAILQ_INIT(&pool->queue);
	pool->ev_queue = evtimer_new(base, queue_expire_cb, pool);
	pool->conns = fb_calloc((size_t)o->size, sizeof(*pool->conns));
	for (i = 0; i < o->size; i++) {
		struct db_conn *c = &pool->conns[i];

		c->pool = pool;
		c->id = i;
		c->fd = -1;
		c->state = CONN_DOWN;
		c->backoff_ms = DB_BACKOFF_MIN_MS;
		c->ev_timer = evtimer_new(base, conn_timer_cb, c);
		conn_start(c);
	}
	return pool;
}

void
db_pool_free(struct db_pool *pool)
{
	int i;

	if (pool == NULL)
		return;
	pool->closing = true;
	queue_fail_all(pool, DB_UNAVAILABLE);
	for (i = 0; i < pool->opts.size; i++) {
		struct db_conn *c = &pool->conns[i];
		struct db_job *job = c->job;

		c->job = NULL;
		PQclear(c->pending);
		conn_events_free(c);
		PQfinish(c->pg);
		c->pg = NULL;
		event_free(c->ev_timer);
		if (job != NULL)
			job_finish(job, DB_UNAVAILABLE);
	}
	event_free(pool->ev_queue);
	free(pool->conns);
	free(pool->url);
	free(pool->appname);
	free(pool->options);
	free(pool);
}

void
db_pool_stats(struct db_pool *pool, struct db_pool_stats *out)
{
	out->conns = pool->opts.size;
	out->ready = atomic_load(&pool->n_ready);
	out->in_use = atomic_load(&pool->n_in_use);
	out->waiting = atomic_load(&pool->n_waiting);
}

enum db_status
db_submit(struct db_pool *pool, struct db_job *job, db_done_fn *done, void *arg)
{
	int i;

	if (job->nstmts == 0)
		fb_fatal("db_submit: a job with no statements");
	job->done = done;
	job->arg = arg;
	job->nsubmitted = job->nstmts;
	if (pool->closing || (pool_ready_count(pool) == 0 && !pool_starting(pool))) {
		db_job_free(job);
		return DB_UNAVAILABLE;
	}
	if (pool->queue_len >= pool->opts.queue_max) {
		db_job_free(job);
		return DB_BUSY;
	}
	job->enqueued_us = fb_now_us();
	TAILQ_INSERT_TAIL(&pool->queue, job, link);
	pool->queue_len++;
	atomic_store(&pool->n_waiting, pool->queue_len);
	if (pool->queue_len == 1)
		queue_arm(pool);
	for (i = 0; i < pool->opts.size && !TAILQ_EMPTY(&pool->queue); i++)
		conn_dispatch(&pool->conns[i]);
	return DB_OK;
}
