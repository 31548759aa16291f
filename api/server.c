#include "fb.h"

#include <signal.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "authcache.h"
#include "crypto.h"
#include "db.h"
#include "pipeline.h"
#include "replica.h"
#include "routes.h"
#include "httperr.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "workpool.h"

#define DRAIN_POLL_MS 20

static struct evconnlistener *
listen_on(struct event_base *base, const char *addr, fb_err err)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	struct evconnlistener *l;

	if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &len) != 0) {
		snprintf(err, FB_ERRLEN, "'%s' is not host:port", addr);
		return NULL;
	}
	l = evconnlistener_new_bind(base, NULL, NULL,
	    LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_FREE |
	    LEV_OPT_CLOSE_ON_EXEC, 1024, (struct sockaddr *)&ss, len);
	if (l == NULL)
		snprintf(err, FB_ERRLEN, "cannot listen on %s: %s", addr, strerror(errno));
	return l;
}

static struct evhttp *
http_new(struct loop *loop, struct http_listener *hl, const struct route *table,
    int n, bool observe)
{
	const struct config *cfg = loop->srv->cfg;
	struct evhttp *http = evhttp_new(loop->base);

	hl->loop = loop;
	hl->routes = table;
	hl->nroutes = n;
	hl->observe = observe;
	/*
	 * Every method reaches the router, which answers 405 with Allow (or 404)
	 * in problem+json: libevent would answer any method outside this mask,
	 * and the methods it does not know at all (lower-case "get", PROPFIND),
	 * which it marks with the bit above its own, with an HTML 501.
	 */
	evhttp_set_allowed_methods(http, 0xffff);
	evhttp_set_max_headers_size(http, cfg->max_headers);
	/*
	 * libevent answers bodies over its own limit with a bare 413 before we
	 * see them. Its limit is a hard cap at four times ours, so that bodies a
	 * little over FAIRBETA_MAX_BODY still get a problem+json 413 from us
	 * while memory per request stays bounded.
	 */
	evhttp_set_max_body_size(http, cfg->max_body * 4);
	httperr_set_max_body(cfg->max_body);
	evhttp_set_timeout(http, (int)cfg->http_timeout_s);
	evhttp_set_default_content_type(http, NULL);
	evhttp_set_gencb(http, http_dispatch, hl);
	return http;
}

static void
loop_finish(struct loop *loop)
{
	evhttp_free(loop->http);
	loop->http = NULL;
	if (loop->metrics_http) {
		evhttp_free(loop->metrics_http);
		loop->metrics_http = NULL;
	}
	event_base_loopexit(loop->base, NULL);
}

/*
 * While draining: in-flight requests finish and their replies are written;
 * at the deadline the database pool closes, so requests still waiting on it
 * are answered 503 at once.
 */
static void
drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct loop *loop = arg;
	struct timeval tv = { 0, DRAIN_POLL_MS * 1000 };

	FB_UNUSED(fd);
	FB_UNUSED(what);
	/*
	 * A reply whose connection broke while it was being written never
	 * completes, so unsent only delays the stop; the deadline bounds it.
	 */
	if (atomic_load(&loop->inflight) == 0 &&
	    (atomic_load(&loop->unsent) == 0 || fb_now_us() >= loop->drain_deadline_us)) {
		loop_finish(loop);
		return;
	}
	if (loop->db != NULL && fb_now_us() >= loop->drain_deadline_us) {
		log_warn(NULL, "loop %d: drain deadline passed with %d requests in flight",
		    loop->id, atomic_load(&loop->inflight));
		db_pool_free(loop->db);
		loop->db = NULL;
		replica_free(loop->replica);
		loop->replica = NULL;
	}
	event_add(loop->ev_drain, &tv);
}

/* Stop accepting (listening sockets close, so new connections are refused). */
static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct loop *loop = arg;

	FB_UNUSED(fd);
	FB_UNUSED(what);
	if (loop->draining)
		return;
	loop->draining = true;
	if (loop->bound) {
		evhttp_del_accept_socket(loop->http, loop->bound);
		loop->bound = NULL;
	}
	loop->drain_deadline_us = fb_now_us() + loop->srv->cfg->shutdown_timeout_s * 1000000;
	drain_cb(-1, 0, loop);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;

	FB_UNUSED(what);
	log_info(NULL, "signal %d: draining", (int)sig);
	server_stop(srv);
}

/*
 * An event base whose epoll changes are batched per loop iteration: a
 * request toggles its connection's read and write interest several times
 * and the pool's sockets too, and without the change list each toggle is
 * an epoll_ctl system call (issue 11). The change list's one caveat, file
 * descriptors shared through dup(), does not arise here.
 */
static struct event_base *
loop_base_new(void)
{
	struct event_config *ec = event_config_new();
	struct event_base *base;

	if (ec == NULL)
		return NULL;
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	return base;
}

static int
loop_init(struct server *srv, struct loop *loop, int id, fb_err err)
{
	const struct config *cfg = srv->cfg;
	struct evconnlistener *l;
	struct db_pool_opts po = {
		.url = cfg->database_url,
		.application_name = "fairbeta-api",
		.size = (int)cfg->db_pool,
		.queue_max = (int)cfg->db_queue,
		.queue_timeout_ms = (int)cfg->db_queue_timeout_ms,
		.statement_timeout_ms = (int)cfg->db_statement_timeout_ms,
		.connect_timeout_ms = (int)cfg->db_connect_timeout_ms,
	};

	loop->id = id;
	loop->srv = srv;
	loop->base = loop_base_new();
	if (loop->base == NULL) {
		snprintf(err, FB_ERRLEN, "cannot create an event loop");
		return -1;
	}
	loop->http = http_new(loop, &loop->api_listener, routes, nroutes, true);
	if ((l = listen_on(loop->base, cfg->listen, err)) == NULL)
		return -1;
	loop->bound = evhttp_bind_listener(loop->http, l);
	if (id == 0 && cfg->metrics_listen[0] && strcmp(cfg->metrics_listen, "off") != 0) {
		loop->metrics_http = http_new(loop, &loop->metrics_listener,
		    metrics_routes, nmetrics_routes, false);
		if ((l = listen_on(loop->base, cfg->metrics_listen, err)) == NULL)
			return -1;
		evhttp_bind_listener(loop->metrics_http, l);
	}
	loop->db = db_pool_new(loop->base, &po);
	loop->replica = replica_new(loop->base, cfg);
	loop->auth = authcache_new();
	loop->inbox = workpool_inbox_new(loop->base);
	loop->ev_stop = event_new(loop->base, -1, 0, stop_cb, loop);
	loop->ev_drain = evtimer_new(loop->base, drain_cb, loop);
	return 0;
}

int
server_init(struct server *srv, const struct config *cfg, fb_err err)
{
	char pw[CRYPTO_TOKEN_LEN];
	int i;

	memset(srv, 0, sizeof(*srv));
	srv->cfg = cfg;
	if (evthread_use_pthreads() != 0) {
		snprintf(err, FB_ERRLEN, "libevent has no thread support");
		return -1;
	}
	crypto_token_new("", pw, sizeof(pw));
	if (crypto_password_hash(pw, srv->dummy_hash) != 0) {
		snprintf(err, FB_ERRLEN, "cannot hash a password (out of memory?)");
		return -1;
	}
	metrics_init(routes, nroutes);
	srv->hashers = workpool_new((int)cfg->hash_threads, (int)cfg->hash_queue);
	srv->nloops = (int)cfg->threads;
	srv->loops = fb_calloc((size_t)srv->nloops, sizeof(struct loop));
	for (i = 0; i < srv->nloops; i++)
		if (loop_init(srv, &srv->loops[i], i, err) != 0)
			return -1;
	return 0;
}

static void *
loop_main(void *arg)
{
	struct loop *loop = arg;

	event_base_dispatch(loop->base);
	return NULL;
}

void
server_run(struct server *srv)
{
	struct event *sigterm, *sigint;
	int i;

	sigterm = evsignal_new(srv->loops[0].base, SIGTERM, signal_cb, srv);
	sigint = evsignal_new(srv->loops[0].base, SIGINT, signal_cb, srv);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	for (i = 1; i < srv->nloops; i++)
		if (pthread_create(&srv->loops[i].thread, NULL, loop_main, &srv->loops[i]) != 0)
			fb_fatal("cannot start loop thread %d", i);
	log_info(NULL, "listening on http://%s with %d loops; metrics on %s",
	    srv->cfg->listen, srv->nloops, srv->cfg->metrics_listen[0] ?
	    srv->cfg->metrics_listen : "off");
	loop_main(&srv->loops[0]);
	for (i = 1; i < srv->nloops; i++)
		pthread_join(srv->loops[i].thread, NULL);
	event_free(sigterm);
	event_free(sigint);
	log_info(NULL, "stopped");
}

void
server_stop(struct server *srv)
{
	int i;

	for (i = 0; i < srv->nloops; i++)
		event_active(srv->loops[i].ev_stop, EV_READ, 1);
}

void
server_free(struct server *srv)
{
	int i;

	/* Threads first: their completions are delivered to the inboxes. */
	workpool_free(srv->hashers);
	for (i = 0; i < srv->nloops; i++) {
		struct loop *loop = &srv->loops[i];

		if (loop->http)
			evhttp_free(loop->http);
		if (loop->metrics_http)
			evhttp_free(loop->metrics_http);
		db_pool_free(loop->db);
		replica_free(loop->replica);
		authcache_free(loop->auth);
		workpool_inbox_free(loop->inbox);
		if (loop->ev_stop)
			event_free(loop->ev_stop);
		if (loop->ev_drain)
			event_free(loop->ev_drain);
		if (loop->base)
			event_base_free(loop->base);
	}
	free(srv->loops);
}
