/*
 * crypto.h: tokens, hashes, passwords and ids (libsodium, libuuid).
 *
 * Session tokens and invitation codes are 256 random bits, shown once and
 * stored only as a SHA-256 digest (they are high-entropy, so a fast hash is
 * right). Passwords use Argon2id, which is slow on purpose: call the password
 * functions from a workpool thread, never from an event loop.
 */
#ifndef FB_CRYPTO_H
#define FB_CRYPTO_H

#include <sodium.h>

#define CRYPTO_TOKEN_LEN 48          /* "fbt_" + 43 base64url chars + NUL */
#define CRYPTO_HASH_HEX_LEN 65       /* 64 hex digits + NUL */
#define CRYPTO_PWHASH_LEN crypto_pwhash_STRBYTES
#define CRYPTO_UUID_LEN 37

/* Call once before threads start. Returns 0 or -1. */
int crypto_init(void);

/* prefix + base64url(32 random bytes), NUL-terminated, into out[48+]. */
void crypto_token_new(const char *prefix, char *out, size_t outlen);

/* Lower-case hex SHA-256 of data. */
void crypto_sha256_hex(const void *data, size_t len, char out[CRYPTO_HASH_HEX_LEN]);

/* Argon2id string (algorithm, parameters and salt included). 0 or -1. */
int crypto_password_hash(const char *password, char out[CRYPTO_PWHASH_LEN]);
bool crypto_password_verify(const char *hash, const char *password);

/*
 * A time-ordered (v7) UUID in lower case: Unix milliseconds, then 74 random
 * bits. PostgreSQL's B-tree indexes on ids then grow at their right edge, as
 * a sequence's do, instead of touching a random page per insert (issue 11,
 * P2: a funding's inserts into a large ledger). An id tells when it was
 * made, to the millisecond, which every resource shows anyway.
 */
void crypto_uuid_new(char out[CRYPTO_UUID_LEN]);
/* True when s is a UUID in canonical 8-4-4-4-12 form. */
bool crypto_uuid_valid(const char *s);

#endif
