/*
 * notify.h: delivering the outbox. A run fans new outbox events out into
 * deliveries (webhooks subscribed to the event, users to email), then
 * claims due deliveries with SKIP LOCKED and sends them through the sender,
 * keeping at most FAIRBETA_DELIVERY_CONCURRENCY in flight. A delivery is
 * marked delivered only after the receiver's 2xx or the SMTP server's
 * acceptance; otherwise it is retried with exponential backoff and jitter,
 * then dead. A delivery whose worker died is taken again when its lease
 * (FAIRBETA_DELIVERY_LEASE_S) runs out: at least once.
 */
#ifndef FB_NOTIFY_H
#define FB_NOTIFY_H

#include <stdbool.h>

struct config;
struct db_pool;
struct sender;
struct notify;

struct notify *notify_new(struct db_pool *pool, struct sender *sender,
    const struct config *cfg);
void notify_free(struct notify *n);

/* Starts a run now, or right after the one in progress. */
void notify_kick(struct notify *n);
/* Whether a run, a send or its recording is in progress. */
bool notify_busy(const struct notify *n);
/* No new runs from now on; what is in flight finishes and is recorded. */
void notify_stop(struct notify *n);

/* The message (headers and body, CRLF) for an email delivery; for tests. */
char *notify_compose_mail(const char *from, const char *to, const char *name,
    const char *event_type, const char *event_id, const char *delivery_id,
    const char *payload_json, const char *title);

#endif
