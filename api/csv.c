#include "fb.h"

#include "csv.h"

void
csv_field(struct evbuffer *out, const char *v, bool last)
{
	const char *p;

	if (v != NULL && strpbrk(v, ",\"\r\n") != NULL) {
		evbuffer_add(out, "\"", 1);
		for (p = v; *p; p++) {
			if (*p == '"')
				evbuffer_add(out, "\"", 1);
			evbuffer_add(out, p, 1);
		}
		evbuffer_add(out, "\"", 1);
	} else if (v != NULL) {
		evbuffer_add(out, v, strlen(v));
	}
	evbuffer_add(out, last ? "\r\n" : ",", last ? 2 : 1);
}

void
csv_text(struct evbuffer *out, const char *v, bool last)
{
	char *safe;

	if (v == NULL || strchr("=+-@\t\r", v[0]) == NULL || v[0] == '\0') {
		csv_field(out, v, last);
		return;
	}
	safe = fb_malloc(strlen(v) + 2);
	safe[0] = '\'';
	strcpy(safe + 1, v);
	csv_field(out, safe, last);
	free(safe);
}
