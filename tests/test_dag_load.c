#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice/alloc.h"
#include "sluice/dag.h"
#include "sluice/error.h"
#include "sluice/strbuf.h"
#include "sluice/suggest.h"
#include "sluice/template.h"
#include "sluice/yaml_doc.h"

static void diags_format(struct sl_strbuf *sb, const struct sl_diags *d)
{
	for (size_t i = 0; i < d->nr; i++)
		sl_strbuf_addf(sb, "%s:%u:%u: %s\n", d->items[i].file, d->items[i].line,
		               d->items[i].column, d->items[i].message);
}

static struct sl_dag *load_ok(const char *path)
{
	struct sl_diags d = SL_DIAGS_INIT;
	struct sl_strbuf sb = SL_STRBUF_INIT;
	struct sl_dag *dag;
	int rc = sl_dag_load_file(&dag, path, NULL, &d);

	diags_format(&sb, &d);
	if (rc || d.nr)
		fail_msg("%s: rc %d\n%s", path, rc, sb.buf);
	assert_non_null(dag);
	sl_strbuf_release(&sb);
	sl_diags_release(&d);
	return dag;
}

/* Load text given inline; returns the diagnostics, one per line. */
static int load_text(const char *file, const char *text, struct sl_dag **dag, struct sl_strbuf *out)
{
	struct sl_diags d = SL_DIAGS_INIT;
	int rc = sl_dag_load(dag, file, text, strlen(text), NULL, &d);

	diags_format(out, &d);
	sl_diags_release(&d);
	return rc;
}

static const struct sl_task *task(const struct sl_dag *dag, const char *id)
{
	long i = sl_dag_task_index(dag, id);

	assert_true(i >= 0);
	return &dag->tasks[i];
}

static const char *env_get(const struct sl_kvs *kvs, const char *key)
{
	for (size_t i = 0; i < kvs->nr; i++) {
		if (!strcmp(kvs->items[i].key, key))
			return kvs->items[i].value;
	}
	return NULL;
}

static void test_full_fixture(void **state)
{
	struct sl_dag *dag = load_ok("fixtures/valid/full.yaml");
	const struct sl_task *t;
	char *params;

	(void)state;
	assert_string_equal(dag->id, "full_example");
	assert_string_equal(dag->file, "fixtures/valid/full.yaml");
	assert_string_equal(dag->description, "Load yesterday's orders");
	assert_int_equal(dag->schedule_kind, SL_SCHEDULE_CRON);
	assert_string_equal(dag->schedule, "0 2 * * *");
	assert_true(dag->cron.hours & (1u << 2));
	assert_string_equal(dag->timezone, "Europe/Paris");
	assert_true(dag->has_start_date);
	assert_int_equal(dag->start_date, 1767222000); /* 2026-01-01T00:00+01:00 */
	assert_true(dag->has_end_date);
	assert_int_equal(dag->end_date, 1798754400); /* 2026-12-31T23:00+01:00 */
	assert_true(dag->catchup);
	assert_int_equal(dag->max_active_runs, 2);
	assert_int_equal(dag->max_active_tasks, 8);
	assert_true(dag->paused);
	assert_int_equal(dag->tags_nr, 3);
	assert_string_equal(dag->tags[0], "etl");
	assert_string_equal(dag->tags[2], "2026");
	assert_string_equal(dag->owner, "data-team");
	params = json_dumps(dag->params, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(params, "{\"dry_run\":false,\"limit\":100,\"nested\":{\"a\":{\"b\":1}},"
	                            "\"nothing\":null,\"ratio\":0.5,\"region\":\"eu\","
	                            "\"regions\":[\"eu\",\"us\"]}");
	free(params);
	assert_int_equal(dag->env.nr, 2);
	assert_string_equal(env_get(&dag->env, "PYTHONUNBUFFERED"), "1");
	assert_string_equal(env_get(&dag->env, "LEVEL"), "3");
	assert_string_equal(dag->on_failure,
	                    "./scripts/alert.sh \"{{ dag }} {{ run_id }} failed\"");
	assert_null(dag->on_success);

	assert_int_equal(dag->tasks_nr, 6);
	assert_string_equal(dag->tasks[0].id, "extract");
	assert_string_equal(dag->tasks[5].id, "poke_defaults");

	/* extract: everything from defaults */
	t = task(dag, "extract");
	assert_int_equal(t->line, 38);
	assert_int_equal(t->column, 3);
	assert_int_equal(t->retries, 2);
	assert_int_equal(t->retry_delay, 30);
	assert_int_equal(t->retry_backoff, SL_BACKOFF_EXPONENTIAL);
	assert_int_equal(t->max_retry_delay, 600);
	assert_int_equal(t->timeout, 3600);
	assert_int_equal(t->trigger_rule, SL_TRIGGER_ALL_SUCCESS);
	assert_string_equal(t->pool, "shared");
	assert_int_equal(t->priority, 1);
	assert_string_equal(t->queue, "batch");
	assert_int_equal(t->env.nr, 1);
	assert_string_equal(env_get(&t->env, "FROM_DEFAULTS"), "yes");
	assert_string_equal(t->cwd, "jobs");
	assert_false(t->sensor);
	assert_true(t->depends_on_past);
	assert_int_equal(t->upstream_nr, 0);
	assert_int_equal(t->downstream_nr, 1);

	/* transform: own retries and timeout */
	t = task(dag, "transform");
	assert_int_equal(t->retries, 5);
	assert_int_equal(t->timeout, 1200);
	assert_int_equal(t->retry_delay, 30);
	assert_int_equal(t->upstream_nr, 1);
	assert_string_equal(dag->tasks[t->upstream[0]].id, "extract");
	assert_int_equal(t->downstream_nr, 2);

	/* load: every key set on the task itself */
	t = task(dag, "load");
	assert_string_equal(t->command,
	                    "./scripts/load.sh \\\n  --rows \"{{ outputs.extract.rows }}\" "
	                    "--at {{ ts }}\n");
	assert_int_equal(t->upstream_nr, 1);
	assert_int_equal(t->retry_delay, 90);
	assert_int_equal(t->retry_backoff, SL_BACKOFF_FIXED);
	assert_int_equal(t->max_retry_delay, 86400);
	assert_string_equal(t->pool, "warehouse");
	assert_int_equal(t->priority, -10);
	assert_string_equal(t->queue, "default");
	assert_int_equal(t->env.nr, 2); /* replaces defaults.env */
	assert_string_equal(env_get(&t->env, "PORT"), "5432");
	assert_null(env_get(&t->env, "FROM_DEFAULTS"));
	assert_string_equal(t->cwd, "./loaders/sql");
	assert_int_equal(t->timeout, 0);
	assert_false(t->depends_on_past);

	t = task(dag, "report");
	assert_int_equal(t->trigger_rule, SL_TRIGGER_ALL_DONE);
	assert_int_equal(t->upstream_nr, 2);

	t = task(dag, "wait_for_input");
	assert_true(t->sensor);
	assert_int_equal(t->poke_interval, 300);
	assert_int_equal(t->sensor_timeout, 6 * 3600);
	assert_null(t->pool);
	assert_null(t->cwd);

	t = task(dag, "poke_defaults");
	assert_true(t->sensor);
	assert_int_equal(t->poke_interval, 60);
	assert_int_equal(t->sensor_timeout, 7 * 86400);

	/* extract transform load report, then the two independent tasks */
	assert_string_equal(dag->tasks[dag->topo[0]].id, "extract");
	assert_string_equal(dag->tasks[dag->topo[3]].id, "report");
	sl_dag_free(dag);
}

static void test_builtin_defaults(void **state)
{
	struct sl_dag *dag = load_ok("fixtures/valid/minimal.yaml");
	const struct sl_task *t = &dag->tasks[0];

	(void)state;
	assert_string_equal(dag->id, "minimal");
	assert_null(dag->description);
	assert_int_equal(dag->schedule_kind, SL_SCHEDULE_NONE);
	assert_null(dag->schedule);
	assert_string_equal(dag->timezone, "UTC");
	assert_false(dag->has_start_date);
	assert_false(dag->has_end_date);
	assert_false(dag->catchup);
	assert_false(dag->paused);
	assert_int_equal(dag->max_active_runs, 16);
	assert_int_equal(dag->max_active_tasks, 16);
	assert_int_equal(dag->tags_nr, 0);
	assert_non_null(dag->params);
	assert_int_equal(json_object_size(dag->params), 0);
	assert_string_equal(t->command, "echo hello");
	assert_int_equal(t->retries, 0);
	assert_int_equal(t->retry_delay, 300);
	assert_int_equal(t->retry_backoff, SL_BACKOFF_FIXED);
	assert_int_equal(t->max_retry_delay, 86400);
	assert_int_equal(t->timeout, 0);
	assert_int_equal(t->trigger_rule, SL_TRIGGER_ALL_SUCCESS);
	assert_null(t->pool);
	assert_int_equal(t->priority, 0);
	assert_string_equal(t->queue, "default");
	assert_null(t->cwd);
	assert_false(t->sensor);
	assert_false(t->depends_on_past);
	sl_dag_free(dag);
}

static void test_schedules(void **state)
{
	struct sl_strbuf out = SL_STRBUF_INIT;
	struct sl_dag *dag;

	(void)state;
	assert_int_equal(
	    load_text("x.yml", "schedule: '@once'\ntasks: {a: {command: x}}\n", &dag, &out), SL_OK);
	assert_string_equal(dag->id, "x");
	assert_int_equal(dag->schedule_kind, SL_SCHEDULE_ONCE);
	assert_string_equal(dag->schedule, "@once");
	sl_dag_free(dag);
	assert_int_equal(
	    load_text("dir/y.yaml", "schedule: '@daily'\ntasks: {a: {command: x}}\n", &dag, &out),
	    SL_OK);
	assert_string_equal(dag->id, "y");
	assert_int_equal(dag->schedule_kind, SL_SCHEDULE_CRON);
	assert_int_equal(dag->cron.hours, 1);
	sl_dag_free(dag);
	assert_int_equal(
	    load_text("z.yaml", "schedule: null\ntasks: {a: {command: x}}\n", &dag, &out), SL_OK);
	assert_int_equal(dag->schedule_kind, SL_SCHEDULE_NONE);
	sl_dag_free(dag);
	assert_string_equal(out.buf, "");
	sl_strbuf_release(&out);
}

static void test_id_from_file_name(void **state)
{
	struct sl_strbuf out = SL_STRBUF_INIT;
	struct sl_dag *dag;

	(void)state;
	assert_int_equal(load_text("dags/my dag.yaml", "tasks: {a: {command: x}}\n", &dag, &out),
	                 SL_EINVAL);
	assert_null(dag);
	assert_string_equal(out.buf, "dags/my dag.yaml:1:1: the DAG id 'my dag' taken from the "
	                             "file name is not valid (letters, digits, '_', '.' and '-', "
	                             "at most 200 characters); set 'dag:' or rename the file\n");
	sl_strbuf_reset(&out);
	/* an explicit id makes the file name irrelevant */
	assert_int_equal(
	    load_text("dags/my dag.yaml", "dag: mine\ntasks: {a: {command: x}}\n", &dag, &out),
	    SL_OK);
	assert_string_equal(dag->id, "mine");
	sl_dag_free(dag);
	sl_strbuf_release(&out);
}

static void test_aliases_are_followed(void **state)
{
	static const char text[] = "defaults:\n"
	                           "  env: &common {A: \"1\", B: two}\n"
	                           "params: {list: &l [1, 2], again: *l}\n"
	                           "tasks:\n"
	                           "  a: {command: &cmd echo hi, env: *common}\n"
	                           "  b: {command: *cmd, depends_on: [a]}\n";
	struct sl_strbuf out = SL_STRBUF_INIT;
	struct sl_dag *dag;
	char *params;

	(void)state;
	assert_int_equal(load_text("alias.yaml", text, &dag, &out), SL_OK);
	assert_string_equal(out.buf, "");
	assert_string_equal(dag->tasks[1].command, "echo hi");
	assert_string_equal(env_get(&dag->tasks[0].env, "B"), "two");
	assert_string_equal(env_get(&dag->tasks[1].env, "A"), "1");
	params = json_dumps(dag->params, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(params, "{\"again\":[1,2],\"list\":[1,2]}");
	free(params);
	sl_dag_free(dag);
	sl_strbuf_release(&out);
}

/*
 * Load `before`, `len` bytes of 'x', then `after`: `want` is "" when it
 * loads, else the exact diagnostics.
 */
static void expect_padded(const char *before, size_t len, const char *after, const char *want)
{
	struct sl_strbuf text = SL_STRBUF_INIT, out = SL_STRBUF_INIT;
	struct sl_dag *dag;
	int rc;

	sl_strbuf_adds(&text, before);
	for (size_t i = 0; i < len; i++)
		sl_strbuf_addch(&text, 'x');
	sl_strbuf_adds(&text, after);
	rc = load_text("limits.yaml", text.buf, &dag, &out);
	if (strcmp(out.buf, want))
		fail_msg("%s...:\n--- expected\n%s--- got\n%s", before, want, out.buf);
	assert_int_equal(rc, *want ? SL_EINVAL : SL_OK);
	sl_dag_free(dag);
	sl_strbuf_release(&text);
	sl_strbuf_release(&out);
}

/* Every command, cwd and env value must fit a DISPATCH: 256 KiB is the most. */
static void test_dispatch_text_limits(void **state)
{
	static const struct {
		const char *before, *after, *want;
		size_t added; /* bytes the value gains in the DISPATCH */
	} cases[] = {
	    {"tasks:\n  a:\n    command: ", "\n",
	     "limits.yaml:3:14: command: is 262145 bytes long, over the job protocol's limit of "
	     "262144 bytes\n"},
	    {"on_failure: ", "\ntasks: {a: {command: x}}\n",
	     "limits.yaml:1:13: on_failure: is 262145 bytes long, over the job protocol's limit "
	     "of 262144 bytes\n"},
	    {"on_success: '", "'\ntasks: {a: {command: x}}\n",
	     "limits.yaml:1:13: on_success: is 262145 bytes long, over the job protocol's limit "
	     "of 262144 bytes\n"},
	    {"tasks:\n  a: {command: x, cwd: ", "}\n",
	     "limits.yaml:2:24: cwd: is 262145 bytes long, over the job protocol's limit of "
	     "262144 bytes\n"},
	    {"env:\n  LONG: ", "\ntasks: {a: {command: x}}\n",
	     "limits.yaml:2:9: env.LONG: is 262145 bytes long, over the job protocol's limit of "
	     "262144 bytes\n"},
	    {"defaults:\n  env: {LONG: \"", "\"}\ntasks: {a: {command: x}}\n",
	     "limits.yaml:2:15: env.LONG: is 262145 bytes long, over the job protocol's limit of "
	     "262144 bytes\n"},
	    {"params:\n  p: ", "\ntasks: {a: {command: x}}\n",
	     "limits.yaml:2:6: params.p: is 262145 bytes long, over the job protocol's limit of "
	     "262144 bytes\n"},
	    /* A list reaches the environment as compact JSON: ["..."]. */
	    {"params:\n  p: [", "]\ntasks: {a: {command: x}}\n",
	     "limits.yaml:2:6: params.p: is 262145 bytes long, over the job protocol's limit of "
	     "262144 bytes\n",
	     4},
	};

	(void)state;
	for (size_t i = 0; i < SL_ARRAY_SIZE(cases); i++) {
		size_t most = 256 * 1024 - cases[i].added;

		expect_padded(cases[i].before, most, cases[i].after, "");
		expect_padded(cases[i].before, most + 1, cases[i].after, cases[i].want);
	}
}

/* `nr` lines "  PREFIX<i>: x" after `head`. */
static void add_entries(struct sl_strbuf *sb, const char *head, const char *prefix, int nr)
{
	sl_strbuf_adds(sb, head);
	for (int i = 0; i < nr; i++)
		sl_strbuf_addf(sb, "  %s%d: x\n", prefix, i);
}

static void expect_text(const struct sl_strbuf *text, const char *want)
{
	struct sl_strbuf out = SL_STRBUF_INIT;
	struct sl_dag *dag;
	int rc = load_text("room.yaml", text->buf, &dag, &out);

	assert_string_equal(out.buf, want);
	assert_int_equal(rc, *want ? SL_EINVAL : SL_OK);
	sl_dag_free(dag);
	sl_strbuf_release(&out);
}

/*
 * The env of a DISPATCH holds at most 4096 entries, 13 of them sluice's own
 * SLUICE_* variables: the file's env and params, counted by distinct name
 * as the worker gets them, may fill 4083.
 */
static void test_dispatch_env_room(void **state)
{
	struct sl_strbuf text = SL_STRBUF_INIT;

	(void)state;
	add_entries(&text, "env:\n", "V", 4083);
	sl_strbuf_adds(&text, "tasks: {a: {command: x}}\n");
	expect_text(&text, "");

	sl_strbuf_reset(&text);
	add_entries(&text, "env:\n", "V", 4084);
	sl_strbuf_adds(&text, "tasks: {a: {command: x}}\n");
	expect_text(&text, "room.yaml:1:1: env: the DAG's env and params make 4084 environment "
	                   "variables, over the limit of 4083 (the job protocol's 4096 less 13 "
	                   "kept for sluice's SLUICE_* variables)\n");

	/* Reported at the larger of the two; params 'v0' and 'V0' are one variable. */
	sl_strbuf_reset(&text);
	add_entries(&text, "env:\n", "V", 1000);
	add_entries(&text, "params:\n", "v", 3084);
	sl_strbuf_adds(&text, "  V0: x\ntasks: {a: {command: x}}\n");
	expect_text(&text, "room.yaml:1002:1: params: the DAG's env and params make 4084 "
	                   "environment variables, over the limit of 4083 (the job protocol's "
	                   "4096 less 13 kept for sluice's SLUICE_* variables)\n");

	/*
	 * 4082 from the DAG: a task's env may add one name (overriding costs
	 * nothing), not two, be it its own or from defaults (reported once).
	 */
	sl_strbuf_reset(&text);
	add_entries(&text, "env:\n", "V", 2000);
	add_entries(&text, "params:\n", "p", 2082);
	sl_strbuf_adds(&text, "defaults:\n"
	                      "  env: {V1: y, NEW: y, NEWER: y}\n"
	                      "tasks:\n"
	                      "  a: {command: x}\n"
	                      "  b: {command: x}\n"
	                      "  c: {command: x, env: {V1: y, SLUICE_PARAM_P1: y, NEW: y}}\n"
	                      "  d: {command: x, env: {NEW: y, NEWER: y}}\n");
	expect_text(&text, "room.yaml:4086:3: env: with the DAG's env and params, a task gets "
	                   "4084 environment variables, over the limit of 4083 (the job "
	                   "protocol's 4096 less 13 kept for sluice's SLUICE_* variables)\n"
	                   "room.yaml:4091:19: env: with the DAG's env and params, a task gets "
	                   "4084 environment variables, over the limit of 4083 (the job "
	                   "protocol's 4096 less 13 kept for sluice's SLUICE_* variables)\n");
	sl_strbuf_release(&text);
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/*
 * Every fixtures/invalid/NAME.yaml must fail with exactly the diagnostics
 * in NAME.expect.
 */
/*
 * Nested keys are named with their mapping (sensor.poke_interval, as the
 * configuration's dags.poll_interval); a task's own null undoes a default.
 */
static void test_nested_keys(void **state)
{
	struct sl_strbuf out = SL_STRBUF_INIT;
	struct sl_dag *dag;

	(void)state;
	assert_int_equal(load_text("n.yaml",
	                           "defaults: {command: x, timeout: 1h}\n"
	                           "retries: 2\n"
	                           "tasks:\n"
	                           "  a: {command: x, sensor: {poke_interval: 0}}\n",
	                           &dag, &out),
	                 SL_EINVAL);
	assert_string_equal(out.buf,
	                    "n.yaml:1:12: 'command' cannot be set in defaults: each task sets its "
	                    "own\n"
	                    "n.yaml:2:1: unknown key 'retries' at DAG level ('retries' is a task "
	                    "key; set it for every task under 'defaults')\n"
	                    "n.yaml:4:43: sensor.poke_interval: must be greater than 0\n");
	sl_strbuf_reset(&out);
	assert_int_equal(load_text("n.yaml",
	                           "defaults: {timeout: 1h, pool: p}\n"
	                           "tasks:\n"
	                           "  a: {command: x, timeout: null, pool: null}\n"
	                           "  b: {command: x}\n",
	                           &dag, &out),
	                 SL_OK);
	assert_int_equal(task(dag, "a")->timeout, 0);
	assert_null(task(dag, "a")->pool);
	assert_int_equal(task(dag, "b")->timeout, 3600);
	assert_string_equal(task(dag, "b")->pool, "p");
	sl_dag_free(dag);
	sl_strbuf_release(&out);
}

static void test_invalid_fixtures(void **state)
{
	DIR *dir = opendir("fixtures/invalid");
	struct dirent *de;
	int checked = 0;

	(void)state;
	assert_non_null(dir);
	while ((de = readdir(dir))) {
		struct sl_strbuf path = SL_STRBUF_INIT, expect = SL_STRBUF_INIT;
		struct sl_strbuf got = SL_STRBUF_INIT, err = SL_STRBUF_INIT;
		struct sl_diags d = SL_DIAGS_INIT;
		struct sl_dag *dag;
		int rc;

		if (!has_suffix(de->d_name, ".yaml"))
			continue;
		sl_strbuf_addf(&path, "fixtures/invalid/%s", de->d_name);
		rc = sl_dag_load_file(&dag, path.buf, NULL, &d);
		diags_format(&got, &d);
		sl_strbuf_setlen(&path, path.len - 5);
		sl_strbuf_adds(&path, ".expect");
		if (sl_strbuf_read_file(&expect, path.buf, 1 << 20, &err) < 0)
			fail_msg("%s", err.buf);
		if (strcmp(got.buf, expect.buf))
			fail_msg("%s:\n--- expected\n%s--- got\n%s", path.buf, expect.buf, got.buf);
		assert_int_not_equal(rc, SL_OK);
		assert_null(dag);
		assert_true(d.nr > 0);
		checked++;
		sl_diags_release(&d);
		sl_strbuf_release(&path);
		sl_strbuf_release(&expect);
		sl_strbuf_release(&got);
		sl_strbuf_release(&err);
	}
	closedir(dir);
	assert_true(checked >= 30);
}

static void test_valid_fixtures(void **state)
{
	DIR *dir = opendir("fixtures/valid");
	struct dirent *de;

	(void)state;
	assert_non_null(dir);
	while ((de = readdir(dir))) {
		char *path;

		if (!has_suffix(de->d_name, ".yaml"))
			continue;
		path = sl_xasprintf("fixtures/valid/%s", de->d_name);
		sl_dag_free(load_ok(path));
		free(path);
	}
	closedir(dir);
}

static char *temp_dir(void)
{
	char *dir = sl_xstrdup("/tmp/sluice-dag-load-XXXXXX");

	assert_non_null(mkdtemp(dir));
	return dir;
}

static void test_oversized(void **state)
{
	char *dir = temp_dir();
	char *path = sl_xasprintf("%s/big.yaml", dir);
	struct sl_load_opts opts = {.max_file_size = 64};
	struct sl_diags d = SL_DIAGS_INIT;
	struct sl_strbuf got = SL_STRBUF_INIT, body = SL_STRBUF_INIT;
	struct sl_dag *dag;
	int fd;

	(void)state;
	/* in memory, with a small configured limit */
	sl_strbuf_adds(&body, "tasks:\n");
	for (int i = 0; i < 10; i++)
		sl_strbuf_addf(&body, "  t%d: {command: x}\n", i);
	assert_int_equal(sl_dag_load(&dag, "m.yaml", body.buf, body.len, &opts, &d), SL_ETOOBIG);
	assert_null(dag);
	diags_format(&got, &d);
	assert_string_equal(got.buf,
	                    "m.yaml:1:1: file is 197 bytes, over the size limit of 64 bytes\n");
	sl_diags_release(&d);
	sl_strbuf_reset(&got);

	/* a 100 MB file on disk: refused from its size, without reading it */
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 100 * 1024 * 1024), 0);
	close(fd);
	assert_int_equal(sl_dag_load_file(&dag, path, NULL, &d), SL_ETOOBIG);
	assert_null(dag);
	assert_int_equal(d.nr, 1);
	assert_string_equal(d.items[0].message, "file is over the size limit of 1048576 bytes");
	sl_diags_release(&d);

	/* just over the default limit */
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1024 * 1024 + 1), 0);
	close(fd);
	assert_int_equal(sl_dag_load_file(&dag, path, NULL, &d), SL_ETOOBIG);
	sl_diags_release(&d);

	/* a file that cannot be read */
	assert_int_equal(sl_dag_load_file(&dag, "fixtures/no-such-file.yaml", NULL, &d), SL_ERR);
	assert_int_equal(d.nr, 1);
	assert_non_null(strstr(d.items[0].message, "cannot open"));
	sl_diags_release(&d);

	unlink(path);
	rmdir(dir);
	free(path);
	free(dir);
	sl_strbuf_release(&got);
	sl_strbuf_release(&body);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Random bytes, and random text from YAML's punctuation: errors, quickly. */
static void test_random_input(void **state)
{
	static const char alphabet[] = "[]{}:,-&*!|>'\"#%@ \n\tab{{}}<<";
	size_t len = 1024 * 1024 - 1;
	char *buf = sl_xmalloc(len);
	uint64_t seed = 0x5eed5eed5eedULL;

	(void)state;
	for (int round = 0; round < 12; round++) {
		struct sl_diags d = SL_DIAGS_INIT;
		struct sl_dag *dag;

		for (size_t i = 0; i < len; i++) {
			uint64_t r = xorshift(&seed);

			buf[i] = round == 0 ? (char)r : alphabet[r % (sizeof(alphabet) - 1)];
		}
		assert_int_not_equal(sl_dag_load(&dag, "random.yaml", buf, len, NULL, &d), SL_OK);
		assert_null(dag);
		assert_true(d.nr > 0);
		sl_diags_release(&d);
	}
	free(buf);
}

static void test_alias_bomb(void **state)
{
	struct sl_diags d = SL_DIAGS_INIT;
	struct sl_dag *dag;

	(void)state;
	assert_int_equal(sl_dag_load_file(&dag, "fixtures/invalid/alias_bomb.yaml", NULL, &d),
	                 SL_EINVAL);
	assert_int_equal(d.nr, 1);
	sl_diags_release(&d);
}

/* A chain of 10,000 tasks: loads, in order (its speed is bench/parse's job). */
static void test_big_dag(void **state)
{
	struct sl_strbuf text = SL_STRBUF_INIT, out = SL_STRBUF_INIT;
	struct sl_dag *dag;
	(void)state;
	sl_strbuf_adds(&text, "tasks:\n  t0: {command: x}\n");
	for (int i = 1; i < 10000; i++)
		sl_strbuf_addf(&text,
		               "  t%d: {command: 'echo {{ outputs.t%d.k }}', depends_on: [t%d]}\n",
		               i, i - 1, i - 1);
	assert_int_equal(load_text("big.yaml", text.buf, &dag, &out), SL_OK);
	assert_string_equal(out.buf, "");
	assert_int_equal(dag->tasks_nr, 10000);
	assert_int_equal(dag->topo[9999], 9999);
	sl_dag_free(dag);
	sl_strbuf_release(&text);
	sl_strbuf_release(&out);
}

static void test_template_iter(void **state)
{
	static const char s[] = "a {{ ds }}{{x}} b {{  params.p\t}} {{ tail";
	struct sl_template_iter it;
	struct sl_template_piece p;
	struct sl_strbuf sb = SL_STRBUF_INIT;

	(void)state;
	sl_template_iter_init(&it, s, strlen(s));
	while (sl_template_next(&it, &p)) {
		if (p.kind == SL_TEMPLATE_TEXT)
			sl_strbuf_addf(&sb, "T[%.*s]", (int)p.len, s + p.start);
		else if (p.kind == SL_TEMPLATE_REF)
			sl_strbuf_addf(&sb, "R[%.*s]", (int)p.name_len, p.name);
		else
			sl_strbuf_addf(&sb, "U[%.*s]", (int)p.len, s + p.start);
	}
	assert_string_equal(sb.buf, "T[a ]R[ds]R[x]T[ b ]R[params.p]T[ ]U[{{ tail]");
	sl_strbuf_release(&sb);
}

static void test_template_refs(void **state)
{
	struct sl_template_ref r;

	(void)state;
	sl_template_ref_parse("ds_nodash", 9, &r);
	assert_int_equal(r.kind, SL_TREF_BUILTIN);
	sl_template_ref_parse("params.region", 13, &r);
	assert_int_equal(r.kind, SL_TREF_PARAM);
	assert_int_equal(r.a_len, 6);
	sl_template_ref_parse("params.9x", 9, &r);
	assert_int_equal(r.kind, SL_TREF_INVALID);
	sl_template_ref_parse("outputs.load.v2.rows", 20, &r);
	assert_int_equal(r.kind, SL_TREF_OUTPUT);
	assert_int_equal(r.a_len, 7); /* task ids may hold dots */
	assert_memory_equal(r.b, "rows", 4);
	sl_template_ref_parse("outputs.load", 12, &r);
	assert_int_equal(r.kind, SL_TREF_INVALID);
	sl_template_ref_parse("outputs.load.", 13, &r);
	assert_int_equal(r.kind, SL_TREF_INVALID);
	sl_template_ref_parse("nope", 4, &r);
	assert_int_equal(r.kind, SL_TREF_INVALID);
}

static void test_suggest(void **state)
{
	static const char *const keys[] = {"retries", "retry_delay", "command", "timeout"};

	(void)state;
	assert_string_equal(sl_suggest_best("retires", keys, 4), "retries");
	assert_string_equal(sl_suggest_best("comand", keys, 4), "command");
	assert_string_equal(sl_suggest_best("retry_dealy", keys, 4), "retry_delay");
	assert_null(sl_suggest_best("zzz", keys, 4));
	assert_null(sl_suggest_best("x", keys, 4));
	assert_int_equal(sl_edit_distance("ab", 2, "ba", 2, 5), 1);
	assert_int_equal(sl_edit_distance("kitten", 6, "sitting", 7, 5), 3);
	assert_true(sl_edit_distance("abcdef", 6, "uvwxyz", 6, 2) > 2);
}

static void test_yaml_scalars(void **state)
{
	static const char text[] = "- ~\n- null\n- ''\n- true\n- False\n- 12\n- -3\n- 0x1F\n"
	                           "- 0o17\n- 1.5\n- .inf\n- \"3\"\n- 1_000\n- 2026-01-01\n"
	                           "- yes\n- |\n  block\n";
	static const char *const want[] = {
	    "null",    "null",  "string", "boolean", "boolean", "integer", "integer", "integer",
	    "integer", "float", "float",  "string",  "string",  "string",  "string",  "string"};
	struct sl_diags d = SL_DIAGS_INIT;
	struct sl_ydoc *doc;
	const struct sl_ynode *root;
	long long v;

	(void)state;
	assert_int_equal(sl_ydoc_parse(&doc, "s.yaml", text, strlen(text), &d), SL_OK);
	root = sl_ydoc_root(doc);
	assert_int_equal(root->kind, SL_YNODE_SEQUENCE);
	assert_int_equal(root->u.seq.nr, SL_ARRAY_SIZE(want));
	for (size_t i = 0; i < SL_ARRAY_SIZE(want); i++)
		assert_string_equal(sl_ynode_type_name(root->u.seq.items[i]), want[i]);
	assert_int_equal(sl_ynode_int(root->u.seq.items[7], &v), 0);
	assert_int_equal(v, 31);
	assert_int_equal(sl_ynode_int(root->u.seq.items[8], &v), 0);
	assert_int_equal(v, 15);
	assert_true(sl_ynode_bool(root->u.seq.items[3]));
	assert_false(sl_ynode_bool(root->u.seq.items[4]));
	assert_int_equal(root->u.seq.items[15]->u.scalar.style, SL_YSTYLE_BLOCK);
	assert_int_equal(root->u.seq.items[11]->line, 12);
	assert_int_equal(root->u.seq.items[11]->column, 3);
	sl_ydoc_free(doc);
	sl_diags_release(&d);
}

static void test_yaml_recursive_alias(void **state)
{
	static const char text[] = "a: &x [1, *x]\n";
	struct sl_diags d = SL_DIAGS_INIT;
	struct sl_ydoc *doc;

	(void)state;
	assert_int_equal(sl_ydoc_parse(&doc, "r.yaml", text, strlen(text), &d), SL_EINVAL);
	assert_null(doc);
	assert_int_equal(d.nr, 1);
	assert_int_equal(d.items[0].column, 11);
	assert_non_null(strstr(d.items[0].message, "contains it"));
	sl_diags_release(&d);
}

/*
 * The loaded model is counted as defaults are applied, and loading stops at
 * the task where the count passes the cap (here 1,800 bytes: each task is
 * 512 bytes, its id and command, and the 43 bytes of defaults.env).
 */
static void test_model_cap(void **state)
{
	static const char text[] = "defaults: {env: {A: aaaaaaaaaa}}\ntasks:\n  t1: {command: x}\n"
	                           "  t2: {command: x}\n  t3: {command: x}\n  t4: {command: x}\n"
	                           "  t5: {command: x, depends_on: [nope]}\n";
	struct sl_load_opts opts = {.max_model_size = 1800};
	struct sl_diags d = SL_DIAGS_INIT;
	struct sl_dag *dag;

	(void)state;
	assert_int_equal(sl_dag_load(&dag, "cap.yaml", text, strlen(text), &opts, &d), SL_EINVAL);
	assert_null(dag);
	/* one error: nothing after the cap is looked at (t5's unknown dependency) */
	assert_int_equal(d.nr, 1);
	assert_int_equal(d.items[0].line, 6);
	assert_int_equal(d.items[0].column, 3);
	assert_non_null(strstr(d.items[0].message,
	                       "this DAG's loaded definition exceeds 1800 bytes after defaults "
	                       "and aliases are applied"));
	sl_diags_release(&d);
	opts.max_model_size = 4096;
	assert_int_equal(sl_dag_load(&dag, "cap.yaml", text, strlen(text) - 39, &opts, &d), SL_OK);
	assert_int_equal(dag->tasks_nr, 4);
	sl_dag_free(dag);
	sl_diags_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_fixture),
	    cmocka_unit_test(test_builtin_defaults),
	    cmocka_unit_test(test_schedules),
	    cmocka_unit_test(test_id_from_file_name),
	    cmocka_unit_test(test_aliases_are_followed),
	    cmocka_unit_test(test_nested_keys),
	    cmocka_unit_test(test_invalid_fixtures),
	    cmocka_unit_test(test_valid_fixtures),
	    cmocka_unit_test(test_oversized),
	    cmocka_unit_test(test_random_input),
	    cmocka_unit_test(test_alias_bomb),
	    cmocka_unit_test(test_big_dag),
	    cmocka_unit_test(test_dispatch_text_limits),
	    cmocka_unit_test(test_dispatch_env_room),
	    cmocka_unit_test(test_template_iter),
	    cmocka_unit_test(test_template_refs),
	    cmocka_unit_test(test_suggest),
	    cmocka_unit_test(test_yaml_scalars),
	    cmocka_unit_test(test_yaml_recursive_alias),
	    cmocka_unit_test(test_model_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
