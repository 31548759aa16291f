/*
 * routes.c: the route table. Who may call what, what each caller sees of
 * the objects (the scope: router.h) and what body each route takes are read
 * here and nowhere else: the pipeline checks the roles, sets the request's
 * scope for the handler's queries, and checks the body against the route's
 * schema before the handler runs (RT_BODY_MORE: the handler adds checks of
 * its own to the schema's problems). Literal segments come before captures
 * that could shadow them.
 */
#include "fb.h"

#include "handlers.h"
#include "routes.h"

/* Who runs programs: staff, and admins who may do everything. */
#define STAFFISH (ROLE_ADMIN | ROLE_STAFF)
/* Who reads the books: finance, and admins who may see everything. */
#define LEDGER_READERS (ROLE_FINANCE | ROLE_ADMIN)

const struct route routes[] = {
	/* operations */
	{ M_GET,    "/healthz", ROLE_ANYONE, 0,
	    h_healthz, NULL, SCOPE_OWN },
	{ M_GET,    "/readyz", ROLE_ANYONE, 0,
	    h_readyz, NULL, SCOPE_OWN },
	{ M_GET,    "/v1/openapi.json", ROLE_ANYONE, 0,
	    h_openapi, NULL, SCOPE_OWN },

	/* the web console, on the same origin as the API */
	{ M_GET,    "/", ROLE_ANYONE, 0,
	    h_console_index, NULL, SCOPE_OWN },
	{ M_GET,    "/console/:file", ROLE_ANYONE, 0,
	    h_console_file, NULL, SCOPE_OWN },

	/* accounts and sessions */
	{ M_POST,   "/v1/sessions", ROLE_ANYONE, RT_BODY,
	    h_session_create, &session_create_body, SCOPE_OWN },
	{ M_DELETE, "/v1/sessions/current", ROLE_ANY, 0,
	    h_session_delete, NULL, SCOPE_OWN },
	{ M_GET,    "/v1/me", ROLE_ANY, 0,
	    h_me, NULL, SCOPE_OWN },
	{ M_POST,   "/v1/users", ROLE_ADMIN, RT_BODY | RT_BODY_MORE,
	    h_user_create, &user_create_body, SCOPE_ALL },
	{ M_GET,    "/v1/users", ROLE_ADMIN, 0,
	    h_user_list, NULL, SCOPE_ALL },

	/* programs, terms, rates */
	{ M_GET,    "/v1/programs", ROLE_ANY, 0,
	    h_program_list, NULL, SCOPE_OWN },
	{ M_POST,   "/v1/programs", STAFFISH, RT_BODY | RT_BODY_MORE,
	    h_program_create, &program_create_body, SCOPE_ALL },
	{ M_GET,    "/v1/programs/:id", ROLE_ANY, 0,
	    h_program_get, NULL, SCOPE_OWN },
	{ M_PATCH,  "/v1/programs/:id", STAFFISH, RT_BODY | RT_BODY_MORE,
	    h_program_patch, &program_patch_body, SCOPE_ALL },
	{ M_GET,    "/v1/programs/:id/terms", ROLE_ANY, 0,
	    h_terms_get, NULL, SCOPE_OWN },
	{ M_POST,   "/v1/programs/:id/terms", STAFFISH, RT_BODY | RT_BODY_MORE,
	    h_terms_publish, &terms_publish_body, SCOPE_ALL },
	{ M_GET,    "/v1/programs/:id/terms/:version", ROLE_ANY, 0,
	    h_terms_get, NULL, SCOPE_OWN },
	{ M_GET,    "/v1/programs/:id/rates", ROLE_ANY, 0,
	    h_rates_get, NULL, SCOPE_OWN },
	{ M_PUT,    "/v1/programs/:id/rates", STAFFISH, RT_BODY | RT_BODY_MORE,
	    h_rates_put, &rates_put_body, SCOPE_ALL },
	{ M_GET,    "/v1/programs/:id/rates/:version", ROLE_ANY, 0,
	    h_rates_get, NULL, SCOPE_OWN },

	/* invitations and enrollment */
	{ M_GET,    "/v1/programs/:id/invitations", STAFFISH, 0,
	    h_invitation_list, NULL, SCOPE_ALL },
	{ M_POST,   "/v1/programs/:id/invitations", STAFFISH, RT_BODY | RT_BODY_MORE,
	    h_invitation_create, &invitation_create_body, SCOPE_ALL },
	/* what an invitation code offers, read before enrolling with it */
	{ M_POST,   "/v1/invitations/preview", ROLE_ANYONE, RT_BODY,
	    h_invitation_preview, &invitation_preview_body, SCOPE_OWN },
	{ M_POST,   "/v1/invitations/:id/revoke", STAFFISH, RT_BODY | RT_BODY_OPTIONAL,
	    h_invitation_revoke, &jv_no_members, SCOPE_ALL },
	{ M_GET,    "/v1/programs/:id/enrollments", STAFFISH, 0,
	    h_program_enrollments, NULL, SCOPE_ALL },
	/* a newcomer enrolls and makes an account at once; a signed-in artist too */
	{ M_POST,   "/v1/enrollments", ROLE_ARTIST, RT_BODY | RT_AUTH_OPTIONAL | RT_BODY_MORE,
	    h_enrollment_create, &enrollment_create_body, SCOPE_OWN },
	{ M_GET,    "/v1/enrollments/:id", STAFFISH | ROLE_ARTIST, 0,
	    h_enrollment_get, NULL, SCOPE_OWN },
	{ M_POST,   "/v1/enrollments/:id/accept-terms", ROLE_ARTIST, RT_BODY,
	    h_enrollment_accept_terms, &enrollment_accept_terms_body, SCOPE_OWN },
	{ M_POST,   "/v1/enrollments/:id/withdraw", STAFFISH | ROLE_ARTIST, RT_BODY | RT_BODY_OPTIONAL,
	    h_enrollment_withdraw, &enrollment_withdraw_body, SCOPE_OWN },
	{ M_GET,    "/v1/me/enrollments", ROLE_ARTIST, 0,
	    h_my_enrollments, NULL, SCOPE_OWN },

	/* submissions and the review queue */
	{ M_POST,   "/v1/programs/:id/submissions", ROLE_ARTIST, RT_BODY | RT_BODY_MORE,
	    h_submission_create, &submission_create_body, SCOPE_OWN },
	{ M_POST,   "/v1/programs/:id/queue/claim", STAFFISH, RT_BODY | RT_BODY_OPTIONAL | RT_BODY_MORE,
	    h_queue_claim, &queue_claim_body, SCOPE_ALL },
	{ M_GET,    "/v1/programs/:id/queue", STAFFISH, 0,
	    h_queue_stats, NULL, SCOPE_ALL },
	{ M_GET,    "/v1/submissions", STAFFISH | ROLE_ARTIST, 0,
	    h_submission_list, NULL, SCOPE_OWN },
	{ M_GET,    "/v1/submissions/:id", STAFFISH | ROLE_ARTIST, 0,
	    h_submission_get, NULL, SCOPE_OWN },
	{ M_POST,   "/v1/submissions/:id/withdraw", ROLE_ARTIST, RT_BODY | RT_BODY_OPTIONAL,
	    h_submission_withdraw, &jv_no_members, SCOPE_OWN },
	{ M_POST,   "/v1/submissions/:id/release", STAFFISH, RT_BODY | RT_BODY_OPTIONAL,
	    h_submission_release, &jv_no_members, SCOPE_ALL },
	{ M_POST,   "/v1/submissions/:id/decision", STAFFISH, RT_BODY | RT_BODY_MORE,
	    h_submission_decide, &submission_decide_body, SCOPE_ALL },
	{ M_POST,   "/v1/submissions/:id/appeal", ROLE_ARTIST, RT_BODY,
	    h_submission_appeal, &submission_appeal_body, SCOPE_OWN },
	{ M_POST,   "/v1/submissions/:id/exhibit", STAFFISH, RT_BODY | RT_BODY_MORE,
	    h_submission_exhibit, &submission_exhibit_body, SCOPE_ALL },

	/* usage licenses: "/v1/licenses/check" before any capture under /v1/licenses */
	{ M_POST,   "/v1/submissions/:id/license-requests", STAFFISH, RT_BODY,
	    h_license_request, &license_request_body, SCOPE_ALL },
	{ M_GET,    "/v1/submissions/:id/licenses", STAFFISH | ROLE_ARTIST, 0,
	    h_work_licenses, NULL, SCOPE_OWN },
	{ M_GET,    "/v1/me/license-requests", ROLE_ARTIST, 0,
	    h_my_license_requests, NULL, SCOPE_OWN },
	{ M_POST,   "/v1/license-requests/:id/accept", ROLE_ARTIST, RT_BODY | RT_BODY_OPTIONAL,
	    h_license_accept, &jv_no_members, SCOPE_OWN },
	{ M_POST,   "/v1/license-requests/:id/decline", ROLE_ARTIST, RT_BODY | RT_BODY_OPTIONAL,
	    h_license_decline, &license_reason_body, SCOPE_OWN },
	{ M_POST,   "/v1/license-requests/:id/withdraw", STAFFISH, RT_BODY | RT_BODY_OPTIONAL,
	    h_license_withdraw, &jv_no_members, SCOPE_ALL },
	{ M_GET,    "/v1/licenses/check", STAFFISH, 0,
	    h_license_check, NULL, SCOPE_ALL },
	{ M_POST,   "/v1/licenses/:id/revoke", ROLE_ARTIST, RT_BODY | RT_BODY_OPTIONAL,
	    h_license_revoke, &license_reason_body, SCOPE_OWN },
	{ M_GET,    "/v1/programs/:id/licenses", STAFFISH | ROLE_FINANCE, 0,
	    h_program_licenses, NULL, SCOPE_ALL },

	/* ledger, payouts, exports */
	{ M_GET,    "/v1/me/balance", ROLE_ARTIST, 0,
	    h_my_balance, NULL, SCOPE_OWN },
	{ M_GET,    "/v1/me/statement", ROLE_ARTIST, 0,
	    h_my_statement, NULL, SCOPE_OWN },
	{ M_POST,   "/v1/programs/:id/funding", ROLE_FINANCE, RT_BODY | RT_IDEMPOTENT,
	    h_ledger_fund, &ledger_fund_body, SCOPE_ALL },
	{ M_GET,    "/v1/ledger/accounts", LEDGER_READERS, 0,
	    h_ledger_accounts, NULL, SCOPE_ALL },
	{ M_GET,    "/v1/ledger/transactions", LEDGER_READERS, 0,
	    h_ledger_transactions, NULL, SCOPE_ALL },
	{ M_POST,   "/v1/ledger/transactions", ROLE_FINANCE, RT_BODY | RT_IDEMPOTENT | RT_BODY_MORE,
	    h_ledger_adjust, &ledger_adjust_body, SCOPE_ALL },
	{ M_GET,    "/v1/ledger/transactions/:id", LEDGER_READERS, 0,
	    h_ledger_transaction_get, NULL, SCOPE_ALL },
	{ M_POST,   "/v1/ledger/transactions/:id/reverse", ROLE_FINANCE, RT_BODY | RT_BODY_OPTIONAL,
	    h_ledger_reverse, &ledger_reverse_body, SCOPE_ALL },
	{ M_POST,   "/v1/programs/:id/payout-batches", ROLE_FINANCE, RT_BODY | RT_BODY_OPTIONAL | RT_IDEMPOTENT,
	    h_payout_draft, &payout_draft_body, SCOPE_ALL },
	{ M_GET,    "/v1/programs/:id/payout-batches", LEDGER_READERS, 0,
	    h_payout_list, NULL, SCOPE_ALL },
	{ M_GET,    "/v1/payout-batches/:id", LEDGER_READERS, 0,
	    h_payout_get, NULL, SCOPE_ALL },
	{ M_POST,   "/v1/payout-batches/:id/approve", ROLE_FINANCE, RT_BODY | RT_BODY_OPTIONAL,
	    h_payout_approve, &jv_no_members, SCOPE_ALL },
	{ M_POST,   "/v1/payout-batches/:id/items/:item/paid", ROLE_FINANCE, RT_BODY,
	    h_payout_item_paid, &payout_item_paid_body, SCOPE_ALL },
	{ M_POST,   "/v1/payout-batches/:id/items/:item/failed", ROLE_FINANCE, RT_BODY,
	    h_payout_item_failed, &payout_item_failed_body, SCOPE_ALL },
	{ M_GET,    "/v1/exports/payout-batches/:id", ROLE_FINANCE, 0,
	    h_export_payout_batch, NULL, SCOPE_ALL },
	/* RT_REPLICA: reads that may lag a little go to the replica (replica.h) */
	{ M_GET,    "/v1/exports/ledger", ROLE_FINANCE, RT_REPLICA,
	    h_export_ledger, NULL, SCOPE_ALL },
	{ M_GET,    "/v1/programs/:id/transparency", ROLE_ANYONE, RT_AUTH_OPTIONAL | RT_REPLICA,
	    h_transparency, NULL, SCOPE_OWN },

	/* notifications */
	{ M_GET,    "/v1/me/notification-preferences", ROLE_ANY, 0,
	    h_prefs_get, NULL, SCOPE_OWN },
	{ M_PUT,    "/v1/me/notification-preferences", ROLE_ANY, RT_BODY | RT_BODY_MORE,
	    h_prefs_put, &prefs_put_body, SCOPE_OWN },
	{ M_POST,   "/v1/webhooks", STAFFISH, RT_BODY | RT_BODY_MORE,
	    h_webhook_create, &webhook_create_body, SCOPE_ALL },
	{ M_GET,    "/v1/webhooks", STAFFISH, 0,
	    h_webhook_list, NULL, SCOPE_ALL },
	{ M_GET,    "/v1/webhooks/:id/deliveries", STAFFISH, 0,
	    h_deliveries_list, NULL, SCOPE_ALL },
	{ M_POST,   "/v1/webhooks/:id/deliveries/:d/retry", STAFFISH, RT_BODY | RT_BODY_OPTIONAL,
	    h_delivery_retry, &jv_no_members, SCOPE_ALL },

	/* audit */
	{ M_GET,    "/v1/audit", ROLE_ADMIN | ROLE_FINANCE, 0,
	    h_audit_list, NULL, SCOPE_LEDGER },
};

const int nroutes = (int)FB_ARRAY_LEN(routes);

/* The metrics listener (FAIRBETA_METRICS_LISTEN) serves only this. */
const struct route metrics_routes[] = {
	{ M_GET,    "/metrics", ROLE_ANYONE, 0,
	    h_metrics, NULL, SCOPE_OWN },
};

const int nmetrics_routes = (int)FB_ARRAY_LEN(metrics_routes);
