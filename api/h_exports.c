/*
 * h_exports.c: the ledger as RFC 4180 CSV or JSON lines, streamed.
 *
 * One statement (one snapshot) runs in single-row mode. Rows are formatted
 * into a chunk; a full chunk goes to the client and the database stream
 * pauses until the client has taken it, so PostgreSQL waits on its socket
 * and the server holds one chunk whatever the size of the ledger. When the
 * client leaves, the query is cancelled (its connection dropped).
 */
#include "fb.h"

#include <event2/buffer.h>

#include "crypto.h"
#include "csv.h"
#include "handlers.h"
#include "jsonv.h"
#include "list.h"
#include "program.h"
#include "valid.h"

#define CHUNK_BYTES (64 * 1024)

static const char *const columns[] = {
	"entry_id", "transaction_id", "created_at", "program_id", "transaction_kind", "memo",
	"account_id", "account_kind", "owner_id", "amount_minor", "balance_after_minor",
	"currency",
};
enum { COL_MEMO = 5, COL_AMOUNT = 9, COL_BALANCE = 10 };

static const char SQL_NO_TIMEOUT[] = "SET LOCAL statement_timeout = 0";

static const char SQL_ROWS[] =
	"SELECT e.id, e.transaction_id, rfc3339(e.created_at), t.program_id, t.kind, t.memo,"
	"       e.account_id, a.kind, a.owner_id, e.amount_minor, e.balance_after, t.currency"
	"  FROM ledger_entries e"
	"  JOIN ledger_transactions t ON t.id = e.transaction_id"
	"  JOIN ledger_accounts a ON a.id = e.account_id"
	" WHERE t.program_id = $1"
	"   AND ($2::timestamptz IS NULL OR e.created_at >= $2)"
	"   AND ($3::timestamptz IS NULL OR e.created_at < $3)"
	" ORDER BY e.id";

struct export {
	struct db_job *job;
	struct evbuffer *chunk;
	bool jsonl;
	bool begun;
	long rows;
};

static void
export_begin(struct reqctx *rc)
{
	struct export *x = rc->h;
	size_t c, n = FB_ARRAY_LEN(columns);

	x->begun = true;
	reply_stream_begin(rc, x->jsonl ? "application/x-ndjson" : "text/csv; charset=utf-8");
	if (!x->jsonl)
		for (c = 0; c < n; c++)
			csv_field(x->chunk, columns[c], c == n - 1);
}

static void
format_row(struct export *x, const PGresult *r)
{
	size_t c, n = FB_ARRAY_LEN(columns);

	if (!x->jsonl) {
		for (c = 0; c < n; c++)
			(c == COL_MEMO ? csv_text : csv_field)(x->chunk, PQgetisnull(r, 0, (int)c) ?
			    NULL : PQgetvalue(r, 0, (int)c), c == n - 1);
	} else {
		json_t *o = json_object();
		char *line;

		for (c = 0; c < n; c++) {
			json_t *v;

			if (PQgetisnull(r, 0, (int)c))
				v = json_null();
			else if (c == COL_AMOUNT || c == COL_BALANCE)
				v = json_integer(strtoll(PQgetvalue(r, 0, (int)c), NULL, 10));
			else
				v = json_string(PQgetvalue(r, 0, (int)c));
			json_object_set_new(o, columns[c], v);
		}
		line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		evbuffer_add(x->chunk, line, strlen(line));
		evbuffer_add(x->chunk, "\n", 1);
		free(line);
		json_decref(o);
	}
}

/* The client took the chunk: read on. (rc may be gone when this returns.) */
static void
export_drained(struct reqctx *rc)
{
	struct export *x = rc->h;

	db_job_resume(x->job);
}

static int
export_row(struct db_job *job, const PGresult *row, void *arg)
{
	struct reqctx *rc = req_of(arg);
	struct export *x = rc->h;

	x->job = job;
	if (!x->begun)
		export_begin(rc);
	if (rc->stream.gone) {
		db_job_cancel(job);          /* nobody reads: stop the query */
		return 1;
	}
	format_row(x, row);
	x->rows++;
	if (evbuffer_get_length(x->chunk) < CHUNK_BYTES)
		return 0;
	return reply_stream_chunk(rc, x->chunk, export_drained) ? 1 : 0;
}

static void
export_finished(struct reqctx *rc)
{
	struct export *x = rc->h;

	evbuffer_free(x->chunk);
	reply_stream_end(rc, true);
}

static void
export_done(struct reqctx *rc, struct db_job *job, enum db_status st)
{
	struct export *x = rc->h;

	if (st != DB_OK) {
		if (!x->begun) {
			evbuffer_free(x->chunk);
			reply_db_failure(rc, job, st);
			return;
		}
		if (rc->stream.gone)
			log_info(&rc->log, "export: the client left after %ld rows", x->rows);
		else
			log_error(&rc->log, "export cut short after %ld rows: %s %s", x->rows,
			    db_status_str(st), db_job_errmsg(job));
		evbuffer_free(x->chunk);
		reply_stream_end(rc, false);
		return;
	}
	if (!x->begun)
		export_begin(rc);
	log_info(&rc->log, "export: %ld rows", x->rows);
	if (evbuffer_get_length(x->chunk) > 0 &&
	    reply_stream_chunk(rc, x->chunk, export_finished))
		return;
	export_finished(rc);
}

void
h_export_ledger(struct reqctx *rc)
{
	static const char *const known[] = { "program_id", "from", "to", "format", NULL };
	const char *program = req_query(rc, "program_id"), *format = req_query(rc, "format");
	const char *from = req_query(rc, "from"), *to = req_query(rc, "to");
	json_t *errors = json_array();
	struct export *x;
	struct db_job *job;

	if (rc->method == M_HEAD) {        /* the headers of an export, no rows */
		json_decref(errors);
		req_set_header(rc, "Content-Type", format && strcmp(format, "jsonl") == 0 ?
		    "application/x-ndjson" : "text/csv; charset=utf-8");
		reply_empty(rc, 200);
		return;
	}
	list_check_query(rc, known, errors);
	if (program == NULL || !crypto_uuid_valid(program))
		jv_error(errors, "program_id", "is required and must be a UUID");
	list_check_window(rc, errors);
	if (format && strcmp(format, "csv") != 0 && strcmp(format, "jsonl") != 0)
		jv_error(errors, "format", "must be csv or jsonl");
	if (json_array_size(errors) > 0) {
		reply_invalid(rc, errors);
		return;
	}
	json_decref(errors);
	x = arena_alloc(rc->arena, sizeof(*x));
	memset(x, 0, sizeof(*x));
	x->jsonl = format && strcmp(format, "jsonl") == 0;
	x->chunk = evbuffer_new();
	rc->h = x;
	/* the client, not a timer, decides how long a large export takes */
	job = db_job_new(DB_TX);
	db_job_add(job, program_step_found, "SELECT 1 FROM programs WHERE id = $1", program);
	db_job_add(job, NULL, SQL_NO_TIMEOUT);
	db_job_add(job, NULL, SQL_ROWS, program, from, to);
	db_job_set_rows(job, export_row);
	req_db_any(rc, job, export_done);
}
