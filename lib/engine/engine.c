/*
 * The scheduler's database core: create scheduled runs (schedule_runs.c),
 * advance runs (advance.c), claim task instances (claim.c), record what
 * workers report (report.c), over definitions cached by version
 * (defcache.c). Each entry point is one transaction; see
 * include/sluice/engine.h and docs/engine.md. This file holds the engine's
 * lifecycle and the helpers that build statement parameters.
 */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/runstore.h"
#include "sluice/banned.h"

void sl_engine_init(struct sl_engine *e, struct sl_db *db)
{
	*e = (struct sl_engine)SL_ENGINE_INIT;
	e->db = db;
}

void sl_engine_release(struct sl_engine *e)
{
	sl__defstore_release(e);
	*e = (struct sl_engine)SL_ENGINE_INIT;
}

void sl__arr_add(struct sl_strbuf *a, const char *s)
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

void sl__arr_add_int(struct sl_strbuf *a, int64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%lld", (long long)v);
	sl__arr_add(a, num);
}

const char *sl__arr_end(struct sl_strbuf *a)
{
	if (!a->len)
		sl_strbuf_addch(a, '{');
	sl_strbuf_addch(a, '}');
	return a->buf;
}

int64_t sl__int_at(PGresult *r, int row, int col)
{
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

bool sl__bool_at(PGresult *r, int row, int col)
{
	return !strcmp(PQgetvalue(r, row, col), "t");
}

const char *sl__ts_of(struct ts *t, int64_t at_ms)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;

	sl_run_time_format(&sb, at_ms * 1000);
	snprintf(t->buf, sizeof(t->buf), "%s", sb.buf);
	sl_strbuf_release(&sb);
	return t->buf;
}

const char *sl__num_of(struct num *n, int64_t v)
{
	snprintf(n->buf, sizeof(n->buf), "%lld", (long long)v);
	return n->buf;
}
