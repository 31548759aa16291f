/*
 * program.h: what the routes under /v1/programs/:id share.
 */
#ifndef FB_PROGRAM_H
#define FB_PROGRAM_H

#include "pipeline.h"

/*
 * Step callbacks for the routes under /v1/programs/:id. found: 404 unless
 * the statement returned the program. changeable: also 409 when its first
 * column, the status, is closed. ready: 409 program-not-ready with reasons
 * unless program_readiness() returned an empty array.
 */
enum program_step_col {
	PROGRAM_STEP_STATUS = 0,     /* changeable: the program's status */
	PROGRAM_STEP_REASONS = 0     /* ready: program_readiness()'s array */
};
int program_step_found(struct db_job *job, const PGresult *res, void *arg);
int program_step_changeable(struct db_job *job, const PGresult *res, void *arg);
int program_step_ready(struct db_job *job, const PGresult *res, void *arg);

#endif
