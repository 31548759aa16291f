/*
 * fairbeta-api: the HTTP server. Reads FAIRBETA_* settings, prints them
 * (secrets masked), serves until SIGTERM or SIGINT, drains, exits 0.
 */
#include "fb.h"

#include <signal.h>

#include "config.h"
#include "crypto.h"
#include "httperr.h"
#include "log.h"
#include "router.h"
#include "routes.h"
#include "server.h"
#include "vocab.h"

/*
 * --routes: the route table as "METHOD PATTERN ROLES", for tests and docs.
 * "anyone+token": callable without a token, and with one (whose role must
 * then be one of the route's).
 */
static void
print_routes(void)
{
	int i, r;

	for (i = 0; i < nroutes; i++) {
		printf("%s %s ", router_method_name(routes[i].method), routes[i].pattern);
		if (routes[i].flags & RT_AUTH_OPTIONAL) {
			printf("anyone+token\n");
			continue;
		}
		if (routes[i].roles == ROLE_ANYONE)
			printf("anyone");
		for (r = 0; r < VOCAB_NROLES; r++)
			if (routes[i].roles & (1u << r))
				printf("%s%s", (routes[i].roles & ((1u << r) - 1)) ? "," : "",
				    vocab_roles[r]);
		printf("\n");
	}
}

int
main(int argc, char **argv)
{
	struct config cfg;
	struct server srv;
	fb_err err;
	int rc = 1;

	if (argc > 1 && strcmp(argv[1], "--routes") == 0) {
		print_routes();
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("fairbeta-api %s\n", FB_VERSION);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	if (config_load(&cfg, err) != 0) {
		fprintf(stderr, "fairbeta-api: %s\n", err);
		return 2;
	}
	log_set_level(cfg.log_level);
	if (cfg.database_url[0] == '\0') {
		fprintf(stderr, "fairbeta-api: FAIRBETA_DATABASE_URL is not set\n");
		goto out;
	}
	if (crypto_init() != 0) {
		fprintf(stderr, "fairbeta-api: libsodium cannot start\n");
		goto out;
	}
	log_emit(LOG_INFO, NULL, json_pack("{s:o}", "config", config_to_json(&cfg)),
	    "fairbeta-api %s starting", FB_VERSION);
	if (!httperr_active())
		log_warn(NULL, "libevent's error pages are its own HTML, not problem+json: "
		    "evhttp_send_error is bound inside libevent (static or -Bsymbolic build)");
	if (server_init(&srv, &cfg, err) != 0) {
		fprintf(stderr, "fairbeta-api: %s\n", err);
		server_free(&srv);
		goto out;
	}
	server_run(&srv);
	server_free(&srv);
	rc = 0;
out:
	config_free(&cfg);
	return rc;
}
