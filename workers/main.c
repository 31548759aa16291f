/*
 * fairbeta-worker: the background jobs, on one event loop with its own
 * asynchronous database pool, configured like the API (FAIRBETA_*).
 *
 * Every FAIRBETA_WORKER_TICK_MS it runs the deadline job (deadlines.c); a
 * tick never overlaps the previous one. SIGTERM or SIGINT lets the running
 * job finish, then the worker exits 0. Any number of workers may run at
 * once: the jobs take their rows with SKIP LOCKED.
 */
#include "fb.h"

#include <signal.h>

#include <event2/event.h>

#include "config.h"
#include "crypto.h"
#include "db.h"
#include "deadlines.h"
#include "log.h"

#define WORKER_DB_CONNS 2

struct worker {
	struct event_base *base;
	struct db_pool *db;
	struct event *ev_tick, *ev_term, *ev_int;
	struct timeval tick;
	bool busy;               /* a run is in progress */
	bool stopping;
};

static void
run_done(const struct deadlines_stats *stats, void *arg)
{
	struct worker *w = arg;

	FB_UNUSED(stats);
	w->busy = false;
	if (w->stopping)
		event_base_loopexit(w->base, NULL);
	else
		evtimer_add(w->ev_tick, &w->tick);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	FB_UNUSED(fd);
	FB_UNUSED(what);
	w->busy = true;
	deadlines_run(w->db, run_done, w);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct worker *w = arg;

	FB_UNUSED(what);
	log_info(NULL, "worker: signal %d, stopping", (int)sig);
	w->stopping = true;
	evtimer_del(w->ev_tick);
	if (!w->busy)
		event_base_loopexit(w->base, NULL);
}

int
main(int argc, char **argv)
{
	struct config cfg;
	struct worker w = { 0 };
	struct db_pool_opts po = { 0 };
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
	po.queue_max = 16;
	po.queue_timeout_ms = (int)cfg.db_queue_timeout_ms;
	po.statement_timeout_ms = (int)cfg.db_statement_timeout_ms;
	w.db = db_pool_new(w.base, &po);
	w.tick.tv_sec = cfg.worker_tick_ms / 1000;
	w.tick.tv_usec = (cfg.worker_tick_ms % 1000) * 1000;
	w.ev_tick = evtimer_new(w.base, tick_cb, &w);
	w.ev_term = evsignal_new(w.base, SIGTERM, signal_cb, &w);
	w.ev_int = evsignal_new(w.base, SIGINT, signal_cb, &w);
	event_add(w.ev_term, NULL);
	event_add(w.ev_int, NULL);
	evtimer_add(w.ev_tick, &w.tick);
	log_info(NULL, "worker: checking deadlines every %ld ms", cfg.worker_tick_ms);

	event_base_dispatch(w.base);

	event_free(w.ev_tick);
	event_free(w.ev_term);
	event_free(w.ev_int);
	db_pool_free(w.db);
	event_base_free(w.base);
	log_info(NULL, "worker: stopped");
	rc = 0;
out:
	config_free(&cfg);
	return rc;
}
