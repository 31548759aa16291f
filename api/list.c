/*
 * list.c: keyset pagination shared by every list. A cursor is the opaque
 * form of the last row's sequence number; the next page is the rows below
 * it, newest first, so rows committed while a client pages are neither
 * repeated nor skipped.
 */
#include "fb.h"

#include <ctype.h>
#include <sys/queue.h>

#include <event2/keyvalq_struct.h>
#include <sodium.h>

#include "crypto.h"
#include "list.h"
#include "jsonv.h"
#include "valid.h"

/* A sequence number: 1 to 18 digits. */
static bool
seq_text(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 18)
		return false;
	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

void
list_params(struct reqctx *rc, int *limit, char **cursor, json_t *errors)
{
	const char *l = req_query(rc, "limit"), *c = req_query(rc, "cursor");

	*limit = LIST_DEFAULT_LIMIT;
	*cursor = NULL;
	if (l != NULL) {
		char *end;
		long v = strtol(l, &end, 10);

		if (!isdigit((unsigned char)*l) || *end != '\0' || v < 1 || v > LIST_MAX_LIMIT)
			jv_error(errors, "limit", "must be a whole number from 1 to 200");
		else
			*limit = (int)v;
	}
	if (c != NULL) {
		size_t len = strlen(c), bin_len;
		unsigned char *bin = arena_alloc(rc->arena, len + 1);

		if (len == 0 || len > 256 ||
		    sodium_base642bin(bin, len, c, len, NULL, &bin_len, NULL,
		    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
		    bin_len < 3 || memcmp(bin, "c1:", 3) != 0 ||
		    !seq_text((char *)bin + 3, bin_len - 3)) {
			jv_error(errors, "cursor", "is not a cursor this server issued");
		} else {
			*cursor = arena_strndup(rc->arena, (char *)bin + 3, bin_len - 3);
		}
	}
}

char *
list_cursor(struct reqctx *rc, const char *position)
{
	char *raw = arena_printf(rc->arena, "c1:%s", position);
	size_t n = strlen(raw);
	size_t outlen = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *out = arena_alloc(rc->arena, outlen);

	sodium_bin2base64(out, outlen, (unsigned char *)raw, n,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return out;
}


void
list_check_query(struct reqctx *rc, const char *const *known, json_t *errors)
{
	struct evkeyval *kv;
	const char *const *k;

	if (!rc->query_parsed)
		return;
	TAILQ_FOREACH(kv, &rc->query, next) {
		struct evkeyval *first;

		for (k = known; *k; k++)
			if (strcmp(*k, kv->key) == 0)
				break;
		if (*k == NULL) {
			jv_error(errors, kv->key, "is not a known query parameter");
			continue;
		}
		/* one value each: a second one would be silently ignored */
		TAILQ_FOREACH(first, &rc->query, next)
			if (strcmp(first->key, kv->key) == 0)
				break;
		if (first != kv)
			jv_error(errors, kv->key, "is given more than once");
	}
}

/* Whether a filter's value is one of its values or, with none, a UUID. */
static bool
filter_ok(const struct list_filter *f, const char *value)
{
	const char *const *v;

	if (f->values == NULL)
		return crypto_uuid_valid(value);
	for (v = f->values; *v; v++)
		if (strcmp(*v, value) == 0)
			return true;
	return false;
}

bool
list_begin(struct reqctx *rc, const char *const *known,
    const struct list_filter *filters, list_check_fn *check, struct list_page *page)
{
	json_t *errors = json_array();
	const struct list_filter *f;
	const char *value;

	list_check_query(rc, known, errors);
	list_params(rc, &page->limit, &page->cursor, errors);
	for (f = filters; f && f->name; f++)
		if ((value = req_query(rc, f->name)) != NULL && !filter_ok(f, value))
			jv_error(errors, f->name, f->message);
	if (check != NULL)
		check(rc, errors);
	if (json_array_size(errors) > 0) {
		reply_invalid(rc, errors);
		return false;
	}
	json_decref(errors);
	snprintf(page->fetch, sizeof(page->fetch), "%d", page->limit + 1);
	return true;
}

void
list_check_window(struct reqctx *rc, json_t *errors)
{
	const char *from = req_query(rc, "from"), *to = req_query(rc, "to");
	int64_t f = 0, t = 0;

	if (from && (!valid_rfc3339(from) || valid_rfc3339_us(from, &f) != 0)) {
		jv_error(errors, "from", "must be an RFC 3339 date-time");
		from = NULL;
	}
	if (to && (!valid_rfc3339(to) || valid_rfc3339_us(to, &t) != 0)) {
		jv_error(errors, "to", "must be an RFC 3339 date-time");
		to = NULL;
	}
	if (from && to && t < f)
		jv_error(errors, "to", "must not be earlier than from");
}

struct list_reply {
	int index, limit, seq_col;
	list_row_fn *row;
};

static void
list_read(struct reqctx *rc, struct db_job *job)
{
	struct list_reply *lr = rc->h;

	reply_list(rc, job, lr->index, lr->limit, lr->seq_col, lr->row);
}

void
list_submit(struct reqctx *rc, struct db_job *job, const struct list_page *page,
    int index, int seq_col, list_row_fn *row)
{
	struct list_reply *lr = arena_alloc(rc->arena, sizeof(*lr));

	lr->index = index;
	lr->limit = page->limit;
	lr->seq_col = seq_col;
	lr->row = row;
	rc->h = lr;
	req_db(rc, job, list_read);
}

void
reply_list(struct reqctx *rc, struct db_job *job, int index, int limit,
    int seq_col, list_row_fn *row)
{
	const PGresult *r = db_job_result(job, index);
	json_t *items = json_array(), *next = json_null();
	int i, n = PQntuples(r);

	if (n > limit) {
		n = limit;
		json_decref(next);
		next = json_string(list_cursor(rc, PQgetvalue(r, n - 1, seq_col)));
	}
	for (i = 0; i < n; i++)
		json_array_append_new(items, row(r, i));
	reply_json(rc, 200, json_pack("{s:o, s:o}", "items", items, "next_cursor", next));
}
