#include "fb.h"

#include "audit.h"
#include "crypto.h"
#include "db.h"

static const char SQL_AUDIT[] =
	"INSERT INTO audit_log (actor_id, actor_role, action, entity_type, entity_id,"
	" before, after, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

static const char SQL_AUDIT_IF_POSTED[] =
	"INSERT INTO audit_log (actor_id, actor_role, action, entity_type, entity_id,"
	" before, after, request_id)"
	" SELECT $1::uuid, $2::text, $3::text, $4::text, $5::text, $6::jsonb, $7::jsonb, $8::text"
	"  WHERE EXISTS (SELECT 1 FROM ledger_transactions WHERE id = $9::uuid)";

static const char SQL_OUTBOX[] =
	"INSERT INTO outbox (event_id, event_type, program_id, entity_type, entity_id,"
	" payload, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7)";

static char *
dump_or_null(const json_t *v)
{
	return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

int
audit_add(struct db_job *job, const struct audit_entry *e)
{
	char *before = dump_or_null(e->before), *after = dump_or_null(e->after);
	int idx;

	idx = db_job_add(job, NULL, SQL_AUDIT, e->actor_id, e->actor_role,
	    e->action, e->entity_type, e->entity_id, before, after, e->request_id);
	free(before);
	free(after);
	return idx;
}

int
audit_add_if_posted(struct db_job *job, const struct audit_entry *e, const char *tx_id)
{
	char *before = dump_or_null(e->before), *after = dump_or_null(e->after);
	int idx;

	idx = db_job_add(job, NULL, SQL_AUDIT_IF_POSTED, e->actor_id, e->actor_role,
	    e->action, e->entity_type, e->entity_id, before, after, e->request_id, tx_id);
	free(before);
	free(after);
	return idx;
}

int
outbox_add(struct db_job *job, const char *event_type, const char *program_id,
    const char *entity_type, const char *entity_id, const json_t *payload,
    const char *request_id)
{
	char id[CRYPTO_UUID_LEN];
	char *body = json_dumps(payload, JSON_COMPACT);
	int idx;

	crypto_uuid_new(id);
	idx = db_job_add(job, NULL, SQL_OUTBOX, id, event_type, program_id,
	    entity_type, entity_id, body, request_id);
	free(body);
	return idx;
}
