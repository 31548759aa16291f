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

extern const struct route routes[];
extern const int nroutes;

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

/* h_audit.c */
void h_audit_list(struct reqctx *rc);

/* list.c: ?limit= and ?cursor= for every paginated list */
#define LIST_DEFAULT_LIMIT 50
#define LIST_MAX_LIMIT 200

/*
 * Reads limit and cursor; a bad value adds to errors. The cursor's decoded
 * text (arena) is returned in *cursor, NULL when absent.
 */
void list_params(struct reqctx *rc, int *limit, char **cursor, json_t *errors);
/* Query parameters not in known (NULL-terminated) are errors, as unknown
 * JSON fields are. */
void list_check_query(struct reqctx *rc, const char *const *known, json_t *errors);
/* Opaque cursor for a position (arena). */
char *list_cursor(struct reqctx *rc, const char *position);

/* The user object of the API. */
json_t *user_json(const char *id, const char *email, const char *display_name,
    const char *role, const char *created_at);

#endif
