#include "sluice/template.h"

#include "sluice/dag.h"

#include <string.h>
#include "sluice/banned.h"

const char *const sl_template_builtins[] = {
    "ds",     "ds_nodash", "ts",   "logical_date", "data_interval_start", "data_interval_end",
    "run_id", "dag",       "task", "try_number",   "poke_number",         NULL,
};

void sl_template_iter_init(struct sl_template_iter *it, const char *s, size_t len)
{
	it->s = s;
	it->len = len;
	it->pos = 0;
}

/* The first "cc" in s[0..len), or NULL. */
static const char *find2(const char *s, size_t len, char c)
{
	const char *end = s + len, *p = s;

	if (len < 2)
		return NULL;
	while ((p = memchr(p, c, (size_t)(end - p - 1)))) {
		if (p[1] == c)
			return p;
		p++;
	}
	return NULL;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

bool sl_template_next(struct sl_template_iter *it, struct sl_template_piece *piece)
{
	const char *rest = it->s + it->pos;
	size_t rest_len = it->len - it->pos;
	const char *open, *close;

	if (!rest_len)
		return false;
	memset(piece, 0, sizeof(*piece));
	piece->start = it->pos;
	open = find2(rest, rest_len, '{');
	if (open != rest) {
		piece->kind = SL_TEMPLATE_TEXT;
		piece->len = open ? (size_t)(open - rest) : rest_len;
		it->pos += piece->len;
		return true;
	}
	close = find2(rest + 2, rest_len - 2, '}');
	if (!close) {
		piece->kind = SL_TEMPLATE_UNTERMINATED;
		piece->len = rest_len;
		it->pos = it->len;
		return true;
	}
	piece->kind = SL_TEMPLATE_REF;
	piece->len = (size_t)(close + 2 - rest);
	piece->name = rest + 2;
	piece->name_len = (size_t)(close - piece->name);
	while (piece->name_len && is_blank(piece->name[0])) {
		piece->name++;
		piece->name_len--;
	}
	while (piece->name_len && is_blank(piece->name[piece->name_len - 1]))
		piece->name_len--;
	it->pos += piece->len;
	return true;
}

bool sl_template_ident_valid(const char *s, size_t len)
{
	if (!len || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return false;
	}
	return true;
}

static bool has_prefix(const char *s, size_t len, const char *prefix, size_t plen)
{
	return len > plen && !memcmp(s, prefix, plen);
}

static bool id_valid_n(const char *s, size_t len)
{
	char id[SL_ID_MAX + 1];

	if (len > SL_ID_MAX)
		return false;
	memcpy(id, s, len);
	id[len] = '\0';
	return sl_id_valid(id);
}

void sl_template_ref_parse(const char *name, size_t len, struct sl_template_ref *ref)
{
	memset(ref, 0, sizeof(*ref));
	ref->kind = SL_TREF_INVALID;
	if (has_prefix(name, len, "params.", 7)) {
		ref->a = name + 7;
		ref->a_len = len - 7;
		if (sl_template_ident_valid(ref->a, ref->a_len))
			ref->kind = SL_TREF_PARAM;
		return;
	}
	if (has_prefix(name, len, "outputs.", 8)) {
		const char *task = name + 8, *dot = NULL;

		for (const char *p = task; p < name + len; p++) {
			if (*p == '.')
				dot = p;
		}
		if (!dot)
			return;
		ref->a = task;
		ref->a_len = (size_t)(dot - task);
		ref->b = dot + 1;
		ref->b_len = (size_t)(name + len - ref->b);
		if (id_valid_n(ref->a, ref->a_len) && sl_template_ident_valid(ref->b, ref->b_len))
			ref->kind = SL_TREF_OUTPUT;
		return;
	}
	for (size_t i = 0; sl_template_builtins[i]; i++) {
		if (strlen(sl_template_builtins[i]) == len &&
		    !memcmp(sl_template_builtins[i], name, len)) {
			ref->kind = SL_TREF_BUILTIN;
			ref->a = name;
			ref->a_len = len;
			return;
		}
	}
}
