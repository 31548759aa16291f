/*
 * audit.h: the audit row and the outbox event that every state change
 * writes, appended to the caller's job so they commit or roll back with it.
 */
#ifndef FB_AUDIT_H
#define FB_AUDIT_H

#include <jansson.h>

struct db_job;

struct audit_entry {
	const char *actor_id;      /* NULL: the system (worker, admin tool) */
	const char *actor_role;
	const char *action;        /* "user.create" */
	const char *entity_type;   /* "user" */
	const char *entity_id;
	const json_t *before;      /* borrowed; NULL for a creation */
	const json_t *after;       /* borrowed; NULL for a deletion */
	const char *request_id;
};

/* Appends the INSERT into audit_log to job. Returns the statement index. */
int audit_add(struct db_job *job, const struct audit_entry *e);

/*
 * The same, written only if the ledger transaction tx_id exists by then (a
 * posting that replayed an earlier one under its effect key writes none),
 * so that a posting, its audit row and its read-back need no step between
 * them and go out in one flight.
 */
int audit_add_if_posted(struct db_job *job, const struct audit_entry *e, const char *tx_id);

/* Appends an outbox event (payload borrowed). Returns the statement index. */
int outbox_add(struct db_job *job, const char *event_type, const char *program_id,
    const char *entity_type, const char *entity_id, const json_t *payload,
    const char *request_id);

#endif
