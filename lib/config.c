#include "fb.h"

#include <ctype.h>
#include <unistd.h>

#include "config.h"

enum cfg_type { CFG_STR, CFG_LONG, CFG_LEVEL };

struct cfg_entry {
	const char *env;
	enum cfg_type type;
	size_t offset;
	const char *def;
	long min, max;
	bool secret;
};

#define S(field) offsetof(struct config, field)

/* The one place that names every setting. Keep README.md in step with it. */
static const struct cfg_entry cfg_table[] = {
	{ "FAIRBETA_DATABASE_URL",  CFG_STR,   S(database_url),   "", 0, 0, true },
	{ "FAIRBETA_DATABASE_REPLICA_URL", CFG_STR, S(replica_url), "", 0, 0, true },
	{ "FAIRBETA_REPLICA_MAX_LAG_MS", CFG_LONG, S(replica_max_lag_ms), "5000", 0, 3600000, false },
	{ "FAIRBETA_DB_CONNECT_TIMEOUT_MS", CFG_LONG, S(db_connect_timeout_ms), "5000", 100, 600000, false },
	{ "FAIRBETA_LISTEN",        CFG_STR,   S(listen),         "127.0.0.1:8080", 0, 0, false },
	{ "FAIRBETA_METRICS_LISTEN", CFG_STR,  S(metrics_listen), "127.0.0.1:9090", 0, 0, false },
	{ "FAIRBETA_STATE_DIR",     CFG_STR,   S(state_dir),      ".fairbeta", 0, 0, false },
	{ "FAIRBETA_LOG_LEVEL",     CFG_LEVEL, S(log_level_name), "info", 0, 0, false },
	{ "FAIRBETA_THREADS",       CFG_LONG,  S(threads),        "0", 0, 64, false },
	{ "FAIRBETA_DB_POOL",       CFG_LONG,  S(db_pool),        "4", 1, 64, false },
	{ "FAIRBETA_DB_QUEUE",      CFG_LONG,  S(db_queue),       "512", 1, 100000, false },
	{ "FAIRBETA_DB_QUEUE_TIMEOUT_MS", CFG_LONG, S(db_queue_timeout_ms), "10000", 10, 600000, false },
	{ "FAIRBETA_DB_STATEMENT_TIMEOUT_MS", CFG_LONG, S(db_statement_timeout_ms), "30000", 0, 3600000, false },
	{ "FAIRBETA_MAX_BODY",      CFG_LONG,  S(max_body),       "1048576", 1024, 67108864, false },
	{ "FAIRBETA_MAX_HEADERS",   CFG_LONG,  S(max_headers),    "16384", 1024, 1048576, false },
	{ "FAIRBETA_HTTP_TIMEOUT_S", CFG_LONG, S(http_timeout_s), "30", 1, 3600, false },
	{ "FAIRBETA_SESSION_TTL_S", CFG_LONG,  S(session_ttl_s),  "43200", 60, 31536000, false },
	{ "FAIRBETA_SHUTDOWN_TIMEOUT_S", CFG_LONG, S(shutdown_timeout_s), "10", 0, 600, false },
	{ "FAIRBETA_HASH_THREADS",  CFG_LONG,  S(hash_threads),   "2", 1, 64, false },
	{ "FAIRBETA_HASH_QUEUE",    CFG_LONG,  S(hash_queue),     "256", 1, 100000, false },
	{ "FAIRBETA_CLAIM_LEASE_S", CFG_LONG,  S(claim_lease_s),  "900", 1, 86400, false },
	{ "FAIRBETA_WORKER_TICK_MS", CFG_LONG, S(worker_tick_ms), "5000", 50, 60000, false },
	{ "FAIRBETA_SMTP_URL",      CFG_STR,   S(smtp_url),       "", 0, 0, true },
	{ "FAIRBETA_SMTP_USER",     CFG_STR,   S(smtp_user),      "", 0, 0, false },
	{ "FAIRBETA_SMTP_PASSWORD", CFG_STR,   S(smtp_password),  "", 0, 0, true },
	{ "FAIRBETA_MAIL_FROM",     CFG_STR,   S(mail_from),      "fairbeta@localhost", 0, 0, false },
	{ "FAIRBETA_WEBHOOK_ALLOW_PRIVATE", CFG_LONG, S(webhook_allow_private), "0", 0, 1, false },
	{ "FAIRBETA_DELIVERY_MAX_ATTEMPTS", CFG_LONG, S(delivery_max_attempts), "8", 1, 100, false },
	{ "FAIRBETA_DELIVERY_BACKOFF_MS", CFG_LONG, S(delivery_backoff_ms), "2000", 10, 3600000, false },
	{ "FAIRBETA_DELIVERY_TIMEOUT_S", CFG_LONG, S(delivery_timeout_s), "10", 1, 300, false },
	{ "FAIRBETA_DELIVERY_LEASE_S", CFG_LONG, S(delivery_lease_s), "60", 1, 3600, false },
	{ "FAIRBETA_DELIVERY_CONCURRENCY", CFG_LONG, S(delivery_concurrency), "16", 1, 256, false },
};

#undef S

static const char *level_names[] = { "debug", "info", "warn", "error" };

static int
parse_long(const char *s, long *out)
{
	char *end;
	long v;

	if (*s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

int
config_load(struct config *cfg, fb_err err)
{
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < FB_ARRAY_LEN(cfg_table); i++) {
		const struct cfg_entry *e = &cfg_table[i];
		const char *v = getenv(e->env);
		char *base = (char *)cfg + e->offset;
		long n;
		size_t l;

		if (v == NULL)
			v = e->def;
		switch (e->type) {
		case CFG_STR:
			*(char **)base = fb_strdup(v);
			break;
		case CFG_LEVEL:
			for (l = 0; l < FB_ARRAY_LEN(level_names); l++)
				if (strcmp(v, level_names[l]) == 0)
					break;
			if (l == FB_ARRAY_LEN(level_names)) {
				snprintf(err, FB_ERRLEN, "%s: '%s' is not one of debug, info, warn, error",
				    e->env, v);
				goto fail;
			}
			*(char **)base = fb_strdup(v);
			cfg->log_level = (enum log_level)l;
			break;
		case CFG_LONG:
			if (parse_long(v, &n) != 0 || n < e->min || n > e->max) {
				snprintf(err, FB_ERRLEN, "%s: '%s' is not a whole number from %ld to %ld",
				    e->env, v, e->min, e->max);
				goto fail;
			}
			*(long *)base = n;
			break;
		}
	}
	if (cfg->threads == 0) {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

		cfg->threads = ncpu > 0 ? FB_MIN(ncpu, 64) : 1;
	}
	return 0;
fail:
	config_free(cfg);
	return -1;
}

void
config_free(struct config *cfg)
{
	size_t i;

	for (i = 0; i < FB_ARRAY_LEN(cfg_table); i++) {
		const struct cfg_entry *e = &cfg_table[i];

		if (e->type != CFG_LONG) {
			char **p = (char **)((char *)cfg + e->offset);

			free(*p);
			*p = NULL;
		}
	}
}

char *
config_mask_url(const char *url)
{
	const char *scheme = strstr(url, "://");
	const char *at, *colon, *start;
	char *out;
	size_t n;

	/* key=value form: mask password=... */
	if (scheme == NULL) {
		const char *pw = strstr(url, "password=");

		if (pw == NULL)
			return fb_strdup(url);
		n = (size_t)(pw - url) + strlen("password=");
		out = fb_malloc(n + 4);
		memcpy(out, url, n);
		memcpy(out + n, "***", 4);
		return out;
	}
	start = scheme + 3;
	at = strchr(start, '@');
	colon = at ? memchr(start, ':', (size_t)(at - start)) : NULL;
	if (at == NULL || colon == NULL)
		return fb_strdup(url);
	n = (size_t)(colon + 1 - url);
	out = fb_malloc(n + 3 + strlen(at) + 1);
	memcpy(out, url, n);
	memcpy(out + n, "***", 3);
	strcpy(out + n + 3, at);
	return out;
}

json_t *
config_to_json(const struct config *cfg)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; i < FB_ARRAY_LEN(cfg_table); i++) {
		const struct cfg_entry *e = &cfg_table[i];
		const char *base = (const char *)cfg + e->offset;

		if (e->type == CFG_LONG) {
			json_object_set_new(o, e->env, json_integer(*(const long *)base));
		} else {
			const char *s = *(char *const *)base;
			char *m;

			if (e->secret && strstr(e->env, "PASSWORD") != NULL)
				m = fb_strdup(s[0] ? "***" : "");
			else
				m = e->secret ? config_mask_url(s) : fb_strdup(s);

			json_object_set_new(o, e->env, json_string(m));
			free(m);
		}
	}
	return o;
}
