#ifndef SLUICE_TEMPLATE_H
#define SLUICE_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

/**
 * The `{{ name }}` syntax of commands. A template is literal text with
 * references `{{ name }}` (spaces and tabs inside the braces optional).
 * There is no escape: a command that needs a literal "{{" cannot have one.
 * The loader checks every reference and a later stage expands them, both
 * through this one scanner.
 *
 *     struct sl_template_iter it;
 *     struct sl_template_piece p;
 *
 *     sl_template_iter_init(&it, s, len);
 *     while (sl_template_next(&it, &p))
 *             switch (p.kind) { ... }
 */

enum sl_template_piece_kind {
	SL_TEMPLATE_TEXT,         /* literal text: s[start .. start+len) */
	SL_TEMPLATE_REF,          /* a reference; `name` is trimmed */
	SL_TEMPLATE_UNTERMINATED, /* "{{" without a closing "}}": the rest of s */
};

struct sl_template_piece {
	enum sl_template_piece_kind kind;
	size_t start, len; /* the piece's bytes in the template, braces included */
	const char *name;  /* SL_TEMPLATE_REF: the name inside the braces */
	size_t name_len;
};

struct sl_template_iter {
	const char *s;
	size_t len;
	size_t pos;
};

void sl_template_iter_init(struct sl_template_iter *it, const char *s, size_t len);
/** Fill `piece` with the next piece; false at the end of the template. */
bool sl_template_next(struct sl_template_iter *it, struct sl_template_piece *piece);

enum sl_template_ref_kind {
	SL_TREF_INVALID, /* not a name sluice knows the shape of */
	SL_TREF_BUILTIN, /* ds, ts, run_id, ...: `a` is the name */
	SL_TREF_PARAM,   /* params.NAME: `a` is NAME */
	SL_TREF_OUTPUT,  /* outputs.TASK.KEY: `a` is TASK, `b` is KEY */
};

struct sl_template_ref {
	enum sl_template_ref_kind kind;
	const char *a;
	size_t a_len;
	const char *b;
	size_t b_len;
};

/**
 * Classify a reference name. Builtins: ds, ds_nodash, ts, logical_date,
 * data_interval_start, data_interval_end, run_id, dag, task, try_number,
 * poke_number.
 * `params.NAME` needs NAME to match [A-Za-z_][A-Za-z0-9_]*.
 * `outputs.TASK.KEY` splits at the last dot (task ids may hold dots); TASK
 * must be a valid id and KEY match [A-Za-z_][A-Za-z0-9_]*.
 * Whether the param is declared or the task upstream is for the caller.
 */
void sl_template_ref_parse(const char *name, size_t len, struct sl_template_ref *ref);

/** The builtin names, for "did you mean" hints; NULL-terminated. */
extern const char *const sl_template_builtins[];

/** True when s[0..len) matches [A-Za-z_][A-Za-z0-9_]*. */
bool sl_template_ident_valid(const char *s, size_t len);

#endif
