#ifndef SLUICE_ALLOC_H
#define SLUICE_ALLOC_H

#include <stddef.h>

/**
 * Allocation helpers. sluice treats running out of memory as fatal, like git
 * and Redis: these functions never return NULL; they print one line and
 * abort(). Every other module allocates through them, so that growth and
 * overflow checks live in one place.
 */

void *sl_xmalloc(size_t size);
void *sl_xcalloc(size_t nmemb, size_t size);
void *sl_xrealloc(void *ptr, size_t size);
char *sl_xstrdup(const char *s);
char *sl_xstrndup(const char *s, size_t n);
/** printf into a new string. */
char *sl_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** n * size, aborting on overflow. */
size_t sl_st_mult(size_t n, size_t size);

/**
 * Grow an array so that it holds at least `need` elements of `elsize` bytes;
 * `*alloc` is its current capacity and is updated. Growth is geometric, so
 * pushing n items costs O(n). Use through SL_ALLOC_GROW.
 */
void *sl_alloc_grow(void *items, size_t elsize, size_t need, size_t *alloc);

/**
 * The one growable-array idiom (git's ALLOC_GROW): `x` is a pointer to the
 * elements, `alloc` its capacity; after the call x[0 .. nr-1] are valid.
 *
 *     SL_ALLOC_GROW(list->items, list->nr + 1, list->alloc);
 *     list->items[list->nr++] = item;
 */
#define SL_ALLOC_GROW(x, nr, alloc) ((x) = sl_alloc_grow((x), sizeof(*(x)), (nr), &(alloc)))

#define SL_ARRAY_SIZE(a)            (sizeof(a) / sizeof((a)[0]))

#endif
