/*
 * The syntax side of the shell-context scanner (shellctx_scan.h): it steps
 * through quotes, expansions, arithmetic, [[ ]] and here-documents on a
 * stack of frames and places each template it meets; the words of a
 * command list go to shellctx_words.c.
 */
#include "sluice/shellctx.h"

#include "sluice/alloc.h"
#include "sluice/template.h"
#include "shellctx_scan.h"

#include <stdlib.h>
#include <string.h>
#include "sluice/banned.h"

static char peek(const struct scan *s, size_t ahead)
{
	return s->pos + ahead < s->len ? s->s[s->pos + ahead] : '\0';
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
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
		sl__shellctx_word_add(w, c, true);
}

static void pop(struct scan *s)
{
	struct frame *f = top(s);

	if (f->kind == F_CMD) {
		sl__shellctx_end_simple(s, f);
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
			sl__shellctx_word_add(w, n, true);
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
			sl__shellctx_end_word(s, f);
			f->case_pattern = false;
			sl__shellctx_end_simple(s, f);
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
			sl__shellctx_word_add(w, c, false);
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
		sl__shellctx_end_word(s, f);
		s->pos++;
		return;
	case '\n':
		sl__shellctx_end_simple(s, f);
		s->pos++;
		next_heredoc(s, f);
		return;
	case ';':
		sl__shellctx_end_simple(s, f);
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
			sl__shellctx_end_word(s, f);
		} else {
			sl__shellctx_end_simple(s, f);
		}
		s->pos++;
		return;
	case '<':
	case '>':
		sl__shellctx_end_word(s, f);
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
			sl__shellctx_word_add(w, c, false);
			w->assign = true;
			s->pos++;
			return;
		}
		break;
	case '+':
		if (w->namey && !w->assign && n == '=') {
			sl__shellctx_word_add(w, c, false);
			sl__shellctx_word_add(w, n, false);
			w->assign = true;
			s->pos += 2;
			return;
		}
		break;
	default:
		break;
	}
	sl__shellctx_word_add(w, c, false);
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
		sl__shellctx_decide_from(s, 0, SL_SHCTX_INT_ASSIGN, "declare -i", REF_ASSIGN_VALUE);
	if (s->unsure)
		sl__shellctx_decide_from(s, 0, SL_SHCTX_UNSURE, NULL, 0);
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
