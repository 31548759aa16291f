#include "fb.h"

#include <stdatomic.h>

#include "arena.h"
#include "authcache.h"

struct authcache_entry {
	char token_hash[65];      /* "" when free */
	char id[40], session_id[40], role[16];
	char *email, *display_name, *created_at;   /* owned */
};

struct authcache {
	struct authcache_entry *slots;   /* AUTHCACHE_SLOTS, allocated on first use */
	atomic_llong hits, misses, refuted;
};

struct authcache *
authcache_new(void)
{
	return fb_calloc(1, sizeof(struct authcache));
}

static void
entry_clear(struct authcache_entry *e)
{
	free(e->email);
	free(e->display_name);
	free(e->created_at);
	memset(e, 0, sizeof(*e));
}

void
authcache_free(struct authcache *ac)
{
	size_t i;

	if (ac == NULL)
		return;
	for (i = 0; ac->slots != NULL && i < AUTHCACHE_SLOTS; i++)
		entry_clear(&ac->slots[i]);
	free(ac->slots);
	free(ac);
}

/* The slot of a token: its hash is hex SHA-256, already uniform. */
static struct authcache_entry *
slot_of(struct authcache *ac, const char *token_hash)
{
	char head[9];
	unsigned long v;

	snprintf(head, sizeof(head), "%s", token_hash);
	v = strtoul(head, NULL, 16);
	if (ac->slots == NULL)
		ac->slots = fb_calloc(AUTHCACHE_SLOTS, sizeof(*ac->slots));
	return &ac->slots[v % AUTHCACHE_SLOTS];
}

bool
authcache_get(struct authcache *ac, const char *token_hash, struct auth_user *u,
    struct arena *a)
{
	struct authcache_entry *e = slot_of(ac, token_hash);

	if (strcmp(e->token_hash, token_hash) != 0) {
		atomic_fetch_add(&ac->misses, 1);
		return false;
	}
	atomic_fetch_add(&ac->hits, 1);
	memset(u, 0, sizeof(*u));
	memcpy(u->id, e->id, sizeof(u->id));
	memcpy(u->session_id, e->session_id, sizeof(u->session_id));
	memcpy(u->role, e->role, sizeof(u->role));
	u->email = arena_strdup(a, e->email);
	u->display_name = arena_strdup(a, e->display_name);
	u->created_at = arena_strdup(a, e->created_at);
	return true;
}

void
authcache_put(struct authcache *ac, const char *token_hash, const struct auth_user *u)
{
	struct authcache_entry *e = slot_of(ac, token_hash);

	entry_clear(e);
	snprintf(e->token_hash, sizeof(e->token_hash), "%s", token_hash);
	memcpy(e->id, u->id, sizeof(e->id));
	memcpy(e->session_id, u->session_id, sizeof(e->session_id));
	memcpy(e->role, u->role, sizeof(e->role));
	e->email = fb_strdup(u->email);
	e->display_name = fb_strdup(u->display_name);
	e->created_at = fb_strdup(u->created_at);
}

void
authcache_forget(struct authcache *ac, const char *token_hash)
{
	struct authcache_entry *e = slot_of(ac, token_hash);

	if (strcmp(e->token_hash, token_hash) == 0)
		entry_clear(e);
}

bool
authcache_same(const struct auth_user *a, const struct auth_user *b)
{
	return strcmp(a->id, b->id) == 0 && strcmp(a->session_id, b->session_id) == 0 &&
	    strcmp(a->role, b->role) == 0 && strcmp(a->email, b->email) == 0 &&
	    strcmp(a->display_name, b->display_name) == 0 &&
	    strcmp(a->created_at, b->created_at) == 0;
}

void
authcache_count_refuted(struct authcache *ac)
{
	atomic_fetch_add(&ac->refuted, 1);
}

void
authcache_stats(const struct authcache *ac, long long *hits, long long *misses,
    long long *refuted)
{
	*hits = ac ? atomic_load(&ac->hits) : 0;
	*misses = ac ? atomic_load(&ac->misses) : 0;
	*refuted = ac ? atomic_load(&ac->refuted) : 0;
}
