/*
 * urlcheck.h: where webhooks may point. Only http(s), and not at this
 * machine or a private network (which would let a webhook probe the
 * inside), unless FAIRBETA_WEBHOOK_ALLOW_PRIVATE says otherwise. The API
 * checks the URL as given; the worker checks every address it connects to,
 * so a name that resolves to a private address later is refused too.
 */
#ifndef FB_URLCHECK_H
#define FB_URLCHECK_H

#include <stdbool.h>

struct sockaddr;

/* NULL when url may be a webhook; else why not. */
const char *urlcheck_webhook(const char *url, bool allow_private);

/* Whether an address is loopback, private, link-local or unspecified. */
bool urlcheck_addr_private(const struct sockaddr *sa);

#endif
