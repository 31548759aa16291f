/*
 * fairbeta-worker: the background jobs, on one event loop with its own
 * asynchronous database pool, configured like the API (FAIRBETA_*).
 *
 * Every FAIRBETA_WORKER_TICK_MS it runs the deadline job (deadlines.c) and
 * the delivery of the outbox (notify.c, through sender.c); a NOTIFY on
 * fairbeta_outbox, heard on a connection of its own, starts a delivery run
 * at once. SIGTERM or SIGINT lets the running jobs and sends finish (up to
 * FAIRBETA_SHUTDOWN_TIMEOUT_S), then the worker exits 0. Any number of
 * workers may run at once: the jobs take their rows with SKIP LOCKED.
 */
#include "fb.h"

#include <signal.h>

#include <event2/event.h>

#include "config.h"
#include "crypto.h"
#include "db.h"
#include "deadlines.h"
#include "log.h"
#include "notify.h"
#include "sender.h"

#define WORKER_DB_CONNS 4

struct worker {
	struct event_base *base;
	struct db_pool *db;
	struct db_pool *listen;        /* one connection that LISTENs */
	struct sender *sender;
	struct notify *notify;
	struct event *ev_tick, *ev_term, *ev_int, *ev_stop;
	struct timeval tick;
	long shutdown_timeout_s;
	bool busy;               /* a deadline run is in progress */
	bool stopping;
	int64_t stop_deadline_us;
};

static void
listened(struct db_job *job, enum db_status st, void *arg)
{
	FB_UNUSED(arg);
	if (st != DB_OK)
		log_warn(NULL, "worker: LISTEN failed (%s %s); polling only until it works",
		    db_status_str(st), db_job_errmsg(job));
}

/* LISTEN again each tick: a replaced connection forgets it; it costs little. */
static void
listen_again(struct worker *w)
{
	struct db_job *job = db_job_new(0);

	db_job_add(job, NULL, "LISTEN fairbeta_outbox");
	db_submit(w->listen, job, listened, w);
}

static void
heard(const char *channel, void *arg)
{
	struct worker *w = arg;

	FB_UNUSED(channel);
	if (!w->stopping)
		notify_kick(w->notify);
}

/* After SIGTERM: exit once nothing is running, or at the deadline. */
static void
stop_check(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct timeval tv = { 0, 100000 };

	FB_UNUSED(fd);
	FB_UNUSED(what);
	if ((!w->busy && !notify_busy(w->notify)) || fb_now_us() > w->stop_deadline_us) {
		if (notify_busy(w->notify))
			log_warn(NULL, "worker: stopping with deliveries in flight; their leases"
			    " will bring them back");
		event_base_loopexit(w->base, NULL);
		return;
	}
	evtimer_add(w->ev_stop, &tv);
}

static void
run_done(const struct deadlines_stats *stats, void *arg)
{
	struct worker *w = arg;

	FB_UNUSED(stats);
	w->busy = false;
	if (!w->stopping)
		evtimer_add(w->ev_tick, &w->tick);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	FB_UNUSED(fd);
	FB_UNUSED(what);
	w->busy = true;
	listen_again(w);
	notify_kick(w->notify);
	deadlines_run(w->db, run_done, w);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct worker *w = arg;

	FB_UNUSED(what);
	log_info(NULL, "worker: signal %d, stopping", (int)sig);
	w->stopping = true;
	notify_stop(w->notify);
	evtimer_del(w->ev_tick);
	w->stop_deadline_us = fb_now_us() + w->shutdown_timeout_s * 1000000;
	stop_check(-1, 0, w);
}

int
main(int argc, char **argv)
{
	struct config cfg;
	struct worker w = { 0 };
	struct db_pool_opts po = { 0 };
	struct timeval first_tick = { 0, 300000 };
	fb_err err;
	int rc = 1;

	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("fairbeta-worker %s\n", FB_VERSION);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	if (config_load(&cfg, err) != 0) {
		fprintf(stderr, "fairbeta-worker: %s\n", err);
		return 2;
	}
	log_set_level(cfg.log_level);
	if (cfg.database_url[0] == '\0') {
		fprintf(stderr, "fairbeta-worker: FAIRBETA_DATABASE_URL is not set\n");
		goto out;
	}
	if (crypto_init() != 0) {
		fprintf(stderr, "fairbeta-worker: libsodium cannot start\n");
		goto out;
	}
	log_emit(LOG_INFO, NULL, json_pack("{s:o}", "config", config_to_json(&cfg)),
	    "fairbeta-worker %s starting", FB_VERSION);

	w.base = event_base_new();
	if (w.base == NULL) {
		fprintf(stderr, "fairbeta-worker: cannot create the event loop\n");
		goto out;
	}
	po.url = cfg.database_url;
	po.application_name = "fairbeta-worker";
	po.size = cfg.db_pool < WORKER_DB_CONNS ? (int)cfg.db_pool : WORKER_DB_CONNS;
	/* each send in flight may queue the job that records its outcome */
	po.queue_max = (int)cfg.delivery_concurrency * 2 + 16;
	po.queue_timeout_ms = (int)cfg.db_queue_timeout_ms;
	po.statement_timeout_ms = (int)cfg.db_statement_timeout_ms;
	po.connect_timeout_ms = (int)cfg.db_connect_timeout_ms;
	w.db = db_pool_new(w.base, &po);
	po.size = 1;
	po.application_name = "fairbeta-worker-listen";
	w.listen = db_pool_new(w.base, &po);
	w.sender = sender_new(w.base, &cfg);
	w.notify = notify_new(w.db, w.sender, &cfg);
	w.shutdown_timeout_s = cfg.shutdown_timeout_s;
	db_pool_on_notify(w.listen, heard, &w);
	if (cfg.smtp_url[0] == '\0')
		log_warn(NULL, "worker: FAIRBETA_SMTP_URL is not set: emails are written to"
		    " this log instead of being sent");
	w.tick.tv_sec = cfg.worker_tick_ms / 1000;
	w.tick.tv_usec = (cfg.worker_tick_ms % 1000) * 1000;
	w.ev_tick = evtimer_new(w.base, tick_cb, &w);
	w.ev_term = evsignal_new(w.base, SIGTERM, signal_cb, &w);
	w.ev_int = evsignal_new(w.base, SIGINT, signal_cb, &w);
	w.ev_stop = evtimer_new(w.base, stop_check, &w);
	event_add(w.ev_term, NULL);
	event_add(w.ev_int, NULL);
	/* the first tick soon, once the connections are up: LISTEN, and what
	 * was written while no worker ran */
	evtimer_add(w.ev_tick, &first_tick);
	log_info(NULL, "worker: checking deadlines every %ld ms", cfg.worker_tick_ms);

	event_base_dispatch(w.base);

	event_free(w.ev_tick);
	event_free(w.ev_term);
	event_free(w.ev_int);
	event_free(w.ev_stop);
	/* the pools first: jobs they fail call back into notify */
	db_pool_free(w.listen);
	db_pool_free(w.db);
	notify_free(w.notify);
	sender_free(w.sender);
	event_base_free(w.base);
	log_info(NULL, "worker: stopped");
	rc = 0;
out:
	config_free(&cfg);
	return rc;
}
