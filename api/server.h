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

#include "loop.h"

/* Builds every loop and binds the listeners. Returns 0 or -1 with err. */
int server_init(struct server *srv, const struct config *cfg, fb_err err);
/* Runs until server_stop() and the drain finish. */
void server_run(struct server *srv);
/* Async-signal-safe request to drain and stop. */
void server_stop(struct server *srv);
void server_free(struct server *srv);

#endif
