#ifndef SLUICE_SHELLCTX_H
#define SLUICE_SHELLCTX_H

#include <stdbool.h>
#include <stddef.h>

#include "sluice/strbuf.h"

/**
 * Where each `{{ }}` template of a command sits in its shell syntax, and
 * whether that place is one where a value can become code.
 *
 * A template expands to a reference to its environment variable
 * (`${SLUICE_DS}`), and a shell never parses the value of a parameter
 * expansion as shell syntax: in a word or in double quotes a value is
 * data. But bash evaluates the *contents* of a variable as an arithmetic
 * expression in `$(( ))`, `(( ))`, `$[ ]`, `let`, `[[ ]]` operands, array
 * subscripts, substring offsets and assignments to `declare -i` variables,
 * and arithmetic evaluates `a[$(cmd)]` by running `cmd`; `eval`, `trap`,
 * `alias` and `sh -c` parse a string that already holds the value. Those
 * places are refused.
 *
 * This is a scanner, not a shell parser: it follows quotes, escapes,
 * `$( )`, backquotes, `${ }`, here-documents, comments, `case` patterns
 * and the constructs above, and a simple command's words. When it cannot
 * follow the text (an unbalanced `)`, an unterminated quote, nesting
 * deeper than it tracks) every template it has not already refused is
 * refused as SL_SHCTX_UNSURE: a false refusal names the context and the
 * fix, a false accept is a code injection.
 *
 * Word-based contexts (eval, let, unset, sh -c, ...) are recognised when
 * the word appears anywhere in the simple command, quoted or not, so
 * `sudo -u x bash -c ...` and `command eval ...` count; so does a mere
 * `echo eval {{ ds }}`, a harmless false refusal.
 */

enum sl_shctx {
	SL_SHCTX_WORD,       /* a word or double quotes: the value is data */
	SL_SHCTX_LITERAL,    /* single quotes, $'', a comment: not expanded at all */
	SL_SHCTX_ARITH,      /* $(( )) */
	SL_SHCTX_ARITH_CMD,  /* (( )) and for (( )) */
	SL_SHCTX_ARITH_OLD,  /* $[ ] */
	SL_SHCTX_TEST,       /* [[ ]], refused as a whole */
	SL_SHCTX_SUBSCRIPT,  /* a[...]=, ${a[...]}, a word name[ */
	SL_SHCTX_SUBSTRING,  /* ${x:offset:length} */
	SL_SHCTX_LET,        /* let */
	SL_SHCTX_EVAL,       /* eval, trap, alias: their argument is parsed as code */
	SL_SHCTX_SHELL,      /* sh -c / bash -c, or a here-document a shell reads */
	SL_SHCTX_VARNAME,    /* unset, read, printf -v, test -v, ...: a variable name */
	SL_SHCTX_DECLARE,    /* declare -i / -n, or the name part of declare x=... */
	SL_SHCTX_INT_ASSIGN, /* an assignment in a command that also declares -i */
	SL_SHCTX_UNSURE,     /* syntax the scanner could not follow */
};

/** One template of the command (a `{{ }}` piece, unterminated ones too), in order. */
struct sl_shellctx_ref {
	size_t start;      /* offset of its "{{" in the command */
	enum sl_shctx ctx; /* where it sits */
	const char
	    *word; /* the command word of a word-based context ("eval", "declare -i"), or NULL */
};

struct sl_shellctx_refs {
	struct sl_shellctx_ref *items;
	size_t nr;
	size_t alloc;
};

#define SL_SHELLCTX_REFS_INIT \
	{                     \
		NULL, 0, 0    \
	}

/**
 * Classify every template of `cmd[0..len)`; `out` receives one entry per
 * template piece, in the order sl_template_next finds them. Work is
 * O(len); memory is the entries.
 */
void sl_shellctx_scan(struct sl_shellctx_refs *out, const char *cmd, size_t len);

void sl_shellctx_refs_release(struct sl_shellctx_refs *refs);

/** True for a context where a value could become code (everything but WORD and LITERAL). */
bool sl_shctx_refused(enum sl_shctx ctx);

/**
 * Append the explanation of a refused template to `msg`: `template {{ NAME }}
 * inside CONTEXT: REASON; FIX`. `var` is the template's environment variable
 * (SLUICE_PARAM_N), which the fix tells the author to use.
 */
void sl_shellctx_explain(struct sl_strbuf *msg, const struct sl_shellctx_ref *ref, const char *name,
                         size_t name_len, const char *var);

#endif
