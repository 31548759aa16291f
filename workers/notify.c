/*
 * notify.c: a run is a state machine, FANOUT then CLAIM then IDLE, with one
 * transition function (run_step). Sends finish on their own; each records
 * its outcome in a small job of its own and kicks another run, so freed
 * capacity is used at once.
 */
#include "fb.h"

#include <math.h>
#include <time.h>

#include <sodium.h>

#include "config.h"
#include "crypto.h"
#include "currency.h"
#include "db.h"
#include "log.h"
#include "notify.h"
#include "sender.h"

#define FANOUT_BATCH 500
#define FANOUT_BATCH_TEXT "500"
#define BACKOFF_CAP_S 3600.0

enum nt_state { NT_IDLE, NT_FANOUT, NT_CLAIM };

struct notify {
	struct db_pool *pool;
	struct sender *sender;
	enum nt_state state;
	bool again;                 /* kicked during a run: run once more */
	bool fanout_full;           /* the last fan-out batch was full: another */
	bool stopping;              /* no new runs; sends in flight finish */
	int recording;              /* outcome jobs not yet done */
	int concurrency;
	long lease_s, max_attempts, backoff_ms;
	char *mail_from;
};

struct delivery {
	struct notify *n;
	char id[CRYPTO_UUID_LEN];
	int attempts;
};

/* New events become deliveries; the events are then marked dispatched. */
static const char SQL_FANOUT[] =
	"WITH ev AS ("
	"  SELECT id, event_id, event_type, program_id, payload FROM outbox"
	"   WHERE dispatched_at IS NULL ORDER BY id LIMIT " FANOUT_BATCH_TEXT
	"     FOR UPDATE SKIP LOCKED),"
	" hooks AS ("
	"  INSERT INTO deliveries (id, event_id, channel, webhook_id)"
	"  SELECT gen_random_uuid(), ev.event_id, 'webhook', w.id FROM ev"
	"    JOIN webhooks w ON w.program_id = ev.program_id AND w.disabled_at IS NULL"
	"     AND ev.event_type = ANY (w.events)"
	"  ON CONFLICT DO NOTHING RETURNING 1),"
	" mails AS ("
	"  INSERT INTO deliveries (id, event_id, channel, user_id)"
	"  SELECT gen_random_uuid(), ev.event_id, 'email', r.id FROM ev,"
	"         notification_recipients(ev.event_type, ev.program_id, ev.payload) AS r (id)"
	"  ON CONFLICT DO NOTHING RETURNING 1),"
	" done AS ("
	"  UPDATE outbox o SET dispatched_at = now() FROM ev WHERE o.id = ev.id RETURNING 1)"
	" SELECT (SELECT count(*) FROM done), (SELECT count(*) FROM hooks),"
	"        (SELECT count(*) FROM mails)";
enum { FANOUT_EVENTS, FANOUT_WEBHOOKS, FANOUT_EMAILS };

/* $1 how many, $2 lease seconds. A lapsed in-flight delivery is due again. */
static const char SQL_CLAIM[] =
	"WITH c AS ("
	"  SELECT id FROM deliveries"
	"   WHERE (status = 'pending' OR (status = 'in_flight' AND locked_until < now()))"
	"     AND next_attempt_at <= now()"
	"   ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)"
	" UPDATE deliveries d SET status = 'in_flight', attempts = d.attempts + 1,"
	"        locked_until = now() + make_interval(secs => $2::int)"
	"   FROM c, outbox o WHERE d.id = c.id AND o.event_id = d.event_id"
	" RETURNING d.id, d.channel, d.attempts, d.event_id, o.event_type,"
	"   rfc3339(o.created_at), o.payload::text, extract(epoch FROM now())::bigint,"
	"   (SELECT url FROM webhooks w WHERE w.id = d.webhook_id),"
	"   (SELECT secret FROM webhooks w WHERE w.id = d.webhook_id),"
	"   (SELECT email FROM users u WHERE u.id = d.user_id),"
	"   (SELECT display_name FROM users u WHERE u.id = d.user_id),"
	"   (SELECT title FROM submissions s"
	"     WHERE s.id = (o.payload ->> 'submission_id')::uuid)";
enum {
	CL_ID, CL_CHANNEL, CL_ATTEMPTS, CL_EVENT, CL_TYPE, CL_CREATED, CL_PAYLOAD, CL_NOW,
	CL_URL, CL_SECRET, CL_EMAIL, CL_NAME, CL_TITLE,
};

static const char SQL_DELIVERED[] =
	"UPDATE deliveries SET status = 'delivered', delivered_at = now(), last_status = $2,"
	"       last_error = NULL, locked_until = NULL WHERE id = $1";

static const char SQL_FAILED[] =
	"UPDATE deliveries SET status = CASE WHEN attempts >= $4 THEN 'dead' ELSE 'pending' END,"
	"       next_attempt_at = now() + make_interval(secs => $5::float8),"
	"       last_status = $2, last_error = left($3, 1000), locked_until = NULL"
	" WHERE id = $1";

static void run_step(struct notify *n);

/* ---- composing ---- */

/* User text in a header: one line, no controls, bounded. */
static void
one_line(char *out, size_t outlen, const char *s)
{
	size_t o = 0;

	for (; s && *s && o + 1 < outlen; s++)
		out[o++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? ' ' : *s;
	out[o] = '\0';
}

/* RFC 2047 for a header value that is not plain ASCII. */
static char *
header_text(const char *s)
{
	const unsigned char *p;
	size_t n = strlen(s), len;
	char *out;

	for (p = (const unsigned char *)s; *p && *p < 0x80; p++)
		;
	if (*p == '\0')
		return fb_strdup(s);
	len = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	out = fb_malloc(len + 16);
	memcpy(out, "=?UTF-8?B?", 10);
	sodium_bin2base64(out + 10, len, (const unsigned char *)s, n,
	    sodium_base64_VARIANT_ORIGINAL);
	strcat(out, "?=");
	return out;
}

static void
money(char *out, size_t outlen, const json_t *amount, const json_t *currency)
{
	long long v = json_is_string(amount) ? strtoll(json_string_value(amount), NULL, 10) :
	    json_integer_value(amount);
	const char *cur = json_string_value(currency) ? json_string_value(currency) : "";
	int e = currency_exponent(cur);
	long long unit = 1;
	int i;

	if (e <= 0) {
		snprintf(out, outlen, "%lld %s", v, cur);
		return;
	}
	for (i = 0; i < e; i++)
		unit *= 10;
	snprintf(out, outlen, e == 1 ? "%s%lld.%01lld %s" : e == 2 ? "%s%lld.%02lld %s" :
	    "%s%lld.%03lld %s", v < 0 ? "-" : "", llabs(v) / unit, llabs(v) % unit, cur);
}

static const struct {
	const char *type;
	const char *subject;
} subjects[] = {
	{ "enrollment.created", "You are enrolled" },
	{ "terms.published", "The program's terms changed: please read and accept them" },
	{ "submission.created", "Submission received" },
	{ "submission.decided", "A decision on your submission" },
	{ "submission.deemed_approved",
	  "Your submission is approved: the review deadline passed" },
	{ "submission.appealed", "An appeal is waiting for a reviewer" },
	{ "review.sla_warning", "A review deadline is near" },
	{ "accrual.posted", "You earned a payment" },
	{ "payout.approved", "A payout was approved" },
	{ "payout.paid", "Your payout was sent" },
	{ "payout.failed", "Your payout failed" },
	{ "license.requested",
	  "A license to use your work is requested: accept or decline it" },
};

/* "Label: value" with the value's line breaks turned into CRLF and an indent. */
static void
fact(FILE *f, const char *label, const char *value)
{
	const char *c;

	if (value == NULL || *value == '\0')
		return;
	fprintf(f, "%s: ", label);
	for (c = value; *c; c++) {
		if (*c == '\n')
			fputs("\r\n  ", f);
		else if (*c != '\r')
			fputc(*c, f);
	}
	fputs("\r\n", f);
}

static const char *
str(const json_t *o, const char *name)
{
	return json_string_value(json_object_get(o, name));
}

char *
notify_compose_mail(const char *from, const char *to, const char *name,
    const char *event_type, const char *event_id, const char *delivery_id,
    const char *payload_json, const char *title)
{
	json_t *p = json_loads(payload_json, 0, NULL);
	const json_t *k;
	const char *subject = event_type;
	char line[600], safe_name[128], date[64], buf[512], *subj, *out = NULL;
	size_t i, outlen;
	time_t now = time(NULL);
	struct tm tm;
	FILE *f;

	for (i = 0; i < FB_ARRAY_LEN(subjects); i++)
		if (strcmp(subjects[i].type, event_type) == 0)
			subject = subjects[i].subject;
	if (title != NULL && *title)
		snprintf(buf, sizeof(buf), "%s: %s", subject, title);
	else
		snprintf(buf, sizeof(buf), "%s", subject);
	one_line(line, sizeof(line), buf);
	subj = header_text(line);
	one_line(safe_name, sizeof(safe_name), name);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);

	f = open_memstream(&out, &outlen);
	fprintf(f, "From: fairbeta <%s>\r\nTo: <%s>\r\nSubject: [fairbeta] %s\r\n"
	    "Date: %s\r\nMessage-ID: <%s@fairbeta>\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\n", from, to, subj, date, delivery_id);
	fprintf(f, "Hello %s,\r\n\r\n%s.\r\n\r\n", safe_name, subject);
	if (title != NULL) {
		snprintf(buf, sizeof(buf), "%s (%s)", title, str(p, "submission_id"));
		fact(f, "Submission", buf);
	}
	fact(f, "Decision", str(p, "outcome"));
	fact(f, "Reason", str(p, "reason"));
	if (json_array_size(json_object_get(p, "clause_keys")) > 0) {
		fputs("Clauses cited: ", f);
		json_array_foreach(json_object_get(p, "clause_keys"), i, k)
			fprintf(f, "%s%s", i ? ", " : "", json_string_value(k));
		fputs("\r\n", f);
	}
	if (json_object_get(p, "amount_minor") != NULL) {
		money(buf, sizeof(buf), json_object_get(p, "amount_minor"),
		    json_object_get(p, "currency"));
		fact(f, "Amount", buf);
	}
	fact(f, "Use", str(p, "use"));
	fact(f, "Scope", str(p, "scope"));
	if (json_object_get(p, "fee_minor") != NULL) {
		money(buf, sizeof(buf), json_object_get(p, "fee_minor"),
		    json_object_get(p, "currency"));
		fact(f, "Fee", buf);
	}
	fact(f, "License request", str(p, "request_id"));
	if (strcmp(event_type, "license.requested") == 0)
		fact(f, "Answer by", str(p, "expires_at"));
	fact(f, "Review due", str(p, "review_due_at"));
	fact(f, "External reference", str(p, "external_ref"));
	fact(f, "Program", str(p, "program_id"));
	snprintf(buf, sizeof(buf), "%s %s", event_type, event_id);
	fact(f, "Event", buf);
	fputs("\r\nYou can turn these emails off per event with "
	    "PUT /v1/me/notification-preferences.\r\n", f);
	fclose(f);
	free(subj);
	json_decref(p);
	return out;
}

/* ---- sending ---- */

static void
recorded(struct db_job *job, enum db_status st, void *arg)
{
	struct notify *n = arg;

	n->recording--;
	if (st != DB_OK)
		log_error(NULL, "notify: recording a delivery failed: %s %s", db_status_str(st),
		    db_job_errmsg(job));
	notify_kick(n);
}

/* base * 2^(attempts-1), +-20% jitter, capped. */
static double
backoff_s(const struct notify *n, int attempts)
{
	double d = (double)n->backoff_ms / 1000.0 * pow(2.0, attempts > 1 ? attempts - 1 : 0);
	double jitter = 0.8 + 0.4 * (double)randombytes_uniform(10001) / 10000.0;

	d *= jitter;
	return d > BACKOFF_CAP_S ? BACKOFF_CAP_S : d;
}

static void
sent(void *arg, bool ok, long status, const char *error)
{
	struct delivery *d = arg;
	struct notify *n = d->n;
	struct db_job *job = db_job_new(0);
	char code[16], attempts[16], delay[32];

	snprintf(code, sizeof(code), "%ld", status);
	if (ok) {
		db_job_add(job, NULL, SQL_DELIVERED, d->id, status ? code : NULL);
	} else {
		snprintf(attempts, sizeof(attempts), "%ld", n->max_attempts);
		snprintf(delay, sizeof(delay), "%.3f", backoff_s(n, d->attempts));
		db_job_add(job, NULL, SQL_FAILED, d->id, status ? code : NULL,
		    error ? error : "failed", attempts, delay);
		log_info(NULL, "notify: delivery %s attempt %d failed: %s", d->id, d->attempts,
		    error ? error : "failed");
	}
	if (db_submit(n->pool, job, recorded, n) == DB_OK)
		n->recording++;
	else
		log_warn(NULL, "notify: cannot record delivery %s; its lease will bring it back",
		    d->id);
	free(d);
}

static int
webhook_send(struct notify *n, struct delivery *d, const PGresult *r, int row)
{
	const char *event = PQgetvalue(r, row, CL_EVENT), *ts = PQgetvalue(r, row, CL_NOW);
	const char *secret = PQgetvalue(r, row, CL_SECRET);
	unsigned char key[128], mac[crypto_auth_hmacsha256_BYTES];
	char sig[128], h_id[96], h_ts[64], h_sig[160], *body, *msg;
	const char *headers[5];
	size_t keylen = 0;
	crypto_auth_hmacsha256_state st;
	json_t *payload = json_loads(PQgetvalue(r, row, CL_PAYLOAD), 0, NULL), *doc;
	int rc;

	doc = json_pack("{s:s, s:s, s:o}", "type", PQgetvalue(r, row, CL_TYPE),
	    "timestamp", PQgetvalue(r, row, CL_CREATED), "data",
	    payload ? payload : json_object());
	body = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (strncmp(secret, "whsec_", 6) != 0 ||
	    sodium_base642bin(key, sizeof(key), secret + 6, strlen(secret + 6), NULL, &keylen,
	    NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
		free(body);
		return -1;
	}
	msg = NULL;
	if (asprintf(&msg, "%s.%s.%s", event, ts, body) < 0)
		fb_fatal("out of memory");
	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, (unsigned char *)msg, strlen(msg));
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(key, sizeof(key));
	sodium_bin2base64(sig, sizeof(sig), mac, sizeof(mac), sodium_base64_VARIANT_ORIGINAL);
	snprintf(h_id, sizeof(h_id), "webhook-id: %s", event);
	snprintf(h_ts, sizeof(h_ts), "webhook-timestamp: %s", ts);
	snprintf(h_sig, sizeof(h_sig), "webhook-signature: v1,%s", sig);
	headers[0] = "Content-Type: application/json";
	headers[1] = h_id;
	headers[2] = h_ts;
	headers[3] = h_sig;
	headers[4] = NULL;
	rc = sender_post(n->sender, PQgetvalue(r, row, CL_URL), headers, body, sent, d);
	free(msg);
	free(body);
	return rc;
}

static int
mail_send(struct notify *n, struct delivery *d, const PGresult *r, int row)
{
	char *msg = notify_compose_mail(n->mail_from, PQgetvalue(r, row, CL_EMAIL),
	    PQgetvalue(r, row, CL_NAME), PQgetvalue(r, row, CL_TYPE),
	    PQgetvalue(r, row, CL_EVENT), d->id, PQgetvalue(r, row, CL_PAYLOAD),
	    PQgetisnull(r, row, CL_TITLE) ? NULL : PQgetvalue(r, row, CL_TITLE));
	int rc = sender_mail(n->sender, PQgetvalue(r, row, CL_EMAIL), msg, sent, d);

	free(msg);
	return rc;
}

static int
claimed_step(struct db_job *job, const PGresult *res, void *arg)
{
	struct notify *n = arg;
	int i;

	FB_UNUSED(job);
	for (i = 0; i < PQntuples(res); i++) {
		struct delivery *d = fb_calloc(1, sizeof(*d));
		bool hook = strcmp(PQgetvalue(res, i, CL_CHANNEL), "webhook") == 0;

		d->n = n;
		snprintf(d->id, sizeof(d->id), "%.36s", PQgetvalue(res, i, CL_ID));
		d->attempts = atoi(PQgetvalue(res, i, CL_ATTEMPTS));
		if ((hook ? webhook_send(n, d, res, i) : mail_send(n, d, res, i)) != 0)
			sent(d, false, 0, "the delivery could not be started");
	}
	return 0;
}

/* ---- runs ---- */

static int
fanout_step(struct db_job *job, const PGresult *res, void *arg)
{
	struct notify *n = arg;
	long events = strtol(PQgetvalue(res, 0, FANOUT_EVENTS), NULL, 10);

	FB_UNUSED(job);
	if (events > 0)
		log_info(NULL, "notify: %ld events, %s webhook and %s email deliveries", events,
		    PQgetvalue(res, 0, FANOUT_WEBHOOKS), PQgetvalue(res, 0, FANOUT_EMAILS));
	n->fanout_full = events >= FANOUT_BATCH;
	return 0;
}

static void
step_done(struct db_job *job, enum db_status st, void *arg)
{
	struct notify *n = arg;

	if (st != DB_OK)
		log_error(NULL, "notify: %s failed: %s %s",
		    n->state == NT_FANOUT ? "fan-out" : "claim", db_status_str(st),
		    db_job_errmsg(job));
	if (n->state == NT_FANOUT)
		n->state = st == DB_OK && n->fanout_full ? NT_FANOUT : NT_CLAIM;
	else
		n->state = NT_IDLE;
	run_step(n);
}

/* The one transition function. */
static void
run_step(struct notify *n)
{
	struct db_job *job;
	char limit[16], lease[16];
	int room = n->concurrency - sender_inflight(n->sender);

	if (n->stopping) {
		n->state = NT_IDLE;
		return;
	}
	if (n->state == NT_IDLE) {
		if (!n->again)
			return;
		n->again = false;
		n->state = NT_FANOUT;
	}
	job = db_job_new(n->state == NT_FANOUT ? DB_TX : 0);
	if (n->state == NT_FANOUT) {
		db_job_add(job, fanout_step, SQL_FANOUT);
	} else {
		if (room <= 0) {
			db_job_free(job);
			n->state = NT_IDLE;
			return;       /* a finishing send kicks the next run */
		}
		snprintf(limit, sizeof(limit), "%d", room);
		snprintf(lease, sizeof(lease), "%ld", n->lease_s);
		db_job_add(job, claimed_step, SQL_CLAIM, limit, lease);
	}
	if (db_submit(n->pool, job, step_done, n) != DB_OK) {
		log_warn(NULL, "notify: the database is busy or down; trying again next tick");
		n->state = NT_IDLE;
	}
}

void
notify_kick(struct notify *n)
{
	n->again = true;
	if (n->state == NT_IDLE)
		run_step(n);
}

bool
notify_busy(const struct notify *n)
{
	return n->state != NT_IDLE || sender_inflight(n->sender) > 0 || n->recording > 0;
}

void
notify_stop(struct notify *n)
{
	n->stopping = true;
}

struct notify *
notify_new(struct db_pool *pool, struct sender *sender, const struct config *cfg)
{
	struct notify *n = fb_calloc(1, sizeof(*n));

	n->pool = pool;
	n->sender = sender;
	n->state = NT_IDLE;
	n->concurrency = (int)cfg->delivery_concurrency;
	n->lease_s = cfg->delivery_lease_s;
	n->max_attempts = cfg->delivery_max_attempts;
	n->backoff_ms = cfg->delivery_backoff_ms;
	n->mail_from = fb_strdup(cfg->mail_from);
	return n;
}

void
notify_free(struct notify *n)
{
	if (n == NULL)
		return;
	free(n->mail_from);
	free(n);
}
