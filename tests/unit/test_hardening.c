/* Issue 10's classes at the unit level: paths split before they are decoded,
 * times kept exactly as PostgreSQL keeps them, and database refusals mapped
 * to the client's 4xx or a retryable 503, never to 500. */
#include "fb.h"

#include "pipeline.h"
#include "router.h"
#include "unit.h"
#include "valid.h"

static void h(struct reqctx *rc) { FB_UNUSED(rc); }

static const struct route table[] = {
	{ M_GET, "/v1/me",        ROLE_ANY, 0, h, NULL, SCOPE_OWN },
	{ M_GET, "/v1/items/:id", ROLE_ANY, 0, h, NULL, SCOPE_OWN },
};

static int
match(const char *path, struct route_match *m)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%s", path);
	return router_match(table, (int)FB_ARRAY_LEN(table), M_GET, buf, m);
}

void
suite_hardening(void)
{
	struct route_match m;
	int64_t us;

	/* an encoded slash stays inside its segment */
	CHECK(match("/v1%2Fme", &m) == -1 && m.allow == 0);
	CHECK(match("/v1%2fme", &m) == -1);
	CHECK(match("/v1/items/a%2Fb", &m) == 0 && m.index == 1 &&
	    strcmp(m.params[0], "a/b") == 0);
	/* an encoded letter names its segment; bad escapes and NUL name nothing */
	CHECK(match("/v1/m%65", &m) == 0 && m.index == 0);
	CHECK(match("/v1/items/%41%42", &m) == 0 && strcmp(m.params[0], "AB") == 0);
	CHECK(match("/v1/me%00", &m) == -1);
	CHECK(match("/v1/items/%0", &m) == -1);
	CHECK(match("/v1/items/%zz", &m) == -1);
	CHECK(match("/v1/items/a%", &m) == -1);
	CHECK(match("/v1/./me", &m) == -1);

	/* at most microseconds: PostgreSQL would round a seventh digit */
	CHECK(valid_rfc3339("2026-01-01T00:00:00.123456Z"));
	CHECK(!valid_rfc3339("2026-01-01T00:00:00.1234567Z"));
	CHECK(!valid_rfc3339("2026-01-01T00:00:00.Z"));
	CHECK(valid_rfc3339_us("2026-01-01T00:00:00.000001Z", &us) == 0 && us % 1000000 == 1);
	CHECK(valid_rfc3339_us("2026-01-01T00:00:00.0000009Z", &us) == -1);
	CHECK(!valid_rfc3339("0000-01-01T00:00:00Z"));
	CHECK(!valid_rfc3339("2026-01-01T00:00:00+16:00"));

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
