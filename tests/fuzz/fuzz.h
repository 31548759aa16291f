/*
 * fuzz.h: what every libFuzzer target under tests/fuzz/ shares.
 *
 * A target checks properties, not only "no crash": FUZZ_ASSERT names the
 * property that failed on stderr and traps, so libFuzzer saves the input
 * as a crash artifact. Sanitizer reports (ASan, UBSan) end a run the same way.
 */
#ifndef FB_FUZZ_H
#define FB_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ASSERT(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz property failed: %s (%s:%d)\n", #cond, \
		    __FILE__, __LINE__); \
		__builtin_trap(); \
	} \
} while (0)

/*
 * A named property a finding may break until it is fixed: checked like
 * FUZZ_ASSERT unless its name is in the environment variable FUZZ_SKIP
 * (comma-separated, e.g. FUZZ_SKIP=email-case), so that the other
 * properties of a target can still be fuzzed while a fix is pending.
 */
#define FUZZ_CHECK(name, cond) do { \
	if (!(cond) && !fuzz_skipped(name)) { \
		fprintf(stderr, "fuzz property %s failed: %s (%s:%d)\n", name, #cond, \
		    __FILE__, __LINE__); \
		__builtin_trap(); \
	} \
} while (0)

static inline bool
fuzz_skipped(const char *name)
{
	const char *skip = getenv("FUZZ_SKIP"), *p;
	size_t n = strlen(name);

	for (p = skip; p != NULL && (p = strstr(p, name)) != NULL; p += n)
		if ((p == skip || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
			return true;
	return false;
}

/* The libFuzzer entry point; each target defines it. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a NUL-terminated string (malloc'd), cut at its first NUL. */
static inline char *
fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Whether s[0..n) is well-formed UTF-8 (no surrogates, no overlongs). */
static inline bool
fuzz_utf8_ok(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t len, k;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			len = 2;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			len = 3;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + len > n)
			return false;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += len;
	}
	return true;
}

/* Whether s is plain ASCII (libsodium's base64 decoders accept bytes >= 0x80). */
static inline bool
fuzz_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

#endif
