/* Strict body decoding: 400 vs 422 cases, and every field problem reported. */
#include "fb.h"

#include "jsonv.h"
#include "unit.h"

static const char *const colours[] = { "red", "green", NULL };

static const struct jv_field fields[] = {
	{ "name",   JV_STRING,  JV_REQUIRED | JV_ONELINE, 1, 5, NULL },
	{ "count",  JV_INTEGER, 0, 1, 10, NULL },
	{ "colour", JV_STRING,  0, 0, 0, colours },
	{ "note",   JV_STRING,  JV_NULLABLE | JV_TEXT, 0, 100, NULL },
	{ "tags",   JV_ARRAY,   0, 0, 2, NULL },
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
}
