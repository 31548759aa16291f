/*
 * replica.h: a streaming replica for the reads that may lag a little
 * (routes flagged RT_REPLICA: the ledger export, transparency figures).
 *
 * Each loop keeps a small pool to FAIRBETA_DATABASE_REPLICA_URL and
 * measures the replica's replay lag every second. A read goes there only
 * while the lag is known and within FAIRBETA_REPLICA_MAX_LAG_MS; otherwise,
 * and when no replica is configured, it goes to the primary. Nothing else
 * does: a request's writes, its session check and the reads that must see
 * them (an artist's own submissions) stay on the primary.
 */
#ifndef FB_REPLICA_H
#define FB_REPLICA_H

struct event_base;
struct db_pool;
struct config;
struct replica;

/* NULL when cfg names no replica. */
struct replica *replica_new(struct event_base *base, const struct config *cfg);
void replica_free(struct replica *r);

/* The pool to read from now, or NULL: read from the primary. */
struct db_pool *replica_pool(struct replica *r);

/* The lag last measured, in milliseconds; -1 when unknown (unreachable). */
long replica_lag_ms(const struct replica *r);

/* Reads sent to the replica, and those sent to the primary for its lag. */
long long replica_reads(const struct replica *r);
long long replica_fallbacks(const struct replica *r);

#endif
