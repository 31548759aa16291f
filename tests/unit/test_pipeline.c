/*
 * api/pipeline: http_dispatch() in process, over real HTTP. The server is
 * built as fairbeta-api builds it (server_init: its loop, evhttp, route
 * table and database pool), listening on an ephemeral port of 127.0.0.1;
 * its database is a socket directory where nothing listens, so no request
 * can be answered from a database. Requests go out through libevent's
 * evhttp client on the same event base, which runs until each is answered
 * (or a time limit passes: a request that hangs fails its checks).
 *
 * What the pipeline answers itself before any handler reaches the database:
 * the request id, 404 and 405 with Allow, repeated singleton headers, bad
 * query escapes, a body on a route that takes none, 413 over the body
 * limit, 401 without a usable token, 415, 400 for malformed JSON, and 422
 * for a body its route's schema refuses (errors naming each member). And
 * what it does when the database is needed but unreachable: 503 with
 * Retry-After at once, including for a reply made for a caller known only
 * from this loop's session hints, which is never given unconfirmed.
 */
#include "fb.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "arena.h"
#include "authcache.h"
#include "crypto.h"
#include "log.h"
#include "loop.h"
#include "router.h"
#include "server.h"
#include "unit.h"

#define MAX_BODY 1024          /* FAIRBETA_MAX_BODY's lowest allowed value */
#define ANSWER_WAIT_S 5
#define PROBLEM_TYPE "https://fairbeta.dev/problems/"

static struct {
	struct config cfg;
	struct server srv;
	struct loop *loop;
	unsigned short port;
	char listen[32];
	char sockdir[64];
	char dburl[128];
} fx;

/* What came back for one request. */
struct answer {
	bool done, timed_out;
	int status;
	char ctype[96], rid[96], allow[64], www[32], retry[16], connection[16];
	char *body;                 /* NUL-terminated */
	size_t len;
	json_t *json;               /* the body, when it is JSON */
};

static void
answer_free(struct answer *a)
{
	free(a->body);
	json_decref(a->json);
	memset(a, 0, sizeof(*a));
}

static void
copy_header(struct evkeyvalq *h, const char *name, char *out, size_t outlen)
{
	const char *v = evhttp_find_header(h, name);

	snprintf(out, outlen, "%s", v ? v : "");
}

static void
answered(struct evhttp_request *req, void *arg)
{
	struct answer *a = arg;
	struct evkeyvalq *h;
	struct evbuffer *in;

	a->done = true;
	if (req == NULL || evhttp_request_get_response_code(req) == 0)
		return;             /* the connection failed: status stays 0 */
	a->status = evhttp_request_get_response_code(req);
	h = evhttp_request_get_input_headers(req);
	copy_header(h, "Content-Type", a->ctype, sizeof(a->ctype));
	copy_header(h, "X-Request-Id", a->rid, sizeof(a->rid));
	copy_header(h, "Allow", a->allow, sizeof(a->allow));
	copy_header(h, "WWW-Authenticate", a->www, sizeof(a->www));
	copy_header(h, "Retry-After", a->retry, sizeof(a->retry));
	copy_header(h, "Connection", a->connection, sizeof(a->connection));
	in = evhttp_request_get_input_buffer(req);
	a->len = evbuffer_get_length(in);
	a->body = fb_malloc(a->len + 1);
	evbuffer_copyout(in, a->body, a->len);
	a->body[a->len] = '\0';
	a->json = json_loadb(a->body, a->len, 0, NULL);
}

static void
waited_too_long(evutil_socket_t fd, short what, void *arg)
{
	struct answer *a = arg;

	FB_UNUSED(fd);
	FB_UNUSED(what);
	a->timed_out = true;
}

/*
 * Sends one request on a connection of its own and runs the loop until it
 * is answered. headers: name, value, ..., NULL. body: NULL for none.
 */
static struct answer
ask(enum evhttp_cmd_type cmd, const char *uri, const char *const *headers,
    const char *body, size_t bodylen)
{
	struct event_base *base = fx.loop->base;
	struct answer a;
	struct evhttp_connection *conn;
	struct evhttp_request *req;
	struct evkeyvalq *out;
	struct event *timer;
	struct timeval tv = { ANSWER_WAIT_S, 0 };
	char len[32];

	memset(&a, 0, sizeof(a));
	conn = evhttp_connection_base_new(base, NULL, "127.0.0.1", fx.port);
	req = evhttp_request_new(answered, &a);
	out = evhttp_request_get_output_headers(req);
	for (; headers != NULL && headers[0] != NULL; headers += 2)
		evhttp_add_header(out, headers[0], headers[1]);
	if (body != NULL) {
		evbuffer_add(evhttp_request_get_output_buffer(req), body, bodylen);
		/* libevent frames only POST and PUT bodies itself */
		if (cmd != EVHTTP_REQ_POST && cmd != EVHTTP_REQ_PUT) {
			snprintf(len, sizeof(len), "%zu", bodylen);
			evhttp_add_header(out, "Content-Length", len);
		}
	}
	timer = evtimer_new(base, waited_too_long, &a);
	evtimer_add(timer, &tv);
	if (evhttp_make_request(conn, req, cmd, uri) != 0)
		a.done = true;
	while (!a.done && !a.timed_out)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(timer);
	evhttp_connection_free(conn);
	return a;
}

static struct answer
get(const char *uri, const char *const *headers)
{
	return ask(EVHTTP_REQ_GET, uri, headers, NULL, 0);
}

static struct answer
post_json(const char *uri, const char *const *headers, const char *body)
{
	static const char *const json_ct[] = { "Content-Type", "application/json", NULL };

	return ask(EVHTTP_REQ_POST, uri, headers ? headers : json_ct, body, strlen(body));
}

static const char *
member(const struct answer *a, const char *name)
{
	const char *s = json_string_value(json_object_get(a->json, name));

	return s ? s : "";
}

/* The first errors[] entry's field, or "(none)". */
static const char *
first_error_field(const struct answer *a)
{
	const char *s = json_string_value(json_object_get(json_array_get(
	    json_object_get(a->json, "errors"), 0), "field"));

	return s ? s : "(none)";
}

/* Whether errors[] names field. */
static bool
errors_name(const struct answer *a, const char *field)
{
	json_t *errors = json_object_get(a->json, "errors"), *e;
	size_t i;

	json_array_foreach(errors, i, e)
		if (strcmp(json_string_value(json_object_get(e, "field")) ?
		    json_string_value(json_object_get(e, "field")) : "", field) == 0)
			return true;
	return false;
}

/*
 * An RFC 9457 answer as every one of the pipeline's: the status, the media
 * type, the problem's type, status, title, instance and request_id, and the
 * X-Request-Id header that request_id repeats, each its own check.
 */
static void
check_problem(const struct answer *a, int status, const char *slug, const char *instance)
{
	char type[128];

	snprintf(type, sizeof(type), PROBLEM_TYPE "%s", slug);
	CHECK(a->done && !a->timed_out);
	CHECK(a->status == status);
	CHECK_STR(a->ctype, "application/problem+json");
	CHECK(json_is_object(a->json));
	CHECK_STR(member(a, "type"), type);
	CHECK(json_integer_value(json_object_get(a->json, "status")) == status);
	CHECK(member(a, "title")[0] != '\0');
	CHECK_STR(member(a, "instance"), instance);
	CHECK(a->rid[0] != '\0');
	CHECK_STR(member(a, "request_id"), a->rid);
	if (a->status != status)
		fprintf(stderr, "  (%s: %d %s)\n", instance, a->status, a->body ? a->body : "");
}

/* ---- the server under test ---- */

/*
 * An ephemeral port of 127.0.0.1 for the server (libevent's address parser
 * takes no port 0): a socket bound with SO_REUSEPORT holds it, not
 * listening, while the server binds it the same way, then lets it go.
 */
static int
probe_port(unsigned short *port)
{
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), on = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &slen) != 0) {
		fprintf(stderr, "test_pipeline: no ephemeral port: %s\n", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

static int
fixture_start(void)
{
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	fb_err err;
	int probe, rc;

	snprintf(fx.sockdir, sizeof(fx.sockdir), "/tmp/fb-unit-pipeline-XXXXXX");
	if (mkdtemp(fx.sockdir) == NULL) {
		fprintf(stderr, "test_pipeline: mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	/* an empty directory: no PostgreSQL socket, so every connection fails */
	snprintf(fx.dburl, sizeof(fx.dburl), "host=%s dbname=fairbeta connect_timeout=2",
	    fx.sockdir);
	memset(&fx.cfg, 0, sizeof(fx.cfg));
	fx.cfg.database_url = fx.dburl;
	if ((probe = probe_port(&fx.port)) < 0)
		return -1;
	snprintf(fx.listen, sizeof(fx.listen), "127.0.0.1:%u", fx.port);
	fx.cfg.listen = fx.listen;
	fx.cfg.metrics_listen = "off";
	fx.cfg.state_dir = "";
	fx.cfg.log_level_name = "error";
	fx.cfg.log_level = LOG_ERROR;
	fx.cfg.threads = 1;
	fx.cfg.db_pool = 1;
	fx.cfg.db_queue = 8;
	fx.cfg.db_queue_timeout_ms = 1000;
	fx.cfg.db_statement_timeout_ms = 1000;
	fx.cfg.max_body = MAX_BODY;
	fx.cfg.max_headers = 16384;
	fx.cfg.http_timeout_s = ANSWER_WAIT_S;
	fx.cfg.session_ttl_s = 3600;
	fx.cfg.shutdown_timeout_s = 1;
	fx.cfg.hash_threads = 1;
	fx.cfg.hash_queue = 4;
	fx.cfg.claim_lease_s = 900;
	fx.cfg.worker_tick_ms = 5000;
	fx.cfg.smtp_url = fx.cfg.smtp_user = fx.cfg.smtp_password = "";
	fx.cfg.mail_from = "fairbeta@localhost";
	fx.cfg.delivery_max_attempts = 1;
	fx.cfg.delivery_backoff_ms = 1000;
	fx.cfg.delivery_timeout_s = 1;
	fx.cfg.delivery_lease_s = 60;
	fx.cfg.delivery_concurrency = 1;
	rc = server_init(&fx.srv, &fx.cfg, err);
	close(probe);
	if (rc != 0) {
		fprintf(stderr, "test_pipeline: server_init: %s\n", err);
		return -1;
	}
	fx.loop = &fx.srv.loops[0];
	/* the server listens where it was told */
	if (getsockname(evhttp_bound_socket_get_fd(fx.loop->bound),
	    (struct sockaddr *)&sin, &slen) != 0 || ntohs(sin.sin_port) != fx.port) {
		fprintf(stderr, "test_pipeline: the server is not on port %u\n", fx.port);
		return -1;
	}
	return 0;
}

static void
fixture_stop(void)
{
	server_free(&fx.srv);
	rmdir(fx.sockdir);
}

/* ---- the checks ---- */

static void
check_public(void)
{
	static const char *const echo[] = { "X-Request-Id", "unit-pipeline.1:a_b", NULL };
	static const char *const spaced[] = { "X-Request-Id", "not usable", NULL };
	struct answer a;
	json_t *paths;

	/* a public route answered without the database */
	a = get("/healthz", NULL);
	CHECK(a.done && !a.timed_out);
	CHECK(a.status == 200);
	CHECK_STR(a.ctype, "application/json");
	CHECK_STR(member(&a, "status"), "ok");
	CHECK(crypto_uuid_valid(a.rid));               /* generated */
	answer_free(&a);

	/* X-Request-Id echoed when usable, else generated */
	a = get("/healthz", echo);
	CHECK(a.status == 200);
	CHECK_STR(a.rid, "unit-pipeline.1:a_b");
	answer_free(&a);
	a = get("/healthz", spaced);
	CHECK(a.status == 200);
	CHECK(crypto_uuid_valid(a.rid));
	answer_free(&a);

	/* the OpenAPI document */
	a = get("/v1/openapi.json", NULL);
	CHECK(a.status == 200);
	CHECK_STR(a.ctype, "application/json");
	CHECK(strncmp(member(&a, "openapi"), "3.1", 3) == 0);
	paths = json_object_get(a.json, "paths");
	CHECK(json_object_get(paths, "/v1/sessions") != NULL);
	CHECK(json_object_get(paths, "/healthz") != NULL);
	CHECK(crypto_uuid_valid(a.rid));
	answer_free(&a);
}

static void
check_routing(void)
{
	struct answer a;

	/* 404: no such path; the request id is the one the header carries */
	a = get("/v1/no-such-thing", NULL);
	check_problem(&a, 404, "not-found", "/v1/no-such-thing");
	CHECK(crypto_uuid_valid(a.rid));
	answer_free(&a);
	a = get("/v1%2Fme", NULL);                     /* split before decoding */
	check_problem(&a, 404, "not-found", "/v1%2Fme");
	answer_free(&a);

	/* 405 with Allow: a method the path does not take */
	a = ask(EVHTTP_REQ_DELETE, "/healthz", NULL, NULL, 0);
	check_problem(&a, 405, "method-not-allowed", "/healthz");
	CHECK_STR(a.allow, "GET, HEAD");
	answer_free(&a);
	a = ask(EVHTTP_REQ_PUT, "/v1/sessions", NULL, "{}", 2);
	check_problem(&a, 405, "method-not-allowed", "/v1/sessions");
	CHECK_STR(a.allow, "POST");
	answer_free(&a);
	a = get("/v1/programs/01900000-0000-7000-8000-0000000000a1/funding", NULL);
	check_problem(&a, 405, "method-not-allowed",
	    "/v1/programs/01900000-0000-7000-8000-0000000000a1/funding");
	CHECK_STR(a.allow, "POST");
	answer_free(&a);
	/* a method fairbeta does not serve at all: 405 too, and the connection closes */
	a = ask(EVHTTP_REQ_TRACE, "/healthz", NULL, NULL, 0);
	check_problem(&a, 405, "method-not-allowed", "/healthz");
	CHECK_STR(a.allow, "GET, HEAD");
	CHECK_STR(a.connection, "close");
	answer_free(&a);
}

static void
check_headers_and_query(void)
{
	static const char *const two_auth[] = {
		"Authorization", "Bearer fbt_aaaaaaaaaaaaaaaaaaaaaaaa",
		"Authorization", "Bearer fbt_bbbbbbbbbbbbbbbbbbbbbbbb", NULL,
	};
	static const char *const two_keys[] = {
		"Content-Type", "application/json",
		"Idempotency-Key", "k-1", "Idempotency-Key", "k-2", NULL,
	};
	struct answer a;

	/* a singleton header repeated: 400, naming it, and the connection closes */
	a = get("/v1/me", two_auth);
	check_problem(&a, 400, "bad-request", "/v1/me");
	CHECK(strstr(member(&a, "detail"), "Authorization") != NULL);
	CHECK_STR(a.connection, "close");
	answer_free(&a);
	a = post_json("/v1/sessions", two_keys, "{\"email\":\"a@example.org\",\"password\":\"pw\"}");
	check_problem(&a, 400, "bad-request", "/v1/sessions");
	CHECK(strstr(member(&a, "detail"), "Idempotency-Key") != NULL);
	answer_free(&a);

	/* a bad escape or %00 in the query: 422 naming the parameter */
	a = get("/healthz?limit=%zz", NULL);
	check_problem(&a, 422, "validation", "/healthz");
	CHECK_STR(first_error_field(&a), "limit");
	answer_free(&a);
	a = get("/healthz?cursor=ab%00cd", NULL);
	check_problem(&a, 422, "validation", "/healthz");
	CHECK_STR(first_error_field(&a), "cursor");
	answer_free(&a);

	/* a body on a route that takes none: 400, before any token is asked for */
	a = ask(EVHTTP_REQ_DELETE, "/v1/sessions/current", NULL, "{}", 2);
	check_problem(&a, 400, "bad-request", "/v1/sessions/current");
	CHECK(strstr(member(&a, "detail"), "takes no body") != NULL);
	answer_free(&a);
}

static void
check_authentication(void)
{
	static const char *const basic[] = { "Authorization", "Basic dXNlcjpwYXNzd29yZA==", NULL };
	static const char *const short_token[] = { "Authorization", "Bearer fbt_short", NULL };
	static const char *const empty_bearer[] = { "Authorization", "Bearer ", NULL };
	const char *const *bad[] = { NULL, basic, short_token, empty_bearer };
	char long_token[160];
	const char *long_hdr[] = { "Authorization", long_token, NULL };
	struct answer a;
	size_t i;

	/* no usable bearer token on an authenticated route: 401, asked for Bearer */
	for (i = 0; i < FB_ARRAY_LEN(bad); i++) {
		a = get("/v1/me", bad[i]);
		check_problem(&a, 401, "unauthorized", "/v1/me");
		CHECK_STR(a.www, "Bearer");
		answer_free(&a);
	}
	snprintf(long_token, sizeof(long_token), "Bearer fbt_%0129d", 7);   /* 133 > 128 */
	a = get("/v1/me", long_hdr);
	check_problem(&a, 401, "unauthorized", "/v1/me");
	answer_free(&a);
	/* on a POST with a strict body too: the token comes before the body */
	a = post_json("/v1/users", NULL, "not json");
	check_problem(&a, 401, "unauthorized", "/v1/users");
	answer_free(&a);
}

static void
check_bodies(void)
{
	static const char *const text_ct[] = { "Content-Type", "text/plain", NULL };
	static const char *const bad_key[] = {
		"Content-Type", "application/json", "Idempotency-Key", "not a key", NULL,
	};
	static const char prefix[] = "{\"email\":\"a@example.org\",\"pad\":\"";
	char big[MAX_BODY + 2];
	struct answer a;
	size_t n;

	/* 415: not application/json */
	a = ask(EVHTTP_REQ_POST, "/v1/sessions", text_ct, "{}", 2);
	check_problem(&a, 415, "unsupported-media-type", "/v1/sessions");
	answer_free(&a);

	/* 400: malformed JSON (API.md: "Malformed JSON 400") */
	a = post_json("/v1/sessions", NULL, "{\"email\":");
	check_problem(&a, 400, "malformed-json", "/v1/sessions");
	CHECK(json_object_get(a.json, "errors") == NULL);
	answer_free(&a);
	a = post_json("/v1/sessions", NULL, "{\"email\":\"a@example.org\",\"email\":\"b@example.org\","
	    "\"password\":\"pw\"}");                   /* a member twice */
	check_problem(&a, 400, "malformed-json", "/v1/sessions");
	answer_free(&a);

	/* 422: JSON that is not an object */
	a = post_json("/v1/sessions", NULL, "[\"a@example.org\",\"pw\"]");
	check_problem(&a, 422, "validation", "/v1/sessions");
	CHECK(json_array_size(json_object_get(a.json, "errors")) == 1);
	CHECK_STR(first_error_field(&a), "");
	answer_free(&a);

	/* 422: a member the body does not name, with an errors array naming it */
	a = post_json("/v1/sessions", NULL,
	    "{\"email\":\"a@example.org\",\"password\":\"pw\",\"remember_me\":true}");
	check_problem(&a, 422, "validation", "/v1/sessions");
	CHECK(json_is_array(json_object_get(a.json, "errors")));
	CHECK(json_array_size(json_object_get(a.json, "errors")) == 1);
	CHECK_STR(first_error_field(&a), "remember_me");
	CHECK(strstr(member(&a, "detail"), "remember_me") != NULL);
	answer_free(&a);

	/* 422: every problem at once (missing, wrong type, unknown) */
	a = post_json("/v1/sessions", NULL, "{\"email\":42,\"extra\":null}");
	check_problem(&a, 422, "validation", "/v1/sessions");
	CHECK(json_array_size(json_object_get(a.json, "errors")) == 3);
	CHECK(errors_name(&a, "email"));
	CHECK(errors_name(&a, "password"));
	CHECK(errors_name(&a, "extra"));
	answer_free(&a);

	/* 413 one byte over the limit; at the limit the body is read (and judged) */
	memset(big, ' ', sizeof(big));
	n = (size_t)MAX_BODY + 1;
	memcpy(big, prefix, strlen(prefix));
	big[n - 2] = '"';
	big[n - 1] = '}';
	big[n] = '\0';
	a = post_json("/v1/sessions", NULL, big);
	check_problem(&a, 413, "payload-too-large", "/v1/sessions");
	answer_free(&a);
	big[n - 3] = '"';                               /* the same, 1024 bytes */
	big[n - 2] = '}';
	big[n - 1] = '\0';
	CHECK(strlen(big) == MAX_BODY);
	a = post_json("/v1/sessions", NULL, big);
	check_problem(&a, 422, "validation", "/v1/sessions");
	CHECK(errors_name(&a, "pad"));
	CHECK(errors_name(&a, "password"));
	answer_free(&a);

	/*
	 * A caller without a token: the Idempotency-Key is ignored (the OpenAPI
	 * conventions), so a malformed one is no 422; the handler runs, and its
	 * database is unreachable: 503 at once, with Retry-After.
	 */
	a = post_json("/v1/sessions", bad_key, "{\"email\":\"a@example.org\",\"password\":\"pw\"}");
	check_problem(&a, 503, "database-unavailable", "/v1/sessions");
	CHECK(a.retry[0] != '\0');
	answer_free(&a);
}

/*
 * With the database needed and unreachable: an answer at once, 503 with
 * Retry-After, never a hang and never an answer resting on the session
 * hint alone.
 */
static void
check_database_down(void)
{
	static const char token[] = "fbt_unit-pipeline-token-0123456789abcdefghij";
	static const char *const bearer[] = {
		"Authorization", "Bearer fbt_unit-pipeline-token-0123456789abcdefghij", NULL,
	};
	struct auth_user u, seen;
	struct arena *arena = arena_new(256);
	char hash[CRYPTO_HASH_HEX_LEN];
	struct answer a;

	/* a token this loop has not seen: the lookup cannot run */
	a = get("/v1/me", bearer);
	check_problem(&a, 503, "database-unavailable", "/v1/me");
	CHECK_STR(a.retry, "2");
	answer_free(&a);

	/* the readiness probe says so */
	a = get("/readyz", NULL);
	check_problem(&a, 503, "not-ready", "/readyz");
	CHECK_STR(member(&a, "database"), "unreachable");
	CHECK(a.retry[0] != '\0');
	answer_free(&a);

	/*
	 * A token this loop holds a hint for: GET /v1/me answers from the hint
	 * without a job, so its 200 is held until a lookup confirms the caller;
	 * the lookup cannot run, so the answer is 503, not the 200, and the
	 * hint is dropped.
	 */
	memset(&u, 0, sizeof(u));
	snprintf(u.id, sizeof(u.id), "01900000-0000-7000-8000-00000000a115");
	snprintf(u.session_id, sizeof(u.session_id), "01900000-0000-7000-8000-000000005e55");
	snprintf(u.role, sizeof(u.role), "artist");
	u.role_bit = router_role_bit("artist");
	u.email = "artist@example.org";
	u.display_name = "Artist";
	u.created_at = "2026-01-01T00:00:00.000000Z";
	crypto_sha256_hex(token, strlen(token), hash);
	authcache_put(fx.loop->auth, hash, &u);
	CHECK(authcache_get(fx.loop->auth, hash, &seen, arena));
	a = get("/v1/me", bearer);
	check_problem(&a, 503, "database-unavailable", "/v1/me");
	CHECK(json_object_get(a.json, "email") == NULL);   /* nothing of the user */
	CHECK(strstr(a.body ? a.body : "", "artist@example.org") == NULL);
	answer_free(&a);
	CHECK(!authcache_get(fx.loop->auth, hash, &seen, arena));
	arena_free(arena);
}

void
suite_pipeline(void)
{
	enum log_level level = log_min_level;
	bool started;

	log_set_level(LOG_ERROR);    /* the access log and the pool's warnings */
	started = fixture_start() == 0;
	CHECK(started);
	if (!started) {
		rmdir(fx.sockdir);
		log_set_level(level);
		return;
	}
	check_public();
	check_routing();
	check_headers_and_query();
	check_authentication();
	check_bodies();
	check_database_down();
	CHECK(atomic_load(&fx.loop->inflight) == 0);   /* every request answered */
	fixture_stop();
	log_set_level(level);
}
