#include "fb.h"

#include <stdatomic.h>
#include <stddef.h>

#include <event2/buffer.h>

#include "authcache.h"
#include "db.h"
#include "metrics.h"
#include "router.h"
#include "loop.h"
#include "replica.h"
#include "workpool.h"

#define NSTATUS 600

/* Upper bounds in microseconds; Prometheus wants seconds. */
static const int64_t bucket_us[] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000,
};
#define NBUCKETS ((int)FB_ARRAY_LEN(bucket_us))

struct route_counters {
	atomic_ulong status[NSTATUS];
	atomic_ulong bucket[NBUCKETS + 1];     /* the last is +Inf */
	atomic_ulong sum_us;
	atomic_ulong count;
	atomic_uint methods;                   /* methods seen, for unmatched */
};

static const struct route *mroutes;
static int mnroutes;
static struct route_counters *counters;     /* mnroutes + 1 */

void
metrics_init(const struct route *routes, int nroutes)
{
	mroutes = routes;
	mnroutes = nroutes;
	counters = fb_calloc((size_t)nroutes + 1, sizeof(*counters));
}

void
metrics_observe(int route_index, unsigned method, int status, int64_t duration_us)
{
	struct route_counters *c;
	int b;

	if (counters == NULL)
		return;
	c = &counters[route_index < 0 || route_index >= mnroutes ? mnroutes : route_index];
	if (status >= 0 && status < NSTATUS)
		atomic_fetch_add(&c->status[status], 1);
	for (b = 0; b < NBUCKETS && duration_us > bucket_us[b]; b++)
		;
	atomic_fetch_add(&c->bucket[b], 1);
	atomic_fetch_add(&c->sum_us, (unsigned long)duration_us);
	atomic_fetch_add(&c->count, 1);
	atomic_fetch_or(&c->methods, method);
}

static void
route_label(int i, char *route, size_t rlen, char *method, size_t mlen)
{
	if (i < mnroutes) {
		snprintf(route, rlen, "%s", mroutes[i].pattern);
		snprintf(method, mlen, "%s", router_method_name(mroutes[i].method));
	} else {
		snprintf(route, rlen, "unmatched");
		snprintf(method, mlen, "any");
	}
}

/* Round trips, statements and prepares, summed over the loops (issue 11). */
static void
db_totals(struct evbuffer *out, struct server *srv)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} c[] = {
		{ "fairbeta_db_round_trips_total", "Flights sent to the database, each one round trip.",
		  offsetof(struct db_pool_stats, flights) },
		{ "fairbeta_db_statements_total", "Statements run, BEGIN and COMMIT aside.",
		  offsetof(struct db_pool_stats, statements) },
		{ "fairbeta_db_prepares_total", "Statements prepared, once per connection each.",
		  offsetof(struct db_pool_stats, prepares) },
		{ "fairbeta_db_replans_total", "Jobs run again after a migration changed a plan.",
		  offsetof(struct db_pool_stats, replans) },
	};
	long long auth[3] = { 0, 0, 0 };
	size_t k;
	int i;

	for (k = 0; k < FB_ARRAY_LEN(c); k++) {
		long long sum = 0;

		for (i = 0; i < srv->nloops; i++) {
			struct db_pool_stats st;

			if (srv->loops[i].db == NULL)
				continue;
			db_pool_stats(srv->loops[i].db, &st);
			sum += *(const long long *)((const char *)&st + c[k].off);
		}
		evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %lld\n",
		    c[k].name, c[k].help, c[k].name, c[k].name, sum);
	}
	for (i = 0; i < srv->nloops; i++) {
		long long h, m, r;

		authcache_stats(srv->loops[i].auth, &h, &m, &r);
		auth[0] += h;
		auth[1] += m;
		auth[2] += r;
	}
	evbuffer_add_printf(out,
	    "# HELP fairbeta_auth_cache_total Bearer tokens by how the caller was found: "
	    "hit (run at once, confirmed in the same round trip), miss (looked up first), "
	    "refuted (the hint was wrong; looked up again).\n"
	    "# TYPE fairbeta_auth_cache_total counter\n"
	    "fairbeta_auth_cache_total{result=\"hit\"} %lld\n"
	    "fairbeta_auth_cache_total{result=\"miss\"} %lld\n"
	    "fairbeta_auth_cache_total{result=\"refuted\"} %lld\n", auth[0], auth[1], auth[2]);
}

/* The replica's lag per loop (-1: unknown) and where lag-tolerant reads went. */
static void
replica_metrics(struct evbuffer *out, struct server *srv)
{
	long long reads = 0, fallbacks = 0;
	int i;

	if (srv->nloops == 0 || srv->loops[0].replica == NULL)
		return;
	evbuffer_add_printf(out,
	    "# HELP fairbeta_replica_lag_seconds The replica's replay lag as a loop last"
	    " measured it; -1 when unknown.\n# TYPE fairbeta_replica_lag_seconds gauge\n");
	for (i = 0; i < srv->nloops; i++) {
		long lag = replica_lag_ms(srv->loops[i].replica);

		evbuffer_add_printf(out, "fairbeta_replica_lag_seconds{loop=\"%d\"} %.3f\n", i,
		    lag < 0 ? -1.0 : (double)lag / 1000.0);
		reads += replica_reads(srv->loops[i].replica);
		fallbacks += replica_fallbacks(srv->loops[i].replica);
	}
	evbuffer_add_printf(out,
	    "# HELP fairbeta_replica_reads_total Lag-tolerant reads, by where they went.\n"
	    "# TYPE fairbeta_replica_reads_total counter\n"
	    "fairbeta_replica_reads_total{to=\"replica\"} %lld\n"
	    "fairbeta_replica_reads_total{to=\"primary\"} %lld\n", reads, fallbacks);
}

void
metrics_render(struct evbuffer *out, struct server *srv)
{
	char route[128], method[16];
	int i, s, b;

	evbuffer_add_printf(out,
	    "# HELP fairbeta_http_requests_total Requests answered, by route, method and status.\n"
	    "# TYPE fairbeta_http_requests_total counter\n");
	for (i = 0; i <= mnroutes; i++) {
		route_label(i, route, sizeof(route), method, sizeof(method));
		for (s = 0; s < NSTATUS; s++) {
			unsigned long n = atomic_load(&counters[i].status[s]);

			if (n)
				evbuffer_add_printf(out,
				    "fairbeta_http_requests_total{route=\"%s\",method=\"%s\",status=\"%d\"} %lu\n",
				    route, method, s, n);
		}
	}
	evbuffer_add_printf(out,
	    "# HELP fairbeta_http_request_duration_seconds Time from request to reply.\n"
	    "# TYPE fairbeta_http_request_duration_seconds histogram\n");
	for (i = 0; i <= mnroutes; i++) {
		unsigned long cum = 0, count = atomic_load(&counters[i].count);

		if (count == 0)
			continue;
		route_label(i, route, sizeof(route), method, sizeof(method));
		for (b = 0; b < NBUCKETS; b++) {
			cum += atomic_load(&counters[i].bucket[b]);
			evbuffer_add_printf(out,
			    "fairbeta_http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\",le=\"%g\"} %lu\n",
			    route, method, (double)bucket_us[b] / 1e6, cum);
		}
		evbuffer_add_printf(out,
		    "fairbeta_http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\",le=\"+Inf\"} %lu\n"
		    "fairbeta_http_request_duration_seconds_sum{route=\"%s\",method=\"%s\"} %.6f\n"
		    "fairbeta_http_request_duration_seconds_count{route=\"%s\",method=\"%s\"} %lu\n",
		    route, method, count, route, method,
		    (double)atomic_load(&counters[i].sum_us) / 1e6, route, method, count);
	}

	evbuffer_add_printf(out,
	    "# HELP fairbeta_db_pool_connections Database connections per loop, by state.\n"
	    "# TYPE fairbeta_db_pool_connections gauge\n");
	for (i = 0; i < srv->nloops; i++) {
		struct db_pool_stats st;

		db_pool_stats(srv->loops[i].db, &st);
		evbuffer_add_printf(out,
		    "fairbeta_db_pool_connections{loop=\"%d\",state=\"configured\"} %d\n"
		    "fairbeta_db_pool_connections{loop=\"%d\",state=\"ready\"} %d\n"
		    "fairbeta_db_pool_connections{loop=\"%d\",state=\"in_use\"} %d\n",
		    i, st.conns, i, st.ready, i, st.in_use);
	}
	evbuffer_add_printf(out,
	    "# HELP fairbeta_db_pool_waiting Jobs waiting for a database connection.\n"
	    "# TYPE fairbeta_db_pool_waiting gauge\n");
	for (i = 0; i < srv->nloops; i++) {
		struct db_pool_stats st;

		db_pool_stats(srv->loops[i].db, &st);
		evbuffer_add_printf(out, "fairbeta_db_pool_waiting{loop=\"%d\"} %d\n", i, st.waiting);
	}
	db_totals(out, srv);
	replica_metrics(out, srv);
	evbuffer_add_printf(out,
	    "# HELP fairbeta_http_requests_in_flight Requests not yet answered.\n"
	    "# TYPE fairbeta_http_requests_in_flight gauge\n");
	for (i = 0; i < srv->nloops; i++)
		evbuffer_add_printf(out, "fairbeta_http_requests_in_flight{loop=\"%d\"} %d\n",
		    i, atomic_load(&srv->loops[i].inflight));
	evbuffer_add_printf(out,
	    "# HELP fairbeta_hash_queue_depth Password hashes waiting for a thread.\n"
	    "# TYPE fairbeta_hash_queue_depth gauge\n"
	    "fairbeta_hash_queue_depth %d\n", workpool_depth(srv->hashers));
}
