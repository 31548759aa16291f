/*
 * fuzz_cursor.c: ?limit= and ?cursor= of every paginated list
 * (list_params in api/list.c), from a raw query string.
 *
 * The input is what follows '?' in a request target; it is parsed with
 * libevent as http_dispatch parses it, into a minimal reqctx (an arena and
 * the parsed query: all list_params reads). Properties:
 * - limit is always 1..200; a limit of plain digits from 1 to 200 is taken
 *   as it is, any other value is an error named "limit" and leaves 50;
 * - a cursor is either decoded or an error named "cursor", never both;
 *   decoded, it is a sequence number of 1..18 digits, and list_cursor
 *   gives back the very text the client sent when it is ASCII
 *   ("cursor-canonical");
 * - any sequence number (digits taken from the input) survives
 *   list_cursor then list_params unchanged.
 */
#include "fb.h"

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "list.h"
#include "pipeline.h"
#include "jsonv.h"
#include "fuzz.h"

static size_t
errors_naming(const json_t *errors, const char *name)
{
	const json_t *e;
	size_t i, n = 0;

	json_array_foreach(errors, i, e)
		n += strcmp(json_string_value(json_object_get(e, "field")), name) == 0;
	return n;
}

static bool
all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static void
check_query(struct reqctx *rc, const char *query)
{
	json_t *errors = json_array();
	const char *l, *c;
	char *cursor = NULL;
	int limit = 0;

	if (evhttp_parse_query_str(query, &rc->query) != 0)
		goto out;               /* http_dispatch answers 400 */
	rc->query_parsed = true;
	l = req_query(rc, "limit");
	c = req_query(rc, "cursor");
	list_params(rc, &limit, &cursor, errors);

	FUZZ_ASSERT(limit >= 1 && limit <= LIST_MAX_LIMIT);
	if (l == NULL) {
		FUZZ_ASSERT(limit == LIST_DEFAULT_LIMIT && errors_naming(errors, "limit") == 0);
	} else if (errors_naming(errors, "limit") == 1) {
		FUZZ_ASSERT(limit == LIST_DEFAULT_LIMIT);
		FUZZ_CHECK("limit-digits", !(all_digits(l) && strlen(l) <= 3 && atoi(l) >= 1 &&
		    atoi(l) <= LIST_MAX_LIMIT));
	} else {
		FUZZ_ASSERT(errors_naming(errors, "limit") == 0 && limit == strtol(l, NULL, 10));
	}

	if (c == NULL) {
		FUZZ_ASSERT(cursor == NULL && errors_naming(errors, "cursor") == 0);
	} else if (cursor == NULL) {
		FUZZ_ASSERT(errors_naming(errors, "cursor") == 1);
	} else {
		FUZZ_ASSERT(errors_naming(errors, "cursor") == 0);
		FUZZ_ASSERT(all_digits(cursor) && strlen(cursor) <= 18);
		/* libsodium 1.0.18 reads bytes >= 0x80 as base64 digits: ASCII only */
		if (fuzz_ascii(c))
			FUZZ_CHECK("cursor-canonical", strcmp(list_cursor(rc, cursor), c) == 0);
	}
	FUZZ_ASSERT(json_array_size(errors) == errors_naming(errors, "limit") +
	    errors_naming(errors, "cursor"));
out:
	if (rc->query_parsed)
		evhttp_clear_headers(&rc->query);
	rc->query_parsed = false;
	json_decref(errors);
}

/* A position made a cursor by the server comes back as the same position. */
static void
check_round_trip(struct reqctx *rc, const uint8_t *data, size_t size)
{
	char seq[19], *query, *cursor = NULL;
	json_t *errors = json_array();
	size_t i, n = 0;
	int limit;

	for (i = 0; i < size && n < 18; i++)
		if (data[i] >= '0' && data[i] <= '9')
			seq[n++] = (char)data[i];
	seq[n] = '\0';
	if (n == 0)
		goto out;
	query = arena_printf(rc->arena, "cursor=%s", list_cursor(rc, seq));
	FUZZ_ASSERT(evhttp_parse_query_str(query, &rc->query) == 0);
	rc->query_parsed = true;
	list_params(rc, &limit, &cursor, errors);
	FUZZ_CHECK("cursor-round-trip", json_array_size(errors) == 0 && cursor != NULL &&
	    strcmp(cursor, seq) == 0);
	evhttp_clear_headers(&rc->query);
	rc->query_parsed = false;
out:
	json_decref(errors);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reqctx *rc = fb_calloc(1, sizeof(*rc));
	char *query = fuzz_cstr(data, size);

	rc->arena = arena_new(1024);
	TAILQ_INIT(&rc->query);
	check_query(rc, query);
	check_round_trip(rc, data, size);
	arena_free(rc->arena);
	free(rc);
	free(query);
	return 0;
}
