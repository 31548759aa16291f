/*
 * fb.h: the base header. Every .c in fairbeta includes it first.
 *
 * It pulls in the handful of system headers nearly every module uses and the
 * few macros that keep code short. Anything module-specific belongs in that
 * module's own header.
 */
#ifndef FB_H
#define FB_H

#define _GNU_SOURCE 1

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FB_VERSION "0.1.0"

#define FB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define FB_UNUSED(x) ((void)(x))
#define FB_MIN(a, b) ((a) < (b) ? (a) : (b))
#define FB_MAX(a, b) ((a) > (b) ? (a) : (b))

/* An error message the caller owns, filled by functions that can fail. */
#define FB_ERRLEN 256
typedef char fb_err[FB_ERRLEN];

/* Broken invariant: log and abort. Never for bad input or I/O errors. */
_Noreturn void fb_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* Allocation that cannot fail (aborts on OOM: there is no sane recovery). */
void *fb_malloc(size_t n);
void *fb_calloc(size_t n, size_t size);
void *fb_realloc(void *p, size_t n);
char *fb_strdup(const char *s);

/* Monotonic clock in microseconds. */
int64_t fb_now_us(void);

#endif
