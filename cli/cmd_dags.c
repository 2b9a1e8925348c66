/*
 * sluice dags list | show | next | pause | unpause | errors: the DAGs the
 * scheduler knows, read from PostgreSQL (`dags show FILE` also works
 * offline on a file).
 */
#include "cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sluice/admin.h"
#include "sluice/alloc.h"
#include "sluice/dag.h"
#include "sluice/dag_dot.h"
#include "sluice/dag_json.h"
#include "sluice/dags_list.h"
#include "sluice/db.h"
#include "sluice/diag.h"
#include "sluice/error.h"
#include "sluice/schedule.h"
#include "sluice/strbuf.h"
#include "sluice/tz.h"
#include "sluice/views.h"
#include "table.h"
#include "sluice/banned.h"

static int run_dags_list(struct cli *cli, int argc, char **argv);
static int run_dags_show(struct cli *cli, int argc, char **argv);
static int run_dags_next(struct cli *cli, int argc, char **argv);
static int run_dags_pause(struct cli *cli, int argc, char **argv);
static int run_dags_unpause(struct cli *cli, int argc, char **argv);
static int run_dags_errors(struct cli *cli, int argc, char **argv);

enum {
	OPT_DOT = CLI_OPT_BASE,
	OPT_COUNT,
};

#define DAGS_HELP_EXIT \
	"\nExit status: 0 ok; 2 usage error; 3 no such DAG; 4 cannot reach PostgreSQL.\n"

#define NEXT_RUN_RULE                                                                      \
	"A scheduled run covers the data interval [logical date, next fire time) and\n"    \
	"starts when that interval has ended (Airflow 2's convention). The next logical\n" \
	"date is the first fire time at or after start_date; without catchup, at least\n"  \
	"the start of the latest interval that has ended by now; after a scheduled run,\n" \
	"at least where that run's interval ended. See docs/cli.md.\n"

const struct cli_command cli_cmd_dags_list = {
    .path = "dags list",
    .usage = "",
    .summary = "List the DAGs: schedule, paused, last run, next run, version.",
    .help = "One row per DAG the scheduler has seen, by id. NEXT RUN is when the next\n"
            "scheduled run starts (\"due now\", or a time and how long until then) and\n"
            "the data interval [A, B) it covers, in the DAG's time zone; '-' for a\n"
            "paused, removed, @once or manual DAG. VERSION is the commit of the latest\n"
            "version that loaded.\n"
            "NOTES says 'removed' (its file is gone) and 'error' (its file has load\n"
            "errors at the current commit; the last good version keeps running).\n\n" NEXT_RUN_RULE
            "\nExit status: 0 ok; 2 usage error; 4 cannot reach PostgreSQL.\n",
    .run = run_dags_list,
};

static const struct option show_options[] = {
    {"dot", no_argument, NULL, OPT_DOT},
    {NULL, 0, NULL, 0},
};

const struct cli_command cli_cmd_dags_show = {
    .path = "dags show",
    .usage = "DAG|FILE [--dot]",
    .summary = "Show a DAG's tasks and edges as an ASCII tree, or Graphviz DOT.",
    .help = "An existing file, or an argument with a '/' or a .yaml/.yml ending, is a DAG\n"
            "file, loaded offline. Anything else is a DAG id: its latest version is read\n"
            "from the database.\n\n"
            "Options:\n"
            "  --dot    print a Graphviz digraph (pipe it to `dot -Tsvg`)\n"
            "\nExit status: 0 ok; 1 the file is invalid, or the DAG has no version that\n"
            "loads; 2 usage error; 3 no such file or DAG; 4 cannot reach PostgreSQL.\n",
    .options = show_options,
    .run = run_dags_show,
};

static const struct option next_options[] = {
    {"count", required_argument, NULL, OPT_COUNT},
    {NULL, 0, NULL, 0},
};

const struct cli_command cli_cmd_dags_next = {
    .path = "dags next",
    .usage = "DAG [--count N]",
    .summary = "Show a DAG's next scheduled logical dates.",
    .help = "Each line is a logical date and the time its run starts (the end of its\n"
            "data interval), in the DAG's time zone. A paused DAG shows the runs it\n"
            "would get if it were unpaused now. A manual or @once DAG has none.\n\n"
            "Options:\n"
            "  --count N   how many (1 to 1000, default 5)\n\n" NEXT_RUN_RULE
            "\nExit status: 0 ok (also with no dates); 1 the DAG has no version that loads;\n"
            "2 usage error; 3 no such DAG; 4 cannot reach PostgreSQL.\n",
    .options = next_options,
    .run = run_dags_next,
};

#define PAUSE_HELP                                                                          \
	"Sets the flag in the database and wakes the scheduler (NOTIFY sluice). Doing it\n" \
	"twice is not an error.\n" DAGS_HELP_EXIT

const struct cli_command cli_cmd_dags_pause = {
    .path = "dags pause",
    .usage = "DAG",
    .summary = "Pause a DAG: no new scheduled runs (running ones finish).",
    .help = PAUSE_HELP,
    .run = run_dags_pause,
};

const struct cli_command cli_cmd_dags_unpause = {
    .path = "dags unpause",
    .usage = "DAG",
    .summary = "Unpause a DAG: its schedule runs again.",
    .help = PAUSE_HELP,
    .run = run_dags_unpause,
};

const struct cli_command cli_cmd_dags_errors = {
    .path = "dags errors",
    .usage = "",
    .summary = "List the load errors of DAG files at the current commit.",
    .help = "One line per problem, as file:line:col: message, sorted by file and place.\n"
            "Listing errors is not a failure: the exit status is 0 whether or not there\n"
            "are any (use --json and count them to alert).\n"
            "\nExit status: 0 ok; 2 usage error; 4 cannot reach PostgreSQL.\n",
    .run = run_dags_errors,
};

/*
 * Parse the options of `cmd` and expect exactly `want` positionals (or at
 * most `want` when `optional`). Returns an exit code; `*stop` after --help.
 */
static int parse_args(struct cli *cli, const struct cli_command *cmd, int argc, char **argv,
                      int (*on_option)(struct cli *, int, const char *, void *), void *ctx,
                      int want, struct cli_args *args, bool *stop)
{
	int rc = cli_parse_options(cli, cmd, argc, argv, on_option, ctx, args, stop);

	if (rc || *stop)
		return rc;
	if (args->n > want)
		return cli_usage_error(cmd, "unexpected argument '%s'", args->v[want]);
	if (args->n < want)
		return cli_usage_error(cmd, "missing DAG");
	return CLI_EXIT_OK;
}

/* A string that is not a valid id names no DAG: say so without asking. */
static int check_dag_id(const char *id)
{
	if (sl_id_valid(id))
		return CLI_EXIT_OK;
	cli_error("no DAG '%s'", id);
	return CLI_EXIT_NOT_FOUND;
}

static int on_show_option(struct cli *cli, int opt, const char *arg, void *ctx)
{
	(void)cli;
	(void)arg;
	if (opt != OPT_DOT)
		return CLI_EXIT_USAGE;
	*(bool *)ctx = true;
	return 0;
}

/*
 * Print the tree below `task`. A task with several upstreams is drawn in
 * full under the first one reached and referred to elsewhere, so the output
 * stays linear in the size of the graph.
 */
static void print_subtree(const struct sl_dag *dag, size_t task, struct sl_strbuf *prefix,
                          bool last, bool *drawn)
{
	const struct sl_task *t = &dag->tasks[task];
	size_t keep = prefix->len;

	printf("%s%s%s", prefix->buf, last ? "`-- " : "|-- ", t->id);
	if (drawn[task] && t->downstream_nr) {
		printf(" (see above)\n");
		return;
	}
	printf("\n");
	drawn[task] = true;
	sl_strbuf_adds(prefix, last ? "    " : "|   ");
	for (size_t i = 0; i < t->downstream_nr; i++)
		print_subtree(dag, t->downstream[i], prefix, i + 1 == t->downstream_nr, drawn);
	sl_strbuf_setlen(prefix, keep);
}

static void print_tree(const struct sl_dag *dag)
{
	struct sl_strbuf prefix = SL_STRBUF_INIT;
	bool *drawn = sl_xcalloc(dag->tasks_nr, sizeof(*drawn));

	printf("%s", dag->id);
	if (dag->description)
		printf(": %s", dag->description);
	printf("\n  schedule: %s", dag->schedule ? dag->schedule : "none (manual)");
	printf(" (%s)\n  tasks: %zu\n", dag->timezone, dag->tasks_nr);
	for (size_t i = 0; i < dag->tasks_nr; i++) {
		const struct sl_task *t = &dag->tasks[i];

		if (t->upstream_nr)
			continue;
		printf("%s\n", t->id);
		drawn[i] = true;
		sl_strbuf_reset(&prefix);
		for (size_t j = 0; j < t->downstream_nr; j++)
			print_subtree(dag, t->downstream[j], &prefix, j + 1 == t->downstream_nr,
			              drawn);
	}
	free(drawn);
	sl_strbuf_release(&prefix);
}

static void print_dot(const struct sl_dag *dag)
{
	struct sl_strbuf out = SL_STRBUF_INIT;

	sl_dag_dot(dag, &out);
	fputs(out.buf, stdout);
	sl_strbuf_release(&out);
}

/* An argument that can only mean a file: it has a '/' or a YAML ending. */
static bool looks_like_file(const char *arg)
{
	size_t len = strlen(arg);

	return strchr(arg, '/') || (len > 5 && !strcmp(arg + len - 5, ".yaml")) ||
	       (len > 4 && !strcmp(arg + len - 4, ".yml"));
}

static int dag_from_file(const char *path, struct sl_dag **out)
{
	struct sl_diags diags = SL_DIAGS_INIT;
	int rc = CLI_EXIT_OK;

	if (sl_dag_load_file(out, path, NULL, &diags) < 0) {
		sl_diags_print(&diags, stderr);
		rc = CLI_EXIT_FAILED;
	}
	sl_diags_release(&diags);
	return rc;
}

/* The latest version of DAG `id` that loaded, as stored in the database. */
static int dag_from_db(struct cli *cli, const char *id, struct sl_dag **out)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_db *db = NULL;
	struct sl_rows *res = NULL;
	json_t *def = NULL;
	json_error_t jerr;
	int rc;

	*out = NULL;
	rc = check_dag_id(id);
	if (rc)
		return rc;
	rc = cli_db_open(cli, &db);
	if (rc)
		goto out;
	rc = cli_db_rc(sl_view_dag_definition(db, id, &res, &err), &err);
	if (rc)
		goto out;
	if (sl_rows_nr(res) == 0) {
		cli_error("no DAG '%s'", id);
		rc = CLI_EXIT_NOT_FOUND;
		goto out;
	}
	if (sl_rows_null(res, 0, 0)) {
		cli_error("DAG '%s' has no version that loads; see 'sluice dags errors'", id);
		rc = CLI_EXIT_FAILED;
		goto out;
	}
	def = json_loads(sl_rows_value(res, 0, 0), 0, &jerr);
	if (!def) {
		cli_error("DAG '%s': the stored definition is not valid JSON: %s", id, jerr.text);
		rc = CLI_EXIT_FAILED;
		goto out;
	}
	if (sl_dag_from_json(out, def, &err) < 0) {
		cli_error("DAG '%s': the stored definition is invalid: %s", id, err.buf);
		rc = CLI_EXIT_FAILED;
	}
out:
	json_decref(def);
	sl_rows_free(res);
	sl_db_free(db);
	sl_strbuf_release(&err);
	return rc;
}

static int run_dags_show(struct cli *cli, int argc, char **argv)
{
	struct sl_dag *dag = NULL;
	struct cli_args args;
	struct stat st;
	bool dot = false, stop;
	int rc = cli_parse_options(cli, &cli_cmd_dags_show, argc, argv, on_show_option, &dot, &args,
	                           &stop);

	if (rc || stop)
		goto out;
	if (args.n != 1) {
		rc = cli_usage_error(&cli_cmd_dags_show,
		                     args.n ? "expected one DAG or DAG file" : "missing DAG");
		goto out;
	}
	if (stat(args.v[0], &st) == 0 && !S_ISDIR(st.st_mode)) {
		rc = dag_from_file(args.v[0], &dag);
	} else if (looks_like_file(args.v[0])) {
		cli_error("no DAG file '%s'", args.v[0]);
		rc = CLI_EXIT_NOT_FOUND;
	} else {
		rc = dag_from_db(cli, args.v[0], &dag);
	}
	if (rc)
		goto out;
	if (cli->json)
		rc = cli_print_json(sl_dag_to_json(dag));
	else if (dot)
		print_dot(dag);
	else
		print_tree(dag);
out:
	sl_dag_free(dag);
	free(args.v);
	return rc;
}

/*
 * When the next run starts and which data interval it covers: "due now
 * (covers [A, B))" once it may start, else "B, in 3h12m (covers [A, B))".
 * The logical date alone (A) reads as a time already past, since a
 * scheduled run starts only when its interval has ended.
 */
static void next_cell(struct sl_strbuf *sb, const struct sl_interval *iv,
                      const struct sl_schedule *s)
{
	if (iv->end <= s->st.now) {
		sl_strbuf_adds(sb, "due now");
	} else {
		cli_fmt_time(sb, iv->end, s->tz);
		sl_strbuf_adds(sb, ", in ");
		cli_fmt_duration(sb, iv->end - s->st.now);
	}
	sl_strbuf_adds(sb, " (covers [");
	cli_fmt_time(sb, iv->start, s->tz);
	sl_strbuf_adds(sb, ", ");
	cli_fmt_time(sb, iv->end, s->tz);
	sl_strbuf_adds(sb, "))");
}

static void list_row_cells(struct cli_table *t, const struct sl_rows *res, int row,
                           const struct sl_schedule *s, bool readable, bool colour)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;
	struct sl_interval iv;
	const char *expr = sl_rows_str(res, row, SL_DAGS_COL_SCHEDULE);

	cli_table_add(t, sl_rows_str(res, row, SL_DAGS_COL_ID));
	cli_table_add(t, !sl_rows_bool(res, row, SL_DAGS_COL_HAS_VERSION) ? NULL
	                 : expr                                           ? expr
	                                                                  : "none");
	cli_table_add(t, sl_rows_bool(res, row, SL_DAGS_COL_PAUSED) ? "yes" : "no");
	cli_colour_cell(t, colour, sl_rows_str(res, row, SL_DAGS_COL_LAST_STATE));
	if (!readable)
		sl_strbuf_adds(&sb, "?");
	else if (sl_dags_next_run(res, row, s, &iv))
		next_cell(&sb, &iv, s);
	else
		sl_strbuf_adds(&sb, "-");
	cli_table_add_buf(t, &sb);
	cli_fmt_commit(&sb, sl_rows_str(res, row, SL_DAGS_COL_COMMIT));
	cli_table_add_buf(t, &sb);
	if (sl_rows_bool(res, row, SL_DAGS_COL_REMOVED))
		sl_strbuf_adds(&sb, "removed");
	if (sl_rows_bool(res, row, SL_DAGS_COL_ERROR))
		sl_strbuf_adds(&sb, sb.len ? ",error" : "error");
	cli_table_add_buf(t, &sb);
	sl_strbuf_release(&sb);
}

static int run_dags_list(struct cli *cli, int argc, char **argv)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct cli_table table = CLI_TABLE_INIT;
	struct sl_db *db = NULL;
	struct sl_rows *res = NULL;
	json_t *list = NULL;
	struct cli_args args;
	bool stop;
	int rc = parse_args(cli, &cli_cmd_dags_list, argc, argv, NULL, NULL, 0, &args, &stop);

	if (rc || stop)
		goto out;
	rc = cli_db_open(cli, &db);
	if (rc)
		goto out;
	rc = cli_db_rc(sl_view_dags(db, NULL, &res, &err), &err);
	if (rc)
		goto out;
	list = json_array();
	cli_table_header(&table, "DAG", "SCHEDULE", "PAUSED", "LAST RUN", "NEXT RUN", "VERSION",
	                 "NOTES", NULL);
	for (int row = 0; row < sl_rows_nr(res); row++) {
		struct sl_schedule s = SL_SCHEDULE_INIT;
		bool readable = sl_dags_schedule_read(res, row, &s, &err) == 0;

		if (!readable) {
			cli_error("DAG '%s': cannot read its stored definition: %s",
			          sl_rows_str(res, row, SL_DAGS_COL_ID), err.buf);
			sl_strbuf_reset(&err);
		}
		if (cli->json)
			json_array_append_new(list, sl_dags_row_json(res, row, &s, readable));
		else
			list_row_cells(&table, res, row, &s, readable, cli_colour_on(cli, stdout));
		sl_schedule_release(&s);
	}
	rc = cli_print_list(cli, &table, list);
	list = NULL;
out:
	json_decref(list);
	cli_table_release(&table);
	sl_rows_free(res);
	sl_db_free(db);
	sl_strbuf_release(&err);
	free(args.v);
	return rc;
}

static int on_next_option(struct cli *cli, int opt, const char *arg, void *ctx)
{
	(void)cli;
	if (opt != OPT_COUNT)
		return CLI_EXIT_USAGE;
	return cli_parse_long(&cli_cmd_dags_next, "--count", arg, 1, 1000, ctx);
}

/* The next `count` intervals of a cron DAG, printed as a table or JSON. */
static int print_next(struct cli *cli, const struct sl_rows *res, const struct sl_schedule *s,
                      long count)
{
	struct cli_table table = CLI_TABLE_INIT;
	struct sl_strbuf sb = SL_STRBUF_INIT;
	struct sl_interval iv;
	json_t *runs = json_array();
	int rc = s->kind == SL_SCHEDULE_CRON ? sl_schedule_next(&s->cron, s->tz, &s->st, &iv) : -1;

	cli_table_header(&table, "LOGICAL DATE", "RUNS AFTER", NULL);
	for (long i = 0; i < count && rc == 0; i++) {
		json_array_append_new(runs, sl_dags_interval_json(&iv, s->tz));
		cli_fmt_time(&sb, iv.start, s->tz);
		cli_table_add_buf(&table, &sb);
		cli_fmt_time(&sb, iv.end, s->tz);
		cli_table_add_buf(&table, &sb);
		rc = sl_schedule_following(&s->cron, s->tz, &iv, s->st.has_end_date, s->st.end_date,
		                           &iv);
	}
	if (cli->json) {
		rc = cli_print_json(json_pack(
		    "{s:s, s:s?, s:s, s:b, s:o}", "dag", sl_rows_str(res, 0, SL_DAGS_COL_ID),
		    "schedule", sl_rows_str(res, 0, SL_DAGS_COL_SCHEDULE), "timezone",
		    s->tz ? sl_tz_name(s->tz) : "UTC", "paused",
		    sl_rows_bool(res, 0, SL_DAGS_COL_PAUSED), "runs", runs));
		runs = NULL;
	} else {
		rc = CLI_EXIT_OK;
		if (cli_table_rows(&table))
			cli_table_print(&table, stdout);
	}
	json_decref(runs);
	cli_table_release(&table);
	sl_strbuf_release(&sb);
	return rc;
}

static int run_dags_next(struct cli *cli, int argc, char **argv)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_schedule s = SL_SCHEDULE_INIT;
	struct sl_db *db = NULL;
	struct sl_rows *res = NULL;
	struct cli_args args;
	long count = 5;
	bool stop;
	const char *id;
	int rc = parse_args(cli, &cli_cmd_dags_next, argc, argv, on_next_option, &count, 1, &args,
	                    &stop);

	if (rc || stop)
		goto out;
	id = args.v[0];
	rc = check_dag_id(id);
	if (rc)
		goto out;
	rc = cli_db_open(cli, &db);
	if (rc)
		goto out;
	rc = cli_db_rc(sl_view_dags(db, id, &res, &err), &err);
	if (rc)
		goto out;
	if (sl_rows_nr(res) == 0) {
		cli_error("no DAG '%s'", id);
		rc = CLI_EXIT_NOT_FOUND;
		goto out;
	}
	if (!sl_rows_bool(res, 0, SL_DAGS_COL_HAS_VERSION)) {
		cli_error("DAG '%s' has no version that loads; see 'sluice dags errors'", id);
		rc = CLI_EXIT_FAILED;
		goto out;
	}
	if (sl_dags_schedule_read(res, 0, &s, &err) < 0) {
		cli_error("DAG '%s': cannot read its stored definition: %s", id, err.buf);
		rc = CLI_EXIT_FAILED;
		goto out;
	}
	if (s.kind == SL_SCHEDULE_NONE)
		cli_error("DAG '%s' has no schedule: it runs only when triggered", id);
	else if (s.kind == SL_SCHEDULE_ONCE)
		cli_error("DAG '%s' is scheduled @once: it has no recurring runs", id);
	else if (sl_rows_bool(res, 0, SL_DAGS_COL_PAUSED))
		cli_error("note: DAG '%s' is paused; these are the runs it would get if "
		          "unpaused now",
		          id);
	rc = print_next(cli, res, &s, count);
out:
	sl_schedule_release(&s);
	sl_rows_free(res);
	sl_db_free(db);
	sl_strbuf_release(&err);
	free(args.v);
	return rc;
}

/* Set dags.paused and wake the scheduler (sl_dag_set_paused says how). */
static int set_paused(struct cli *cli, const struct cli_command *cmd, int argc, char **argv,
                      bool paused)
{
	struct sl_strbuf err = SL_STRBUF_INIT, actor = SL_STRBUF_INIT;
	struct sl_db *db = NULL;
	struct cli_args args;
	bool stop, was = false;
	int rc = parse_args(cli, cmd, argc, argv, NULL, NULL, 1, &args, &stop);

	if (rc || stop)
		goto out;
	rc = check_dag_id(args.v[0]);
	if (rc)
		goto out;
	rc = cli_db_open(cli, &db);
	if (rc)
		goto out;
	cli_actor(&actor);
	rc = cli_db_rc(
	    sl_dag_pause(db, &(struct sl_actor){actor.buf, "cli"}, args.v[0], paused, &was, &err),
	    &err);
	if (rc)
		goto out;
	if (cli->json)
		rc = cli_print_json(json_pack("{s:s, s:b, s:b}", "dag", args.v[0], "paused", paused,
		                              "changed", was != paused));
	else if (was == paused)
		printf("DAG %s was already %s\n", args.v[0], paused ? "paused" : "unpaused");
	else
		printf("DAG %s %s\n", args.v[0], paused ? "paused" : "unpaused");
out:
	sl_strbuf_release(&actor);
	sl_db_free(db);
	sl_strbuf_release(&err);
	free(args.v);
	return rc;
}

static int run_dags_pause(struct cli *cli, int argc, char **argv)
{
	return set_paused(cli, &cli_cmd_dags_pause, argc, argv, true);
}

static int run_dags_unpause(struct cli *cli, int argc, char **argv)
{
	return set_paused(cli, &cli_cmd_dags_unpause, argc, argv, false);
}

static int run_dags_errors(struct cli *cli, int argc, char **argv)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_db *db = NULL;
	struct sl_rows *res = NULL;
	json_t *list = NULL;
	struct cli_args args;
	bool stop;
	int rc = parse_args(cli, &cli_cmd_dags_errors, argc, argv, NULL, NULL, 0, &args, &stop);

	if (rc || stop)
		goto out;
	rc = cli_db_open(cli, &db);
	if (rc)
		goto out;
	/* load_errors_commit_idx serves this, in this order. */
	rc = cli_db_rc(sl_view_load_errors(db, &res, &err), &err);
	if (rc)
		goto out;
	if (cli->json)
		list = sl_load_errors_json(res);
	for (int row = 0; !cli->json && row < sl_rows_nr(res); row++)
		printf("%s:%s:%s: %s\n", sl_rows_str(res, row, 0), sl_rows_str(res, row, 1),
		       sl_rows_str(res, row, 2), sl_rows_str(res, row, 3));
	if (cli->json) {
		rc = cli_print_json(list);
		list = NULL;
	}
out:
	json_decref(list);
	sl_rows_free(res);
	sl_db_free(db);
	sl_strbuf_release(&err);
	free(args.v);
	return rc;
}
