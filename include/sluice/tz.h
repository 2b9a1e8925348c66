#ifndef SLUICE_TZ_H
#define SLUICE_TZ_H

#include <stdbool.h>
#include <stdint.h>

#include "sluice/strbuf.h"

/**
 * IANA time zones read straight from TZif files (RFC 8536, versions 1-4),
 * without touching the process-wide TZ or calling localtime. The zone
 * directory is $TZDIR, else /usr/share/zoneinfo. Times after the last
 * transition in the file follow the POSIX TZ rule in its footer.
 *
 * A loaded zone is immutable and may be shared between threads.
 */
struct sl_tz;

/**
 * Load zone `name` ("Europe/Paris", "UTC", "Etc/GMT+5"). Names are checked
 * before any file is opened: no absolute paths, no "..", only the characters
 * IANA names use. Returns 0, SL_ENOENT for an unknown zone, or SL_EINVAL for a
 * malformed name or file; `err` gets a sentence either way. UTC and its
 * aliases (Etc/UTC, GMT, Etc/GMT, Zulu, ...) need no file: they give the
 * sl_tz_utc() object, whose name is "UTC".
 */
int sl_tz_load(struct sl_tz **out, const char *name, struct sl_strbuf *err);
void sl_tz_free(struct sl_tz *tz);
/** The UTC zone; a static object, sl_tz_free on it does nothing. */
const struct sl_tz *sl_tz_utc(void);
const char *sl_tz_name(const struct sl_tz *tz);

/** Offset from UTC, in seconds east, in force at instant `utc`. */
int32_t sl_tz_offset(const struct sl_tz *tz, int64_t utc);
/** Local wall-clock seconds of instant `utc`. */
int64_t sl_tz_to_local(const struct sl_tz *tz, int64_t utc);

/**
 * The instants at which the wall clock of `tz` reads `local`, earliest first.
 * Returns 1 normally; 2 in a fall-back overlap (both instants in `out`);
 * 0 in a spring-forward gap, when `*gap_end` is set to the instant at which
 * the gap ends (the transition: the first instant whose wall-clock time is
 * later than `local`).
 */
int sl_tz_local_to_utc(const struct sl_tz *tz, int64_t local, int64_t out[2], int64_t *gap_end);

/**
 * The least and greatest offsets in force at any instant at or after `from`.
 * A search over wall-clock times (sl_cron_next) uses them to know how far a
 * wall clock can run behind or ahead of UTC from then on.
 */
void sl_tz_offset_range(const struct sl_tz *tz, int64_t from, int32_t *min, int32_t *max);

#endif
