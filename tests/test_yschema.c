#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "sluice/alloc.h"
#include "sluice/diag.h"
#include "sluice/error.h"
#include "sluice/strbuf.h"
#include "sluice/yschema.h"

struct thing {
	char *name;
	int count;
	int64_t big;
	bool on;
	int64_t every;
	int64_t wait;
	size_t items;
	char *pool;
};

static bool count_items(struct sl_yreader *r, const char *name, const struct sl_ynode *v, void *out)
{
	struct thing *t = out;

	(void)r;
	(void)name;
	t->items = sl_ylist_nr(v);
	return true;
}

static bool not_bad(struct sl_yreader *r, const char *name, const struct sl_ynode *v, void *out)
{
	(void)out;
	if (strcmp(sl_ynode_deref(v)->u.scalar.text, "bad"))
		return true;
	sl_yreader_report(r, v, "%s: is bad", name);
	return false;
}

static const struct sl_ykey keys[] = {
    SL_YKEY_STRING("name", struct thing, name, SL_YKEY_REQUIRED, not_bad),
    SL_YKEY_INT("count", struct thing, count, 0, 10, 0),
    SL_YKEY_INT("big", struct thing, big, 1, (long long)1 << 40, 0),
    SL_YKEY_BOOL("on", struct thing, on, 0),
    SL_YKEY_DURATION("every", struct thing, every, SL_YKEY_POSITIVE),
    SL_YKEY_DURATION("wait", struct thing, wait, SL_YKEY_NULL_CLEARS),
    SL_YKEY_FN("items", SL_YK_STRINGS, SL_YKEY_ONE | SL_YKEY_NONEMPTY, NULL, count_items),
    SL_YKEY_STRING("pool", struct thing, pool, SL_YKEY_NULL_KEEPS, NULL),
};

static const struct sl_yschema schema = {keys, SL_ARRAY_SIZE(keys), NULL};

/* Read `text` (a mapping) into `t`; every diagnostic, one a line, into `out`. */
static int read_text(const char *text, struct thing *t, struct sl_strbuf *out)
{
	struct sl_diags diags = SL_DIAGS_INIT;
	struct sl_ydoc *doc = NULL;
	struct sl_yreader r;
	const struct sl_yscope scope = {.where = "thing", .prefix = "thing."};
	int rc;

	sl_yreader_init(&r, "t.yaml", &diags);
	assert_int_equal(sl_ydoc_parse(&doc, "t.yaml", text, strlen(text), &diags), 0);
	rc = sl_yschema_read(&r, &schema, &scope, sl_ydoc_root(doc), t, NULL);
	sl_diags_sort(&diags);
	sl_strbuf_reset(out);
	for (size_t i = 0; i < diags.nr; i++)
		sl_strbuf_addf(out, "%u:%u: %s\n", diags.items[i].line, diags.items[i].column,
		               diags.items[i].message);
	assert_int_equal(r.problems, diags.nr);
	sl_diags_release(&diags);
	sl_ydoc_free(doc);
	return rc;
}

static void thing_release(struct thing *t)
{
	free(t->name);
	free(t->pool);
	memset(t, 0, sizeof(*t));
}

static void expect(const char *text, const char *want)
{
	struct sl_strbuf out = SL_STRBUF_INIT;
	struct thing t = {0};
	int rc = read_text(text, &t, &out);

	if (strcmp(out.buf, want))
		fail_msg("%s--- expected\n%s--- got\n%s", text, want, out.buf);
	assert_int_equal(rc, *want ? SL_EINVAL : 0);
	thing_release(&t);
	sl_strbuf_release(&out);
}

static void test_valid(void **state)
{
	struct sl_strbuf out = SL_STRBUF_INIT;
	struct thing t = {0};

	(void)state;
	t.pool = sl_xstrdup("kept");
	t.wait = 5;
	assert_int_equal(read_text("name: x\ncount: 0x0A\nbig: 1099511627776\non: true\n"
	                           "every: 1h30m\nwait: ~\nitems: one\npool: null\n",
	                           &t, &out),
	                 0);
	assert_string_equal(out.buf, "");
	assert_string_equal(t.name, "x");
	assert_int_equal(t.count, 10);
	assert_int_equal(t.big, (int64_t)1 << 40);
	assert_true(t.on);
	assert_int_equal(t.every, 5400);
	assert_int_equal(t.wait, 0);
	assert_int_equal(t.items, 1);
	assert_string_equal(t.pool, "kept");
	thing_release(&t);
	sl_strbuf_release(&out);
}

static void test_unknown_key(void **state)
{
	(void)state;
	expect("name: x\n  # comment\ncuont: 1\n",
	       "3:1: unknown key 'cuont' in thing (did you mean 'count'?)\n");
	expect("name: x\nzzzzzz: 1\n", "2:1: unknown key 'zzzzzz' in thing\n");
}

static void test_missing_key(void **state)
{
	(void)state;
	expect("  count: 1\n", "1:3: missing key 'name' in thing\n");
	/* An empty document reads as an empty mapping. */
	expect("~\n", "1:1: missing key 'name' in thing\n");
}

static void test_wrong_type(void **state)
{
	(void)state;
	expect("name: 3\n", "1:7: thing.name: expected a string, got integer 3\n");
	expect("name: x\ncount: \"two\"\n",
	       "2:8: thing.count: expected a non-negative integer, got string \"two\"\n");
	expect("name: x\nbig: 2.5\n",
	       "2:6: thing.big: expected a positive integer, got float 2.5\n");
	expect("name: x\non: yes\n", "2:5: thing.on: expected true or false, got string \"yes\"\n");
	expect("name: x\nevery: [1]\n",
	       "2:8: thing.every: expected a duration (seconds, or e.g. 90s, 5m, 1h30m, 2d), got "
	       "sequence\n");
	expect("name: x\nitems: {a: 1}\n",
	       "2:8: thing.items: expected a string or a list of strings, got mapping\n");
	expect("name: x\nitems: [a, [b], ~]\n",
	       "2:12: thing.items: expected a string, got sequence\n"
	       "2:17: thing.items: expected a string, got null\n");
	/* Long values are cut, and null is only accepted where the key says so. */
	expect("name: x\non: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n",
	       "2:5: thing.on: expected true or false, got string "
	       "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\"\n");
	expect("name: x\nevery: ~\n",
	       "2:8: thing.every: expected a duration (seconds, or e.g. 90s, 5m, 1h30m, 2d), got "
	       "null\n");
}

static void test_out_of_range(void **state)
{
	(void)state;
	expect("name: x\ncount: 11\n", "2:8: thing.count: must be between 0 and 10, got 11\n");
	expect("name: x\nbig: 99999999999999999999\n",
	       "2:6: thing.big: must be between 1 and 1099511627776, got 99999999999999999999\n");
}

static void test_bad_duration(void **state)
{
	(void)state;
	expect("name: x\nevery: 0\n", "2:8: thing.every: must be greater than 0\n");
	expect("name: x\nevery: 5 minutes\n",
	       "2:8: thing.every: '5 minutes' is not a duration: units are d, h, m and s (write "
	       "seconds, or e.g. 90s, 5m, 1h30m, 2d)\n");
}

static void test_empty_list(void **state)
{
	(void)state;
	expect("name: x\nitems: []\n", "2:8: thing.items: the list is empty\n");
}

static void test_callback_and_every_problem(void **state)
{
	struct sl_strbuf out = SL_STRBUF_INIT;
	struct thing t = {0};

	(void)state;
	/* The callback's verdict keeps the value out; the others are still read. */
	assert_int_equal(read_text("name: bad\ncount: 99\nnmae: y\non: true\n", &t, &out),
	                 SL_EINVAL);
	assert_string_equal(out.buf, "1:7: thing.name: is bad\n"
	                             "2:8: thing.count: must be between 0 and 10, got 99\n"
	                             "3:1: unknown key 'nmae' in thing (did you mean 'name'?)\n");
	assert_null(t.name);
	assert_true(t.on);
	thing_release(&t);
	sl_strbuf_release(&out);
}

static void test_alias_position(void **state)
{
	(void)state;
	/* A type error points at the value as written: the alias, not its anchor. */
	expect("pool: &p [1]\nname: x\non: *p\n",
	       "1:7: thing.pool: expected a string, got sequence\n"
	       "3:5: thing.on: expected true or false, got "
	       "sequence\n");
}

/* A scope with an id names it quoted, and a missing key is reported where `at` says. */
static void test_scope_id(void **state)
{
	struct sl_diags diags = SL_DIAGS_INIT;
	struct sl_ydoc *doc = NULL;
	struct sl_yreader r;
	const char *text = "load:\n  cuont: 1\n";
	const struct sl_ynode *root;
	struct sl_yscope scope = {.where = "task", .id = "load"};
	struct thing t = {0};

	(void)state;
	sl_yreader_init(&r, "t.yaml", &diags);
	assert_int_equal(sl_ydoc_parse(&doc, "t.yaml", text, strlen(text), &diags), 0);
	root = sl_ydoc_root(doc);
	scope.at = root->u.map.pairs[0].key;
	assert_int_equal(sl_yschema_read(&r, &schema, &scope, root->u.map.pairs[0].value, &t, NULL),
	                 SL_EINVAL);
	sl_diags_sort(&diags);
	assert_int_equal(diags.nr, 2);
	assert_int_equal(diags.items[0].line, 1);
	assert_int_equal(diags.items[0].column, 1);
	assert_string_equal(diags.items[0].message, "missing key 'name' in task 'load'");
	assert_int_equal(diags.items[1].line, 2);
	assert_int_equal(diags.items[1].column, 3);
	assert_string_equal(diags.items[1].message,
	                    "unknown key 'cuont' in task 'load' (did you mean 'count'?)");
	thing_release(&t);
	sl_diags_release(&diags);
	sl_ydoc_free(doc);
}

static void test_found(void **state)
{
	struct sl_diags diags = SL_DIAGS_INIT;
	struct sl_ydoc *doc = NULL;
	struct sl_yreader r;
	const struct sl_yscope scope = {0};
	const char *text = "name: x\ncount: 99\non: false\n";
	struct sl_yfound found;
	struct thing t = {0};

	(void)state;
	sl_yreader_init(&r, "t.yaml", &diags);
	assert_int_equal(sl_ydoc_parse(&doc, "t.yaml", text, strlen(text), &diags), 0);
	sl_yschema_read(&r, &schema, &scope, sl_ydoc_root(doc), &t, &found);
	assert_non_null(found.pairs[0]);
	assert_non_null(found.pairs[1]);
	assert_null(found.pairs[2]);
	assert_int_equal(found.present, (1u << 0) | (1u << 1) | (1u << 3));
	assert_int_equal(found.valid, (1u << 0) | (1u << 3));
	/* Without a prefix, a key is named alone. */
	assert_string_equal(diags.items[0].message, "count: must be between 0 and 10, got 99");
	thing_release(&t);
	sl_diags_release(&diags);
	sl_ydoc_free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid),
	    cmocka_unit_test(test_unknown_key),
	    cmocka_unit_test(test_missing_key),
	    cmocka_unit_test(test_wrong_type),
	    cmocka_unit_test(test_out_of_range),
	    cmocka_unit_test(test_bad_duration),
	    cmocka_unit_test(test_empty_list),
	    cmocka_unit_test(test_callback_and_every_problem),
	    cmocka_unit_test(test_alias_position),
	    cmocka_unit_test(test_scope_id),
	    cmocka_unit_test(test_found),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
