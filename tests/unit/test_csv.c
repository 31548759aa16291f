/* api/csv: quoting, and formula-looking text defused. */
#include "fb.h"

#include <event2/buffer.h>

#include "csv.h"
#include "unit.h"

void
suite_csv(void)
{
	struct evbuffer *b = evbuffer_new();
	char out[256];
	size_t n;

	csv_field(b, "plain", false);
	csv_field(b, "a,b", false);
	csv_field(b, "say \"hi\"", false);
	csv_text(b, "=HYPERLINK(\"x\")", false);
	csv_text(b, "-2", false);
	csv_field(b, "-2", false);
	csv_field(b, NULL, true);
	n = evbuffer_remove(b, out, sizeof(out) - 1);
	out[n] = '\0';
	CHECK_STR(out, "plain,\"a,b\",\"say \"\"hi\"\"\",\"'=HYPERLINK(\"\"x\"\")\",'-2,-2,\r\n");
	evbuffer_free(b);
}
