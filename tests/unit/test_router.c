/* api/router: literal vs capture, 404 vs 405, HEAD, malformed paths, and
 * paths split before they are decoded (issue 10). */
#include "fb.h"

#include "router.h"
#include "unit.h"

static void h(struct reqctx *rc) { FB_UNUSED(rc); }

static const struct route table[] = {
	{ M_GET,    "/healthz",              ROLE_ANYONE, 0, h, NULL, SCOPE_OWN },
	{ M_DELETE, "/v1/sessions/current",  ROLE_ANY,    0, h, NULL, SCOPE_OWN },
	{ M_GET,    "/v1/items/:id",         ROLE_ANY,    0, h, NULL, SCOPE_OWN },
	{ M_PATCH,  "/v1/items/:id",         ROLE_ADMIN,  0, h, NULL, SCOPE_OWN },
	{ M_POST,   "/v1/items/:id/sub/:sid", ROLE_ADMIN, 0, h, NULL, SCOPE_OWN },
};

static int
match(unsigned method, const char *path, struct route_match *m)
{
	static char buf[256];    /* the captures point into it after the return */

	snprintf(buf, sizeof(buf), "%s", path);
	return router_match(table, (int)FB_ARRAY_LEN(table), method, buf, m);
}

void
suite_router(void)
{
	struct route_match m;
	char allow[64];

	CHECK(match(M_GET, "/healthz", &m) == 0 && m.index == 0);
	CHECK(match(M_HEAD, "/healthz", &m) == 0 && m.index == 0);

	CHECK(match(M_GET, "/v1/items/abc", &m) == 0 && m.index == 2);
	CHECK(m.nparams == 1 && strcmp(m.params[0], "abc") == 0);
	CHECK(match(M_POST, "/v1/items/a/sub/b", &m) == 0 && m.index == 4);
	CHECK(m.nparams == 2 && strcmp(m.params[1], "b") == 0);

	/* 405: the path exists under other methods, and Allow names them */
	CHECK(match(M_PUT, "/v1/items/abc", &m) == -1 && m.allow == (M_GET | M_PATCH | M_HEAD));
	router_allow_header(m.allow, allow, sizeof(allow));
	CHECK_STR(allow, "GET, HEAD, PATCH");

	/* 404: nothing there at all */
	CHECK(match(M_GET, "/v1/nothing", &m) == -1 && m.allow == 0);
	CHECK(match(M_GET, "/v1/items", &m) == -1 && m.allow == 0);
	CHECK(match(M_GET, "/v1/items/abc/extra", &m) == -1 && m.allow == 0);
	CHECK(match(M_GET, "/healthz/", &m) == -1);
	CHECK(match(M_GET, "//healthz", &m) == -1);
	CHECK(match(M_GET, "healthz", &m) == -1);
	CHECK(match(M_GET, "/", &m) == -1 && m.allow == 0);
	CHECK(match(M_GET, "/a/b/c/d/e/f/g/h/i/j/k/l/m/n", &m) == -1);

	CHECK(router_role_bit("finance") == ROLE_FINANCE);
	CHECK(router_role_bit("root") == 0);
}

/* Issue 10: an escape never makes or hides a segment separator. */
static const struct route escape_table[] = {
	{ M_GET, "/v1/me",        ROLE_ANY, 0, h, NULL, SCOPE_OWN },
	{ M_GET, "/v1/items/:id", ROLE_ANY, 0, h, NULL, SCOPE_OWN },
};

static int
match_get(const char *path, struct route_match *m)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%s", path);
	return router_match(escape_table, (int)FB_ARRAY_LEN(escape_table), M_GET, buf, m);
}

void
suite_router_escapes(void)
{
	struct route_match m;

	/* an encoded slash stays inside its segment */
	CHECK(match_get("/v1%2Fme", &m) == -1 && m.allow == 0);
	CHECK(match_get("/v1%2fme", &m) == -1);
	CHECK(match_get("/v1/items/a%2Fb", &m) == 0 && m.index == 1 &&
	    strcmp(m.params[0], "a/b") == 0);
	/* an encoded letter names its segment; bad escapes and NUL name nothing */
	CHECK(match_get("/v1/m%65", &m) == 0 && m.index == 0);
	CHECK(match_get("/v1/items/%41%42", &m) == 0 && strcmp(m.params[0], "AB") == 0);
	CHECK(match_get("/v1/me%00", &m) == -1);
	CHECK(match_get("/v1/items/%0", &m) == -1);
	CHECK(match_get("/v1/items/%zz", &m) == -1);
	CHECK(match_get("/v1/items/a%", &m) == -1);
	CHECK(match_get("/v1/./me", &m) == -1);
}
