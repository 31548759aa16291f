#include "fb.h"

#include <ctype.h>
#include <pthread.h>
#include <time.h>
#include <uuid/uuid.h>

#include "crypto.h"

int
crypto_init(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

void
crypto_token_new(const char *prefix, char *out, size_t outlen)
{
	unsigned char raw[32];
	size_t plen = strlen(prefix);

	if (outlen < plen + sodium_base64_ENCODED_LEN(sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING))
		fb_fatal("crypto_token_new: buffer of %zu too small", outlen);
	randombytes_buf(raw, sizeof(raw));
	memcpy(out, prefix, plen);
	sodium_bin2base64(out + plen, outlen - plen, raw, sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
}

void
crypto_sha256_hex(const void *data, size_t len, char out[CRYPTO_HASH_HEX_LEN])
{
	unsigned char digest[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(digest, data, len);
	sodium_bin2hex(out, CRYPTO_HASH_HEX_LEN, digest, sizeof(digest));
}

int
crypto_password_hash(const char *password, char out[CRYPTO_PWHASH_LEN])
{
	return crypto_pwhash_str_alg(out, password, strlen(password),
	    crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
	    crypto_pwhash_ALG_ARGON2ID13) == 0 ? 0 : -1;
}

bool
crypto_password_verify(const char *hash, const char *password)
{
	return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

/*
 * Random bytes for ids, drawn from the kernel 4 KiB at a time per thread:
 * libuuid's uuid_generate_random costs six system calls per id (it reseeds
 * random(3) from getpid, getuid and the time each call), one id per request
 * at least (issue 11). The bytes are the kernel's, as unpredictable as
 * before; a forked child starts with an empty buffer, never its parent's.
 */
static _Thread_local unsigned char id_pool[4096];
static _Thread_local size_t id_used = sizeof(id_pool);
static pthread_once_t id_once = PTHREAD_ONCE_INIT;

static void
id_pool_forget(void)
{
	id_used = sizeof(id_pool);
}

static void
id_pool_setup(void)
{
	pthread_atfork(NULL, NULL, id_pool_forget);
}

void
crypto_uuid_new(char out[CRYPTO_UUID_LEN])
{
	struct timespec ts;
	uint64_t ms;
	uuid_t u;
	int i;

	pthread_once(&id_once, id_pool_setup);
	if (id_used + sizeof(u) > sizeof(id_pool)) {
		randombytes_buf(id_pool, sizeof(id_pool));
		id_used = 0;
	}
	memcpy(u, id_pool + id_used, sizeof(u));
	sodium_memzero(id_pool + id_used, sizeof(u));
	id_used += sizeof(u);
	/* version 7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random */
	clock_gettime(CLOCK_REALTIME, &ts);
	ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	for (i = 0; i < 6; i++)
		u[i] = (unsigned char)(ms >> (8 * (5 - i)));
	u[6] = (u[6] & 0x0f) | 0x70;
	u[8] = (u[8] & 0x3f) | 0x80;     /* the RFC 9562 variant */
	uuid_unparse_lower(u, out);
}

bool
crypto_uuid_valid(const char *s)
{
	static const int dash[] = { 8, 13, 18, 23 };
	size_t i, d = 0;

	if (strlen(s) != 36)
		return false;
	for (i = 0; i < 36; i++) {
		if (d < FB_ARRAY_LEN(dash) && (int)i == dash[d]) {
			if (s[i] != '-')
				return false;
			d++;
		} else if (!isxdigit((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}
