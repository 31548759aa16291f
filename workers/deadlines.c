/*
 * deadlines.c: one run is a small state machine, DEEM, then WARN, then
 * PURGE (Idempotency-Key records past 48 hours), each state repeating its
 * batch while batches come back full, then DONE.
 *
 * The audit rows and outbox events here are written set-wise by the batch
 * statement itself (the worker acts as the system: actor NULL), in the same
 * transaction as the change.
 */
#include "fb.h"

#include "crypto.h"
#include "db.h"
#include "deadlines.h"
#include "log.h"

#define BATCH 200
#define BATCH_TEXT "200"

enum dl_state { DL_DEEM, DL_WARN, DL_PURGE, DL_DONE };

struct run {
	struct db_pool *pool;
	enum dl_state state;
	struct deadlines_stats stats;
	char request_id[48];
	deadlines_done_fn *done;
	void *arg;
};

static const char SQL_DEEM[] =
	"WITH due AS ("
	"  SELECT id FROM submissions"
	"   WHERE status IN ('pending', 'in_review', 'appealed') AND review_due_at <= now()"
	"   ORDER BY review_due_at LIMIT " BATCH_TEXT " FOR UPDATE SKIP LOCKED),"
	" deemed AS ("
	"  UPDATE submissions s SET status = 'deemed_approved', decided_at = now(),"
	"         claimed_by = NULL, claimed_at = NULL, lease_expires_at = NULL,"
	"         updated_at = now()"
	"    FROM due WHERE s.id = due.id"
	"  RETURNING s.id, s.program_id, s.artist_id, s.appealed_at IS NOT NULL AS on_appeal,"
	"            s.review_due_at),"
	" decided AS ("
	"  INSERT INTO decisions (submission_id, outcome, on_appeal)"
	"  SELECT id, 'deemed_approved', on_appeal FROM deemed),"
	" audited AS ("
	"  INSERT INTO audit_log (action, entity_type, entity_id, after, request_id)"
	"  SELECT 'submission.deemed_approve', 'submission', id::text,"
	"         jsonb_build_object('status', 'deemed_approved',"
	"                            'review_due_at', rfc3339(review_due_at)), $1"
	"    FROM deemed),"
	" announced AS ("
	"  INSERT INTO outbox (event_id, event_type, program_id, entity_type, entity_id,"
	"                      payload, request_id)"
	"  SELECT gen_random_uuid(), 'submission.deemed_approved', program_id, 'submission',"
	"         id::text, jsonb_build_object('submission_id', id, 'program_id', program_id,"
	"         'artist_id', artist_id, 'outcome', 'deemed_approved', 'on_appeal', on_appeal,"
	"         'review_due_at', rfc3339(review_due_at)), $1"
	"    FROM deemed)"
	" SELECT coalesce(array_agg(id), '{}') FROM deemed";

/* A batch posts several artists' accruals: take all their accounts first,
 * in the ledger's one lock order, so no posting waits in a cycle (0007). */
static const char SQL_LEDGER_LOCK[] =
	"SELECT ledger_lock_accruals($1::uuid[])";

/* The one place a deemed approval reaches the ledger (ids from SQL_DEEM). */
static const char SQL_LEDGER_ACCEPTED[] =
	"SELECT count(ledger_on_accepted(id, $2)) FROM unnest($1::uuid[]) AS id";

static const char SQL_WARN[] =
	"WITH due AS ("
	"  SELECT id FROM submissions"
	"   WHERE status IN ('pending', 'in_review', 'appealed') AND sla_warned_at IS NULL"
	"     AND review_warn_at <= now() AND review_due_at > now()"
	"   ORDER BY review_warn_at LIMIT " BATCH_TEXT " FOR UPDATE SKIP LOCKED),"
	" warned AS ("
	"  UPDATE submissions s SET sla_warned_at = now()"
	"    FROM due WHERE s.id = due.id"
	"  RETURNING s.id, s.program_id, s.status, s.claimed_by, s.review_due_at),"
	" audited AS ("
	"  INSERT INTO audit_log (action, entity_type, entity_id, after, request_id)"
	"  SELECT 'submission.sla_warn', 'submission', id::text,"
	"         jsonb_build_object('sla_warned', true), $1 FROM warned),"
	" announced AS ("
	"  INSERT INTO outbox (event_id, event_type, program_id, entity_type, entity_id,"
	"                      payload, request_id)"
	"  SELECT gen_random_uuid(), 'review.sla_warning', program_id, 'submission', id::text,"
	"         jsonb_build_object('submission_id', id, 'program_id', program_id,"
	"         'status', status, 'reviewer_id', claimed_by,"
	"         'review_due_at', rfc3339(review_due_at)), $1"
	"    FROM warned)"
	" SELECT count(*) FROM warned";

/* Idempotency keys are kept 24 hours at least; older ones go, in batches. */
static const char SQL_PURGE[] =
	"WITH old AS (SELECT user_id, key FROM idempotency_keys"
	"              WHERE created_at < now() - interval '48 hours'"
	"              LIMIT " BATCH_TEXT " FOR UPDATE SKIP LOCKED)"
	" DELETE FROM idempotency_keys k USING old"
	"  WHERE k.user_id = old.user_id AND k.key = old.key";

static void run_step(struct run *r);

/* Counts the deemed ids and hands them to the ledger in the same transaction. */
static int
deemed_step(struct db_job *job, const PGresult *res, void *arg)
{
	struct run *r = arg;
	const char *ids = PQgetvalue(res, 0, 0);
	long n = 0;
	const char *p;

	if (strcmp(ids, "{}") != 0)
		for (n = 1, p = ids; *p; p++)
			n += *p == ',';
	r->stats.deemed += n;
	if (n > 0) {
		db_job_add(job, NULL, SQL_LEDGER_LOCK, ids);
		db_job_add(job, NULL, SQL_LEDGER_ACCEPTED, ids, r->request_id);
	}
	if (n < BATCH)
		r->state = DL_WARN;
	return 0;
}

static int
warned_step(struct db_job *job, const PGresult *res, void *arg)
{
	struct run *r = arg;
	long n = strtol(PQgetvalue(res, 0, 0), NULL, 10);

	FB_UNUSED(job);
	r->stats.warned += n;
	if (n < BATCH)
		r->state = DL_PURGE;
	return 0;
}

static int
purged_step(struct db_job *job, const PGresult *res, void *arg)
{
	struct run *r = arg;

	FB_UNUSED(job);
	if (strtol(PQcmdTuples((PGresult *)res), NULL, 10) < BATCH)
		r->state = DL_DONE;
	return 0;
}

static void
batch_done(struct db_job *job, enum db_status st, void *arg)
{
	struct run *r = arg;

	if (st != DB_OK) {
		log_error(NULL, "deadlines: batch failed: %s %s %s", db_status_str(st),
		    db_job_sqlstate(job), db_job_errmsg(job));
		r->stats.failures++;
		r->state = r->state == DL_DEEM ? DL_WARN : r->state == DL_WARN ? DL_PURGE : DL_DONE;
	}
	run_step(r);
}

/* The one transition function: submit the current state's batch, or finish. */
static void
run_step(struct run *r)
{
	struct db_job *job;
	enum db_status st;

	if (r->state == DL_DONE) {
		if (r->stats.deemed || r->stats.warned)
			log_info(NULL, "deadlines: %ld deemed approved, %ld warned",
			    r->stats.deemed, r->stats.warned);
		r->done(&r->stats, r->arg);
		free(r);
		return;
	}
	job = db_job_new(DB_TX | DB_RETRY);
	if (r->state == DL_DEEM)
		db_job_add(job, deemed_step, SQL_DEEM, r->request_id);
	else if (r->state == DL_WARN)
		db_job_add(job, warned_step, SQL_WARN, r->request_id);
	else
		db_job_add(job, purged_step, SQL_PURGE);
	st = db_submit(r->pool, job, batch_done, r);
	if (st != DB_OK) {
		log_warn(NULL, "deadlines: database %s; trying again next tick", db_status_str(st));
		r->stats.failures++;
		r->state = DL_DONE;
		run_step(r);
	}
}

void
deadlines_run(struct db_pool *pool, deadlines_done_fn *done, void *arg)
{
	struct run *r = fb_calloc(1, sizeof(*r));
	char id[CRYPTO_UUID_LEN];

	crypto_uuid_new(id);
	snprintf(r->request_id, sizeof(r->request_id), "worker-%s", id);
	r->pool = pool;
	r->state = DL_DEEM;
	r->done = done;
	r->arg = arg;
	run_step(r);
}
