/*
 * email.c: email addresses as account identities, with ICU's C API.
 *
 * Strings are converted to UTF-16 (ICU's native form) into fixed buffers:
 * an accepted address is at most 254 bytes, and EMAIL_FORM_MAX leaves room
 * for NFKC's expansions; anything longer is refused, never truncated.
 */
#include "fb.h"

#include <pthread.h>

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uspoof.h>
#include <unicode/ustring.h>

#include "email.h"
#include "valid.h"

#define EMAIL_MAX_BYTES 254

static pthread_once_t icu_once = PTHREAD_ONCE_INIT;
static USpoofChecker *spoof;
static const UNormalizer2 *nfkc, *nfkc_cf;

/* ICU's data is part of the installation: without it nothing is safe. */
static void
icu_init(void)
{
	UErrorCode err = U_ZERO_ERROR;

	nfkc = unorm2_getNFKCInstance(&err);
	nfkc_cf = unorm2_getNFKCCasefoldInstance(&err);
	spoof = uspoof_open(&err);
	uspoof_setChecks(spoof, USPOOF_RESTRICTION_LEVEL | USPOOF_INVISIBLE |
	    USPOOF_MIXED_NUMBERS, &err);
	uspoof_setRestrictionLevel(spoof, USPOOF_HIGHLY_RESTRICTIVE);
	if (U_FAILURE(err))
		fb_fatal("email: ICU cannot start: %s", u_errorName(err));
}

static void
icu(void)
{
	pthread_once(&icu_once, icu_init);
}

/* UTF-8 to UTF-16; -1 when ill-formed or longer than cap code units. */
static int32_t
to_u16(const char *s, UChar *out, int32_t cap)
{
	UErrorCode err = U_ZERO_ERROR;
	int32_t n;

	u_strFromUTF8(out, cap, &n, s, -1, &err);
	return U_FAILURE(err) || err == U_STRING_NOT_TERMINATED_WARNING ? -1 : n;
}

static int
to_utf8(const UChar *s, int32_t n, char *out, size_t outlen)
{
	UErrorCode err = U_ZERO_ERROR;
	int32_t len;

	if (outlen > INT32_MAX)
		outlen = INT32_MAX;
	u_strToUTF8(out, (int32_t)outlen, &len, s, n, &err);
	return U_FAILURE(err) || err == U_STRING_NOT_TERMINATED_WARNING ? -1 : 0;
}

/* What no one can see or tell apart in an address; NULL when c is fine. */
static const char *
char_refusal(UChar32 c)
{
	int8_t type = u_charType(c);

	if (type == U_CONTROL_CHAR)
		return "contains a control character";
	if (type == U_FORMAT_CHAR || u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT))
		return "contains an invisible or formatting character";
	if (u_isUWhiteSpace(c) || type == U_SPACE_SEPARATOR || type == U_LINE_SEPARATOR ||
	    type == U_PARAGRAPH_SEPARATOR)
		return "contains a space or line break";
	if (type == U_UNASSIGNED || type == U_PRIVATE_USE_CHAR || type == U_SURROGATE)
		return "contains an unassigned or private-use character";
	return NULL;
}

static bool
chars_ok(const UChar *s, int32_t n, fb_err why)
{
	int32_t i = 0;
	UChar32 c;

	while (i < n) {
		const char *r;

		U16_NEXT(s, i, n, c);
		if ((r = char_refusal(c)) != NULL) {
			snprintf(why, FB_ERRLEN, "%s (U+%04X)", r, (unsigned)c);
			return false;
		}
	}
	return true;
}

/* Dots: none at either end of the local part or domain, never two in a row. */
static bool
dots_ok(const char *addr, fb_err why)
{
	const char *at = strchr(addr, '@'), *end = addr + strlen(addr);

	if (addr[0] == '.' || at[-1] == '.' || memmem(addr, (size_t)(at - addr), "..", 2)) {
		snprintf(why, FB_ERRLEN, "must not have a dot at the start or end of the part"
		    " before the @, or two dots in a row");
		return false;
	}
	if (end[-1] == '.') {
		snprintf(why, FB_ERRLEN, "must not end with a dot");
		return false;
	}
	if (at[1] == '.' || strstr(at, "..") != NULL) {
		snprintf(why, FB_ERRLEN, "has an empty label in the domain (a dot right after"
		    " the @, or two dots in a row)");
		return false;
	}
	return true;
}

/*
 * UTS #39 per label (the dot-separated pieces on either side of the @), so
 * a Cyrillic local part may sit before a Latin domain but "pаypal" (with a
 * Cyrillic а) may not.
 */
static bool
labels_ok(const UChar *s, int32_t n, fb_err why)
{
	int32_t start = 0, i;

	for (i = 0; i <= n; i++) {
		UErrorCode err = U_ZERO_ERROR;
		int32_t bad;

		if (i < n && s[i] != '.' && s[i] != '@')
			continue;
		if (i > start) {
			bad = uspoof_check2(spoof, s + start, i - start, NULL, &err);
			if (U_FAILURE(err)) {
				snprintf(why, FB_ERRLEN, "cannot be checked (%s)", u_errorName(err));
				return false;
			}
			if (bad & USPOOF_RESTRICTION_LEVEL) {
				snprintf(why, FB_ERRLEN, "mixes letters of different scripts (such as"
				    " Latin and Cyrillic) in one part");
				return false;
			}
			if (bad & USPOOF_INVISIBLE) {
				snprintf(why, FB_ERRLEN, "repeats a combining mark");
				return false;
			}
			if (bad & USPOOF_MIXED_NUMBERS) {
				snprintf(why, FB_ERRLEN, "mixes digits of different numbering systems");
				return false;
			}
		}
		start = i + 1;
	}
	return true;
}

/*
 * The stored form: NFKC, lower-cased (ICU's root locale), and NFKC again,
 * because lower-casing can undo a composition ("J\u030C" lowers to a
 * decomposed j-caron): the stored spelling must not depend on the typing.
 */
static int32_t
stored_form(const UChar *in, int32_t n, UChar *out, int32_t cap)
{
	UChar tmp[EMAIL_FORM_MAX], low[EMAIL_FORM_MAX];
	UErrorCode err = U_ZERO_ERROR;
	int32_t m;

	m = unorm2_normalize(nfkc, in, n, tmp, EMAIL_FORM_MAX, &err);
	if (U_FAILURE(err) || m >= EMAIL_FORM_MAX)
		return -1;
	m = u_strToLower(low, EMAIL_FORM_MAX, tmp, m, "", &err);
	if (U_FAILURE(err) || m >= EMAIL_FORM_MAX)
		return -1;
	m = unorm2_normalize(nfkc, low, m, out, cap, &err);
	return U_FAILURE(err) || m >= cap ? -1 : m;
}

static bool
check(const char *s, char addr[EMAIL_FORM_MAX], fb_err why)
{
	UChar raw[EMAIL_FORM_MAX], form[EMAIL_FORM_MAX];
	int32_t n, m;

	icu();
	if (strlen(s) > EMAIL_MAX_BYTES) {
		snprintf(why, FB_ERRLEN, "must be at most %d bytes", EMAIL_MAX_BYTES);
		return false;
	}
	if ((n = to_u16(s, raw, EMAIL_FORM_MAX)) < 0) {
		snprintf(why, FB_ERRLEN, "is not valid UTF-8");
		return false;
	}
	if (!chars_ok(raw, n, why))
		return false;
	/* NFKC may make a dot, an @ or a space of something else: check its form too */
	if ((m = stored_form(raw, n, form, EMAIL_FORM_MAX)) < 0 ||
	    to_utf8(form, m, addr, EMAIL_FORM_MAX) != 0 || strlen(addr) > EMAIL_MAX_BYTES) {
		snprintf(why, FB_ERRLEN, "is longer than %d bytes once normalized", EMAIL_MAX_BYTES);
		return false;
	}
	if (!chars_ok(form, m, why))
		return false;
	if (!valid_email(addr)) {
		snprintf(why, FB_ERRLEN, "is not an email address");
		return false;
	}
	return dots_ok(addr, why) && labels_ok(form, m, why);
}

/* The same verdict as email_identify(), forms included (one may overflow). */
bool
email_check(const char *s, fb_err why)
{
	struct email_identity id;

	return email_identify(s, &id, why);
}

int
email_normalize(const char *s, char *out, size_t outlen)
{
	UChar in[EMAIL_FORM_MAX], norm[EMAIL_FORM_MAX];
	UErrorCode err = U_ZERO_ERROR;
	int32_t n, m;

	icu();
	if ((n = to_u16(s, in, EMAIL_FORM_MAX)) < 0)
		return -1;
	m = unorm2_normalize(nfkc_cf, in, n, norm, EMAIL_FORM_MAX, &err);
	if (U_FAILURE(err) || m >= EMAIL_FORM_MAX)
		return -1;
	return to_utf8(norm, m, out, outlen);
}

int
email_skeleton(const char *norm, char *out, size_t outlen)
{
	UErrorCode err = U_ZERO_ERROR;
	int32_t n;

	icu();
	if (outlen > INT32_MAX)
		outlen = INT32_MAX;
	n = uspoof_getSkeletonUTF8(spoof, 0, norm, -1, out, (int32_t)outlen, &err);
	if (U_FAILURE(err) || n >= (int32_t)outlen) {
		if (outlen > 0)
			out[0] = '\0';    /* ICU leaves an overflowed buffer unterminated */
		return -1;
	}
	return 0;
}

bool
email_identify(const char *s, struct email_identity *id, fb_err why)
{
	if (!check(s, id->addr, why))
		return false;
	/* from the stored form, as `fairbeta migrate` does for older accounts */
	if (email_normalize(id->addr, id->norm, sizeof(id->norm)) != 0 ||
	    email_skeleton(id->norm, id->skel, sizeof(id->skel)) != 0) {
		snprintf(why, FB_ERRLEN, "is too long once normalized");
		return false;
	}
	return true;
}

bool
email_same(const char *a, const char *b)
{
	char na[EMAIL_FORM_MAX], nb[EMAIL_FORM_MAX];

	if (a == NULL || b == NULL)
		return false;
	if (email_normalize(a, na, sizeof(na)) != 0 || email_normalize(b, nb, sizeof(nb)) != 0)
		return strcmp(a, b) == 0;
	return strcmp(na, nb) == 0;
}

enum email_clash
email_clash_with(const struct email_identity *id, const char *other)
{
	char norm[EMAIL_FORM_MAX], skel[EMAIL_FORM_MAX];

	if (strcmp(other, id->addr) == 0)
		return EMAIL_CLASH_TAKEN;
	if (email_normalize(other, norm, sizeof(norm)) != 0)
		return EMAIL_CLASH_NONE;
	if (strcmp(norm, id->norm) == 0)
		return EMAIL_CLASH_TAKEN;
	if (email_skeleton(norm, skel, sizeof(skel)) == 0 && strcmp(skel, id->skel) == 0)
		return EMAIL_CLASH_CONFUSABLE;
	return EMAIL_CLASH_NONE;
}

enum email_clash
email_clash_rows(const struct email_identity *id, const PGresult *res, int col)
{
	enum email_clash worst = EMAIL_CLASH_NONE, c;
	int row;

	for (row = 0; row < PQntuples(res) && worst != EMAIL_CLASH_TAKEN; row++)
		if (!PQgetisnull(res, row, col) &&
		    (c = email_clash_with(id, PQgetvalue(res, row, col))) > worst)
			worst = c;
	return worst;
}
