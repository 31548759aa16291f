#include "fb.h"

#include <stdarg.h>

#include "arena.h"

struct chunk {
	struct chunk *next;
	size_t size, used;
	_Alignas(16) unsigned char data[];
};

struct arena {
	struct chunk *head;
	size_t next_size;
};

static struct chunk *
chunk_new(size_t size)
{
	struct chunk *c = fb_malloc(sizeof(*c) + size);

	c->next = NULL;
	c->size = size;
	c->used = 0;
	return c;
}

struct arena *
arena_new(size_t first_chunk)
{
	struct arena *a = fb_malloc(sizeof(*a));

	a->head = chunk_new(first_chunk);
	a->next_size = first_chunk * 2;
	return a;
}

void
arena_free(struct arena *a)
{
	struct chunk *c, *next;

	if (a == NULL)
		return;
	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(a);
}

void *
arena_alloc(struct arena *a, size_t n)
{
	struct chunk *c = a->head;
	size_t off = (c->used + 15) & ~(size_t)15;

	if (off + n > c->size) {
		size_t size = FB_MAX(a->next_size, n);

		c = chunk_new(size);
		c->next = a->head;
		a->head = c;
		if (a->next_size < (1u << 20))
			a->next_size *= 2;
		off = 0;
	}
	c->used = off + n;
	return c->data + off;
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	if (n > 0)              /* s may be NULL when n is 0 (an empty evbuffer) */
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *
arena_vprintf(struct arena *a, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;
	char *p;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	p = arena_alloc(a, (size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *
arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = arena_vprintf(a, fmt, ap);
	va_end(ap);
	return p;
}
