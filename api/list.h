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

#endif
