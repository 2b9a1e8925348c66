#include "sluice/alloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sluice/banned.h"

static void sl_oom(size_t size)
{
	fprintf(stderr, "sluice: out of memory (allocating %zu bytes)\n", size);
	abort();
}

void *sl_xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		sl_oom(size);
	return p;
}

void *sl_xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (!p)
		sl_oom(sl_st_mult(nmemb, size));
	return p;
}

void *sl_xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);

	if (!p)
		sl_oom(size);
	return p;
}

char *sl_xstrdup(const char *s)
{
	return sl_xstrndup(s, strlen(s));
}

char *sl_xstrndup(const char *s, size_t n)
{
	char *p = sl_xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *sl_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		sl_oom(0);
	p = sl_xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

size_t sl_st_mult(size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		sl_oom(SIZE_MAX);
	return n * size;
}

void *sl_alloc_grow(void *items, size_t elsize, size_t need, size_t *alloc)
{
	size_t cap = *alloc;

	if (need <= cap)
		return items;
	cap = cap < 8 ? 8 : cap;
	while (cap < need) {
		if (cap > SIZE_MAX / 2)
			sl_oom(SIZE_MAX);
		cap *= 2;
	}
	items = sl_xrealloc(items, sl_st_mult(cap, elsize));
	*alloc = cap;
	return items;
}
