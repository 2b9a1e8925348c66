#include "sluice/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "sluice/banned.h"

/*
 * Append `s` with every control character escaped as sl_log_quote would,
 * so that no value, quoted or not, can end the line and forge the next
 * one. What sl_log_quote produced has none, and passes unchanged.
 */
static void add_escaped(struct sl_strbuf *sb, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n')
			sl_strbuf_adds(sb, "\\n");
		else if (c < ' ' || c == 0x7f)
			sl_strbuf_addf(sb, "\\x%02x", c);
		else
			sl_strbuf_addch(sb, (char)c);
	}
}

void sl_log(const char *level, const char *event, const char *fmt, ...)
{
	struct sl_strbuf line = SL_STRBUF_INIT, fields = SL_STRBUF_INIT;
	va_list ap;

	sl_strbuf_addf(&fields, "level=%s event=%s", level, event);
	if (fmt[0]) {
		sl_strbuf_addch(&fields, ' ');
		va_start(ap, fmt);
		sl_strbuf_vaddf(&fields, fmt, ap);
		va_end(ap);
	}
	add_escaped(&line, fields.buf, fields.len);
	sl_strbuf_release(&fields);
	sl_strbuf_addch(&line, '\n');
	/* One write per line, so that lines never interleave. */
	fwrite(line.buf, 1, line.len, stderr);
	fflush(stderr);
	sl_strbuf_release(&line);
}

void sl_log_quote(struct sl_strbuf *sb, const char *s)
{
	bool bare = s[0] != '\0';

	for (const char *p = s; *p && bare; p++)
		bare = (unsigned char)*p > ' ' && *p != '"' && *p != '\\' && *p != '=' &&
		       (unsigned char)*p < 0x7f;
	if (bare) {
		sl_strbuf_adds(sb, s);
		return;
	}
	sl_strbuf_addch(sb, '"');
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '"' || c == '\\')
			sl_strbuf_addf(sb, "\\%c", c);
		else if (c == '\n')
			sl_strbuf_adds(sb, "\\n");
		else if (c < ' ' || c == 0x7f)
			sl_strbuf_addf(sb, "\\x%02x", c);
		else
			sl_strbuf_addch(sb, (char)c);
	}
	sl_strbuf_addch(sb, '"');
}
