/*
 * vocab.c: the API's shared words.
 */
#include "fb.h"

#include "vocab.h"

const char *const vocab_roles[VOCAB_NROLES + 1] = {
	"admin", "staff", "finance", "artist", NULL,
};

const char *const vocab_submission_kinds[VOCAB_NKINDS + 1] = {
	"work", "bug_report", "feedback", "session", NULL,
};

int
vocab_role_index(const char *role)
{
	int i;

	for (i = 0; i < VOCAB_NROLES; i++)
		if (strcmp(role, vocab_roles[i]) == 0)
			return i;
	return -1;
}
