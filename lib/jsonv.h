/*
 * jsonv.h: strict decoding of JSON request bodies against a field table.
 *
 * A handler declares its body as a table of fields (name, type, required,
 * bounds, allowed values); jv_check() reports every problem at once as
 * {field, message} pairs, including members the table does not name.
 * Malformed JSON is told apart from a well-formed body of the wrong shape,
 * because the contract answers the first with 400 and the second with 422.
 *
 * A route declares its body as a jv_schema in the route table (api/routes.c)
 * and the request pipeline checks it before the handler runs, so no handler
 * can forget to. tests/unit/test_schemas.c holds every schema to the request
 * schema api/openapi.yaml documents for the operation, field by field.
 */
#ifndef FB_JSONV_H
#define FB_JSONV_H

#include <stdbool.h>

#include <jansson.h>

enum jv_type { JV_STRING, JV_INTEGER, JV_BOOLEAN, JV_OBJECT, JV_ARRAY, JV_NUMBER };

/*
 * Which characters a string may hold. The document states each as a
 * pattern, and test_schemas.c requires exactly these strings (an ONELINE
 * field with a fixed prefix, such as a URI's scheme, may put the prefix
 * between "^" and the class):
 *
 *   JV_ONELINE  '^[^\u0000-\u001F\u007F-\u009F\u2028\u2029]*$'
 *       one line: no C0 or C1 control character, no DEL, and neither
 *       Unicode line nor paragraph separator (U+0085, the other Unicode
 *       line break, is in C1). For names, titles, memos: anything that
 *       ends up in one CSV cell, one bank-file line or one log line.
 *   JV_TEXT     '^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$'
 *       free text: line feed and tab allowed, every other control
 *       character (carriage return included) refused.
 *
 * A string field with neither flag takes any character (passwords), or
 * the handler checks a format of its own (dates, hashes, keys).
 */
enum {
	JV_REQUIRED = 1 << 0,
	JV_NULLABLE = 1 << 1,
	JV_ONELINE = 1 << 2,    /* strings: one line, see above */
	JV_TEXT = 1 << 3,       /* strings: free text, see above */
};

#define JV_ONELINE_PATTERN "^[^\\u0000-\\u001F\\u007F-\\u009F\\u2028\\u2029]*$"
#define JV_ONELINE_CLASS   "[^\\u0000-\\u001F\\u007F-\\u009F\\u2028\\u2029]*$"
#define JV_TEXT_PATTERN    "^[^\\u0000-\\u0008\\u000B-\\u001F\\u007F-\\u009F]*$"

struct jv_schema;

struct jv_field {
	const char *name;
	enum jv_type type;
	unsigned flags;
	long long min, max;           /* strings: characters; integers: value; arrays: items. 0,0: unbounded */
	const char *const *oneof;     /* strings: allowed values, NULL-terminated */
	const struct jv_schema *sub;  /* objects: their members; arrays: each item, an object */
};

/* The members an object may have: a body, or a nested object. */
struct jv_schema {
	const struct jv_field *fields;
	size_t nfields;
};

#define JV_SCHEMA(table) { (table), sizeof(table) / sizeof((table)[0]) }

/* For operations that take no parameters: any member is an error. */
extern const struct jv_schema jv_no_members;

enum jv_parse_result { JV_PARSED, JV_MALFORMED, JV_NOT_OBJECT };

/*
 * Parses buf as one JSON value with duplicate keys refused. On JV_PARSED *out
 * is a new reference to an object. On error, detail says what and where.
 */
enum jv_parse_result jv_parse(const char *buf, size_t len, json_t **out,
    char *detail, size_t detail_len);

/*
 * Checks obj against fields; appends {"field","message"} objects to errors
 * (field names prefixed with prefix, e.g. "media[0]."). A field with a sub
 * schema is checked through it: "generation.model", "media[0].uri".
 * Returns the number of problems found (0: the object matches).
 */
int jv_check(const json_t *obj, const struct jv_field *fields, size_t nfields,
    const char *prefix, json_t *errors);

/* jv_check() against a schema. */
int jv_check_schema(const json_t *obj, const struct jv_schema *schema, const char *prefix,
    json_t *errors);

/* Adds {"field": field, "message": message} to errors. */
void jv_error(json_t *errors, const char *field, const char *message);
/* strlen(s) less a multi-byte character cut short at its end (snprintf). */
size_t jv_utf8_whole_len(const char *s);

/* Code points in a valid UTF-8 string. */
size_t jv_utf8_len(const char *s);

/* Convenience getters for fields jv_check() has already validated. */
const char *jv_str(const json_t *obj, const char *name);   /* NULL if absent/null */
long long jv_int(const json_t *obj, const char *name, long long def);
/*
 * Checks each item of array (when it is one) as an object against fields,
 * naming problems "<name>[i].<field>", or "<name>[i]" for a non-object.
 * Returns the number of problems found.
 */
int jv_check_items(const json_t *array, const struct jv_field *fields, size_t nfields,
    const char *name, json_t *errors);
/*
 * Whether item i of array equals an earlier item (compared by its member
 * named member when not NULL): for "each key at most once" rules.
 */
bool jv_repeats(const json_t *array, size_t i, const char *member);

#endif
