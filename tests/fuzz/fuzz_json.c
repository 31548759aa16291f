/*
 * fuzz_json.c: the JSON body decoder (jv_parse) and field validation
 * (jv_check_schema, jv_check, jv_check_items) of lib/jsonv.c.
 *
 * Input: optionally a first line naming a route, "POST /v1/users", then the
 * body. A named route's body is checked against the schema the route table
 * gives it (the pipeline's check); any other input is a body checked
 * against a table here that uses every jv_type and flag, bounded and
 * unbounded, with nested object and array schemas.
 *
 * Properties:
 * - jv_parse parses exactly what jansson parses, less duplicate keys, and
 *   gives an object, or an error message;
 * - jv_check returns the number of errors it appends, each {field,
 *   message} with non-empty strings;
 * - the errors are exactly those of a reference written here from
 *   jsonv.h: a field is named when it is missing and required, null and
 *   not nullable, of another type, out of bounds (characters, value,
 *   items), not one of its values, or holds a character its flag refuses
 *   (JV_ONELINE: C0, DEL, C1, U+2028, U+2029; JV_TEXT: the same but line
 *   feed, tab and the two separators); members the schema does not name
 *   are each an error; nested objects and array items are checked through
 *   their schemas ("generation.model", "media[0].uri", "media[1]");
 * - jv_utf8_len counts code points.
 */
#include "fb.h"

#include "routes.h"
#include "jsonv.h"
#include "fuzz.h"

static const char *const kinds[] = { "bug_report", "session", "asset", NULL };

static const struct jv_field tag_fields[] = {
	{ "key",  JV_STRING,  JV_REQUIRED | JV_ONELINE, 1, 64, NULL, NULL },
	{ "n",    JV_INTEGER, 0, 0, 1000, NULL, NULL },
	{ "note", JV_STRING,  JV_NULLABLE | JV_TEXT, 0, 0, NULL, NULL },
};
static const struct jv_schema tag_schema = JV_SCHEMA(tag_fields);

static const struct jv_field meta_fields[] = {
	{ "model", JV_STRING,  JV_REQUIRED | JV_ONELINE, 1, 40, NULL, NULL },
	{ "seed",  JV_INTEGER, 0, 0, 4294967295LL, NULL, NULL },
	{ "tags",  JV_ARRAY,   0, 0, 3, NULL, &tag_schema },
};
static const struct jv_schema meta_schema = JV_SCHEMA(meta_fields);

static const struct jv_field own_fields[] = {
	{ "name",  JV_STRING,  JV_REQUIRED | JV_ONELINE, 1, 100, NULL, NULL },
	{ "memo",  JV_STRING,  JV_NULLABLE | JV_TEXT, 0, 500, NULL, NULL },
	{ "plain", JV_STRING,  0, 0, 0, NULL, NULL },
	{ "short", JV_STRING,  JV_ONELINE, 2, 0, NULL, NULL },
	{ "kind",  JV_STRING,  JV_REQUIRED, 0, 0, kinds, NULL },
	{ "count", JV_INTEGER, 0, -5, 1000000, NULL, NULL },
	{ "big",   JV_INTEGER, JV_NULLABLE, 0, 0, NULL, NULL },
	{ "flag",  JV_BOOLEAN, 0, 0, 0, NULL, NULL },
	{ "meta",  JV_OBJECT,  JV_NULLABLE, 0, 0, NULL, &meta_schema },
	{ "any",   JV_OBJECT,  0, 0, 0, NULL, NULL },
	{ "items", JV_ARRAY,   0, 1, 5, NULL, &tag_schema },
	{ "list",  JV_ARRAY,   JV_REQUIRED | JV_NULLABLE, 0, 0, NULL, NULL },
	{ "hours", JV_NUMBER,  0, 0, 0, NULL, NULL },
};
static const struct jv_schema own_schema = JV_SCHEMA(own_fields);

/* Error field names, as a list. Long names (unknown members) are only counted. */
#define NAME_CMP_MAX 100

struct names {
	char **v;
	size_t n, cap;
};

static void
names_add(struct names *l, const char *prefix, const char *name, const char *suffix)
{
	size_t len = strlen(prefix) + strlen(name) + strlen(suffix) + 1;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = fb_realloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n] = fb_malloc(len);
	snprintf(l->v[l->n++], len, "%s%s%s", prefix, name, suffix);
}

static size_t
names_count(const struct names *l, const char *name)
{
	size_t i, n = 0;

	for (i = 0; i < l->n; i++)
		n += strcmp(l->v[i], name) == 0;
	return n;
}

static void
names_free(struct names *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

/* Whether a string's characters are all allowed by flags (jsonv.h). */
static bool
ref_chars_ok(const char *s, unsigned flags)
{
	const unsigned char *p = (const unsigned char *)s;

	if (!(flags & (JV_ONELINE | JV_TEXT)))
		return true;
	for (; *p; p++) {
		/* jansson gives valid UTF-8: C1 is C2 80..9F, U+2028/9 E2 80 A8/A9 */
		bool c0 = *p < 0x20, del = *p == 0x7f;
		bool c1 = *p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F;
		bool sep = *p == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9);

		if ((flags & JV_TEXT) && (*p == '\n' || *p == '\t'))
			continue;
		if (c0 || del || c1)
			return false;
		if (sep && (flags & JV_ONELINE))
			return false;
	}
	return true;
}

static bool
ref_value_ok(const json_t *v, const struct jv_field *f)
{
	long long n;
	const char *s;
	const char *const *o;

	switch (f->type) {
	case JV_STRING:
		if (!json_is_string(v))
			return false;
		s = json_string_value(v);
		for (n = 0; *s; s++)
			n += ((unsigned char)*s & 0xC0) != 0x80;
		if ((f->max > 0 && n > f->max) || n < f->min)
			return false;
		if (!ref_chars_ok(json_string_value(v), f->flags))
			return false;
		if (f->oneof != NULL) {
			for (o = f->oneof; *o; o++)
				if (strcmp(*o, json_string_value(v)) == 0)
					return true;
			return false;
		}
		return true;
	case JV_INTEGER:
		if (!json_is_integer(v))
			return false;
		n = json_integer_value(v);
		return (f->min == 0 && f->max == 0) || (n >= f->min && n <= f->max);
	case JV_BOOLEAN:
		return json_is_boolean(v);
	case JV_OBJECT:
		return json_is_object(v);
	case JV_ARRAY:
		if (!json_is_array(v))
			return false;
		n = (long long)json_array_size(v);
		return (f->min == 0 && f->max == 0) || (n >= f->min && n <= f->max);
	case JV_NUMBER:
		return json_is_number(v);
	}
	return false;
}

/* The errors jsonv.h says obj has against schema, into want. */
static void
ref_check(const json_t *obj, const struct jv_schema *schema, const char *prefix,
    struct names *want, int depth)
{
	const struct jv_field *f;
	const char *key;
	const json_t *v, *item;
	char sub[256];
	size_t i, k;

	FUZZ_ASSERT(depth < 8);
	json_object_foreach((json_t *)obj, key, v) {
		for (i = 0; i < schema->nfields; i++)
			if (strcmp(schema->fields[i].name, key) == 0)
				break;
		if (i == schema->nfields)
			names_add(want, prefix, key, "");
	}
	for (i = 0; i < schema->nfields; i++) {
		f = &schema->fields[i];
		v = json_object_get(obj, f->name);
		if (v == NULL) {
			if (f->flags & JV_REQUIRED)
				names_add(want, prefix, f->name, "");
		} else if (json_is_null(v)) {
			if (!(f->flags & JV_NULLABLE))
				names_add(want, prefix, f->name, "");
		} else if (!ref_value_ok(v, f)) {
			names_add(want, prefix, f->name, "");
		} else if (f->sub != NULL && json_is_object(v)) {
			snprintf(sub, sizeof(sub), "%s%s.", prefix, f->name);
			ref_check(v, f->sub, sub, want, depth + 1);
		} else if (f->sub != NULL && json_is_array(v)) {
			json_array_foreach(v, k, item) {
				if (!json_is_object(item)) {
					snprintf(sub, sizeof(sub), "%s%s[%zu]", prefix, f->name, k);
					names_add(want, sub, "", "");
				} else {
					snprintf(sub, sizeof(sub), "%s%s[%zu].", prefix, f->name, k);
					ref_check(item, f->sub, sub, want, depth + 1);
				}
			}
		}
	}
}

static void
check_body(const json_t *obj, const struct jv_schema *schema)
{
	json_t *errors = json_array();
	const json_t *e;
	struct names want = { NULL, 0, 0 }, got = { NULL, 0, 0 };
	size_t i;
	int problems;

	problems = jv_check_schema(obj, schema, "", errors);
	FUZZ_ASSERT(problems >= 0 && (size_t)problems == json_array_size(errors));
	json_array_foreach(errors, i, e) {
		const char *field = json_string_value(json_object_get(e, "field"));
		const char *message = json_string_value(json_object_get(e, "message"));

		FUZZ_ASSERT(json_is_object(e) && json_object_size(e) == 2 && field != NULL &&
		    message != NULL && *message != '\0');
		names_add(&got, field, "", "");
	}
	ref_check(obj, schema, "", &want, 0);
	FUZZ_CHECK("jv-check-count", got.n == want.n);
	for (i = 0; i < want.n; i++)
		if (strlen(want.v[i]) < NAME_CMP_MAX)
			FUZZ_CHECK("jv-check-fields", names_count(&got, want.v[i]) ==
			    names_count(&want, want.v[i]));
	for (i = 0; i < got.n; i++)
		if (strlen(got.v[i]) < NAME_CMP_MAX)
			FUZZ_CHECK("jv-check-fields", names_count(&got, got.v[i]) ==
			    names_count(&want, got.v[i]));
	names_free(&want);
	names_free(&got);
	json_decref(errors);
}

/* jv_utf8_len against a count of lead bytes, on every string inside v. */
static void
check_lengths(const json_t *v, int depth)
{
	const char *key, *s;
	const json_t *m;
	size_t i, n = 0;

	if (depth > 64)
		return;
	if (json_is_string(v)) {
		s = json_string_value(v);
		FUZZ_ASSERT(fuzz_utf8_ok((const unsigned char *)s, strlen(s)));
		for (i = 0; s[i]; i++)
			n += ((unsigned char)s[i] & 0xC0) != 0x80;
		FUZZ_ASSERT(jv_utf8_len(s) == n);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, m)
			check_lengths(m, depth + 1);
	} else if (json_is_object(v)) {
		json_object_foreach((json_t *)v, key, m) {
			FUZZ_ASSERT(fuzz_utf8_ok((const unsigned char *)key, strlen(key)));
			check_lengths(m, depth + 1);
		}
	}
}

/* The schema of the route a first line "METHOD /pattern" names, or NULL. */
static const struct jv_schema *
route_schema(const uint8_t *data, size_t len)
{
	char line[128];
	int i;

	for (i = 0; i < nroutes; i++) {
		if (routes[i].body == NULL)
			continue;
		snprintf(line, sizeof(line), "%s %s", router_method_name(routes[i].method),
		    routes[i].pattern);
		if (strlen(line) == len && memcmp(line, data, len) == 0)
			return routes[i].body;
	}
	return NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct jv_schema *schema = &own_schema;
	const uint8_t *nl = memchr(data, '\n', FB_MIN(size, (size_t)100));
	json_t *obj = NULL, *plain;
	char detail[256];
	enum jv_parse_result r;

	if (nl != NULL && route_schema(data, (size_t)(nl - data)) != NULL) {
		schema = route_schema(data, (size_t)(nl - data));
		size -= (size_t)(nl + 1 - data);
		data = nl + 1;
	}
	memset(detail, 'x', sizeof(detail));
	r = jv_parse((const char *)data, size, &obj, detail, sizeof(detail));
	plain = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	switch (r) {
	case JV_PARSED:
		FUZZ_ASSERT(json_is_object(obj) && plain != NULL && json_equal(obj, plain));
		break;
	case JV_NOT_OBJECT:
		FUZZ_ASSERT(obj == NULL && plain != NULL && !json_is_object(plain));
		FUZZ_ASSERT(memchr(detail, '\0', sizeof(detail)) != NULL && *detail != '\0');
		break;
	case JV_MALFORMED:
		/* only a duplicate key tells jv_parse from plain jansson */
		FUZZ_ASSERT(obj == NULL && (plain == NULL || json_is_object(plain) ||
		    json_is_array(plain)));
		FUZZ_ASSERT(memchr(detail, '\0', sizeof(detail)) != NULL && *detail != '\0');
		break;
	default:
		FUZZ_ASSERT(!"jv_parse returned no known result");
	}
	if (obj != NULL) {
		check_lengths(obj, 0);
		check_body(obj, schema);
	}
	json_decref(obj);
	json_decref(plain);
	return 0;
}
