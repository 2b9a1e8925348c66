/*
 * sluice tasks clear | tasks mark | logs: task instances of a run and the
 * logs of their attempts. lib/db/runstore.c makes the state changes.
 */
#include "cli.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "run_view.h"
#include "sluice/actions.h"
#include "sluice/actions_json.h"
#include "sluice/alloc.h"
#include "sluice/db.h"
#include "sluice/error.h"
#include "sluice/logread.h"
#include "sluice/runstore.h"
#include "sluice/strbuf.h"
#include "sluice/views.h"
#include "sluice/banned.h"

static int run_tasks_clear(struct cli *cli, int argc, char **argv);
static int run_tasks_mark(struct cli *cli, int argc, char **argv);
static int run_logs(struct cli *cli, int argc, char **argv);

enum {
	OPT_DOWNSTREAM = CLI_OPT_BASE,
	OPT_FAILED,
	OPT_LATEST,
	OPT_TRY,
	OPT_POKE,
	OPT_FOLLOW,
};

/* ---- tasks clear -------------------------------------------------------- */

static const struct option clear_options[] = {
    {"downstream", no_argument, NULL, OPT_DOWNSTREAM},
    {"failed", no_argument, NULL, OPT_FAILED},
    {"latest", no_argument, NULL, OPT_LATEST},
    {NULL, 0, NULL, 0},
};

const struct cli_command cli_cmd_tasks_clear = {
    .path = "tasks clear",
    .usage = "DAG RUN_ID|latest [TASK...] [--downstream] [--failed] [--latest]",
    .summary = "Reset task instances of a run so that they run again.",
    .help = "Clears the named tasks (default: every task of the run): each goes back to\n"
            "pending with its retries available again, a running attempt is stopped, and\n"
            "the run goes back to queued. RUN_ID 'latest' is the DAG's newest run (by\n"
            "logical date).\n\n"
            "Options:\n"
            "  --failed       keep only tasks that failed, were upstream_failed or were\n"
            "                 cancelled\n"
            "  --downstream   add every task downstream of those (in the run's pinned\n"
            "                 version of the DAG)\n"
            "  --latest       first move the run to the DAG's current version and commit\n"
            "                 (fix, push, clear): the cleared tasks run the current\n"
            "                 definition in a checkout of the current commit; a task the\n"
            "                 current version no longer has becomes removed, a new one is\n"
            "                 added as pending; tasks are chosen in the current graph.\n"
            "                 Refused when the DAG's file does not load at the current\n"
            "                 commit.\n\n"
            "Exit status: 0 ok (also when nothing matched); 1 refused (--latest and the\n"
            "DAG's current file is a load error); 2 usage error; 3 unknown DAG, run or\n"
            "task; 4 cannot reach PostgreSQL.\n",
    .options = clear_options,
    .run = run_tasks_clear,
};

static int on_clear_option(struct cli *cli, int opt, const char *arg, void *ctx)
{
	struct sl_clear_opts *o = ctx;

	(void)cli;
	(void)arg;
	switch (opt) {
	case OPT_DOWNSTREAM:
		o->downstream = true;
		return 0;
	case OPT_FAILED:
		o->failed_only = true;
		return 0;
	case OPT_LATEST:
		o->latest = true;
		return 0;
	}
	return CLI_EXIT_USAGE;
}

/* "  added: a, b" */
static void print_ids(const char *what, const struct sl_task_ids *ids)
{
	if (!ids->nr)
		return;
	printf("%s:", what);
	for (size_t i = 0; i < ids->nr; i++)
		printf("%s %s", i ? "," : "", ids->items[i]);
	printf("\n");
}

static int run_tasks_clear(struct cli *cli, int argc, char **argv)
{
	struct sl_clear_opts o = {NULL, 0, false, false, false};
	struct sl_task_ids cleared = SL_TASK_IDS_INIT;
	struct sl_run_repin repin = SL_RUN_REPIN_INIT;
	struct sl_run_change change = {0, 0, ""};
	const char *dag_id, *run_id;
	struct sl_strbuf err = SL_STRBUF_INIT, id = SL_STRBUF_INIT, actor = SL_STRBUF_INIT;
	struct sl_db *db;
	struct cli_args args;
	int rc = cli_start(cli, &cli_cmd_tasks_clear, argc, argv, on_clear_option, &o, 2, INT_MAX,
	                   "DAG, RUN_ID and TASK...", &args, &db);

	if (!db)
		goto out;
	o.tasks = (const char *const *)args.v + 2;
	o.tasks_nr = (size_t)args.n - 2;
	cli_actor(&actor);
	dag_id = args.v[0];
	run_id = args.v[1];
	rc = sl_run_id_resolve(db, dag_id, &run_id, &id, &err);
	if (!rc)
		rc = sl_action_clear(db, &(struct sl_actor){actor.buf, "cli"}, dag_id, run_id, &o,
		                     &cleared, &repin, &change, &err);
	if (rc) {
		rc = runs_fail(&err, rc);
		goto out;
	}
	if (cli->json) {
		rc = cli_print_json(sl_clear_json(dag_id, run_id, &o, &cleared, &repin, &change));
		goto out;
	}
	if (!cleared.nr) {
		printf("nothing to clear in run '%s' of DAG '%s'\n", run_id, dag_id);
		goto out;
	}
	printf("cleared %zu task%s of run '%s' of DAG '%s' (run was %s, now queued):\n", cleared.nr,
	       cleared.nr == 1 ? "" : "s", run_id, dag_id, change.prev_state);
	for (size_t i = 0; i < cleared.nr; i++)
		printf("  %s\n", cleared.items[i]);
	if (repin.runs) {
		printf("run moved from commit %.12s to the current commit %.12s\n",
		       repin.from_commit, repin.to_commit);
		print_ids("added (pending)", &repin.added);
		print_ids("removed", &repin.removed);
	}
out:
	sl_run_repin_release(&repin);
	sl_task_ids_release(&cleared);
	sl_db_free(db);
	sl_strbuf_release(&actor);
	sl_strbuf_release(&id);
	sl_strbuf_release(&err);
	free(args.v);
	return rc;
}

/* ---- tasks mark --------------------------------------------------------- */

const struct cli_command cli_cmd_tasks_mark = {
    .path = "tasks mark",
    .usage = "DAG RUN_ID|latest TASK success|failed",
    .summary = "Set a task instance's state by hand.",
    .help = "A running attempt of the task is stopped. The run's own state is not changed;\n"
            "the scheduler carries on from the new task state while the run is live.\n"
            "The mark records who made it (the login name running this command) and when;\n"
            "`runs show` prints both, apart from the figures of the task's attempts.\n"
            "RUN_ID 'latest' is the DAG's newest run (by logical date).\n\n"
            "Exit status: 0 ok; 2 usage error; 3 unknown DAG, run or task; 4 cannot reach\n"
            "PostgreSQL.\n",
    .run = run_tasks_mark,
};

static int run_tasks_mark(struct cli *cli, int argc, char **argv)
{
	struct sl_strbuf err = SL_STRBUF_INIT, id = SL_STRBUF_INIT, by = SL_STRBUF_INIT;
	struct sl_db *db = NULL;
	struct sl_run_change change;
	const char *run_id;
	struct cli_args args;
	bool stop;
	int rc = cli_parse_options(cli, &cli_cmd_tasks_mark, argc, argv, NULL, NULL, &args, &stop);

	if (rc || stop)
		goto out;
	if (args.n != 4) {
		rc = cli_usage_error(&cli_cmd_tasks_mark, "expected DAG, RUN_ID, TASK and a state");
		goto out;
	}
	if (strcmp(args.v[3], "success") && strcmp(args.v[3], "failed")) {
		rc = cli_usage_error(&cli_cmd_tasks_mark,
		                     "a task can be marked success or failed, not '%s'", args.v[3]);
		goto out;
	}
	rc = cli_db_open(cli, &db);
	if (rc)
		goto out;
	cli_actor(&by);
	run_id = args.v[1];
	rc = sl_run_id_resolve(db, args.v[0], &run_id, &id, &err);
	if (!rc)
		rc = sl_action_mark(db, &(struct sl_actor){by.buf, "cli"}, args.v[0], run_id,
		                    args.v[2], args.v[3], &change, &err);
	if (rc)
		rc = runs_fail(&err, rc);
	else if (cli->json)
		rc = cli_print_json(sl_mark_json(args.v[0], run_id, args.v[2], args.v[3], &change));
	else
		printf("marked task '%s' of run '%s' of DAG '%s' %s (was %s)\n", args.v[2], run_id,
		       args.v[0], args.v[3], change.prev_state);
out:
	sl_db_free(db);
	sl_strbuf_release(&id);
	sl_strbuf_release(&by);
	sl_strbuf_release(&err);
	free(args.v);
	return rc;
}

/* ---- logs --------------------------------------------------------------- */

static const struct option logs_options[] = {
    {"try", required_argument, NULL, OPT_TRY},
    {"poke", required_argument, NULL, OPT_POKE},
    {"follow", no_argument, NULL, OPT_FOLLOW},
    {NULL, 0, NULL, 0},
};

const struct cli_command cli_cmd_logs = {
    .path = "logs",
    .usage = "DAG RUN_ID|latest TASK [--try N] [--poke N] [--follow]",
    .summary = "Print the stdout and stderr of a task's attempt.",
    .help = "Options:\n"
            "  --try N    the attempt of try N (default: the latest)\n"
            "  --poke N   a sensor's poke N of that try (default: its latest); a poke\n"
            "             is an attempt of its own, but not a try\n"
            "  --follow   keep printing as the log grows, until the attempt ends (waits\n"
            "             for the first attempt of a task that has not started)\n\n"
            "TASK may also be on_failure or on_success: the run's callback of that name,\n"
            "when the run has no task with that id. RUN_ID 'latest' is the DAG's newest\n"
            "run (by logical date).\n\n"
            "With --json, prints {\"dag\", \"run_id\", \"task\", \"try_number\",\n"
            "\"poke_number\", \"outcome\", \"truncated\", \"log\"} once the log is complete.\n\n"
            "Exit status: 0 ok; 2 usage error; 3 unknown DAG, run, task or try, or a task\n"
            "that never ran; 4 cannot reach PostgreSQL.\n",
    .options = logs_options,
    .run = run_logs,
};

struct logs_opts {
	long try_number;  /* 0: the latest */
	long poke_number; /* 0: the latest of the try */
	bool follow;
};

static int on_logs_option(struct cli *cli, int opt, const char *arg, void *ctx)
{
	struct logs_opts *o = ctx;

	(void)cli;
	switch (opt) {
	case OPT_TRY:
		return cli_parse_long(&cli_cmd_logs, "--try", arg, 1, 100000, &o->try_number);
	case OPT_POKE:
		return cli_parse_long(&cli_cmd_logs, "--poke", arg, 1, 1000000, &o->poke_number);
	case OPT_FOLLOW:
		o->follow = true;
		return 0;
	}
	return CLI_EXIT_USAGE;
}

enum { LOG_POLL_MS = 200 };

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* The next batch of chunks, to stdout unless `into` (--json) is given. */
static int log_read(struct sl_db *db, struct sl_log_reader *lr, struct sl_strbuf *into, bool *more,
                    struct sl_strbuf *err)
{
	struct sl_strbuf out = SL_STRBUF_INIT;
	int rc = sl_log_read(db, lr, into ? into : &out, more, err);

	if (!into) {
		fwrite(out.buf, 1, out.len, stdout);
		fflush(stdout);
	}
	sl_strbuf_release(&out);
	return rc;
}

/* The length of the valid UTF-8 sequence at `s`, or 0. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
	unsigned char lo = 0x80, hi = 0xBF;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		n = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		n = 3;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		n = 4;
	else
		return 0;
	/* No overlong forms, no surrogates, nothing above U+10FFFF. */
	if (s[0] == 0xE0)
		lo = 0xA0;
	else if (s[0] == 0xED)
		hi = 0x9F;
	else if (s[0] == 0xF0)
		lo = 0x90;
	else if (s[0] == 0xF4)
		hi = 0x8F;
	if (n > avail || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return n;
}

/* The log as a JSON string: invalid UTF-8 bytes become U+FFFD. */
static json_t *log_string(const struct sl_strbuf *log)
{
	struct sl_strbuf clean = SL_STRBUF_INIT;
	const unsigned char *p = (const unsigned char *)log->buf;
	json_t *v;

	for (size_t i = 0; i < log->len;) {
		size_t n = utf8_len(p + i, log->len - i);

		if (n) {
			sl_strbuf_add(&clean, p + i, n);
			i += n;
		} else {
			sl_strbuf_adds(&clean, "\xEF\xBF\xBD");
			i++;
		}
	}
	v = json_stringn(clean.buf, clean.len);
	sl_strbuf_release(&clean);
	return v;
}

/* Find the attempt to print; with --follow, wait for a first one. */
static int log_attempt(struct sl_db *db, const struct logs_opts *o, const struct sl_run_ref *ref,
                       const char *const *names, struct sl_rows **res, struct sl_strbuf *err)
{
	int rc;

	for (;;) {
		rc = sl_view_task_attempt(db, ref->ti_id, o->try_number, o->poke_number, res, err);
		if (rc)
			return rc;
		if (sl_rows_nr(*res) == 1 && !sl_rows_null(*res, 0, 0))
			return 0;
		if (o->poke_number && !sl_rows_null(*res, 0, 5)) {
			sl_strbuf_addf(err, "task '%s' of run '%s' has no poke %ld", names[2],
			               names[1], o->poke_number);
			if (o->try_number)
				sl_strbuf_addf(err, " in try %ld", o->try_number);
			break;
		}
		if (o->try_number && !sl_rows_null(*res, 0, 5)) {
			sl_strbuf_addf(err, "task '%s' of run '%s' has no try %ld (tries: %s)",
			               names[2], names[1], o->try_number,
			               sl_rows_value(*res, 0, 5));
			break;
		}
		if (!o->follow || sl_rows_nr(*res) != 1 ||
		    sl_task_state_final(sl_rows_value(*res, 0, 4))) {
			sl_strbuf_addf(err, "task '%s' of run '%s' of DAG '%s' has not run (%s)",
			               names[2], names[1], names[0],
			               sl_rows_nr(*res) ? sl_rows_value(*res, 0, 4) : "gone");
			break;
		}
		sl_rows_free(*res);
		*res = NULL;
		sleep_ms(LOG_POLL_MS);
	}
	sl_rows_free(*res);
	*res = NULL;
	return SL_ENOENT;
}

static int run_logs(struct cli *cli, int argc, char **argv)
{
	struct logs_opts o = {0, false};
	struct sl_strbuf err = SL_STRBUF_INIT, log = SL_STRBUF_INIT;
	struct sl_log_reader lr = {"", 0, false};
	struct sl_run_ref ref;
	struct sl_db *db;
	struct cli_args args;
	struct sl_rows *a = NULL;
	struct sl_strbuf id = SL_STRBUF_INIT;
	const char *run_id;
	bool more;
	int rc = cli_start(cli, &cli_cmd_logs, argc, argv, on_logs_option, &o, 3, 3,
	                   "DAG, RUN_ID and TASK", &args, &db);

	if (!db)
		goto out;
	run_id = args.v[1];
	rc = sl_run_id_resolve(db, args.v[0], &run_id, &id, &err);
	/* The messages and the JSON name the run resolved, not the alias. */
	args.v[1] = id.len ? id.buf : args.v[1];
	if (!rc)
		rc = sl_run_lookup(db, args.v[0], args.v[1], args.v[2], &ref, &err);
	if (!rc)
		rc = log_attempt(db, &o, &ref, (const char *const *)args.v, &a, &err);
	if (rc)
		goto fail;
	snprintf(lr.attempt, sizeof(lr.attempt), "%s", sl_rows_value(a, 0, 0));
	for (;;) {
		rc = log_read(db, &lr, cli->json ? &log : NULL, &more, &err);
		if (rc)
			goto fail;
		if (more)
			continue;
		if (lr.ended || !o.follow)
			break;
		sleep_ms(LOG_POLL_MS);
	}
	if (cli->json) {
		/* Read the attempt again: it may have ended while it was followed. */
		struct logs_opts again = {.try_number = atol(sl_rows_value(a, 0, 1)),
		                          .poke_number = atol(sl_rows_value(a, 0, 6))};

		sl_rows_free(a);
		a = NULL;
		rc = log_attempt(db, &again, &ref, (const char *const *)args.v, &a, &err);
		if (rc)
			goto fail;
		rc = cli_print_json(json_pack(
		    "{s:s, s:s, s:s, s:I, s:I, s:o, s:b, s:o}", "dag", args.v[0], "run_id",
		    args.v[1], "task", args.v[2], "try_number", (json_int_t)sl_rows_int(a, 0, 1, 0),
		    "poke_number", (json_int_t)sl_rows_int(a, 0, 6, 1), "outcome",
		    sl_rows_null(a, 0, 2) ? json_null() : json_string(sl_rows_value(a, 0, 2)),
		    "truncated", sl_rows_bool(a, 0, 3), "log", log_string(&log)));
	}
	goto out;
fail:
	rc = runs_fail(&err, rc);
out:
	sl_rows_free(a);
	sl_db_free(db);
	sl_strbuf_release(&id);
	sl_strbuf_release(&log);
	sl_strbuf_release(&err);
	free(args.v);
	return rc;
}
