/*
 * replica.c: the replica's pool and its lag, one per loop.
 *
 * The lag is the replica's replay delay: 0 when it has replayed all the WAL
 * it received, else the age of the last transaction it replayed. A probe
 * that fails makes the lag unknown, so reads fall back to the primary until
 * one succeeds again.
 */
#include "fb.h"

#include <stdatomic.h>

#include <event2/event.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "replica.h"

#define PROBE_MS 1000

/*
 * NULL (unknown, so reads go to the primary) when the replica is not
 * streaming from a primary: a replica cut off has replayed all it received
 * and would otherwise look perfectly fresh.
 */
static const char SQL_LAG[] =
	"SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0"
	"            WHEN (SELECT status FROM pg_stat_wal_receiver) IS DISTINCT FROM 'streaming'"
	"              THEN NULL"
	"            WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
	"            ELSE greatest(0, (extract(epoch FROM now() - pg_last_xact_replay_timestamp())"
	"                               * 1000)::bigint) END";
enum { LAG_MS };

struct replica {
	struct db_pool *pool;
	struct event *ev_probe;
	long max_lag_ms;
	atomic_long lag_ms;          /* -1: unknown; read by the metrics thread */
	atomic_llong reads, fallbacks;
	bool probing;
	bool closing;
};

static void probe_arm(struct replica *r);

static void
probed(struct db_job *job, enum db_status st, void *arg)
{
	struct replica *r = arg;
	long lag = -1, was = atomic_load(&r->lag_ms);

	r->probing = false;
	if (r->closing)
		return;
	if (st == DB_OK && !PQgetisnull(db_job_result(job, 0), 0, LAG_MS))
		lag = strtol(PQgetvalue(db_job_result(job, 0), 0, LAG_MS), NULL, 10);
	atomic_store(&r->lag_ms, lag);
	if ((lag < 0) != (was < 0) || (lag > r->max_lag_ms) != (was > r->max_lag_ms))
		log_info(NULL, "replica: lag %ld ms: reads go to the %s", lag,
		    lag >= 0 && lag <= r->max_lag_ms ? "replica" : "primary");
	probe_arm(r);
}

static void
probe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct replica *r = arg;
	struct db_job *job;

	FB_UNUSED(fd);
	FB_UNUSED(what);
	if (r->probing)
		return;
	job = db_job_new(0);
	db_job_add(job, NULL, SQL_LAG);
	r->probing = true;
	if (db_submit(r->pool, job, probed, r) != DB_OK) {
		r->probing = false;
		atomic_store(&r->lag_ms, -1);
		probe_arm(r);
	}
}

static void
probe_arm(struct replica *r)
{
	struct timeval tv = { PROBE_MS / 1000, (PROBE_MS % 1000) * 1000 };

	event_add(r->ev_probe, &tv);
}

struct replica *
replica_new(struct event_base *base, const struct config *cfg)
{
	struct replica *r;
	struct db_pool_opts po = {
		.url = cfg->replica_url,
		.application_name = "fairbeta-api-replica",
		.size = cfg->db_pool > 2 ? 2 : (int)cfg->db_pool,
		.queue_max = (int)cfg->db_queue,
		.queue_timeout_ms = (int)cfg->db_queue_timeout_ms,
		.statement_timeout_ms = (int)cfg->db_statement_timeout_ms,
		.connect_timeout_ms = (int)cfg->db_connect_timeout_ms,
	};

	if (cfg->replica_url == NULL || cfg->replica_url[0] == '\0')
		return NULL;
	r = fb_calloc(1, sizeof(*r));
	r->pool = db_pool_new(base, &po);
	r->max_lag_ms = cfg->replica_max_lag_ms;
	atomic_store(&r->lag_ms, -1);
	r->ev_probe = evtimer_new(base, probe_cb, r);
	event_active(r->ev_probe, EV_TIMEOUT, 1);   /* the first probe at once */
	return r;
}

void
replica_free(struct replica *r)
{
	if (r == NULL)
		return;
	r->closing = true;
	db_pool_free(r->pool);      /* a probe in flight ends here, before r goes */
	event_free(r->ev_probe);
	free(r);
}

struct db_pool *
replica_pool(struct replica *r)
{
	struct db_pool_stats st;
	long lag;

	if (r == NULL)
		return NULL;
	lag = atomic_load(&r->lag_ms);
	db_pool_stats(r->pool, &st);
	/* no connection ready: the replica went since the last probe */
	if (lag < 0 || lag > r->max_lag_ms || st.ready == 0) {
		atomic_fetch_add(&r->fallbacks, 1);
		return NULL;
	}
	atomic_fetch_add(&r->reads, 1);
	return r->pool;
}

long
replica_lag_ms(const struct replica *r)
{
	return r == NULL ? -1 : atomic_load(&r->lag_ms);
}

long long
replica_reads(const struct replica *r)
{
	return r == NULL ? 0 : atomic_load(&r->reads);
}

long long
replica_fallbacks(const struct replica *r)
{
	return r == NULL ? 0 : atomic_load(&r->fallbacks);
}
