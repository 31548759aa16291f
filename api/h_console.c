/*
 * h_console.c: the web console's files (console.h), at / and
 * /console/<file>. A name is matched whole against the embedded files, so
 * no path can reach anything else.
 */
#include "fb.h"

#include <event2/buffer.h>

#include "console.h"
#include "handlers.h"

static void
console_serve(struct reqctx *rc, const char *name)
{
	const struct console_file *f = console_find(name);
	struct evbuffer *buf;

	console_headers(rc);
	if (f == NULL) {
		reply_problem(rc, 404, "not-found", "the console has no file of that name");
		return;
	}
	buf = evbuffer_new();
	evbuffer_add_reference(buf, f->data, f->len, NULL, NULL);
	reply_text(rc, 200, console_content_type(f->name), buf);
	evbuffer_free(buf);
}

void
h_console_index(struct reqctx *rc)
{
	console_serve(rc, "index.html");
}

void
h_console_file(struct reqctx *rc)
{
	console_serve(rc, req_param(rc, 0));
}
