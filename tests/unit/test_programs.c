/* The pure pieces behind programs: slugs, clause keys, currencies, If-Match. */
#include "fb.h"

#include "currency.h"
#include "pipeline.h"
#include "jsonv.h"
#include "valid.h"
#include "unit.h"

void
suite_programs(void)
{
	/* slugs: lowercase, digits, single inner dashes, 3..64 */
	CHECK(valid_slug("spring-2027"));
	CHECK(valid_slug("abc"));
	CHECK(valid_slug("a1-b2-c3"));
	CHECK(!valid_slug("ab"));
	CHECK(!valid_slug("Spring"));
	CHECK(!valid_slug("-abc"));
	CHECK(!valid_slug("abc-"));
	CHECK(!valid_slug("a--bc"));
	CHECK(!valid_slug("a_bc"));
	CHECK(!valid_slug("a bc"));
	CHECK(valid_slug("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));   /* 64 */
	CHECK(!valid_slug("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));  /* 65 */

	/* clause keys */
	CHECK(valid_key("conf"));
	CHECK(valid_key("1.2_use-x"));
	CHECK(!valid_key(""));
	CHECK(!valid_key("_conf"));
	CHECK(!valid_key("Conf"));
	CHECK(!valid_key("con f"));
	CHECK(!valid_key("conf/1"));

	/* ISO 4217 */
	CHECK(currency_valid("EUR"));
	CHECK(currency_valid("USD"));
	CHECK(currency_valid("AED"));        /* first */
	CHECK(currency_valid("ZWG"));        /* last */
	CHECK(!currency_valid("eur"));
	CHECK(!currency_valid("XYZ"));
	CHECK(!currency_valid("EU"));
	CHECK(!currency_valid("EURO"));
	CHECK(!currency_valid(""));
	CHECK(!currency_valid(NULL));
	CHECK(currency_exponent("EUR") == 2);
	CHECK(currency_exponent("JPY") == 0);
	CHECK(currency_exponent("KWD") == 3);
	CHECK(currency_exponent("XXX") == -1);

	/* If-Match: lists, "*", and no weak tags */
	CHECK(req_if_match("\"v3\"", "\"v3\""));
	CHECK(req_if_match("*", "\"v3\""));
	CHECK(req_if_match("\"v1\", \"v3\"", "\"v3\""));
	CHECK(req_if_match("\"v1\",\"v3\"", "\"v3\""));
	CHECK(!req_if_match("\"v1\", \"v2\"", "\"v3\""));
	CHECK(!req_if_match("\"v31\"", "\"v3\""));
	CHECK(!req_if_match("W/\"v3\"", "\"v3\""));
	CHECK(!req_if_match("v3", "\"v3\""));
	CHECK(!req_if_match("", "\"v3\""));
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
