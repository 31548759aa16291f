/*
 * routes.c: the route table. Who may call what is read here and nowhere
 * else. Literal segments come before captures that could shadow them.
 */
#include "fb.h"

#include "handlers.h"

/* Who runs programs: staff, and admins who may do everything. */
#define STAFFISH (ROLE_ADMIN | ROLE_STAFF)
/* Who reads the books: finance, and admins who may see everything. */
#define LEDGER_READERS (ROLE_FINANCE | ROLE_ADMIN)

const struct route routes[] = {
	/* operations */
	{ M_GET,    "/healthz",              ROLE_ANYONE,  0,       h_healthz },
	{ M_GET,    "/readyz",               ROLE_ANYONE,  0,       h_readyz },
	{ M_GET,    "/v1/openapi.json",      ROLE_ANYONE,  0,       h_openapi },

	/* accounts and sessions */
	{ M_POST,   "/v1/sessions",          ROLE_ANYONE,  RT_BODY, h_session_create },
	{ M_DELETE, "/v1/sessions/current",  ROLE_ANY,     0,       h_session_delete },
	{ M_GET,    "/v1/me",                ROLE_ANY,     0,       h_me },
	{ M_POST,   "/v1/users",             ROLE_ADMIN,   RT_BODY, h_user_create },

	/* programs, terms, rates */
	{ M_GET,    "/v1/programs",          ROLE_ANY,     0,       h_program_list },
	{ M_POST,   "/v1/programs",          STAFFISH,     RT_BODY, h_program_create },
	{ M_GET,    "/v1/programs/:id",      ROLE_ANY,     0,       h_program_get },
	{ M_PATCH,  "/v1/programs/:id",      STAFFISH,     RT_BODY, h_program_patch },
	{ M_GET,    "/v1/programs/:id/terms", ROLE_ANY,    0,       h_terms_get },
	{ M_POST,   "/v1/programs/:id/terms", STAFFISH,    RT_BODY, h_terms_publish },
	{ M_GET,    "/v1/programs/:id/terms/:version", ROLE_ANY, 0, h_terms_get },
	{ M_GET,    "/v1/programs/:id/rates", ROLE_ANY,    0,       h_rates_get },
	{ M_PUT,    "/v1/programs/:id/rates", STAFFISH,    RT_BODY, h_rates_put },
	{ M_GET,    "/v1/programs/:id/rates/:version", ROLE_ANY, 0, h_rates_get },

	/* invitations and enrollment */
	{ M_GET,    "/v1/programs/:id/invitations", STAFFISH, 0,    h_invitation_list },
	{ M_POST,   "/v1/programs/:id/invitations", STAFFISH, RT_BODY, h_invitation_create },
	{ M_POST,   "/v1/invitations/:id/revoke", STAFFISH, RT_BODY | RT_BODY_OPTIONAL,
	                                                            h_invitation_revoke },
	{ M_GET,    "/v1/programs/:id/enrollments", STAFFISH, 0,    h_program_enrollments },
	{ M_POST,   "/v1/enrollments",       ROLE_ANYONE,  RT_BODY | RT_AUTH_OPTIONAL,
	                                                            h_enrollment_create },
	{ M_GET,    "/v1/enrollments/:id",   STAFFISH | ROLE_ARTIST, 0, h_enrollment_get },
	{ M_POST,   "/v1/enrollments/:id/accept-terms", ROLE_ARTIST, RT_BODY,
	                                                            h_enrollment_accept_terms },
	{ M_POST,   "/v1/enrollments/:id/withdraw", STAFFISH | ROLE_ARTIST,
	                                         RT_BODY | RT_BODY_OPTIONAL, h_enrollment_withdraw },
	{ M_GET,    "/v1/me/enrollments",    ROLE_ARTIST,  0,       h_my_enrollments },

	/* submissions and the review queue */
	{ M_POST,   "/v1/programs/:id/submissions", ROLE_ARTIST, RT_BODY, h_submission_create },
	{ M_POST,   "/v1/programs/:id/queue/claim", STAFFISH, RT_BODY | RT_BODY_OPTIONAL,
	                                                            h_queue_claim },
	{ M_GET,    "/v1/programs/:id/queue", STAFFISH,    0,       h_queue_stats },
	{ M_GET,    "/v1/submissions",       STAFFISH | ROLE_ARTIST, 0, h_submission_list },
	{ M_GET,    "/v1/submissions/:id",   STAFFISH | ROLE_ARTIST, 0, h_submission_get },
	{ M_POST,   "/v1/submissions/:id/withdraw", ROLE_ARTIST, RT_BODY | RT_BODY_OPTIONAL,
	                                                            h_submission_withdraw },
	{ M_POST,   "/v1/submissions/:id/release", STAFFISH, RT_BODY | RT_BODY_OPTIONAL,
	                                                            h_submission_release },
	{ M_POST,   "/v1/submissions/:id/decision", STAFFISH, RT_BODY, h_submission_decide },
	{ M_POST,   "/v1/submissions/:id/appeal", ROLE_ARTIST, RT_BODY, h_submission_appeal },
	{ M_POST,   "/v1/submissions/:id/exhibit", STAFFISH, RT_BODY, h_submission_exhibit },

	/* ledger, payouts, exports */
	{ M_GET,    "/v1/me/balance",        ROLE_ARTIST,  0,       h_my_balance },
	{ M_GET,    "/v1/me/statement",      ROLE_ARTIST,  0,       h_my_statement },
	{ M_POST,   "/v1/programs/:id/funding", ROLE_FINANCE, RT_BODY | RT_IDEMPOTENT,
	                                                            h_ledger_fund },
	{ M_GET,    "/v1/ledger/accounts",   LEDGER_READERS, 0,     h_ledger_accounts },
	{ M_GET,    "/v1/ledger/transactions", LEDGER_READERS, 0,   h_ledger_transactions },
	{ M_POST,   "/v1/ledger/transactions", ROLE_FINANCE, RT_BODY | RT_IDEMPOTENT,
	                                                            h_ledger_adjust },
	{ M_GET,    "/v1/ledger/transactions/:id", LEDGER_READERS, 0, h_ledger_transaction_get },
	{ M_POST,   "/v1/ledger/transactions/:id/reverse", ROLE_FINANCE,
	                                         RT_BODY | RT_BODY_OPTIONAL, h_ledger_reverse },
	{ M_POST,   "/v1/programs/:id/payout-batches", ROLE_FINANCE,
	                                         RT_BODY | RT_BODY_OPTIONAL | RT_IDEMPOTENT,
	                                                            h_payout_draft },
	{ M_GET,    "/v1/payout-batches/:id", LEDGER_READERS, 0,    h_payout_get },
	{ M_POST,   "/v1/payout-batches/:id/approve", ROLE_FINANCE, RT_BODY | RT_BODY_OPTIONAL,
	                                                            h_payout_approve },
	{ M_POST,   "/v1/payout-batches/:id/items/:item/paid", ROLE_FINANCE, RT_BODY,
	                                                            h_payout_item_paid },
	{ M_POST,   "/v1/payout-batches/:id/items/:item/failed", ROLE_FINANCE, RT_BODY,
	                                                            h_payout_item_failed },
	{ M_GET,    "/v1/exports/payout-batches/:id", ROLE_FINANCE, 0, h_export_payout_batch },
	{ M_GET,    "/v1/exports/ledger",    ROLE_FINANCE, 0,       h_export_ledger },
	{ M_GET,    "/v1/programs/:id/transparency", ROLE_ANYONE, RT_AUTH_OPTIONAL,
	                                                            h_transparency },

	/* notifications */
	{ M_GET,    "/v1/me/notification-preferences", ROLE_ANY, 0, h_prefs_get },
	{ M_PUT,    "/v1/me/notification-preferences", ROLE_ANY, RT_BODY, h_prefs_put },
	{ M_POST,   "/v1/webhooks",          STAFFISH,     RT_BODY, h_webhook_create },
	{ M_GET,    "/v1/webhooks/:id/deliveries", STAFFISH, 0,     h_deliveries_list },
	{ M_POST,   "/v1/webhooks/:id/deliveries/:d/retry", STAFFISH,
	                                         RT_BODY | RT_BODY_OPTIONAL, h_delivery_retry },

	/* audit */
	{ M_GET,    "/v1/audit",             ROLE_ADMIN | ROLE_FINANCE, 0, h_audit_list },
};

const int nroutes = (int)FB_ARRAY_LEN(routes);

/* The metrics listener (FAIRBETA_METRICS_LISTEN) serves only this. */
const struct route metrics_routes[] = {
	{ M_GET,    "/metrics",              ROLE_ANYONE,  0,       h_metrics },
};

const int nmetrics_routes = (int)FB_ARRAY_LEN(metrics_routes);
