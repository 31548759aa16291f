/*
 * submission.c: a submission as the routes that change it read it back and
 * audit it.
 */
#include "fb.h"

#include "audit.h"
#include "repr.h"
#include "submission.h"

static const char SQL_GET[] =
	"SELECT " REPR_SUBMISSION_COLS " FROM " REPR_SUBMISSION_FROM
	" WHERE s.id = $1 AND ($2::boolean OR s.artist_id = $3::uuid)";

int
submission_select_as(struct db_job *job, const char *id, const struct reqctx *rc)
{
	return db_job_add(job, NULL, SQL_GET, id, req_scope_all(rc), req_scope_owner(rc));
}

int
submission_select(struct db_job *job, const char *id)
{
	return db_job_add(job, NULL, SQL_GET, id, "true", NULL);
}

void
submission_reply(struct reqctx *rc, struct db_job *job, int index, int status)
{
	const PGresult *r = db_job_result(job, index);

	reply_json(rc, status, rc->scope.all ? repr_submission(r, 0) :
	    repr_submission_artist(r, 0));
}

int
submission_audit(struct reqctx *rc, struct db_job *job, const char *action,
    const char *id, const json_t *after)
{
	return audit_add(job, &(struct audit_entry){
		.actor_id = req_actor_id(rc), .actor_role = req_actor_role(rc),
		.action = action, .entity_type = "submission", .entity_id = id,
		.after = after, .request_id = rc->log.request_id,
	});
}
