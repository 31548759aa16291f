/*
 * loop.h: what a request can see of the server it runs in: its loop (one
 * per thread: event base, evhttp, database pool, session hints, inbox), the
 * listeners, and the server's configuration. Data only; server.h starts
 * and stops it.
 */
#ifndef FB_LOOP_H
#define FB_LOOP_H

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
	struct replica *replica;              /* NULL: no replica configured */
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

#endif
