/* lib/jsonv: strict body decoding: 400 vs 422 cases, every field problem
 * reported, nested schemas, repeated items. */
#include "fb.h"

#include "jsonv.h"
#include "unit.h"

static const char *const colours[] = { "red", "green", NULL };

static const struct jv_field fields[] = {
	{ "name",   JV_STRING,  JV_REQUIRED | JV_ONELINE, 1, 5, NULL, NULL },
	{ "count",  JV_INTEGER, 0, 1, 10, NULL, NULL },
	{ "colour", JV_STRING,  0, 0, 0, colours, NULL },
	{ "note",   JV_STRING,  JV_NULLABLE | JV_TEXT, 0, 100, NULL, NULL },
	{ "tags",   JV_ARRAY,   0, 0, 2, NULL, NULL },
};

static int
problems(const char *body, const char *field)
{
	char detail[256];
	json_t *obj, *errors = json_array();
	int n = -1;
	size_t i;

	if (jv_parse(body, strlen(body), &obj, detail, sizeof(detail)) != JV_PARSED) {
		json_decref(errors);
		return -1;
	}
	n = jv_check(obj, fields, FB_ARRAY_LEN(fields), "", errors);
	if (field != NULL) {
		bool found = false;

		for (i = 0; i < json_array_size(errors); i++)
			if (strcmp(json_string_value(json_object_get(json_array_get(errors, i),
			    "field")), field) == 0)
				found = true;
		if (!found)
			n = -2;
	}
	json_decref(obj);
	json_decref(errors);
	return n;
}

void
suite_jsonv(void)
{
	char detail[256];
	json_t *obj;

	CHECK(jv_parse("{\"a\":", 5, &obj, detail, sizeof(detail)) == JV_MALFORMED);
	CHECK(strstr(detail, "line 1") != NULL);
	CHECK(jv_parse("[1]", 3, &obj, detail, sizeof(detail)) == JV_NOT_OBJECT);
	CHECK(jv_parse("{\"a\":1,\"a\":2}", 13, &obj, detail, sizeof(detail)) == JV_MALFORMED);
	CHECK(jv_parse("{} x", 4, &obj, detail, sizeof(detail)) == JV_MALFORMED);

	CHECK(problems("{\"name\":\"ab\"}", NULL) == 0);
	CHECK(problems("{\"name\":\"ab\",\"count\":10,\"colour\":\"red\",\"note\":null,\"tags\":[]}", NULL) == 0);
	CHECK(problems("{}", "name") == 1);
	CHECK(problems("{\"name\":null}", "name") == 1);
	CHECK(problems("{\"name\":\"\"}", "name") == 1);
	CHECK(problems("{\"name\":\"abcdef\"}", "name") == 1);
	CHECK(problems("{\"name\":\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\"}", NULL) == 0); /* 5 chars, 10 bytes */
	CHECK(problems("{\"name\":\"a\\nb\"}", "name") == 1);
	CHECK(problems("{\"name\":7}", "name") == 1);
	CHECK(problems("{\"name\":\"a\",\"count\":1.0}", "count") == 1);
	CHECK(problems("{\"name\":\"a\",\"count\":11}", "count") == 1);
	CHECK(problems("{\"name\":\"a\",\"colour\":\"blue\"}", "colour") == 1);
	CHECK(problems("{\"name\":\"a\",\"colour\":null}", "colour") == 1);
	CHECK(problems("{\"name\":\"a\",\"note\":\"x\\ny\\tz\"}", NULL) == 0);
	CHECK(problems("{\"name\":\"a\",\"note\":\"x\\u0007\"}", "note") == 1);
	CHECK(problems("{\"name\":\"a\",\"tags\":[1,2,3]}", "tags") == 1);
	CHECK(problems("{\"name\":\"a\",\"extra\":1}", "extra") == 1);
	/* all problems at once */
	CHECK(problems("{\"count\":\"x\",\"extra\":1,\"colour\":\"blue\"}", NULL) == 4);

	CHECK(jv_utf8_len("h\xc3\xa9llo") == 5);

	/* one line: C0, DEL, C1 (U+0085 NEL among them) and U+2028/U+2029 refused */
	CHECK(problems("{\"name\":\"a\\u007f\"}", "name") == 1);
	CHECK(problems("{\"name\":\"a\\u0080\"}", "name") == 1);
	CHECK(problems("{\"name\":\"a\\u0085\"}", "name") == 1);
	CHECK(problems("{\"name\":\"a\\u009f\"}", "name") == 1);
	CHECK(problems("{\"name\":\"a\\u2028\"}", "name") == 1);
	CHECK(problems("{\"name\":\"a\\u2029\"}", "name") == 1);
	CHECK(problems("{\"name\":\"a\\u00a0b\"}", NULL) == 0);     /* just past C1 */
	CHECK(problems("{\"name\":\"a\\u2027\"}", NULL) == 0);
	CHECK(problems("{\"name\":\"\\u00c2\\u00bf\"}", NULL) == 0); /* C2 then BF: not C1 */
	/* free text: line feed and tab only; CR, DEL and C1 refused; separators allowed */
	CHECK(problems("{\"name\":\"a\",\"note\":\"x\\r\\ny\"}", "note") == 1);
	CHECK(problems("{\"name\":\"a\",\"note\":\"x\\u007f\"}", "note") == 1);
	CHECK(problems("{\"name\":\"a\",\"note\":\"x\\u0085\"}", "note") == 1);
	CHECK(problems("{\"name\":\"a\",\"note\":\"x\\u2028y\"}", NULL) == 0);
}

static const struct jv_field item_fields[] = {
	{ "id", JV_INTEGER, JV_REQUIRED, 1, 9, NULL, NULL },
};
static const struct jv_schema item_schema = JV_SCHEMA(item_fields);

static const struct jv_field nested_fields[] = {
	{ "items", JV_ARRAY,  0, 0, 3, NULL, &item_schema },
	{ "one",   JV_OBJECT, JV_NULLABLE, 0, 0, NULL, &item_schema },
};
static const struct jv_schema nested = JV_SCHEMA(nested_fields);

/* The fields named for body, "" when it has no problem. */
static char *
nested_problems(const char *body, char *out, size_t outlen)
{
	json_t *obj = json_loads(body, 0, NULL), *errors = json_array(), *e;
	size_t i, used = 0;

	out[0] = '\0';
	jv_check_schema(obj, &nested, "", errors);
	json_array_foreach(errors, i, e)
		used += (size_t)snprintf(out + used, outlen - used, "%s%s", i ? " " : "",
		    json_string_value(json_object_get(e, "field")));
	json_decref(obj);
	json_decref(errors);
	return out;
}

void
suite_jv_schema(void)
{
	char buf[256];

	CHECK_STR(nested_problems("{}", buf, sizeof(buf)), "");
	CHECK_STR(nested_problems("{\"items\":[{\"id\":1}],\"one\":null}", buf, sizeof(buf)), "");
	CHECK_STR(nested_problems("{\"items\":[{\"id\":0},3,{\"zz\":1}],\"one\":{\"id\":\"x\"}}",
	    buf, sizeof(buf)), "items[0].id items[1] items[2].zz items[2].id one.id");
	/* too many items: the count is the problem, the items are not read */
	CHECK_STR(nested_problems("{\"items\":[{},{},{},{}]}", buf, sizeof(buf)), "items");
	/* the shared empty schema refuses every member */
	{
		json_t *obj = json_loads("{\"zz\":1,\"a\":null}", 0, NULL), *errors = json_array();

		CHECK(jv_check_schema(obj, &jv_no_members, "", errors) == 2);
		json_decref(obj);
		json_decref(errors);
	}
	/*
	 * An unknown member whose name is cut inside a multi-byte character
	 * (names are bounded to 127 bytes) is still named, cut before the
	 * character, and still counted: found by fuzz_json.
	 */
	{
		char body[600], key[300];
		json_t *obj, *errors = json_array();
		const char *field;
		int cut;

		for (cut = 0; cut < 4; cut++) {
			memset(key, 'k', sizeof(key));
			/* "\u00e9" is two bytes, "\u20ac" three: one straddles byte 127 */
			snprintf(key + 125 + cut, sizeof(key) - 125 - cut, "\u20ac\u00e9tail");
			snprintf(body, sizeof(body), "{\"%s\":1}", key);
			obj = json_loads(body, 0, NULL);
			CHECK(obj != NULL);
			json_array_clear(errors);
			CHECK(jv_check_schema(obj, &jv_no_members, "", errors) == 1);
			CHECK(json_array_size(errors) == 1);
			field = json_string_value(json_object_get(json_array_get(errors, 0), "field"));
			CHECK(field != NULL && strlen(field) <= 127 && strlen(field) >= 124 &&
			    strncmp(field, key, 125) == 0);
			json_decref(obj);
		}
		json_decref(errors);
	}
}

void
suite_jv_repeats(void)
{
	json_t *a = json_loads("[{\"k\":\"x\"},{\"k\":\"y\"},{\"k\":\"x\"},{\"z\":1}]", 0, NULL);
	json_t *b = json_loads("[\"work\",\"feedback\",\"work\"]", 0, NULL);

	CHECK(!jv_repeats(a, 0, "k"));
	CHECK(!jv_repeats(a, 1, "k"));
	CHECK(jv_repeats(a, 2, "k"));
	CHECK(!jv_repeats(a, 3, "k"));     /* no such member: nothing to repeat */
	CHECK(!jv_repeats(a, 9, "k"));     /* out of range */
	CHECK(!jv_repeats(b, 1, NULL));
	CHECK(jv_repeats(b, 2, NULL));
	json_decref(a);
	json_decref(b);
}

void
suite_jv_check_items(void)
{
	static const struct jv_field f[] = {
		{ "kind", JV_STRING, JV_REQUIRED, 1, 10, NULL, NULL },
	};
	json_t *ok = json_loads("[{\"kind\":\"a\"},{\"kind\":\"b\"}]", 0, NULL);
	json_t *bad = json_loads("[{\"kind\":\"a\"}, 3, {\"kind\":1}, {}]", 0, NULL);
	json_t *errors = json_array(), *str = json_string("x");

	CHECK(jv_check_items(ok, f, 1, "rates", errors) == 0);
	CHECK(json_array_size(errors) == 0);
	CHECK(jv_check_items(str, f, 1, "rates", errors) == 0);
	CHECK(jv_check_items(bad, f, 1, "rates", errors) == 3);
	CHECK(json_array_size(errors) == 3);
	CHECK_STR(json_string_value(json_object_get(json_array_get(errors, 0), "field")), "rates[1]");
	CHECK_STR(json_string_value(json_object_get(json_array_get(errors, 1), "field")), "rates[2].kind");
	CHECK_STR(json_string_value(json_object_get(json_array_get(errors, 2), "field")), "rates[3].kind");
	json_decref(ok);
	json_decref(bad);
	json_decref(str);
	json_decref(errors);
}
