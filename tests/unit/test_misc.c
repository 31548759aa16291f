/* config, crypto, valid, arena: the pure helpers. */
#include "fb.h"

#include <time.h>

#include "arena.h"
#include "config.h"
#include "crypto.h"
#include "repr.h"
#include "valid.h"
#include "unit.h"

void
suite_config(void)
{
	struct config cfg;
	fb_err err;
	char *m;
	json_t *j;

	unsetenv("FAIRBETA_THREADS");
	setenv("FAIRBETA_DATABASE_URL", "postgresql://u:secret@h/db", 1);
	setenv("FAIRBETA_DB_POOL", "7", 1);
	CHECK(config_load(&cfg, err) == 0);
	CHECK(cfg.db_pool == 7);
	CHECK(cfg.threads >= 1);
	CHECK(cfg.max_body == 1048576);
	CHECK_STR(cfg.listen, "127.0.0.1:8080");
	j = config_to_json(&cfg);
	CHECK(strstr(json_string_value(json_object_get(j, "FAIRBETA_DATABASE_URL")), "secret") == NULL);
	json_decref(j);
	config_free(&cfg);

	setenv("FAIRBETA_DB_POOL", "lots", 1);
	CHECK(config_load(&cfg, err) == -1 && strstr(err, "FAIRBETA_DB_POOL") != NULL);
	setenv("FAIRBETA_DB_POOL", "0", 1);
	CHECK(config_load(&cfg, err) == -1 && strstr(err, "FAIRBETA_DB_POOL") != NULL);
	setenv("FAIRBETA_DB_POOL", "4x", 1);
	CHECK(config_load(&cfg, err) == -1);
	unsetenv("FAIRBETA_DB_POOL");
	setenv("FAIRBETA_LOG_LEVEL", "loud", 1);
	CHECK(config_load(&cfg, err) == -1 && strstr(err, "FAIRBETA_LOG_LEVEL") != NULL);
	unsetenv("FAIRBETA_LOG_LEVEL");

	m = config_mask_url("postgresql://u:secret@h/db");
	CHECK_STR(m, "postgresql://u:***@h/db");
	free(m);
	m = config_mask_url("host=h password=secret");
	CHECK(strstr(m, "secret") == NULL);
	free(m);
	m = config_mask_url("postgresql:///db?host=/tmp");
	CHECK_STR(m, "postgresql:///db?host=/tmp");
	free(m);
}

void
suite_crypto(void)
{
	char a[CRYPTO_TOKEN_LEN], b[CRYPTO_TOKEN_LEN], hex[CRYPTO_HASH_HEX_LEN];
	char hash[CRYPTO_PWHASH_LEN], id[CRYPTO_UUID_LEN];

	crypto_token_new("fbt_", a, sizeof(a));
	crypto_token_new("fbt_", b, sizeof(b));
	CHECK(strncmp(a, "fbt_", 4) == 0 && strlen(a) == 4 + 43);   /* 256 bits */
	CHECK(strcmp(a, b) != 0);
	crypto_sha256_hex("abc", 3, hex);
	CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	CHECK(crypto_password_hash("hunter22", hash) == 0);
	CHECK(strncmp(hash, "$argon2id$", 10) == 0);
	CHECK(crypto_password_verify(hash, "hunter22"));
	CHECK(!crypto_password_verify(hash, "hunter23"));
	crypto_uuid_new(id);
	CHECK(crypto_uuid_valid(id));
	{
		/* version 7: today's milliseconds first, ids in the order made */
		char prev[CRYPTO_UUID_LEN], hexms[13];
		unsigned long long ms;
		struct timespec ts;
		int i, ordered = 1, distinct = 1;

		CHECK(id[14] == '7');
		CHECK(strchr("89ab", id[19]) != NULL);
		snprintf(hexms, sizeof(hexms), "%.8s%.4s", id, id + 9);
		ms = strtoull(hexms, NULL, 16);
		clock_gettime(CLOCK_REALTIME, &ts);
		CHECK(ms <= (unsigned long long)ts.tv_sec * 1000 + 1000 &&
		    ms + 60000 >= (unsigned long long)ts.tv_sec * 1000);
		for (i = 0; i < 1000; i++) {
			memcpy(prev, id, sizeof(prev));
			crypto_uuid_new(id);
			if (strncmp(prev, id, 13) > 0)
				ordered = 0;
			if (strcmp(prev, id) == 0)
				distinct = 0;
		}
		CHECK(ordered);
		CHECK(distinct);
	}
	CHECK(!crypto_uuid_valid("not-a-uuid"));
	CHECK(!crypto_uuid_valid("0123456789abcdef0123456789abcdef0123"));
}

void
suite_valid(void)
{
	char s[] = "MiXeD@Example.COM";

	CHECK(valid_email("a@b.co"));
	CHECK(valid_email("admin@localhost"));
	CHECK(!valid_email("a@b"));
	CHECK(!valid_email("@b.co"));
	CHECK(!valid_email("a@@b.co"));
	CHECK(!valid_email("a b@c.co"));
	CHECK(!valid_email("a@b.co\r\nBcc: x@y.z"));
	valid_lower(s);
	CHECK_STR(s, "mixed@example.com");
	CHECK(valid_rfc3339("2026-11-25T10:00:00Z"));
	CHECK(valid_rfc3339("2026-11-25T10:00:00.123456+01:00"));
	CHECK(!valid_rfc3339("2026-11-25"));
	CHECK(!valid_rfc3339("2026-13-25T10:00:00Z"));
	CHECK(!valid_rfc3339("2026-02-29T00:00:00Z"));
	CHECK(valid_rfc3339("2028-02-29T00:00:00Z"));
	CHECK(!valid_rfc3339("1900-02-29T00:00:00Z"));
	CHECK(valid_rfc3339("2000-02-29T00:00:00Z"));
	CHECK(!valid_rfc3339("2026-04-31T00:00:00Z"));
	CHECK(!valid_rfc3339("0000-01-01T00:00:00Z"));
	CHECK(valid_rfc3339("2026-01-01T00:00:00+15:59"));
	CHECK(!valid_rfc3339("2026-01-01T00:00:00+16:00"));
	CHECK(!valid_rfc3339("2026-01-01T00:00:00-01:60"));
	CHECK(!valid_rfc3339("2026-11-25T10:00:00"));
	CHECK(!valid_rfc3339("2026-11-25T10:00:00Zjunk"));
	CHECK(valid_role("finance") && !valid_role("root"));
	{
		int64_t a, b;

		CHECK(valid_rfc3339_us("1970-01-01T00:00:01.5Z", &a) == 0 && a == 1500000);
		CHECK(valid_rfc3339_us("2026-11-25T10:00:00+01:00", &a) == 0);
		CHECK(valid_rfc3339_us("2026-11-25T09:00:00Z", &b) == 0 && a == b);
		CHECK(valid_rfc3339_us("yesterday", &a) == -1);
	}
}

void
suite_arena(void)
{
	struct arena *a = arena_new(64);
	char *p, *big;
	int i;

	p = arena_strdup(a, "hello");
	for (i = 0; i < 100; i++)
		CHECK(((uintptr_t)arena_alloc(a, 3) & 15) == 0);
	big = arena_alloc(a, 100000);
	memset(big, 1, 100000);
	CHECK_STR(p, "hello");
	CHECK_STR(arena_printf(a, "%d-%s", 42, "x"), "42-x");
	arena_free(a);
}

/* repr_time_text: PostgreSQL's ISO text of a timestamptz in UTC, as RFC 3339. */
void
suite_repr_time(void)
{
	static const struct {
		const char *pg, *want;
	} cases[] = {
		{ "2026-11-30 22:53:36.175443+00", "2026-11-30T22:53:36.175443Z" },
		{ "2026-11-30 22:53:36.1754+00", "2026-11-30T22:53:36.175400Z" },
		{ "2026-11-30 22:53:36.1+00", "2026-11-30T22:53:36.100000Z" },
		{ "2026-11-30 22:53:36+00", "2026-11-30T22:53:36.000000Z" },
		{ "0001-01-01 00:00:00+00", "0001-01-01T00:00:00.000000Z" },
		/* not the shape it knows: given back as it is */
		{ "2026-11-30 22:53:36+01", "2026-11-30 22:53:36+01" },
		{ "2026-11-30 22:53:36.5+05:30", "2026-11-30 22:53:36.5+05:30" },
		{ "infinity", "infinity" },
		{ "", "" },
		{ "12026-11-30 22:53:36+00", "12026-11-30 22:53:36+00" },
	};
	char buf[64];
	size_t i;

	for (i = 0; i < FB_ARRAY_LEN(cases); i++)
		CHECK_STR(repr_time_text(cases[i].pg, buf, sizeof(buf)), cases[i].want);
	/* too small a buffer never overflows */
	CHECK(strlen(repr_time_text("2026-11-30 22:53:36+00", buf, 8)) == 7);
}
