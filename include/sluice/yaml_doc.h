#ifndef SLUICE_YAML_DOC_H
#define SLUICE_YAML_DOC_H

#include <stdbool.h>
#include <stddef.h>

#include "sluice/diag.h"

/**
 * A small, read-only YAML document tree for configuration files, built from
 * libyaml's event API so that every limit is enforced while parsing rather
 * than after a tree of unbounded size exists.
 *
 * What the parser guarantees once sl_ydoc_parse has returned a tree:
 *  - the source was valid UTF-8 without NUL bytes and held exactly one
 *    document;
 *  - collections nest at most SL_YDOC_MAX_DEPTH deep;
 *  - every mapping key is a scalar node (never an alias), no mapping holds
 *    two equal keys (the later one is reported and dropped), and no key is
 *    a merge key `<<` (reported and dropped);
 *  - aliases are not copied: an alias node points at the node its anchor
 *    names, and the whole document, with every alias expanded, has at most
 *    SL_YDOC_MAX_EXPANSION nodes more than the file literally holds. Any
 *    walk of the tree, even one that follows every alias, therefore visits a
 *    bounded number of nodes, and no alias can refer to a node that
 *    contains it.
 *
 * Scalars keep their style, so that a plain `3` (an integer) and a quoted
 * `"3"` (a string) can be told apart using the YAML 1.2 core schema.
 */

#define SL_YDOC_MAX_DEPTH     64
#define SL_YDOC_MAX_EXPANSION 100000

enum sl_ynode_kind {
	SL_YNODE_SCALAR,
	SL_YNODE_SEQUENCE,
	SL_YNODE_MAPPING,
	SL_YNODE_ALIAS,
};

enum sl_yscalar_style {
	SL_YSTYLE_PLAIN,
	SL_YSTYLE_QUOTED, /* single or double quoted */
	SL_YSTYLE_BLOCK,  /* literal | or folded > */
};

/** What a scalar means under the YAML 1.2 core schema (non-plain: string). */
enum sl_yscalar_type {
	SL_YTYPE_NULL,
	SL_YTYPE_BOOL,
	SL_YTYPE_INT,
	SL_YTYPE_FLOAT,
	SL_YTYPE_STRING,
};

struct sl_ynode;

struct sl_ypair {
	struct sl_ynode *key; /* always a SL_YNODE_SCALAR */
	struct sl_ynode *value;
};

struct sl_ynode {
	enum sl_ynode_kind kind;
	/* 1-based, where the node starts (for a quoted scalar: at the quote) */
	unsigned line, column;
	/* Byte offsets of the node's source text, [start, end); for scalars only. */
	size_t start_offset, end_offset;
	union {
		struct {
			char *text; /* NUL-terminated; may hold "\0" escapes */
			size_t len;
			enum sl_yscalar_style style;
			enum sl_yscalar_type type;
		} scalar;
		struct {
			struct sl_ynode **items;
			size_t nr;
		} seq;
		struct {
			struct sl_ypair *pairs; /* in file order */
			size_t nr;
		} map;
		struct sl_ynode *alias; /* the anchored node; never an alias */
	} u;
};

struct sl_ydoc;

/**
 * Parse `len` bytes of `data` into a tree. `file` only names the source in
 * diagnostics, which are added to `diags` as `file:line:col: message`.
 *
 * Returns 0 when the document is well formed. Otherwise returns SL_EINVAL
 * after adding at least one diagnostic; `*out` is then still set when the
 * problems were local (a duplicate or merge key, an unsupported tag) so that
 * a caller can go on checking the rest of the tree, and NULL when no tree
 * could be built (syntax error, empty file, bad encoding, a limit hit).
 * The tree borrows nothing from `data`.
 */
int sl_ydoc_parse(struct sl_ydoc **out, const char *file, const char *data, size_t len,
                  struct sl_diags *diags);

/** Free the document and every node in it (one arena, one call). */
void sl_ydoc_free(struct sl_ydoc *doc);

/** The document's root node; never NULL (an empty document is a null scalar). */
const struct sl_ynode *sl_ydoc_root(const struct sl_ydoc *doc);

/** `node` itself, or the node an alias points at. */
const struct sl_ynode *sl_ynode_deref(const struct sl_ynode *node);

/**
 * A short English name of what `node` holds, for "expected X, got Y"
 * messages: "null", "boolean", "integer", "float", "string", "sequence",
 * "mapping".
 */
const char *sl_ynode_type_name(const struct sl_ynode *node);

/** True for a scalar that is a string: quoted, block, or plain but not null/bool/number. */
bool sl_ynode_is_string(const struct sl_ynode *node);

/** True for a scalar whose core-schema type is `type`. */
bool sl_ynode_is(const struct sl_ynode *node, enum sl_yscalar_type type);

/** Value of a SL_YTYPE_BOOL scalar. */
bool sl_ynode_bool(const struct sl_ynode *node);

/**
 * Value of a SL_YTYPE_INT scalar (decimal, 0o octal or 0x hex, optional
 * sign). Returns 0, or -1 when it does not fit in a long long.
 */
int sl_ynode_int(const struct sl_ynode *node, long long *out);

/**
 * The 1-based line and column of byte `offset` of the source, which must lie
 * inside scalar `node`'s source text ([start_offset, end_offset)). `data` is
 * the buffer given to sl_ydoc_parse.
 */
void sl_ynode_position(const struct sl_ynode *node, const char *data, size_t offset, unsigned *line,
                       unsigned *column);

#endif
