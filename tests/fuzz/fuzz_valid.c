/*
 * fuzz_valid.c: the format validators of lib/valid.c on any string.
 *
 * Each validator is compared with a reference written here from its
 * documented grammar (valid.h, RFC 3339), in both directions:
 * - valid_rfc3339 agrees with the RFC 3339 grammar (year >= 1, real
 *   calendar dates, seconds up to 60, offsets up to 15:59);
 * - valid_rfc3339_us succeeds exactly when valid_rfc3339 does, and gives
 *   the microseconds a days-from-civil computation gives (1 to 6
 *   fractional digits: a seventh would be rounded by PostgreSQL);
 * - valid_slug and valid_key agree with their grammars;
 * - valid_email accepts only what valid.h promises (one '@', non-empty
 *   parts, 3..254 bytes, no spaces, controls or <>,;"\, a dotted domain or
 *   localhost); callers lower-case first, so "a@LOCALHOST" may be refused
 *   (the account rules are lib/email.c's, fuzzed by fuzz_email.c);
 * - valid_lower lowers exactly the ASCII capitals.
 */
#include "fb.h"

#include "valid.h"
#include "fuzz.h"

static bool
ref_digits(const char *s, int n, int *out)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
ref_days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool
ref_rfc3339(const char *s, int64_t *us)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0, dim, digits = 0;
	int64_t frac = 0;
	const char *p;

	if (!ref_digits(s, 4, &y) || s[4] != '-' || !ref_digits(s + 5, 2, &mo) ||
	    s[7] != '-' || !ref_digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
	    !ref_digits(s + 11, 2, &h) || s[13] != ':' || !ref_digits(s + 14, 2, &mi) ||
	    s[16] != ':' || !ref_digits(s + 17, 2, &sec))
		return false;
	p = s + 19;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 6)
				frac = frac * 10 + (*p - '0');
		if (digits == 0 || digits > 6)   /* microseconds at most, as PostgreSQL keeps */
			return false;
		for (; digits < 6; digits++)
			frac *= 10;
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
		sign = 0;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		if (!ref_digits(p + 1, 2, &oh) || p[3] != ':' || !ref_digits(p + 4, 2, &om) ||
		    p[6] != '\0' || oh > 15 || om > 59)
			return false;
	} else {
		return false;
	}
	if (y < 1 || mo < 1 || mo > 12)
		return false;
	dim = mdays[mo - 1];
	if (mo == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		dim = 29;
	if (d < 1 || d > dim || h > 23 || mi > 59 || sec > 60)
		return false;
	*us = ((ref_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) -
	    sign * (oh * 3600 + om * 60)) * 1000000 + frac;
	return true;
}

static bool
ref_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* 3..64 of a-z, 0-9 and single inner dashes */
static bool
ref_slug(const char *s)
{
	size_t n = strlen(s), i;

	if (n < 3 || n > 64)
		return false;
	for (i = 0; i < n; i++) {
		if (ref_lower_alnum(s[i]))
			continue;
		if (s[i] != '-' || i == 0 || i == n - 1 || s[i - 1] == '-')
			return false;
	}
	return true;
}

/* 1..64 of a-z, 0-9, '_', '.', '-', starting alphanumeric */
static bool
ref_key(const char *s)
{
	size_t n = strlen(s), i;

	if (n < 1 || n > 64 || !ref_lower_alnum(s[0]))
		return false;
	for (i = 1; i < n; i++)
		if (!ref_lower_alnum(s[i]) && !strchr("_.-", s[i]))
			return false;
	return true;
}

/* What valid.h promises of an accepted address (necessary conditions). */
static bool
email_promises(const char *s)
{
	const char *at = strchr(s, '@'), *domain;
	size_t n = strlen(s);
	const unsigned char *p;

	if (n < 3 || n > 254 || at == NULL || at == s || strchr(at + 1, '@') != NULL)
		return false;
	domain = at + 1;
	if (*domain == '\0')
		return false;
	for (p = (const unsigned char *)s; *p; p++)
		if (*p <= 0x20 || *p == 0x7f || strchr("<>,;\"\\", *p) != NULL)
			return false;
	return strchr(domain, '.') != NULL || strcmp(domain, "localhost") == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size), *lower = fb_strdup(s);
	int64_t us = 0, ref_us = 0;
	bool ok, ref_ok;
	size_t i;

	/* RFC 3339 */
	ok = valid_rfc3339(s);
	ref_ok = ref_rfc3339(s, &ref_us);
	FUZZ_CHECK("rfc3339-grammar", ok == ref_ok);
	FUZZ_CHECK("rfc3339-us-agrees", (valid_rfc3339_us(s, &us) == 0) == ok);
	if (ok && ref_ok)
		FUZZ_CHECK("rfc3339-us-value", us == ref_us);

	/* slugs and clause keys */
	FUZZ_CHECK("slug-grammar", valid_slug(s) == ref_slug(s));
	FUZZ_CHECK("key-grammar", valid_key(s) == ref_key(s));

	/* lower-casing: ASCII capitals only, nothing else touched */
	valid_lower(lower);
	for (i = 0; s[i]; i++)
		FUZZ_ASSERT(lower[i] == ((s[i] >= 'A' && s[i] <= 'Z') ? s[i] - 'A' + 'a' : s[i]));
	FUZZ_ASSERT(lower[i] == '\0');

	/* email */
	ok = valid_email(s);
	if (ok)
		FUZZ_CHECK("email-promises", email_promises(s));

	free(lower);
	free(s);
	return 0;
}
