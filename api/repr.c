/*
 * repr.c: result rows to resource JSON (see repr.h for the column lists).
 */
#include "fb.h"

#include "repr.h"

const char *const repr_rate_kinds[] = {
	"work", "bug_report", "feedback", "session_hour", "exhibition",
	"promotion_license", "training_license", NULL,
};
_Static_assert(FB_ARRAY_LEN(repr_rate_kinds) == REPR_NRATE_KINDS + 1,
    "REPR_NRATE_KINDS counts repr_rate_kinds");

json_t *
repr_str(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? json_null() : json_string(PQgetvalue(r, row, col));
}

/*
 * PostgreSQL's text for a timestamptz in a session with DateStyle ISO and
 * TimeZone UTC (lib/db sets both), "2026-11-30 22:53:36.1754+00", as the API
 * writes times: "2026-11-30T22:53:36.175400Z", six fractional digits, as
 * rfc3339() in SQL does. Formatting here costs the database nothing (issue
 * 11: to_char was a third of a submission read). Text of another shape is
 * copied as it is rather than guessed at. Returns out.
 */
char *
repr_time_text(const char *pg, char *out, size_t outlen)
{
	size_t n = strlen(pg), frac = 0;

	if (n >= 22 && pg[4] == '-' && pg[10] == ' ' && pg[13] == ':' && pg[19] != ':') {
		const char *p = pg + 19;

		if (*p == '.')
			for (p++; frac < 6 && p[frac] >= '0' && p[frac] <= '9'; frac++)
				;
		p = pg + 19 + (frac ? frac + 1 : 0);
		if (strcmp(p, "+00") == 0 && outlen >= 28) {
			snprintf(out, outlen, "%.10sT%.8s.%.*s%.*sZ", pg, pg + 11, (int)frac,
			    pg + 20, (int)(6 - frac), "000000");
			return out;
		}
	}
	snprintf(out, outlen, "%s", pg);
	return out;
}

json_t *
repr_time(const PGresult *r, int row, int col)
{
	char buf[64];

	if (PQgetisnull(r, row, col))
		return json_null();
	return json_string(repr_time_text(PQgetvalue(r, row, col), buf, sizeof(buf)));
}

json_t *
repr_int(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return json_null();
	return json_integer(strtoll(PQgetvalue(r, row, col), NULL, 10));
}

json_t *
repr_bool(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return json_null();
	return json_boolean(PQgetvalue(r, row, col)[0] == 't');
}

json_t *
repr_json(const PGresult *r, int row, int col)
{
	json_t *v;

	if (PQgetisnull(r, row, col))
		return json_null();
	v = json_loads(PQgetvalue(r, row, col), JSON_DECODE_ANY, NULL);
	return v ? v : json_null();
}

json_t *
repr_program(const PGresult *r, int row)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o,"
	    " s:o, s:o, s:o, s:o, s:o}",
	    "license_notice_days", repr_int(r, row, RP_LICENSE_NOTICE_DAYS),
	    "id", repr_str(r, row, RP_ID), "slug", repr_str(r, row, RP_SLUG),
	    "name", repr_str(r, row, RP_NAME), "description", repr_str(r, row, RP_DESCRIPTION),
	    "currency", repr_str(r, row, RP_CURRENCY),
	    "capacity", repr_int(r, row, RP_CAPACITY),
	    "review_sla_hours", repr_int(r, row, RP_REVIEW_SLA_HOURS),
	    "sharing", repr_str(r, row, RP_SHARING),
	    "public_transparency", repr_bool(r, row, RP_PUBLIC_TRANSPARENCY),
	    "submission_kinds", repr_json(r, row, RP_SUBMISSION_KINDS),
	    "status", repr_str(r, row, RP_STATUS),
	    "created_at", repr_str(r, row, RP_CREATED_AT),
	    "updated_at", repr_str(r, row, RP_UPDATED_AT),
	    "opened_at", repr_str(r, row, RP_OPENED_AT),
	    "closed_at", repr_str(r, row, RP_CLOSED_AT));
}

void
repr_program_etag(const PGresult *r, int row, char *out, size_t outlen)
{
	snprintf(out, outlen, "\"v%s\"", PQgetvalue(r, row, REPR_PROGRAM_REVISION));
}

json_t *
repr_terms(const PGresult *r, int row, int c)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}",
	    "program_id", repr_str(r, row, c + RTV_PROGRAM_ID),
	    "version", repr_int(r, row, c + RTV_VERSION),
	    "clauses", repr_json(r, row, c + RTV_CLAUSES),
	    "confidential_until", repr_str(r, row, c + RTV_CONFIDENTIAL_UNTIL),
	    "published_at", repr_str(r, row, c + RTV_PUBLISHED_AT),
	    "published_by", repr_str(r, row, c + RTV_PUBLISHED_BY));
}

json_t *
repr_rates(const PGresult *r, int row, int c)
{
	json_t *amounts = repr_json(r, row, c + RR_AMOUNTS), *rates = json_array();
	const char *const *k;

	for (k = repr_rate_kinds; *k; k++) {
		json_t *a = json_object_get(amounts, *k);

		json_array_append_new(rates, json_pack("{s:s, s:I}", "kind", *k,
		    "amount_minor", (json_int_t)(json_is_integer(a) ? json_integer_value(a) : 0)));
	}
	json_decref(amounts);
	return json_pack("{s:o, s:o, s:o, s:o, s:o}",
	    "program_id", repr_str(r, row, c + RR_PROGRAM_ID),
	    "version", repr_int(r, row, c + RR_VERSION),
	    "currency", repr_str(r, row, c + RR_CURRENCY),
	    "effective_at", repr_str(r, row, c + RR_EFFECTIVE_AT),
	    "rates", rates);
}

json_t *
repr_invitation(const PGresult *r, int row)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
	    "id", repr_str(r, row, RI_ID), "program_id", repr_str(r, row, RI_PROGRAM_ID),
	    "email", repr_str(r, row, RI_EMAIL), "max_uses", repr_int(r, row, RI_MAX_USES),
	    "uses", repr_int(r, row, RI_USES), "expires_at", repr_str(r, row, RI_EXPIRES_AT),
	    "created_at", repr_str(r, row, RI_CREATED_AT),
	    "revoked_at", repr_str(r, row, RI_REVOKED_AT));
}

json_t *
repr_enrollment(const PGresult *r, int row)
{
	long long accepted = strtoll(PQgetvalue(r, row, RE_TERMS_VERSION), NULL, 10);
	long long latest = strtoll(PQgetvalue(r, row, RE_LATEST_TERMS_VERSION), NULL, 10);
	bool active = strcmp(PQgetvalue(r, row, RE_STATUS), "active") == 0;

	return json_pack("{s:o, s:o, s:{s:o, s:o, s:o}, s:o, s:o, s:o, s:o, s:o, s:b,"
	    " s:o, s:o, s:o}",
	    "id", repr_str(r, row, RE_ID), "program_id", repr_str(r, row, RE_PROGRAM_ID),
	    "artist", "id", repr_str(r, row, RE_ARTIST_ID),
	    "email", repr_str(r, row, RE_EMAIL),
	    "display_name", repr_str(r, row, RE_DISPLAY_NAME),
	    "status", repr_str(r, row, RE_STATUS),
	    "invitation_id", repr_str(r, row, RE_INVITATION_ID),
	    "terms_version", repr_int(r, row, RE_TERMS_VERSION),
	    "terms_accepted_at", repr_str(r, row, RE_TERMS_ACCEPTED_AT),
	    "latest_terms_version", repr_int(r, row, RE_LATEST_TERMS_VERSION),
	    "needs_terms_acceptance", active && latest > accepted,
	    "created_at", repr_str(r, row, RE_CREATED_AT),
	    "withdrawn_at", repr_str(r, row, RE_WITHDRAWN_AT),
	    "withdraw_reason", repr_str(r, row, RE_WITHDRAW_REASON));
}

static json_t *
submission(const PGresult *r, int row, bool show_claim)
{
	json_t *hours = PQgetisnull(r, row, RS_HOURS) ? json_null() :
	    json_real(strtod(PQgetvalue(r, row, RS_HOURS), NULL));
	json_t *claim = json_null(), *appeal = json_null();

	if (show_claim && !PQgetisnull(r, row, RS_CLAIMED_BY)) {
		json_decref(claim);
		claim = json_pack("{s:o, s:o}", "reviewer_id", repr_str(r, row, RS_CLAIMED_BY),
		    "lease_expires_at", repr_time(r, row, RS_LEASE_EXPIRES_AT));
	}
	if (!PQgetisnull(r, row, RS_APPEAL_STATEMENT)) {
		json_decref(appeal);
		appeal = json_pack("{s:o, s:o}", "statement", repr_str(r, row, RS_APPEAL_STATEMENT),
		    "appealed_at", repr_time(r, row, RS_APPEALED_AT));
	}
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o,"
	    " s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
	    "id", repr_str(r, row, RS_ID), "program_id", repr_str(r, row, RS_PROGRAM_ID),
	    "artist_id", repr_str(r, row, RS_ARTIST_ID), "kind", repr_str(r, row, RS_KIND),
	    "title", repr_str(r, row, RS_TITLE),
	    "description", repr_str(r, row, RS_DESCRIPTION),
	    "media", repr_json(r, row, RS_MEDIA), "hours", hours,
	    "generation", repr_json(r, row, RS_GENERATION),
	    "status", repr_str(r, row, RS_STATUS),
	    "terms_version", repr_int(r, row, RS_TERMS_VERSION),
	    "rate_card_version", repr_int(r, row, RS_RATE_CARD_VERSION),
	    "review_due_at", repr_time(r, row, RS_REVIEW_DUE_AT),
	    "created_at", repr_time(r, row, RS_CREATED_AT),
	    "updated_at", repr_time(r, row, RS_UPDATED_AT),
	    "decided_at", repr_time(r, row, RS_DECIDED_AT),
	    "shareable", repr_bool(r, row, RS_SHAREABLE), "claim", claim, "appeal", appeal);
}

json_t *
repr_submission(const PGresult *r, int row)
{
	return submission(r, row, true);
}

json_t *
repr_submission_artist(const PGresult *r, int row)
{
	return submission(r, row, false);
}

json_t *
repr_license_request(const PGresult *r, int row)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o,"
	    " s:o, s:o, s:o, s:o}",
	    "id", repr_str(r, row, RQ_ID), "submission_id", repr_str(r, row, RQ_SUBMISSION_ID),
	    "program_id", repr_str(r, row, RQ_PROGRAM_ID),
	    "artist_id", repr_str(r, row, RQ_ARTIST_ID), "use", repr_str(r, row, RQ_USE),
	    "scope", repr_str(r, row, RQ_SCOPE), "term_days", repr_int(r, row, RQ_TERM_DAYS),
	    "fee_minor", repr_int(r, row, RQ_FEE_MINOR),
	    "currency", repr_str(r, row, RQ_CURRENCY), "note", repr_str(r, row, RQ_NOTE),
	    "status", repr_str(r, row, RQ_STATUS),
	    "requested_by", repr_str(r, row, RQ_REQUESTED_BY),
	    "created_at", repr_str(r, row, RQ_CREATED_AT),
	    "expires_at", repr_str(r, row, RQ_EXPIRES_AT),
	    "decided_at", repr_str(r, row, RQ_DECIDED_AT),
	    "decline_reason", repr_str(r, row, RQ_DECLINE_REASON));
}

json_t *
repr_license(const PGresult *r, int row)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o,"
	    " s:o, s:o, s:o, s:o}",
	    "id", repr_str(r, row, RL_ID), "request_id", repr_str(r, row, RL_REQUEST_ID),
	    "submission_id", repr_str(r, row, RL_SUBMISSION_ID),
	    "program_id", repr_str(r, row, RL_PROGRAM_ID),
	    "artist_id", repr_str(r, row, RL_ARTIST_ID), "use", repr_str(r, row, RL_USE),
	    "scope", repr_str(r, row, RL_SCOPE), "fee_minor", repr_int(r, row, RL_FEE_MINOR),
	    "currency", repr_str(r, row, RL_CURRENCY), "status", repr_str(r, row, RL_STATUS),
	    "starts_at", repr_str(r, row, RL_STARTS_AT), "until", repr_str(r, row, RL_UNTIL),
	    "revoked_at", repr_str(r, row, RL_REVOKED_AT),
	    "revoke_reason", repr_str(r, row, RL_REVOKE_REASON),
	    "ended_at", repr_str(r, row, RL_ENDED_AT),
	    "transaction_id", repr_str(r, row, RL_TRANSACTION_ID));
}

json_t *
repr_row_json(const PGresult *r, int row)
{
	return repr_json(r, row, 0);
}

json_t *
user_json(const char *id, const char *email, const char *display_name,
    const char *role, const char *created_at)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, "email", email,
	    "display_name", display_name, "role", role, "created_at", created_at);
}
