/*
 * fuzz_email.c: addresses as account identities (lib/email.c, ICU), on any
 * string.
 *
 * Properties of an address email_check accepts:
 * - email_identify accepts it too, and its stored form passes valid_email
 *   and holds none of the characters email.h refuses, checked here without
 *   ICU from a list of code points: controls (C0, DEL, C1), whitespace
 *   (U+0020, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F,
 *   U+205F, U+3000) and default-ignorable or format characters (U+00AD,
 *   U+034F, U+061C, U+115F, U+1160, U+17B4, U+17B5, U+180B..U+180F,
 *   U+200B..U+200F, U+202A..U+202E, U+2060..U+206F, U+3164, U+FE00..U+FE0F,
 *   U+FEFF, U+FFA0, U+E0000..U+E0FFF); no trailing dot, no empty domain
 *   label, no dot at either end of the local part or two in a row;
 * - the stored form is accepted again and identifies the same account
 *   (same normalized form and skeleton: "email-stable"): what is stored can
 *   be signed in with, and `fairbeta migrate` recomputes the same forms;
 *   and it is its own stored form ("email-canonical"): however an address
 *   was typed, one account has one spelling;
 * - email_same(typed, stored) holds: a user signs in as they typed;
 * - ASCII letter case changes nothing ("email-case").
 * And for any input: no crash, and email_normalize's output is valid UTF-8.
 */
#include "fb.h"

#include "email.h"
#include "valid.h"
#include "fuzz.h"

static bool
refused_cp(uint32_t c)
{
	return c < 0x21 || (c >= 0x7f && c <= 0xa0) || c == 0xad || c == 0x34f ||
	    c == 0x61c || c == 0x115f || c == 0x1160 || c == 0x1680 || c == 0x17b4 ||
	    c == 0x17b5 || (c >= 0x180b && c <= 0x180f) || (c >= 0x2000 && c <= 0x200f) ||
	    (c >= 0x2028 && c <= 0x202f) || (c >= 0x205f && c <= 0x206f) || c == 0x3000 ||
	    c == 0x3164 || (c >= 0xfe00 && c <= 0xfe0f) || c == 0xfeff || c == 0xffa0 ||
	    (c >= 0xe0000 && c <= 0xe0fff);
}

/* The first refused code point of valid UTF-8 s, or 0. */
static uint32_t
first_refused(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		uint32_t c;
		int len = *p < 0x80 ? 1 : *p < 0xE0 ? 2 : *p < 0xF0 ? 3 : 4, k;

		c = len == 1 ? *p : (uint32_t)(*p & (0x7F >> len));
		for (k = 1; k < len; k++)
			c = c << 6 | (p[k] & 0x3F);
		if (refused_cp(c))
			return c == 0 ? 0xFFFFFFFF : c;
		p += len;
	}
	return 0;
}

static bool
dots_fine(const char *addr)
{
	const char *at = strrchr(addr, '@');
	size_t local = (size_t)(at - addr);

	if (at == NULL || local == 0 || addr[0] == '.' || addr[local - 1] == '.')
		return false;
	if (strstr(addr, "..") != NULL)
		return false;           /* two dots in a row, or an empty domain label */
	return at[1] != '.' && addr[strlen(addr) - 1] != '.';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size), *upper = fb_strdup(s), norm[EMAIL_FORM_MAX];
	struct email_identity *id = fb_calloc(2, sizeof(*id));
	fb_err why, why2;
	bool ok;
	size_t i;

	if (email_normalize(s, norm, sizeof(norm)) == 0)
		FUZZ_ASSERT(fuzz_utf8_ok((const unsigned char *)norm, strlen(norm)));
	ok = email_check(s, why);
	if (!ok)
		FUZZ_ASSERT(why[0] != '\0' && memchr(why, '\0', sizeof(why)) != NULL);
	for (i = 0; upper[i]; i++)
		if (upper[i] >= 'a' && upper[i] <= 'z')
			upper[i] = (char)(upper[i] - 'a' + 'A');
	FUZZ_CHECK("email-case", email_check(upper, why2) == ok);
	if (ok && !email_identify(s, &id[0], why)) {
		/* email.h: email_check says whether s may name an account */
		FUZZ_CHECK("email-identify", false);
	} else if (ok) {
		FUZZ_ASSERT(fuzz_utf8_ok((const unsigned char *)id[0].addr, strlen(id[0].addr)));
		FUZZ_CHECK("email-valid", valid_email(id[0].addr));
		FUZZ_CHECK("email-invisible", first_refused(id[0].addr) == 0);
		FUZZ_CHECK("email-dots", dots_fine(id[0].addr));
		FUZZ_CHECK("email-stable", email_identify(id[0].addr, &id[1], why) &&
		    strcmp(id[0].norm, id[1].norm) == 0 && strcmp(id[0].skel, id[1].skel) == 0);
		FUZZ_CHECK("email-canonical", strcmp(id[0].addr, id[1].addr) == 0);
		FUZZ_CHECK("email-same", email_same(s, id[0].addr));
		FUZZ_CHECK("email-clash", email_clash_with(&id[0], s) == EMAIL_CLASH_TAKEN);
	}
	free(id);
	free(upper);
	free(s);
	return 0;
}
