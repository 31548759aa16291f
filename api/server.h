/*
 * server.h: the API's processes-within-a-process: one event loop per thread.
 *
 * Each loop has its own event_base, its own evhttp bound to the shared port
 * with SO_REUSEPORT (the kernel spreads connections), its own database pool
 * and its own inbox for password-hashing results. Nothing is shared between
 * loops except the read-only configuration, the hashing pool and the
 * metrics counters (atomics).
 */
#ifndef FB_SERVER_H
#define FB_SERVER_H

#include <pthread.h>
#include <stdatomic.h>

#include "config.h"

struct event_base;
struct route;
struct evhttp;
struct evhttp_bound_socket;
struct authcache;
struct db_pool;
struct workpool;
struct workpool_inbox;

/* What an evhttp serves: its loop and its route table. */
struct http_listener {
	struct loop *loop;
	const struct route *routes;
	int nroutes;
	bool observe;                         /* count in the request metrics */
};

struct loop {
	int id;
	pthread_t thread;
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	struct evhttp *metrics_http;          /* loop 0 only */
	struct http_listener api_listener, metrics_listener;
	struct db_pool *db;
	struct authcache *auth;               /* sessions seen here (a hint) */
	struct workpool_inbox *inbox;
	struct event *ev_stop;                /* activated by the main thread */
	struct event *ev_drain;               /* polls in-flight while draining */
	int64_t drain_deadline_us;
	atomic_int inflight;                  /* requests not yet replied to */
	atomic_int unsent;                    /* replies queued but not yet written */
	bool draining;
	struct server *srv;
};

struct server {
	const struct config *cfg;
	struct loop *loops;
	int nloops;
	struct workpool *hashers;
	char dummy_hash[128];                 /* verified for unknown emails */
};

/* Builds every loop and binds the listeners. Returns 0 or -1 with err. */
int server_init(struct server *srv, const struct config *cfg, fb_err err);
/* Runs until server_stop() and the drain finish. */
void server_run(struct server *srv);
/* Async-signal-safe request to drain and stop. */
void server_stop(struct server *srv);
void server_free(struct server *srv);

#endif
