#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "sluice/alloc.h"
#include "sluice/error.h"
#include "sluice/strbuf.h"
#include "sluice/taskenv.h"
#include "sluice/taskexec.h"
#include "taskrun.h"

extern char **environ;

static void kvs_add(struct sl_kvs *kvs, const char *k, const char *v)
{
	SL_ALLOC_GROW(kvs->items, kvs->nr + 1, kvs->alloc);
	kvs->items[kvs->nr].key = (char *)k;
	kvs->items[kvs->nr].value = (char *)v;
	kvs->nr++;
}

static void ctx_init(struct sl_taskenv_ctx *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->dag = "nightly";
	ctx->task = "load";
	ctx->run_id = "manual__2026-03-04T05:06:07Z";
	ctx->logical_date = 1772600767; /* 2026-03-04T05:06:07Z */
	ctx->data_interval_start = 1772514367;
	ctx->data_interval_end = 1772600767;
	ctx->try_number = 2;
}

static void test_env(void **state)
{
	struct sl_env env = SL_ENV_INIT;
	struct sl_kvs dag_env = {0}, task_env = {0};
	struct sl_taskenv_output outs[] = {{"extract.v-2", "rows", "42"}};
	json_t *params = json_pack("{s:s, s:i, s:b, s:n, s:[i,i]}", "region", "eu", "n", 3, "flag",
	                           1, "nothing", "list", 1, 2);
	json_t *conf = json_pack("{s:s}", "region", "us west");
	struct sl_taskenv_ctx ctx;
	struct sl_taskexec_opts o;
	struct run r;

	(void)state;
	setenv("SLUICE_TEST_SECRET", "hunter2", 1);
	setenv("LC_TIME", "C", 1);
	kvs_add(&dag_env, "FOO", "dag");
	kvs_add(&dag_env, "BAR", "dag");
	kvs_add(&dag_env, "SLUICE_DAG", "spoofed");
	kvs_add(&task_env, "BAR", "task");
	/* Templates in env values are the values themselves: data, no shell. */
	kvs_add(&dag_env, "DAY", "day={{ ds }}");
	kvs_add(&task_env, "MIX",
	        "{{ params.region }}|{{outputs.extract.v-2.rows}}|{{ outputs.none.k }}|"
	        "{{ try_number }}.{{ poke_number }}|$HOME|{{ dag }}");
	ctx_init(&ctx);
	ctx.poke_number = 3;
	ctx.params = params;
	ctx.conf = conf;
	ctx.outputs = outs;
	ctx.outputs_nr = 1;
	ctx.dag_env = &dag_env;
	ctx.task_env = &task_env;
	sl_env_inherit_base(&env, environ);
	sl_taskenv_build(&env, &ctx);

	assert_null(sl_env_get(&env, "SLUICE_TEST_SECRET"));
	assert_string_equal(sl_env_get(&env, "LC_TIME"), "C");
	assert_non_null(sl_env_get(&env, "PATH"));
	assert_string_equal(sl_env_get(&env, "SLUICE_DS"), "2026-03-04");
	assert_string_equal(sl_env_get(&env, "SLUICE_DS_NODASH"), "20260304");
	assert_string_equal(sl_env_get(&env, "SLUICE_TS"), "2026-03-04T05:06:07Z");
	assert_string_equal(sl_env_get(&env, "SLUICE_LOGICAL_DATE"), "2026-03-04T05:06:07Z");
	assert_string_equal(sl_env_get(&env, "SLUICE_DATA_INTERVAL_START"), "2026-03-03T05:06:07Z");
	assert_string_equal(sl_env_get(&env, "SLUICE_DATA_INTERVAL_END"), "2026-03-04T05:06:07Z");
	assert_string_equal(sl_env_get(&env, "SLUICE_RUN_ID"), ctx.run_id);
	assert_string_equal(sl_env_get(&env, "SLUICE_DAG"), "nightly");
	assert_string_equal(sl_env_get(&env, "SLUICE_TASK"), "load");
	assert_string_equal(sl_env_get(&env, "SLUICE_TRY_NUMBER"), "2");
	assert_string_equal(sl_env_get(&env, "SLUICE_POKE_NUMBER"), "3");
	assert_string_equal(sl_env_get(&env, "DAY"), "day=2026-03-04");
	/* the DAG's SLUICE_DAG spoof does not reach the templates either */
	assert_string_equal(sl_env_get(&env, "MIX"), "us west|42||2.3|$HOME|nightly");
	assert_string_equal(sl_env_get(&env, "SLUICE_PARAM_REGION"), "us west");
	assert_string_equal(sl_env_get(&env, "SLUICE_PARAM_N"), "3");
	assert_string_equal(sl_env_get(&env, "SLUICE_PARAM_FLAG"), "true");
	assert_string_equal(sl_env_get(&env, "SLUICE_PARAM_NOTHING"), "");
	assert_string_equal(sl_env_get(&env, "SLUICE_PARAM_LIST"), "[1,2]");
	assert_string_equal(sl_env_get(&env, "SLUICE_OUT_EXTRACT_V_2_ROWS"), "42");
	assert_string_equal(sl_env_get(&env, "FOO"), "dag");
	assert_string_equal(sl_env_get(&env, "BAR"), "task");

	/* And the child really sees them, with nothing else. */
	opts_init(&o, &r,
	          "echo \"$SLUICE_DS|$SLUICE_PARAM_REGION|$SLUICE_OUT_EXTRACT_V_2_ROWS|$BAR|"
	          "${SLUICE_TEST_SECRET-unset}|$SLUICE_OUTPUT\"");
	o.env = sl_env_array(&env);
	run_opts(&r, &o);
	assert_string_equal(r.out.buf, "2026-03-04|us west|42|task|unset|\n");
	run_release(&r);

	unsetenv("SLUICE_TEST_SECRET");
	sl_env_release(&env);
	free(dag_env.items);
	free(task_env.items);
	json_decref(params);
	json_decref(conf);
}

/* Only a callback gets the run's state and failed tasks, and env cannot spoof them. */
static void test_callback_env(void **state)
{
	struct sl_env env = SL_ENV_INIT;
	struct sl_kvs dag_env = {0};
	struct sl_taskenv_ctx ctx;

	(void)state;
	ctx_init(&ctx);
	sl_taskenv_build(&env, &ctx);
	assert_null(sl_env_get(&env, "SLUICE_RUN_STATE"));
	assert_null(sl_env_get(&env, "SLUICE_FAILED_TASKS"));
	sl_env_release(&env);

	kvs_add(&dag_env, "SLUICE_RUN_STATE", "spoofed");
	ctx.dag_env = &dag_env;
	ctx.task = "on_failure";
	ctx.run_state = "failed";
	ctx.failed_tasks = "extract load";
	sl_taskenv_build(&env, &ctx);
	assert_string_equal(sl_env_get(&env, "SLUICE_RUN_STATE"), "failed");
	assert_string_equal(sl_env_get(&env, "SLUICE_FAILED_TASKS"), "extract load");
	assert_string_equal(sl_env_get(&env, "SLUICE_TASK"), "on_failure");
	/* The DAG loader keeps this many env entries of a DISPATCH free. */
	assert_int_equal(env.nr, SL_TASKENV_FIXED_MAX);
	sl_env_release(&env);
	free(dag_env.items);
}

static void test_expand(void **state)
{
	struct sl_strbuf out = SL_STRBUF_INIT, err = SL_STRBUF_INIT;

	(void)state;
	assert_int_equal(sl_taskenv_expand(&out,
	                                   "run --day {{ ds }} \"{{params.region}}\" "
	                                   "{{ outputs.a.b-c.KEY }}{{try_number}}",
	                                   &err),
	                 0);
	assert_string_equal(out.buf, "run --day ${SLUICE_DS} \"${SLUICE_PARAM_REGION}\" "
	                             "${SLUICE_OUT_A_B_C_KEY}${SLUICE_TRY_NUMBER}");
	sl_strbuf_reset(&out);
	assert_int_equal(sl_taskenv_expand(&out, "no templates", &err), 0);
	assert_string_equal(out.buf, "no templates");
	sl_strbuf_reset(&out);
	assert_int_equal(sl_taskenv_expand(&out, "echo {{ nope }}", &err), SL_EINVAL);
	assert_string_equal(err.buf, "unknown template value '{{ nope }}'");
	sl_strbuf_reset(&err);
	sl_strbuf_reset(&out);
	assert_int_equal(sl_taskenv_expand(&out, "echo {{ ds", &err), SL_EINVAL);
	assert_non_null(strstr(err.buf, "unterminated"));
	sl_strbuf_release(&out);
	sl_strbuf_release(&err);
}

static void test_injection(void **state)
{
	static const char *const commands[] = {
	    "printf '%s\\n' \"{{ params.x }}\"",
	    "echo {{ params.x }}",
	    "echo \"x: {{params.x}}\" | sed 's/^x: //'",
	};
	char pwned[64], *value;
	struct sl_strbuf cmd = SL_STRBUF_INIT, err = SL_STRBUF_INIT;
	struct sl_env env = SL_ENV_INIT;
	struct sl_taskenv_ctx ctx;
	json_t *params;

	(void)state;
	snprintf(pwned, sizeof(pwned), "/tmp/pwned-%ld-%d", (long)getpid(), rand());
	value = sl_xasprintf("'; touch %s; ' $(touch %s) `touch %s` \"; touch %s; \"", pwned, pwned,
	                     pwned, pwned);
	params = json_pack("{s:s}", "x", value);
	ctx_init(&ctx);
	ctx.params = params;
	sl_env_inherit_base(&env, environ);
	sl_taskenv_build(&env, &ctx);

	for (size_t i = 0; i < SL_ARRAY_SIZE(commands); i++) {
		struct sl_taskexec_opts o;
		struct run r;
		char *want = sl_xasprintf("%s\n", value);

		sl_strbuf_reset(&cmd);
		assert_int_equal(sl_taskenv_expand(&cmd, commands[i], &err), 0);
		opts_init(&o, &r, cmd.buf);
		o.env = sl_env_array(&env);
		run_opts(&r, &o);
		assert_int_equal(r.res.outcome, SL_OUTCOME_SUCCESS);
		assert_string_equal(r.out.buf, want);
		assert_int_equal(access(pwned, F_OK), -1);
		free(want);
		run_release(&r);
	}
	sl_env_release(&env);
	sl_strbuf_release(&cmd);
	sl_strbuf_release(&err);
	json_decref(params);
	free(value);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_env),
	    cmocka_unit_test(test_callback_env),
	    cmocka_unit_test(test_expand),
	    cmocka_unit_test(test_injection),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
