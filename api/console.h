/*
 * console.h: the web console, files embedded in fairbeta-api at build time
 * (tools/embed.c from console/), served at / and /console/<file> with the
 * headers that keep a browser strict: a Content-Security-Policy that allows
 * only this origin's scripts and styles, no framing, no sniffing, no
 * referrer.
 */
#ifndef FB_CONSOLE_H
#define FB_CONSOLE_H

#include <stddef.h>

struct reqctx;

struct console_file {
	const char *name;        /* base name: "app.js" */
	const char *data;
	size_t len;
};

/* Every file of console/, ended by a NULL name (build/gen/console.c). */
extern const struct console_file console_files[];

/* The file of that base name, or NULL. */
const struct console_file *console_find(const char *name);

/* The Content-Type a file is served with, from its extension. */
const char *console_content_type(const char *name);

/* The security headers of every console response, added to rc's reply. */
void console_headers(struct reqctx *rc);

#endif
