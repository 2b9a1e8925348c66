/*
 * PostgreSQL array literals, the one builder every batch statement uses.
 */
#include "sluice/pgarray.h"

#include <stdio.h>

#include "sluice/banned.h"

void sl_pgarray_add(struct sl_strbuf *a, const char *s)
{
	sl_strbuf_addch(a, a->len ? ',' : '{');
	if (!s) {
		sl_strbuf_adds(a, "NULL");
		return;
	}
	sl_strbuf_addch(a, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sl_strbuf_addch(a, '\\');
		sl_strbuf_addch(a, *s);
	}
	sl_strbuf_addch(a, '"');
}

void sl_pgarray_add_int(struct sl_strbuf *a, int64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%lld", (long long)v);
	sl_pgarray_add(a, num);
}

const char *sl_pgarray_end(struct sl_strbuf *a)
{
	if (!a->len)
		sl_strbuf_addch(a, '{');
	sl_strbuf_addch(a, '}');
	return a->buf;
}
