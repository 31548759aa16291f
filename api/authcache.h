/*
 * authcache.h: the sessions a loop has recently authenticated, as a hint.
 *
 * With a token it has seen, a request runs its handler at once as the
 * cached caller, and the first database job it sends carries a guard
 * (SQL_AUTH_GUARD in pipeline.c, raising through auth_refused() of migration
 * 0009) that fails that job's whole flight unless the token still names
 * exactly this session, user, role, address and name. The lookup and the request's first statements thus share one
 * round trip, and a revoked token, an expired session, a disabled user or a
 * changed role still take effect at once: nothing is ever decided on the
 * cache alone (a reply made before any job is held until a lookup confirms
 * it). One per loop, so no locks; bounded: a direct-mapped table of
 * AUTHCACHE_SLOTS entries, where a newcomer evicts whoever held its slot.
 */
#ifndef FB_AUTHCACHE_H
#define FB_AUTHCACHE_H

#include <stdbool.h>

struct arena;
struct authcache;

/* A signed-in caller, as a session lookup returns it. */
struct auth_user {
	char id[40];
	char session_id[40];
	char role[16];
	unsigned role_bit;
	char *email;                /* arena */
	char *display_name;         /* arena */
	char *created_at;           /* arena */
};

#define AUTHCACHE_SLOTS 512

struct authcache *authcache_new(void);
void authcache_free(struct authcache *ac);

/* Fills u (strings in a) from the entry for token_hash; false when none. */
bool authcache_get(struct authcache *ac, const char *token_hash, struct auth_user *u,
    struct arena *a);
/* Remembers what a database lookup of token_hash just returned. */
void authcache_put(struct authcache *ac, const char *token_hash, const struct auth_user *u);
void authcache_forget(struct authcache *ac, const char *token_hash);
/* Counts, readable from any thread: hints used, lookups needed, hints refuted. */
void authcache_stats(const struct authcache *ac, long long *hits, long long *misses,
    long long *refuted);
void authcache_count_refuted(struct authcache *ac);

/* Whether u (as a lookup returned it) is exactly what the entry holds. */
bool authcache_same(const struct auth_user *a, const struct auth_user *b);

#endif
