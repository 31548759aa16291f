/*
 * sender.h: outgoing SMTP and HTTP with libcurl's multi interface, driven
 * by the worker's libevent loop: curl says which sockets and timeouts it
 * waits on, the loop tells it when they are ready. Nothing blocks.
 */
#ifndef FB_SENDER_H
#define FB_SENDER_H

#include <stdbool.h>

struct event_base;
struct config;
struct sender;

/*
 * The outcome of one send: ok for an HTTP 2xx or a mail the SMTP server
 * accepted; status is the HTTP or SMTP reply code (0 without one); error
 * says what went wrong, NULL when ok.
 */
typedef void sender_done_fn(void *arg, bool ok, long status, const char *error);

struct sender *sender_new(struct event_base *base, const struct config *cfg);
/* Transfers still running are dropped (their done is not called). */
void sender_free(struct sender *s);
int sender_inflight(const struct sender *s);

/* POSTs body to url with the "Name: value" headers (NULL-terminated). */
int sender_post(struct sender *s, const char *url, const char *const *headers,
    const char *body, sender_done_fn *done, void *arg);

/* Sends a complete RFC 5322 message (CRLF line ends) to one address. */
int sender_mail(struct sender *s, const char *to, const char *message,
    sender_done_fn *done, void *arg);

#endif
