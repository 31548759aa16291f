/*
 * routes.c: the route table. Who may call what is read here and nowhere
 * else. Literal segments come before captures that could shadow them.
 */
#include "fb.h"

#include "handlers.h"

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

	/* audit */
	{ M_GET,    "/v1/audit",             ROLE_ADMIN | ROLE_FINANCE, 0, h_audit_list },
};

const int nroutes = (int)FB_ARRAY_LEN(routes);

/* The metrics listener (FAIRBETA_METRICS_LISTEN) serves only this. */
const struct route metrics_routes[] = {
	{ M_GET,    "/metrics",              ROLE_ANYONE,  0,       h_metrics },
};

const int nmetrics_routes = (int)FB_ARRAY_LEN(metrics_routes);
