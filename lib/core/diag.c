#include "sluice/diag.h"

#include "sluice/alloc.h"
#include "sluice/strbuf.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "sluice/banned.h"

void sl_diags_init(struct sl_diags *d)
{
	d->items = NULL;
	d->nr = 0;
	d->alloc = 0;
}

void sl_diags_release(struct sl_diags *d)
{
	for (size_t i = 0; i < d->nr; i++) {
		free(d->items[i].file);
		free(d->items[i].message);
	}
	free(d->items);
	sl_diags_init(d);
}

void sl_diags_add(struct sl_diags *d, const char *file, unsigned line, unsigned column,
                  const char *fmt, ...)
{
	struct sl_strbuf msg = SL_STRBUF_INIT;
	struct sl_diag *item;
	va_list ap;

	va_start(ap, fmt);
	sl_strbuf_vaddf(&msg, fmt, ap);
	va_end(ap);
	SL_ALLOC_GROW(d->items, d->nr + 1, d->alloc);
	item = &d->items[d->nr++];
	item->file = sl_xstrdup(file ? file : "-");
	item->line = line ? line : 1;
	item->column = column ? column : 1;
	item->message = sl_strbuf_detach(&msg, NULL);
}

/* Insertion sort: lists are short and stability matters (two problems found
 * at one place read best in the order they were found). */
void sl_diags_sort(struct sl_diags *d)
{
	for (size_t i = 1; i < d->nr; i++) {
		struct sl_diag cur = d->items[i];
		size_t j = i;

		while (j > 0) {
			const struct sl_diag *prev = &d->items[j - 1];
			int c = strcmp(prev->file, cur.file);

			if (c < 0 ||
			    (c == 0 && (prev->line < cur.line ||
			                (prev->line == cur.line && prev->column <= cur.column))))
				break;
			d->items[j] = d->items[j - 1];
			j--;
		}
		d->items[j] = cur;
	}
}

void sl_diags_print(struct sl_diags *d, FILE *out)
{
	sl_diags_sort(d);
	for (size_t i = 0; i < d->nr; i++)
		fprintf(out, "%s:%u:%u: %s\n", d->items[i].file, d->items[i].line,
		        d->items[i].column, d->items[i].message);
}
