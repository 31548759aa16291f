/*
 * sender.c: libcurl multi on libevent (the pattern of curl's hiperfifo
 * example). Each transfer owns its request data; its done callback runs
 * once, from the loop, when curl reports it finished.
 */
#include "fb.h"

#include <sys/socket.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "config.h"
#include "log.h"
#include "sender.h"
#include "urlcheck.h"

struct sender {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	int inflight;
	bool allow_private;
	long timeout_s;
	char *smtp_url, *smtp_user, *smtp_password, *mail_from;
};

struct transfer {
	struct sender *s;
	CURL *easy;
	struct curl_slist *headers;     /* HTTP headers or SMTP recipients */
	char *data;                     /* body or message */
	size_t len, sent;
	bool mail;                      /* SMTP: accepted is ok, there is no 2xx */
	char error[CURL_ERROR_SIZE];
	sender_done_fn *done;
	void *arg;
};

struct sock {
	struct event *ev;
};

static void
transfer_free(struct transfer *t)
{
	curl_slist_free_all(t->headers);
	free(t->data);
	free(t);
}

static void
check_done(struct sender *s)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(s->multi, &left)) != NULL) {
		struct transfer *t;
		long code = 0;
		bool ok;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
		if (msg->data.result != CURLE_OK) {
			ok = false;
			if (t->error[0] == '\0')
				snprintf(t->error, sizeof(t->error), "%s",
				    curl_easy_strerror(msg->data.result));
		} else if (t->mail) {
			ok = true;                /* the server accepted the message */
		} else {
			ok = code >= 200 && code < 300;
			if (!ok)
				snprintf(t->error, sizeof(t->error), "HTTP %ld", code);
		}
		curl_multi_remove_handle(s->multi, msg->easy_handle);
		curl_easy_cleanup(msg->easy_handle);
		s->inflight--;
		t->done(t->arg, ok, code, ok ? NULL : t->error);
		transfer_free(t);
	}
}

static void
event_cb(evutil_socket_t fd, short kind, void *arg)
{
	struct sender *s = arg;
	int running, action = ((kind & EV_READ) ? CURL_CSELECT_IN : 0) |
	    ((kind & EV_WRITE) ? CURL_CSELECT_OUT : 0);

	curl_multi_socket_action(s->multi, fd, action, &running);
	check_done(s);
	if (running <= 0)
		evtimer_del(s->timer);
}

static void
timer_cb(evutil_socket_t fd, short kind, void *arg)
{
	struct sender *s = arg;
	int running;

	FB_UNUSED(fd);
	FB_UNUSED(kind);
	curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(s);
}

static int
multi_timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
	struct sender *s = arg;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

	FB_UNUSED(multi);
	if (timeout_ms < 0)
		evtimer_del(s->timer);
	else
		evtimer_add(s->timer, &tv);
	return 0;
}

static int
multi_sock_cb(CURL *easy, curl_socket_t fd, int what, void *arg, void *sockp)
{
	struct sender *s = arg;
	struct sock *sk = sockp;
	short kind;

	FB_UNUSED(easy);
	if (what == CURL_POLL_REMOVE) {
		if (sk != NULL) {
			event_free(sk->ev);
			free(sk);
		}
		curl_multi_assign(s->multi, fd, NULL);
		return 0;
	}
	kind = (short)(((what & CURL_POLL_IN) ? EV_READ : 0) |
	    ((what & CURL_POLL_OUT) ? EV_WRITE : 0) | EV_PERSIST);
	if (sk == NULL) {
		sk = fb_calloc(1, sizeof(*sk));
		curl_multi_assign(s->multi, fd, sk);
	} else {
		event_free(sk->ev);
	}
	sk->ev = event_new(s->base, fd, kind, event_cb, s);
	event_add(sk->ev, NULL);
	return 0;
}

/* Refuses connections to private addresses, whatever a name resolved to. */
static curl_socket_t
open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct transfer *t = arg;

	FB_UNUSED(purpose);
	if (!t->s->allow_private && urlcheck_addr_private(&a->addr)) {
		snprintf(t->error, sizeof(t->error),
		    "refused to connect to a private address");
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype, a->protocol);
}

static size_t
read_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct transfer *t = arg;
	size_t len = size * n;

	if (len > t->len - t->sent)
		len = t->len - t->sent;
	memcpy(buf, t->data + t->sent, len);
	t->sent += len;
	return len;
}

static size_t
discard_cb(char *buf, size_t size, size_t n, void *arg)
{
	FB_UNUSED(buf);
	FB_UNUSED(arg);
	return size * n;            /* replies are not kept: only the status counts */
}

static struct transfer *
transfer_new(struct sender *s, const char *data, sender_done_fn *done, void *arg)
{
	struct transfer *t = fb_calloc(1, sizeof(*t));

	t->s = s;
	t->data = fb_strdup(data);
	t->len = strlen(data);
	t->done = done;
	t->arg = arg;
	t->easy = curl_easy_init();
	if (t->easy == NULL)
		fb_fatal("curl_easy_init failed");
	curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
	curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->error);
	curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(t->easy, CURLOPT_TIMEOUT, s->timeout_s);
	curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT, s->timeout_s);
	return t;
}

static int
transfer_start(struct transfer *t)
{
	if (curl_multi_add_handle(t->s->multi, t->easy) != CURLM_OK) {
		curl_easy_cleanup(t->easy);
		transfer_free(t);
		return -1;
	}
	t->s->inflight++;
	return 0;
}

int
sender_post(struct sender *s, const char *url, const char *const *headers,
    const char *body, sender_done_fn *done, void *arg)
{
	struct transfer *t = transfer_new(s, body, done, arg);
	const char *const *h;

	for (h = headers; *h; h++)
		t->headers = curl_slist_append(t->headers, *h);
	curl_easy_setopt(t->easy, CURLOPT_URL, url);
	curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(t->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->data);
	curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE, (long)t->len);
	curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, discard_cb);
	curl_easy_setopt(t->easy, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(t->easy, CURLOPT_OPENSOCKETDATA, t);
	curl_easy_setopt(t->easy, CURLOPT_USERAGENT, "fairbeta-webhooks/" FB_VERSION);
	return transfer_start(t);
}

int
sender_mail(struct sender *s, const char *to, const char *message,
    sender_done_fn *done, void *arg)
{
	struct transfer *t;
	char rcpt[320], from[320];

	if (s->smtp_url[0] == '\0') {
		/* no server configured: the mail goes to the log instead */
		log_emit(LOG_INFO, NULL, json_pack("{s:s, s:s}", "to", to, "message", message),
		    "mail (FAIRBETA_SMTP_URL is not set, so it is logged, not sent)");
		done(arg, true, 0, NULL);
		return 0;
	}
	t = transfer_new(s, message, done, arg);
	t->mail = true;
	snprintf(rcpt, sizeof(rcpt), "<%s>", to);
	snprintf(from, sizeof(from), "<%s>", s->mail_from);
	t->headers = curl_slist_append(NULL, rcpt);
	curl_easy_setopt(t->easy, CURLOPT_URL, s->smtp_url);
	curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(t->easy, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(t->easy, CURLOPT_MAIL_RCPT, t->headers);
	curl_easy_setopt(t->easy, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(t->easy, CURLOPT_READDATA, t);
	curl_easy_setopt(t->easy, CURLOPT_UPLOAD, 1L);
	/* STARTTLS when offered; required before credentials are sent */
	curl_easy_setopt(t->easy, CURLOPT_USE_SSL,
	    (long)(s->smtp_user[0] ? CURLUSESSL_ALL : CURLUSESSL_TRY));
	if (s->smtp_user[0]) {
		curl_easy_setopt(t->easy, CURLOPT_USERNAME, s->smtp_user);
		curl_easy_setopt(t->easy, CURLOPT_PASSWORD, s->smtp_password);
	}
	return transfer_start(t);
}

struct sender *
sender_new(struct event_base *base, const struct config *cfg)
{
	struct sender *s = fb_calloc(1, sizeof(*s));

	curl_global_init(CURL_GLOBAL_DEFAULT);
	s->base = base;
	s->multi = curl_multi_init();
	s->timer = evtimer_new(base, timer_cb, s);
	s->allow_private = cfg->webhook_allow_private != 0;
	s->timeout_s = cfg->delivery_timeout_s;
	s->smtp_url = fb_strdup(cfg->smtp_url);
	s->smtp_user = fb_strdup(cfg->smtp_user);
	s->smtp_password = fb_strdup(cfg->smtp_password);
	s->mail_from = fb_strdup(cfg->mail_from);
	curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, multi_sock_cb);
	curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s);
	curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, multi_timer_cb);
	curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s);
	return s;
}

int
sender_inflight(const struct sender *s)
{
	return s->inflight;
}

void
sender_free(struct sender *s)
{
	if (s == NULL)
		return;
	curl_multi_cleanup(s->multi);
	event_free(s->timer);
	free(s->smtp_url);
	free(s->smtp_user);
	free(s->smtp_password);
	free(s->mail_from);
	free(s);
	curl_global_cleanup();
}
