/*
 * fuzz_router.c: router_match over the real route table (api/routes.c,
 * linked with the real handler objects, which are referenced, never
 * called), for every method bit and for 0, which http_dispatch passes for
 * a method it does not know.
 *
 * Input: one byte choosing the method (low 3 bits: 0 none, 1..7 the
 * method bits), then a request target as a client sends it. The router is
 * given that text as a path, and the path libevent's URI parser takes from
 * it, as http_dispatch does (the router percent-decodes each segment).
 *
 * Properties, against a reference matcher written here from router.h:
 * - the route found (or none), and for none the Allow set, are the
 *   reference's: the path split on '/' first, each segment then
 *   percent-decoded (a bad escape or %00 matches nothing), the first route
 *   whose pattern fits and whose method is the one asked (HEAD also takes
 *   GET routes); Allow is every method the path exists under, plus HEAD
 *   with GET;
 * - a route is never returned for another method ("router-method");
 * - the captures are the decoded segments where the pattern has ':', so
 *   an encoded slash stays inside its capture ("router-captures");
 * - router_allow_header names exactly the Allow bits.
 */
#include "fb.h"

#include <event2/http.h>

#include "routes.h"
#include "router.h"
#include "fuzz.h"

static const unsigned method_of[8] = {
	0, M_GET, M_POST, M_PUT, M_PATCH, M_DELETE, M_HEAD, M_OPTIONS,
};

/* Splits a copy of s on '/' into seg; -1 unless "/", "/a", "/a/b", ... */
static int
ref_split(const char *s, char *buf, size_t buflen, char **seg, int max)
{
	int n = 0;
	char *p, *slash;

	if (s[0] != '/' || strlen(s) >= buflen)
		return -1;
	if (s[1] == '\0')
		return 0;
	strcpy(buf, s + 1);
	for (p = buf; ; p = slash + 1) {
		slash = strchr(p, '/');
		if (slash != NULL)
			*slash = '\0';
		if (*p == '\0' || n == max)
			return -1;
		seg[n++] = p;
		if (slash == NULL)
			return n;
	}
}

/* Percent-decodes s in place: every '%' needs two hex digits, %00 is refused. */
static bool
ref_decode(char *s)
{
	static const char hex[] = "0123456789abcdef0123456789ABCDEF";
	char *out = s;
	const char *hi, *lo;

	while (*s) {
		if (*s != '%') {
			*out++ = *s++;
			continue;
		}
		hi = s[1] ? strchr(hex, s[1]) : NULL;
		lo = hi && s[2] ? strchr(hex, s[2]) : NULL;
		if (hi == NULL || lo == NULL)
			return false;
		*out = (char)(((hi - hex) % 16) * 16 + (lo - hex) % 16);
		if (*out == '\0')
			return false;
		out++;
		s += 3;
	}
	*out = '\0';
	return true;
}

/*
 * The path's segments as router.h describes them: split on '/' first, then
 * each percent-decoded, so that %2F never separates segments. -1 for a
 * path the router must refuse.
 */
static int
ref_segments(const char *path, char *buf, size_t buflen, char **seg)
{
	int n = ref_split(path, buf, buflen, seg, ROUTER_MAX_SEGMENTS), i;

	for (i = 0; i < n; i++)
		if (!ref_decode(seg[i]))
			return -1;
	return n;
}

static bool
ref_fits(const char *pattern, char **seg, int nseg)
{
	char buf[256], *pseg[ROUTER_MAX_SEGMENTS + 1];
	int i, np, params = 0;

	np = ref_split(pattern, buf, sizeof(buf), pseg, ROUTER_MAX_SEGMENTS + 1);
	FUZZ_ASSERT(np >= 0);
	if (np != nseg)
		return false;
	for (i = 0; i < np; i++) {
		if (pseg[i][0] == ':')
			params++;
		else if (strcmp(pseg[i], seg[i]) != 0)
			return false;
	}
	return params <= ROUTER_MAX_PARAMS;
}

/* Whether the captures are the decoded segments where pattern has ':'. */
static bool
captures_fit(const char *pattern, char *const *params, int nparams, char **seg, int nseg)
{
	char buf[256], *pseg[ROUTER_MAX_SEGMENTS + 1];
	int i, np, k = 0;

	np = ref_split(pattern, buf, sizeof(buf), pseg, ROUTER_MAX_SEGMENTS + 1);
	if (np != nseg)
		return false;
	for (i = 0; i < np; i++)
		if (pseg[i][0] == ':' && (k >= nparams || strcmp(params[k++], seg[i]) != 0))
			return false;
	return k == nparams;
}

static void
check_allow_header(unsigned allow)
{
	static const struct { unsigned bit; const char *name; } names[] = {
		{ M_GET, "GET" }, { M_HEAD, "HEAD" }, { M_POST, "POST" }, { M_PUT, "PUT" },
		{ M_PATCH, "PATCH" }, { M_DELETE, "DELETE" }, { M_OPTIONS, "OPTIONS" },
	};
	char out[64], *tok, *save = NULL;
	unsigned seen = 0;
	size_t i;

	router_allow_header(allow, out, sizeof(out));
	FUZZ_ASSERT(memchr(out, '\0', sizeof(out)) != NULL);
	for (tok = strtok_r(out, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		for (i = 0; i < FB_ARRAY_LEN(names); i++)
			if (strcmp(tok, names[i].name) == 0)
				break;
		FUZZ_ASSERT(i < FB_ARRAY_LEN(names) && !(seen & names[i].bit));
		seen |= names[i].bit;
	}
	FUZZ_ASSERT(seen == allow);
}

static void
check_match(unsigned method, const char *path)
{
	char *work = fb_strdup(path), buf[1024], *seg[ROUTER_MAX_SEGMENTS];
	struct route_match m;
	unsigned ref_allow = 0;
	int i, rc, nseg, ref_index = -1, params;
	bool comparable = strlen(path) < sizeof(buf);

	rc = router_match(routes, nroutes, method, work, &m);
	nseg = ref_segments(path, buf, sizeof(buf), seg);
	for (i = 0; nseg >= 0 && i < nroutes; i++) {
		if (!ref_fits(routes[i].pattern, seg, nseg))
			continue;
		if (routes[i].method == method || (method == M_HEAD && routes[i].method == M_GET)) {
			ref_index = i;
			break;
		}
		ref_allow |= routes[i].method;
	}
	if (ref_allow & M_GET)
		ref_allow |= M_HEAD;

	if (comparable) {
		FUZZ_CHECK("router-reference", (rc == 0) == (ref_index >= 0));
		FUZZ_CHECK("router-reference", m.index == ref_index);
		if (rc != 0)
			FUZZ_CHECK("router-allow", m.allow == ref_allow);
	}
	if (rc == 0) {
		const struct route *r = &routes[m.index];

		FUZZ_ASSERT(m.index >= 0 && m.index < nroutes);
		FUZZ_CHECK("router-method", r->method == method ||
		    (method == M_HEAD && r->method == M_GET));
		for (params = 0, i = 0; r->pattern[i]; i++)
			params += r->pattern[i] == ':';
		FUZZ_ASSERT(m.nparams == params && m.nparams <= ROUTER_MAX_PARAMS);
		for (i = 0; i < m.nparams; i++)
			FUZZ_ASSERT(m.params[i] != NULL && *m.params[i] != '\0');
		/* an encoded slash stays in its segment (issue 10, item 8) */
		if (comparable)
			FUZZ_CHECK("router-captures",
			    captures_fit(r->pattern, m.params, m.nparams, seg, nseg));
	} else {
		FUZZ_ASSERT(m.index == -1);
		check_allow_header(m.allow);
	}
	free(work);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evhttp_uri *uri;
	const char *raw_path;
	char *target;
	unsigned method;

	if (size < 1)
		return 0;
	method = method_of[data[0] & 7];
	target = fuzz_cstr(data + 1, size - 1);

	/* the path exactly as given, as a unit test would call the router */
	check_match(method, target);

	/* the path as http_dispatch takes it from a request target */
	uri = evhttp_uri_parse_with_flags(target, EVHTTP_URI_NONCONFORMANT);
	if (uri != NULL) {
		raw_path = evhttp_uri_get_path(uri);
		if (raw_path == NULL || *raw_path == '\0')
			raw_path = "/";
		check_match(method, raw_path);
		evhttp_uri_free(uri);
	}
	free(target);
	return 0;
}
