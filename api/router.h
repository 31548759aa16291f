/*
 * router.h: matching a method and path against a route table.
 *
 * Patterns are literal segments and ":name" captures ("/v1/users/:id").
 * The table is data (api/routes.c); this module only matches, so that unit
 * tests can walk any table. A path that matches a pattern under another
 * method is told apart (405 with Allow) from one that matches nothing (404).
 */
#ifndef FB_ROUTER_H
#define FB_ROUTER_H

enum http_method {
	M_GET = 1 << 0, M_POST = 1 << 1, M_PUT = 1 << 2, M_PATCH = 1 << 3,
	M_DELETE = 1 << 4, M_HEAD = 1 << 5, M_OPTIONS = 1 << 6,
};

/* Who may call a route. ROLE_ANYONE needs no token. */
enum {
	ROLE_ANYONE = 0,
	ROLE_ADMIN = 1 << 0, ROLE_STAFF = 1 << 1, ROLE_FINANCE = 1 << 2,
	ROLE_ARTIST = 1 << 3,
	ROLE_ANY = ROLE_ADMIN | ROLE_STAFF | ROLE_FINANCE | ROLE_ARTIST,
};

/* Route flags. */
enum {
	RT_BODY = 1 << 0,       /* takes a JSON body (415 for another type) */
	RT_BODY_OPTIONAL = 1 << 1, /* with RT_BODY: an empty body reads as {} */
	/*
	 * Callable without a token too; a token given is checked, and its role
	 * must then be one of the route's roles (any, with ROLE_ANYONE).
	 */
	RT_AUTH_OPTIONAL = 1 << 2,
	RT_IDEMPOTENT = 1 << 3,    /* POST that requires an Idempotency-Key */
	/*
	 * With RT_BODY: the handler has checks of its own (formats, fields
	 * that depend on each other). The pipeline then leaves the problems
	 * the route's schema found for the handler to take with
	 * req_body_errors(), add its own to and answer, so that a 422 names
	 * every problem at once. Without it the pipeline answers 422 itself.
	 */
	RT_BODY_MORE = 1 << 4,
	/*
	 * A read that may lag a little (an export, public figures): served by
	 * the streaming replica when one is configured and close enough
	 * (api/replica.h). Its caller is looked up on the primary first.
	 */
	RT_REPLICA = 1 << 5,
};

/*
 * What a caller sees of the objects a route reads or changes, declared per
 * route and made concrete once per request by the pipeline (struct
 * req_scope in request.h). The default, 0, is the narrowest.
 */
enum route_scope {
	SCOPE_OWN = 0,   /* an artist sees their own objects (and open programs), a
	                  * caller without a token only what is public, the other
	                  * roles every object */
	SCOPE_ALL,       /* every object: routes that only staff, finance or admins call */
	SCOPE_LEDGER,    /* admins every object, finance the ledger's entities only */
};

#define ROUTER_MAX_PARAMS 4
#define ROUTER_MAX_SEGMENTS 12

struct reqctx;
struct jv_schema;
typedef void route_handler(struct reqctx *rc);

struct route {
	unsigned method;            /* one enum http_method */
	const char *pattern;
	unsigned roles;
	unsigned flags;
	route_handler *handler;
	/*
	 * The JSON body's members (lib/jsonv.h), checked before the handler
	 * runs: present exactly on RT_BODY routes (jv_no_members for those
	 * that take none), NULL on the others.
	 */
	const struct jv_schema *body;
	enum route_scope scope;
};

struct route_match {
	int index;                  /* into the table, or -1 */
	unsigned allow;             /* methods the path exists under, when index < 0 */
	int nparams;
	/* captures point into the caller's path buffer, NUL-terminated in place */
	char *params[ROUTER_MAX_PARAMS];
};

/*
 * Matches path, as received (modified in place: segments are split on '/'
 * and only then percent-decoded, so %2F never separates segments), against the
 * table. Returns 0 with m->index set, or -1 with m->allow nonzero for 405 and
 * zero for 404.
 */
int router_match(const struct route *table, int n, unsigned method, char *path,
    struct route_match *m);

/* "GET", "POST", ... for one method bit; "GET, POST" style lists. */
const char *router_method_name(unsigned method);
void router_allow_header(unsigned allow, char *out, size_t outlen);

/* The route bit of a role ("admin", ...: lib/vocab.h); 0 if unknown. */
unsigned router_role_bit(const char *role);

#endif
