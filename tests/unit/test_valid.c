/* lib/valid: addresses, roles, RFC 3339 times (at most microseconds: issue
 * 10), slugs and clause keys. */
#include "fb.h"

#include "valid.h"
#include "unit.h"

void
suite_valid(void)
{
	char s[] = "MiXeD@Example.COM";

	CHECK(valid_email("a@b.co"));
	CHECK(valid_email("admin@localhost"));
	CHECK(!valid_email("a@b"));
	CHECK(!valid_email("@b.co"));
	CHECK(!valid_email("a@@b.co"));
	CHECK(!valid_email("a b@c.co"));
	CHECK(!valid_email("a@b.co\r\nBcc: x@y.z"));
	valid_lower(s);
	CHECK_STR(s, "mixed@example.com");
	CHECK(valid_rfc3339("2026-11-25T10:00:00Z"));
	CHECK(valid_rfc3339("2026-11-25T10:00:00.123456+01:00"));
	CHECK(!valid_rfc3339("2026-11-25"));
	CHECK(!valid_rfc3339("2026-13-25T10:00:00Z"));
	CHECK(!valid_rfc3339("2026-02-29T00:00:00Z"));
	CHECK(valid_rfc3339("2028-02-29T00:00:00Z"));
	CHECK(!valid_rfc3339("1900-02-29T00:00:00Z"));
	CHECK(valid_rfc3339("2000-02-29T00:00:00Z"));
	CHECK(!valid_rfc3339("2026-04-31T00:00:00Z"));
	CHECK(!valid_rfc3339("0000-01-01T00:00:00Z"));
	CHECK(valid_rfc3339("2026-01-01T00:00:00+15:59"));
	CHECK(!valid_rfc3339("2026-01-01T00:00:00+16:00"));
	CHECK(!valid_rfc3339("2026-01-01T00:00:00-01:60"));
	CHECK(!valid_rfc3339("2026-11-25T10:00:00"));
	CHECK(!valid_rfc3339("2026-11-25T10:00:00Zjunk"));
	CHECK(valid_role("finance") && !valid_role("root"));
	{
		int64_t a, b;

		CHECK(valid_rfc3339_us("1970-01-01T00:00:01.5Z", &a) == 0 && a == 1500000);
		CHECK(valid_rfc3339_us("2026-11-25T10:00:00+01:00", &a) == 0);
		CHECK(valid_rfc3339_us("2026-11-25T09:00:00Z", &b) == 0 && a == b);
		CHECK(valid_rfc3339_us("yesterday", &a) == -1);
	}
}

/* The times PostgreSQL keeps exactly (from issue 10's hardening). */
void
suite_valid_precision(void)
{
	int64_t us;

	/* at most microseconds: PostgreSQL would round a seventh digit */
	CHECK(valid_rfc3339("2026-01-01T00:00:00.123456Z"));
	CHECK(!valid_rfc3339("2026-01-01T00:00:00.1234567Z"));
	CHECK(!valid_rfc3339("2026-01-01T00:00:00.Z"));
	CHECK(valid_rfc3339_us("2026-01-01T00:00:00.000001Z", &us) == 0 && us % 1000000 == 1);
	CHECK(valid_rfc3339_us("2026-01-01T00:00:00.0000009Z", &us) == -1);
	CHECK(!valid_rfc3339("0000-01-01T00:00:00Z"));
	CHECK(!valid_rfc3339("2026-01-01T00:00:00+16:00"));
}

/* What programs are named by: slugs and clause keys. */
void
suite_valid_slug_key(void)
{
	/* slugs: lowercase, digits, single inner dashes, 3..64 */
	CHECK(valid_slug("spring-2027"));
	CHECK(valid_slug("abc"));
	CHECK(valid_slug("a1-b2-c3"));
	CHECK(!valid_slug("ab"));
	CHECK(!valid_slug("Spring"));
	CHECK(!valid_slug("-abc"));
	CHECK(!valid_slug("abc-"));
	CHECK(!valid_slug("a--bc"));
	CHECK(!valid_slug("a_bc"));
	CHECK(!valid_slug("a bc"));
	CHECK(valid_slug("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));   /* 64 */
	CHECK(!valid_slug("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));  /* 65 */

	/* clause keys */
	CHECK(valid_key("conf"));
	CHECK(valid_key("1.2_use-x"));
	CHECK(!valid_key(""));
	CHECK(!valid_key("_conf"));
	CHECK(!valid_key("Conf"));
	CHECK(!valid_key("con f"));
	CHECK(!valid_key("conf/1"));
}
