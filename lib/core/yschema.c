#include "sluice/yschema.h"

#include "sluice/alloc.h"
#include "sluice/duration.h"
#include "sluice/error.h"
#include "sluice/strbuf.h"
#include "sluice/suggest.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "sluice/banned.h"

void sl_yreader_init(struct sl_yreader *r, const char *file, struct sl_diags *diags)
{
	r->file = file;
	r->diags = diags;
	r->problems = 0;
	r->suggest_budget = SL_YREADER_SUGGEST_BUDGET;
}

void sl_yreader_report(struct sl_yreader *r, const struct sl_ynode *at, const char *fmt, ...)
{
	struct sl_strbuf msg = SL_STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	sl_strbuf_vaddf(&msg, fmt, ap);
	va_end(ap);
	sl_diags_add(r->diags, r->file, at ? at->line : 1, at ? at->column : 1, "%s", msg.buf);
	sl_strbuf_release(&msg);
	r->problems++;
}

/* "string \"two\"", "integer -3", "mapping": the got-part of a type error. */
static void describe(struct sl_strbuf *sb, const struct sl_ynode *v)
{
	const char *text;
	size_t n;
	bool cut;

	v = sl_ynode_deref(v);
	sl_strbuf_adds(sb, sl_ynode_type_name(v));
	if (v->kind != SL_YNODE_SCALAR || v->u.scalar.type == SL_YTYPE_NULL)
		return;
	text = v->u.scalar.text;
	n = strcspn(text, "\n");
	cut = n > 40 || text[n];
	if (n > 40)
		n = 40;
	/* Never cut a UTF-8 sequence in two. */
	while (n && ((unsigned char)text[n] & 0xC0) == 0x80)
		n--;
	if (v->u.scalar.type == SL_YTYPE_STRING)
		sl_strbuf_addf(sb, " \"%.*s%s\"", (int)n, text, cut ? "..." : "");
	else
		sl_strbuf_addf(sb, " %.*s", (int)n, text);
}

void sl_yreader_type_error(struct sl_yreader *r, const char *name, const struct sl_ynode *v,
                           const char *expected)
{
	struct sl_strbuf got = SL_STRBUF_INIT;

	describe(&got, v);
	sl_yreader_report(r, v, "%s%sexpected %s, got %s", name ? name : "", name ? ": " : "",
	                  expected, got.buf);
	sl_strbuf_release(&got);
}

const char *sl_yreader_suggest(struct sl_yreader *r, const char *word, const char *const *cands,
                               size_t nr)
{
	struct sl_suggest s;

	sl_suggest_init(&s, word);
	for (size_t i = 0; i < nr && r->suggest_budget; i++, r->suggest_budget--)
		sl_suggest_consider(&s, cands[i]);
	return s.best;
}

/* " in dags", " in task 'load'", or nothing at the top. */
static void add_where(struct sl_strbuf *sb, const struct sl_yscope *scope)
{
	if (scope->where)
		sl_strbuf_addf(sb, " in %s", scope->where);
	if (scope->where && scope->id)
		sl_strbuf_addf(sb, " '%s'", scope->id);
}

void sl_yreader_unknown_key(struct sl_yreader *r, const struct sl_yscope *scope,
                            const struct sl_ynode *key, const char *note)
{
	struct sl_strbuf where = SL_STRBUF_INIT;

	add_where(&where, scope);
	sl_yreader_report(r, key, "unknown key '%s'%s%s%s%s", key->u.scalar.text, where.buf,
	                  note ? " (" : "", note ? note : "", note ? ")" : "");
	sl_strbuf_release(&where);
}

static void report_unknown(struct sl_yreader *r, const struct sl_yschema *schema,
                           const struct sl_yscope *scope, const struct sl_ynode *key)
{
	const char *names[SL_YSCHEMA_MAX_KEYS];
	struct sl_strbuf note = SL_STRBUF_INIT;
	const char *hint;

	for (size_t i = 0; i < schema->nr; i++)
		names[i] = schema->keys[i].name;
	hint = sl_yreader_suggest(r, key->u.scalar.text, names, schema->nr);
	if (hint)
		sl_strbuf_addf(&note, "did you mean '%s'?", hint);
	sl_yreader_unknown_key(r, scope, key, hint ? note.buf : NULL);
	sl_strbuf_release(&note);
}

static const char *expected_of(const struct sl_ykey *k)
{
	if (k->expected)
		return k->expected;
	switch (k->kind) {
	case SL_YK_STRING:
		return "a string";
	case SL_YK_INT:
		return k->min == 0   ? "a non-negative integer"
		       : k->min == 1 ? "a positive integer"
		                     : "an integer";
	case SL_YK_BOOL:
		return "true or false";
	case SL_YK_DURATION:
		return "a duration (seconds, or e.g. 90s, 5m, 1h30m, 2d)";
	case SL_YK_STRINGS:
		return k->flags & SL_YKEY_ONE ? "a string or a list of strings"
		                              : "a list of strings";
	case SL_YK_MAPPING:
		return "a mapping";
	case SL_YK_ANY:
		break;
	}
	return "a value";
}

static bool read_int(struct sl_yreader *r, const struct sl_ykey *k, const char *name,
                     const struct sl_ynode *v, long long *n)
{
	if (!sl_ynode_is(v, SL_YTYPE_INT)) {
		sl_yreader_type_error(r, name, v, expected_of(k));
		return false;
	}
	if (sl_ynode_int(v, n) < 0 || *n < k->min || *n > k->max) {
		sl_yreader_report(r, v, "%s: must be between %lld and %lld, got %s", name, k->min,
		                  k->max, sl_ynode_deref(v)->u.scalar.text);
		return false;
	}
	return true;
}

static bool read_duration(struct sl_yreader *r, const struct sl_ykey *k, const char *name,
                          const struct sl_ynode *v, int64_t *secs)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	bool ok = false;

	if (!sl_ynode_is_string(v) && !sl_ynode_is(v, SL_YTYPE_INT))
		sl_yreader_type_error(r, name, v, expected_of(k));
	else if (sl_duration_parse(sl_ynode_deref(v)->u.scalar.text, secs, &err) < 0)
		sl_yreader_report(r, v, "%s: %s", name, err.buf);
	else if ((k->flags & SL_YKEY_POSITIVE) && *secs == 0)
		sl_yreader_report(r, v, "%s: must be greater than 0", name);
	else
		ok = true;
	sl_strbuf_release(&err);
	return ok;
}

static bool list_ok(struct sl_yreader *r, const struct sl_ykey *k, const char *name,
                    const struct sl_ynode *v)
{
	const struct sl_ynode *d = sl_ynode_deref(v);
	bool ok = true;

	if (sl_ynode_is(d, SL_YTYPE_NULL) ||
	    (d->kind != SL_YNODE_SEQUENCE &&
	     (!(k->flags & SL_YKEY_ONE) || d->kind != SL_YNODE_SCALAR))) {
		sl_yreader_type_error(r, name, v, expected_of(k));
		return false;
	}
	if ((k->flags & SL_YKEY_NONEMPTY) && !sl_ylist_nr(d)) {
		sl_yreader_report(r, v, "%s: the list is empty", name);
		return false;
	}
	for (size_t i = 0; i < sl_ylist_nr(d); i++) {
		const struct sl_ynode *item = sl_ylist_item(d, i);

		if (sl_ynode_deref(item)->kind != SL_YNODE_SCALAR ||
		    sl_ynode_is(item, SL_YTYPE_NULL)) {
			sl_yreader_type_error(r, name, item, "a string");
			ok = false;
		}
	}
	return ok;
}

/* Store a null value as the key's flags say; false when null is not allowed. */
static bool read_null(const struct sl_ykey *k, void *out)
{
	char *base = out;

	if (k->flags & SL_YKEY_NULL_KEEPS)
		return true;
	if (!(k->flags & SL_YKEY_NULL_CLEARS))
		return false;
	if (k->offset == SL_YKEY_NO_STORE)
		return true;
	switch (k->kind) {
	case SL_YK_STRING:
		free(*(char **)(base + k->offset));
		*(char **)(base + k->offset) = NULL;
		break;
	case SL_YK_INT:
		if (k->size == sizeof(int))
			*(int *)(base + k->offset) = 0;
		else
			*(int64_t *)(base + k->offset) = 0;
		break;
	case SL_YK_BOOL:
		*(bool *)(base + k->offset) = false;
		break;
	case SL_YK_DURATION:
		*(int64_t *)(base + k->offset) = 0;
		break;
	case SL_YK_STRINGS:
	case SL_YK_MAPPING:
	case SL_YK_ANY:
		break;
	}
	return true;
}

/* Check and store one value; true when it was valid. */
static bool read_value(struct sl_yreader *r, const struct sl_ykey *k, const char *name,
                       const struct sl_ynode *v, void *out)
{
	char *base = out, *dst = base + (k->offset == SL_YKEY_NO_STORE ? 0 : k->offset);
	bool store = k->offset != SL_YKEY_NO_STORE;
	long long n = 0;
	int64_t secs = 0;

	if (k->kind != SL_YK_ANY && sl_ynode_is(v, SL_YTYPE_NULL) && read_null(k, out))
		return true;
	switch (k->kind) {
	case SL_YK_STRING:
		if (!sl_ynode_is_string(v)) {
			sl_yreader_type_error(r, name, v, expected_of(k));
			return false;
		}
		if (k->fn && !k->fn(r, name, v, out))
			return false;
		if (store) {
			free(*(char **)dst);
			*(char **)dst = sl_xstrdup(sl_ynode_deref(v)->u.scalar.text);
		}
		return true;
	case SL_YK_INT:
		if (!read_int(r, k, name, v, &n) || (k->fn && !k->fn(r, name, v, out)))
			return false;
		if (store && k->size == sizeof(int))
			*(int *)dst = (int)n;
		else if (store)
			*(int64_t *)dst = n;
		return true;
	case SL_YK_BOOL:
		if (!sl_ynode_is(v, SL_YTYPE_BOOL)) {
			sl_yreader_type_error(r, name, v, expected_of(k));
			return false;
		}
		if (k->fn && !k->fn(r, name, v, out))
			return false;
		if (store)
			*(bool *)dst = sl_ynode_bool(v);
		return true;
	case SL_YK_DURATION:
		if (!read_duration(r, k, name, v, &secs) || (k->fn && !k->fn(r, name, v, out)))
			return false;
		if (store)
			*(int64_t *)dst = secs;
		return true;
	case SL_YK_STRINGS:
		if (!list_ok(r, k, name, v))
			return false;
		break;
	case SL_YK_MAPPING:
		if (sl_ynode_deref(v)->kind != SL_YNODE_MAPPING) {
			sl_yreader_type_error(r, name, v, expected_of(k));
			return false;
		}
		break;
	case SL_YK_ANY:
		break;
	}
	return k->fn ? k->fn(r, name, v, out) : true;
}

int sl_yschema_read(struct sl_yreader *r, const struct sl_yschema *schema,
                    const struct sl_yscope *scope, const struct sl_ynode *map, void *out,
                    struct sl_yfound *found)
{
	struct sl_yfound local;
	struct sl_strbuf name = SL_STRBUF_INIT;
	size_t problems = r->problems;

	/* A table longer than `found` can hold is a programmer's mistake. */
	if (schema->nr > SL_YSCHEMA_MAX_KEYS)
		abort();
	if (!found)
		found = &local;
	memset(found, 0, sizeof(*found));
	map = sl_ynode_deref(map);
	for (size_t i = 0; map->kind == SL_YNODE_MAPPING && i < map->u.map.nr; i++) {
		const struct sl_ypair *pair = &map->u.map.pairs[i];
		size_t k;

		for (k = 0; k < schema->nr; k++) {
			if (!strcmp(pair->key->u.scalar.text, schema->keys[k].name))
				break;
		}
		/* The document has no duplicate keys, so a slot is set at most once. */
		if (k < schema->nr) {
			found->pairs[k] = pair;
			found->present |= 1u << k;
		} else if (!schema->unknown || !schema->unknown(r, scope, pair->key))
			report_unknown(r, schema, scope, pair->key);
	}
	for (size_t k = 0; k < schema->nr; k++) {
		const struct sl_ykey *key = &schema->keys[k];
		const char *nm = key->name;

		if (!found->pairs[k]) {
			if (key->flags & SL_YKEY_REQUIRED) {
				sl_strbuf_reset(&name);
				add_where(&name, scope);
				sl_yreader_report(r, scope->at ? scope->at : map,
				                  "missing key '%s'%s", key->name, name.buf);
			}
			continue;
		}
		if (scope->prefix && *scope->prefix) {
			sl_strbuf_reset(&name);
			sl_strbuf_addf(&name, "%s%s", scope->prefix, key->name);
			nm = name.buf;
		}
		if (read_value(r, key, nm, found->pairs[k]->value, out))
			found->valid |= 1u << k;
	}
	sl_strbuf_release(&name);
	return r->problems > problems ? SL_EINVAL : 0;
}

size_t sl_ylist_nr(const struct sl_ynode *v)
{
	v = sl_ynode_deref(v);
	return v->kind == SL_YNODE_SEQUENCE ? v->u.seq.nr : 1;
}

const struct sl_ynode *sl_ylist_item(const struct sl_ynode *v, size_t i)
{
	const struct sl_ynode *d = sl_ynode_deref(v);

	return d->kind == SL_YNODE_SEQUENCE ? d->u.seq.items[i] : v;
}
