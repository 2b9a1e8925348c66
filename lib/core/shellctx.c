#include "sluice/shellctx.h"

#include "sluice/alloc.h"
#include "sluice/template.h"

#include <stdlib.h>
#include <string.h>
#include "sluice/banned.h"

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

static char peek(const struct scan *s, size_t ahead)
{
	return s->pos + ahead < s->len ? s->s[s->pos + ahead] : '\0';
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_ident_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

static bool undecided(enum sl_shctx ctx)
{
	return ctx == SL_SHCTX_WORD || ctx == SL_SHCTX_LITERAL;
}

static struct frame *top(struct scan *s)
{
	return &s->f[s->nf - 1];
}

static struct frame *push(struct scan *s, enum frame_kind kind)
{
	struct frame *f;

	if (s->nf == MAX_FRAMES) {
		s->overflow = true;
		return NULL;
	}
	f = &s->f[s->nf++];
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->danger = SL_SHCTX_WORD;
	f->w.ident = f->w.namey = true;
	f->sc.first_ref = s->out->nr;
	return f;
}

static void push_danger(struct scan *s, enum frame_kind kind, enum sl_shctx danger, char close)
{
	struct frame *f = push(s, kind);

	if (f) {
		f->danger = danger;
		f->close = close;
	}
}

static void push_cmd(struct scan *s, char close)
{
	struct frame *f = push(s, F_CMD);

	if (f)
		f->close = close;
}

/* The word that quoted text or an expansion at the top belongs to, or NULL. */
static struct word *owner(struct scan *s)
{
	for (size_t i = s->nf; i-- > 0;) {
		switch (s->f[i].kind) {
		case F_CMD:
		case F_TEST:
			return &s->f[i].w;
		case F_DQ:
		case F_SQ:
		case F_ANSI:
		case F_PARAM:
		case F_ARITH:
		case F_SUBSCRIPT:
			continue;
		case F_COMMENT:
		case F_HEREDOC:
			return NULL;
		}
	}
	return NULL;
}

static void word_add(struct word *w, char c, bool quoted)
{
	if (w->len < WORD_MAX - 1)
		w->text[w->len] = c;
	w->len++;
	w->ident = w->ident && !quoted && is_ident_char(c, w->len == 1);
	w->namey = w->ident;
	w->quoted |= quoted;
}

static void word_expanded(struct scan *s)
{
	struct word *w = owner(s);

	if (w) {
		w->expanded = true;
		w->ident = w->namey = false;
	}
}

static void word_quoted_char(struct scan *s, char c)
{
	struct word *w = owner(s);

	if (w)
		word_add(w, c, true);
}

static bool word_is(const struct word *w, const char *text)
{
	return w->len < WORD_MAX && !strcmp(w->text, text);
}

/* Apply `ctx` to the undecided templates recorded from `first` on (with `flag`, if not 0). */
static void decide_from(struct scan *s, size_t first, enum sl_shctx ctx, const char *word,
                        unsigned flag)
{
	for (size_t i = first; i < s->out->nr; i++) {
		if (undecided(s->out->items[i].ctx) && (!flag || (s->flags[i] & flag))) {
			s->out->items[i].ctx = ctx;
			s->out->items[i].word = word;
		}
	}
}

static void simple_set(struct simple *sc, enum sl_shctx ctx, const char *word)
{
	if (sc->ctx == SL_SHCTX_WORD) {
		sc->ctx = ctx;
		sc->word = word;
	}
}

static bool is_shell_name(const char *word)
{
	static const char *const shells[] = {"sh",  "bash", "dash", "ksh",   "zsh",     "mksh",
	                                     "ash", "yash", "posh", "rbash", "busybox", NULL};
	const char *base = strrchr(word, '/');

	base = base ? base + 1 : word;
	for (size_t i = 0; shells[i]; i++) {
		if (!strcmp(base, shells[i]))
			return true;
	}
	return false;
}

/* A single-dash option word holding the letter `opt`: -c, -ec, -ix. */
static bool has_option(const char *word, char opt)
{
	if (word[0] != '-' || word[1] == '-' || !word[1])
		return false;
	return strchr(word + 1, opt) != NULL;
}

/* What one known word of a simple command says about its templates. */
static void word_context(struct scan *s, struct simple *sc, const char *text)
{
	static const char *const code[] = {"eval", "trap", "alias", NULL};
	static const char *const names[] = {"unset",     "read",    "mapfile",
	                                    "readarray", "getopts", NULL};
	static const char *const decls[] = {"declare",  "typeset", "local",
	                                    "readonly", "export",  NULL};

	for (size_t i = 0; code[i]; i++) {
		if (!strcmp(text, code[i]))
			simple_set(sc, SL_SHCTX_EVAL, code[i]);
	}
	for (size_t i = 0; names[i]; i++) {
		if (!strcmp(text, names[i]))
			simple_set(sc, SL_SHCTX_VARNAME, names[i]);
	}
	for (size_t i = 0; decls[i]; i++) {
		if (!strcmp(text, decls[i]))
			sc->declare = true;
	}
	if (!strcmp(text, "let"))
		simple_set(sc, SL_SHCTX_LET, "let");
	sc->printf_ |= !strcmp(text, "printf");
	sc->test_ |= !strcmp(text, "test") || !strcmp(text, "[");
	sc->wait_ |= !strcmp(text, "wait");
	sc->shell |= is_shell_name(text);
	if (sc->printf_ && !strncmp(text, "-v", 2))
		simple_set(sc, SL_SHCTX_VARNAME, "printf -v");
	if (sc->test_ && (!strcmp(text, "-v") || !strcmp(text, "-R")))
		simple_set(sc, SL_SHCTX_VARNAME, "test -v");
	if (sc->wait_ && has_option(text, 'p'))
		simple_set(sc, SL_SHCTX_VARNAME, "wait -p");
	if ((sc->shell || sc->first_unknown) && has_option(text, 'c'))
		simple_set(sc, SL_SHCTX_SHELL, "sh -c");
	if (sc->declare && has_option(text, 'i')) {
		s->integer_declared = true;
		simple_set(sc, SL_SHCTX_DECLARE, "declare -i");
	}
	if (sc->declare && has_option(text, 'n'))
		simple_set(sc, SL_SHCTX_DECLARE, "declare -n");
}

/* Reserved words after which a command word still comes. */
static bool is_prefix_keyword(const struct word *w)
{
	static const char *const kw[] = {"if",    "then", "else", "elif", "do", "while",
	                                 "until", "!",    "{",    "time", NULL};

	for (size_t i = 0; kw[i]; i++) {
		if (word_is(w, kw[i]))
			return true;
	}
	return false;
}

static void end_word(struct scan *s, struct frame *f)
{
	struct word *w = &f->w;
	struct simple *sc = &f->sc;
	bool known, plain;

	if (!w->len && !w->expanded && !w->quoted)
		return;
	if (w->len < WORD_MAX)
		w->text[w->len] = '\0';
	known = !w->expanded && w->len < WORD_MAX;
	plain = known && !w->quoted;
	if (f->kind == F_CMD) {
		/* case SUBJECT in PATTERN) ...;; esac: a pattern's ')' closes nothing. */
		if (f->case_expect == 1) {
			f->case_expect = 2;
		} else if (f->case_expect == 2) {
			f->case_expect = 0;
			if (plain && !strcmp(w->text, "in")) {
				f->case_nest++;
				f->case_pattern = true;
			}
		} else if (plain && f->case_nest && (f->case_pattern || !sc->words) &&
		           !strcmp(w->text, "esac")) {
			f->case_nest--;
			f->case_pattern = false;
		} else if (plain && !sc->words && !strcmp(w->text, "case")) {
			f->case_expect = 1;
		}
	}
	if (f->kind == F_CMD && !f->case_pattern) {
		if (!sc->words && plain && is_prefix_keyword(w)) {
			/* not a word of the command that follows */
		} else {
			if (!sc->words)
				sc->first_unknown = w->expanded;
			sc->words++;
			if (known)
				word_context(s, sc, w->text);
		}
	}
	memset(w, 0, sizeof(*w));
	w->ident = w->namey = true;
}

/* The simple command of `f` ended (at ; & | newline or the frame's end). */
static void end_simple(struct scan *s, struct frame *f)
{
	struct simple *sc = &f->sc;

	end_word(s, f);
	if (sc->ctx != SL_SHCTX_WORD)
		decide_from(s, sc->first_ref, sc->ctx, sc->word, 0);
	else if (sc->declare)
		decide_from(s, sc->first_ref, SL_SHCTX_DECLARE, "declare", REF_NAME_PART);
	for (size_t i = sc->first_heredoc; i < f->hd_nr; i++) {
		f->hd[i].danger = sc->ctx;
		f->hd[i].word = sc->word;
		if (sc->ctx == SL_SHCTX_WORD && sc->shell) {
			f->hd[i].danger = SL_SHCTX_SHELL;
			f->hd[i].word = "a here-document read by a shell";
		}
	}
	memset(sc, 0, sizeof(*sc));
	sc->first_ref = s->out->nr;
	sc->first_heredoc = f->hd_nr;
}

static void pop(struct scan *s)
{
	struct frame *f = top(s);

	if (f->kind == F_CMD) {
		end_simple(s, f);
		if (f->hd_next < f->hd_nr)
			s->unsure = true; /* a here-document whose body never came */
	}
	s->nf--;
}

/* Start the next pending here-document body of `f`, if any. */
static void next_heredoc(struct scan *s, struct frame *f)
{
	struct frame *h;

	if (f->hd_next == f->hd_nr) {
		f->hd_nr = f->hd_next = 0;
		f->sc.first_heredoc = 0;
		return;
	}
	h = push(s, F_HEREDOC);
	if (!h)
		return;
	h->doc = &s->f[s->nf - 2].hd[s->f[s->nf - 2].hd_next++];
	h->danger = h->doc->danger;
	h->word = h->doc->word;
	h->bol = true;
}

/* `<<WORD` or `<<-WORD` at s->pos: note the body that follows the next newline. */
static void heredoc_parse(struct scan *s, struct frame *f)
{
	struct heredoc *h;
	char q = 0;

	if (f->hd_nr == MAX_HEREDOCS) {
		s->unsure = true;
		s->pos += 2;
		return;
	}
	h = &f->hd[f->hd_nr];
	memset(h, 0, sizeof(*h));
	s->pos += 2;
	if (peek(s, 0) == '-') {
		h->strip_tabs = true;
		s->pos++;
	}
	while (is_blank(peek(s, 0)))
		s->pos++;
	for (; s->pos < s->len; s->pos++) {
		char c = s->s[s->pos];

		if (q) {
			if (c == q) {
				q = 0;
				continue;
			}
		} else if (c == '\'' || c == '"') {
			q = c;
			h->quoted = true;
			continue;
		} else if (c == '\\' && s->pos + 1 < s->len) {
			h->quoted = true;
			c = s->s[++s->pos];
		} else if (is_blank(c) || strchr("\n;&|<>()", c)) {
			break;
		}
		if (h->delim_len == WORD_MAX - 1) {
			s->unsure = true;
			return;
		}
		h->delim[h->delim_len++] = c;
	}
	if (q || !h->delim_len) {
		s->unsure = true;
		return;
	}
	f->hd_nr++;
}

/* `$` at s->pos, in any frame where it starts an expansion. */
static void dollar(struct scan *s)
{
	char c1 = peek(s, 1);
	bool dq = top(s)->kind == F_DQ || top(s)->kind == F_HEREDOC;
	struct frame *f;

	word_expanded(s);
	if (c1 == '(' && peek(s, 2) == '(') {
		push_danger(s, F_ARITH, SL_SHCTX_ARITH, ')');
		s->pos += 3;
	} else if (c1 == '(') {
		push_cmd(s, ')');
		s->pos += 2;
	} else if (c1 == '[') {
		push_danger(s, F_ARITH, SL_SHCTX_ARITH_OLD, ']');
		s->pos += 2;
	} else if (c1 == '{') {
		f = push(s, F_PARAM);
		if (f)
			f->in_dq = dq;
		s->pos += 2;
	} else if (c1 == '\'' && !dq) {
		push(s, F_ANSI);
		s->pos += 2;
	} else if (c1 == '"' && !dq) {
		push(s, F_DQ);
		s->pos += 2;
	} else {
		s->pos++;
	}
}

/* Quotes and expansions, shared by the frames that are not command lists. */
static bool step_common(struct scan *s, char c, bool single_quotes)
{
	switch (c) {
	case '\\':
		s->pos += 2;
		return true;
	case '$':
		dollar(s);
		return true;
	case '`':
		word_expanded(s);
		push_cmd(s, '`');
		s->pos++;
		return true;
	case '"':
		push(s, F_DQ);
		s->pos++;
		return true;
	case '\'':
		if (!single_quotes)
			return false;
		push(s, F_SQ);
		s->pos++;
		return true;
	default:
		return false;
	}
}

static bool word_empty(const struct word *w)
{
	return !w->len && !w->expanded && !w->quoted;
}

static void step_cmd(struct scan *s, struct frame *f)
{
	char c = s->s[s->pos], n = peek(s, 1);
	struct word *w = &f->w;

	switch (c) {
	case '\\':
		if (n == '\n') {
			s->pos += 2;
			return;
		}
		if (s->pos + 1 < s->len)
			word_add(w, n, true);
		s->pos += 2;
		return;
	case '\'':
	case '"':
		w->quoted = true;
		w->ident = w->namey = false;
		push(s, c == '"' ? F_DQ : F_SQ);
		s->pos++;
		return;
	case '`':
		if (f->close == '`') {
			pop(s);
			s->pos++;
			return;
		}
		step_common(s, c, true);
		return;
	case '$':
		dollar(s);
		return;
	case '(':
		if (f->case_pattern && word_empty(w)) {
			s->pos++;
		} else if (n == '(') {
			/* (( )) and for (( )); also ((cmd) ), which bash reads the same way first
			 */
			word_expanded(s);
			push_danger(s, F_ARITH, SL_SHCTX_ARITH_CMD, ')');
			s->pos += 2;
		} else {
			/* a subshell, f(), NAME=( ), @( ): words of their own */
			word_expanded(s);
			push_cmd(s, ')');
			s->pos++;
		}
		return;
	case ')':
		if (f->close == ')') {
			pop(s);
		} else if (f->case_pattern) {
			end_word(s, f);
			f->case_pattern = false;
			end_simple(s, f);
		} else {
			s->unsure = true;
		}
		s->pos++;
		return;
	case '[':
		if (word_empty(w) && n == '[' && (is_blank(peek(s, 2)) || peek(s, 2) == '\n')) {
			push_danger(s, F_TEST, SL_SHCTX_TEST, 0);
			s->pos += 2;
			return;
		}
		if ((w->ident && w->len) || (word_empty(w) && n && !is_blank(n) && n != '\n')) {
			/* NAME[...] (an assignment or a name given to a builtin), or [...]= in ( )
			 */
			push_danger(s, F_SUBSCRIPT, SL_SHCTX_SUBSCRIPT, 0);
			word_add(w, c, false);
			w->ident = false;
			w->namey = true;
			s->pos++;
			return;
		}
		break;
	case '#':
		if (word_empty(w)) {
			push(s, F_COMMENT);
			s->pos++;
			return;
		}
		break;
	case ' ':
	case '\t':
		end_word(s, f);
		s->pos++;
		return;
	case '\n':
		end_simple(s, f);
		s->pos++;
		next_heredoc(s, f);
		return;
	case ';':
		end_simple(s, f);
		s->pos++;
		if (n == ';' || n == '&') {
			/* ;; ;& ;;& end a case item: a pattern comes next */
			s->pos++;
			if (peek(s, 0) == '&')
				s->pos++;
			f->case_pattern = f->case_nest > 0;
		}
		return;
	case '&':
	case '|':
		if (f->case_pattern) {
			end_word(s, f);
		} else {
			end_simple(s, f);
		}
		s->pos++;
		return;
	case '<':
	case '>':
		end_word(s, f);
		if (c == '<' && n == '<' && peek(s, 2) != '<') {
			heredoc_parse(s, f);
		} else if (n == '(') {
			push_cmd(s, ')');
			s->pos += 2;
		} else {
			s->pos++;
		}
		return;
	case '=':
		if (w->namey && !w->assign) {
			word_add(w, c, false);
			w->assign = true;
			s->pos++;
			return;
		}
		break;
	case '+':
		if (w->namey && !w->assign && n == '=') {
			word_add(w, c, false);
			word_add(w, n, false);
			w->assign = true;
			s->pos += 2;
			return;
		}
		break;
	default:
		break;
	}
	word_add(w, c, false);
	w->namey = w->ident;
	s->pos++;
}

static void step_param(struct scan *s, struct frame *f)
{
	char c = s->s[s->pos];

	switch (f->ps) {
	case P_NAME:
		f->ps = P_AFTER;
		if ((c == '#' || c == '!') && peek(s, 1) != '}') {
			s->pos++;
			c = peek(s, 0);
		}
		if (is_ident_char(c, true)) {
			while (is_ident_char(peek(s, 0), false))
				s->pos++;
		} else if (c >= '0' && c <= '9') {
			while (peek(s, 0) >= '0' && peek(s, 0) <= '9')
				s->pos++;
		} else if (c && strchr("@*#?-$!", c)) {
			s->pos++;
		}
		return;
	case P_AFTER:
		if (c == '}') {
			pop(s);
			s->pos++;
		} else if (c == '[') {
			push_danger(s, F_SUBSCRIPT, SL_SHCTX_SUBSCRIPT, 0);
			s->pos++;
		} else if (c == ':' && !strchr("-=+?", peek(s, 1) ? peek(s, 1) : 'x')) {
			/* ${x:offset:length}: both are arithmetic */
			f->danger = SL_SHCTX_SUBSTRING;
			f->ps = P_WORD;
			s->pos++;
		} else {
			f->ps = P_WORD;
		}
		return;
	case P_WORD:
		if (c == '}' && !f->depth) {
			pop(s);
			s->pos++;
			return;
		}
		if (step_common(s, c, !f->in_dq))
			return;
		f->depth += c == '{';
		f->depth -= c == '}';
		s->pos++;
		return;
	}
}

static void step_arith(struct scan *s, struct frame *f)
{
	char c = s->s[s->pos];

	if (step_common(s, c, true))
		return;
	if (c == '(' || (c == '[' && (f->kind == F_SUBSCRIPT || f->close == ']'))) {
		f->depth++;
	} else if ((c == ')' || c == ']') && f->depth) {
		f->depth--;
	} else if (c == ')' && f->close == ')') {
		if (peek(s, 1) != ')')
			s->unsure = true; /* ((cmd) ...): not arithmetic after all */
		pop(s);
		s->pos += 2;
		return;
	} else if (c == ']' && (f->kind == F_SUBSCRIPT || f->close == ']')) {
		pop(s);
	}
	s->pos++;
}

static void step_test(struct scan *s, struct frame *f)
{
	char c = s->s[s->pos], after = peek(s, 2);

	if (!f->w.len && c == ']' && peek(s, 1) == ']' &&
	    (!after || is_blank(after) || strchr("\n;&|)", after))) {
		pop(s);
		s->pos += 2;
		return;
	}
	if (step_common(s, c, true))
		return;
	if (is_blank(c) || c == '\n')
		f->w.len = 0;
	else
		f->w.len++;
	s->pos++;
}

static void step_heredoc(struct scan *s, struct frame *f)
{
	const struct heredoc *h = f->doc;
	char c = s->s[s->pos];

	if (f->bol) {
		const char *line = s->s + s->pos;
		const char *eol = memchr(line, '\n', s->len - s->pos);
		size_t n = eol ? (size_t)(eol - line) : s->len - s->pos;

		f->bol = false;
		while (h->strip_tabs && n && *line == '\t')
			line++, n--;
		if (n == h->delim_len && !memcmp(line, h->delim, n)) {
			s->pos = eol ? (size_t)(eol - s->s) + 1 : s->len;
			s->nf--;
			next_heredoc(s, top(s));
			return;
		}
	}
	if (c == '\n') {
		f->bol = true;
		s->pos++;
		return;
	}
	if (h->quoted) {
		s->pos++;
		return;
	}
	if (c == '\\') {
		s->pos += strchr("$`\\\n", peek(s, 1) ? peek(s, 1) : 'x') ? 2 : 1;
		return;
	}
	if (c == '$') {
		dollar(s);
	} else if (c == '`') {
		push_cmd(s, '`');
		s->pos++;
	} else {
		s->pos++;
	}
}

static void step(struct scan *s)
{
	struct frame *f = top(s);
	char c = s->s[s->pos];

	switch (f->kind) {
	case F_CMD:
		step_cmd(s, f);
		return;
	case F_DQ:
		if (c == '"') {
			pop(s);
			s->pos++;
		} else if (c == '\\' && peek(s, 1) && strchr("$`\"\\\n", peek(s, 1))) {
			word_quoted_char(s, peek(s, 1));
			s->pos += 2;
		} else if (c == '$' || c == '`') {
			step_common(s, c, false);
		} else {
			word_quoted_char(s, c);
			s->pos++;
		}
		return;
	case F_SQ:
	case F_ANSI:
		if (c == '\'')
			pop(s);
		else if (c == '\\' && f->kind == F_ANSI)
			s->pos++;
		else
			word_quoted_char(s, c);
		s->pos++;
		return;
	case F_COMMENT:
		if (c == '\n')
			pop(s);
		else
			s->pos++;
		return;
	case F_PARAM:
		step_param(s, f);
		return;
	case F_ARITH:
	case F_SUBSCRIPT:
		step_arith(s, f);
		return;
	case F_TEST:
		step_test(s, f);
		return;
	case F_HEREDOC:
		step_heredoc(s, f);
		return;
	}
}

/* Where a template met at s->pos sits; a frame where values are code wins. */
static void on_template(struct scan *s)
{
	const struct sl_template_piece *p = &s->t[s->t_next++];
	struct sl_shellctx_ref *ref;
	enum sl_shctx ctx = SL_SHCTX_WORD;
	const char *word = NULL;
	struct frame *f = s->nf ? top(s) : NULL;
	struct word *w;

	SL_ALLOC_GROW(s->out->items, s->out->nr + 1, s->out->alloc);
	ref = &s->out->items[s->out->nr];
	s->flags[s->out->nr++] = 0;
	if (!f || p->start < s->pos) {
		/* inside a token the scanner stepped over: cannot tell */
		ctx = SL_SHCTX_UNSURE;
	} else {
		for (size_t i = s->nf; i-- > 0;) {
			if (s->f[i].danger != SL_SHCTX_WORD) {
				ctx = s->f[i].danger;
				word = s->f[i].word;
				break;
			}
		}
		if (ctx == SL_SHCTX_WORD &&
		    (f->kind == F_SQ || f->kind == F_ANSI || f->kind == F_COMMENT ||
		     (f->kind == F_HEREDOC && f->doc->quoted)))
			ctx = SL_SHCTX_LITERAL;
		if (f->kind == F_HEREDOC)
			f->bol = false;
	}
	ref->start = p->start;
	ref->ctx = ctx;
	ref->word = word;
	w = owner(s);
	if (w && ctx != SL_SHCTX_UNSURE) {
		s->flags[s->out->nr - 1] = w->assign ? REF_ASSIGN_VALUE : REF_NAME_PART;
		w->expanded = true;
		w->ident = w->namey = false;
	}
	if (p->start + p->len > s->pos)
		s->pos = p->start + p->len;
}

static void finish(struct scan *s)
{
	if (s->nf > 1 && top(s)->kind == F_COMMENT)
		s->nf--;
	if (s->nf != 1 || s->overflow)
		s->unsure = true;
	s->nf = 1;
	pop(s);
	while (s->t_next < s->t_nr) {
		s->pos = s->len;
		s->nf = 0;
		on_template(s);
	}
	if (s->integer_declared)
		decide_from(s, 0, SL_SHCTX_INT_ASSIGN, "declare -i", REF_ASSIGN_VALUE);
	if (s->unsure)
		decide_from(s, 0, SL_SHCTX_UNSURE, NULL, 0);
}

void sl_shellctx_scan(struct sl_shellctx_refs *out, const char *cmd, size_t len)
{
	struct scan s = {.s = cmd, .len = len, .out = out};
	struct sl_template_iter it;
	struct sl_template_piece p;
	size_t alloc = 0;

	out->nr = 0;
	sl_template_iter_init(&it, cmd, len);
	while (sl_template_next(&it, &p)) {
		if (p.kind == SL_TEMPLATE_TEXT)
			continue;
		SL_ALLOC_GROW(s.t, s.t_nr + 1, alloc);
		s.t[s.t_nr++] = p;
	}
	if (!s.t_nr)
		goto out;
	s.f = sl_xcalloc(MAX_FRAMES, sizeof(*s.f));
	s.flags = sl_xcalloc(s.t_nr, 1);
	push_cmd(&s, 0);
	while (s.pos < s.len && !s.overflow) {
		if (s.t_next < s.t_nr && s.t[s.t_next].start <= s.pos)
			on_template(&s);
		else
			step(&s);
	}
	finish(&s);
out:
	free(s.f);
	free(s.flags);
	free(s.t);
}

void sl_shellctx_refs_release(struct sl_shellctx_refs *refs)
{
	free(refs->items);
	refs->items = NULL;
	refs->nr = refs->alloc = 0;
}

bool sl_shctx_refused(enum sl_shctx ctx)
{
	return !undecided(ctx);
}

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
