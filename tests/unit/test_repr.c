/* api/repr: representations of database values. */
#include "fb.h"

#include "repr.h"
#include "unit.h"

/* repr_time_text: PostgreSQL's ISO text of a timestamptz in UTC, as RFC 3339. */
void
suite_repr_time(void)
{
	static const struct {
		const char *pg, *want;
	} cases[] = {
		{ "2026-11-30 22:53:36.175443+00", "2026-11-30T22:53:36.175443Z" },
		{ "2026-11-30 22:53:36.1754+00", "2026-11-30T22:53:36.175400Z" },
		{ "2026-11-30 22:53:36.1+00", "2026-11-30T22:53:36.100000Z" },
		{ "2026-11-30 22:53:36+00", "2026-11-30T22:53:36.000000Z" },
		{ "0001-01-01 00:00:00+00", "0001-01-01T00:00:00.000000Z" },
		/* not the shape it knows: given back as it is */
		{ "2026-11-30 22:53:36+01", "2026-11-30 22:53:36+01" },
		{ "2026-11-30 22:53:36.5+05:30", "2026-11-30 22:53:36.5+05:30" },
		{ "infinity", "infinity" },
		{ "", "" },
		{ "12026-11-30 22:53:36+00", "12026-11-30 22:53:36+00" },
	};
	char buf[64];
	size_t i;

	for (i = 0; i < FB_ARRAY_LEN(cases); i++)
		CHECK_STR(repr_time_text(cases[i].pg, buf, sizeof(buf)), cases[i].want);
	/* too small a buffer never overflows */
	CHECK(strlen(repr_time_text("2026-11-30 22:53:36+00", buf, 8)) == 7);
}
