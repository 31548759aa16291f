/*
 * handlers.h: every route handler's entry point and the body schema each
 * takes, for the route table (routes.c); each h_*.c includes it for its own.
 * Handlers never call one another: what several share is a resource module
 * of its own (program.h, submission.h, ledger.h, list.h, repr.h).
 *
 * Handlers live one resource per file (h_<resource>.c). Each receives a
 * reqctx whose route, roles and JSON body have already been checked, and
 * ends with exactly one reply_* call, possibly after asynchronous steps.
 */
#ifndef FB_HANDLERS_H
#define FB_HANDLERS_H

#include "pipeline.h"
#include "jsonv.h"

/*
 * The body each RT_BODY route takes, named after its handler and defined
 * beside it; routes.c puts them in the table (jv_no_members: none).
 */
extern const struct jv_schema session_create_body, user_create_body;
extern const struct jv_schema program_create_body, program_patch_body;
extern const struct jv_schema terms_publish_body, rates_put_body;
extern const struct jv_schema invitation_create_body, invitation_preview_body;
extern const struct jv_schema enrollment_create_body, enrollment_accept_terms_body,
    enrollment_withdraw_body;
extern const struct jv_schema submission_create_body, submission_exhibit_body;
extern const struct jv_schema queue_claim_body, submission_decide_body,
    submission_appeal_body;
extern const struct jv_schema ledger_fund_body, ledger_adjust_body, ledger_reverse_body;
extern const struct jv_schema payout_draft_body, payout_item_paid_body,
    payout_item_failed_body;
extern const struct jv_schema prefs_put_body, webhook_create_body;
extern const struct jv_schema license_request_body, license_reason_body;

/* h_ops.c */
void h_healthz(struct reqctx *rc);
void h_readyz(struct reqctx *rc);
void h_openapi(struct reqctx *rc);
void h_metrics(struct reqctx *rc);      /* metrics listener only */

/* h_console.c: the web console's files */
void h_console_index(struct reqctx *rc);
void h_console_file(struct reqctx *rc);

/* h_sessions.c */
void h_session_create(struct reqctx *rc);
void h_session_delete(struct reqctx *rc);

/* h_users.c */
void h_me(struct reqctx *rc);
void h_user_create(struct reqctx *rc);
void h_user_list(struct reqctx *rc);

/* h_programs.c */
void h_program_create(struct reqctx *rc);
void h_program_list(struct reqctx *rc);
void h_program_get(struct reqctx *rc);
void h_program_patch(struct reqctx *rc);

/* h_terms.c: terms and rate cards */
void h_terms_publish(struct reqctx *rc);
void h_terms_get(struct reqctx *rc);
void h_rates_put(struct reqctx *rc);
void h_rates_get(struct reqctx *rc);

/* h_invitations.c */
void h_invitation_create(struct reqctx *rc);
void h_invitation_list(struct reqctx *rc);
void h_invitation_revoke(struct reqctx *rc);

/* h_enrollments.c */
void h_invitation_preview(struct reqctx *rc);
void h_enrollment_create(struct reqctx *rc);
void h_enrollment_get(struct reqctx *rc);
void h_enrollment_accept_terms(struct reqctx *rc);
void h_enrollment_withdraw(struct reqctx *rc);
void h_program_enrollments(struct reqctx *rc);
void h_my_enrollments(struct reqctx *rc);

/* h_submissions.c */
void h_submission_create(struct reqctx *rc);
void h_submission_list(struct reqctx *rc);
void h_submission_get(struct reqctx *rc);
void h_submission_withdraw(struct reqctx *rc);
void h_submission_exhibit(struct reqctx *rc);

/* h_review.c */
void h_queue_claim(struct reqctx *rc);
void h_queue_stats(struct reqctx *rc);
void h_submission_release(struct reqctx *rc);
void h_submission_decide(struct reqctx *rc);
void h_submission_appeal(struct reqctx *rc);

/* h_ledger.c */
void h_ledger_fund(struct reqctx *rc);
void h_ledger_adjust(struct reqctx *rc);
void h_ledger_reverse(struct reqctx *rc);
void h_ledger_accounts(struct reqctx *rc);
void h_ledger_transactions(struct reqctx *rc);
void h_ledger_transaction_get(struct reqctx *rc);
void h_my_balance(struct reqctx *rc);
void h_my_statement(struct reqctx *rc);

/* h_payouts.c */
void h_payout_draft(struct reqctx *rc);
void h_payout_list(struct reqctx *rc);
void h_payout_get(struct reqctx *rc);
void h_payout_approve(struct reqctx *rc);
void h_payout_item_paid(struct reqctx *rc);
void h_payout_item_failed(struct reqctx *rc);
void h_export_payout_batch(struct reqctx *rc);

/* h_licenses.c */
void h_license_request(struct reqctx *rc);
void h_license_accept(struct reqctx *rc);
void h_license_decline(struct reqctx *rc);
void h_license_withdraw(struct reqctx *rc);
void h_license_revoke(struct reqctx *rc);
void h_license_check(struct reqctx *rc);
void h_work_licenses(struct reqctx *rc);
void h_my_license_requests(struct reqctx *rc);
void h_program_licenses(struct reqctx *rc);

/* h_transparency.c */
void h_transparency(struct reqctx *rc);

/* h_exports.c */
void h_export_ledger(struct reqctx *rc);

/* h_notifications.c */
void h_prefs_get(struct reqctx *rc);
void h_prefs_put(struct reqctx *rc);
void h_webhook_create(struct reqctx *rc);
void h_webhook_list(struct reqctx *rc);
void h_deliveries_list(struct reqctx *rc);
void h_delivery_retry(struct reqctx *rc);

/* h_audit.c */
void h_audit_list(struct reqctx *rc);

#endif
