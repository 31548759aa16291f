#include "fb.h"

#include <ctype.h>
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

void
crypto_uuid_new(char out[CRYPTO_UUID_LEN])
{
	uuid_t u;

	uuid_generate_random(u);
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
