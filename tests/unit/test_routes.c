/*
 * api/routes: the real route table. Its invariants (a handler, a path from
 * the root, no two routes with one method and pattern, body flags and scopes
 * that agree), and every route's body schema against the request schema the
 * OpenAPI document gives its operation, field by field, so that the
 * validator and the document cannot drift apart: the same members, types,
 * required members, nullability, string lengths (in characters), integer
 * ranges, array sizes, allowed values, no other members
 * (additionalProperties false, and maxProperties 0 for bodies that take
 * none), and JV_ONELINE / JV_TEXT as exactly the patterns lib/jsonv.h names.
 * Nested objects and array items with a sub schema are compared the same
 * way.
 *
 * Not compared, because the table does not hold them and the handler checks
 * them itself: number ranges (hours, generation.duration_s), formats
 * (date-time, email, uuid, the sha256 and media type patterns), the items
 * of arrays of strings (kinds, clause_keys, events), and the members of
 * notification-preferences' "email" map.
 */
#include "fb.h"

#include <limits.h>
#include <stdarg.h>

#include "routes.h"
#include "jsonv.h"
#include "unit.h"

extern const char *const fb_openapi_json;
extern const size_t fb_openapi_json_len;

static json_t *doc;
static bool quiet;          /* the self-test below expects failures */

static const char *const type_names[] = {
	[JV_STRING] = "string", [JV_INTEGER] = "integer", [JV_BOOLEAN] = "boolean",
	[JV_OBJECT] = "object", [JV_ARRAY] = "array", [JV_NUMBER] = "number",
};

/* One comparison: counted, and named when it fails. */
static void
expect(bool ok, const char *where, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		unit_passed++;
		return;
	}
	unit_failed++;
	if (quiet)
		return;
	fprintf(stderr, "FAIL schemas: %s: ", where);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* "#/components/schemas/X" -> the schema, or NULL. */
static json_t *
resolve_ref(const char *ref)
{
	const char *prefix = "#/components/schemas/";

	if (strncmp(ref, prefix, strlen(prefix)) != 0)
		return NULL;
	return json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"),
	    ref + strlen(prefix));
}

/*
 * The schema s with $ref resolved and allOf merged into one object (new
 * reference). A oneOf/anyOf of one schema and {"type": "null"}, or a type
 * list holding "null", becomes that schema with "nullable": true.
 */
static json_t *
flatten(const json_t *s)
{
	json_t *out = json_object(), *v, *part, *t;
	const char *key;
	size_t i;

	if (!json_is_object(s))
		return out;
	if (json_is_string(json_object_get(s, "$ref"))) {
		part = flatten(resolve_ref(json_string_value(json_object_get(s, "$ref"))));
		json_object_update(out, part);
		json_decref(part);
	}
	json_array_foreach(json_object_get(s, "allOf"), i, v) {
		part = flatten(v);
		json_object_update(out, part);
		json_decref(part);
	}
	for (key = "oneOf"; key != NULL; key = strcmp(key, "oneOf") == 0 ? "anyOf" : NULL) {
		const json_t *alt = json_object_get(s, key), *other = NULL;
		int nulls = 0;

		json_array_foreach(alt, i, v) {
			if (json_is_string(json_object_get(v, "type")) &&
			    strcmp(json_string_value(json_object_get(v, "type")), "null") == 0)
				nulls++;
			else
				other = v;
		}
		if (json_array_size(alt) == 2 && nulls == 1) {
			part = flatten(other);
			json_object_update(out, part);
			json_decref(part);
			json_object_set_new(out, "nullable", json_true());
		} else if (alt != NULL) {
			json_object_set(out, key, (json_t *)alt);
		}
	}
	json_object_foreach((json_t *)s, key, v)
		if (strcmp(key, "$ref") != 0 && strcmp(key, "allOf") != 0 &&
		    strcmp(key, "oneOf") != 0 && strcmp(key, "anyOf") != 0)
			json_object_set(out, key, v);
	t = json_object_get(out, "type");
	if (json_is_array(t)) {
		json_t *single = NULL;

		json_array_foreach(t, i, v)
			if (strcmp(json_string_value(v), "null") == 0)
				json_object_set_new(out, "nullable", json_true());
			else
				single = v;
		if (single != NULL && json_array_size(t) <= 2)
			json_object_set_new(out, "type", json_incref(single));
	}
	return out;
}

/* A keyword's integer value, or def when absent. */
static long long
keyword_int(const json_t *s, const char *kw, long long def)
{
	const json_t *v = json_object_get(s, kw);

	return json_is_integer(v) ? (long long)json_integer_value(v) : def;
}

static bool
in_required(const json_t *s, const char *name)
{
	const json_t *v;
	size_t i;

	json_array_foreach(json_object_get(s, "required"), i, v)
		if (strcmp(json_string_value(v), name) == 0)
			return true;
	return false;
}

/*
 * The table's oneof and the document's enum hold the same strings (a null
 * in the enum goes with nullability, compared apart).
 */
static bool
same_values(const char *const *oneof, const json_t *en)
{
	const json_t *v;
	size_t i, n = 0, strings = 0;
	const char *const *o;

	if (oneof == NULL || en == NULL)
		return oneof == NULL && en == NULL;
	for (o = oneof; *o; o++, n++) {
		bool found = false;

		json_array_foreach(en, i, v)
			if (json_is_string(v) && strcmp(json_string_value(v), *o) == 0)
				found = true;
		if (!found)
			return false;
	}
	json_array_foreach(en, i, v)
		if (!json_is_null(v))
			strings++;
	return n == strings;
}

static void compare_object(const struct jv_schema *t, const json_t *s, const char *where);

/* The pattern the document must give a string with these flags. */
static void
compare_pattern(const struct jv_field *f, const json_t *p, const char *where)
{
	const char *pat = json_string_value(json_object_get(p, "pattern"));

	if (f->flags & JV_ONELINE) {
		size_t n = pat ? strlen(pat) : 0, c = strlen(JV_ONELINE_CLASS);

		expect(pat != NULL && pat[0] == '^' && n >= c + 1 &&
		    strcmp(pat + n - c, JV_ONELINE_CLASS) == 0, where,
		    "one line (JV_ONELINE) but the pattern is %s, not " JV_ONELINE_PATTERN,
		    pat ? pat : "absent");
	} else if (f->flags & JV_TEXT) {
		expect(pat != NULL && strcmp(pat, JV_TEXT_PATTERN) == 0, where,
		    "free text (JV_TEXT) but the pattern is %s, not " JV_TEXT_PATTERN,
		    pat ? pat : "absent");
	} else {
		expect(pat == NULL || (strstr(pat, JV_ONELINE_CLASS) == NULL &&
		    strcmp(pat, JV_TEXT_PATTERN) != 0), where,
		    "the pattern %s refuses control characters; the table does not", pat);
	}
}

static void
compare_field(const struct jv_field *f, const json_t *parent, const json_t *prop,
    const char *where)
{
	json_t *p = flatten(prop);
	const char *type = json_string_value(json_object_get(p, "type"));
	bool bounded = f->min != 0 || f->max != 0;
	char sub[300];

	expect(type != NULL && strcmp(type, type_names[f->type]) == 0, where,
	    "type %s in the table, %s in the document", type_names[f->type],
	    type ? type : "none");
	expect(in_required(parent, f->name) == !!(f->flags & JV_REQUIRED), where,
	    "required: %s in the table, %s in the document",
	    (f->flags & JV_REQUIRED) ? "yes" : "no", in_required(parent, f->name) ? "yes" : "no");
	expect(json_is_true(json_object_get(p, "nullable")) == !!(f->flags & JV_NULLABLE), where,
	    "nullable: %s in the table, not in the document",
	    (f->flags & JV_NULLABLE) ? "yes" : "no");
	switch (f->type) {
	case JV_STRING:
		expect(keyword_int(p, "minLength", 0) == f->min, where,
		    "minLength %lld in the table, %lld in the document", f->min,
		    keyword_int(p, "minLength", 0));
		expect(keyword_int(p, "maxLength", 0) == f->max, where,
		    "maxLength %lld in the table (0: none), %lld in the document", f->max,
		    keyword_int(p, "maxLength", 0));
		expect(same_values(f->oneof, json_object_get(p, "enum")), where,
		    "the allowed values differ");
		compare_pattern(f, p, where);
		break;
	case JV_INTEGER:
		expect(bounded ? keyword_int(p, "minimum", LLONG_MIN) == f->min &&
		    keyword_int(p, "maximum", LLONG_MIN) == f->max :
		    json_object_get(p, "minimum") == NULL && json_object_get(p, "maximum") == NULL,
		    where, "range %lld..%lld in the table (0..0: none), %lld..%lld in the document",
		    f->min, f->max, keyword_int(p, "minimum", 0), keyword_int(p, "maximum", 0));
		break;
	case JV_ARRAY:
		expect(bounded ? keyword_int(p, "minItems", 0) == f->min &&
		    keyword_int(p, "maxItems", -1) == f->max :
		    json_object_get(p, "minItems") == NULL && json_object_get(p, "maxItems") == NULL,
		    where, "%lld to %lld items in the table (0..0: any), %lld to %lld in the document",
		    f->min, f->max, keyword_int(p, "minItems", 0), keyword_int(p, "maxItems", 0));
		if (f->sub != NULL) {
			json_t *items = flatten(json_object_get(p, "items"));

			snprintf(sub, sizeof(sub), "%.256s[]", where);
			compare_object(f->sub, items, sub);
			json_decref(items);
		}
		break;
	case JV_OBJECT:
		if (f->sub != NULL)
			compare_object(f->sub, p, where);
		break;
	case JV_BOOLEAN:
	case JV_NUMBER:
		break;
	}
	json_decref(p);
}

/* The members of t against the object schema s (flattened). */
static void
compare_object(const struct jv_schema *t, const json_t *s, const char *where)
{
	const json_t *props = json_object_get(s, "properties"), *v;
	const char *key;
	char name[256];
	size_t i;

	expect(json_is_string(json_object_get(s, "type")) &&
	    strcmp(json_string_value(json_object_get(s, "type")), "object") == 0, where,
	    "the document's schema is not an object");
	expect(json_is_false(json_object_get(s, "additionalProperties")), where,
	    "unknown members are refused, but additionalProperties is not false");
	if (t->nfields == 0)
		expect(keyword_int(s, "maxProperties", -1) == 0, where,
		    "takes no members, but maxProperties is not 0");
	json_object_foreach((json_t *)props, key, v) {
		for (i = 0; i < t->nfields; i++)
			if (strcmp(t->fields[i].name, key) == 0)
				break;
		expect(i < t->nfields, where, "the document has %s, the table does not", key);
	}
	json_array_foreach(json_object_get(s, "required"), i, v)
		expect(json_object_get(props, json_string_value(v)) != NULL, where,
		    "%s is required but not a property", json_string_value(v));
	for (i = 0; i < t->nfields; i++) {
		const json_t *prop = json_object_get(props, t->fields[i].name);

		snprintf(name, sizeof(name), "%.180s%s%.60s", where,
		    strchr(where, '.') || strchr(where, '[') ? "." : " body.", t->fields[i].name);
		expect(prop != NULL, name, "in the table but not in the document");
		if (prop != NULL)
			compare_field(&t->fields[i], s, prop, name);
	}
}

/* The document's path for a route pattern: ":x" segments match any "{y}". */
static const json_t *
find_path(const char *pattern)
{
	const json_t *paths = json_object_get(doc, "paths"), *v;
	const char *key;

	json_object_foreach((json_t *)paths, key, v) {
		const char *a = pattern, *b = key;
		bool same = true;

		while (same && *a && *b) {
			if (*a == ':' && *b == '{') {
				while (*a && *a != '/')
					a++;
				while (*b && *b != '/')
					b++;
			} else {
				same = *a++ == *b++;
			}
		}
		if (same && *a == '\0' && *b == '\0')
			return v;
	}
	return NULL;
}

static void
lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

static void
compare_route(const struct route *r)
{
	const json_t *path = find_path(r->pattern), *op, *rb;
	char method[16], where[160];
	json_t *schema;

	snprintf(method, sizeof(method), "%s", router_method_name(r->method));
	lower(method);
	snprintf(where, sizeof(where), "%s %s", router_method_name(r->method), r->pattern);
	op = json_object_get(path, method);
	expect(op != NULL, where, "no such operation in the document");
	if (op == NULL)
		return;
	rb = json_object_get(op, "requestBody");
	expect((rb != NULL) == (r->body != NULL), where,
	    "a request body in the %s only", r->body ? "table" : "document");
	if (rb == NULL || r->body == NULL)
		return;
	expect(json_is_true(json_object_get(rb, "required")) == !(r->flags & RT_BODY_OPTIONAL),
	    where, "requestBody.required disagrees with RT_BODY_OPTIONAL");
	schema = flatten(json_object_get(json_object_get(json_object_get(rb, "content"),
	    "application/json"), "schema"));
	compare_object(r->body, schema, where);
	json_decref(schema);
}

/* RT_BODY exactly when a schema is declared; the other body flags need it. */
static void
table_invariants(const struct route *table, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		const struct route *r = &table[i];
		char where[160];

		snprintf(where, sizeof(where), "%s %s", router_method_name(r->method), r->pattern);
		expect(!!(r->flags & RT_BODY) == (r->body != NULL), where,
		    "RT_BODY and a body schema go together");
		expect(!(r->flags & (RT_BODY_OPTIONAL | RT_BODY_MORE)) || (r->flags & RT_BODY),
		    where, "RT_BODY_OPTIONAL and RT_BODY_MORE need RT_BODY");
		/* scopes fail closed: whoever may see only their own never gets all */
		expect(r->scope != SCOPE_ALL || (r->roles != ROLE_ANYONE &&
		    !(r->roles & ROLE_ARTIST) && !(r->flags & RT_AUTH_OPTIONAL)), where,
		    "a route artists or anonymous callers reach is not SCOPE_ALL");
		expect(r->scope != SCOPE_LEDGER || (r->roles & ~(ROLE_ADMIN | ROLE_FINANCE)) == 0,
		    where, "SCOPE_LEDGER is for admin and finance routes");
	}
}

/* How many comparisons fail for table t against the document schema json. */
static int
failures(const struct jv_field *fields, size_t n, json_t *s)
{
	struct jv_schema t = { fields, n };
	int before = unit_failed, after;

	quiet = true;
	compare_object(&t, s, "self-test");
	quiet = false;
	after = unit_failed;
	unit_failed = before;
	return after - before;
}

/* The comparison can fail: each kind of drift is caught, one at a time. */
static void
self_test(void)
{
	static const char *const ab[] = { "a", "b", NULL };
	static const struct jv_field same[] = {
		{ "t", JV_STRING, JV_REQUIRED | JV_ONELINE, 1, 5, NULL, NULL },
		{ "e", JV_STRING, JV_NULLABLE, 0, 0, ab, NULL },
	};
	static const struct jv_field text[] = {
		{ "t", JV_STRING, JV_REQUIRED | JV_TEXT, 1, 5, NULL, NULL },
		{ "e", JV_STRING, JV_NULLABLE, 0, 0, ab, NULL },
	};
	static const struct jv_field longer[] = {
		{ "t", JV_STRING, JV_REQUIRED | JV_ONELINE, 1, 6, NULL, NULL },
		{ "e", JV_STRING, JV_NULLABLE, 0, 0, ab, NULL },
	};
	static const struct jv_field optional[] = {
		{ "t", JV_STRING, JV_ONELINE, 1, 5, NULL, NULL },
		{ "e", JV_STRING, JV_NULLABLE, 0, 0, ab, NULL },
	};
	static const struct jv_field fewer[] = {
		{ "t", JV_STRING, JV_REQUIRED | JV_ONELINE, 1, 5, NULL, NULL },
	};
	json_t *schema = json_pack("{s:s, s:b, s:[s], s:{s:{s:s, s:i, s:i, s:s},"
	    " s:{s:[s, s], s:[s, s, n]}}}", "type", "object", "additionalProperties", 0,
	    "required", "t", "properties",
	    "t", "type", "string", "minLength", 1, "maxLength", 5, "pattern", JV_ONELINE_PATTERN,
	    "e", "type", "string", "null", "enum", "a", "b");
	json_t *open = json_pack("{s:s, s:b}", "type", "object", "additionalProperties", 0);
	json_t *empty = json_pack("{s:s, s:b, s:i}", "type", "object",
	    "additionalProperties", 0, "maxProperties", 0);

	CHECK(failures(same, FB_ARRAY_LEN(same), schema) == 0);
	CHECK(failures(text, FB_ARRAY_LEN(text), schema) == 1);
	CHECK(failures(longer, FB_ARRAY_LEN(longer), schema) == 1);
	CHECK(failures(optional, FB_ARRAY_LEN(optional), schema) == 1);
	CHECK(failures(fewer, FB_ARRAY_LEN(fewer), schema) == 1);
	CHECK(failures(NULL, 0, open) == 1);
	CHECK(failures(NULL, 0, empty) == 0);
	json_decref(schema);
	json_decref(open);
	json_decref(empty);
}

/* Every route has a handler, a path from the root, and no two routes share
 * a method and pattern. */
void
suite_routes_table(void)
{
	int i, j;

	for (i = 0; i < nroutes; i++) {
		CHECK(routes[i].handler != NULL);
		CHECK(routes[i].pattern[0] == '/');
		for (j = i + 1; j < nroutes; j++)
			CHECK(!(routes[i].method == routes[j].method &&
			    strcmp(routes[i].pattern, routes[j].pattern) == 0));
	}
}

void
suite_routes_schemas(void)
{
	json_error_t err;
	int i;

	table_invariants(routes, nroutes);
	table_invariants(metrics_routes, nmetrics_routes);

	doc = json_loadb(fb_openapi_json, fb_openapi_json_len, 0, &err);
	CHECK(doc != NULL);
	if (doc == NULL)
		return;
	for (i = 0; i < nroutes; i++)
		compare_route(&routes[i]);
	json_decref(doc);
	doc = NULL;
	self_test();
}
