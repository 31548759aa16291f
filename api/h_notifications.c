/*
 * h_notifications.c: email preferences, webhook endpoints and their
 * deliveries. The sending itself is fairbeta-worker's (workers/notify.c).
 */
#include "fb.h"

#include <sodium.h>

#include "audit.h"
#include "crypto.h"
#include "events.h"
#include "handlers.h"
#include "program.h"
#include "jsonv.h"
#include "list.h"
#include "loop.h"
#include "repr.h"
#include "urlcheck.h"

#define SECRET_BYTES 32

static const struct jv_field prefs_fields[] = {
	{ "email", JV_OBJECT, JV_REQUIRED, 0, 0, NULL, NULL },
};
const struct jv_schema prefs_put_body = JV_SCHEMA(prefs_fields);

static const struct jv_field webhook_fields[] = {
	{ "program_id", JV_STRING, JV_REQUIRED, 36, 36, NULL, NULL },
	{ "url",        JV_STRING, JV_REQUIRED | JV_ONELINE, 1, 2048, NULL, NULL },
	{ "events",     JV_ARRAY,  JV_REQUIRED, 1, EVENT_NTYPES, NULL, NULL },
};
const struct jv_schema webhook_create_body = JV_SCHEMA(webhook_fields);

static const char SQL_PREFS[] =
	"SELECT coalesce(json_object_agg(event_type, email), '{}')"
	"  FROM notification_preferences WHERE user_id = $1";
enum { PREFS_OBJECT };

static const char SQL_PREF_SET[] =
	"INSERT INTO notification_preferences (user_id, event_type, email)"
	" SELECT $1, k, v::boolean FROM unnest($2::text[], $3::text[]) AS u (k, v)"
	" ON CONFLICT (user_id, event_type)"
	" DO UPDATE SET email = EXCLUDED.email, updated_at = now()";

static const char SQL_WEBHOOK_INSERT[] =
	"INSERT INTO webhooks (id, program_id, url, events, secret, created_by)"
	" SELECT $1, p.id, $2, $3::text[], $4, $5 FROM programs p WHERE p.id = $6"
	" RETURNING id, program_id, url, to_json(events), rfc3339(created_at)";
enum { WH_ID, WH_PROGRAM, WH_URL, WH_EVENTS, WH_CREATED_AT };

#define DELIVERY_JSON \
	"json_build_object('id', d.id, 'event_id', d.event_id, 'event_type', o.event_type," \
	" 'status', d.status, 'attempts', d.attempts, 'last_status', d.last_status," \
	" 'last_error', d.last_error, 'next_attempt_at', rfc3339(d.next_attempt_at)," \
	" 'created_at', rfc3339(d.created_at), 'delivered_at', rfc3339(d.delivered_at))"

static const char SQL_WEBHOOK_EXISTS[] = "SELECT 1 FROM webhooks WHERE id = $1";

static const char SQL_DELIVERIES[] =
	"SELECT " DELIVERY_JSON ", d.seq FROM deliveries d JOIN outbox o ON o.event_id = d.event_id"
	" WHERE d.webhook_id = $1 AND ($2::text IS NULL OR d.status = $2)"
	"   AND ($3::bigint IS NULL OR d.seq < $3) ORDER BY d.seq DESC LIMIT $4";

static const char SQL_DELIVERY_LOCK[] =
	"SELECT status FROM deliveries WHERE id = $2 AND webhook_id = $1 FOR UPDATE";
enum { DL_STATUS };

static const char SQL_DELIVERY_RETRY[] =
	"UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(),"
	"       locked_until = NULL WHERE id = $1";

static const char SQL_DELIVERY_GET[] =
	"SELECT " DELIVERY_JSON " FROM deliveries d JOIN outbox o ON o.event_id = d.event_id"
	" WHERE d.id = $1";
enum { DG_DELIVERY };

static const char SQL_NOTIFY[] = "SELECT pg_notify('fairbeta_outbox', '')";

struct notif {
	int result;
	struct list_page page;
	char secret[64];
};

/* ---- GET/PUT /v1/me/notification-preferences ---- */

static void
prefs_read(struct reqctx *rc, struct db_job *job)
{
	struct notif *n = rc->h;
	json_t *stored, *email;
	const char *const *t;

	stored = repr_json(db_job_result(job, n->result), 0, PREFS_OBJECT);
	email = json_object();
	for (t = event_types; *t; t++) {
		json_t *v = json_object_get(stored, *t);

		json_object_set_new(email, *t, json_boolean(v == NULL || json_is_true(v)));
	}
	json_decref(stored);
	reply_json_etag(rc, 200, json_pack("{s:o}", "email", email));
}

static struct notif *
notif_new(struct reqctx *rc)
{
	struct notif *n = arena_alloc(rc->arena, sizeof(*n));

	memset(n, 0, sizeof(*n));
	n->result = -1;
	rc->h = n;
	return n;
}

void
h_prefs_get(struct reqctx *rc)
{
	struct notif *n = notif_new(rc);
	struct db_job *job = db_job_new(0);

	n->result = db_job_add(job, NULL, SQL_PREFS, rc->user.id);
	req_db(rc, job, prefs_read);
}

void
h_prefs_put(struct reqctx *rc)
{
	const json_t *email = json_object_get(rc->body, "email"), *v;
	json_t *errors = req_body_errors(rc);
	char *keys = arena_strdup(rc->arena, "{"), *vals = arena_strdup(rc->arena, "{");
	const char *k;
	struct notif *n;
	struct db_job *job;
	int i = 0;

	json_object_foreach((json_t *)email, k, v) {
		char *field = arena_printf(rc->arena, "email.%s", k);

		if (!event_type_known(k))
			jv_error(errors, field, "is not an event type");
		else if (!json_is_boolean(v))
			jv_error(errors, field, "must be true or false");
		else {
			keys = arena_printf(rc->arena, "%s%s%s", keys, i ? "," : "", k);
			vals = arena_printf(rc->arena, "%s%s%s", vals, i ? "," : "",
			    json_is_true(v) ? "true" : "false");
			i++;
		}
	}
	if (json_array_size(errors) > 0) {
		reply_invalid(rc, errors);
		return;
	}
	json_decref(errors);
	n = notif_new(rc);
	job = db_job_new(DB_TX);
	db_job_add(job, NULL, SQL_PREF_SET, rc->user.id, arena_printf(rc->arena, "%s}", keys),
	    arena_printf(rc->arena, "%s}", vals));
	audit_add(job, &(struct audit_entry){
		.actor_id = req_actor_id(rc), .actor_role = req_actor_role(rc),
		.action = "notification_preferences.update", .entity_type = "user",
		.entity_id = rc->user.id, .after = rc->body, .request_id = rc->log.request_id,
	});
	n->result = db_job_add(job, NULL, SQL_PREFS, rc->user.id);
	req_db(rc, job, prefs_read);
}

/* ---- POST /v1/webhooks ---- */

static int
webhook_inserted(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	json_t *after;

	if (program_step_found(job, res, arg) != 0)
		return -1;
	after = json_pack("{s:o, s:o, s:o}", "program_id", repr_str(res, 0, WH_PROGRAM),
	    "url", repr_str(res, 0, WH_URL), "events", repr_json(res, 0, WH_EVENTS));
	audit_add(job, &(struct audit_entry){
		.actor_id = req_actor_id(rc), .actor_role = req_actor_role(rc),
		.action = "webhook.create", .entity_type = "webhook",
		.entity_id = PQgetvalue(res, 0, WH_ID), .after = after,
		.request_id = rc->log.request_id,
	});
	json_decref(after);
	return 0;
}

static void
webhook_created(struct reqctx *rc, struct db_job *job)
{
	struct notif *n = rc->h;
	const PGresult *r = db_job_result(job, 0);

	req_set_header(rc, "Cache-Control", "no-store");
	reply_json(rc, 201, json_pack("{s:o, s:o, s:o, s:o, s:s, s:o}",
	    "id", repr_str(r, 0, WH_ID), "program_id", repr_str(r, 0, WH_PROGRAM),
	    "url", repr_str(r, 0, WH_URL), "events", repr_json(r, 0, WH_EVENTS),
	    "secret", n->secret, "created_at", repr_str(r, 0, WH_CREATED_AT)));
	sodium_memzero(n->secret, sizeof(n->secret));
}

void
h_webhook_create(struct reqctx *rc)
{
	const json_t *b = rc->body, *events = json_object_get(b, "events"), *e;
	const char *program = jv_str(b, "program_id"), *url = jv_str(b, "url"), *why;
	json_t *errors = req_body_errors(rc);
	unsigned char key[SECRET_BYTES];
	char id[CRYPTO_UUID_LEN], *list = arena_strdup(rc->arena, "{"), field[32];
	struct notif *n;
	struct db_job *job;
	size_t i;

	if (program && !crypto_uuid_valid(program))
		jv_error(errors, "program_id", "must be a UUID");
	if (url && (why = urlcheck_webhook(url,
	    rc->loop->srv->cfg->webhook_allow_private != 0)) != NULL)
		jv_error(errors, "url", why);
	json_array_foreach(events, i, e) {
		snprintf(field, sizeof(field), "events[%zu]", i);
		if (!json_is_string(e) || !event_type_known(json_string_value(e)))
			jv_error(errors, field, "is not an event type");
		else if (jv_repeats(events, i, NULL))
			jv_error(errors, field, "is listed twice");
		else
			list = arena_printf(rc->arena, "%s%s%s", list, i ? "," : "",
			    json_string_value(e));
	}
	if (json_array_size(errors) > 0) {
		reply_invalid(rc, errors);
		return;
	}
	json_decref(errors);
	n = notif_new(rc);
	randombytes_buf(key, sizeof(key));
	memcpy(n->secret, "whsec_", 6);
	sodium_bin2base64(n->secret + 6, sizeof(n->secret) - 6, key, sizeof(key),
	    sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(key, sizeof(key));
	crypto_uuid_new(id);
	job = db_job_new(DB_TX);
	db_job_add(job, webhook_inserted, SQL_WEBHOOK_INSERT, id, url,
	    arena_printf(rc->arena, "%s}", list), n->secret, rc->user.id, program);
	req_db(rc, job, webhook_created);
}

/* ---- GET /v1/webhooks ---- */

/* A webhook as listed: never its secret, which is shown once, at creation. */
static const char SQL_WEBHOOKS[] =
	"SELECT json_build_object('id', w.id, 'program_id', w.program_id, 'url', w.url,"
	"         'events', array_to_json(w.events), 'created_at', rfc3339(w.created_at),"
	"         'disabled_at', rfc3339(w.disabled_at)), w.seq FROM webhooks w"
	" WHERE ($1::uuid IS NULL OR w.program_id = $1) AND ($2::bigint IS NULL OR w.seq < $2)"
	" ORDER BY w.seq DESC LIMIT $3";
enum { WL_OBJECT, WL_SEQ };

void
h_webhook_list(struct reqctx *rc)
{
	static const char *const known[] = { "program_id", "limit", "cursor", NULL };
	static const struct list_filter filters[] = {
		{ "program_id", NULL, "must be a UUID" },
		{ NULL, NULL, NULL },
	};
	struct list_page *page = arena_alloc(rc->arena, sizeof(*page));
	struct db_job *job;

	if (!list_begin(rc, known, filters, NULL, page))
		return;
	job = db_job_new(0);
	db_job_add(job, NULL, SQL_WEBHOOKS, req_query(rc, "program_id"), page->cursor,
	    page->fetch);
	list_submit(rc, job, page, 0, WL_SEQ, repr_row_json);
}

/* ---- GET /v1/webhooks/:id/deliveries ---- */

static int
webhook_found(struct db_job *job, const PGresult *res, void *arg)
{
	FB_UNUSED(job);
	if (PQntuples(res) != 1)
		return req_refuse(req_of(arg), 404, "not-found", NULL, "no such webhook");
	return 0;
}

static void
deliveries_listed(struct reqctx *rc, struct db_job *job)
{
	struct notif *n = rc->h;

	reply_list(rc, job, 1, n->page.limit, 1, repr_row_json);
}

void
h_deliveries_list(struct reqctx *rc)
{
	static const char *const known[] = { "status", "limit", "cursor", NULL };
	static const char *const statuses[] = { "pending", "in_flight", "delivered", "dead", NULL };
	static const struct list_filter filters[] = {
		{ "status", statuses, "must be pending, in_flight, delivered or dead" },
		{ NULL, NULL, NULL },
	};
	const char *id = req_param_uuid(rc, 0);
	struct notif *n;
	struct db_job *job;

	if (id == NULL) {
		reply_problem(rc, 404, "not-found", "no such webhook");
		return;
	}
	n = notif_new(rc);
	if (!list_begin(rc, known, filters, NULL, &n->page))
		return;
	job = db_job_new(0);
	db_job_add(job, webhook_found, SQL_WEBHOOK_EXISTS, id);
	db_job_add(job, NULL, SQL_DELIVERIES, id, req_query(rc, "status"), n->page.cursor,
	    n->page.fetch);
	req_db(rc, job, deliveries_listed);
}

/* ---- POST /v1/webhooks/:id/deliveries/:d/retry ---- */

static int
delivery_locked(struct db_job *job, const PGresult *res, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct notif *n = rc->h;
	const char *d = req_param(rc, 1);
	json_t *after;

	if (PQntuples(res) != 1)
		return req_refuse(rc, 404, "not-found", NULL, "no such delivery");
	if (strcmp(PQgetvalue(res, 0, DL_STATUS), "dead") != 0)
		return req_refuse(rc, 409, "conflict", NULL,
		    "only a dead delivery is retried; this one is %s",
		    PQgetvalue(res, 0, DL_STATUS));
	db_job_add(job, NULL, SQL_DELIVERY_RETRY, d);
	db_job_add(job, NULL, SQL_NOTIFY);
	after = json_pack("{s:s}", "status", "pending");
	audit_add(job, &(struct audit_entry){
		.actor_id = req_actor_id(rc), .actor_role = req_actor_role(rc),
		.action = "delivery.retry", .entity_type = "delivery", .entity_id = d,
		.after = after, .request_id = rc->log.request_id,
	});
	json_decref(after);
	n->result = db_job_add(job, NULL, SQL_DELIVERY_GET, d);
	return 0;
}

static void
delivery_retried(struct reqctx *rc, struct db_job *job)
{
	struct notif *n = rc->h;

	reply_json(rc, 200, repr_json(db_job_result(job, n->result), 0, DG_DELIVERY));
}

void
h_delivery_retry(struct reqctx *rc)
{
	const char *id = req_param_uuid(rc, 0), *d = req_param_uuid(rc, 1);
	struct db_job *job;

	if (id == NULL || d == NULL) {
		reply_problem(rc, 404, "not-found", "no such delivery");
		return;
	}
	notif_new(rc);
	job = db_job_new(DB_TX);
	db_job_add(job, delivery_locked, SQL_DELIVERY_LOCK, id, d);
	req_db(rc, job, delivery_retried);
}
