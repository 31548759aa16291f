/*
 * test_db.c: lib/db's pool on a real libevent loop against a real
 * PostgreSQL (issue 11), run by tests/integration/test_db_pipeline.py.
 *
 * Why a program of its own: what lib/db promises is about what the server
 * does with what the pool sends, and in how many round trips. Pipeline mode
 * and the per-connection prepared statements each have a way to go wrong
 * that only a server shows: a failure in the middle of a flight must undo
 * the whole transaction and leave the connection reusable; a step must stop
 * what follows it; a retry must not commit twice; a reconnect or a migration
 * must not leave a job naming a statement the server forgot, or planned for
 * another table. The API's tests reach these paths only by chance.
 *
 * Each scenario submits jobs, runs the loop until their done callbacks fire
 * (a timer fails a job that hangs instead of hanging the run) and checks
 * concrete outcomes: rows in tables and backend states, read through a
 * separate blocking connection; statuses, SQLSTATEs and constraint names;
 * the pool's counters (db_pool_stats). Everything it creates lives in the
 * schema db_tests, dropped at the start and at the end, and its pools'
 * connections carry an application_name of their own, so it can share a
 * database with the rest of the suite.
 *
 * Usage: db-tests URL. Ends with "db: N passed, M failed"; exits 1 if any
 * check failed, 2 if it could not start.
 */
#include "fb.h"

#include <stdarg.h>
#include <unistd.h>

#include <event2/event.h>

#include "db.h"
#include "log.h"

#define JOB_TIMEOUT_MS 10000    /* a job that takes longer has hung */
#define POOL_SIZE      2
#define QUEUE_MAX      4

static int db_passed, db_failed;
static const char *scenario = "start";

static void
fail(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
fail(int line, const char *fmt, ...)
{
	va_list ap;

	db_failed++;
	fprintf(stderr, "FAIL %s:%d (%s): ", __FILE__, line, scenario);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

#define CHECK(cond) do { \
	if (cond) \
		db_passed++; \
	else \
		fail(__LINE__, "%s", #cond); \
} while (0)

/* Numbers and strings say what they were when they differ. */
#define CHECK_INT(a, b) do { \
	long long check_a_ = (a), check_b_ = (b); \
	if (check_a_ == check_b_) \
		db_passed++; \
	else \
		fail(__LINE__, "%s == %s (%lld, %lld)", #a, #b, check_a_, check_b_); \
} while (0)

#define CHECK_STR(a, b) do { \
	const char *check_a_ = (a), *check_b_ = (b); \
	if (strcmp(check_a_, check_b_) == 0) \
		db_passed++; \
	else \
		fail(__LINE__, "%s == %s (\"%s\", \"%s\")", #a, #b, check_a_, check_b_); \
} while (0)

static struct event_base *base;
static PGconn *admin;           /* blocking: setup, inspection, pg_terminate_backend */
static char appname[64];        /* the main pool's connections */
static char appname_j[64];      /* scenario j's pool */

/* ---- the blocking connection ------------------------------------------ */

static PGresult *
admin_query(int line, const char *fmt, va_list ap)
{
	char sql[4096];
	PGresult *r;

	vsnprintf(sql, sizeof(sql), fmt, ap);
	r = PQexec(admin, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
		fail(line, "%s: %s", sql, PQerrorMessage(admin));
		PQclear(r);
		return NULL;
	}
	return r;
}

/* Runs SQL (one or more statements); a failure is a failed check. */
static void
admin_exec_at(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
admin_exec_at(int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	PQclear(admin_query(line, fmt, ap));
	va_end(ap);
}

/* The first cell of a query's result as a number; -1 when it fails or is empty. */
static long long
admin_int_at(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static long long
admin_int_at(int line, const char *fmt, ...)
{
	va_list ap;
	PGresult *r;
	long long v = -1;

	va_start(ap, fmt);
	r = admin_query(line, fmt, ap);
	va_end(ap);
	if (r != NULL && PQntuples(r) > 0 && PQnfields(r) > 0)
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

/* The first cell as text into buf; "" when the query fails or is empty. */
static const char *
admin_text_at(int line, char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static const char *
admin_text_at(int line, char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	PGresult *r;

	va_start(ap, fmt);
	r = admin_query(line, fmt, ap);
	va_end(ap);
	snprintf(buf, len, "%s", r != NULL && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
	PQclear(r);
	return buf;
}

#define admin_exec(...) admin_exec_at(__LINE__, __VA_ARGS__)
#define admin_int(...)  admin_int_at(__LINE__, __VA_ARGS__)
#define admin_text(buf, ...) admin_text_at(__LINE__, (buf), sizeof(buf), __VA_ARGS__)

/* ---- the loop --------------------------------------------------------- */

static void
flag_cb(evutil_socket_t fd, short what, void *arg)
{
	bool *flag = arg;

	FB_UNUSED(fd);
	FB_UNUSED(what);
	*flag = true;
}

/* Runs the loop until *flag is set or ms have passed; *flag. */
static bool
loop_run(const bool *flag, int ms)
{
	bool expired = false;
	struct event *t = evtimer_new(base, flag_cb, &expired);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(t, &tv);
	while (!*flag && !expired)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
	return *flag;
}

/* The same, where running out of time is a failed check. */
static bool
loop_until_at(int line, const bool *flag, int ms, const char *what)
{
	if (loop_run(flag, ms))
		return true;
	fail(line, "%s: nothing after %d ms", what, ms);
	return false;
}

#define loop_until(flag, ms, what) loop_until_at(__LINE__, (flag), (ms), (what))

/* Runs the loop for ms, whatever happens. */
static void
loop_for(int ms)
{
	bool never = false;

	loop_run(&never, ms);
}

static struct db_pool_stats
stats(struct db_pool *pool)
{
	struct db_pool_stats s;

	db_pool_stats(pool, &s);
	return s;
}

/* Runs the loop until every connection of the pool is ready. */
static bool
wait_ready(struct db_pool *pool, int ms)
{
	int64_t end = fb_now_us() + (int64_t)ms * 1000;

	while (stats(pool).ready < stats(pool).conns) {
		if (fb_now_us() > end)
			return false;
		loop_for(10);
	}
	return true;
}

/* ---- jobs ------------------------------------------------------------- */

#define OUT_RESULTS 8

/*
 * What a job's done callback saw: results are readable only during the
 * call, so it copies what the checks read. Outcomes are never reused: a job
 * that hung may still finish (when the pool is freed) and write to its own.
 */
/* What a check reads of one result. */
struct seen {
	int ntuples, nfields;
	char first[64];             /* row 0, column 0 */
};

struct outcome {
	bool done;
	enum db_status st;
	char sqlstate[6];
	char constraint[64];
	char errmsg[256];
	enum db_guard guard;
	int nres;                   /* results readable in done: indices 0..nres-1 */
	struct seen res[OUT_RESULTS];
	int nafter;                 /* db_job_add_after() results readable in done */
	struct seen after[OUT_RESULTS];
	int steps;                  /* step callbacks that ran */
	int bad;                    /* scenario-specific mismatches seen in callbacks */
	void *ctx;                  /* the scenario's own state */
};

static struct outcome outcomes[256];
static size_t noutcomes;

static struct outcome *
outcome_new(void)
{
	struct outcome *o;

	if (noutcomes == FB_ARRAY_LEN(outcomes))
		fb_fatal("test_db: more than %zu jobs", FB_ARRAY_LEN(outcomes));
	o = &outcomes[noutcomes++];
	memset(o, 0, sizeof(*o));
	o->st = DB_BUSY;            /* no check expects it from a job that ran */
	return o;
}

/* Copies the results from index first on, up to the first missing; how many. */
static int
capture_results(struct db_job *job, int first, struct seen *out)
{
	const PGresult *r;
	int i;

	for (i = 0; (r = db_job_result(job, first + i)) != NULL; i++) {
		if (i >= OUT_RESULTS)
			continue;
		out[i].ntuples = PQntuples(r);
		out[i].nfields = PQnfields(r);
		snprintf(out[i].first, sizeof(out[i].first), "%s",
		    PQntuples(r) > 0 && PQnfields(r) > 0 ? PQgetvalue(r, 0, 0) : "");
	}
	return i;
}

static void
capture(struct db_job *job, enum db_status st, struct outcome *o)
{
	o->st = st;
	snprintf(o->sqlstate, sizeof(o->sqlstate), "%s", db_job_sqlstate(job));
	snprintf(o->constraint, sizeof(o->constraint), "%s", db_job_constraint(job));
	snprintf(o->errmsg, sizeof(o->errmsg), "%s", db_job_errmsg(job));
	o->guard = db_job_guard(job);
	o->nres = capture_results(job, 0, o->res);
	o->nafter = capture_results(job, DB_AFTER_BASE, o->after);
}

static void
job_done(struct db_job *job, enum db_status st, void *arg)
{
	struct outcome *o = arg;

	capture(job, st, o);
	o->done = true;
}

/*
 * Submits job with o as the argument its steps, rows and done callbacks
 * get, and runs the loop until it is done. Returns o; o->done is false (and
 * a check failed) when the pool refused the job or it hung.
 */
static struct outcome *
run_with_at(int line, struct db_pool *pool, struct db_job *job, struct outcome *o,
    db_done_fn *done)
{
	enum db_status st = db_submit(pool, job, done, o);

	if (st != DB_OK) {
		fail(line, "db_submit: %s", db_status_str(st));
		return o;
	}
	loop_until_at(line, &o->done, JOB_TIMEOUT_MS, "a job");
	if (o->done && o->st != DB_OK && o->errmsg[0] != '\0')
		fprintf(stderr, "  (%s) job ended %s: %s: %s", scenario, db_status_str(o->st),
		    o->sqlstate, o->errmsg);
	return o;
}

#define run_with(pool, job, o) run_with_at(__LINE__, (pool), (job), (o), job_done)
#define run(pool, job)         run_with_at(__LINE__, (pool), (job), outcome_new(), job_done)

static int
step_ok(struct db_job *job, const PGresult *res, void *arg)
{
	struct outcome *o = arg;

	FB_UNUSED(job);
	FB_UNUSED(res);
	o->steps++;
	return 0;
}

static int
step_refuse(struct db_job *job, const PGresult *res, void *arg)
{
	struct outcome *o = arg;

	FB_UNUSED(job);
	FB_UNUSED(res);
	o->steps++;
	return -1;
}

/* ---- the schema ------------------------------------------------------- */

static void
schema_create(void)
{
	admin_exec("DROP SCHEMA IF EXISTS db_tests CASCADE");
	admin_exec(
	    "CREATE SCHEMA db_tests;"
	    "CREATE TABLE db_tests.a (id int PRIMARY KEY, v text NOT NULL);"
	    "CREATE TABLE db_tests.b (id int CONSTRAINT b_id_unique UNIQUE);"
	    "INSERT INTO db_tests.b VALUES (2);"
	    "CREATE TABLE db_tests.c (id int PRIMARY KEY);"
	    "CREATE TABLE db_tests.d (id serial PRIMARY KEY, v text NOT NULL);"
	    "CREATE TABLE db_tests.e (id serial PRIMARY KEY, note text NOT NULL);"
	    "CREATE SEQUENCE db_tests.e_calls;"
	    "CREATE SEQUENCE db_tests.e_calls2;"
	    /* sequences are not rolled back: the first call of each loses the race */
	    "CREATE FUNCTION db_tests.flaky(seq regclass) RETURNS bigint LANGUAGE plpgsql AS $$"
	    " DECLARE n bigint := nextval(seq);"
	    " BEGIN"
	    "  IF n = 1 THEN"
	    "   RAISE EXCEPTION 'could not serialize access (a test)' USING ERRCODE = '40001';"
	    "  END IF;"
	    "  RETURN n;"
	    " END $$;"
	    "CREATE TABLE db_tests.g (id int PRIMARY KEY, a text NOT NULL);"
	    "INSERT INTO db_tests.g VALUES (1, 'one');"
	    "CREATE TABLE db_tests.h (id int PRIMARY KEY);"
	    "CREATE SEQUENCE db_tests.h_calls;"
	    "CREATE FUNCTION db_tests.h_guard(ok boolean) RETURNS boolean LANGUAGE plpgsql AS $$"
	    " BEGIN"
	    "  PERFORM nextval('db_tests.h_calls');"
	    "  IF NOT ok THEN"
	    "   RAISE EXCEPTION 'not this session (a test)' USING ERRCODE = 'FB401';"
	    "  END IF;"
	    "  RETURN true;"
	    " END $$;"
	    "CREATE TABLE db_tests.i (id int PRIMARY KEY);"
	    "CREATE TABLE db_tests.k (id int PRIMARY KEY);"
	    "CREATE TABLE db_tests.m (id int PRIMARY KEY, v text NOT NULL);"
	    "CREATE TABLE db_tests.m_log (n serial PRIMARY KEY);"
	    "CREATE SEQUENCE db_tests.m_calls;");
}

/* Backends of the main pool that are not idle outside a transaction. */
static long long
pool_backends_not_idle(void)
{
	return admin_int("SELECT count(*) FROM pg_stat_activity"
	    " WHERE application_name = '%s' AND state <> 'idle'", appname);
}

/* ---- a: one flight ---------------------------------------------------- */

static void
scenario_a(struct db_pool *pool)
{
	struct db_pool_stats s0, s1;
	struct db_job *job;
	struct outcome *o;

	scenario = "a: a job without steps is one flight";
	s0 = stats(pool);
	job = db_job_new(DB_TX);
	db_job_add(job, NULL, "INSERT INTO db_tests.a (id, v) VALUES ($1, $2)", "1", "one");
	db_job_add(job, NULL, "INSERT INTO db_tests.a (id, v) VALUES ($1, $2)", "2", "two");
	db_job_add(job, NULL, "UPDATE db_tests.a SET v = v || '!' WHERE id = $1 RETURNING v", "2");
	o = run(pool, job);
	s1 = stats(pool);
	CHECK(o->st == DB_OK);
	CHECK_INT(o->nres, 3);
	CHECK_STR(o->res[2].first, "two!");
	CHECK_INT(s1.flights - s0.flights, 1);         /* BEGIN .. COMMIT in one round trip */
	CHECK_INT(s1.statements - s0.statements, 3);
	CHECK_INT(s1.prepares - s0.prepares, 2);       /* the same INSERT twice: once */
	CHECK_INT(admin_int("SELECT count(*) FROM db_tests.a"), 2);
	CHECK_INT(admin_int("SELECT count(*) FROM db_tests.a WHERE id = 2 AND v = 'two!'"), 1);

	/* again: still one flight */
	s0 = s1;
	job = db_job_new(DB_TX);
	db_job_add(job, NULL, "INSERT INTO db_tests.a (id, v) VALUES ($1, $2)", "3", "three");
	db_job_add(job, NULL, "UPDATE db_tests.a SET v = v || '!' WHERE id = $1 RETURNING v", "3");
	o = run(pool, job);
	s1 = stats(pool);
	CHECK(o->st == DB_OK);
	CHECK_INT(s1.flights - s0.flights, 1);
	CHECK_INT(s1.statements - s0.statements, 2);
	CHECK_INT(admin_int("SELECT count(*) FROM db_tests.a WHERE id = 3 AND v = 'three!'"), 1);
	CHECK_INT(pool_backends_not_idle(), 0);
}

/* ---- b: a transaction that fails in the middle of its flight ------------ */

static void
scenario_b(struct db_pool *pool)
{
	struct db_job *job;
	struct outcome *o;

	scenario = "b: a failure in the middle of a flight";
	job = db_job_new(DB_TX);
	db_job_add(job, NULL, "INSERT INTO db_tests.b (id) VALUES ($1)", "10");
	db_job_add(job, NULL, "INSERT INTO db_tests.b (id) VALUES ($1)", "2");   /* taken */
	db_job_add(job, NULL, "INSERT INTO db_tests.b (id) VALUES ($1 + 1)", "10");
	o = run(pool, job);
	CHECK(o->st == DB_SQL_ERROR);
	CHECK_STR(o->sqlstate, "23505");
	CHECK_STR(o->constraint, "b_id_unique");
	CHECK_INT(admin_int("SELECT count(*) FROM db_tests.b"), 1);     /* the 2 of before */
	CHECK_INT(admin_int("SELECT count(*) FROM db_tests.b WHERE id IN (10, 11)"), 0);
	/* rolled back before the job ended: no backend is left in a transaction */
	CHECK_INT(pool_backends_not_idle(), 0);

	/*
	 * The pool goes on, with statements prepared in the flight that failed
	 * (a Parse is not undone by the ROLLBACK) or skipped in it.
	 */
	job = db_job_new(DB_TX);
	db_job_add(job, NULL, "INSERT INTO db_tests.b (id) VALUES ($1)", "12");
	db_job_add(job, NULL, "INSERT INTO db_tests.b (id) VALUES ($1 + 1)", "12");
	db_job_add(job, NULL, "SELECT count(*) FROM db_tests.b");
	o = run(pool, job);
	CHECK(o->st == DB_OK);
	CHECK_STR(o->sqlstate, "");
	CHECK_STR(o->res[2].first, "3");
	CHECK_INT(admin_int("SELECT count(*) FROM db_tests.b WHERE id IN (12, 13)"), 2);
	CHECK_INT(pool_backends_not_idle(), 0);
}

/* ---- c: a step that refuses ------------------------------------------- */

static void
scenario_c(struct db_pool *pool)
{
	struct db_pool_stats s0, s1;
	struct db_job *job;
	struct outcome *o;

	scenario = "c: a step that refuses";
	job = db_job_new(DB_TX);
	db_job_add(job, NULL, "INSERT INTO db_tests.c (id) VALUES ($1)", "1");
	db_job_add(job, step_refuse, "SELECT count(*) FROM db_tests.c");
	db_job_add(job, NULL, "INSERT INTO db_tests.c (id) VALUES ($1)", "2");
	o = run(pool, job);
	CHECK(o->st == DB_ABORTED);
	CHECK_INT(o->steps, 1);
	CHECK_STR(o->res[1].first, "1");   /* the step saw its own transaction's row */
	CHECK_STR(o->sqlstate, "");
	CHECK_INT(admin_int("SELECT count(*) FROM db_tests.c"), 0);
	CHECK_INT(pool_backends_not_idle(), 0);

	/* without DB_TX the step is still a barrier: what follows it never runs */
	s0 = stats(pool);
	job = db_job_new(0);
	db_job_add(job, step_refuse, "SELECT count(*) FROM db_tests.c");
	db_job_add(job, NULL, "INSERT INTO db_tests.c (id) VALUES ($1)", "3");
	o = run(pool, job);
	s1 = stats(pool);
	CHECK(o->st == DB_ABORTED);
	CHECK_INT(o->steps, 1);
	CHECK_INT(s1.flights - s0.flights, 1);
	CHECK_INT(s1.statements - s0.statements, 1);
	CHECK_INT(admin_int("SELECT count(*) FROM db_tests.c"), 0);

	/*
	 * A write behind its own step is its own flight, so its own implicit
	 * transaction (db.h): committed before the step decides, while what
	 * follows the refusal never runs.
	 */
	job = db_job_new(0);
	db_job_add(job, step_refuse, "INSERT INTO db_tests.c (id) VALUES ($1) RETURNING id", "4");
	db_job_add(job, NULL, "INSERT INTO db_tests.c (id) VALUES ($1)", "5");
	o = run(pool, job);
	CHECK(o->st == DB_ABORTED);
	CHECK_INT(admin_int("SELECT count(*) FROM db_tests.c WHERE id = 4"), 1);
	CHECK_INT(admin_int("SELECT count(*) FROM db_tests.c WHERE id = 5"), 0);
	CHECK_INT(pool_backends_not_idle(), 0);
}

/* ---- d: steps that append statements ---------------------------------- */

/* After the UPDATE: two more, in order; the second reads the first's work. */
static int
step_d2(struct db_job *job, const PGresult *res, void *arg)
{
	struct outcome *o = arg;
	const char *id = PQgetvalue(res, 0, 1);

	o->steps++;
	db_job_add(job, NULL, "UPDATE db_tests.d SET v = v || '+2' WHERE id = $1 RETURNING v", id);
	db_job_add(job, NULL, "SELECT v FROM db_tests.d WHERE id = $1", id);
	return 0;
}

/* After the INSERT: an UPDATE of the row it made, itself with a step. */
static int
step_d1(struct db_job *job, const PGresult *res, void *arg)
{
	struct outcome *o = arg;

	o->steps++;
	if (PQntuples(res) != 1)
		return -1;
	db_job_add(job, step_d2,
	    "UPDATE db_tests.d SET v = v || '+1' WHERE id = $1 RETURNING v, id",
	    PQgetvalue(res, 0, 0));
	return 0;
}

static void
scenario_d(struct db_pool *pool)
{
	struct db_pool_stats s0, s1;
	struct db_job *job;
	struct outcome *o;
	char buf[64];

	scenario = "d: a step appends statements";
	s0 = stats(pool);
	job = db_job_new(DB_TX);
	db_job_add(job, step_d1, "INSERT INTO db_tests.d (v) VALUES ($1) RETURNING id", "x");
	o = run(pool, job);
	s1 = stats(pool);
	CHECK(o->st == DB_OK);
	CHECK_INT(o->steps, 2);
	CHECK_INT(o->nres, 4);
	CHECK_STR(o->res[0].first, admin_text(buf, "SELECT max(id) FROM db_tests.d"));
	CHECK_STR(o->res[1].first, "x+1");
	CHECK_INT(o->res[1].nfields, 2);
	CHECK_STR(o->res[2].first, "x+1+2");
	CHECK_STR(o->res[3].first, "x+1+2");   /* after the UPDATE before it */
	CHECK_INT(s1.flights - s0.flights, 3); /* INSERT | UPDATE | UPDATE, SELECT, COMMIT */
	CHECK_INT(s1.statements - s0.statements, 4);
	CHECK_STR(admin_text(buf, "SELECT string_agg(v, ',') FROM db_tests.d"), "x+1+2");

	/* the same without DB_TX: the same order, one statement each flight */
	job = db_job_new(0);
	db_job_add(job, step_d1, "INSERT INTO db_tests.d (v) VALUES ($1) RETURNING id", "y");
	o = run(pool, job);
	CHECK(o->st == DB_OK);
	CHECK_INT(o->nres, 4);
	CHECK_STR(o->res[3].first, "y+1+2");
	CHECK_INT(admin_int("SELECT count(*) FROM db_tests.d"), 2);
}

/* ---- e: a serialization failure in the middle of a pipeline ------------ */

/* Appends the flaky statement: on the retry, again, exactly once. */
static int
step_e(struct db_job *job, const PGresult *res, void *arg)
{
	struct outcome *o = arg;

	FB_UNUSED(res);
	o->steps++;
	db_job_add(job, NULL, "SELECT db_tests.flaky('db_tests.e_calls2')");
	return 0;
}

static void
scenario_e(struct db_pool *pool)
{
	struct db_pool_stats s0, s1;
	struct db_job *job;
	struct outcome *o;

	scenario = "e: a serialization failure inside a pipeline";
	s0 = stats(pool);
	job = db_job_new(DB_TX);
	db_job_add(job, NULL, "INSERT INTO db_tests.e (note) VALUES ($1) RETURNING id", "once");
	db_job_add(job, NULL, "SELECT db_tests.flaky('db_tests.e_calls')");
	o = run(pool, job);
	s1 = stats(pool);
	CHECK(o->st == DB_OK);
	CHECK_STR(o->sqlstate, "");
	CHECK_INT(o->nres, 2);
	CHECK_STR(o->res[1].first, "2");                /* the second try's */
	CHECK_INT(admin_int("SELECT count(*) FROM db_tests.e WHERE note = 'once'"), 1);
	CHECK_INT(admin_int("SELECT last_value FROM db_tests.e_calls"), 2);
	/* try 1: its flight and the ROLLBACK; try 2: one flight */
	CHECK_INT(s1.flights - s0.flights, 3);
	CHECK_INT(pool_backends_not_idle(), 0);

	/* a step's statements are appended afresh on the retry, not twice */
	job = db_job_new(DB_TX);
	db_job_add(job, step_e, "INSERT INTO db_tests.e (note) VALUES ($1) RETURNING id", "twice?");
	o = run(pool, job);
	CHECK(o->st == DB_OK);
	CHECK_INT(o->steps, 2);
	CHECK_INT(o->nres, 2);
	CHECK_STR(o->res[1].first, "2");
	CHECK_INT(admin_int("SELECT count(*) FROM db_tests.e WHERE note = 'twice?'"), 1);
}

/* ---- f: a reconnect ------------------------------------------------------ */

static void
scenario_f(struct db_pool *pool)
{
	static const char sql[] = "SELECT $1::int + 41";
	struct db_pool_stats s0, s1;
	struct db_job *job;
	struct outcome *o;
	char old[256];
	int64_t end;
	bool saw_down = false;

	scenario = "f: prepared afresh after a reconnect";
	job = db_job_new(0);
	db_job_add(job, NULL, sql, "1");
	o = run(pool, job);
	CHECK(o->st == DB_OK);
	CHECK_STR(o->res[0].first, "42");

	admin_text(old, "SELECT string_agg(pid::text, ',') FROM pg_stat_activity"
	    " WHERE application_name = '%s'", appname);
	CHECK_INT(admin_int("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
	    " WHERE application_name = '%s'", appname), POOL_SIZE);
	end = fb_now_us() + 5000000;
	for (;;) {
		struct db_pool_stats s = stats(pool);

		saw_down = saw_down || s.ready < s.conns;
		if ((saw_down && s.ready == s.conns) || fb_now_us() > end)
			break;
		loop_for(10);
	}
	CHECK(saw_down);
	CHECK_INT(stats(pool).ready, POOL_SIZE);
	CHECK_INT(admin_int("SELECT count(*) FROM pg_stat_activity WHERE application_name = '%s'"
	    " AND pid NOT IN (%s)", appname, old[0] ? old : "0"), POOL_SIZE);

	/* whichever connection runs it, it prepares it anew */
	s0 = stats(pool);
	job = db_job_new(0);
	db_job_add(job, NULL, sql, "2");
	o = run(pool, job);
	s1 = stats(pool);
	CHECK(o->st == DB_OK);
	CHECK_STR(o->errmsg, "");
	CHECK_STR(o->res[0].first, "43");
	CHECK_INT(s1.prepares - s0.prepares, 1);

	job = db_job_new(DB_TX);
	db_job_add(job, NULL, sql, "3");
	o = run(pool, job);
	CHECK(o->st == DB_OK);
	CHECK_STR(o->res[0].first, "44");
}

/* ---- g: a migration changes a plan ------------------------------------ */

/*
 * Runs sql (with $1 = 1) on every connection of the pool at once, so that
 * each has it prepared, as a statement after a COMMIT when after; each
 * result must have nfields columns.
 */
static void
warm_every_connection(struct db_pool *pool, const char *sql, bool after, int nfields)
{
	struct outcome *warm[POOL_SIZE];
	struct db_job *job;
	int i;

	for (i = 0; i < POOL_SIZE; i++) {
		warm[i] = outcome_new();
		job = db_job_new(after ? DB_TX : 0);
		if (after) {
			db_job_add(job, NULL, "SELECT 1");
			db_job_add_after(job, sql, "1");
		} else {
			db_job_add(job, NULL, sql, "1");
		}
		CHECK(db_submit(pool, job, job_done, warm[i]) == DB_OK);
	}
	CHECK_INT(stats(pool).in_use, POOL_SIZE);
	for (i = 0; i < POOL_SIZE; i++) {
		loop_until(&warm[i]->done, JOB_TIMEOUT_MS, "a job");
		CHECK(warm[i]->st == DB_OK);
		CHECK_INT(after ? warm[i]->after[0].nfields : warm[i]->res[0].nfields, nfields);
	}
}

static const char SQL_G[] = "SELECT * FROM db_tests.g WHERE id = $1";

static void
scenario_g(struct db_pool *pool)
{
	struct db_pool_stats s0, s1;
	struct db_job *job;
	struct outcome *o;

	scenario = "g: a migration changes a prepared statement's result";
	/* two at once: prepared on both connections, so whichever runs a job
	 * below has it, planned for the table as it was */
	warm_every_connection(pool, SQL_G, false, 2);

	admin_exec("ALTER TABLE db_tests.g ADD COLUMN b text NOT NULL DEFAULT 'bee'");
	s0 = stats(pool);
	job = db_job_new(0);
	db_job_add(job, NULL, SQL_G, "1");
	o = run(pool, job);
	s1 = stats(pool);
	CHECK(o->st == DB_OK);
	CHECK_STR(o->sqlstate, "");
	CHECK_INT(o->res[0].nfields, 3);
	CHECK_INT(o->res[0].ntuples, 1);
	CHECK_INT(s1.replans - s0.replans, 1);

	/* in a transaction, behind a write that must commit once */
	admin_exec("ALTER TABLE db_tests.g ADD COLUMN c int NOT NULL DEFAULT 7");
	s0 = stats(pool);
	job = db_job_new(DB_TX);
	db_job_add(job, NULL, "INSERT INTO db_tests.g (id, a) VALUES ($1, $2)", "2", "two");
	db_job_add(job, NULL, SQL_G, "2");
	o = run(pool, job);
	s1 = stats(pool);
	CHECK(o->st == DB_OK);
	CHECK_INT(o->res[1].nfields, 4);
	CHECK_INT(o->res[1].ntuples, 1);
	CHECK_INT(s1.replans - s0.replans, 1);
	CHECK_INT(admin_int("SELECT count(*) FROM db_tests.g WHERE id = 2"), 1);

	/* in a transaction's second flight, behind a step */
	admin_exec("ALTER TABLE db_tests.g ADD COLUMN d int NOT NULL DEFAULT 8");
	s0 = stats(pool);
	job = db_job_new(DB_TX);
	db_job_add(job, step_ok, "SELECT count(*) FROM db_tests.g");
	db_job_add(job, NULL, SQL_G, "2");
	o = run(pool, job);
	s1 = stats(pool);
	CHECK(o->st == DB_OK);
	CHECK_INT(o->res[1].nfields, 5);
	CHECK_INT(s1.replans - s0.replans, 1);

	/*
	 * Without DB_TX, behind a step: its first flight has committed, so the
	 * job may not run again (db.c replans only a first flight). Whatever it
	 * ends with, the connection must forget the stale statement, or every
	 * later job that runs it there fails the same way (db.h: "makes the
	 * connection forget every prepared statement").
	 */
	admin_exec("ALTER TABLE db_tests.g ADD COLUMN e int NOT NULL DEFAULT 9");
	job = db_job_new(0);
	db_job_add(job, step_ok, "SELECT count(*) FROM db_tests.g");
	db_job_add(job, NULL, SQL_G, "2");
	o = run(pool, job);
	if (o->st != DB_OK)
		CHECK_STR(o->sqlstate, "0A000");
	job = db_job_new(0);
	db_job_add(job, step_ok, "SELECT count(*) FROM db_tests.g");
	db_job_add(job, NULL, SQL_G, "2");
	o = run(pool, job);
	CHECK(o->st == DB_OK);
	CHECK_STR(o->sqlstate, "");
	CHECK_INT(o->res[1].nfields, 6);
	job = db_job_new(0);
	db_job_add(job, NULL, SQL_G, "2");
	o = run(pool, job);
	CHECK(o->st == DB_OK);
	CHECK_INT(o->res[0].nfields, 6);
}

/* ---- h: the guard ----------------------------------------------------- */

static void
scenario_h(struct db_pool *pool)
{
	static const char guard[] = "SELECT db_tests.h_guard($1)";
	const char *no[] = { "false" }, *yes[] = { "true" };
	struct db_job *job;
	struct outcome *o;
	long long calls;

	scenario = "h: the guard";
	job = db_job_new(DB_TX);
	db_job_add_guard(job, guard, 1, no);
	db_job_add(job, NULL, "INSERT INTO db_tests.h (id) VALUES ($1)", "1");
	o = run(pool, job);
	CHECK(o->st == DB_SQL_ERROR);
	CHECK(o->guard == DB_GUARD_FAILED);
	CHECK_STR(o->sqlstate, "FB401");
	CHECK_INT(admin_int("SELECT count(*) FROM db_tests.h"), 0);
	CHECK_INT(pool_backends_not_idle(), 0);

	/* without DB_TX, a guard that fails on its own */
	job = db_job_new(0);
	db_job_add_guard(job, "SELECT 1/0", 0, NULL);
	db_job_add(job, NULL, "INSERT INTO db_tests.h (id) VALUES ($1)", "2");
	o = run(pool, job);
	CHECK(o->st == DB_SQL_ERROR);
	CHECK(o->guard == DB_GUARD_FAILED);
	CHECK_STR(o->sqlstate, "22012");
	CHECK_INT(admin_int("SELECT count(*) FROM db_tests.h"), 0);

	/* a guard that passes is not one of the job's results */
	job = db_job_new(DB_TX);
	db_job_add_guard(job, guard, 1, yes);
	db_job_add(job, NULL, "INSERT INTO db_tests.h (id) VALUES ($1) RETURNING id", "3");
	db_job_add(job, NULL, "SELECT count(*) FROM db_tests.h");
	o = run(pool, job);
	CHECK(o->st == DB_OK);
	CHECK(o->guard == DB_GUARD_PASSED);
	CHECK_INT(o->nres, 2);
	CHECK_STR(o->res[0].first, "3");
	CHECK_STR(o->res[1].first, "1");
	CHECK_INT(admin_int("SELECT count(*) FROM db_tests.h WHERE id = 3"), 1);

	/* it runs in the first flight only, however many the job has */
	calls = admin_int("SELECT last_value FROM db_tests.h_calls");
	job = db_job_new(DB_TX);
	db_job_add_guard(job, guard, 1, yes);
	db_job_add(job, step_ok, "INSERT INTO db_tests.h (id) VALUES ($1) RETURNING id", "4");
	db_job_add(job, step_ok, "INSERT INTO db_tests.h (id) VALUES ($1) RETURNING id", "5");
	db_job_add(job, NULL, "SELECT count(*) FROM db_tests.h");
	o = run(pool, job);
	CHECK(o->st == DB_OK);
	CHECK(o->guard == DB_GUARD_PASSED);
	CHECK_INT(o->nres, 3);
	CHECK_STR(o->res[2].first, "3");
	CHECK_INT(admin_int("SELECT last_value FROM db_tests.h_calls") - calls, 1);

	/* two guards: both run, in order; the second failing fails the job */
	calls = admin_int("SELECT last_value FROM db_tests.h_calls");
	job = db_job_new(DB_TX);
	db_job_add_guard(job, guard, 1, yes);
	db_job_add_guard(job, "SELECT 1/0", 0, NULL);
	db_job_add(job, NULL, "INSERT INTO db_tests.h (id) VALUES ($1)", "7");
	o = run(pool, job);
	CHECK(o->st == DB_SQL_ERROR);
	CHECK(o->guard == DB_GUARD_FAILED);
	CHECK_STR(o->sqlstate, "22012");
	CHECK_INT(admin_int("SELECT count(*) FROM db_tests.h WHERE id = 7"), 0);
	CHECK_INT(admin_int("SELECT last_value FROM db_tests.h_calls") - calls, 1);
	/* the first failing: the second never runs */
	job = db_job_new(DB_TX);
	db_job_add_guard(job, guard, 1, no);
	db_job_add_guard(job, guard, 1, yes);
	db_job_add(job, NULL, "INSERT INTO db_tests.h (id) VALUES ($1)", "7");
	o = run(pool, job);
	CHECK(o->guard == DB_GUARD_FAILED);
	CHECK_STR(o->sqlstate, "FB401");
	CHECK_INT(admin_int("SELECT last_value FROM db_tests.h_calls") - calls, 2);
	/* both passing: passed */
	job = db_job_new(DB_TX);
	db_job_add_guard(job, guard, 1, yes);
	db_job_add_guard(job, guard, 1, yes);
	db_job_add(job, NULL, "INSERT INTO db_tests.h (id) VALUES ($1)", "7");
	o = run(pool, job);
	CHECK(o->st == DB_OK);
	CHECK(o->guard == DB_GUARD_PASSED);
	CHECK_INT(admin_int("SELECT last_value FROM db_tests.h_calls") - calls, 4);
	CHECK_INT(admin_int("SELECT count(*) FROM db_tests.h WHERE id = 7"), 1);

	/* no guard: unknown */
	job = db_job_new(0);
	db_job_add(job, NULL, "SELECT count(*) FROM db_tests.h");
	o = run(pool, job);
	CHECK(o->st == DB_OK);
	CHECK(o->guard == DB_GUARD_UNKNOWN);

	/*
	 * A guard that cannot even be prepared (its function is missing: a
	 * database not migrated yet) fails the job all the same, and must say so:
	 * the API restarts a request whose guard failed, and answers with the
	 * failure of one whose guard never ran (api/pipeline.c, req_db_done).
	 */
	job = db_job_new(DB_TX);
	db_job_add_guard(job, "SELECT db_tests.no_such_guard($1)", 1, yes);
	db_job_add(job, NULL, "INSERT INTO db_tests.h (id) VALUES ($1)", "6");
	o = run(pool, job);
	CHECK(o->st == DB_SQL_ERROR);
	CHECK_STR(o->sqlstate, "42883");
	CHECK(o->guard == DB_GUARD_FAILED);
	CHECK_INT(admin_int("SELECT count(*) FROM db_tests.h WHERE id = 6"), 0);
}

/* ---- i: streaming in a pipeline --------------------------------------- */

#define STREAM_ROWS 100000

struct stream {
	struct db_pool *pool;
	struct db_job *job;         /* while paused */
	struct event *resume;
	long long rows;             /* rows seen, each checked to be rows + 1 */
	int pause_every;            /* 0: never */
	int pauses;
	bool paused;
	int while_paused;           /* rows delivered during a pause: none may be */
	bool with_side;             /* at the first pause, before resuming: */
	long long client_write;     /* the server waits on us, */
	struct outcome *side;       /* and the pool runs another job meanwhile */
	bool cancel;                /* give up at the first pause instead */
};

static int
stream_row(struct db_job *job, const PGresult *row, void *arg)
{
	struct outcome *o = arg;
	struct stream *s = o->ctx;

	if (s->paused)
		s->while_paused++;
	if (PQntuples(row) != 1 || strtoll(PQgetvalue(row, 0, 0), NULL, 10) != s->rows + 1)
		o->bad++;
	s->rows++;
	if (s->pause_every > 0 && s->rows % s->pause_every == 0) {
		struct timeval tv = { 0, 1000 };

		s->job = job;
		s->paused = true;
		s->pauses++;
		evtimer_add(s->resume, &tv);
		return 1;
	}
	return 0;
}

static void
side_done(struct db_job *job, enum db_status st, void *arg)
{
	struct stream *s = arg;
	struct timeval tv = { 0, 1000 };

	capture(job, st, s->side);
	s->side->done = true;
	evtimer_add(s->resume, &tv);
}

/*
 * The resume timer. With with_side, at the first pause it first shows that
 * the pause reaches the server (its backend waits to write) and that the
 * pool still serves other jobs on its other connection; side_done resumes.
 */
static void
stream_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream *s = arg;

	FB_UNUSED(fd);
	FB_UNUSED(what);
	if (s->cancel) {
		db_job_cancel(s->job);
		return;
	}
	if (s->with_side && s->side == NULL) {
		int64_t end = fb_now_us() + 3000000;
		struct db_job *job;

		while ((s->client_write = admin_int("SELECT count(*) FROM pg_stat_activity"
		    " WHERE application_name = '%s' AND wait_event = 'ClientWrite'", appname)) == 0 &&
		    fb_now_us() < end)
			usleep(10000);
		s->side = outcome_new();
		job = db_job_new(0);
		db_job_add(job, NULL, "SELECT 'side'");
		if (db_submit(s->pool, job, side_done, s) != DB_OK)
			s->side->done = true;    /* the checks find st wrong */
		return;
	}
	s->paused = false;
	db_job_resume(s->job);
}

/* A fresh stream state; resume is the one timer every run shares. */
static void
stream_reset(struct stream *s, struct db_pool *pool, struct event *resume, int pause_every)
{
	memset(s, 0, sizeof(*s));
	s->pool = pool;
	s->resume = resume;
	s->pause_every = pause_every;
}

static void
scenario_i(struct db_pool *pool)
{
	/* wide rows: three quarters of them overflow any socket buffer */
	static const char stream_sql[] =
	    "SELECT g, repeat('x', 200) FROM generate_series(1, $1::int) g";
	/* static: a stream that hung may still call back into it later */
	static struct stream stream;
	struct stream *s = &stream;
	struct event *resume = evtimer_new(base, stream_resume_cb, s);
	struct db_pool_stats s0, s1;
	struct db_job *job;
	struct outcome *o;
	char n[16];
	int64_t end;
	long long busy;

	scenario = "i: streaming in a pipeline";
	snprintf(n, sizeof(n), "%d", STREAM_ROWS);

	/* read as fast as the rows come, after a statement in the same flight */
	stream_reset(s, pool, resume, 0);
	s0 = stats(pool);
	o = outcome_new();
	o->ctx = s;
	job = db_job_new(0);
	db_job_add(job, NULL, "SELECT 'before'");
	db_job_add(job, NULL, stream_sql, n);
	db_job_set_rows(job, stream_row);
	run_with(pool, job, o);
	s1 = stats(pool);
	CHECK(o->st == DB_OK);
	CHECK_INT(s->rows, STREAM_ROWS);
	CHECK_INT(o->bad, 0);
	CHECK_STR(o->res[0].first, "before");
	CHECK_INT(s1.flights - s0.flights, 1);

	/* in a transaction, pausing every 25000 rows, the last one too */
	stream_reset(s, pool, resume, STREAM_ROWS / 4);
	s->with_side = true;
	o = outcome_new();
	o->ctx = s;
	job = db_job_new(DB_TX);
	db_job_add(job, NULL, "INSERT INTO db_tests.i (id) VALUES ($1) RETURNING id", "1");
	db_job_add(job, NULL, stream_sql, n);
	db_job_set_rows(job, stream_row);
	run_with(pool, job, o);
	CHECK(o->st == DB_OK);
	CHECK_INT(s->rows, STREAM_ROWS);
	CHECK_INT(o->bad, 0);
	CHECK_INT(s->pauses, 4);
	CHECK_INT(s->while_paused, 0);
	CHECK_INT(s->client_write, 1);     /* the pause reached the server */
	CHECK(s->side != NULL && s->side->done && s->side->st == DB_OK);
	CHECK(s->side != NULL && strcmp(s->side->res[0].first, "side") == 0);
	CHECK_STR(o->res[0].first, "1");
	CHECK_INT(admin_int("SELECT count(*) FROM db_tests.i"), 1);

	/* behind a step: the stream is the second flight's */
	stream_reset(s, pool, resume, 0);
	o = outcome_new();
	o->ctx = s;
	job = db_job_new(0);
	db_job_add(job, step_ok, "SELECT count(*) FROM db_tests.i");
	db_job_add(job, NULL, stream_sql, "1000");
	db_job_set_rows(job, stream_row);
	run_with(pool, job, o);
	CHECK(o->st == DB_OK);
	CHECK_INT(o->steps, 1);
	CHECK_INT(s->rows, 1000);
	CHECK_INT(o->bad, 0);
	CHECK_INT(pool_backends_not_idle(), 0);

	/*
	 * Given up while paused: the job ends DB_UNAVAILABLE, the server stops
	 * the query, and the pool connects anew.
	 */
	stream_reset(s, pool, resume, 1000);
	s->cancel = true;
	o = outcome_new();
	o->ctx = s;
	job = db_job_new(0);
	db_job_add(job, NULL, stream_sql, n);
	db_job_set_rows(job, stream_row);
	run_with(pool, job, o);
	CHECK(o->st == DB_UNAVAILABLE);
	CHECK_INT(s->rows, 1000);
	CHECK(wait_ready(pool, JOB_TIMEOUT_MS));
	end = fb_now_us() + 5000000;
	while ((busy = admin_int("SELECT count(*) FROM pg_stat_activity WHERE application_name = '%s'"
	    " AND state = 'active' AND query LIKE '%%generate_series%%'", appname)) != 0 &&
	    fb_now_us() < end)
		loop_for(10);
	CHECK_INT(busy, 0);
	job = db_job_new(0);
	db_job_add(job, NULL, "SELECT 'after'");
	o = run(pool, job);
	CHECK(o->st == DB_OK);
	CHECK_STR(o->res[0].first, "after");
	if (o->done)
		event_free(resume);    /* else a hung stream may still arm it */
}

/* ---- j: the bound on prepared statements ------------------------------- */

static char j_sql[DB_PREPARED_MAX + 21][16];  /* SQL lives as long as the pool */

static void
j_done(struct db_job *job, enum db_status st, void *arg)
{
	struct outcome *o = arg;
	size_t i;

	for (i = 0; i < FB_ARRAY_LEN(j_sql); i++) {
		const PGresult *r = db_job_result(job, (int)i);

		if (r == NULL || PQntuples(r) != 1 || strtoul(PQgetvalue(r, 0, 0), NULL, 10) != i)
			o->bad++;
	}
	job_done(job, st, arg);
}

static void
scenario_j(const char *url)
{
	struct db_pool_opts opts = {
		.url = url, .application_name = appname_j, .size = 1,
		.queue_max = QUEUE_MAX, .queue_timeout_ms = JOB_TIMEOUT_MS,
		.statement_timeout_ms = JOB_TIMEOUT_MS,
	};
	struct db_pool *pool;
	struct db_pool_stats s0, s1;
	struct db_job *job;
	struct outcome *o;
	size_t i;
	int pass;

	scenario = "j: more statements than the cache holds";
	for (i = 0; i < FB_ARRAY_LEN(j_sql); i++)
		snprintf(j_sql[i], sizeof(j_sql[i]), "SELECT %zu", i);
	pool = db_pool_new(base, &opts);
	CHECK(wait_ready(pool, JOB_TIMEOUT_MS));
	for (pass = 0; pass < 2; pass++) {
		s0 = stats(pool);
		job = db_job_new(0);
		for (i = 0; i < FB_ARRAY_LEN(j_sql); i++)
			db_job_add(job, NULL, j_sql[i]);
		o = run_with_at(__LINE__, pool, job, outcome_new(), j_done);
		s1 = stats(pool);
		CHECK(o->st == DB_OK);
		CHECK_INT(o->bad, 0);
		CHECK_INT(s1.statements - s0.statements, (long long)FB_ARRAY_LEN(j_sql));
		CHECK_INT(s1.flights - s0.flights, 1);
		/* the first DB_PREPARED_MAX once, then never; the rest unnamed */
		CHECK_INT(s1.prepares - s0.prepares, pass == 0 ? DB_PREPARED_MAX : 0);
	}

	/* one at a time, the same: none prepared again, all answered */
	s0 = stats(pool);
	for (i = DB_PREPARED_MAX - 2; i < FB_ARRAY_LEN(j_sql); i += 4) {
		job = db_job_new(DB_TX);
		db_job_add(job, NULL, j_sql[i]);
		o = run(pool, job);
		CHECK(o->st == DB_OK && strtoul(o->res[0].first, NULL, 10) == i);
	}
	CHECK_INT(stats(pool).prepares - s0.prepares, 0);
	db_pool_free(pool);
}

/* ---- k: an error outside a transaction -------------------------------- */

static void
scenario_k(struct db_pool *pool)
{
	struct db_job *job;
	struct outcome *o;
	int64_t end;

	scenario = "k: an SQL error in a flight without BEGIN";
	job = db_job_new(0);
	db_job_add(job, NULL, "INSERT INTO db_tests.k (id) VALUES ($1)", "1");
	db_job_add(job, NULL, "INSERT INTO db_tests.k (id) VALUES ($1)", "1");
	db_job_add(job, NULL, "INSERT INTO db_tests.k (id) VALUES ($1)", "3");
	o = run(pool, job);
	CHECK(o->st == DB_SQL_ERROR);
	CHECK_STR(o->sqlstate, "23505");
	CHECK_STR(o->constraint, "k_pkey");
	/* one flight, one implicit transaction (db.h): the first INSERT is undone */
	CHECK_INT(admin_int("SELECT count(*) FROM db_tests.k"), 0);
	CHECK_INT(pool_backends_not_idle(), 0);

	/* behind a step, the first INSERT is a flight of its own, and stays */
	job = db_job_new(0);
	db_job_add(job, step_ok, "INSERT INTO db_tests.k (id) VALUES ($1)", "2");
	db_job_add(job, NULL, "INSERT INTO db_tests.k (id) VALUES ($1)", "2");
	o = run(pool, job);
	CHECK(o->st == DB_SQL_ERROR);
	CHECK_STR(o->sqlstate, "23505");
	CHECK_INT(admin_int("SELECT count(*) FROM db_tests.k WHERE id = 2"), 1);

	/* and the pool goes on */
	job = db_job_new(0);
	db_job_add(job, NULL, "INSERT INTO db_tests.k (id) VALUES ($1)", "1");
	o = run(pool, job);
	CHECK(o->st == DB_OK);
	CHECK_INT(admin_int("SELECT count(*) FROM db_tests.k"), 2);

	/*
	 * A job that leaves a transaction open (its own BEGIN): the connection
	 * rolls it back before it takes the next job, which then commits alone.
	 */
	job = db_job_new(0);
	db_job_add(job, NULL, "BEGIN");
	db_job_add(job, NULL, "INSERT INTO db_tests.k (id) VALUES ($1)", "9");
	o = run(pool, job);
	CHECK(o->st == DB_OK);
	end = fb_now_us() + 5000000;
	while (stats(pool).in_use > 0 && fb_now_us() < end)
		loop_for(10);
	CHECK_INT(stats(pool).in_use, 0);
	CHECK_INT(pool_backends_not_idle(), 0);
	CHECK_INT(admin_int("SELECT count(*) FROM db_tests.k WHERE id = 9"), 0);
	job = db_job_new(0);
	db_job_add(job, NULL, "INSERT INTO db_tests.k (id) VALUES ($1)", "9");
	o = run(pool, job);
	CHECK(o->st == DB_OK);
	CHECK_INT(admin_int("SELECT count(*) FROM db_tests.k WHERE id = 9"), 1);
}

/* ---- l: a full queue -------------------------------------------------- */

/* ---- m: statements after the COMMIT ----------------------------------- */

static const char SQL_M[] = "SELECT * FROM db_tests.m WHERE id = $1";

static int
step_m(struct db_job *job, const PGresult *res, void *arg)
{
	struct outcome *o = arg;

	o->steps++;
	db_job_add_after(job, "SELECT $1::bigint", PQgetvalue(res, 0, 0));
	return 0;
}

static void
scenario_m(struct db_pool *pool)
{
	struct db_pool_stats s0, s1;
	struct db_job *job;
	struct outcome *o;
	int idx;

	scenario = "m: statements after the commit, in the same flight";
	s0 = stats(pool);
	job = db_job_new(DB_TX);
	db_job_add(job, NULL, "INSERT INTO db_tests.m (id, v) VALUES ($1, $2)", "1", "one");
	db_job_add(job, NULL, "SELECT txid_current()");
	idx = db_job_add_after(job, "SELECT v FROM db_tests.m WHERE id = $1", "1");
	CHECK_INT(idx, DB_AFTER_BASE);
	/* a transaction of its own: the job's, which took an id, has ended */
	CHECK_INT(db_job_add_after(job, "SELECT txid_current_if_assigned() IS NULL"),
	    DB_AFTER_BASE + 1);
	o = run(pool, job);
	s1 = stats(pool);
	CHECK(o->st == DB_OK);
	CHECK_INT(o->nres, 2);
	CHECK_INT(o->nafter, 2);
	CHECK_STR(o->after[0].first, "one");
	CHECK_STR(o->after[1].first, "t");
	CHECK_INT(s1.flights - s0.flights, 1);
	CHECK_INT(s1.statements - s0.statements, 4);

	/* the transaction fails: what comes after its COMMIT never runs */
	job = db_job_new(DB_TX);
	db_job_add(job, NULL, "INSERT INTO db_tests.m_log DEFAULT VALUES");
	db_job_add(job, NULL, "INSERT INTO db_tests.m (id, v) VALUES ($1, $2)", "1", "again");
	db_job_add_after(job, "INSERT INTO db_tests.m_log DEFAULT VALUES");
	o = run(pool, job);
	CHECK(o->st == DB_SQL_ERROR);
	CHECK_STR(o->sqlstate, "23505");
	CHECK_INT(o->nafter, 0);
	CHECK_INT(admin_int("SELECT count(*) FROM db_tests.m_log"), 0);

	/* behind a step: it goes with the flight that carries the COMMIT */
	s0 = stats(pool);
	o = outcome_new();
	job = db_job_new(DB_TX);
	db_job_add(job, step_ok, "SELECT count(*) FROM db_tests.m");
	db_job_add(job, NULL, "INSERT INTO db_tests.m (id, v) VALUES ($1, $2)", "2", "two");
	db_job_add_after(job, "SELECT v FROM db_tests.m WHERE id = $1", "2");
	run_with(pool, job, o);
	s1 = stats(pool);
	CHECK(o->st == DB_OK);
	CHECK_INT(o->steps, 1);
	CHECK_STR(o->after[0].first, "two");
	CHECK_INT(s1.flights - s0.flights, 2);

	/* added by a step, in a job that loses a race: added once on the rerun */
	o = outcome_new();
	job = db_job_new(DB_TX);
	db_job_add(job, step_m, "SELECT 41");
	db_job_add(job, NULL, "SELECT db_tests.flaky('db_tests.m_calls')");
	run_with(pool, job, o);
	CHECK(o->st == DB_OK);
	CHECK_INT(o->steps, 2);      /* once in each run */
	CHECK_INT(o->nafter, 1);
	CHECK_STR(o->after[0].first, "41");
	CHECK_STR(o->res[1].first, "2");

	/* a plan a migration changed, after the commit: only it runs again */
	warm_every_connection(pool, SQL_M, true, 2);
	admin_exec("ALTER TABLE db_tests.m ADD COLUMN w int NOT NULL DEFAULT 5");
	s0 = stats(pool);
	job = db_job_new(DB_TX);
	db_job_add(job, NULL, "INSERT INTO db_tests.m_log DEFAULT VALUES");
	db_job_add_after(job, SQL_M, "1");
	o = run(pool, job);
	s1 = stats(pool);
	CHECK(o->st == DB_OK);
	CHECK_STR(o->sqlstate, "");
	CHECK_INT(o->after[0].nfields, 3);
	CHECK_INT(o->after[0].ntuples, 1);
	CHECK_INT(s1.replans - s0.replans, 1);
	CHECK_INT(admin_int("SELECT count(*) FROM db_tests.m_log"), 1);   /* committed once */
	CHECK_INT(pool_backends_not_idle(), 0);
}

static void
scenario_l(struct db_pool *pool)
{
	struct outcome *o[POOL_SIZE + QUEUE_MAX];
	struct db_job *job;
	size_t i;
	int done;

	scenario = "l: the wait queue is bounded";
	for (i = 0; i < FB_ARRAY_LEN(o); i++) {
		o[i] = outcome_new();
		job = db_job_new(0);
		db_job_add(job, NULL, "SELECT $1::int", i % 2 ? "1" : "0");
		CHECK(db_submit(pool, job, job_done, o[i]) == DB_OK);
	}
	CHECK_INT(stats(pool).in_use, POOL_SIZE);
	CHECK_INT(stats(pool).waiting, QUEUE_MAX);
	job = db_job_new(0);
	db_job_add(job, NULL, "SELECT 1");
	CHECK(db_submit(pool, job, job_done, outcome_new()) == DB_BUSY);
	for (i = 0; i < FB_ARRAY_LEN(o); i++)
		loop_until(&o[i]->done, JOB_TIMEOUT_MS, "a queued job");
	for (i = 0, done = 0; i < FB_ARRAY_LEN(o); i++)
		done += o[i]->done && o[i]->st == DB_OK;
	CHECK_INT(done, (long long)FB_ARRAY_LEN(o));
	CHECK_INT(stats(pool).waiting, 0);
	CHECK_INT(stats(pool).in_use, 0);
}

int
main(int argc, char **argv)
{
	const char *keys[] = { "dbname", "application_name", NULL };
	const char *vals[] = { NULL, "fairbeta-db-tests", NULL };
	struct db_pool_opts opts = {
		.size = POOL_SIZE, .queue_max = QUEUE_MAX, .queue_timeout_ms = JOB_TIMEOUT_MS,
		.statement_timeout_ms = JOB_TIMEOUT_MS,
	};
	struct db_pool *pool;

	if (argc != 2) {
		fprintf(stderr, "usage: %s URL\n", argv[0]);
		return 2;
	}
	log_set_level(LOG_WARN);
	vals[0] = argv[1];
	admin = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(admin) != CONNECTION_OK) {
		fprintf(stderr, "db-tests: %s", PQerrorMessage(admin));
		return 2;
	}
	admin_exec("SET client_min_messages = warning");
	schema_create();
	if (db_failed > 0)
		return 2;

	snprintf(appname, sizeof(appname), "fairbeta-db-tests-%d", (int)getpid());
	snprintf(appname_j, sizeof(appname_j), "fairbeta-db-tests-%d-j", (int)getpid());
	opts.url = argv[1];
	opts.application_name = appname;
	base = event_base_new();
	pool = db_pool_new(base, &opts);
	if (!wait_ready(pool, JOB_TIMEOUT_MS)) {
		fprintf(stderr, "db-tests: the pool never became ready\n");
		return 2;
	}
	scenario_a(pool);
	scenario_b(pool);
	scenario_c(pool);
	scenario_d(pool);
	scenario_e(pool);
	scenario_f(pool);
	scenario_g(pool);
	scenario_h(pool);
	scenario_i(pool);
	scenario_j(argv[1]);
	scenario_k(pool);
	scenario_m(pool);
	scenario_l(pool);

	scenario = "end";
	db_pool_free(pool);
	event_base_free(base);
	admin_exec("DROP SCHEMA db_tests CASCADE");
	PQfinish(admin);
	printf("db: %d passed, %d failed\n", db_passed, db_failed);
	return db_failed ? 1 : 0;
}
