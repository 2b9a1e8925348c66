#ifndef SLUICE_CORE_SHELLCTX_SCAN_H
#define SLUICE_CORE_SHELLCTX_SCAN_H

/*
 * Private to the shell-context scanner (sl_shellctx_scan), which is two
 * files: shellctx.c follows the syntax (quotes, expansions, arithmetic,
 * here-documents, the frames below) and places each template;
 * shellctx_words.c reads the words of a simple command (eval, let,
 * declare -i, sh -c, ...) and decides, when the command ends, the templates
 * its words make code.
 */

#include <stdbool.h>
#include <stddef.h>

#include "sluice/shellctx.h"
#include "sluice/template.h"

/*
 * The scanner keeps a stack of frames, one per construct it is inside
 * (a command list, quotes, `${ }`, arithmetic, ...). A template is decided
 * when it is met if any frame on the stack is one where a value is code;
 * otherwise it stays undecided until the simple command around it ends,
 * since a word later in the command (`eval`, `-c`, `-i`) may still make it
 * code. Templates are recorded in text order, so "the templates of this
 * simple command, and of everything nested in it" are those recorded since
 * it began.
 */

#define MAX_FRAMES   32
#define MAX_HEREDOCS 8
#define WORD_MAX     64

enum frame_kind {
	F_CMD,       /* a command list: the top, $( ), ` `, ( ), an array's ( ) */
	F_DQ,        /* "..." */
	F_SQ,        /* '...' */
	F_ANSI,      /* $'...' */
	F_COMMENT,   /* # to the end of the line */
	F_PARAM,     /* ${...} */
	F_ARITH,     /* $(( )), (( )), $[ ] */
	F_TEST,      /* [[ ]] */
	F_SUBSCRIPT, /* [...] after a name */
	F_HEREDOC,   /* a here-document's body */
};

enum param_state { P_NAME, P_AFTER, P_WORD };

/* Per-template facts for the decisions taken when a command ends. */
#define REF_NAME_PART    1u /* in a word before any NAME= */
#define REF_ASSIGN_VALUE 2u /* after the = of NAME=, NAME+= or NAME[...]= */

struct heredoc {
	char delim[WORD_MAX];
	size_t delim_len;
	bool strip_tabs; /* <<- */
	bool quoted;     /* <<'EOF': the body is not expanded */
	enum sl_shctx danger;
	const char *word;
};

struct word {
	char text[WORD_MAX]; /* after quote removal; a prefix when len >= WORD_MAX */
	size_t len;
	bool expanded; /* holds an expansion: its text is not known */
	bool quoted;   /* some of it is quoted: not a reserved word */
	bool ident;    /* so far an unquoted [A-Za-z_][A-Za-z0-9_]* */
	bool namey;    /* so far NAME or NAME[...]: an '=' makes an assignment */
	bool assign;   /* past that '=' */
};

/* What the words of the current simple command said so far. */
struct simple {
	size_t first_ref;
	size_t first_heredoc;
	size_t words;
	bool first_unknown; /* its first word holds an expansion ($SHELL -c) */
	bool shell, printf_, test_, wait_, declare;
	enum sl_shctx ctx; /* a word-based context, or SL_SHCTX_WORD */
	const char *word;
};

struct frame {
	enum frame_kind kind;
	enum sl_shctx danger; /* SL_SHCTX_WORD, or what every template inside is */
	const char *word;
	char close; /* F_CMD: ')', '`' or 0 at the top; F_ARITH: ')' or ']' */
	int depth;  /* parentheses, brackets or braces inside */

	/* F_CMD (and F_TEST, which only uses `w`) */
	struct word w;
	struct simple sc;
	int case_nest;     /* open case ... esac */
	bool case_pattern; /* reading a case pattern, up to its ')' */
	int case_expect;   /* 1: the case subject is next, 2: the word 'in' */
	struct heredoc hd[MAX_HEREDOCS];
	size_t hd_nr, hd_next;

	/* F_PARAM */
	enum param_state ps;
	bool in_dq;

	/* F_HEREDOC */
	const struct heredoc *doc;
	bool bol;
};

struct scan {
	const char *s;
	size_t len, pos;
	struct frame *f;
	size_t nf;
	struct sl_shellctx_refs *out;
	unsigned char *flags; /* per recorded template */
	struct sl_template_piece *t;
	size_t t_nr, t_next;
	bool unsure;
	bool integer_declared; /* some declare -i, anywhere */
	bool overflow;         /* nesting deeper than MAX_FRAMES: stop */
};

static inline bool is_ident_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

static inline bool undecided(enum sl_shctx ctx)
{
	return ctx == SL_SHCTX_WORD || ctx == SL_SHCTX_LITERAL;
}

/*
 * shellctx_words.c: a word of a command list, the end of one of its words
 * and of its simple command, and the decision applied to the templates
 * recorded since a given one.
 */
void sl__shellctx_word_add(struct word *w, char c, bool quoted);
void sl__shellctx_end_word(struct scan *s, struct frame *f);
void sl__shellctx_end_simple(struct scan *s, struct frame *f);
void sl__shellctx_decide_from(struct scan *s, size_t first, enum sl_shctx ctx, const char *word,
                              unsigned flag);

#endif
