/*
 * repr.c: result rows to resource JSON (see repr.h for the column lists).
 */
#include "fb.h"

#include "repr.h"

const char *const repr_rate_kinds[] = {
	"work", "bug_report", "feedback", "session_hour", "exhibition", NULL,
};

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
	    " s:o, s:o, s:o, s:o}",
	    "id", repr_str(r, row, 0), "slug", repr_str(r, row, 1),
	    "name", repr_str(r, row, 2), "description", repr_str(r, row, 3),
	    "currency", repr_str(r, row, 4), "capacity", repr_int(r, row, 5),
	    "review_sla_hours", repr_int(r, row, 6), "sharing", repr_str(r, row, 7),
	    "public_transparency", repr_bool(r, row, 8),
	    "submission_kinds", repr_json(r, row, 9), "status", repr_str(r, row, 10),
	    "created_at", repr_str(r, row, 11), "updated_at", repr_str(r, row, 12),
	    "opened_at", repr_str(r, row, 13), "closed_at", repr_str(r, row, 14));
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
	    "program_id", repr_str(r, row, c), "version", repr_int(r, row, c + 1),
	    "clauses", repr_json(r, row, c + 2),
	    "confidential_until", repr_str(r, row, c + 3),
	    "published_at", repr_str(r, row, c + 4),
	    "published_by", repr_str(r, row, c + 5));
}

json_t *
repr_rates(const PGresult *r, int row, int c)
{
	json_t *amounts = repr_json(r, row, c + 4), *rates = json_array();
	const char *const *k;

	for (k = repr_rate_kinds; *k; k++) {
		json_t *a = json_object_get(amounts, *k);

		json_array_append_new(rates, json_pack("{s:s, s:I}", "kind", *k,
		    "amount_minor", (json_int_t)(json_is_integer(a) ? json_integer_value(a) : 0)));
	}
	json_decref(amounts);
	return json_pack("{s:o, s:o, s:o, s:o, s:o}",
	    "program_id", repr_str(r, row, c), "version", repr_int(r, row, c + 1),
	    "currency", repr_str(r, row, c + 2), "effective_at", repr_str(r, row, c + 3),
	    "rates", rates);
}

json_t *
repr_invitation(const PGresult *r, int row)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
	    "id", repr_str(r, row, 0), "program_id", repr_str(r, row, 1),
	    "email", repr_str(r, row, 2), "max_uses", repr_int(r, row, 3),
	    "uses", repr_int(r, row, 4), "expires_at", repr_str(r, row, 5),
	    "created_at", repr_str(r, row, 6), "revoked_at", repr_str(r, row, 7));
}

json_t *
repr_enrollment(const PGresult *r, int row)
{
	long long accepted = strtoll(PQgetvalue(r, row, 7), NULL, 10);
	long long latest = strtoll(PQgetvalue(r, row, 9), NULL, 10);
	bool active = strcmp(PQgetvalue(r, row, 5), "active") == 0;

	return json_pack("{s:o, s:o, s:{s:o, s:o, s:o}, s:o, s:o, s:o, s:o, s:o, s:b,"
	    " s:o, s:o, s:o}",
	    "id", repr_str(r, row, 0), "program_id", repr_str(r, row, 1),
	    "artist", "id", repr_str(r, row, 2), "email", repr_str(r, row, 3),
	    "display_name", repr_str(r, row, 4),
	    "status", repr_str(r, row, 5), "invitation_id", repr_str(r, row, 6),
	    "terms_version", repr_int(r, row, 7), "terms_accepted_at", repr_str(r, row, 8),
	    "latest_terms_version", repr_int(r, row, 9),
	    "needs_terms_acceptance", active && latest > accepted,
	    "created_at", repr_str(r, row, 10), "withdrawn_at", repr_str(r, row, 11),
	    "withdraw_reason", repr_str(r, row, 12));
}

static json_t *
submission(const PGresult *r, int row, bool show_claim)
{
	json_t *hours = PQgetisnull(r, row, 7) ? json_null() :
	    json_real(strtod(PQgetvalue(r, row, 7), NULL));
	json_t *claim = json_null(), *appeal = json_null();

	if (show_claim && !PQgetisnull(r, row, 17)) {
		json_decref(claim);
		claim = json_pack("{s:o, s:o}", "reviewer_id", repr_str(r, row, 17),
		    "lease_expires_at", repr_time(r, row, 18));
	}
	if (!PQgetisnull(r, row, 19)) {
		json_decref(appeal);
		appeal = json_pack("{s:o, s:o}", "statement", repr_str(r, row, 19),
		    "appealed_at", repr_time(r, row, 20));
	}
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o,"
	    " s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
	    "id", repr_str(r, row, 0), "program_id", repr_str(r, row, 1),
	    "artist_id", repr_str(r, row, 2), "kind", repr_str(r, row, 3),
	    "title", repr_str(r, row, 4), "description", repr_str(r, row, 5),
	    "media", repr_json(r, row, 6), "hours", hours,
	    "generation", repr_json(r, row, 8), "status", repr_str(r, row, 9),
	    "terms_version", repr_int(r, row, 10), "rate_card_version", repr_int(r, row, 11),
	    "review_due_at", repr_time(r, row, 12), "created_at", repr_time(r, row, 13),
	    "updated_at", repr_time(r, row, 14), "decided_at", repr_time(r, row, 15),
	    "shareable", repr_bool(r, row, 16), "claim", claim, "appeal", appeal);
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
