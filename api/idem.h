/*
 * idem.h: the Idempotency-Key convention, in one place for every POST.
 *
 * A signed-in caller's POST carrying Idempotency-Key has its key checked and
 * its request hashed by the pipeline (idem_prepare) before the handler runs.
 * The claim of the key (caller, key) rides as a guard in the first job the
 * handler sends (idem_claim_guard, from req_db): in the same round trip and,
 * when that job is a transaction, in the same transaction as the change, so
 * a change that rolls back takes its claim with it. The reply is stored
 * (REPLY_STORE stage) before the client sees it, under the claim's token; a
 * 5xx frees the key for a retry.
 *
 * When the key is taken (the guard fails with FB409) nothing the handler
 * sent happened, and idem_taken() answers instead: the stored reply again
 * with Idempotent-Replayed: true, 409 while the first request is still
 * running, 422 when the key was used with another request. Keys are kept
 * 24 hours at least; an in-flight claim whose server died after committing
 * it is taken over once its lock runs out.
 *
 * Effects that must happen at most once even if a server dies between its
 * commit and storing the reply also carry a key in their own unique column
 * (ledger transactions, payout batches, submissions): idem_effect_key().
 */
#ifndef FB_IDEM_H
#define FB_IDEM_H

#include "request.h"

#define IDEM_KEY_MAX 200

/* Whether key is 1..IDEM_KEY_MAX printable ASCII characters, no spaces. */
bool idem_key_valid(const char *key);

/*
 * For the pipeline, before the handler of a keyed POST: false when the key
 * is malformed (answered 422). Otherwise the request runs under the key.
 */
bool idem_prepare(struct reqctx *rc, const char *key);

/* For req_db: the claim, as a guard of the request's first job (once). */
void idem_claim_guard(struct reqctx *rc, struct db_job *job);

/* Whether a failed job failed because the key's claim found it taken. */
bool idem_claim_refused(struct db_job *job);

/* For the pipeline, after idem_claim_refused: answers from the key's row. */
void idem_taken(struct reqctx *rc);

/* "idem:<caller>:<key>:<request hash>" for a keyed request (arena), else NULL. */
const char *idem_effect_key(struct reqctx *rc);

#endif
