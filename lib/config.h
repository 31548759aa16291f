/*
 * config.h: settings read from FAIRBETA_* environment variables.
 *
 * One table (config.c) names every setting, its type, bounds and default;
 * config_load() fills a struct config from the environment and refuses bad
 * values with a message naming the variable. Secrets are masked when printed.
 */
#ifndef FB_CONFIG_H
#define FB_CONFIG_H

#include <jansson.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

struct config {
	char *database_url;
	char *replica_url;          /* "": no replica; lag-tolerant reads use the primary */
	long replica_max_lag_ms;    /* beyond this lag, those reads use the primary */
	long db_connect_timeout_ms; /* one connection attempt, every host of the URL */
	char *listen;
	char *metrics_listen;       /* "" or "off": no metrics listener */
	char *state_dir;
	char *log_level_name;
	enum log_level log_level;
	long threads;               /* event loops; 0 means the core count */
	long db_pool;               /* connections per loop */
	long db_queue;              /* waiting jobs per loop before 503 */
	long db_queue_timeout_ms;
	long db_statement_timeout_ms;
	long max_body;              /* bytes */
	long max_headers;           /* bytes */
	long http_timeout_s;        /* idle keep-alive and request read time */
	long session_ttl_s;
	long shutdown_timeout_s;
	long hash_threads;          /* Argon2id workers, off the event loops */
	long hash_queue;            /* pending hash jobs before 503 */
	long claim_lease_s;         /* how long a review claim lasts */
	long worker_tick_ms;        /* how often the worker looks for due work */
	char *smtp_url;             /* "" logs mail instead of sending it */
	char *smtp_user;
	char *smtp_password;
	char *mail_from;
	long webhook_allow_private; /* 1: webhooks may point at private addresses */
	long delivery_max_attempts; /* then a delivery is dead */
	long delivery_backoff_ms;   /* first retry delay; doubles each attempt */
	long delivery_timeout_s;    /* per SMTP or HTTP attempt */
	long delivery_lease_s;      /* an in-flight delivery of a dead worker is retried after */
	long delivery_concurrency;  /* deliveries in flight per worker */
};

/* Fills cfg from the environment. Returns 0, or -1 with err naming the
 * offending variable. Strings in cfg are heap copies; config_free frees them. */
int config_load(struct config *cfg, fb_err err);
void config_free(struct config *cfg);

/* The settings as a JSON object, secrets masked. Caller owns the result. */
json_t *config_to_json(const struct config *cfg);

/* "postgresql://u:secret@h/db" -> "postgresql://u:***@h/db". Caller frees. */
char *config_mask_url(const char *url);

#endif
