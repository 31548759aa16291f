/*
 * fuzz_csv.c: the CSV writer (api/csv.c) on any fields.
 *
 * Input: a byte whose bits say which fields go through csv_text (free
 * text) rather than csv_field, a byte whose bits say which are NULL, then
 * the fields separated by NUL bytes (bit i % 8 for field i). The record is
 * written, then read back with an RFC 4180 reader written here. Properties:
 * - the output is exactly one record ending in CRLF, quoted where needed,
 *   with quotes doubled, and reads back to the fields written: NULL as an
 *   empty field, csv_text values a spreadsheet would run as a formula
 *   (starting with =, +, -, @, tab or CR) with a ' before them;
 * - no csv_text field reads back starting with one of those characters.
 */
#include "fb.h"

#include <event2/buffer.h>

#include "csv.h"
#include "fuzz.h"

#define MAX_FIELDS 64

/* Reads one RFC 4180 record from buf; the fields (malloc'd) go to out. */
static int
ref_read(const char *buf, size_t len, char **out, int max)
{
	size_t i = 0;
	int n = 0;

	for (;;) {
		char *f = malloc(len + 1);
		size_t o = 0;

		FUZZ_ASSERT(f != NULL && n < max);
		if (i < len && buf[i] == '"') {
			for (i++; ; i++) {
				FUZZ_ASSERT(i < len);           /* a quote is closed */
				if (buf[i] == '"') {
					if (i + 1 < len && buf[i + 1] == '"')
						i++;
					else
						break;
				}
				f[o++] = buf[i];
			}
			i++;
		} else {
			for (; i < len && buf[i] != ',' && buf[i] != '\r'; i++) {
				/* unquoted fields hold no quote, CR or LF */
				FUZZ_ASSERT(buf[i] != '"' && buf[i] != '\n');
				f[o++] = buf[i];
			}
		}
		f[o] = '\0';
		out[n++] = f;
		FUZZ_ASSERT(i < len);
		if (buf[i] == ',') {
			i++;
			continue;
		}
		/* the record ends with CRLF, and the output with it */
		FUZZ_ASSERT(buf[i] == '\r' && i + 2 == len && buf[i + 1] == '\n');
		return n;
	}
}

static bool
formula_start(const char *v)
{
	return v[0] != '\0' && strchr("=+-@\t\r", v[0]) != NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evbuffer *out;
	char *copy, *fields[MAX_FIELDS], *got[MAX_FIELDS], *p;
	const char *value;
	unsigned text_mask, null_mask;
	int n = 0, nread, i;
	size_t len;

	if (size < 2)
		return 0;
	text_mask = data[0];
	null_mask = data[1];
	copy = malloc(size - 1);
	FUZZ_ASSERT(copy != NULL);
	memcpy(copy, data + 2, size - 2);
	copy[size - 2] = '\0';
	/* fields separated by NUL bytes; the last runs to the end */
	for (p = copy; n < MAX_FIELDS; p += strlen(p) + 1) {
		fields[n++] = p;
		if (p + strlen(p) >= copy + size - 2)
			break;
	}

	out = evbuffer_new();
	for (i = 0; i < n; i++) {
		value = (null_mask >> (i % 8)) & 1 ? NULL : fields[i];
		if ((text_mask >> (i % 8)) & 1)
			csv_text(out, value, i == n - 1);
		else
			csv_field(out, value, i == n - 1);
	}
	len = evbuffer_get_length(out);
	nread = ref_read((const char *)evbuffer_pullup(out, -1), len, got, MAX_FIELDS);

	FUZZ_ASSERT(nread == n);
	for (i = 0; i < n; i++) {
		bool is_null = (null_mask >> (i % 8)) & 1, is_text = (text_mask >> (i % 8)) & 1;
		const char *want = is_null ? "" : fields[i];

		if (is_text && formula_start(want)) {
			FUZZ_CHECK("csv-text", got[i][0] == '\'' && strcmp(got[i] + 1, want) == 0);
		} else {
			FUZZ_CHECK("csv-round-trip", strcmp(got[i], want) == 0);
		}
		if (is_text)
			FUZZ_CHECK("csv-formula", !formula_start(got[i]));
		free(got[i]);
	}
	evbuffer_free(out);
	free(copy);
	return 0;
}
