/*
 * unit.h: a tiny test framework. CHECK records a failure and goes on;
 * main.c runs every suite and ends with "unit: N passed, M failed".
 */
#ifndef FB_UNIT_H
#define FB_UNIT_H

extern int unit_passed, unit_failed;

#define CHECK(cond) do { \
	if (cond) { \
		unit_passed++; \
	} else { \
		unit_failed++; \
		fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	} \
} while (0)

#define CHECK_STR(a, b) CHECK(strcmp((a), (b)) == 0)

/* test_<module>.c tests lib/<module>.c, api/<module>.c or workers/<module>.c */
/* test_arena.c */
void suite_arena(void);
/* test_config.c */
void suite_config(void);
/* test_crypto.c */
void suite_crypto(void);
/* test_csv.c */
void suite_csv(void);
/* test_currency.c */
void suite_currency(void);
/* test_email.c */
void suite_email(void);
/* test_idem.c */
void suite_idem(void);
/* test_jsonv.c */
void suite_jsonv(void);
void suite_jv_schema(void);
void suite_jv_repeats(void);
void suite_jv_check_items(void);
/* test_notify.c */
void suite_notify(void);
/* test_pipeline.c */
void suite_pipeline(void);
/* test_repr.c */
void suite_repr_time(void);
/* test_request.c */
void suite_request_if_match(void);
void suite_request_sqlstate(void);
/* test_router.c */
void suite_router(void);
void suite_router_escapes(void);
/* test_routes.c */
void suite_routes_table(void);
void suite_routes_schemas(void);
/* test_urlcheck.c */
void suite_urlcheck(void);
/* test_valid.c */
void suite_valid(void);
void suite_valid_precision(void);
void suite_valid_slug_key(void);

#endif
