/*
 * h_transparency.c: a program's public figures. Anyone may read them when
 * the program publishes them (public_transparency); staff, admins and
 * finance always may. Everything is computed from the live tables in one
 * statement, so the figures agree with each other.
 *
 * Definitions (also in the OpenAPI document):
 * - hours to decision: from a submission's creation to its first decision
 *   (deemed approvals included: they are the decisions that took longest);
 * - within the SLA: first decisions made by a reviewer by the deadline;
 * - median earnings: over artists with an active enrollment, 0 included;
 * - effective hourly pay: everything earned / the hours of accepted sessions;
 * - license requests: counted by use and status; license fees: every granted
 *   license's fee, by use, whatever its status now (fees stay earned).
 */
#include "fb.h"

#include "handlers.h"
#include "repr.h"

static const char SQL_FIGURES[] =
	"WITH p AS (SELECT * FROM programs WHERE id = $1),"
	" first AS ("
	"  SELECT DISTINCT ON (d.submission_id) d.submission_id, d.outcome, d.decided_by,"
	"         d.decided_at, s.created_at, s.created_at + make_interval(hours =>"
	"         (SELECT review_sla_hours FROM p)) AS due"
	"    FROM decisions d JOIN submissions s ON s.id = d.submission_id"
	"   WHERE s.program_id = $1 ORDER BY d.submission_id, d.id),"
	" earn AS ("
	"  SELECT coalesce(a.earned, 0) AS earned"
	"    FROM enrollments e LEFT JOIN ledger_accounts a"
	"      ON a.program_id = e.program_id AND a.kind = 'payable' AND a.owner_id = e.artist_id"
	"   WHERE e.program_id = $1 AND e.status = 'active')"
	" SELECT p.public_transparency, json_build_object("
	"  'program_id', p.id, 'currency', p.currency,"
	"  'enrolled_testers', (SELECT count(*) FROM enrollments"
	"                        WHERE program_id = $1 AND status = 'active'),"
	"  'submissions', coalesce((SELECT json_agg(json_build_object('kind', kind,"
	"                  'outcome', status, 'count', n) ORDER BY kind, status)"
	"                  FROM (SELECT kind, status, count(*) AS n FROM submissions"
	"                         WHERE program_id = $1 GROUP BY kind, status) g), '[]'),"
	"  'deemed_approvals', (SELECT count(*) FROM decisions d JOIN submissions s"
	"                         ON s.id = d.submission_id"
	"                        WHERE s.program_id = $1 AND d.outcome = 'deemed_approved'),"
	"  'hours_to_decision', (SELECT json_build_object("
	"       'median', round((percentile_cont(0.5) WITHIN GROUP (ORDER BY"
	"                 extract(epoch FROM decided_at - created_at)) / 3600)::numeric, 2),"
	"       'p90', round((percentile_cont(0.9) WITHIN GROUP (ORDER BY"
	"                 extract(epoch FROM decided_at - created_at)) / 3600)::numeric, 2))"
	"       FROM first),"
	"  'decided_within_sla_share', (SELECT round(avg(CASE WHEN decided_by IS NOT NULL"
	"       AND decided_at <= due THEN 1 ELSE 0 END), 4) FROM first),"
	"  'paid_minor', (SELECT coalesce(sum(paid), 0) FROM ledger_accounts"
	"                  WHERE program_id = $1 AND kind = 'payable'),"
	"  'payable_minor', (SELECT coalesce(sum(balance), 0) FROM ledger_accounts"
	"                     WHERE program_id = $1 AND kind = 'payable'),"
	"  'cash_minor', (SELECT coalesce(sum(balance), 0) FROM ledger_accounts"
	"                  WHERE program_id = $1 AND kind = 'cash'),"
	"  'median_earnings_per_active_artist_minor',"
	"       (SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY earned))::bigint"
	"          FROM earn),"
	"  'effective_hourly_pay_minor',"
	"       (SELECT CASE WHEN h > 0 THEN (e / h)::bigint END FROM"
	"          (SELECT (SELECT coalesce(sum(earned), 0) FROM ledger_accounts"
	"                    WHERE program_id = $1 AND kind = 'payable') AS e,"
	"                  (SELECT coalesce(sum(hours), 0) FROM submissions"
	"                    WHERE program_id = $1 AND kind = 'session'"
	"                      AND status IN ('approved', 'deemed_approved')) AS h) x),"
	"  'license_requests', coalesce((SELECT json_agg(json_build_object('use', use,"
	"                  'outcome', status, 'count', n) ORDER BY use, status)"
	"                  FROM (SELECT use, status, count(*) AS n FROM license_requests"
	"                         WHERE program_id = $1 GROUP BY use, status) g), '[]'),"
	"  'license_fees_minor', (SELECT json_build_object("
	"       'promotion', coalesce(sum(fee_minor) FILTER (WHERE use = 'promotion'), 0),"
	"       'training', coalesce(sum(fee_minor) FILTER (WHERE use = 'training'), 0))"
	"       FROM licenses WHERE program_id = $1))"
	"  FROM p";
enum { FG_PUBLIC, FG_FIGURES };

static void
figures_read(struct reqctx *rc, struct db_job *job)
{
	const PGresult *r = db_job_result(job, 0);
	bool insider = rc->scope.all;     /* staff, finance, admins */

	if (PQntuples(r) != 1 || (PQgetvalue(r, 0, FG_PUBLIC)[0] != 't' && !insider)) {
		reply_problem(rc, 404, "not-found", "no such program, or it does not publish figures");
		return;
	}
	reply_json_etag(rc, 200, repr_json(r, 0, FG_FIGURES));
}

void
h_transparency(struct reqctx *rc)
{
	const char *id = req_param_uuid(rc, 0);
	struct db_job *job;

	if (id == NULL) {
		reply_problem(rc, 404, "not-found", "no such program");
		return;
	}
	job = db_job_new(DB_TX);      /* one snapshot */
	db_job_add(job, NULL, SQL_FIGURES, id);
	req_db(rc, job, figures_read);
}
