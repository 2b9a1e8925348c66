#ifndef SLUICE_DURATION_H
#define SLUICE_DURATION_H

#include <stdint.h>

#include "sluice/strbuf.h"

/**
 * Durations as DAG files write them: a non-negative integer of seconds, or
 * unit groups from largest to smallest, each at most once: `90s`, `5m`,
 * `1h30m`, `2d`, `1d12h`. Units: d, h, m, s. The largest accepted value is
 * 100 years. Returns 0, or SL_EINVAL with a sentence in `err`.
 */
int sl_duration_parse(const char *s, int64_t *secs, struct sl_strbuf *err);

/** Shortest canonical form: 5400 -> "1h30m", 0 -> "0s". */
void sl_duration_format(struct sl_strbuf *sb, int64_t secs);

#endif
