#include "fb.h"

#include "router.h"
#include "vocab.h"

static const struct {
	unsigned bit;
	const char *name;
} method_names[] = {
	{ M_GET, "GET" }, { M_HEAD, "HEAD" }, { M_POST, "POST" }, { M_PUT, "PUT" },
	{ M_PATCH, "PATCH" }, { M_DELETE, "DELETE" }, { M_OPTIONS, "OPTIONS" },
};

const char *
router_method_name(unsigned method)
{
	size_t i;

	for (i = 0; i < FB_ARRAY_LEN(method_names); i++)
		if (method_names[i].bit == method)
			return method_names[i].name;
	return "?";
}

void
router_allow_header(unsigned allow, char *out, size_t outlen)
{
	size_t i, used = 0;

	out[0] = '\0';
	for (i = 0; i < FB_ARRAY_LEN(method_names) && used < outlen; i++)
		if (allow & method_names[i].bit)
			used += (size_t)snprintf(out + used, outlen - used, "%s%s",
			    used ? ", " : "", method_names[i].name);
}

unsigned
router_role_bit(const char *role)
{
	int i = vocab_role_index(role);

	return i < 0 ? 0 : 1u << i;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decodes one segment in place. A segment is decoded only after the
 * path is split, so an encoded slash (%2F) stays inside its segment and can
 * never make a route. Bad escapes and %00 are refused.
 */
static bool
decode_segment(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (*s != '%') {
			*out++ = *s;
			continue;
		}
		if (hexval(s[1]) < 0 || hexval(s[2]) < 0 || (s[1] == '0' && s[2] == '0'))
			return false;
		*out++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
		s += 2;
	}
	*out = '\0';
	return true;
}

/*
 * Splits "/a/b/c" into segments, in place, then decodes each. Returns the
 * count or -1.
 */
static int
split(char *path, char **seg, int max)
{
	int n = 0;
	char *p = path;

	if (*p != '/')
		return -1;
	while (*p == '/') {
		*p++ = '\0';
		if (*p == '\0' && n > 0)
			return -1;          /* a trailing slash names nothing */
		if (n == max)
			return -1;
		seg[n++] = p;
		while (*p && *p != '/')
			p++;
	}
	if (n == 1 && *seg[0] == '\0')
		n = 0;                  /* "/" */
	for (int i = 0; i < n; i++)
		if (*seg[i] == '\0' || !decode_segment(seg[i]))
			return -1;          /* "//", or a bad escape */
	return n;
}

/* Does one pattern match these segments? Captures go to m when it does. */
static bool
pattern_matches(const char *pattern, char **seg, int nseg, struct route_match *m)
{
	const char *p = pattern;
	int i = 0, np = 0;

	while (*p == '/') {
		const char *end;
		size_t len;

		p++;
		end = strchr(p, '/');
		len = end ? (size_t)(end - p) : strlen(p);
		if (len == 0 && i == 0 && !end)
			break;          /* pattern "/" */
		if (i >= nseg)
			return false;
		if (*p == ':') {
			if (np == ROUTER_MAX_PARAMS)
				return false;
			if (m)
				m->params[np] = seg[i];
			np++;
		} else if (strlen(seg[i]) != len || strncmp(seg[i], p, len) != 0) {
			return false;
		}
		i++;
		p += len;
	}
	if (i != nseg)
		return false;
	if (m)
		m->nparams = np;
	return true;
}

int
router_match(const struct route *table, int n, unsigned method, char *path,
    struct route_match *m)
{
	char *seg[ROUTER_MAX_SEGMENTS];
	int nseg, i;

	memset(m, 0, sizeof(*m));
	m->index = -1;
	nseg = split(path, seg, ROUTER_MAX_SEGMENTS);
	if (nseg < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (!pattern_matches(table[i].pattern, seg, nseg, NULL))
			continue;
		if (table[i].method == method ||
		    (method == M_HEAD && table[i].method == M_GET)) {
			pattern_matches(table[i].pattern, seg, nseg, m);
			m->index = i;
			return 0;
		}
		m->allow |= table[i].method;
	}
	if (m->allow & M_GET)
		m->allow |= M_HEAD;
	return -1;
}
