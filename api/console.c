/*
 * console.c: serving the web console's embedded files.
 */
#include "fb.h"

#include "console.h"
#include "request.h"

/*
 * Scripts and styles from this origin only, no inline code; the API on the
 * same origin; media from the artists' own hosts (a reviewer plays the
 * submitted video), nothing else; never framed.
 */
#define CONSOLE_CSP \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;" \
	" media-src https: http:; connect-src 'self'; form-action 'self'; base-uri 'none';" \
	" frame-ancestors 'none'"

static const struct {
	const char *ext;
	const char *type;
} types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".js",   "text/javascript; charset=utf-8" },
	{ ".css",  "text/css; charset=utf-8" },
	{ ".svg",  "image/svg+xml" },
	{ ".json", "application/json" },
	{ ".txt",  "text/plain; charset=utf-8" },
};

const struct console_file *
console_find(const char *name)
{
	const struct console_file *f;

	for (f = console_files; f->name != NULL; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

const char *
console_content_type(const char *name)
{
	size_t i, n = strlen(name), e;

	for (i = 0; i < FB_ARRAY_LEN(types); i++) {
		e = strlen(types[i].ext);
		if (n > e && strcmp(name + n - e, types[i].ext) == 0)
			return types[i].type;
	}
	return "application/octet-stream";
}

void
console_headers(struct reqctx *rc)
{
	req_set_header(rc, "Content-Security-Policy", CONSOLE_CSP);
	req_set_header(rc, "X-Content-Type-Options", "nosniff");
	req_set_header(rc, "Referrer-Policy", "no-referrer");
	req_set_header(rc, "X-Frame-Options", "DENY");
	req_set_header(rc, "Cache-Control", "no-cache");
}
