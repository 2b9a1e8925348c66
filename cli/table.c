/*
 * Human output shared by the commands over the database: aligned tables,
 * durations, ages, instants, commits, and libpq cell readers.
 */
#include "table.h"

#include <jansson.h>

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/alloc.h"
#include "sluice/civil.h"
#include "cli.h"
#include "sluice/banned.h"

#define COMMIT_ABBREV 7

void cli_table_header(struct cli_table *t, ...)
{
	va_list ap;
	const char *h;

	va_start(ap, t);
	while ((h = va_arg(ap, const char *)) != NULL) {
		cli_table_add(t, h);
		t->cols++;
	}
	va_end(ap);
}

void cli_table_align_right(struct cli_table *t, size_t col)
{
	if (col < 32)
		t->right |= 1u << col;
}

static void push(struct cli_table *t, char *cell)
{
	SL_ALLOC_GROW(t->cells, t->nr + 1, t->alloc);
	t->cells[t->nr++] = cell;
}

void cli_table_add(struct cli_table *t, const char *cell)
{
	push(t, sl_xstrdup(cell ? cell : "-"));
}

void cli_table_addf(struct cli_table *t, const char *fmt, ...)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	sl_strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	push(t, sl_strbuf_detach(&sb, NULL));
}

void cli_table_add_buf(struct cli_table *t, struct sl_strbuf *sb)
{
	push(t, sl_strbuf_detach(sb, NULL));
}

size_t cli_table_rows(const struct cli_table *t)
{
	return t->cols ? (t->nr + t->cols - 1) / t->cols - 1 : 0;
}

/*
 * Characters, not bytes: UTF-8 continuation bytes do not count, nor do the
 * SGR sequences of a coloured state (ESC [ parameters, up to a final byte
 * from @ to ~), which the terminal does not draw.
 */
static size_t text_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++) {
		if (s[0] == '\033' && s[1] == '[') {
			for (s += 2; *s && (*s < '@' || *s > '~'); s++)
				;
			if (!*s)
				break;
			continue;
		}
		n += ((unsigned char)*s & 0xC0) != 0x80;
	}
	return n;
}

void cli_table_print(const struct cli_table *t, FILE *out)
{
	struct sl_strbuf line = SL_STRBUF_INIT;
	size_t *width;

	if (!t->cols)
		return;
	width = sl_xcalloc(t->cols, sizeof(*width));
	for (size_t i = 0; i < t->nr; i++) {
		size_t w = text_width(t->cells[i]);

		if (w > width[i % t->cols])
			width[i % t->cols] = w;
	}
	for (size_t row = 0; row * t->cols < t->nr; row++) {
		sl_strbuf_reset(&line);
		for (size_t col = 0; col < t->cols; col++) {
			size_t i = row * t->cols + col;
			const char *cell = i < t->nr ? t->cells[i] : "";
			int pad = (int)(width[col] - text_width(cell));

			if (col)
				sl_strbuf_adds(&line, "  ");
			if (t->right & (1u << col))
				sl_strbuf_addf(&line, "%*s%s", pad, "", cell);
			else
				sl_strbuf_addf(&line, "%s%*s", cell, pad, "");
		}
		/* An empty last cell, or a padded one, leaves no trailing blanks. */
		while (line.len && line.buf[line.len - 1] == ' ')
			sl_strbuf_setlen(&line, line.len - 1);
		fprintf(out, "%s\n", line.buf);
	}
	sl_strbuf_release(&line);
	free(width);
}

void cli_table_release(struct cli_table *t)
{
	for (size_t i = 0; i < t->nr; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nr = t->alloc = t->cols = 0;
	t->right = 0;
}

int cli_print_list(const struct cli *cli, const struct cli_table *t, json_t *list)
{
	if (cli->json)
		return cli_print_json(list);
	json_decref(list);
	cli_table_print(t, stdout);
	return CLI_EXIT_OK;
}

void cli_fmt_duration(struct sl_strbuf *sb, int64_t secs)
{
	static const struct {
		char unit;
		int64_t secs;
	} units[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};

	if (secs <= 0) {
		sl_strbuf_adds(sb, "0s");
		return;
	}
	for (size_t i = 0; i < SL_ARRAY_SIZE(units); i++) {
		int64_t n = secs / units[i].secs;

		if (!n)
			continue;
		sl_strbuf_addf(sb, "%lld%c", (long long)n, units[i].unit);
		if (i + 1 < SL_ARRAY_SIZE(units)) {
			int64_t m = secs % units[i].secs / units[i + 1].secs;

			if (m)
				sl_strbuf_addf(sb, "%lld%c", (long long)m, units[i + 1].unit);
		}
		return;
	}
}

void cli_fmt_age(struct sl_strbuf *sb, int64_t secs)
{
	if (secs < 0) {
		sl_strbuf_adds(sb, "in ");
		cli_fmt_duration(sb, -secs);
		return;
	}
	cli_fmt_duration(sb, secs);
	sl_strbuf_adds(sb, " ago");
}

void cli_fmt_time(struct sl_strbuf *sb, int64_t t, const struct sl_tz *tz)
{
	sl_iso_format(sb, t, tz);
}

void cli_fmt_commit(struct sl_strbuf *sb, const char *oid)
{
	if (!oid)
		sl_strbuf_adds(sb, "-");
	else
		sl_strbuf_add(sb, oid, strnlen(oid, COMMIT_ABBREV));
}

int cli_db_rc(int rc, const struct sl_strbuf *err)
{
	if (!rc)
		return 0;
	cli_error("%s", err->buf);
	return cli_exit_code(rc);
}
