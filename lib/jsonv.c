#include "fb.h"

#include "jsonv.h"

static const char *type_names[] = {
	[JV_STRING] = "a string", [JV_INTEGER] = "an integer",
	[JV_BOOLEAN] = "true or false", [JV_OBJECT] = "an object",
	[JV_ARRAY] = "an array", [JV_NUMBER] = "a number",
};

enum jv_parse_result
jv_parse(const char *buf, size_t len, json_t **out, char *detail, size_t detail_len)
{
	json_error_t err;
	json_t *v;

	*out = NULL;
	v = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
	if (v == NULL) {
		snprintf(detail, detail_len, "malformed JSON at line %d, column %d: %s",
		    err.line, err.column, err.text);
		return JV_MALFORMED;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		snprintf(detail, detail_len, "the body must be a JSON object");
		return JV_NOT_OBJECT;
	}
	*out = v;
	return JV_PARSED;
}

/*
 * The length of s without a code point cut short at its end: names are built
 * with snprintf into fixed buffers, which may truncate inside a multi-byte
 * character of a long member name, and jansson refuses such a string.
 */
size_t
jv_utf8_whole_len(const char *s)
{
	size_t len = strlen(s), i = len, need;
	unsigned char c;

	while (i > 0 && len - i < 4 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
		i--;
	if (i == 0)
		return len;
	c = (unsigned char)s[i - 1];
	if (c < 0x80)
		return len;
	need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
	return len - (i - 1) < need ? i - 1 : len;
}

void
jv_error(json_t *errors, const char *field, const char *message)
{
	json_t *e = json_object();

	json_object_set_new(e, "field", json_stringn(field, jv_utf8_whole_len(field)));
	json_object_set_new(e, "message", json_string(message));
	json_array_append_new(errors, e);
}

size_t
jv_utf8_len(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

static bool
type_matches(const json_t *v, enum jv_type t)
{
	switch (t) {
	case JV_STRING:  return json_is_string(v);
	case JV_INTEGER: return json_is_integer(v);
	case JV_BOOLEAN: return json_is_boolean(v);
	case JV_OBJECT:  return json_is_object(v);
	case JV_ARRAY:   return json_is_array(v);
	case JV_NUMBER:  return json_is_number(v);
	}
	return false;
}

const struct jv_schema jv_no_members = { NULL, 0 };

/*
 * Whether s holds a character its flags refuse (see jsonv.h). s is valid
 * UTF-8 (jansson checks), so C1 controls are exactly the pairs C2 80..C2 9F
 * and the separators U+2028, U+2029 the triples E2 80 A8, E2 80 A9.
 */
static bool
has_refused_char(const char *s, unsigned flags)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20) {
			if ((flags & JV_TEXT) && (*p == '\n' || *p == '\t'))
				continue;
			return true;
		}
		if (*p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
			return true;
		if ((flags & JV_ONELINE) && p[0] == 0xe2 && p[1] == 0x80 &&
		    (p[2] == 0xa8 || p[2] == 0xa9))
			return true;
	}
	return false;
}

static const char *
string_problem(const char *s, const struct jv_field *f, char *buf, size_t buflen)
{
	size_t n = jv_utf8_len(s);

	if (f->max > 0 && (long long)n > f->max) {
		snprintf(buf, buflen, "must be at most %lld characters", f->max);
		return buf;
	}
	if ((long long)n < f->min) {
		snprintf(buf, buflen, f->min == 1 ? "must not be empty" :
		    "must be at least %lld characters", f->min);
		return buf;
	}
	if ((f->flags & (JV_ONELINE | JV_TEXT)) && has_refused_char(s, f->flags))
		return (f->flags & JV_ONELINE) ?
		    "must be a single line without control characters" :
		    "must not contain control characters other than newline and tab";
	if (f->oneof != NULL) {
		const char *const *o;
		size_t used;

		for (o = f->oneof; *o; o++)
			if (strcmp(*o, s) == 0)
				return NULL;
		used = (size_t)snprintf(buf, buflen, "must be one of");
		for (o = f->oneof; *o && used < buflen; o++)
			used += (size_t)snprintf(buf + used, buflen - used, "%s %s",
			    o == f->oneof ? "" : ",", *o);
		return buf;
	}
	return NULL;
}

int
jv_check(const json_t *obj, const struct jv_field *fields, size_t nfields,
    const char *prefix, json_t *errors)
{
	char name[128], msg[256];
	const char *key;
	json_t *v;
	size_t i;
	int problems = 0;

	json_object_foreach((json_t *)obj, key, v) {
		for (i = 0; i < nfields; i++)
			if (strcmp(fields[i].name, key) == 0)
				break;
		if (i == nfields) {
			snprintf(name, sizeof(name), "%s%s", prefix, key);
			jv_error(errors, name, "is not a known field");
			problems++;
		}
	}
	for (i = 0; i < nfields; i++) {
		const struct jv_field *f = &fields[i];
		const char *why = NULL;

		snprintf(name, sizeof(name), "%s%s", prefix, f->name);
		v = json_object_get(obj, f->name);
		if (v == NULL || json_is_null(v)) {
			if (v == NULL && (f->flags & JV_REQUIRED))
				why = "is required";
			else if (v != NULL && !(f->flags & JV_NULLABLE))
				why = (f->flags & JV_REQUIRED) ? "is required" : "must not be null";
		} else if (!type_matches(v, f->type)) {
			snprintf(msg, sizeof(msg), "must be %s", type_names[f->type]);
			why = msg;
		} else if (f->type == JV_STRING) {
			why = string_problem(json_string_value(v), f, msg, sizeof(msg));
		} else if (f->type == JV_INTEGER && (f->min != 0 || f->max != 0)) {
			json_int_t n = json_integer_value(v);

			if (n < f->min || n > f->max) {
				snprintf(msg, sizeof(msg), "must be from %lld to %lld", f->min, f->max);
				why = msg;
			}
		} else if (f->type == JV_ARRAY && (f->min != 0 || f->max != 0) &&
		    ((long long)json_array_size(v) < f->min ||
		    (long long)json_array_size(v) > f->max)) {
			snprintf(msg, sizeof(msg), "must have from %lld to %lld items",
			    f->min, f->max);
			why = msg;
		} else if (f->sub != NULL && f->type == JV_ARRAY) {
			problems += jv_check_items(v, f->sub->fields, f->sub->nfields, name, errors);
		} else if (f->sub != NULL && f->type == JV_OBJECT) {
			char sub[sizeof(name) + 1];

			snprintf(sub, sizeof(sub), "%s.", name);
			problems += jv_check(v, f->sub->fields, f->sub->nfields, sub, errors);
		}
		if (why != NULL) {
			jv_error(errors, name, why);
			problems++;
		}
	}
	return problems;
}

int
jv_check_schema(const json_t *obj, const struct jv_schema *schema, const char *prefix,
    json_t *errors)
{
	return jv_check(obj, schema->fields, schema->nfields, prefix, errors);
}

const char *
jv_str(const json_t *obj, const char *name)
{
	return json_string_value(json_object_get(obj, name));
}

long long
jv_int(const json_t *obj, const char *name, long long def)
{
	json_t *v = json_object_get(obj, name);

	return json_is_integer(v) ? json_integer_value(v) : def;
}

bool
jv_repeats(const json_t *array, size_t i, const char *member)
{
	const json_t *v = json_array_get(array, i);
	size_t j;

	if (member != NULL)
		v = json_object_get(v, member);
	if (v == NULL)
		return false;
	for (j = 0; j < i; j++) {
		const json_t *w = json_array_get(array, j);

		if (member != NULL)
			w = json_object_get(w, member);
		if (w != NULL && json_equal(v, w))
			return true;
	}
	return false;
}

int
jv_check_items(const json_t *array, const struct jv_field *fields, size_t nfields,
    const char *name, json_t *errors)
{
	const json_t *item;
	size_t i;
	int n = 0;
	char prefix[160];

	if (!json_is_array(array))
		return 0;
	json_array_foreach(array, i, item) {
		if (!json_is_object(item)) {
			snprintf(prefix, sizeof(prefix), "%s[%zu]", name, i);
			jv_error(errors, prefix, "must be an object");
			n++;
			continue;
		}
		snprintf(prefix, sizeof(prefix), "%s[%zu].", name, i);
		n += jv_check(item, fields, nfields, prefix, errors);
	}
	return n;
}
