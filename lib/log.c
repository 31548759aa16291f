#include "fb.h"

#include <stdarg.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

enum log_level log_min_level = LOG_INFO;

static const char *level_str[] = { "debug", "info", "warn", "error" };

void
log_set_level(enum log_level level)
{
	log_min_level = level;
}

void
log_emit(enum log_level level, const struct log_ctx *ctx, json_t *extra,
    const char *fmt, ...)
{
	char msg[1024], ts[64];
	struct timeval tv;
	struct tm tm;
	json_t *line;
	va_list ap;
	char *out;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (long)(tv.tv_usec / 1000));

	line = json_object();
	json_object_set_new(line, "time", json_string(ts));
	json_object_set_new(line, "level", json_string(level_str[level]));
	if (ctx != NULL) {
		if (ctx->request_id[0])
			json_object_set_new(line, "request_id", json_string(ctx->request_id));
		if (ctx->method)
			json_object_set_new(line, "method", json_string(ctx->method));
		if (ctx->route)
			json_object_set_new(line, "route", json_string(ctx->route));
		if (ctx->actor[0])
			json_object_set_new(line, "actor", json_string(ctx->actor));
	}
	json_object_set_new(line, "msg", json_string(msg));
	if (extra != NULL) {
		json_object_update(line, extra);
		json_decref(extra);
	}
	out = json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(6));
	json_decref(line);
	if (out != NULL) {
		size_t n = strlen(out);

		out[n] = '\n';   /* the NUL becomes the line end */
		if (write(STDERR_FILENO, out, n + 1) < 0) {
			/* nowhere left to report it */
		}
		free(out);
	}
}
