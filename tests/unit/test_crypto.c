/* lib/crypto: tokens, SHA-256, password hashes and version 7 UUIDs. */
#include "fb.h"

#include <time.h>

#include "crypto.h"
#include "unit.h"

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
