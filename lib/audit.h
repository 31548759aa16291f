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

/* Appends an outbox event (payload borrowed). Returns the statement index. */
int outbox_add(struct db_job *job, const char *event_type, const char *program_id,
    const char *entity_type, const char *entity_id, const json_t *payload,
    const char *request_id);

#endif
