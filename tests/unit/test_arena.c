/* lib/arena: aligned allocations, large blocks, strings. */
#include "fb.h"

#include "arena.h"
#include "unit.h"

void
suite_arena(void)
{
	struct arena *a = arena_new(64);
	char *p, *big;
	int i;

	p = arena_strdup(a, "hello");
	for (i = 0; i < 100; i++)
		CHECK(((uintptr_t)arena_alloc(a, 3) & 15) == 0);
	big = arena_alloc(a, 100000);
	memset(big, 1, 100000);
	CHECK_STR(p, "hello");
	CHECK_STR(arena_printf(a, "%d-%s", 42, "x"), "42-x");
	CHECK_STR(arena_strndup(a, "abcdef", 3), "abc");
	CHECK_STR(arena_strndup(a, NULL, 0), "");   /* an empty evbuffer's pullup */
	arena_free(a);
}
