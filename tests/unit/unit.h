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

void suite_router(void);
void suite_hardening(void);
void suite_jsonv(void);
void suite_config(void);
void suite_crypto(void);
void suite_valid(void);
void suite_email(void);
void suite_arena(void);
void suite_programs(void);
void suite_jv_repeats(void);
void suite_jv_check_items(void);
void suite_notify(void);
void suite_csv(void);
void suite_schemas(void);
void suite_jv_schema(void);
void suite_repr_time(void);

#endif
