/* api/idem: which Idempotency-Key values are well formed (idem_key_valid):
 * 1..IDEM_KEY_MAX bytes, each printable ASCII 0x21..0x7e. Then the stage the
 * pipeline runs before a keyed POST's handler (idem_prepare): the refusal of
 * a malformed key, and the request hash, of "the path and the body
 * (canonical when it is JSON)"; the claim sent once; the effect key. */
#include "fb.h"

#include <ctype.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "crypto.h"
#include "idem.h"
#include "jsonv.h"
#include "loop.h"
#include "unit.h"

static void
check_keys(void)
{
	char key[IDEM_KEY_MAX + 2];

	CHECK(!idem_key_valid(""));                  /* empty */
	CHECK(idem_key_valid("a"));                  /* 1 character */
	CHECK(idem_key_valid("!"));                  /* 0x21, the lowest allowed */
	CHECK(idem_key_valid("~"));                  /* 0x7e, the highest allowed */

	memset(key, 'k', IDEM_KEY_MAX);
	key[IDEM_KEY_MAX] = '\0';
	CHECK(strlen(key) == 200 && idem_key_valid(key));           /* 200: the most */
	key[IDEM_KEY_MAX] = 'k';
	key[IDEM_KEY_MAX + 1] = '\0';
	CHECK(strlen(key) == 201 && !idem_key_valid(key));          /* 201: one too many */

	CHECK(!idem_key_valid(" "));                 /* a space alone */
	CHECK(!idem_key_valid("order 42"));          /* a space inside */
	CHECK(!idem_key_valid("order-42 "));         /* a trailing space */
	CHECK(!idem_key_valid("order\t42"));         /* a tab */
	CHECK(!idem_key_valid("order\x7f"));         /* DEL 0x7f */
	CHECK(!idem_key_valid("\x7f"));
	CHECK(!idem_key_valid("caf\xc3\xa9"));       /* é: non-ASCII bytes */
	CHECK(!idem_key_valid("\x80"));              /* one non-ASCII byte */
	CHECK(!idem_key_valid("a\r\nb"));            /* CR LF */

	/* every printable ASCII punctuation character */
	CHECK(idem_key_valid("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"));
	CHECK(idem_key_valid("3f2b9c1e-7d4a-4c1b-9e8f-0a1b2c3d4e5f"));  /* a UUID */
}

/* ---- idem_prepare on a request as the pipeline hands it over ---- */

#define CALLER "01900000-0000-7000-8000-00000000c0de"
#define OTHER_CALLER "01900000-0000-7000-8000-0000000000ff"

/* The reply the stage gave, taken by a REPLY_CONFIRM hook before any send. */
static struct {
	int status;
	char body[2048];
} taken;

static bool
take_reply(struct reqctx *rc, int status, struct evbuffer *buf)
{
	size_t n = buf ? evbuffer_get_length(buf) : 0;

	FB_UNUSED(rc);
	taken.status = status;
	if (n >= sizeof(taken.body))
		n = sizeof(taken.body) - 1;
	if (n > 0)
		evbuffer_copyout(buf, taken.body, n);
	taken.body[n] = '\0';
	return true;
}

/*
 * A signed-in caller's POST to path, as the pipeline has it when it reaches
 * the Idempotency-Key stage: its body decoded (json, through jv_parse as the
 * pipeline does) or, for a route that takes none, only the raw bytes. No
 * connection: a reply is taken by take_reply, never sent.
 */
static struct reqctx *
keyed_post(struct loop *loop, const char *caller, const char *path, const char *json,
    const char *raw)
{
	struct evhttp_request *req = evhttp_request_new(NULL, NULL);
	struct reqctx *rc = request_new(req, loop);
	char detail[128];

	rc->method = M_POST;
	rc->path = arena_strdup(rc->arena, path);
	rc->authed = true;
	snprintf(rc->user.id, sizeof(rc->user.id), "%s", caller);
	rc->stage[REPLY_CONFIRM] = take_reply;
	if (json != NULL && jv_parse(json, strlen(json), &rc->body, detail,
	    sizeof(detail)) != JV_PARSED)
		fb_fatal("test_idem: not a JSON object: %s", json);
	if (raw != NULL)
		evbuffer_add(evhttp_request_get_input_buffer(req), raw, strlen(raw));
	return rc;
}

static void
keyed_free(struct reqctx *rc)
{
	struct evhttp_request *req = rc->req;

	atomic_fetch_sub(&rc->loop->inflight, 1);
	json_decref(rc->body);
	arena_free(rc->arena);
	free(rc);
	evhttp_request_free(req);
}

static bool
hex64(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	return s[64] == '\0';
}

/* The request hash idem_prepare gives a keyed POST ("" if it refused). */
static void
hash_of(struct loop *loop, const char *path, const char *json, const char *raw,
    const char *key, char out[65])
{
	struct reqctx *rc = keyed_post(loop, CALLER, path, json, raw);

	out[0] = '\0';
	if (idem_prepare(rc, key))
		snprintf(out, 65, "%s", rc->idem.hash);
	keyed_free(rc);
}

static void
check_hash(struct loop *loop)
{
	const char *p = "/v1/programs/01900000-0000-7000-8000-0000000000a1/funding";
	char a[65], b[65];

	/* the body canonical: key order, whitespace and escapes do not count */
	hash_of(loop, p, "{\"amount_minor\":500,\"memo\":\"seed\"}", NULL, "k1", a);
	hash_of(loop, p, " {\n \"memo\" : \"seed\",\t\"amount_minor\" : 500 }\n", NULL, "k1", b);
	CHECK(hex64(a));
	CHECK_STR(a, b);
	hash_of(loop, p, "{\"memo\":\"caf\\u00e9\",\"n\":{\"y\":2,\"x\":1}}", NULL, "k1", a);
	hash_of(loop, p, "{\"n\":{\"x\":1,\"y\":2},\"memo\":\"caf\xc3\xa9\"}", NULL, "k1", b);
	CHECK_STR(a, b);                               /* nested objects sorted too */

	/* another body is another request */
	hash_of(loop, p, "{\"amount_minor\":500,\"memo\":\"seed\"}", NULL, "k1", a);
	hash_of(loop, p, "{\"amount_minor\":501,\"memo\":\"seed\"}", NULL, "k1", b);
	CHECK(strcmp(a, b) != 0);                      /* a value */
	hash_of(loop, p, "{\"amount_minor\":\"500\",\"memo\":\"seed\"}", NULL, "k1", b);
	CHECK(strcmp(a, b) != 0);                      /* a type */
	hash_of(loop, p, "{\"amount_minor\":500}", NULL, "k1", b);
	CHECK(strcmp(a, b) != 0);                      /* a member fewer */
	hash_of(loop, p, "{\"kinds\":[\"work\",\"feedback\"]}", NULL, "k1", a);
	hash_of(loop, p, "{\"kinds\":[\"feedback\",\"work\"]}", NULL, "k1", b);
	CHECK(strcmp(a, b) != 0);                      /* arrays keep their order */

	/* the path is part of it */
	hash_of(loop, p, "{\"amount_minor\":500}", NULL, "k1", a);
	hash_of(loop, "/v1/programs/01900000-0000-7000-8000-0000000000a2/funding",
	    "{\"amount_minor\":500}", NULL, "k1", b);
	CHECK(strcmp(a, b) != 0);

	/*
	 * A body not decoded: its bytes. (Every POST route takes a body today,
	 * so the pipeline always hands over a decoded one; an empty undecoded
	 * body is left out: idem_prepare would memcpy from evbuffer_pullup's
	 * NULL, which UBSan reports under `make sanitize`.)
	 */
	hash_of(loop, "/v1/payout-batches/01900000-0000-7000-8000-0000000000b1/approve",
	    NULL, "x", "k1", a);
	hash_of(loop, "/v1/payout-batches/01900000-0000-7000-8000-0000000000b1/approve",
	    NULL, "x", "k1", b);
	CHECK(hex64(a) && strcmp(a, b) == 0);
	hash_of(loop, "/v1/payout-batches/01900000-0000-7000-8000-0000000000b1/approve",
	    NULL, "y", "k1", b);
	CHECK(strcmp(a, b) != 0);

	/* the hash is the request's, not the key's: the key is stored beside it */
	hash_of(loop, p, "{\"amount_minor\":500}", NULL, "k1", a);
	hash_of(loop, p, "{\"amount_minor\":500}", NULL, "another-key", b);
	CHECK(hex64(a));
	CHECK_STR(a, b);
}

static void
check_prepare(struct loop *loop)
{
	static const char *const bad[] = { "", "order 42", "caf\xc3\xa9", "a\tb" };
	const char *p = "/v1/programs/01900000-0000-7000-8000-0000000000a1/funding";
	char token[40], longkey[IDEM_KEY_MAX + 2];
	struct reqctx *rc, *rc2;
	struct db_job *job;
	const char *ek, *ek2, *hash_part;
	json_t *doc, *errors;
	size_t i;

	/* a well-formed key: the request runs under it; nothing is answered */
	taken.status = 0;
	rc = keyed_post(loop, CALLER, p, "{\"amount_minor\":500}", NULL);
	CHECK(idem_effect_key(rc) == NULL);            /* no key yet: no effect key */
	CHECK(idem_prepare(rc, "order-42"));
	CHECK(taken.status == 0);
	CHECK(rc->idem.key != NULL && strcmp(rc->idem.key, "order-42") == 0);
	CHECK(rc->idem.pending);
	CHECK(!rc->idem.taken);
	CHECK(rc->stage[REPLY_STORE] != NULL);         /* the reply will be stored */
	CHECK(crypto_uuid_valid(rc->idem.token));
	CHECK(hex64(rc->idem.hash));
	snprintf(token, sizeof(token), "%s", rc->idem.token);

	/* "idem:<caller>:<key>:<request hash>" */
	ek = idem_effect_key(rc);
	CHECK(ek != NULL && strncmp(ek, "idem:" CALLER ":order-42:",
	    strlen("idem:" CALLER ":order-42:")) == 0);
	hash_part = ek != NULL && strlen(ek) > strlen("idem:" CALLER ":order-42:") ?
	    ek + strlen("idem:" CALLER ":order-42:") : "";
	CHECK(strlen(hash_part) >= 16 && strncmp(hash_part, rc->idem.hash, strlen(hash_part)) == 0);

	/* the claim rides in the first job only */
	job = db_job_new(0);
	idem_claim_guard(rc, job);
	CHECK(!rc->idem.pending);
	idem_claim_guard(rc, job);
	CHECK(!rc->idem.pending);
	CHECK(!idem_claim_refused(job));               /* a job that never ran */
	db_job_free(job);

	/* the same request again: the same hash and effect key, a claim of its own */
	rc2 = keyed_post(loop, CALLER, p, "{\"amount_minor\":500}", NULL);
	CHECK(idem_prepare(rc2, "order-42"));
	CHECK_STR(rc2->idem.hash, rc->idem.hash);
	CHECK(strcmp(rc2->idem.token, token) != 0);
	ek2 = idem_effect_key(rc2);
	CHECK(ek != NULL && ek2 != NULL && strcmp(ek, ek2) == 0);
	keyed_free(rc2);

	/* another caller, another key, another request: another effect */
	rc2 = keyed_post(loop, OTHER_CALLER, p, "{\"amount_minor\":500}", NULL);
	CHECK(idem_prepare(rc2, "order-42"));
	ek2 = idem_effect_key(rc2);
	CHECK(ek != NULL && ek2 != NULL && strcmp(ek, ek2) != 0);
	keyed_free(rc2);
	rc2 = keyed_post(loop, CALLER, p, "{\"amount_minor\":500}", NULL);
	CHECK(idem_prepare(rc2, "order-43"));
	ek2 = idem_effect_key(rc2);
	CHECK(ek != NULL && ek2 != NULL && strcmp(ek, ek2) != 0);
	keyed_free(rc2);
	rc2 = keyed_post(loop, CALLER, p, "{\"amount_minor\":501}", NULL);
	CHECK(idem_prepare(rc2, "order-42"));
	ek2 = idem_effect_key(rc2);
	CHECK(ek != NULL && ek2 != NULL && strcmp(ek, ek2) != 0);
	keyed_free(rc2);
	keyed_free(rc);

	/* a malformed key: 422 naming Idempotency-Key, and no key is taken on */
	memset(longkey, 'k', IDEM_KEY_MAX + 1);
	longkey[IDEM_KEY_MAX + 1] = '\0';
	for (i = 0; i <= FB_ARRAY_LEN(bad); i++) {
		const char *key = i < FB_ARRAY_LEN(bad) ? bad[i] : longkey;

		taken.status = 0;
		taken.body[0] = '\0';
		rc = keyed_post(loop, CALLER, p, "{\"amount_minor\":500}", NULL);
		CHECK(!idem_prepare(rc, key));
		CHECK(taken.status == 422);
		CHECK(rc->idem.key == NULL && !rc->idem.pending);
		CHECK(rc->stage[REPLY_STORE] == NULL);  /* a refusal is never stored */
		CHECK(idem_effect_key(rc) == NULL);
		CHECK_STR(evhttp_find_header(evhttp_request_get_output_headers(rc->req),
		    "Content-Type") ? evhttp_find_header(evhttp_request_get_output_headers(
		    rc->req), "Content-Type") : "", "application/problem+json");
		doc = json_loads(taken.body, 0, NULL);
		errors = json_object_get(doc, "errors");
		CHECK_STR(json_string_value(json_object_get(doc, "type")) ?
		    json_string_value(json_object_get(doc, "type")) : "",
		    "https://fairbeta.dev/problems/validation");
		CHECK(json_integer_value(json_object_get(doc, "status")) == 422);
		CHECK(json_array_size(errors) == 1);
		CHECK_STR(json_string_value(json_object_get(json_array_get(errors, 0), "field")) ?
		    json_string_value(json_object_get(json_array_get(errors, 0), "field")) : "",
		    "Idempotency-Key");
		json_decref(doc);
		keyed_free(rc);
	}
}

void
suite_idem(void)
{
	struct loop loop;

	memset(&loop, 0, sizeof(loop));
	check_keys();
	check_prepare(&loop);
	check_hash(&loop);
	CHECK(atomic_load(&loop.inflight) == 0);
}
