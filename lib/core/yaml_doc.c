#include "sluice/yaml_doc.h"

#include "sluice/alloc.h"
#include "sluice/error.h"
#include "sluice/strbuf.h"
#include "sluice/utf8.h"

#include <errno.h>
#include <stdarg.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "sluice/banned.h"

#define TAG_STR "tag:yaml.org,2002:str"
#define TAG_SEQ "tag:yaml.org,2002:seq"
#define TAG_MAP "tag:yaml.org,2002:map"

/*
 * Nodes and their strings come from one arena per document: a tree is built
 * once and freed at once, so per-node frees would only cost time.
 */
struct arena_chunk {
	struct arena_chunk *next;
	size_t used, size;
	max_align_t data[];
};

#define ARENA_CHUNK_SIZE 16384

struct sl_ydoc {
	struct arena_chunk *chunks;
	struct sl_ynode *root;
};

static void *arena_alloc(struct sl_ydoc *doc, size_t size)
{
	const size_t align = alignof(max_align_t);
	struct arena_chunk *c = doc->chunks;
	void *p;

	size = (size + align - 1) & ~(align - 1);
	if (!c || c->size - c->used < size) {
		size_t cap = size > ARENA_CHUNK_SIZE ? size : ARENA_CHUNK_SIZE;

		c = sl_xmalloc(sizeof(*c) + cap);
		c->size = cap;
		c->used = 0;
		/* Keep filling the current chunk when a big block was needed. */
		if (doc->chunks && size > ARENA_CHUNK_SIZE) {
			c->next = doc->chunks->next;
			doc->chunks->next = c;
		} else {
			c->next = doc->chunks;
			doc->chunks = c;
		}
	}
	p = (char *)c->data + c->used;
	c->used += size;
	return p;
}

void sl_ydoc_free(struct sl_ydoc *doc)
{
	struct arena_chunk *c, *next;

	if (!doc)
		return;
	for (c = doc->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	free(doc);
}

const struct sl_ynode *sl_ydoc_root(const struct sl_ydoc *doc)
{
	return doc->root;
}

/*
 * A string-keyed open-addressing table, for anchor names and for finding
 * duplicate keys in big mappings without comparing every pair.
 */
struct strmap_slot {
	const char *key;
	size_t len;
	void *value;
};

struct strmap {
	struct strmap_slot *slots;
	size_t cap, nr; /* cap is 0 or a power of two */
};

static uint64_t str_hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static struct strmap_slot *strmap_slot(struct strmap *m, const char *key, size_t len)
{
	size_t i = (size_t)str_hash(key, len) & (m->cap - 1);

	for (;;) {
		struct strmap_slot *s = &m->slots[i];

		if (!s->key || (s->len == len && !memcmp(s->key, key, len)))
			return s;
		i = (i + 1) & (m->cap - 1);
	}
}

static void strmap_init(struct strmap *m, size_t expect)
{
	m->cap = 16;
	while (m->cap < expect * 2)
		m->cap *= 2;
	m->nr = 0;
	m->slots = sl_xcalloc(m->cap, sizeof(*m->slots));
}

static void strmap_release(struct strmap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->nr = 0;
}

/* Insert or find: returns the slot; a new one has value NULL. */
static struct strmap_slot *strmap_put(struct strmap *m, const char *key, size_t len)
{
	struct strmap_slot *s;

	if (!m->cap)
		strmap_init(m, 8);
	if ((m->nr + 1) * 2 > m->cap) {
		struct strmap old = *m;

		strmap_init(m, old.cap);
		for (size_t i = 0; i < old.cap; i++) {
			if (old.slots[i].key) {
				*strmap_slot(m, old.slots[i].key, old.slots[i].len) = old.slots[i];
				m->nr++;
			}
		}
		free(old.slots);
	}
	s = strmap_slot(m, key, len);
	if (!s->key) {
		s->key = key;
		s->len = len;
		s->value = NULL;
		m->nr++;
	}
	return s;
}

/* An anchor definition; a later anchor of the same name replaces it. */
struct anchor {
	struct sl_ynode *node;
	size_t size; /* nodes once fully expanded, saturating */
	bool open;   /* its collection has not ended yet */
};

struct frame {
	struct sl_ynode *node;
	struct anchor *anchor; /* NULL when the collection has no anchor */
	size_t base;           /* first child in builder.stack */
	size_t size;           /* expanded size so far */
};

struct builder {
	const char *file;
	struct sl_diags *diags;
	const char *data;
	size_t len;
	struct sl_ydoc *doc;
	int problems;

	struct frame frames[SL_YDOC_MAX_DEPTH];
	size_t depth;
	struct sl_ynode **stack; /* children of the open collections */
	size_t stack_nr, stack_alloc;
	struct strmap anchors; /* name -> struct anchor * */
	size_t expansion;      /* nodes added by aliases so far */

	/* libyaml marks count characters; scalars need byte offsets. */
	bool ascii;
	size_t bom;
	size_t cur_char, cur_byte;
};

static void report(struct builder *b, unsigned line, unsigned column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void report(struct builder *b, unsigned line, unsigned column, const char *fmt, ...)
{
	struct sl_strbuf msg = SL_STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	sl_strbuf_vaddf(&msg, fmt, ap);
	va_end(ap);
	sl_diags_add(b->diags, b->file, line, column, "%s", msg.buf);
	sl_strbuf_release(&msg);
	b->problems++;
}

static bool is_cont(unsigned char c)
{
	return (c & 0xC0) == 0x80;
}

/* Length of the line break at `p` (YAML's \n, \r\n, \r, NEL, LS, PS), or 0. */
static size_t break_len(const char *p, const char *end)
{
	const unsigned char *u = (const unsigned char *)p;

	if (*u == '\n')
		return 1;
	if (*u == '\r')
		return (end - p > 1 && u[1] == '\n') ? 2 : 1;
	if (end - p > 1 && u[0] == 0xC2 && u[1] == 0x85)
		return 2;
	if (end - p > 2 && u[0] == 0xE2 && u[1] == 0x80 && (u[2] == 0xA8 || u[2] == 0xA9))
		return 3;
	return 0;
}

/* Advance a (line, column) position over bytes [from, to) of `data`. */
static void advance_position(const char *data, size_t from, size_t to, unsigned *line,
                             unsigned *column)
{
	const char *end = data + to;

	for (const char *p = data + from; p < end;) {
		size_t br = break_len(p, end);

		if (br) {
			(*line)++;
			*column = 1;
			p += br;
			continue;
		}
		if (!is_cont((unsigned char)*p))
			(*column)++;
		p++;
	}
}

void sl_ynode_position(const struct sl_ynode *node, const char *data, size_t offset, unsigned *line,
                       unsigned *column)
{
	*line = node->line;
	*column = node->column;
	if (offset > node->start_offset)
		advance_position(data, node->start_offset, offset, line, column);
}

static size_t byte_offset(struct builder *b, size_t char_index)
{
	const unsigned char *s = (const unsigned char *)b->data;

	if (b->ascii)
		return b->bom + char_index;
	/* Marks arrive almost in order, so moving one cursor is linear overall. */
	while (b->cur_char < char_index && b->cur_byte < b->len) {
		b->cur_byte++;
		while (b->cur_byte < b->len && is_cont(s[b->cur_byte]))
			b->cur_byte++;
		b->cur_char++;
	}
	while (b->cur_char > char_index) {
		b->cur_byte--;
		while (b->cur_byte > b->bom && is_cont(s[b->cur_byte]))
			b->cur_byte--;
		b->cur_char--;
	}
	return b->cur_byte;
}

static bool str_in(const char *s, const char *const *list, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		if (!strcmp(s, list[i]))
			return true;
	}
	return false;
}

static size_t skip_digits(const char *s, size_t i, int (*pred)(int))
{
	while (s[i] && pred((unsigned char)s[i]))
		i++;
	return i;
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int is_odigit(int c)
{
	return c >= '0' && c <= '7';
}

static int is_xdigit_c(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_core_int(const char *s)
{
	size_t i = 0, j;

	if (s[0] == '0' && s[1] == 'o') {
		j = skip_digits(s, 2, is_odigit);
		return j > 2 && !s[j];
	}
	if (s[0] == '0' && s[1] == 'x') {
		j = skip_digits(s, 2, is_xdigit_c);
		return j > 2 && !s[j];
	}
	if (s[i] == '-' || s[i] == '+')
		i++;
	j = skip_digits(s, i, is_digit);
	return j > i && !s[j];
}

static bool is_core_float(const char *s)
{
	static const char *const special[] = {".nan", ".NaN", ".NAN"};
	static const char *const inf[] = {".inf", ".Inf", ".INF"};
	size_t i = 0, j;
	bool digits;

	if (str_in(s, special, SL_ARRAY_SIZE(special)))
		return true;
	if (s[i] == '-' || s[i] == '+')
		i++;
	if (str_in(s + i, inf, SL_ARRAY_SIZE(inf)))
		return true;
	j = skip_digits(s, i, is_digit);
	digits = j > i;
	if (s[j] == '.') {
		size_t k = skip_digits(s, j + 1, is_digit);

		digits = digits || k > j + 1;
		j = k;
	}
	if (!digits)
		return false;
	if (s[j] == 'e' || s[j] == 'E') {
		size_t k = j + 1;

		if (s[k] == '-' || s[k] == '+')
			k++;
		j = skip_digits(s, k, is_digit);
		if (j == k)
			return false;
	}
	return !s[j];
}

static enum sl_yscalar_type resolve_plain(const char *s)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
	static const char *const bools[] = {"true", "True", "TRUE", "false", "False", "FALSE"};

	if (str_in(s, nulls, SL_ARRAY_SIZE(nulls)))
		return SL_YTYPE_NULL;
	if (str_in(s, bools, SL_ARRAY_SIZE(bools)))
		return SL_YTYPE_BOOL;
	if (is_core_int(s))
		return SL_YTYPE_INT;
	if (is_core_float(s))
		return SL_YTYPE_FLOAT;
	return SL_YTYPE_STRING;
}

static struct sl_ynode *node_new(struct builder *b, enum sl_ynode_kind kind,
                                 const yaml_mark_t *start)
{
	struct sl_ynode *n = arena_alloc(b->doc, sizeof(*n));

	memset(n, 0, sizeof(*n));
	n->kind = kind;
	n->line = (unsigned)start->line + 1;
	n->column = (unsigned)start->column + 1;
	return n;
}

static void push_child(struct builder *b, struct sl_ynode *node)
{
	SL_ALLOC_GROW(b->stack, b->stack_nr + 1, b->stack_alloc);
	b->stack[b->stack_nr++] = node;
}

static size_t add_sat(size_t a, size_t c)
{
	return a > SIZE_MAX - c ? SIZE_MAX : a + c;
}

/* A finished node of expanded size `size` joins the enclosing collection. */
static void attach(struct builder *b, struct sl_ynode *node, size_t size)
{
	if (b->depth) {
		struct frame *f = &b->frames[b->depth - 1];

		f->size = add_sat(f->size, size);
		push_child(b, node);
	} else {
		b->doc->root = node;
	}
}

static bool tag_ok(struct builder *b, const yaml_mark_t *mark, const yaml_char_t *tag,
                   const char *allowed)
{
	const char *t = (const char *)tag;

	if (!t || !strcmp(t, "!") || !strcmp(t, allowed))
		return true;
	if (!strncmp(t, "tag:yaml.org,2002:", 18))
		report(b, (unsigned)mark->line + 1, (unsigned)mark->column + 1,
		       "YAML tag '!!%s' is not supported here", t + 18);
	else
		report(b, (unsigned)mark->line + 1, (unsigned)mark->column + 1,
		       "YAML tag '%s' is not supported", t);
	return false;
}

static struct anchor *anchor_define(struct builder *b, const yaml_char_t *name,
                                    struct sl_ynode *node, size_t size, bool open)
{
	size_t len = strlen((const char *)name);
	char *key = arena_alloc(b->doc, len + 1);
	struct anchor *a = arena_alloc(b->doc, sizeof(*a));

	memcpy(key, name, len + 1);
	a->node = node;
	a->size = size;
	a->open = open;
	strmap_put(&b->anchors, key, len)->value = a;
	return a;
}

static int on_scalar(struct builder *b, const yaml_event_t *ev)
{
	struct sl_ynode *n = node_new(b, SL_YNODE_SCALAR, &ev->start_mark);
	size_t len = ev->data.scalar.length;
	yaml_scalar_style_t style = ev->data.scalar.style;

	n->u.scalar.text = arena_alloc(b->doc, len + 1);
	memcpy(n->u.scalar.text, ev->data.scalar.value, len);
	n->u.scalar.text[len] = '\0';
	n->u.scalar.len = len;
	n->start_offset = byte_offset(b, ev->start_mark.index);
	n->end_offset = byte_offset(b, ev->end_mark.index);
	if (style == YAML_PLAIN_SCALAR_STYLE)
		n->u.scalar.style = SL_YSTYLE_PLAIN;
	else if (style == YAML_LITERAL_SCALAR_STYLE || style == YAML_FOLDED_SCALAR_STYLE)
		n->u.scalar.style = SL_YSTYLE_BLOCK;
	else
		n->u.scalar.style = SL_YSTYLE_QUOTED;
	n->u.scalar.type = SL_YTYPE_STRING;
	if (tag_ok(b, &ev->start_mark, ev->data.scalar.tag, TAG_STR) &&
	    n->u.scalar.style == SL_YSTYLE_PLAIN && !ev->data.scalar.tag)
		n->u.scalar.type = resolve_plain(n->u.scalar.text);
	if (memchr(n->u.scalar.text, '\0', len))
		report(b, n->line, n->column, "strings cannot hold NUL characters");
	if (ev->data.scalar.anchor)
		anchor_define(b, ev->data.scalar.anchor, n, 1, false);
	attach(b, n, 1);
	return 0;
}

static int on_alias(struct builder *b, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	struct strmap_slot *slot = NULL;
	struct anchor *a;
	struct sl_ynode *n;

	if (b->anchors.cap)
		slot = strmap_slot(&b->anchors, name, strlen(name));
	n = node_new(b, SL_YNODE_ALIAS, &ev->start_mark);
	if (!slot || !slot->key) {
		report(b, n->line, n->column, "unknown YAML anchor '%s' in alias '*%s'", name,
		       name);
		return -1;
	}
	a = slot->value;
	if (a->open) {
		report(b, n->line, n->column,
		       "alias '*%s' refers to a node that contains it (a recursive structure)",
		       name);
		return -1;
	}
	b->expansion = add_sat(b->expansion, a->size);
	if (b->expansion > SL_YDOC_MAX_EXPANSION) {
		report(b, n->line, n->column,
		       "YAML aliases expand to more than %d nodes (alias bomb?)",
		       SL_YDOC_MAX_EXPANSION);
		return -1;
	}
	n->u.alias = a->node;
	n->start_offset = byte_offset(b, ev->start_mark.index);
	n->end_offset = byte_offset(b, ev->end_mark.index);
	attach(b, n, a->size);
	return 0;
}

static int on_collection_start(struct builder *b, const yaml_event_t *ev, enum sl_ynode_kind kind)
{
	const yaml_char_t *anchor, *tag;
	struct sl_ynode *n;
	struct frame *f;

	if (b->depth == SL_YDOC_MAX_DEPTH) {
		report(b, (unsigned)ev->start_mark.line + 1, (unsigned)ev->start_mark.column + 1,
		       "YAML nesting is deeper than %d levels", SL_YDOC_MAX_DEPTH);
		return -1;
	}
	if (kind == SL_YNODE_SEQUENCE) {
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
	} else {
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
	}
	tag_ok(b, &ev->start_mark, tag, kind == SL_YNODE_SEQUENCE ? TAG_SEQ : TAG_MAP);
	n = node_new(b, kind, &ev->start_mark);
	f = &b->frames[b->depth++];
	f->node = n;
	f->anchor = anchor ? anchor_define(b, anchor, n, 0, true) : NULL;
	f->base = b->stack_nr;
	f->size = 1;
	return 0;
}

/* Keys that are duplicates, merge keys or not scalars are reported and dropped. */
static bool key_acceptable(struct builder *b, const struct sl_ynode *key)
{
	if (key->kind == SL_YNODE_ALIAS) {
		report(b, key->line, key->column, "an alias cannot be used as a mapping key");
		return false;
	}
	if (key->kind != SL_YNODE_SCALAR) {
		report(b, key->line, key->column, "mapping keys must be strings, not a %s",
		       sl_ynode_type_name(key));
		return false;
	}
	if (key->u.scalar.style == SL_YSTYLE_PLAIN && !strcmp(key->u.scalar.text, "<<")) {
		report(b, key->line, key->column,
		       "YAML merge keys ('<<') are not supported; put settings shared by "
		       "tasks under 'defaults'");
		return false;
	}
	return true;
}

static void report_duplicate(struct builder *b, const struct sl_ynode *key,
                             const struct sl_ynode *first)
{
	report(b, key->line, key->column, "duplicate key '%s' (first defined at line %u)",
	       key->u.scalar.text, first->line);
}

static bool same_key(const struct sl_ynode *a, const struct sl_ynode *c)
{
	return a->u.scalar.len == c->u.scalar.len &&
	       !memcmp(a->u.scalar.text, c->u.scalar.text, a->u.scalar.len);
}

/* Small mappings compare pairwise; big ones use a table, keeping it linear. */
static size_t filter_pairs(struct builder *b, struct sl_ynode **kids, size_t pairs_nr,
                           struct sl_ypair *out)
{
	struct strmap seen = {NULL, 0, 0};
	size_t nr = 0;

	if (pairs_nr > 8)
		strmap_init(&seen, pairs_nr);
	for (size_t i = 0; i < pairs_nr; i++) {
		struct sl_ynode *key = kids[2 * i];
		const struct sl_ynode *first = NULL;

		if (!key_acceptable(b, key))
			continue;
		if (seen.cap) {
			struct strmap_slot *s =
			    strmap_put(&seen, key->u.scalar.text, key->u.scalar.len);

			first = s->value;
			if (!first)
				s->value = key;
		} else {
			for (size_t k = 0; k < nr && !first; k++) {
				if (same_key(out[k].key, key))
					first = out[k].key;
			}
		}
		if (first) {
			report_duplicate(b, key, first);
			continue;
		}
		out[nr].key = key;
		out[nr].value = kids[2 * i + 1];
		nr++;
	}
	strmap_release(&seen);
	return nr;
}

static void on_collection_end(struct builder *b)
{
	struct frame *f = &b->frames[--b->depth];
	struct sl_ynode *n = f->node;
	size_t nr = b->stack_nr - f->base;
	/* An empty collection may come before anything was ever pushed. */
	struct sl_ynode **kids = nr ? b->stack + f->base : NULL;

	if (nr && n->kind == SL_YNODE_SEQUENCE) {
		n->u.seq.items = arena_alloc(b->doc, sl_st_mult(nr, sizeof(*kids)));
		memcpy(n->u.seq.items, kids, sl_st_mult(nr, sizeof(*kids)));
		n->u.seq.nr = nr;
	} else if (nr) {
		n->u.map.pairs = arena_alloc(b->doc, sl_st_mult(nr / 2, sizeof(struct sl_ypair)));
		n->u.map.nr = filter_pairs(b, kids, nr / 2, n->u.map.pairs);
	}
	b->stack_nr = f->base;
	if (f->anchor) {
		f->anchor->size = f->size;
		f->anchor->open = false;
	}
	attach(b, n, f->size);
}

/*
 * An alias that is no alias: a star followed by a slash, a blank, a comma
 * or a dash (a cron field), the unquoted cron expression YAML reads as an
 * alias with a bad name.
 */
static bool looks_like_cron(const struct builder *b, const yaml_parser_t *p)
{
	size_t at = p->context_mark.index;

	if (!p->context || strcmp(p->context, "while scanning an alias") || at + 1 >= b->len ||
	    b->data[at] != '*')
		return false;
	return strchr("/ ,-\t", b->data[at + 1]) != NULL;
}

static void report_libyaml(struct builder *b, const yaml_parser_t *p)
{
	unsigned line = (unsigned)p->problem_mark.line + 1;
	unsigned column = (unsigned)p->problem_mark.column + 1;
	const char *problem = p->problem ? p->problem : "unknown problem";

	if (p->error == YAML_MEMORY_ERROR) {
		report(b, 1, 1, "out of memory while parsing YAML");
		return;
	}
	if (p->error == YAML_READER_ERROR) {
		line = column = 1;
		advance_position(b->data, 0, p->problem_offset < b->len ? p->problem_offset : 0,
		                 &line, &column);
		report(b, line, column, "YAML error: %s", problem);
		return;
	}
	if (p->context)
		report(b, line, column,
		       "YAML syntax error: %s (%s started at line %zu, column %zu)%s", problem,
		       p->context, p->context_mark.line + 1, p->context_mark.column + 1,
		       looks_like_cron(b, p) ? "; a value starting with '*' is read as a YAML "
		                               "alias: quote the cron expression, e.g. "
		                               "schedule: \"*/5 * * * *\""
		                             : "");
	else
		report(b, line, column, "YAML syntax error: %s", problem);
}

/* Returns 1 at the end of the stream, 0 to go on, -1 on a fatal problem. */
static int on_event(struct builder *b, const yaml_event_t *ev, int *documents)
{
	switch (ev->type) {
	case YAML_STREAM_END_EVENT:
		if (!*documents) {
			report(b, 1, 1, "file is empty");
			return -1;
		}
		return 1;
	case YAML_DOCUMENT_START_EVENT:
		if (++*documents > 1) {
			report(b, (unsigned)ev->start_mark.line + 1,
			       (unsigned)ev->start_mark.column + 1,
			       "a second YAML document starts here; a file holds one DAG");
			return -1;
		}
		return 0;
	case YAML_SCALAR_EVENT:
		return on_scalar(b, ev);
	case YAML_ALIAS_EVENT:
		return on_alias(b, ev);
	case YAML_SEQUENCE_START_EVENT:
		return on_collection_start(b, ev, SL_YNODE_SEQUENCE);
	case YAML_MAPPING_START_EVENT:
		return on_collection_start(b, ev, SL_YNODE_MAPPING);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		on_collection_end(b);
		return 0;
	default:
		return 0;
	}
}

static int check_encoding(struct builder *b)
{
	size_t bad;

	/* Checked before libyaml sees the bytes: libyaml would report invalid
	 * UTF-8 by byte offset and NUL as a "control character", neither of
	 * which tells a DAG author much. */
	bad = sl_utf8_check(b->data, b->len, &b->ascii);
	if (bad < b->len) {
		unsigned line = 1, column = 1;

		advance_position(b->data, 0, bad, &line, &column);
		if (!b->data[bad])
			report(b, line, column, "NUL byte in file; a DAG file must be text");
		else
			report(b, line, column,
			       "invalid UTF-8 (byte 0x%02x); a DAG file must be UTF-8 text",
			       (unsigned char)b->data[bad]);
		return -1;
	}
	if (b->len >= 3 && !memcmp(b->data, "\xEF\xBB\xBF", 3))
		b->bom = 3;
	b->cur_byte = b->bom;
	return 0;
}

int sl_ydoc_parse(struct sl_ydoc **out, const char *file, const char *data, size_t len,
                  struct sl_diags *diags)
{
	struct builder b = {.file = file, .diags = diags, .data = data, .len = len};
	yaml_parser_t parser;
	bool parser_ready = false;
	int documents = 0;
	int rc = SL_EINVAL;

	*out = NULL;
	b.doc = sl_xcalloc(1, sizeof(*b.doc));
	if (check_encoding(&b) < 0)
		goto fail;
	if (!yaml_parser_initialize(&parser)) {
		report(&b, 1, 1, "out of memory while parsing YAML");
		goto fail;
	}
	parser_ready = true;
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	for (;;) {
		yaml_event_t ev;
		int step;

		if (!yaml_parser_parse(&parser, &ev)) {
			report_libyaml(&b, &parser);
			goto fail;
		}
		step = on_event(&b, &ev, &documents);
		yaml_event_delete(&ev);
		if (step < 0)
			goto fail;
		if (step > 0)
			break;
	}
	rc = b.problems ? SL_EINVAL : SL_OK;
	*out = b.doc;
	b.doc = NULL;
fail:
	if (parser_ready)
		yaml_parser_delete(&parser);
	free(b.stack);
	strmap_release(&b.anchors);
	sl_ydoc_free(b.doc);
	return rc;
}

const struct sl_ynode *sl_ynode_deref(const struct sl_ynode *node)
{
	return node->kind == SL_YNODE_ALIAS ? node->u.alias : node;
}

const char *sl_ynode_type_name(const struct sl_ynode *node)
{
	node = sl_ynode_deref(node);
	if (node->kind == SL_YNODE_SEQUENCE)
		return "sequence";
	if (node->kind == SL_YNODE_MAPPING)
		return "mapping";
	switch (node->u.scalar.type) {
	case SL_YTYPE_NULL:
		return "null";
	case SL_YTYPE_BOOL:
		return "boolean";
	case SL_YTYPE_INT:
		return "integer";
	case SL_YTYPE_FLOAT:
		return "float";
	case SL_YTYPE_STRING:
		break;
	}
	return "string";
}

bool sl_ynode_is(const struct sl_ynode *node, enum sl_yscalar_type type)
{
	node = sl_ynode_deref(node);
	return node->kind == SL_YNODE_SCALAR && node->u.scalar.type == type;
}

bool sl_ynode_is_string(const struct sl_ynode *node)
{
	return sl_ynode_is(node, SL_YTYPE_STRING);
}

bool sl_ynode_bool(const struct sl_ynode *node)
{
	node = sl_ynode_deref(node);
	return node->u.scalar.text[0] == 't' || node->u.scalar.text[0] == 'T';
}

int sl_ynode_int(const struct sl_ynode *node, long long *out)
{
	const char *s = sl_ynode_deref(node)->u.scalar.text;
	char *end;
	int base = 10;

	if (s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
		base = s[1] == 'o' ? 8 : 16;
		s += 2;
	}
	errno = 0;
	*out = strtoll(s, &end, base);
	if (errno || *end)
		return -1;
	return 0;
}
