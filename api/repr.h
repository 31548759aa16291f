/*
 * repr.h: the JSON representations of the API's resources (programs,
 * terms, rate cards, invitations, enrollments, submissions, ledger
 * transactions and accounts, users) and of their values (times formatted in
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
	" p.revision, p.seq"
#define REPR_PROGRAM_NCOLS 17
enum { REPR_PROGRAM_REVISION = 15, REPR_PROGRAM_SEQ = 16 };
json_t *repr_program(const PGresult *r, int row);
/* The program's ETag, "v<revision>", into out (>= 24 bytes). */
void repr_program_etag(const PGresult *r, int row, char *out, size_t outlen);

#define REPR_TERMS_COLS \
	"t.program_id, t.version, t.clauses, rfc3339(t.confidential_until)," \
	" rfc3339(t.published_at), t.published_by"
json_t *repr_terms(const PGresult *r, int row, int col0);

/* rates: json_object_agg(kind, amount_minor) of the card */
#define REPR_RATES_COLS \
	"c.program_id, c.version, p.currency, rfc3339(c.effective_at)," \
	" (SELECT json_object_agg(kind, amount_minor) FROM rates x" \
	"   WHERE x.program_id = c.program_id AND x.version = c.version)"
json_t *repr_rates(const PGresult *r, int row, int col0);
/* The rate kinds, in the order every card lists them. */
extern const char *const repr_rate_kinds[];

#define REPR_INVITATION_COLS \
	"i.id, i.program_id, i.email, i.max_uses, i.uses, rfc3339(i.expires_at)," \
	" rfc3339(i.created_at), rfc3339(i.revoked_at), i.seq"
enum { REPR_INVITATION_SEQ = 8 };
json_t *repr_invitation(const PGresult *r, int row);

/* FROM enrollments e JOIN users u ON u.id = e.artist_id */
#define REPR_ENROLLMENT_COLS \
	"e.id, e.program_id, u.id, u.email, u.display_name, e.status," \
	" e.invitation_id, e.terms_version, rfc3339(e.terms_accepted_at)," \
	" (SELECT max(tv.version) FROM terms_versions tv WHERE tv.program_id = e.program_id)," \
	" rfc3339(e.created_at), rfc3339(e.withdrawn_at), e.withdraw_reason, e.seq"
enum { REPR_ENROLLMENT_SEQ = 13 };
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
enum { REPR_SUBMISSION_SEQ = 21 };
/* Staff see who holds the claim; artists never do. */
json_t *repr_submission(const PGresult *r, int row);
json_t *repr_submission_artist(const PGresult *r, int row);

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
