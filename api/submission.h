/*
 * submission.h: a submission as the routes that change it read it back and
 * audit it (h_submissions.c, h_review.c).
 */
#ifndef FB_SUBMISSION_H
#define FB_SUBMISSION_H

#include "pipeline.h"

/*
 * The submission's row as the job's last statement (whatever the scope: a
 * read-back of what this request may change), the reply from it (as the
 * caller may see it), and its audit row.
 */
int submission_select(struct db_job *job, const char *id);
/* The same, if the request's scope sees it (no row otherwise). */
int submission_select_as(struct db_job *job, const char *id, const struct reqctx *rc);
void submission_reply(struct reqctx *rc, struct db_job *job, int index, int status);
int submission_audit(struct reqctx *rc, struct db_job *job, const char *action,
    const char *id, const json_t *after);

#endif
