/*
 * workpool.h: a few threads for CPU-heavy work (Argon2id), off the loops.
 *
 * A job runs work(arg) on a pool thread, then done(arg) back on the event
 * loop that owns the inbox it was submitted with. The queue is bounded:
 * workpool_submit() refuses work beyond it rather than let a login burst
 * grow memory without limit.
 */
#ifndef FB_WORKPOOL_H
#define FB_WORKPOOL_H

struct event_base;
struct workpool;
struct workpool_inbox;

typedef void workpool_fn(void *arg);

struct workpool *workpool_new(int threads, int queue_max);
/* Finishes queued work, joins the threads. Inboxes must still exist. */
void workpool_free(struct workpool *wp);

/* A loop's mailbox for completions. Free it after the pool is freed. */
struct workpool_inbox *workpool_inbox_new(struct event_base *base);
void workpool_inbox_free(struct workpool_inbox *in);

/* Returns 0, or -1 when the queue is full (nothing will be called). */
int workpool_submit(struct workpool *wp, struct workpool_inbox *in,
    workpool_fn *work, workpool_fn *done, void *arg);

/* Jobs waiting for a thread, for metrics. */
int workpool_depth(struct workpool *wp);

#endif
