/*
 * idem.h: the Idempotency-Key convention, in one place for every POST.
 *
 * A signed-in caller's POST carrying Idempotency-Key first claims the key
 * (caller, key) in the database with a hash of the request. The first
 * claim runs the handler; its reply (status, type, body) is stored when it
 * is sent, and the same request again replays it with Idempotent-Replayed:
 * true. The same key with another request is 422; one still running is
 * 409. A 5xx is not stored: the key is freed for a retry. Keys are kept at
 * least 24 hours; an in-flight claim whose server died is taken over after
 * its lock runs out.
 *
 * This gives the reply once; effects that must happen at most once even
 * if a server dies between its commit and storing the reply also carry the
 * key in their own unique column (ledger transactions, payout batches).
 */
#ifndef FB_IDEM_H
#define FB_IDEM_H

#include <event2/buffer.h>

struct reqctx;

#define IDEM_KEY_MAX 200

/* Whether key is 1..IDEM_KEY_MAX printable ASCII characters, no spaces. */
bool idem_key_valid(const char *key);

/*
 * Claims rc's key, then runs the handler, or answers itself (replay, 409,
 * 422, 503). Called by http for a POST with the header and a signed-in caller.
 */
void idem_begin(struct reqctx *rc, const char *key);

/*
 * From the reply path: for a claimed key, stores the reply (or, for a 5xx,
 * frees the key) and returns true; the reply is sent once that is done
 * (reply_after_store), so a client that has the answer finds it stored.
 * Returns false when there is nothing to store: send at once.
 */
bool idem_finish(struct reqctx *rc, int status, struct evbuffer *body);

/* "idem:<caller>:<key>:<request hash>" for a keyed request (arena), else NULL. */
const char *idem_effect_key(struct reqctx *rc);

#endif
