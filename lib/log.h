/*
 * log.h: JSON log lines on stderr, one write(2) per line.
 *
 * Every line has time, level and msg; a log_ctx adds the request id, method,
 * route and actor so that every line of a request can be found by its id.
 * The macros test the level before any formatting is done.
 */
#ifndef FB_LOG_H
#define FB_LOG_H

#include <jansson.h>

#include "config.h"

struct log_ctx {
	char request_id[64];
	const char *method;
	const char *route;          /* the route pattern, not the raw path */
	char actor[40];             /* user id once authenticated */
};

extern enum log_level log_min_level;

void log_set_level(enum log_level level);

/* Writes one line. extra (may be NULL) is merged into the line and stolen. */
void log_emit(enum log_level level, const struct log_ctx *ctx, json_t *extra,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define log_at(lvl, ctx, ...) do { \
	if ((lvl) >= log_min_level) \
		log_emit((lvl), (ctx), NULL, __VA_ARGS__); \
} while (0)

#define log_debug(ctx, ...) log_at(LOG_DEBUG, ctx, __VA_ARGS__)
#define log_info(ctx, ...)  log_at(LOG_INFO, ctx, __VA_ARGS__)
#define log_warn(ctx, ...)  log_at(LOG_WARN, ctx, __VA_ARGS__)
#define log_error(ctx, ...) log_at(LOG_ERROR, ctx, __VA_ARGS__)

#endif
