/*
 * program.c: the steps shared by the routes under /v1/programs/:id.
 */
#include "fb.h"

#include "program.h"

int
program_step_found(struct db_job *job, const PGresult *res, void *arg)
{
	FB_UNUSED(job);
	if (PQntuples(res) != 1)
		return req_refuse(req_of(arg), 404, "not-found", NULL, "no such program");
	return 0;
}

int
program_step_changeable(struct db_job *job, const PGresult *res, void *arg)
{
	if (program_step_found(job, res, arg) != 0)
		return -1;
	if (strcmp(PQgetvalue(res, 0, PROGRAM_STEP_STATUS), "closed") == 0)
		return req_refuse(req_of(arg), 409, "invalid-transition", NULL,
		    "the program is closed and can no longer change");
	return 0;
}

int
program_step_ready(struct db_job *job, const PGresult *res, void *arg)
{
	json_t *reasons = json_loads(PQgetvalue(res, 0, PROGRAM_STEP_REASONS), 0, NULL);

	FB_UNUSED(job);
	if (json_array_size(reasons) == 0) {
		json_decref(reasons);
		return 0;
	}
	return req_refuse(req_of(arg), 409, "program-not-ready",
	    json_pack("{s:o}", "reasons", reasons),
	    "an open program needs fair terms and a paying rate card: %s",
	    json_string_value(json_array_get(reasons, 0)));
}
