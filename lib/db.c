#include "fb.h"

#include <stdatomic.h>
#include <sys/queue.h>
#include <sys/stat.h>

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
	struct db_stmt *after; /* db_job_add_after(): run once the transaction committed */
	int nafter, capafter;
	int nafter_submitted;  /* of these, added before db_submit */
	int tries;
	db_done_fn *done;
	void *arg;
	int64_t enqueued_us;
	db_row_fn *rows;       /* DB_STREAM: gets the last statement's rows */
	struct db_conn *conn;  /* while running */
	struct db_stmt guards[DB_GUARDS_MAX];
	int nguards, guards_passed;
	enum db_guard guard_state;
	char sqlstate[6];
	char *errmsg;
	char *constraint;
};

TAILQ_HEAD(db_jobq, db_job);

/* A statement this connection has prepared, or is preparing, as "fb<n>". */
struct db_prep {
	const char *ptr;       /* the caller's pointer it was last seen under */
	char *sql;             /* owned copy: the key */
	char name[16];
	bool ready;            /* the server has confirmed the Parse */
};

/* What a connection waits for, in the order libpq hands results back. */
enum want_kind {
	W_BEGIN, W_GUARD, W_PREPARE, W_STMT, W_AFTER, W_COMMIT, W_ROLLBACK, W_OTHER, W_SYNC
};

struct want {
	enum want_kind kind;
	int arg;               /* W_STMT, W_AFTER: the statement; W_PREPARE: the cache slot */
	bool guard;            /* W_PREPARE: of the guard, whose failure it is */
};

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
	int failed_attempts;  /* connection attempts failed in a row */
	ino_t fd_ino;         /* the socket behind fd (conn_events_for_socket) */
	bool closed_toggle;
	struct db_job *job;
	bool paused;                /* a stream's consumer is full: stop reading */
	/* the pipeline: a ring of what is awaited, and the current result */
	struct want *want;
	int want_head, want_len, want_cap;
	PGresult *pending;
	/* the running job's progress */
	int sent;                   /* its next statement to send */
	int flight_first;           /* the first statement of the flight out now */
	bool began, commit_sent, committed, rolled_back, failed, single_row;
	int flights_done;           /* flights completed without a failure */
	enum db_status outcome;     /* what a failed job ends with */
	/* prepared statements (DB_PREPARED_MAX) */
	struct db_prep *prep;
	int nprep, prep_seq;
	bool deallocate;            /* forget them all before the next flight */
};

struct db_pool {
	struct event_base *base;
	struct db_pool_opts opts;
	char *url, *appname, *options;
	int connect_timeout_ms;
	/* a multi-host URL's lists (host, hostaddr, port), each rotated by one
	 * host per failed attempt: NULL for a single host or a single value */
	char *hostlist[3];
	int nhosts;
	struct db_conn *conns;
	struct db_jobq queue;
	int queue_len;
	struct event *ev_queue;
	atomic_int n_ready, n_in_use, n_waiting;
	atomic_llong n_flights, n_statements, n_prepares, n_replans;
	bool closing;
	bool ever_ready;           /* a connection has been ready once: past start-up */
	db_notify_fn *on_notify;
	void *notify_arg;
};

static void conn_start(struct db_conn *c);
static void conn_io_cb(evutil_socket_t fd, short what, void *arg);
static void conn_dispatch(struct db_conn *c);
static void conn_broken(struct db_conn *c, const char *why);
static void conn_prep_clear(struct db_conn *c);

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
	for (i = 0; i < job->nafter; i++)
		stmt_clear(&job->after[i]);
	free(job->after);
	for (i = 0; i < job->nguards; i++)
		stmt_clear(&job->guards[i]);
	job_clear_error(job);
	free(job);
}

static void
stmt_fill(struct db_stmt *s, db_step_fn *step, const char *sql, int nparams,
    const char *const *params)
{
	int i;

	memset(s, 0, sizeof(*s));
	s->sql = sql;
	s->step = step;
	s->nparams = nparams;
	s->params = fb_calloc((size_t)FB_MAX(nparams, 1), sizeof(char *));
	for (i = 0; i < nparams; i++)
		s->params[i] = params[i] ? fb_strdup(params[i]) : NULL;
}

int
db_job_addv(struct db_job *job, db_step_fn *step, const char *sql,
    int nparams, const char *const *params)
{
	if (job->nstmts == job->cap) {
		job->cap = job->cap ? job->cap * 2 : 4;
		job->stmts = fb_realloc(job->stmts, (size_t)job->cap * sizeof(*job->stmts));
	}
	stmt_fill(&job->stmts[job->nstmts], step, sql, nparams, params);
	return job->nstmts++;
}

int
db_job_add_afterv(struct db_job *job, const char *sql, int nparams,
    const char *const *params)
{
	if (!(job->flags & DB_TX))
		fb_fatal("db_job_add_after: a job without DB_TX");
	if (job->nafter == job->capafter) {
		job->capafter = job->capafter ? job->capafter * 2 : 2;
		job->after = fb_realloc(job->after, (size_t)job->capafter * sizeof(*job->after));
	}
	stmt_fill(&job->after[job->nafter], NULL, sql, nparams, params);
	return DB_AFTER_BASE + job->nafter++;
}

void
db_job_add_guard(struct db_job *job, const char *sql, int nparams,
    const char *const *params)
{
	if (job->nguards == DB_GUARDS_MAX)
		fb_fatal("db_job_add_guard: more than %d guards", DB_GUARDS_MAX);
	stmt_fill(&job->guards[job->nguards++], NULL, sql, nparams, params);
}

enum db_guard
db_job_guard(struct db_job *job)
{
	return job != NULL ? job->guard_state : DB_GUARD_UNKNOWN;
}

const PGresult *
db_job_result(struct db_job *job, int index)
{
	if (job != NULL && index >= DB_AFTER_BASE && index - DB_AFTER_BASE < job->nafter)
		return job->after[index - DB_AFTER_BASE].res;
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

static void
job_clear_after(struct db_job *job)
{
	int i;

	for (i = 0; i < job->nafter; i++) {
		PQclear(job->after[i].res);
		job->after[i].res = NULL;
	}
}

/* Makes the job ready to run again from its first statement. */
static void
job_rewind(struct db_job *job)
{
	int i;

	for (i = job->nsubmitted; i < job->nstmts; i++)
		stmt_clear(&job->stmts[i]);
	job->nstmts = job->nsubmitted;
	for (i = job->nafter_submitted; i < job->nafter; i++)
		stmt_clear(&job->after[i]);
	job->nafter = job->nafter_submitted;
	for (i = 0; i < job->nstmts; i++) {
		PQclear(job->stmts[i].res);
		job->stmts[i].res = NULL;
	}
	job_clear_after(job);
	job->guard_state = DB_GUARD_UNKNOWN;
	job->guards_passed = 0;
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

/*
 * (Re)creates the socket events when libpq's socket changes. While
 * connecting, each poll arms the one event it needs; once ready, reading
 * is persistent (no epoll change per result) and only a paused stream
 * stops it.
 *
 * libpq replaces its socket when an attempt moves on to the next host, and
 * the kernel may give the new socket the old one's number. epoll forgot the
 * old socket when it closed, but libevent's change list (the API's loops
 * use one) still believes in it: re-adding the same interest on the same
 * number would reach no system call, and the new socket would never be
 * watched. So a replaced socket (its inode differs) gets a different
 * interest set, EV_CLOSED toggled, which libevent must tell the kernel.
 */
static void
conn_events_for_socket(struct db_conn *c, bool ready)
{
	int fd = PQsocket(c->pg);
	struct stat st;
	ino_t ino = fd >= 0 && fstat(fd, &st) == 0 ? st.st_ino : 0;
	short extra;

	if (fd == c->fd && ino == c->fd_ino && c->ev_read != NULL && !ready)
		return;
	if (fd == c->fd && ino != c->fd_ino)
		c->closed_toggle = !c->closed_toggle;
	extra = c->closed_toggle ? EV_CLOSED : 0;
	conn_events_free(c);
	c->fd = fd;
	c->fd_ino = ino;
	c->ev_read = event_new(c->pool->base, fd,
	    (ready ? EV_READ | EV_PERSIST : EV_READ) | extra, conn_io_cb, c);
	c->ev_write = event_new(c->pool->base, fd, EV_WRITE | extra, conn_io_cb, c);
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
	if (c->state == CONN_CONNECTING) {
		/* libpq leaves an asynchronous attempt's time to us (connect_timeout
		 * is for blocking connects): a host that never answers ends here */
		conn_broken(c, "the connection attempt timed out");
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
	char msg[600], *nl;

	/* libpq says one line per host it tried: keep them all, on one line */
	snprintf(msg, sizeof(msg), "%s", why ? why : "");
	while ((nl = strchr(msg, '\n')) != NULL)
		*nl = nl[1] ? ';' : '\0';
	/* every attempt that fails is counted; the first and every tenth said */
	if (c->state == CONN_CONNECTING)
		c->failed_attempts++;
	if (c->state != CONN_CONNECTING || c->failed_attempts % 10 == 1)
		log_warn(NULL, "db conn %d: lost (%s, attempt %d): %s", c->id,
		    conn_state_names[c->state], c->failed_attempts, msg);
	c->job = NULL;
	c->want_len = 0;
	c->paused = false;
	PQclear(c->pending);
	c->pending = NULL;
	conn_prep_clear(c);   /* a new session has none of them */
	c->deallocate = false;
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
	/* the socket may be a new one: libpq moves to the next host on its own */
	case PGRES_POLLING_READING:
		conn_events_for_socket(c, false);
		c->want_write = false;
		event_add(c->ev_read, NULL);
		break;
	case PGRES_POLLING_WRITING:
		conn_events_for_socket(c, false);
		c->want_write = true;
		event_add(c->ev_write, NULL);
		break;
	case PGRES_POLLING_OK:
		if (PQsetnonblocking(c->pg, 1) != 0 || PQenterPipelineMode(c->pg) != 1) {
			conn_broken(c, "cannot set non-blocking and pipeline mode");
			break;
		}
		event_del(c->ev_timer);     /* the attempt's deadline */
		conn_events_for_socket(c, true);
		c->backoff_ms = DB_BACKOFF_MIN_MS;
		c->failed_attempts = 0;
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

/* The server's notices and libpq's own ("terminating connection ..."), as log lines. */
static void
conn_notice(void *arg, const char *message)
{
	struct db_conn *c = arg;

	log_warn(NULL, "db conn %d: %.*s", c->id, (int)strcspn(message, "\n"), message);
}

/* The keywords of a multi-host URL's lists, in pool->hostlist's order. */
static const char *const host_keys[] = { "host", "hostaddr", "port" };

static int
list_count(const char *s)
{
	int n = 1;

	for (; *s; s++)
		n += *s == ',';
	return n;
}

/*
 * Finds a multi-host URL's lists. libpq tries the hosts in order within one
 * attempt, but gives up on all of them when one fails in some ways (a server
 * that closes the connection during start-up, or one that never answers and
 * meets our deadline): so each attempt after a failure starts one host
 * further along (conn_hosts), and a dead first host cannot hide the others.
 */
static void
pool_parse_hosts(struct db_pool *pool)
{
	PQconninfoOption *opts = PQconninfoParse(pool->url, NULL), *o;
	size_t i;

	pool->nhosts = 1;
	for (o = opts; o != NULL && o->keyword != NULL; o++)
		for (i = 0; i < FB_ARRAY_LEN(host_keys); i++)
			if (strcmp(o->keyword, host_keys[i]) == 0 && o->val != NULL &&
			    list_count(o->val) > 1) {
				pool->hostlist[i] = fb_strdup(o->val);
				pool->nhosts = FB_MAX(pool->nhosts, list_count(o->val));
			}
	PQconninfoFree(opts);
}

/* list rotated left by k items, into out. */
static void
list_rotate(const char *list, int k, char *out, size_t outlen)
{
	int n = list_count(list), i;
	const char *p;
	size_t len;

	out[0] = '\0';
	for (i = 0; i < n; i++) {
		int want = (i + k) % n, j;

		for (p = list, j = 0; j < want; j++)
			p = strchr(p, ',') + 1;
		len = strcspn(p, ",");
		snprintf(out + strlen(out), outlen - strlen(out), "%s%.*s", i ? "," : "",
		    (int)len, p);
	}
}

static void
conn_start(struct db_conn *c)
{
	struct db_pool *pool = c->pool;
	/*
	 * TCP keepalives and a user timeout come first, so that the URL may
	 * set its own: a connection to a host that died without a word (a
	 * crash, a partition) fails in seconds, not at the kernel's two hours.
	 */
	const char *keys[12] = { "keepalives", "keepalives_idle", "keepalives_interval",
	    "keepalives_count", "tcp_user_timeout", "dbname", "application_name", "options" };
	const char *vals[12] = { "1", "5", "2", "3", "10000", pool->url, pool->appname,
	    pool->options };
	char rotated[3][512];
	int n = 8;
	size_t i;
	struct timeval tv;

	/* after the URL, so that they replace its lists (pool_parse_hosts) */
	for (i = 0; i < FB_ARRAY_LEN(host_keys); i++) {
		if (pool->hostlist[i] == NULL)
			continue;
		list_rotate(pool->hostlist[i], c->failed_attempts % pool->nhosts, rotated[i],
		    sizeof(rotated[i]));
		keys[n] = host_keys[i];
		vals[n++] = rotated[i];
	}
	keys[n] = vals[n] = NULL;
	c->pg = PQconnectStartParams(keys, vals, 1);
	conn_set_state(c, CONN_CONNECTING);
	if (c->pg == NULL || PQstatus(c->pg) == CONNECTION_BAD) {
		conn_broken(c, c->pg ? PQerrorMessage(c->pg) : "out of memory");
		return;
	}
	PQsetNoticeProcessor(c->pg, conn_notice, c);
	tv.tv_sec = pool->connect_timeout_ms / 1000;
	tv.tv_usec = (pool->connect_timeout_ms % 1000) * 1000;
	event_add(c->ev_timer, &tv);
	c->fd = -1;
	conn_events_for_socket(c, false);
	c->want_write = true;
	event_add(c->ev_write, NULL);
}

/* ---- prepared statements ---------------------------------------------- */

static void
conn_prep_clear(struct db_conn *c)
{
	int i;

	for (i = 0; i < c->nprep; i++)
		free(c->prep[i].sql);
	c->nprep = 0;
}

/*
 * The cache slot of sql on this connection, found by the caller's pointer
 * (confirmed by the text) or by the text; a new slot when there is room
 * (*fresh: it must be prepared now); -1 when the cache is full.
 */
static int
conn_prep_slot(struct db_conn *c, const char *sql, bool *fresh)
{
	struct db_prep *p;
	int i, free_slot = -1;

	*fresh = false;
	for (i = 0; i < c->nprep; i++)
		if (c->prep[i].ptr == sql && c->prep[i].sql != NULL &&
		    strcmp(c->prep[i].sql, sql) == 0)
			return i;
	for (i = 0; i < c->nprep; i++) {
		if (c->prep[i].sql == NULL) {
			free_slot = free_slot < 0 ? i : free_slot;
		} else if (strcmp(c->prep[i].sql, sql) == 0) {
			c->prep[i].ptr = sql;
			return i;
		}
	}
	if (free_slot < 0) {
		if (c->nprep == DB_PREPARED_MAX)
			return -1;
		if (c->prep == NULL)
			c->prep = fb_calloc(DB_PREPARED_MAX, sizeof(*c->prep));
		free_slot = c->nprep++;
	}
	p = &c->prep[free_slot];
	p->ptr = sql;
	p->sql = fb_strdup(sql);
	p->ready = false;
	snprintf(p->name, sizeof(p->name), "fb%d", ++c->prep_seq);
	*fresh = true;
	return free_slot;
}

/* A Parse the server refused or skipped: the name does not exist there. */
static void
conn_prep_drop(struct db_conn *c, int slot)
{
	free(c->prep[slot].sql);
	c->prep[slot].sql = NULL;
	c->prep[slot].ptr = NULL;
}

/* ---- the pipeline ----------------------------------------------------- */

static void
want_push(struct db_conn *c, enum want_kind kind, int arg, bool guard)
{
	if (c->want_len == c->want_cap) {
		struct want *w = fb_calloc((size_t)(c->want_cap ? c->want_cap * 2 : 16), sizeof(*w));
		int i;

		for (i = 0; i < c->want_len; i++)
			w[i] = c->want[(c->want_head + i) % c->want_cap];
		free(c->want);
		c->want = w;
		c->want_head = 0;
		c->want_cap = c->want_cap ? c->want_cap * 2 : 16;
	}
	c->want[(c->want_head + c->want_len) % c->want_cap] = (struct want){ kind, arg, guard };
	c->want_len++;
}

static struct want
want_pop(struct db_conn *c)
{
	struct want w = c->want[c->want_head];

	c->want_head = (c->want_head + 1) % c->want_cap;
	c->want_len--;
	return w;
}

/* Queues a command; false (and the connection is being dropped) on failure. */
static bool
conn_send_unnamed(struct db_conn *c, enum want_kind kind, int arg, const char *sql,
    int nparams, char *const *params)
{
	if (!PQsendQueryParams(c->pg, sql, nparams, NULL, (const char *const *)params,
	    NULL, NULL, 0)) {
		conn_defer_break(c);
		return false;
	}
	want_push(c, kind, arg, false);
	return true;
}

/* A statement, prepared on this connection the first time it runs. */
static bool
conn_send_stmt(struct db_conn *c, enum want_kind kind, int arg, const struct db_stmt *s)
{
	bool fresh;
	int slot = conn_prep_slot(c, s->sql, &fresh);

	if (slot < 0)
		return conn_send_unnamed(c, kind, arg, s->sql, s->nparams, s->params);
	if (fresh) {
		if (!PQsendPrepare(c->pg, c->prep[slot].name, s->sql, s->nparams, NULL)) {
			conn_prep_drop(c, slot);
			conn_defer_break(c);
			return false;
		}
		want_push(c, W_PREPARE, slot, kind == W_GUARD);
		atomic_fetch_add(&c->pool->n_prepares, 1);
	}
	if (!PQsendQueryPrepared(c->pg, c->prep[slot].name, s->nparams,
	    (const char *const *)s->params, NULL, NULL, 0)) {
		conn_defer_break(c);
		return false;
	}
	want_push(c, kind, arg, false);
	return true;
}

/*
 * A stream's statement runs in single-row mode, which libpq takes only while
 * that statement is the one being read and none of its rows has been: right
 * after it is sent into an empty pipeline, or after the result before it.
 */
static void
conn_arm_single_row(struct db_conn *c)
{
	struct db_job *job = c->job;
	const struct want *w;

	if (job == NULL || !(job->flags & DB_STREAM) || c->single_row || c->want_len == 0)
		return;
	w = &c->want[c->want_head];
	if (w->kind != W_STMT || w->arg != job->nstmts - 1)
		return;
	c->single_row = true;
	if (!PQsetSingleRowMode(c->pg)) {
		log_error(NULL, "db conn %d: cannot stream in single-row mode", c->id);
		conn_defer_break(c);
	}
}

/* Ends a flight with a Sync and sends it. */
static void
conn_sync(struct db_conn *c)
{
	int r;

	if (!PQpipelineSync(c->pg)) {
		conn_defer_break(c);
		return;
	}
	want_push(c, W_SYNC, 0, false);
	atomic_fetch_add(&c->pool->n_flights, 1);
	r = PQflush(c->pg);
	if (r < 0) {
		conn_defer_break(c);
		return;
	}
	if (r == 1)
		event_add(c->ev_write, NULL);
	conn_arm_single_row(c);
}

/*
 * The job's next flight: BEGIN and the guard the first time, then every
 * statement up to and including the next one whose step must decide before
 * anything after it runs, then COMMIT when nothing is left to decide.
 */
static void
conn_send_flight(struct db_conn *c)
{
	struct db_job *job = c->job;
	bool barrier = false;

	c->flight_first = c->sent;
	if (c->deallocate) {
		c->deallocate = false;
		if (!conn_send_unnamed(c, W_OTHER, 0, "DEALLOCATE ALL", 0, NULL))
			return;
	}
	if ((job->flags & DB_TX) && !c->began) {
		c->began = true;
		if (!conn_send_unnamed(c, W_BEGIN, 0, "BEGIN", 0, NULL))
			return;
	}
	if (c->sent == 0 && c->flights_done == 0) {
		int i;

		for (i = 0; i < job->nguards; i++)
			if (!conn_send_stmt(c, W_GUARD, i, &job->guards[i]))
				return;
	}
	while (c->sent < job->nstmts && !barrier) {
		const struct db_stmt *s = &job->stmts[c->sent];

		if (!conn_send_stmt(c, W_STMT, c->sent, s))
			return;
		c->sent++;
		barrier = s->step != NULL;
	}
	if ((job->flags & DB_TX) && c->sent == job->nstmts && !barrier && !c->committed) {
		c->commit_sent = true;
		if (!conn_send_unnamed(c, W_COMMIT, 0, "COMMIT", 0, NULL))
			return;
	}
	/* after COMMIT, before the Sync: skipped with it when anything failed */
	if (c->commit_sent) {
		int i;

		for (i = 0; i < job->nafter; i++)
			if (!conn_send_stmt(c, W_AFTER, i, &job->after[i]))
				return;
	}
	conn_sync(c);
}

static void
conn_send_rollback(struct db_conn *c)
{
	if (conn_send_unnamed(c, W_ROLLBACK, 0, "ROLLBACK", 0, NULL))
		conn_sync(c);
}

static void
conn_start_job(struct db_conn *c)
{
	c->sent = 0;
	c->began = c->commit_sent = c->committed = c->rolled_back = false;
	c->failed = c->single_row = false;
	c->flights_done = 0;
	c->outcome = DB_OK;
	conn_send_flight(c);
}

/*
 * Sends a committed job's statements after COMMIT again (a plan a migration
 * changed): the transaction is not run twice.
 */
static void
conn_retry_after(struct db_conn *c)
{
	job_clear_after(c->job);
	c->failed = false;
	c->outcome = DB_OK;
	job_clear_error(c->job);
	conn_send_flight(c);
}

/*
 * Sends the failed flight of a job without DB_TX again. Its flights before
 * it have committed (each was an implicit transaction) and their steps have
 * decided; this one rolled back whole, and its step never ran (a step's
 * statement ends its flight, and a failure skips everything after it).
 */
static void
conn_retry_flight(struct db_conn *c)
{
	struct db_job *job = c->job;
	int i;

	for (i = c->flight_first; i < job->nstmts; i++) {
		PQclear(job->stmts[i].res);
		job->stmts[i].res = NULL;
	}
	c->sent = c->flight_first;
	c->failed = c->single_row = false;
	c->outcome = DB_OK;
	job_clear_error(job);
	conn_send_flight(c);
}

/* The first failure of a job is the one it reports. */
static void
conn_job_fail(struct db_conn *c, enum db_status st, const PGresult *res)
{
	if (c->failed)
		return;
	if (st == DB_SQL_ERROR)
		job_record_error(c->job, res, c->pg);
	c->failed = true;
	c->outcome = st;
}

static bool
job_plan_changed(const struct db_job *job)
{
	return strcmp(job->sqlstate, "0A000") == 0 && job->errmsg != NULL &&
	    strstr(job->errmsg, "cached plan must not change result type") != NULL;
}

/* Hands the connection's job back to its owner, then readies the connection. */
static void
conn_finish_job(struct db_conn *c, enum db_status st)
{
	struct db_job *job = c->job;
	const char *ss = job->sqlstate;
	bool idle = PQtransactionStatus(c->pg) == PQTRANS_IDLE;
	bool lost_race = (job->flags & DB_RETRY) &&
	    (strcmp(ss, "40001") == 0 || strcmp(ss, "40P01") == 0);
	bool replan = st == DB_SQL_ERROR && job_plan_changed(job);

	if (replan) {
		/* whatever happens to this job, the connection forgets its plans */
		conn_prep_clear(c);
		c->deallocate = true;
		atomic_fetch_add(&c->pool->n_replans, 1);
	}
	if (st == DB_SQL_ERROR && idle && job->tries < DB_MAX_TRIES && (lost_race || replan)) {
		job->tries++;
		log_info(NULL, "db conn %d: running the job again after %s (try %d)%s", c->id,
		    ss, job->tries + 1, replan ? ": a plan changed, preparing afresh" : "");
		if (c->committed) {
			conn_retry_after(c);
		} else if ((job->flags & DB_TX) || c->flights_done == 0) {
			job_rewind(job);     /* none of it committed */
			conn_start_job(c);
		} else {
			conn_retry_flight(c);
		}
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
		conn_send_rollback(c);
		return;
	}
	conn_set_state(c, CONN_IDLE);
	conn_dispatch(c);
}

/* One command's result (owned here), in the order the commands were sent. */
static void
conn_result(struct db_conn *c, struct want w, PGresult *res)
{
	struct db_job *job = c->job;
	ExecStatusType rs = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	bool ok = rs == PGRES_COMMAND_OK || rs == PGRES_TUPLES_OK;
	struct db_stmt *s;

	if (w.kind == W_PREPARE) {
		if (ok)
			c->prep[w.arg].ready = true;
		else
			conn_prep_drop(c, w.arg);
	}
	if (job == NULL || w.kind == W_ROLLBACK || w.kind == W_OTHER) {
		PQclear(res);
		return;
	}
	if (!ok) {
		/* a command skipped after the failure is not a failure of its own */
		if (rs != PGRES_PIPELINE_ABORTED || !c->failed) {
			if ((w.kind == W_GUARD || w.guard) && !c->failed)
				job->guard_state = DB_GUARD_FAILED;
			conn_job_fail(c, DB_SQL_ERROR, res);
		}
		PQclear(res);
		return;
	}
	switch (w.kind) {
	case W_GUARD:
		if (++job->guards_passed == job->nguards)
			job->guard_state = DB_GUARD_PASSED;
		break;
	case W_COMMIT:
		c->committed = true;
		break;
	case W_STMT:
	case W_AFTER:
		if (c->failed)
			break;
		atomic_fetch_add(&c->pool->n_statements, 1);
		s = w.kind == W_STMT ? &job->stmts[w.arg] : &job->after[w.arg];
		s->res = res;
		res = NULL;
		if (s->step != NULL && s->step(job, s->res, job->arg) != 0)
			conn_job_fail(c, DB_ABORTED, NULL);
		break;
	default:
		break;
	}
	PQclear(res);
}

/* A flight's Sync came back: every result of it has been seen. */
static void
conn_flight_done(struct db_conn *c)
{
	struct db_job *job = c->job;

	if (c->state == CONN_RESET) {
		conn_set_state(c, CONN_IDLE);
		conn_dispatch(c);
		return;
	}
	if (job == NULL)
		return;
	if (c->failed) {
		if (!c->rolled_back && PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
			c->rolled_back = true;
			conn_send_rollback(c);
			return;
		}
		conn_finish_job(c, c->outcome);
		return;
	}
	c->flights_done++;
	if ((job->flags & DB_TX) ? c->committed : c->sent == job->nstmts) {
		conn_finish_job(c, DB_OK);
		return;
	}
	conn_send_flight(c);
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

/*
 * Reads what the server sent and hands each command's result on, in order:
 * libpq gives a command's results then NULL, and a Sync's result alone.
 */
static void
conn_read(struct db_conn *c)
{
	if (!PQconsumeInput(c->pg)) {
		conn_broken(c, PQerrorMessage(c->pg));
		return;
	}
	conn_notifies(c);
	while (c->pg != NULL && c->want_len > 0 && !c->paused && !c->break_pending &&
	    !PQisBusy(c->pg)) {
		struct want w = c->want[c->want_head];
		PGresult *r = PQgetResult(c->pg);

		if (w.kind == W_SYNC) {
			if (r == NULL)
				break;
			if (PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
				PQclear(r);
				conn_broken(c, "the pipeline is out of step");
				return;
			}
			PQclear(r);
			want_pop(c);
			conn_flight_done(c);
			continue;
		}
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
			want_pop(c);
			conn_result(c, w, res);
			conn_arm_single_row(c);
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
	if (c->paused)       /* the server waits on a full socket meanwhile */
		event_del(c->ev_read);
	else
		event_add(c->ev_read, NULL);   /* a no-op unless it was paused */
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
		    ((what & EV_READ) && !c->want_write) || (what & EV_CLOSED))
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
	if (what & (EV_READ | EV_CLOSED))
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
	conn_start_job(c);
}

/* ---- the pool --------------------------------------------------------- */

struct db_pool *
db_pool_new(struct event_base *base, const struct db_pool_opts *o)
{
	struct db_pool *pool = fb_calloc(1, sizeof(*pool));
	char opts[160];
	int i;

	pool->base = base;
	pool->opts = *o;
	pool->url = fb_strdup(o->url);
	pool->appname = fb_strdup(o->application_name ? o->application_name : "fairbeta");
	pool->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000;
	pool_parse_hosts(pool);
	/* times as text in one shape, UTC, which api/repr formats without SQL */
	snprintf(opts, sizeof(opts), "-c statement_timeout=%d -c TimeZone=UTC -c DateStyle=ISO",
	    o->statement_timeout_ms);
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
		conn_prep_clear(c);
		free(c->prep);
		free(c->want);
		if (job != NULL)
			job_finish(job, DB_UNAVAILABLE);
	}
	event_free(pool->ev_queue);
	free(pool->conns);
	free(pool->url);
	for (i = 0; i < 3; i++)
		free(pool->hostlist[i]);
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
	out->flights = atomic_load(&pool->n_flights);
	out->statements = atomic_load(&pool->n_statements);
	out->prepares = atomic_load(&pool->n_prepares);
	out->replans = atomic_load(&pool->n_replans);
}

enum db_status
db_submit(struct db_pool *pool, struct db_job *job, db_done_fn *done, void *arg)
{
	int i;

	if (job->nstmts == 0)
		fb_fatal("db_submit: a job with no statements");
	if (job->nafter > 0 && (job->flags & DB_STREAM))
		fb_fatal("db_submit: a stream with statements after its commit");
	job->done = done;
	job->arg = arg;
	job->nsubmitted = job->nstmts;
	job->nafter_submitted = job->nafter;
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
