#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include "sluice/strbuf.h"

/**
 * The daemons' log: one line per event on stderr, journald-friendly,
 * `level=info event=connected scheduler=127.0.0.1:7411`. `fmt` gives the
 * key=value fields after the event (empty for none); values that may hold
 * spaces or quotes go through sl_log_quote. Whatever the values hold, the
 * line is one line: every control character in it (a newline, a carriage
 * return, an escape) is written escaped, `\n` or `\xNN`, so a value from
 * the network or a task cannot forge a line of its own. Each line is
 * written with one call, so lines from one process never interleave.
 */
void sl_log(const char *level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Append `s` as a log value: bare when simple, else double-quoted with escapes. */
void sl_log_quote(struct sl_strbuf *sb, const char *s);

#endif
