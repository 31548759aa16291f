/*
 * list.h: keyset pagination shared by every list (list.c).
 */
#ifndef FB_LIST_H
#define FB_LIST_H

#include "pipeline.h"

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

/* A page as a list's query asks for it. */
struct list_page {
	int limit;
	char *cursor;          /* read below this position (arena), or NULL */
	char fetch[16];        /* limit + 1 as text, the query's LIMIT */
};
/* A query parameter that, when given, is one of values, or a UUID. */
struct list_filter {
	const char *name;
	const char *const *values;     /* NULL-terminated; NULL: a UUID */
	const char *message;           /* the problem otherwise: "must be ..." */
};
/* More checks of a query, as list_check_window: problems go to errors. */
typedef void list_check_fn(struct reqctx *rc, json_t *errors);
/*
 * The whole check of a list's query, its problems in this order: its names
 * against known, limit and cursor, each filter (an array ended by a NULL
 * name, or NULL), then check, when not NULL, for what no filter says (from
 * and to, a length). On any problem it replies 422 with all of them and
 * returns false.
 */
bool list_begin(struct reqctx *rc, const char *const *known,
    const struct list_filter *filters, list_check_fn *check, struct list_page *page);
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
/*
 * The usual end of a list handler: submits job (req_db) and replies with
 * the page statement index holds, as reply_list() does. Takes over rc->h.
 */
void list_submit(struct reqctx *rc, struct db_job *job, const struct list_page *page,
    int index, int seq_col, list_row_fn *row);

#endif
