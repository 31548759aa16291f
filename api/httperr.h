/*
 * httperr.h: libevent's own error answers, as problem+json.
 *
 * evhttp answers some requests before fairbeta sees them: a request line or
 * header block it cannot parse (400), headers or a body over its limits
 * (413), an Expect it does not know (417). libevent 2.1 (Debian 12's) has no
 * hook for these pages (evhttp_set_errorcb arrived in 2.2): it builds an HTML
 * page in evhttp_send_error() and sends it. The library calls that function
 * through its PLT, so this module defines evhttp_send_error() itself, and the
 * dynamic linker binds libevent's calls to this definition: every answer the
 * server gives, whoever writes it, is RFC 9457 problem+json with an
 * X-Request-Id.
 */
#ifndef FB_HTTPERR_H
#define FB_HTTPERR_H

#include <stdbool.h>

/*
 * Whether libevent's calls reach this module's evhttp_send_error (false for a
 * libevent linked statically or with -Bsymbolic). Checked once at start-up;
 * the server logs a warning when it is false.
 */
bool httperr_active(void);

/*
 * fairbeta's body limit, set before the loops start: a chunked body that
 * fails below it failed on its framing (400), not on its size (413).
 */
void httperr_set_max_body(long bytes);

#endif
