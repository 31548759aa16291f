/*
 * deadlines.c: one run is a small state machine, DEEM, then WARN, then
 * EXPIRE (license requests left unanswered), then END (licenses whose until
 * has passed), then PURGE (Idempotency-Key records past 48 hours), each
 * state repeating its batch while batches come back full, then DONE.
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

/* A state's batch repeats while it comes back full, then the next state runs. */
enum dl_state { DL_DEEM, DL_WARN, DL_EXPIRE, DL_END, DL_PURGE, DL_DONE };

struct run {
	struct db_pool *pool;
	enum dl_state state;
	struct deadlines_stats stats;
	char request_id[48];
	long handled;                /* rows the batch in flight handled */
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
enum { DEEM_IDS };

/* A batch posts several artists' accruals: take all their accounts first,
 * in the ledger's one lock order, so no posting waits in a cycle (0007). */
static const char SQL_LEDGER_LOCK[] =
	"SELECT ledger_lock_accruals($1::uuid[])";

/* The one place a deemed approval reaches the ledger (ids from SQL_DEEM). */
static const char SQL_LEDGER_ACCEPTED[] =
	"SELECT count(ledger_on_accepted(id, $2)) FROM unnest($1::uuid[]) AS id";

/* WARN, EXPIRE and END answer one row: how many they handled. */
enum { BATCH_COUNT };

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

/* Silence is never consent: a request unanswered by expires_at expires. */
static const char SQL_EXPIRE[] =
	"WITH due AS ("
	"  SELECT id FROM license_requests"
	"   WHERE status = 'pending' AND expires_at <= now()"
	"   ORDER BY expires_at LIMIT " BATCH_TEXT " FOR UPDATE SKIP LOCKED),"
	" expired AS ("
	"  UPDATE license_requests r SET status = 'expired', decided_at = now()"
	"    FROM due WHERE r.id = due.id"
	"  RETURNING r.id, r.program_id, r.submission_id, r.artist_id, r.use, r.expires_at,"
	"            r.fee_minor, r.currency, r.scope),"
	" audited AS ("
	"  INSERT INTO audit_log (action, entity_type, entity_id, after, request_id)"
	"  SELECT 'license.expire', 'license_request', id::text,"
	"         jsonb_build_object('status', 'expired',"
	"                            'expires_at', rfc3339(expires_at)), $1 FROM expired),"
	" announced AS ("
	"  INSERT INTO outbox (event_id, event_type, program_id, entity_type, entity_id,"
	"                      payload, request_id)"
	"  SELECT gen_random_uuid(), 'license.expired', program_id, 'license_request', id::text,"
	"         jsonb_build_object('request_id', id, 'program_id', program_id,"
	"         'submission_id', submission_id, 'artist_id', artist_id, 'use', use,"
	"         'status', 'expired', 'fee_minor', fee_minor, 'currency', currency, 'scope', scope,"
	"         'expires_at', rfc3339(expires_at)), $1"
	"    FROM expired)"
	" SELECT count(*) FROM expired";

/* A license whose until has passed ends: by its term, or by a revocation's notice. */
static const char SQL_END[] =
	"WITH due AS ("
	"  SELECT id FROM licenses"
	"   WHERE status IN ('active', 'ending') AND until <= now()"
	"   ORDER BY until LIMIT " BATCH_TEXT " FOR UPDATE SKIP LOCKED),"
	" ended AS ("
	"  UPDATE licenses l SET ended_at = now(),"
	"         status = CASE l.status WHEN 'ending' THEN 'revoked' ELSE 'ended' END"
	"    FROM due WHERE l.id = due.id"
	"  RETURNING l.id, l.request_id, l.program_id, l.submission_id, l.artist_id, l.use,"
	"            l.status, l.until, l.fee_minor),"
	" audited AS ("
	"  INSERT INTO audit_log (action, entity_type, entity_id, after, request_id)"
	"  SELECT 'license.end', 'license', id::text,"
	"         jsonb_build_object('status', status, 'until', rfc3339(until)), $1 FROM ended),"
	" announced AS ("
	"  INSERT INTO outbox (event_id, event_type, program_id, entity_type, entity_id,"
	"                      payload, request_id)"
	"  SELECT gen_random_uuid(), 'license.ended', program_id, 'license', id::text,"
	"         jsonb_build_object('license_id', id, 'request_id', request_id,"
	"         'program_id', program_id, 'submission_id', submission_id,"
	"         'artist_id', artist_id, 'use', use, 'status', status,"
	"         'until', rfc3339(until), 'fee_minor', fee_minor), $1"
	"    FROM ended)"
	" SELECT count(*) FROM ended";

/* Idempotency keys are kept 24 hours at least; older ones go, in batches. */
static const char SQL_PURGE[] =
	"WITH old AS (SELECT user_id, key FROM idempotency_keys"
	"              WHERE created_at < now() - interval '48 hours'"
	"              LIMIT " BATCH_TEXT " FOR UPDATE SKIP LOCKED)"
	" DELETE FROM idempotency_keys k USING old"
	"  WHERE k.user_id = old.user_id AND k.key = old.key";

static void run_step(struct run *r);

/*
 * How many rows a state's batch handled; a batch shorter than BATCH ends
 * its state. Deemed ids are handed to the ledger in the same transaction.
 */
typedef long dl_count_fn(struct run *r, struct db_job *job, const PGresult *res);

static long
count_deemed(struct run *r, struct db_job *job, const PGresult *res)
{
	const char *ids = PQgetvalue(res, 0, DEEM_IDS);
	long n = 0;
	const char *p;

	if (strcmp(ids, "{}") != 0)
		for (n = 1, p = ids; *p; p++)
			n += *p == ',';
	if (n > 0) {
		db_job_add(job, NULL, SQL_LEDGER_LOCK, ids);
		db_job_add(job, NULL, SQL_LEDGER_ACCEPTED, ids, r->request_id);
	}
	return n;
}

/* WARN, EXPIRE, END: their one column is the count. */
static long
count_column(struct run *r, struct db_job *job, const PGresult *res)
{
	FB_UNUSED(r);
	FB_UNUSED(job);
	return strtol(PQgetvalue(res, 0, BATCH_COUNT), NULL, 10);
}

static long
count_deleted(struct run *r, struct db_job *job, const PGresult *res)
{
	FB_UNUSED(r);
	FB_UNUSED(job);
	return strtol(PQcmdTuples((PGresult *)res), NULL, 10);
}

/* Each state's batch, in the order of enum dl_state. */
static const struct dl_batch {
	const char *sql;
	int nparams;             /* 1: $1 is the run's request id */
	dl_count_fn *count;
	size_t stat;             /* the deadlines_stats member it adds to */
} batches[] = {
	[DL_DEEM]   = { SQL_DEEM, 1, count_deemed, offsetof(struct deadlines_stats, deemed) },
	[DL_WARN]   = { SQL_WARN, 1, count_column, offsetof(struct deadlines_stats, warned) },
	[DL_EXPIRE] = { SQL_EXPIRE, 1, count_column, offsetof(struct deadlines_stats, expired) },
	[DL_END]    = { SQL_END, 1, count_column, offsetof(struct deadlines_stats, ended) },
	[DL_PURGE]  = { SQL_PURGE, 0, count_deleted, offsetof(struct deadlines_stats, purged) },
};

/*
 * The step only counts (a retried transaction runs it again); the state
 * moves once, in batch_done, when the batch has committed or failed.
 */
static int
batch_step(struct db_job *job, const PGresult *res, void *arg)
{
	struct run *r = arg;

	r->handled = batches[r->state].count(r, job, res);
	return 0;
}

static void
batch_done(struct db_job *job, enum db_status st, void *arg)
{
	struct run *r = arg;
	const struct dl_batch *b = &batches[r->state];

	if (st != DB_OK) {
		log_error(NULL, "deadlines: batch failed: %s %s %s", db_status_str(st),
		    db_job_sqlstate(job), db_job_errmsg(job));
		r->stats.failures++;
		r->state++;             /* on to the next state; PURGE's is DONE */
	} else {
		*(long *)((char *)&r->stats + b->stat) += r->handled;
		if (r->handled < BATCH)
			r->state++;     /* a short batch: this state's work is done */
	}
	r->handled = 0;
	run_step(r);
}

/* The one transition function: submit the current state's batch, or finish. */
static void
run_step(struct run *r)
{
	struct db_job *job;
	enum db_status st;

	if (r->state >= DL_DONE) {
		if (r->stats.deemed || r->stats.warned || r->stats.expired || r->stats.ended)
			log_info(NULL, "deadlines: %ld deemed approved, %ld warned,"
			    " %ld license requests expired, %ld licenses ended",
			    r->stats.deemed, r->stats.warned, r->stats.expired, r->stats.ended);
		r->done(&r->stats, r->arg);
		free(r);
		return;
	}
	job = db_job_new(DB_TX | DB_RETRY);
	db_job_addv(job, batch_step, batches[r->state].sql, batches[r->state].nparams,
	    (const char *const[]){ r->request_id });
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
