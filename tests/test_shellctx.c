#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/shellctx.h"
#include "sluice/strbuf.h"

/*
 * Each command holds one template, {{ x }}, or several, all of which must
 * get the context given (except where `nth` picks one).
 */
struct row {
	const char *cmd;
	enum sl_shctx want;
	const char *word; /* NULL: not checked */
};

#define OK(cmd)                            \
	{                                  \
		(cmd), SL_SHCTX_WORD, NULL \
	}
#define LIT(cmd)                              \
	{                                     \
		(cmd), SL_SHCTX_LITERAL, NULL \
	}
#define NO(cmd, ctx)               \
	{                          \
		(cmd), (ctx), NULL \
	}
#define NOW(cmd, ctx, wd)          \
	{                          \
		(cmd), (ctx), (wd) \
	}

static const struct row rows[] = {
    /* Accepted: the value is data. */
    OK("echo \"{{ ds }}\""),
    OK("echo {{ ds }}"),
    OK("./load.sh --day \"{{ ds }}\" --region \"{{ params.region }}\""),
    OK("printf '%s\\n' \"{{ x }}\" | tr a-z A-Z"),
    OK("x=\"{{ x }}\"; echo \"$x\""),
    OK("export FOO=\"{{ x }}\""),
    OK("echo \"${X:-{{ x }}}\""),
    OK("echo ${X:-\"{{ x }}\"}"),
    OK("echo \"$(cat \"{{ x }}\")\""),
    OK("cat <<EOF\nday {{ ds }}\nEOF\necho done"),
    OK("case \"{{ x }}\" in a) echo a;; *) echo other;; esac"),
    OK("if [ \"{{ x }}\" = 3 ]; then echo \"{{ x }}\"; fi"),
    OK("test -f \"/data/{{ ds }}.csv\" || exit 75"),
    OK("x=$(( 1 + 2 )); echo \"{{ ds }} $x\""),
    OK("f() { echo \"{{ x }}\"; }; f"),
    OK("python3 t.py --rows \"{{ outputs.extract.rows }}\""),
    OK("echo \"{{ x }}\" # eval let (( ))"),
    OK("while read -r l; do echo \"{{ x }} $l\"; done <f"),
    /* Literal: never expanded. */
    LIT("echo '$(( {{ ds }} ))'"),
    LIT("echo '{{ ds }}'"),
    LIT("cat <<'EOF'\n$(( {{ x }} ))\nEOF"),
    LIT("echo hi # {{ x }}"),
    /* Arithmetic. */
    NO("echo $(( {{ x }} + 1 ))", SL_SHCTX_ARITH),
    NO("x=$(( {{ x }} ))", SL_SHCTX_ARITH),
    NO("echo \"$(( {{ x }} ))\"", SL_SHCTX_ARITH),
    NO("echo $(( ( {{ x }} ) * 2 ))", SL_SHCTX_ARITH),
    NO("echo $(( $(echo \"{{ x }}\") + 1 ))", SL_SHCTX_ARITH),
    NO("(( {{ x }} > 3 )) && echo big", SL_SHCTX_ARITH_CMD),
    NO("for ((i = 0; i < {{ x }}; i++)); do :; done", SL_SHCTX_ARITH_CMD),
    NO("echo $[ {{ x }} + 1 ]", SL_SHCTX_ARITH_OLD),
    NO("echo $[ a[1] + {{ x }} ]", SL_SHCTX_ARITH_OLD),
    NO("[[ {{ x }} -gt 1 ]]", SL_SHCTX_TEST),
    NO("[[ \"{{ ds }}\" == 2026* ]] && echo y", SL_SHCTX_TEST),
    NO("echo ${arr[{{ x }}]}", SL_SHCTX_SUBSCRIPT),
    NO("arr[{{ x }}]=1", SL_SHCTX_SUBSCRIPT),
    NO("a=([{{ x }}]=1)", SL_SHCTX_SUBSCRIPT),
    NO("echo ${s:{{ x }}:2}", SL_SHCTX_SUBSTRING),
    NO("echo \"${@:{{ x }}}\"", SL_SHCTX_SUBSTRING),
    /* Words that take code or a name. */
    NOW("let x={{ x }}", SL_SHCTX_LET, "let"),
    NOW("let \"x = {{ x }} + 1\"", SL_SHCTX_LET, "let"),
    NOW("eval \"echo {{ ds }}\"", SL_SHCTX_EVAL, "eval"),
    NOW("eval 'echo {{ ds }}'", SL_SHCTX_EVAL, "eval"),
    NOW("eval \"$(echo {{ ds }})\"", SL_SHCTX_EVAL, "eval"),
    NOW("\"eval\" \"{{ ds }}\"", SL_SHCTX_EVAL, "eval"),
    NOW("trap \"echo {{ x }}\" EXIT", SL_SHCTX_EVAL, "trap"),
    NOW("bash -c 'echo $(( {{ x }} ))'", SL_SHCTX_SHELL, "sh -c"),
    NOW("sudo -u etl /bin/sh -ec \"echo {{ x }}\"", SL_SHCTX_SHELL, "sh -c"),
    NOW("$SHELL -c \"echo {{ x }}\"", SL_SHCTX_SHELL, "sh -c"),
    NOW("bash <<EOF\necho {{ x }}\nEOF", SL_SHCTX_SHELL, "a here-document read by a shell"),
    NOW("bash <<'EOF'\necho $(( {{ x }} ))\nEOF", SL_SHCTX_SHELL,
        "a here-document read by a shell"),
    NOW("unset \"{{ x }}\"", SL_SHCTX_VARNAME, "unset"),
    NOW("read \"{{ x }}\" <f", SL_SHCTX_VARNAME, "read"),
    NOW("printf -v \"{{ x }}\" %s 1", SL_SHCTX_VARNAME, "printf -v"),
    NOW("[ -v \"{{ x }}\" ]", SL_SHCTX_VARNAME, "test -v"),
    NOW("declare -i n={{ x }}", SL_SHCTX_DECLARE, "declare -i"),
    NOW("local -n r=\"{{ x }}\"", SL_SHCTX_DECLARE, "declare -n"),
    NOW("declare \"{{ x }}\"=1", SL_SHCTX_DECLARE, "declare"),
    NOW("typeset -i n; n=\"{{ x }}\"", SL_SHCTX_INT_ASSIGN, "declare -i"),
    NOW("f() { n={{ x }}; }; declare -i n; f", SL_SHCTX_INT_ASSIGN, "declare -i"),
    /* What the scanner cannot follow is refused. */
    NO("echo \"{{ x }}", SL_SHCTX_UNSURE),
    NO("echo ) \"{{ x }}\"", SL_SHCTX_UNSURE),
    NO("cat <<EOF\n{{ x }}\n", SL_SHCTX_UNSURE),
    /* A quote in a here-document or a comment opens nothing. */
    NO("cat <<EOF\ndon't\n$(( {{ x }} ))\nEOF", SL_SHCTX_ARITH),
    NO("echo hi # don't\necho $(( {{ x }} ))", SL_SHCTX_ARITH),
    NO("case $v in a) echo $(( {{ x }} ));; esac", SL_SHCTX_ARITH),
    NO("echo \"$(case $v in a) echo 1;; esac) $(( {{ x }} ))\"", SL_SHCTX_ARITH),
};

static void test_table(void **state)
{
	struct sl_shellctx_refs refs = SL_SHELLCTX_REFS_INIT;
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];

		sl_shellctx_scan(&refs, r->cmd, strlen(r->cmd));
		if (!refs.nr) {
			print_error("no template found in %s\n", r->cmd);
			bad++;
		}
		for (size_t k = 0; k < refs.nr; k++) {
			const struct sl_shellctx_ref *ref = &refs.items[k];

			if (ref->ctx != r->want ||
			    (r->word && (!ref->word || strcmp(ref->word, r->word)))) {
				print_error("%s: template %zu: context %d (%s), want %d (%s)\n",
				            r->cmd, k, ref->ctx, ref->word ? ref->word : "-",
				            r->want, r->word ? r->word : "-");
				bad++;
			}
		}
	}
	sl_shellctx_refs_release(&refs);
	assert_int_equal(bad, 0);
}

/* Templates of one command get contexts of their own, in order. */
static void test_several(void **state)
{
	static const char cmd[] = "echo \"{{ ds }}\" $(( {{ params.n }} )) '{{ ts }}'; "
	                          "let y={{ x }}\necho {{ run_id }}";
	static const enum sl_shctx want[] = {SL_SHCTX_WORD, SL_SHCTX_ARITH, SL_SHCTX_LITERAL,
	                                     SL_SHCTX_LET, SL_SHCTX_WORD};
	struct sl_shellctx_refs refs = SL_SHELLCTX_REFS_INIT;

	(void)state;
	sl_shellctx_scan(&refs, cmd, strlen(cmd));
	assert_int_equal(refs.nr, 5);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(refs.items[i].ctx, want[i]);
	assert_int_equal(refs.items[1].start, strstr(cmd, "{{ params.n }}") - cmd);
	/* unterminated pieces get an entry too */
	sl_shellctx_scan(&refs, "echo {{ ds", 10);
	assert_int_equal(refs.nr, 1);
	sl_shellctx_scan(&refs, "echo hi", 7);
	assert_int_equal(refs.nr, 0);
	sl_shellctx_refs_release(&refs);
}

/* Deep nesting stops the scan; everything left is refused, in bounded work. */
static void test_deep(void **state)
{
	struct sl_shellctx_refs refs = SL_SHELLCTX_REFS_INIT;
	struct sl_strbuf cmd = SL_STRBUF_INIT;

	(void)state;
	for (int i = 0; i < 100; i++)
		sl_strbuf_adds(&cmd, "$(");
	sl_strbuf_adds(&cmd, "echo {{ x }}");
	for (int i = 0; i < 100; i++)
		sl_strbuf_adds(&cmd, ")");
	sl_shellctx_scan(&refs, cmd.buf, cmd.len);
	assert_int_equal(refs.nr, 1);
	assert_int_equal(refs.items[0].ctx, SL_SHCTX_UNSURE);
	sl_strbuf_release(&cmd);
	sl_shellctx_refs_release(&refs);
}

static void test_explain(void **state)
{
	struct sl_shellctx_ref ref = {0, SL_SHCTX_ARITH, NULL};
	struct sl_strbuf msg = SL_STRBUF_INIT;

	(void)state;
	sl_shellctx_explain(&msg, &ref, "params.n", 8, "SLUICE_PARAM_N");
	assert_string_equal(msg.buf,
	                    "template {{ params.n }} inside shell arithmetic $(( )): bash "
	                    "evaluates a variable's value as code there; validate the value "
	                    "first (e.g. case $SLUICE_PARAM_N in *[!0-9]*) exit 2;; esac) and "
	                    "use the variable");
	sl_strbuf_reset(&msg);
	ref.ctx = SL_SHCTX_EVAL;
	ref.word = "eval";
	sl_shellctx_explain(&msg, &ref, "ds", 2, "SLUICE_DS");
	assert_non_null(strstr(msg.buf, "template {{ ds }} inside eval: "));
	assert_non_null(strstr(msg.buf, "\"$SLUICE_DS\""));
	assert_false(sl_shctx_refused(SL_SHCTX_WORD));
	assert_false(sl_shctx_refused(SL_SHCTX_LITERAL));
	assert_true(sl_shctx_refused(SL_SHCTX_UNSURE));
	sl_strbuf_release(&msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_several),
	    cmocka_unit_test(test_deep),
	    cmocka_unit_test(test_explain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
