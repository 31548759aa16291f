/*
 * arena.h: a bump allocator freed as a unit.
 *
 * Each request owns one arena; everything a handler allocates from it is
 * released together when the request ends, so handlers need no per-object
 * frees on their error paths. Allocations are 16-byte aligned.
 */
#ifndef FB_ARENA_H
#define FB_ARENA_H

#include <stdarg.h>

struct arena;

struct arena *arena_new(size_t first_chunk);
void arena_free(struct arena *a);

void *arena_alloc(struct arena *a, size_t n);
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
char *arena_vprintf(struct arena *a, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#endif
