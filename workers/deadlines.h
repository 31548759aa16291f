/*
 * deadlines.h: the review deadlines, enforced.
 *
 * Each run deems approved every open submission whose review_due_at has
 * passed, then sends the one-time review.sla_warning for those past 80% of
 * their SLA. Rows are taken with FOR UPDATE SKIP LOCKED in batches, each
 * batch one transaction with its decisions, ledger hook, audit rows and
 * outbox events, so several workers can run at once and no submission is
 * handled twice. Then license requests unanswered by their expires_at
 * expire (silence is never consent) and licenses past their until end, the
 * same way. Last, Idempotency-Key records past their 24 hours (kept 48) are
 * deleted.
 */
#ifndef FB_DEADLINES_H
#define FB_DEADLINES_H

struct db_pool;

struct deadlines_stats {
	long deemed;
	long warned;
	long expired;          /* license requests left unanswered */
	long ended;            /* licenses past their until */
	long purged;           /* Idempotency-Key records deleted */
	int failures;          /* batches that did not commit */
};

typedef void deadlines_done_fn(const struct deadlines_stats *stats, void *arg);

/* Starts one run on pool; done is called once it has finished. */
void deadlines_run(struct db_pool *pool, deadlines_done_fn *done, void *arg);

#endif
