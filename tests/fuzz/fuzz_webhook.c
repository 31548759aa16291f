/*
 * fuzz_webhook.c: the webhook signer (webhook_send in workers/notify.c).
 *
 * webhook_send is static and reads its delivery from a PGresult, so this
 * file includes notify.c itself, with sender_post renamed to a stub that
 * captures the request instead of sending it, and feeds it a PGresult
 * built with libpq's result-construction functions.
 *
 * Input, NUL-separated: secret, payload (the outbox JSON), event type,
 * created_at, then optionally the event id and the timestamp. The database
 * gives an event id that is a UUID and a timestamp of digits, and UTF-8
 * text: other values of those are replaced by fixed ones, so that only
 * what the database can hold is tried. Properties:
 * - a request is made exactly when the secret is whsec_ and the standard
 *   base64 of at most 128 bytes (decoded by a reader written here), for
 *   ASCII secrets (see below for others);
 * - the body is {"type", "timestamp", "data"} with the data the payload
 *   (or {} when the payload is not a JSON object or array);
 * - the headers are Content-Type, webhook-id, webhook-timestamp and
 *   webhook-signature, single lines;
 * - the signature is v1,<base64 of HMAC-SHA256(key, id.timestamp.body)>,
 *   checked against HMAC built here from libsodium's SHA-256 (RFC 2104),
 *   not from the HMAC functions notify.c uses.
 */
#define sender_post fuzz_sender_post
#include "../../workers/notify.c"
#undef sender_post

#include "fuzz.h"

static struct {
	int calls;
	char *headers[8];
	int nheaders;
	char *body;
} sent_req;

int
fuzz_sender_post(struct sender *s, const char *url, const char *const *headers,
    const char *body, sender_done_fn *done, void *arg)
{
	int i;

	FB_UNUSED(s);
	FB_UNUSED(done);
	FB_UNUSED(arg);
	FUZZ_ASSERT(url != NULL && body != NULL && headers != NULL);
	sent_req.calls++;
	for (i = 0; headers[i] != NULL; i++) {
		FUZZ_ASSERT(i < (int)FB_ARRAY_LEN(sent_req.headers));
		sent_req.headers[i] = fb_strdup(headers[i]);
	}
	sent_req.nheaders = i;
	sent_req.body = fb_strdup(body);
	return 0;
}

/* Strict RFC 4648 base64 (standard alphabet, padded, zero pad bits). */
static int
ref_base64(const char *s, unsigned char *out, size_t outmax, size_t *outlen)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(s), i, o = 0, pad = 0;
	uint32_t acc = 0;

	if (n % 4 != 0)
		return -1;
	if (n > 0 && s[n - 1] == '=')
		pad++;
	if (n > 1 && s[n - 2] == '=')
		pad++;
	for (i = 0; i < n; i++) {
		const char *c = s[i] ? strchr(alphabet, s[i]) : NULL;
		uint32_t v;

		if (i >= n - pad) {
			v = 0;
		} else if (c == NULL) {
			return -1;
		} else {
			v = (uint32_t)(c - alphabet);
		}
		acc = acc << 6 | v;
		if (i % 4 == 3) {
			unsigned char b[3] = {
				(unsigned char)(acc >> 16), (unsigned char)(acc >> 8),
				(unsigned char)acc,
			};
			size_t k, take = i == n - 1 ? 3 - pad : 3;

			if (i == n - 1 && pad > 0 && (acc & (pad == 1 ? 0xFFu : 0xFFFFu)) != 0)
				return -1;      /* non-zero pad bits */
			for (k = 0; k < take; k++) {
				if (o == outmax)
					return -1;
				out[o++] = b[k];
			}
			acc = 0;
		}
	}
	*outlen = o;
	return 0;
}

/* HMAC-SHA256 (RFC 2104) from SHA-256 alone. */
static void
ref_hmac(const unsigned char *key, size_t keylen, const char *msg, size_t msglen,
    unsigned char mac[32])
{
	unsigned char k[64], pad[64], inner[32];
	crypto_hash_sha256_state st;
	size_t i;

	memset(k, 0, sizeof(k));
	if (keylen > 64)
		crypto_hash_sha256(k, key, keylen);
	else if (keylen > 0)
		memcpy(k, key, keylen);
	for (i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x36;
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, pad, 64);
	crypto_hash_sha256_update(&st, (const unsigned char *)msg, msglen);
	crypto_hash_sha256_final(&st, inner);
	for (i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x5c;
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, pad, 64);
	crypto_hash_sha256_update(&st, inner, 32);
	crypto_hash_sha256_final(&st, mac);
}

static bool
is_uuid(const char *s)
{
	int i;

	for (i = 0; i < 36; i++)
		if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] != '-' :
		    !strchr("0123456789abcdef", s[i]) || s[i] == '\0')
			return false;
	return s[36] == '\0';
}

static bool
is_digits(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < 20 && strspn(s, "0123456789") == n;
}

static const char *
next_part(const char **p, const char *end)
{
	const char *s = *p;

	if (s >= end)
		return NULL;
	*p = s + strlen(s) + 1;
	return s;
}

static void
check_request(const char *event, const char *ts, const char *type, const char *created,
    const char *payload, const unsigned char *key, size_t keylen)
{
	json_t *body, *want_data;
	unsigned char mac[32], got_mac[64];
	size_t got_len = 0, n;
	char *msg, want[160];
	const char *sig;
	int i;

	FUZZ_ASSERT(sent_req.nheaders == 4);
	for (i = 0; i < sent_req.nheaders; i++)
		FUZZ_CHECK("webhook-header-line", strpbrk(sent_req.headers[i], "\r\n") == NULL);
	FUZZ_ASSERT(strcmp(sent_req.headers[0], "Content-Type: application/json") == 0);
	snprintf(want, sizeof(want), "webhook-id: %s", event);
	FUZZ_ASSERT(strcmp(sent_req.headers[1], want) == 0);
	snprintf(want, sizeof(want), "webhook-timestamp: %s", ts);
	FUZZ_ASSERT(strcmp(sent_req.headers[2], want) == 0);

	/* the body */
	body = json_loads(sent_req.body, JSON_REJECT_DUPLICATES, NULL);
	want_data = json_loads(payload, 0, NULL);
	if (want_data == NULL)
		want_data = json_object();
	FUZZ_CHECK("webhook-body", json_is_object(body) && json_object_size(body) == 3 &&
	    json_is_string(json_object_get(body, "type")) &&
	    strcmp(json_string_value(json_object_get(body, "type")), type) == 0 &&
	    json_is_string(json_object_get(body, "timestamp")) &&
	    strcmp(json_string_value(json_object_get(body, "timestamp")), created) == 0 &&
	    json_equal(json_object_get(body, "data"), want_data));

	/* the signature */
	sig = sent_req.headers[3];
	FUZZ_ASSERT(strncmp(sig, "webhook-signature: v1,", 22) == 0);
	FUZZ_ASSERT(ref_base64(sig + 22, got_mac, sizeof(got_mac), &got_len) == 0);
	n = strlen(event) + strlen(ts) + strlen(sent_req.body) + 3;
	msg = fb_malloc(n);
	snprintf(msg, n, "%s.%s.%s", event, ts, sent_req.body);
	ref_hmac(key, keylen, msg, strlen(msg), mac);
	FUZZ_CHECK("webhook-signature", got_len == 32 && memcmp(got_mac, mac, 32) == 0);
	free(msg);
	json_decref(body);
	json_decref(want_data);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {
		"id", "channel", "attempts", "event_id", "event_type", "created", "payload",
		"now", "url", "secret", "email", "display_name", "title",
	};
	PGresAttDesc attrs[FB_ARRAY_LEN(names)];
	struct notify n;
	struct delivery *d = fb_calloc(1, sizeof(*d));
	char *copy = fuzz_cstr(data, size);
	const char *p = copy, *end = copy + size;      /* copy[size] is NUL */
	const char *secret, *payload, *type, *created, *event, *ts;
	unsigned char key[256];
	size_t keylen = 0, i;
	PGresult *r;
	int rc;
	bool key_ok;

	secret = next_part(&p, end + 1);
	payload = next_part(&p, end + 1);
	type = next_part(&p, end + 1);
	created = next_part(&p, end + 1);
	event = next_part(&p, end + 1);
	ts = next_part(&p, end + 1);
	if (secret == NULL)
		secret = "";
	if (payload == NULL)
		payload = "{}";
	if (type == NULL || !fuzz_utf8_ok((const unsigned char *)type, strlen(type)))
		type = "submission.decided";
	if (created == NULL || !fuzz_utf8_ok((const unsigned char *)created, strlen(created)))
		created = "2026-11-25T10:00:00.000000Z";
	if (event == NULL || !is_uuid(event))
		event = "0a7b3c1e-5d2f-4e6a-9b8c-7d6e5f4a3b2c";
	if (ts == NULL || !is_digits(ts))
		ts = "1795608000";
	if (!fuzz_utf8_ok((const unsigned char *)payload, strlen(payload)))
		payload = "{}";         /* jsonb text is UTF-8 */

	memset(attrs, 0, sizeof(attrs));
	for (i = 0; i < FB_ARRAY_LEN(names); i++) {
		attrs[i].name = (char *)names[i];
		attrs[i].typid = 25;    /* text */
		attrs[i].typlen = -1;
		attrs[i].atttypmod = -1;
	}
	r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	FUZZ_ASSERT(r != NULL && PQsetResultAttrs(r, (int)FB_ARRAY_LEN(names), attrs));
#define SET(col, v) FUZZ_ASSERT(PQsetvalue(r, 0, col, (char *)(v), (int)strlen(v)))
	SET(CL_ID, "5e1f0c2a-8b3d-4c7e-a6f9-1d2e3f4a5b6c");
	SET(CL_CHANNEL, "webhook");
	SET(CL_ATTEMPTS, "1");
	SET(CL_EVENT, event);
	SET(CL_TYPE, type);
	SET(CL_CREATED, created);
	SET(CL_PAYLOAD, payload);
	SET(CL_NOW, ts);
	SET(CL_URL, "http://127.0.0.1:9/hook");
	SET(CL_SECRET, secret);
#undef SET
	FUZZ_ASSERT(PQsetvalue(r, 0, CL_EMAIL, NULL, -1) && PQsetvalue(r, 0, CL_NAME, NULL, -1) &&
	    PQsetvalue(r, 0, CL_TITLE, NULL, -1));

	memset(&n, 0, sizeof(n));
	memset(&sent_req, 0, sizeof(sent_req));
	d->n = &n;
	rc = webhook_send(&n, d, r, 0);

	FUZZ_ASSERT(sent_req.calls == (rc == 0 ? 1 : 0));
	key_ok = strncmp(secret, "whsec_", 6) == 0 &&
	    ref_base64(secret + 6, key, 128, &keylen) == 0;
	if (fuzz_ascii(secret)) {
		FUZZ_CHECK("webhook-secret", (rc == 0) == key_ok);
	} else if (rc == 0 && !key_ok) {
		/*
		 * libsodium 1.0.18's base64 reader takes bytes >= 0x80 as
		 * digits; the server only stores secrets it made (ASCII), so
		 * such a secret is left open, and signed with what it decodes to.
		 */
		key_ok = sodium_base642bin(key, 128, secret + 6, strlen(secret + 6), NULL,
		    &keylen, NULL, sodium_base64_VARIANT_ORIGINAL) == 0;
	}
	if (rc == 0 && key_ok)
		check_request(event, ts, type, created, payload, key, keylen);

	for (i = 0; i < (size_t)sent_req.nheaders; i++)
		free(sent_req.headers[i]);
	free(sent_req.body);
	PQclear(r);
	free(d);
	free(copy);
	return 0;
}
