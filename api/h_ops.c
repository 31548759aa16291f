/*
 * h_ops.c: liveness, readiness, metrics and the OpenAPI document.
 */
#include "fb.h"

#include <event2/buffer.h>

#include "handlers.h"
#include "metrics.h"
#include "migrate.h"
#include "loop.h"
#include "replica.h"

extern const char *const fb_openapi_json;
extern const size_t fb_openapi_json_len;

void
h_healthz(struct reqctx *rc)
{
	reply_json(rc, 200, json_pack("{s:s}", "status", "ok"));
}

/*
 * The replica's part of readiness, as detail only: a lagging or lost
 * replica sends its reads to the primary and never makes the API unready.
 */
static json_t *
replica_detail(struct reqctx *rc)
{
	long lag = replica_lag_ms(rc->loop->replica);
	long max = rc->loop->srv->cfg->replica_max_lag_ms;

	if (rc->loop->replica == NULL)
		return json_pack("{s:b}", "configured", false);
	return json_pack("{s:b, s:o, s:I, s:s}", "configured", true,
	    "lag_ms", lag < 0 ? json_null() : json_integer(lag), "max_lag_ms", (json_int_t)max,
	    "reads_go_to", lag >= 0 && lag <= max ? "replica" : "primary");
}

static void
readyz_done(struct reqctx *rc, struct db_job *job, enum db_status st)
{
	const char *migrations = "unknown", *database = "ok";
	enum migrate_state ms;

	if (st == DB_SQL_ERROR && strcmp(db_job_sqlstate(job), "42P01") == 0) {
		migrations = "pending";       /* schema_migrations does not exist yet */
	} else if (st != DB_OK) {
		database = "unreachable";
	} else {
		ms = migrate_compare(db_job_result(job, 0));
		migrations = ms == MIGRATE_CURRENT ? "current" :
		    ms == MIGRATE_PENDING ? "pending" : "mismatch";
	}
	if (strcmp(database, "ok") == 0 && strcmp(migrations, "current") == 0) {
		reply_json(rc, 200, json_pack("{s:s, s:s, s:s, s:o}", "status", "ready",
		    "database", database, "migrations", migrations, "replica", replica_detail(rc)));
		return;
	}
	req_set_header(rc, "Retry-After", "2");
	reply_problem_ext(rc, 503, "not-ready",
	    json_pack("{s:s, s:s, s:o}", "database", database, "migrations", migrations,
	    "replica", replica_detail(rc)),
	    strcmp(database, "ok") != 0 ? "the database does not answer" :
	    "the database schema is not the one this server was built for; run fairbeta migrate");
}

/* 200 only when the database answers and has exactly this build's migrations. */
void
h_readyz(struct reqctx *rc)
{
	struct db_job *job = db_job_new(0);

	db_job_add(job, NULL, MIGRATE_SELECT);
	req_db_any(rc, job, readyz_done);
}

void
h_openapi(struct reqctx *rc)
{
	struct evbuffer *buf = evbuffer_new();

	evbuffer_add_reference(buf, fb_openapi_json, fb_openapi_json_len, NULL, NULL);
	reply_text(rc, 200, "application/json", buf);
	evbuffer_free(buf);
}

static const char SQL_BACKLOG[] =
	"SELECT count(*) FROM outbox WHERE dispatched_at IS NULL";
enum { BL_COUNT };

static void
metrics_done(struct reqctx *rc, struct db_job *job, enum db_status st)
{
	struct evbuffer *buf = evbuffer_new();

	metrics_render(buf, rc->loop->srv);
	evbuffer_add_printf(buf,
	    "# HELP fairbeta_db_up Whether the metrics query reached the database.\n"
	    "# TYPE fairbeta_db_up gauge\nfairbeta_db_up %d\n", st == DB_OK);
	if (st == DB_OK)
		evbuffer_add_printf(buf,
		    "# HELP fairbeta_outbox_backlog Events not yet handed to delivery.\n"
		    "# TYPE fairbeta_outbox_backlog gauge\nfairbeta_outbox_backlog %s\n",
		    PQgetvalue(db_job_result(job, 0), 0, BL_COUNT));
	reply_text(rc, 200, "text/plain; version=0.0.4; charset=utf-8", buf);
	evbuffer_free(buf);
}

void
h_metrics(struct reqctx *rc)
{
	struct db_job *job = db_job_new(0);

	db_job_add(job, NULL, SQL_BACKLOG);
	req_db_any(rc, job, metrics_done);
}
