#ifndef SLUICE_YSCHEMA_H
#define SLUICE_YSCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "sluice/diag.h"
#include "sluice/yaml_doc.h"

/**
 * One reader for every YAML mapping sluice reads with a fixed set of keys
 * (DAG files, the scheduler's and the worker's configuration), so that one
 * mistake is worded one way wherever it is made:
 *
 *     unknown key 'retires' in task 'load' (did you mean 'retries'?)
 *     missing key 'command' in task 'load'
 *     retries: expected a non-negative integer, got string "two"
 *     retries: must be between 0 and 1000, got 1001
 *     timeout: must be greater than 0
 *
 * A table of struct sl_ykey describes the keys; sl_yschema_read checks a
 * mapping against it, stores each valid value into a struct (or hands it to
 * a callback) and reports every problem to the reader's diagnostics at the
 * file:line:col of the value (of the key, for an unknown key).
 *
 *     static const struct sl_ykey keys[] = {
 *             SL_YKEY_INT("retries", struct sl_task, retries, 0, 1000, 0),
 *             SL_YKEY_FN("sensor", SL_YK_ANY, 0, NULL, read_sensor),
 *     };
 *     static const struct sl_yschema schema = {keys, SL_ARRAY_SIZE(keys), NULL};
 *
 *     sl_yschema_read(&r, &schema, &scope, map, task, &found);
 */

/** What a key's value must be. */
enum sl_ykind {
	SL_YK_STRING,   /* a string scalar (quoted, block, or plain but not a number) */
	SL_YK_INT,      /* an integer between min and max */
	SL_YK_BOOL,     /* true or false */
	SL_YK_DURATION, /* seconds, or 90s, 5m, 1h30m, 2d (sl_duration_parse) */
	SL_YK_STRINGS,  /* a list of scalars; the callback stores them */
	SL_YK_MAPPING,  /* a mapping; the callback reads it */
	SL_YK_ANY,      /* anything; the callback, if any, checks and stores it */
};

/* Flags of a key. */
#define SL_YKEY_REQUIRED    (1u << 0) /* absent: "missing key 'k'" */
#define SL_YKEY_NULL_KEEPS  (1u << 1) /* null leaves what `out` holds */
#define SL_YKEY_NULL_CLEARS (1u << 2) /* null stores 0 or NULL */
#define SL_YKEY_POSITIVE    (1u << 3) /* a duration of 0 is an error */
#define SL_YKEY_ONE         (1u << 4) /* STRINGS: one scalar stands for a list of one */
#define SL_YKEY_NONEMPTY    (1u << 5) /* STRINGS: an empty list is an error */

/** A key's `offset` when the value is checked and handed to `fn` only. */
#define SL_YKEY_NO_STORE ((size_t)-1)

struct sl_yreader;

/**
 * A key's callback. `name` is the key as messages name it (with the scope's
 * prefix: "dags.repo"), `v` the value as written (maybe an alias: use
 * sl_ynode_deref for its content, `v` for its position), `out` what was
 * given to sl_yschema_read. For STRING, INT, BOOL and DURATION keys it is
 * called once the type is right, before the value is stored, and returning
 * false (after reporting) keeps the value out; for the other kinds it reads
 * and stores the value itself, and returns whether it was valid.
 */
typedef bool (*sl_ykey_fn)(struct sl_yreader *r, const char *name, const struct sl_ynode *v,
                           void *out);

struct sl_ykey {
	const char *name;
	enum sl_ykind kind;
	unsigned flags;
	size_t offset;        /* of the member of `out` that receives the value */
	size_t size;          /* of that member, for SL_YK_INT: int or int64_t */
	long long min, max;   /* SL_YK_INT */
	const char *expected; /* NULL, or what a type error says was expected */
	sl_ykey_fn fn;        /* NULL, or see sl_ykey_fn */
};

#define SL_YKEY_STRING(name, type, member, flags, fn)                                      \
	{                                                                                  \
		(name), SL_YK_STRING, (flags), offsetof(type, member), 0, 0, 0, NULL, (fn) \
	}
#define SL_YKEY_INT(name, type, member, lo, hi, flags)                                           \
	{                                                                                        \
		(name), SL_YK_INT, (flags), offsetof(type, member), sizeof(((type *)0)->member), \
		    (lo), (hi), NULL, NULL                                                       \
	}
#define SL_YKEY_BOOL(name, type, member, flags)                                          \
	{                                                                                \
		(name), SL_YK_BOOL, (flags), offsetof(type, member), 0, 0, 0, NULL, NULL \
	}
#define SL_YKEY_DURATION(name, type, member, flags)                                          \
	{                                                                                    \
		(name), SL_YK_DURATION, (flags), offsetof(type, member), 0, 0, 0, NULL, NULL \
	}
/** A key read by `fn` alone (fn may be NULL: the caller reads the value itself). */
#define SL_YKEY_FN(name, kind, flags, expected, fn)                                  \
	{                                                                            \
		(name), (kind), (flags), SL_YKEY_NO_STORE, 0, 0, 0, (expected), (fn) \
	}

/** Where a mapping sits, for messages. */
struct sl_yscope {
	/* NULL at the top, or "dags", or "task" with `id` "load": "... in task 'load'" */
	const char *where;
	const char *id;
	const char *prefix; /* NULL, or "dags.": put before a key's name in value errors */
	/* where a missing key is reported: the key naming the mapping, or the mapping */
	const struct sl_ynode *at;
};

struct sl_yschema {
	const struct sl_ykey *keys;
	size_t nr;
	/*
	 * NULL, or called for a key the table does not know before it is
	 * reported as unknown: returns true when it reported a better message
	 * (sl_yreader_unknown_key with a note, or a message of its own).
	 */
	bool (*unknown)(struct sl_yreader *r, const struct sl_yscope *scope,
	                const struct sl_ynode *key);
};

/**
 * Up to this many keys in one table; what sl_yschema_read found, by the
 * index of the key in the table.
 */
#define SL_YSCHEMA_MAX_KEYS 32

struct sl_yfound {
	const struct sl_ypair *pairs[SL_YSCHEMA_MAX_KEYS]; /* NULL: absent */
	unsigned present;                                  /* bit i: key i was in the mapping */
	unsigned valid; /* bit i: key i was present and its value valid */
};

/** Reports go to `diags` as `file:...`; "did you mean" work is bounded. */
struct sl_yreader {
	const char *file;
	struct sl_diags *diags;
	size_t problems;       /* diagnostics added through this reader */
	size_t suggest_budget; /* candidate comparisons left for "did you mean" */
};

/* Enough for any honest file; a file of thousands of typos gets fewer hints. */
#define SL_YREADER_SUGGEST_BUDGET 20000

void sl_yreader_init(struct sl_yreader *r, const char *file, struct sl_diags *diags);

/** Add a diagnostic at `at` (NULL: the file as a whole, 1:1). */
void sl_yreader_report(struct sl_yreader *r, const struct sl_ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/**
 * "NAME: expected EXPECTED, got TYPE VALUE" at `v` (without "NAME: " when
 * `name` is NULL); the value is quoted for strings and cut at 40
 * characters or a line break.
 */
void sl_yreader_type_error(struct sl_yreader *r, const char *name, const struct sl_ynode *v,
                           const char *expected);

/**
 * "unknown key 'KEY' in task 'load' (NOTE)" at the key, the message of a
 * key the schema does not know; without the parenthesis when `note` is
 * NULL.
 */
void sl_yreader_unknown_key(struct sl_yreader *r, const struct sl_yscope *scope,
                            const struct sl_ynode *key, const char *note);

/**
 * The best of `nr` candidates for a misspelt `word`, or NULL; each
 * comparison spends one unit of the reader's budget.
 */
const char *sl_yreader_suggest(struct sl_yreader *r, const char *word, const char *const *cands,
                               size_t nr);

/**
 * Check mapping `map` against `schema` and store its valid values into
 * `out`. A null node reads as an empty mapping (so that required keys are
 * still reported); any other node that is not a mapping is the caller's to
 * report. Keys are read in the order of the table, not of the file, so the
 * callback of a key may rely on those before it. `found`, when not NULL,
 * receives where each key was and whether its value was valid.
 * Returns 0, or SL_EINVAL when a problem was reported.
 */
int sl_yschema_read(struct sl_yreader *r, const struct sl_yschema *schema,
                    const struct sl_yscope *scope, const struct sl_ynode *map, void *out,
                    struct sl_yfound *found);

/**
 * The items of a value a SL_YK_STRINGS key accepted: a sequence's items,
 * or the value itself when it is a single scalar (SL_YKEY_ONE).
 */
size_t sl_ylist_nr(const struct sl_ynode *v);
const struct sl_ynode *sl_ylist_item(const struct sl_ynode *v, size_t i);

#endif
