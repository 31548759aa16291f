#include "fb.h"

#include <dlfcn.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "crypto.h"
#include "httperr.h"
#include "log.h"

static long max_body;     /* FAIRBETA_MAX_BODY; read-only once the loops run */

void
httperr_set_max_body(long bytes)
{
	max_body = bytes;
}

static const struct {
	int status;
	const char *slug, *title, *detail;
} pages[] = {
	{ 400, "bad-request", "Bad Request",
	  "the request is not valid HTTP (its request line, headers or chunk framing)" },
	{ 413, "payload-too-large", "Content Too Large",
	  "the request's headers or body are larger than the server accepts" },
	{ 417, "expectation-failed", "Expectation Failed",
	  "the only expectation the server meets is 100-continue" },
	{ 501, "not-implemented", "Not Implemented", "the server does not support this" },
	{ 503, "busy", "Service Unavailable", "the server is busy; try again shortly" },
};

/*
 * Replaces libevent's HTML error page (see httperr.h). Same contract as the
 * original: answers req with status error and closes the connection
 * afterwards. Called by libevent on its loop thread, never by fairbeta.
 */
void
evhttp_send_error(struct evhttp_request *req, int error, const char *reason)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct evbuffer *buf = evbuffer_new();
	const char *slug = "error", *title = reason ? reason : "Error";
	const char *detail = "the request could not be handled";
	char id[CRYPTO_UUID_LEN], type[96];
	struct log_ctx lc = { .request_id = "" };
	json_t *p;
	char *s;
	size_t i;

	/*
	 * libevent 2.1 reports malformed chunk framing as "too long" as well.
	 * A chunked body that has not yet passed fairbeta's own limit failed on
	 * its framing (or announced one chunk past the limit): 400.
	 */
	if (error == 413 && req->chunked && max_body > 0 && req->body_size <= (size_t)max_body) {
		error = 400;
		reason = NULL;
	}
	for (i = 0; i < FB_ARRAY_LEN(pages); i++)
		if (pages[i].status == error) {
			slug = pages[i].slug;
			title = pages[i].title;
			detail = pages[i].detail;
		}
	crypto_uuid_new(id);
	snprintf(type, sizeof(type), "https://fairbeta.dev/problems/%s", slug);
	p = json_pack("{s:s, s:s, s:i, s:s, s:s}", "type", type, "title", title,
	    "status", error, "detail", detail, "request_id", id);
	s = p ? json_dumps(p, JSON_COMPACT) : NULL;
	if (buf == NULL || s == NULL) {
		/* out of memory: the one answer left is closing the connection */
		if (buf)
			evbuffer_free(buf);
		free(s);
		json_decref(p);
		evhttp_connection_free(evhttp_request_get_connection(req));
		return;
	}
	evbuffer_add(buf, s, strlen(s));
	/* a request line that did not parse has no version: answer in 1.1 */
	if (!req->major || !req->minor) {
		req->major = 1;
		req->minor = 1;
	}
	evhttp_clear_headers(out);
	evhttp_add_header(out, "Content-Type", "application/problem+json");
	evhttp_add_header(out, "Connection", "close");
	evhttp_add_header(out, "X-Request-Id", id);
	lc.method = "-";
	lc.route = "libevent";
	snprintf(lc.request_id, sizeof(lc.request_id), "%s", id);
	log_info(&lc, "refused %d: %s", error, detail);
	evhttp_send_reply(req, error, title, buf);
	evbuffer_free(buf);
	free(s);
	json_decref(p);
}

bool
httperr_active(void)
{
	return dlsym(RTLD_DEFAULT, "evhttp_send_error") == (void *)evhttp_send_error;
}
