/* api/request: If-Match lists, and database refusals mapped to the client's
 * 4xx or a retryable 503, never to 500 (issue 10). */
#include "fb.h"

#include "request.h"
#include "unit.h"

void
suite_request_if_match(void)
{
	/* If-Match: lists, "*", and no weak tags */
	CHECK(req_if_match("\"v3\"", "\"v3\""));
	CHECK(req_if_match("*", "\"v3\""));
	CHECK(req_if_match("\"v1\", \"v3\"", "\"v3\""));
	CHECK(req_if_match("\"v1\",\"v3\"", "\"v3\""));
	CHECK(!req_if_match("\"v1\", \"v2\"", "\"v3\""));
	CHECK(!req_if_match("\"v31\"", "\"v3\""));
	CHECK(!req_if_match("W/\"v3\"", "\"v3\""));
	CHECK(!req_if_match("v3", "\"v3\""));
	CHECK(!req_if_match("", "\"v3\""));
}

void
suite_request_sqlstate(void)
{
	/* what a database refusal becomes */
	CHECK(http_sqlstate_status("23514") == 422);     /* check_violation */
	CHECK(http_sqlstate_status("23502") == 422);     /* not_null_violation */
	CHECK(http_sqlstate_status("22003") == 422);     /* numeric_value_out_of_range */
	CHECK(http_sqlstate_status("22001") == 422);     /* string_data_right_truncation */
	CHECK(http_sqlstate_status("22008") == 422);     /* datetime_field_overflow */
	CHECK(http_sqlstate_status("54000") == 422);     /* program_limit_exceeded */
	CHECK(http_sqlstate_status("23505") == 409);     /* unique_violation */
	CHECK(http_sqlstate_status("23503") == 409);     /* foreign_key_violation */
	CHECK(http_sqlstate_status("40001") == 503);     /* serialization_failure */
	CHECK(http_sqlstate_status("40P01") == 503);     /* deadlock_detected */
	CHECK(http_sqlstate_status("57014") == 503);     /* query_canceled */
	CHECK(http_sqlstate_status("53300") == 503);     /* too_many_connections */
	CHECK(http_sqlstate_status("42P01") == 500);     /* undefined_table: ours */
	CHECK(http_sqlstate_status("42601") == 500);     /* syntax_error: ours */
	CHECK(http_sqlstate_status("") == 500);
}
