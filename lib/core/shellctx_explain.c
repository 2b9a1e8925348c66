/*
 * The message for a refused template (sl_shellctx_explain): the place, why
 * bash runs a value as code there, and what to write instead. Apart from
 * the scanner in shellctx.c, which only classifies.
 */
#include "sluice/shellctx.h"

#include "sluice/banned.h"

/* The arithmetic places, as messages name them. */
static const char *arith_place(enum sl_shctx ctx)
{
	switch (ctx) {
	case SL_SHCTX_ARITH:
		return "shell arithmetic $(( ))";
	case SL_SHCTX_ARITH_CMD:
		return "shell arithmetic (( ))";
	case SL_SHCTX_ARITH_OLD:
		return "shell arithmetic $[ ]";
	case SL_SHCTX_SUBSCRIPT:
		return "an array subscript [ ]";
	default:
		return "a substring offset ${x:offset:length}";
	}
}

void sl_shellctx_explain(struct sl_strbuf *msg, const struct sl_shellctx_ref *ref, const char *name,
                         size_t name_len, const char *var)
{
	const char *word = ref->word ? ref->word : "";
	struct sl_strbuf fix = SL_STRBUF_INIT;

	sl_strbuf_addf(&fix,
	               "validate the value first (e.g. case $%s in *[!0-9]*) exit 2;; esac) and "
	               "use the variable",
	               var);
	sl_strbuf_addf(msg, "template {{ %.*s }} inside ", (int)name_len, name);
	switch (ref->ctx) {
	case SL_SHCTX_WORD:
	case SL_SHCTX_LITERAL:
		break;
	case SL_SHCTX_ARITH:
	case SL_SHCTX_ARITH_CMD:
	case SL_SHCTX_ARITH_OLD:
	case SL_SHCTX_SUBSCRIPT:
	case SL_SHCTX_SUBSTRING:
		sl_strbuf_addf(msg, "%s: bash evaluates a variable's value as code there; %s",
		               arith_place(ref->ctx), fix.buf);
		break;
	case SL_SHCTX_LET:
		sl_strbuf_addf(msg,
		               "let: let evaluates its arguments, variables' values included, "
		               "as arithmetic, which can run commands; %s",
		               fix.buf);
		break;
	case SL_SHCTX_TEST:
		sl_strbuf_addf(
		    msg,
		    "[[ ]]: bash evaluates a variable's value as code in its arithmetic "
		    "operators (-eq, -lt, ...), and sluice refuses templates anywhere in "
		    "[[ ]]; use [ ] or case on \"$%s\" (after validating it, for -eq)",
		    var);
		break;
	case SL_SHCTX_DECLARE:
		sl_strbuf_addf(
		    msg,
		    "%s: bash evaluates the value of an integer (-i) variable, the target "
		    "of a name reference (-n) and the subscript of a variable name as "
		    "code; %s",
		    word, fix.buf);
		break;
	case SL_SHCTX_INT_ASSIGN:
		sl_strbuf_addf(
		    msg,
		    "an assignment in a command that declares integer variables "
		    "(declare -i): bash evaluates a value assigned to an integer variable "
		    "as code; %s",
		    fix.buf);
		break;
	case SL_SHCTX_VARNAME:
		sl_strbuf_addf(msg,
		               "%s, which takes a variable name: bash evaluates the subscript of a "
		               "name (a[$(cmd)]) as code; validate the value first (e.g. case $%s "
		               "in *[!A-Za-z0-9_]*) exit 2;; esac) and use the variable",
		               word, var);
		break;
	case SL_SHCTX_EVAL:
		sl_strbuf_addf(
		    msg,
		    "%s: the shell puts the value into %s's argument, which is then parsed "
		    "as shell code; write the variable itself in single quotes ('... "
		    "\"$%s\" ...') or avoid %s",
		    word, word, var, word);
		break;
	case SL_SHCTX_SHELL:
		sl_strbuf_addf(msg,
		               "%s: that shell parses its script with its own rules, which sluice "
		               "does not check; use the variable in the script (sh -c 'echo "
		               "\"$%s\"'), where it is exported",
		               word, var);
		break;
	case SL_SHCTX_UNSURE:
		sl_strbuf_addf(
		    msg,
		    "shell syntax sluice cannot follow (an unbalanced quote, parenthesis "
		    "or here-document, or nesting too deep): sluice refuses a template it "
		    "cannot place; simplify the command, or use \"$%s\" in a script",
		    var);
		break;
	}
	sl_strbuf_release(&fix);
}
