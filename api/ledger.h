/*
 * ledger.h: what the routes that post to the ledger share (h_ledger.c,
 * h_payouts.c).
 */
#ifndef FB_LEDGER_H
#define FB_LEDGER_H

#include "pipeline.h"

/*
 * Replies for a posting the database refused (payable below zero 409,
 * unbalanced or foreign entries 422, a second reversal 409); false when
 * st is something else, for the caller to handle.
 */
bool ledger_refusal(struct reqctx *rc, struct db_job *job, enum db_status st);

#endif
