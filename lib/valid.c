#include "fb.h"

#include <ctype.h>
#include <time.h>

#include "valid.h"
#include "vocab.h"

bool
valid_email(const char *s)
{
	const char *at = strchr(s, '@');
	size_t n = strlen(s);
	const unsigned char *p;

	if (n < 3 || n > 254 || at == NULL || at == s || at[1] == '\0' ||
	    strchr(at + 1, '@') != NULL)
		return false;
	for (p = (const unsigned char *)s; *p; p++)
		if (*p <= 0x20 || *p == 0x7f || *p == '<' || *p == '>' || *p == ',' ||
		    *p == ';' || *p == '"' || *p == '\\')
			return false;
	return strchr(at + 1, '.') == NULL ? strcmp(at + 1, "localhost") == 0 : true;
}

void
valid_lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

static bool
digits(const char *s, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static int
days_in_month(int year, int mon)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return mon == 2 && leap ? 29 : days[mon - 1];
}

bool
valid_rfc3339(const char *s)
{
	int year, mon, day, hh, mm, ss;

	/* 2026-11-25T10:00:00[.frac](Z|+01:00) */
	if (strlen(s) < 20 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) ||
	    s[7] != '-' || !digits(s + 8, 2) || (s[10] != 'T' && s[10] != 't') ||
	    !digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2) || s[16] != ':' ||
	    !digits(s + 17, 2))
		return false;
	year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + s[3] - '0';
	mon = (s[5] - '0') * 10 + s[6] - '0';
	day = (s[8] - '0') * 10 + s[9] - '0';
	hh = (s[11] - '0') * 10 + s[12] - '0';
	mm = (s[14] - '0') * 10 + s[15] - '0';
	ss = (s[17] - '0') * 10 + s[18] - '0';
	if (year < 1 || mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) ||
	    hh > 23 || mm > 59 || ss > 60)
		return false;
	s += 19;
	if (*s == '.') {
		/* 1 to 6 digits: PostgreSQL keeps microseconds and would round more */
		int n = 0;

		for (s++; isdigit((unsigned char)*s); s++)
			n++;
		if (n < 1 || n > 6)
			return false;
	}
	if ((*s == 'Z' || *s == 'z') && s[1] == '\0')
		return true;
	/* offsets PostgreSQL accepts: up to 15:59 */
	return (*s == '+' || *s == '-') && digits(s + 1, 2) && s[3] == ':' &&
	    digits(s + 4, 2) && s[6] == '\0' &&
	    (s[1] - '0') * 10 + s[2] - '0' <= 15 && s[4] <= '5';
}

static int
num(const char *s, int n)
{
	int v = 0;

	while (n-- > 0)
		v = v * 10 + (*s++ - '0');
	return v;
}

int
valid_rfc3339_us(const char *s, int64_t *us)
{
	struct tm tm;
	int64_t frac = 0, scale = 100000, off = 0;
	const char *p;

	if (!valid_rfc3339(s))
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = num(s, 4) - 1900;
	tm.tm_mon = num(s + 5, 2) - 1;
	tm.tm_mday = num(s + 8, 2);
	tm.tm_hour = num(s + 11, 2);
	tm.tm_min = num(s + 14, 2);
	tm.tm_sec = num(s + 17, 2);
	p = s + 19;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++, scale /= 10)
			frac += (*p - '0') * scale;
	if (*p == '+' || *p == '-')
		off = (num(p + 1, 2) * 3600 + num(p + 4, 2) * 60) * (*p == '-' ? -1 : 1);
	*us = ((int64_t)timegm(&tm) - off) * 1000000 + frac;
	return 0;
}

bool
valid_role(const char *s)
{
	return vocab_role_index(s) >= 0;
}

static bool
lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool
valid_slug(const char *s)
{
	size_t n = strlen(s), i;

	if (n < 3 || n > 64 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] == '-' && s[i + 1] == '-')
			return false;
		if (s[i] != '-' && !lower_alnum(s[i]))
			return false;
	}
	return true;
}

bool
valid_key(const char *s)
{
	size_t n = strlen(s), i;

	if (n < 1 || n > 64 || !lower_alnum(s[0]))
		return false;
	for (i = 1; i < n; i++)
		if (!lower_alnum(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
			return false;
	return true;
}
