#ifndef SLUICE_DIAG_H
#define SLUICE_DIAG_H

#include <stddef.h>
#include <stdio.h>

/**
 * Diagnostics that point into a file: the loader reports every problem of a
 * file, not only the first, so it appends to a list instead of stopping.
 * Lines and columns are 1-based; column counts characters, not bytes.
 * A problem with the file as a whole (unreadable, too big) uses line 1,
 * column 1, so every diagnostic prints as `file:line:col: message`.
 */
struct sl_diag {
	char *file;
	unsigned line;
	unsigned column;
	char *message;
};

struct sl_diags {
	struct sl_diag *items;
	size_t nr;
	size_t alloc;
};

#define SL_DIAGS_INIT      \
	{                  \
		NULL, 0, 0 \
	}

void sl_diags_init(struct sl_diags *d);
void sl_diags_release(struct sl_diags *d);
void sl_diags_add(struct sl_diags *d, const char *file, unsigned line, unsigned column,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/** Order by file, line, column; diagnostics at one place keep their order. */
void sl_diags_sort(struct sl_diags *d);
/** Sort, then print each as `file:line:col: message`, one a line. */
void sl_diags_print(struct sl_diags *d, FILE *out);

#endif
