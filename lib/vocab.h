/*
 * vocab.h: the words of the API that more than one module spells, each in
 * one table: the roles (in the order of their route bits, router.h) and the
 * kinds of submission. The database's CHECK constraints hold the same lists.
 */
#ifndef FB_VOCAB_H
#define FB_VOCAB_H

/* "admin", "staff", "finance", "artist", NULL: role i has route bit 1 << i. */
extern const char *const vocab_roles[];
#define VOCAB_NROLES 4

/* The index of a role in vocab_roles, or -1. */
int vocab_role_index(const char *role);

/* "work", "bug_report", "feedback", "session", NULL. */
extern const char *const vocab_submission_kinds[];
#define VOCAB_NKINDS 4

#endif
