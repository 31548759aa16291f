#include "fb.h"

#include <stdarg.h>
#include <time.h>

void
fb_fatal(const char *fmt, ...)
{
	va_list ap;

	fputs("{\"level\":\"fatal\",\"msg\":\"", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\"}\n", stderr);
	abort();
}

void *
fb_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		fb_fatal("out of memory (%zu bytes)", n);
	return p;
}

void *
fb_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		fb_fatal("out of memory (%zu x %zu bytes)", n, size);
	return p;
}

void *
fb_realloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		fb_fatal("out of memory (%zu bytes)", n);
	return q;
}

char *
fb_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = fb_malloc(n);

	memcpy(p, s, n);
	return p;
}

int64_t
fb_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
