/*
 * repr.h: the JSON representations of the API's resources (programs,
 * terms, rate cards, invitations, enrollments, submissions, license
 * requests and licenses, ledger transactions and accounts, users) and of their values (times formatted in
 * C, integers, booleans, JSON columns), built from result rows.
 *
 * Each resource has a column list (REPR_*_COLS) that queries select in
 * that order, and a builder that reads a row starting at that column. A
 * handler that selects the list gets the same representation as every
 * other handler of the resource.
 */
#ifndef FB_REPR_H
#define FB_REPR_H

#include <jansson.h>
#include "db.h"            /* PGresult, and PQgetvalue that never returns NULL */

/* Single columns: SQL NULL becomes JSON null. */
json_t *repr_str(const PGresult *r, int row, int col);
/* A timestamptz column as RFC 3339 UTC with six fractional digits. */
json_t *repr_time(const PGresult *r, int row, int col);
char *repr_time_text(const char *pg, char *out, size_t outlen);
json_t *repr_int(const PGresult *r, int row, int col);
json_t *repr_bool(const PGresult *r, int row, int col);
json_t *repr_json(const PGresult *r, int row, int col);   /* json/jsonb text */

/*
 * A program the request's scope sees (request.h): every one when all is
 * true, else an open one or one owner has been enrolled in. all and owner
 * are the parameters req_scope_all() and req_scope_owner() fill.
 */
#define REPR_PROGRAM_VISIBLE(p, all, owner) \
	"(" all "::boolean OR " p ".status = 'open' OR EXISTS" \
	" (SELECT 1 FROM enrollments ve WHERE ve.program_id = " p ".id" \
	"  AND ve.artist_id = " owner "::uuid))"

#define REPR_PROGRAM_COLS \
	"p.id, p.slug, p.name, p.description, p.currency, p.capacity," \
	" p.review_sla_hours, p.sharing, p.public_transparency," \
	" array_to_json(p.submission_kinds), p.status, rfc3339(p.created_at)," \
	" rfc3339(p.updated_at), rfc3339(p.opened_at), rfc3339(p.closed_at)," \
	" p.license_notice_days, p.revision, p.seq"
enum repr_program_col {
	RP_ID, RP_SLUG, RP_NAME, RP_DESCRIPTION, RP_CURRENCY, RP_CAPACITY,
	RP_REVIEW_SLA_HOURS, RP_SHARING, RP_PUBLIC_TRANSPARENCY, RP_SUBMISSION_KINDS,
	RP_STATUS, RP_CREATED_AT, RP_UPDATED_AT, RP_OPENED_AT, RP_CLOSED_AT,
	RP_LICENSE_NOTICE_DAYS, REPR_PROGRAM_REVISION, REPR_PROGRAM_SEQ,
	REPR_PROGRAM_NCOLS           /* a query's own columns follow the list */
};
json_t *repr_program(const PGresult *r, int row);
/* The program's ETag, "v<revision>", into out (>= 24 bytes). */
void repr_program_etag(const PGresult *r, int row, char *out, size_t outlen);

#define REPR_TERMS_COLS \
	"t.program_id, t.version, t.clauses, rfc3339(t.confidential_until)," \
	" rfc3339(t.published_at), t.published_by"
/* offsets from the list's first column, col0 */
enum repr_terms_col {
	RTV_PROGRAM_ID, RTV_VERSION, RTV_CLAUSES, RTV_CONFIDENTIAL_UNTIL,
	RTV_PUBLISHED_AT, RTV_PUBLISHED_BY
};
json_t *repr_terms(const PGresult *r, int row, int col0);

/* rates: json_object_agg(kind, amount_minor) of the card */
#define REPR_RATES_COLS \
	"c.program_id, c.version, p.currency, rfc3339(c.effective_at)," \
	" (SELECT json_object_agg(kind, amount_minor) FROM rates x" \
	"   WHERE x.program_id = c.program_id AND x.version = c.version)"
/* offsets from the list's first column, col0 */
enum repr_rates_col {
	RR_PROGRAM_ID, RR_VERSION, RR_CURRENCY, RR_EFFECTIVE_AT, RR_AMOUNTS
};
json_t *repr_rates(const PGresult *r, int row, int col0);
/* The rate kinds, in the order every card lists them, NULL-terminated. */
extern const char *const repr_rate_kinds[];
#define REPR_NRATE_KINDS 7

#define REPR_INVITATION_COLS \
	"i.id, i.program_id, i.email, i.max_uses, i.uses, rfc3339(i.expires_at)," \
	" rfc3339(i.created_at), rfc3339(i.revoked_at), i.seq"
enum repr_invitation_col {
	RI_ID, RI_PROGRAM_ID, RI_EMAIL, RI_MAX_USES, RI_USES, RI_EXPIRES_AT,
	RI_CREATED_AT, RI_REVOKED_AT, REPR_INVITATION_SEQ
};
json_t *repr_invitation(const PGresult *r, int row);

/* FROM enrollments e JOIN users u ON u.id = e.artist_id */
#define REPR_ENROLLMENT_COLS \
	"e.id, e.program_id, u.id, u.email, u.display_name, e.status," \
	" e.invitation_id, e.terms_version, rfc3339(e.terms_accepted_at)," \
	" (SELECT max(tv.version) FROM terms_versions tv WHERE tv.program_id = e.program_id)," \
	" rfc3339(e.created_at), rfc3339(e.withdrawn_at), e.withdraw_reason, e.seq"
enum repr_enrollment_col {
	RE_ID, RE_PROGRAM_ID, RE_ARTIST_ID, RE_EMAIL, RE_DISPLAY_NAME, RE_STATUS,
	RE_INVITATION_ID, RE_TERMS_VERSION, RE_TERMS_ACCEPTED_AT,
	RE_LATEST_TERMS_VERSION, RE_CREATED_AT, RE_WITHDRAWN_AT, RE_WITHDRAW_REASON,
	REPR_ENROLLMENT_SEQ
};
json_t *repr_enrollment(const PGresult *r, int row);

/*
 * FROM REPR_SUBMISSION_FROM: a submission with what `shareable` depends on
 * (the program's sharing, the confidentiality of the terms it was made under).
 */
#define REPR_SUBMISSION_FROM \
	" submissions s JOIN programs p ON p.id = s.program_id" \
	" JOIN terms_versions st ON st.program_id = s.program_id AND st.version = s.terms_version"
#define REPR_SUBMISSION_COLS \
	"s.id, s.program_id, s.artist_id, s.kind, s.title, s.description, s.media," \
	" s.hours, s.generation, s.status, s.terms_version, s.rate_card_version," \
	" s.review_due_at, s.created_at, s.updated_at, s.decided_at," \
	" (s.status IN ('approved', 'deemed_approved') OR p.sharing = 'open'" \
	"  OR coalesce(st.confidential_until <= now(), false))," \
	" s.claimed_by, s.lease_expires_at, s.appeal_statement," \
	" s.appealed_at, s.seq"
enum repr_submission_col {
	RS_ID, RS_PROGRAM_ID, RS_ARTIST_ID, RS_KIND, RS_TITLE, RS_DESCRIPTION,
	RS_MEDIA, RS_HOURS, RS_GENERATION, RS_STATUS, RS_TERMS_VERSION,
	RS_RATE_CARD_VERSION, RS_REVIEW_DUE_AT, RS_CREATED_AT, RS_UPDATED_AT,
	RS_DECIDED_AT, RS_SHAREABLE, RS_CLAIMED_BY, RS_LEASE_EXPIRES_AT,
	RS_APPEAL_STATEMENT, RS_APPEALED_AT, REPR_SUBMISSION_SEQ
};
/* Staff see who holds the claim; artists never do. */
json_t *repr_submission(const PGresult *r, int row);
json_t *repr_submission_artist(const PGresult *r, int row);

/* FROM license_requests r */
#define REPR_LICENSE_REQUEST_COLS \
	"r.id, r.submission_id, r.program_id, r.artist_id, r.use, r.scope, r.term_days," \
	" r.fee_minor, r.currency, r.note, r.status, r.requested_by, rfc3339(r.created_at)," \
	" rfc3339(r.expires_at), rfc3339(r.decided_at), r.decline_reason, r.seq"
enum repr_license_request_col {
	RQ_ID, RQ_SUBMISSION_ID, RQ_PROGRAM_ID, RQ_ARTIST_ID, RQ_USE, RQ_SCOPE,
	RQ_TERM_DAYS, RQ_FEE_MINOR, RQ_CURRENCY, RQ_NOTE, RQ_STATUS, RQ_REQUESTED_BY,
	RQ_CREATED_AT, RQ_EXPIRES_AT, RQ_DECIDED_AT, RQ_DECLINE_REASON,
	REPR_LICENSE_REQUEST_SEQ
};
json_t *repr_license_request(const PGresult *r, int row);

/* FROM licenses l */
#define REPR_LICENSE_COLS \
	"l.id, l.request_id, l.submission_id, l.program_id, l.artist_id, l.use, l.scope," \
	" l.fee_minor, l.currency, l.status, rfc3339(l.starts_at), rfc3339(l.until)," \
	" rfc3339(l.revoked_at), l.revoke_reason, rfc3339(l.ended_at), l.transaction_id, l.seq"
enum repr_license_col {
	RL_ID, RL_REQUEST_ID, RL_SUBMISSION_ID, RL_PROGRAM_ID, RL_ARTIST_ID, RL_USE,
	RL_SCOPE, RL_FEE_MINOR, RL_CURRENCY, RL_STATUS, RL_STARTS_AT, RL_UNTIL,
	RL_REVOKED_AT, RL_REVOKE_REASON, RL_ENDED_AT, RL_TRANSACTION_ID, REPR_LICENSE_SEQ
};
json_t *repr_license(const PGresult *r, int row);

/* A ledger transaction with its entries, as one json column. */
#define REPR_TRANSACTION_JSON(t) \
	"json_build_object('id', " t ".id, 'program_id', " t ".program_id," \
	" 'kind', " t ".kind, 'memo', " t ".memo, 'currency', " t ".currency," \
	" 'reverses', " t ".reverses," \
	" 'reversed_by', (SELECT rv.id FROM ledger_transactions rv WHERE rv.reverses = " t ".id)," \
	" 'submission_id', " t ".submission_id, 'created_by', " t ".created_by," \
	" 'created_at', rfc3339(" t ".created_at)," \
	" 'entries', (SELECT json_agg(json_build_object('account_id', le.account_id," \
	"   'account_kind', la.kind, 'owner_id', la.owner_id, 'amount_minor', le.amount_minor," \
	"   'balance_after_minor', le.balance_after) ORDER BY le.id)" \
	"   FROM ledger_entries le JOIN ledger_accounts la ON la.id = le.account_id" \
	"  WHERE le.transaction_id = " t ".id))"

/* A ledger account, as one json column. */
#define REPR_ACCOUNT_JSON(a) \
	"json_build_object('id', " a ".id, 'program_id', " a ".program_id, 'kind', " a ".kind," \
	" 'owner_id', " a ".owner_id, 'currency', " a ".currency," \
	" 'balance_minor', " a ".balance, 'version', " a ".version," \
	" 'earned_minor', " a ".earned, 'paid_minor', " a ".paid," \
	" 'created_at', rfc3339(" a ".created_at))"

/* A list row whose first column is a json object: the object. */
json_t *repr_row_json(const PGresult *r, int row);

/* The user object of the API. */
json_t *user_json(const char *id, const char *email, const char *display_name,
    const char *role, const char *created_at);

#endif
