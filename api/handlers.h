/*
 * handlers.h: every route handler, and the route table that names them.
 *
 * Handlers live one resource per file (h_<resource>.c). Each receives a
 * reqctx whose route, roles and JSON body have already been checked, and
 * ends with exactly one reply_* call, possibly after asynchronous steps.
 */
#ifndef FB_HANDLERS_H
#define FB_HANDLERS_H

#include "http.h"
#include "jsonv.h"

extern const struct route routes[];
extern const int nroutes;

/*
 * The body each RT_BODY route takes, named after its handler and defined
 * beside it; routes.c puts them in the table (jv_no_members: none).
 */
extern const struct jv_schema session_create_body, user_create_body;
extern const struct jv_schema program_create_body, program_patch_body;
extern const struct jv_schema terms_publish_body, rates_put_body;
extern const struct jv_schema invitation_create_body;
extern const struct jv_schema enrollment_create_body, enrollment_accept_terms_body,
    enrollment_withdraw_body;
extern const struct jv_schema submission_create_body, submission_exhibit_body;
extern const struct jv_schema queue_claim_body, submission_decide_body,
    submission_appeal_body;
extern const struct jv_schema ledger_fund_body, ledger_adjust_body, ledger_reverse_body;
extern const struct jv_schema payout_draft_body, payout_item_paid_body,
    payout_item_failed_body;
extern const struct jv_schema prefs_put_body, webhook_create_body;

/* h_ops.c */
void h_healthz(struct reqctx *rc);
void h_readyz(struct reqctx *rc);
void h_openapi(struct reqctx *rc);
void h_metrics(struct reqctx *rc);      /* metrics listener only */

extern const struct route metrics_routes[];
extern const int nmetrics_routes;

/* h_sessions.c */
void h_session_create(struct reqctx *rc);
void h_session_delete(struct reqctx *rc);

/* h_users.c */
void h_me(struct reqctx *rc);
void h_user_create(struct reqctx *rc);

/* h_programs.c */
void h_program_create(struct reqctx *rc);
void h_program_list(struct reqctx *rc);
void h_program_get(struct reqctx *rc);
void h_program_patch(struct reqctx *rc);
/*
 * Step callbacks for the routes under /v1/programs/:id. found: 404 unless
 * the statement returned the program. changeable: also 409 when its first
 * column, the status, is closed. ready: 409 program-not-ready with reasons
 * unless program_readiness() returned an empty array.
 */
int program_step_found(struct db_job *job, const PGresult *res, void *arg);
int program_step_changeable(struct db_job *job, const PGresult *res, void *arg);
int program_step_ready(struct db_job *job, const PGresult *res, void *arg);

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
/* For h_review.c: the submission's row as the job's last statement, the
 * reply from it (as the caller may see it), and its audit row. */
int submission_select(struct db_job *job, const char *id);
void submission_reply(struct reqctx *rc, struct db_job *job, int index, int status);
int submission_audit(struct reqctx *rc, struct db_job *job, const char *action,
    const char *id, const json_t *after);

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
/*
 * Replies for a posting the database refused (payable below zero 409,
 * unbalanced or foreign entries 422, a second reversal 409); false when
 * st is something else, for the caller to handle.
 */
bool ledger_refusal(struct reqctx *rc, struct db_job *job, enum db_status st);

/* h_payouts.c */
void h_payout_draft(struct reqctx *rc);
void h_payout_get(struct reqctx *rc);
void h_payout_approve(struct reqctx *rc);
void h_payout_item_paid(struct reqctx *rc);
void h_payout_item_failed(struct reqctx *rc);
void h_export_payout_batch(struct reqctx *rc);

/* h_transparency.c */
void h_transparency(struct reqctx *rc);

/* h_exports.c */
void h_export_ledger(struct reqctx *rc);

/* h_notifications.c */
void h_prefs_get(struct reqctx *rc);
void h_prefs_put(struct reqctx *rc);
void h_webhook_create(struct reqctx *rc);
void h_deliveries_list(struct reqctx *rc);
void h_delivery_retry(struct reqctx *rc);

/* h_audit.c */
void h_audit_list(struct reqctx *rc);

/* list.c: ?limit= and ?cursor= for every paginated list */
#define LIST_DEFAULT_LIMIT 50
#define LIST_MAX_LIMIT 200

/*
 * Reads limit and cursor; a bad value adds to errors. The cursor's decoded
 * position, a sequence number as text (arena), is returned in *cursor, NULL
 * when absent. Queries fetch limit + 1 rows below it, newest first.
 */
void list_params(struct reqctx *rc, int *limit, char **cursor, json_t *errors);
/* Query parameters not in known (NULL-terminated) are errors, as unknown
 * JSON fields are. */
void list_check_query(struct reqctx *rc, const char *const *known, json_t *errors);
/* ?from= and ?to=: RFC 3339 date-times, and to not earlier than from. */
void list_check_window(struct reqctx *rc, json_t *errors);
/* Opaque cursor for a position (arena). */
char *list_cursor(struct reqctx *rc, const char *position);
/*
 * Replies 200 {items, next_cursor} from statement index of job: up to limit
 * rows through row(); a further row means another page, whose cursor is the
 * last item's seq_col.
 */
typedef json_t *list_row_fn(const PGresult *r, int row);
void reply_list(struct reqctx *rc, struct db_job *job, int index, int limit,
    int seq_col, list_row_fn *row);

/* The user object of the API. */
json_t *user_json(const char *id, const char *email, const char *display_name,
    const char *role, const char *created_at);

#endif
