/*
 * The words of a simple command (shellctx_scan.h): which of them name a
 * context where a value becomes code (eval, let, unset, printf -v,
 * declare -i, sh -c, ...), wherever they stand in the command, and the
 * decision taken for the command's templates when it ends.
 */
#include "shellctx_scan.h"

#include <string.h>
#include "sluice/banned.h"

void sl__shellctx_word_add(struct word *w, char c, bool quoted)
{
	if (w->len < WORD_MAX - 1)
		w->text[w->len] = c;
	w->len++;
	w->ident = w->ident && !quoted && is_ident_char(c, w->len == 1);
	w->namey = w->ident;
	w->quoted |= quoted;
}

static bool word_is(const struct word *w, const char *text)
{
	return w->len < WORD_MAX && !strcmp(w->text, text);
}

/* Apply `ctx` to the undecided templates recorded from `first` on (with `flag`, if not 0). */
void sl__shellctx_decide_from(struct scan *s, size_t first, enum sl_shctx ctx, const char *word,
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

void sl__shellctx_end_word(struct scan *s, struct frame *f)
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
void sl__shellctx_end_simple(struct scan *s, struct frame *f)
{
	struct simple *sc = &f->sc;

	sl__shellctx_end_word(s, f);
	if (sc->ctx != SL_SHCTX_WORD)
		sl__shellctx_decide_from(s, sc->first_ref, sc->ctx, sc->word, 0);
	else if (sc->declare)
		sl__shellctx_decide_from(s, sc->first_ref, SL_SHCTX_DECLARE, "declare",
		                         REF_NAME_PART);
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
