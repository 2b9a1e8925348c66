#ifndef SLUICE_PGARRAY_H
#define SLUICE_PGARRAY_H

#ifndef SLUICE_LAYER_DB
#error "sluice/pgarray.h: this target does not link the database layer (docs/architecture.md)"
#endif

#include <stdint.h>

#include "sluice/strbuf.h"

/**
 * A PostgreSQL array literal ({"a","b",NULL}) built element by element in
 * a strbuf: how a batch of values travels as one statement parameter (for
 * `unnest($1::text[])` or `= ANY($1::bigint[])`). Every element is quoted,
 * so any text is safe in it. Start from an empty strbuf, add, then take the
 * literal with sl_pgarray_end (after which nothing more is added); an empty
 * strbuf is the empty array.
 */

/** Append `s`; NULL is SQL NULL. */
void sl_pgarray_add(struct sl_strbuf *a, const char *s);
/** Append a number. */
void sl_pgarray_add_int(struct sl_strbuf *a, int64_t v);
/** Close the literal and return it ("{}" when nothing was added). */
const char *sl_pgarray_end(struct sl_strbuf *a);

#endif
