/*
 * metrics.h: request counters and latency histograms, Prometheus text out.
 *
 * Counters are atomics indexed by route (the route table index, plus one
 * slot for requests that matched no route) and status code, so the loops
 * never lock to count and the metrics listener reads them at any time.
 */
#ifndef FB_METRICS_H
#define FB_METRICS_H

struct evbuffer;
struct route;
struct server;

void metrics_init(const struct route *routes, int nroutes);
void metrics_observe(int route_index, unsigned method, int status, int64_t duration_us);
/* Appends the exposition; extra gauges come from the loops and the caller. */
void metrics_render(struct evbuffer *out, struct server *srv);

#endif
