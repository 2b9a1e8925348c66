/*
 * sluice trigger | runs list | runs show | runs cancel | backfill: runs in
 * the database. lib/db/runstore.c makes the state changes; this file parses
 * the command line, reads what it prints, and prints it.
 */
#include "cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "run_view.h"
#include "sluice/actions.h"
#include "sluice/actions_json.h"
#include "sluice/admin.h"
#include "sluice/alloc.h"
#include "sluice/civil.h"
#include "sluice/db.h"
#include "sluice/error.h"
#include "sluice/params.h"
#include "sluice/runstore.h"
#include "sluice/strbuf.h"
#include "sluice/suggest.h"
#include "sluice/tz.h"
#include "sluice/views.h"
#include "table.h"
#include "sluice/banned.h"

static int run_trigger(struct cli *cli, int argc, char **argv);
static int run_runs_list(struct cli *cli, int argc, char **argv);
static int run_runs_show(struct cli *cli, int argc, char **argv);
static int run_runs_cancel(struct cli *cli, int argc, char **argv);
static int run_backfill(struct cli *cli, int argc, char **argv);

enum {
	OPT_CONF = CLI_OPT_BASE,
	OPT_CONF_JSON,
	OPT_LOGICAL_DATE,
	OPT_RUN_ID,
	OPT_WAIT,
	OPT_STATE,
	OPT_LIMIT,
	OPT_FROM,
	OPT_TO,
	OPT_RESET,
	OPT_UNPAUSE,
	OPT_LATEST,
};

/* ---- trigger ------------------------------------------------------------ */

static const struct option trigger_options[] = {
    {"conf", required_argument, NULL, OPT_CONF},
    {"conf-json", required_argument, NULL, OPT_CONF_JSON},
    {"logical-date", required_argument, NULL, OPT_LOGICAL_DATE},
    {"run-id", required_argument, NULL, OPT_RUN_ID},
    {"wait", no_argument, NULL, OPT_WAIT},
    {NULL, 0, NULL, 0},
};

const struct cli_command cli_cmd_trigger = {
    .path = "trigger",
    .usage = "DAG [--conf k=v]... [--conf-json JSON] [--logical-date ISO] [--run-id ID] [--wait]",
    .summary = "Create a manual run of a DAG and print its run id.",
    .help = "The run is queued for the scheduler, pinned to the DAG's current version and\n"
            "commit: later pushes do not change what it runs. Its logical date is now (or\n"
            "--logical-date) and its data interval starts and ends at the logical date.\n\n"
            "Options:\n"
            "  --conf KEY=VALUE    override a param the DAG declares; the value takes the\n"
            "                      type of the default (integer, number, true/false, text)\n"
            "  --conf-json JSON    override params from a JSON object (lists, mappings);\n"
            "                      --conf wins for a key given both ways\n"
            "  --logical-date ISO  the run's logical date (default now); without an offset\n"
            "                      it is read in the DAG's time zone\n"
            "  --run-id ID         the run id (default manual__<logical date>)\n"
            "  --wait              print each task state change until the run ends; exit 0\n"
            "                      when it succeeds, 1 when it fails or is cancelled\n\n"
            "Exit status: 0 ok; 1 the DAG cannot run (removed, no valid version), the run\n"
            "id exists, or (--wait) the run failed; 2 usage error (unknown param, wrong\n"
            "type); 3 unknown DAG; 4 cannot reach PostgreSQL.\n",
    .options = trigger_options,
    .run = run_trigger,
};

struct trigger_opts {
	const char **conf;
	size_t conf_nr, conf_alloc;
	const char *conf_json;
	const char *logical_date;
	const char *run_id;
	bool wait;
};

static int on_trigger_option(struct cli *cli, int opt, const char *arg, void *ctx)
{
	struct trigger_opts *o = ctx;

	(void)cli;
	switch (opt) {
	case OPT_CONF:
		SL_ALLOC_GROW(o->conf, o->conf_nr + 1, o->conf_alloc);
		o->conf[o->conf_nr++] = arg;
		return 0;
	case OPT_CONF_JSON:
		o->conf_json = arg;
		return 0;
	case OPT_LOGICAL_DATE:
		o->logical_date = arg;
		return 0;
	case OPT_RUN_ID:
		o->run_id = arg;
		return 0;
	case OPT_WAIT:
		o->wait = true;
		return 0;
	}
	return CLI_EXIT_USAGE;
}

/* A backfill's runs (a trigger's is sl_trigger_create's). */
struct create_tx {
	const struct sl_actor *who;
	const struct sl_run_pin *pin;
	struct sl_run_new *runs;
	size_t nr;
	unsigned flags;
	bool reset;
	bool unpause;
	const struct sl_run_pin *latest; /* --reset --latest: move reset runs to it */
	const char *event;
	size_t created, runs_reset, tasks_reset;
	char **found; /* NULL, or for each run skipped, the id of the run that stands */
	struct sl_run_repin repin;
};

static int create_tx(struct sl_db *db, void *ctx, struct sl_strbuf *err)
{
	struct create_tx *c = ctx;
	bool was;
	int rc = 0;

	c->created = c->runs_reset = c->tasks_reset = 0;
	if (c->unpause)
		rc = sl_dag_set_paused(db, c->who, c->pin->dag_id, false, &was, err);
	if (!rc)
		rc = sl_runs_create(db, c->who, c->pin, c->runs, c->nr, c->flags, &c->created, err);
	if (!rc && c->found)
		rc = sl_runs_existing(db, c->pin->dag_id, c->runs, c->nr, c->found, err);
	if (!rc && c->reset)
		rc = sl_runs_reset(db, c->pin->dag_id, c->runs, c->nr, c->latest, &c->repin,
		                   &c->runs_reset, &c->tasks_reset, err);
	if (!rc && (c->created || c->runs_reset))
		rc = sl_runs_notify(db, c->event, c->pin->dag_id, err);
	return rc;
}

static int run_trigger(struct cli *cli, int argc, char **argv)
{
	struct trigger_opts o = {NULL, 0, 0, NULL, NULL, NULL, false};
	struct sl_strbuf err = SL_STRBUF_INIT, actor = SL_STRBUF_INIT;
	struct sl_strbuf paused = SL_STRBUF_INIT, stale = SL_STRBUF_INIT;
	struct sl_run_pin pin = SL_RUN_PIN_INIT;
	struct sl_trigger t = SL_TRIGGER_INIT;
	struct sl_db *db = NULL;
	struct cli_args args;
	json_t *conf = json_object();
	bool stop;
	int rc = cli_parse_options(cli, &cli_cmd_trigger, argc, argv, on_trigger_option, &o, &args,
	                           &stop);

	if (rc || stop)
		goto out;
	if (args.n != 1) {
		rc = cli_usage_error(&cli_cmd_trigger,
		                     args.n ? "expected one DAG, got %d arguments" : "missing DAG",
		                     args.n);
		goto out;
	}
	if (o.run_id && sl_trigger_check_run_id("--run-id", o.run_id, &err)) {
		rc = cli_usage_error(&cli_cmd_trigger, "%s", err.buf);
		goto out;
	}
	rc = cli_db_open(cli, &db);
	if (rc)
		goto out;
	rc = sl_run_pin_load(db, args.v[0], &pin, &err);
	if (rc)
		goto fail;
	rc =
	    cli_conf_build(&cli_cmd_trigger, o.conf_json, o.conf, o.conf_nr, pin.dag->params, conf);
	if (rc)
		goto out;
	rc = sl_trigger_prepare(&t, &pin, o.run_id, "--logical-date", o.logical_date, conf, &err);
	if (rc == SL_EINVAL) {
		rc = cli_usage_error(&cli_cmd_trigger, "%s", err.buf);
		goto out;
	}
	cli_actor(&actor);
	if (!rc)
		rc = sl_trigger_create(db, &(struct sl_actor){actor.buf, "cli"}, &pin, &t, &err);
	if (rc)
		goto fail;
	sl_trigger_notes(&pin, &paused, &stale);
	if (paused.len)
		fprintf(stderr, "sluice: note: %s\n", paused.buf);
	if (stale.len)
		fprintf(stderr, "sluice: warning: %s\n", stale.buf);
	if (o.wait) {
		rc = runs_wait(cli, db, pin.dag_id, t.run.run_id);
		goto out;
	}
	if (cli->json) {
		rc = cli_print_json(sl_trigger_json(&pin, &t.run, conf));
		goto out;
	}
	printf("%s\n", t.run.run_id);
	goto out;
fail:
	rc = runs_fail(&err, rc);
out:
	json_decref(conf);
	sl_trigger_release(&t);
	sl_run_pin_release(&pin);
	sl_db_free(db);
	sl_strbuf_release(&paused);
	sl_strbuf_release(&stale);
	sl_strbuf_release(&actor);
	sl_strbuf_release(&err);
	free(o.conf);
	free(args.v);
	return rc;
}

/* ---- runs list ---------------------------------------------------------- */

static const struct option list_options[] = {
    {"state", required_argument, NULL, OPT_STATE},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {NULL, 0, NULL, 0},
};

const struct cli_command cli_cmd_runs_list = {
    .path = "runs list",
    .usage = "[DAG] [--state STATE] [--limit N]",
    .summary = "List runs, newest logical date first.",
    .help = "Options:\n"
            "  --state STATE  only runs in STATE (queued, running, success, failed,\n"
            "                 cancelled)\n"
            "  --limit N      at most N runs (1-10000, default 25)\n\n"
            "Exit status: 0 ok; 2 usage error; 3 unknown DAG; 4 cannot reach PostgreSQL.\n",
    .options = list_options,
    .run = run_runs_list,
};

struct list_opts {
	const char *state;
	long limit;
};

static int on_list_option(struct cli *cli, int opt, const char *arg, void *ctx)
{
	struct list_opts *o = ctx;

	(void)cli;
	switch (opt) {
	case OPT_STATE:
		o->state = arg;
		return 0;
	case OPT_LIMIT:
		return cli_parse_long(&cli_cmd_runs_list, "--limit", arg, 1, 10000, &o->limit);
	}
	return CLI_EXIT_USAGE;
}

static void list_print(const struct sl_rows *r, bool colour)
{
	struct cli_table t = CLI_TABLE_INIT;
	struct sl_strbuf sb = SL_STRBUF_INIT;

	cli_table_header(&t, "DAG", "RUN ID", "STATE", "TYPE", "LOGICAL DATE", "STARTED",
	                 "DURATION", NULL);
	cli_table_align_right(&t, 6);
	for (int i = 0; i < sl_rows_nr(r); i++) {
		for (int col = 0; col < 4; col++)
			if (col == 2) /* STATE */
				cli_colour_cell(&t, colour, sl_rows_value(r, i, col));
			else
				cli_table_add(&t, sl_rows_value(r, i, col));
		runs_time_cell(&t, r, i, 4);
		runs_time_cell(&t, r, i, 5);
		runs_duration_cell(&t, r, i, 5, 6, 7);
	}
	if (cli_table_rows(&t))
		cli_table_print(&t, stdout);
	else
		printf("no runs\n");
	cli_table_release(&t);
	sl_strbuf_release(&sb);
}

static int run_runs_list(struct cli *cli, int argc, char **argv)
{
	struct list_opts o = {NULL, 25};
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_db *db = NULL;
	struct cli_args args;
	struct sl_rows *r = NULL;
	bool stop;
	int rc = cli_parse_options(cli, &cli_cmd_runs_list, argc, argv, on_list_option, &o, &args,
	                           &stop);

	if (rc || stop)
		goto out;
	if (args.n > 1) {
		rc = cli_usage_error(&cli_cmd_runs_list, "expected at most one DAG");
		goto out;
	}
	if (o.state && !sl_run_state_valid(o.state)) {
		rc = runs_bad_state(&cli_cmd_runs_list, o.state);
		goto out;
	}
	rc = cli_db_open(cli, &db);
	if (rc)
		goto out;
	rc = sl_view_runs(db, args.n ? args.v[0] : NULL, o.state, o.limit, &r, &err);
	if (!rc && !sl_rows_nr(r) && args.n)
		rc = sl_run_dag_check(db, args.v[0], &err);
	if (rc) {
		rc = runs_fail(&err, rc);
		goto out;
	}
	if (cli->json)
		rc = cli_print_json(sl_runs_list_json(r, sl_rows_nr(r)));
	else
		list_print(r, cli_colour_on(cli, stdout));
out:
	sl_rows_free(r);
	sl_db_free(db);
	sl_strbuf_release(&err);
	free(args.v);
	return rc;
}

/* ---- runs show ---------------------------------------------------------- */

const struct cli_command cli_cmd_runs_show = {
    .path = "runs show",
    .usage = "DAG RUN_ID|latest",
    .summary = "Show a run's state, a row per task, and every try of each task.",
    .help = "The run: state and type, pinned commit, logical date, data interval, start,\n"
            "end, conf. Tasks are listed in the order of the run's pinned DAG file; each\n"
            "row shows the task instance's state, try, start and duration, the outcome\n"
            "of its latest attempt (exit code, signal, timeout, lost, or cancelled,\n"
            "cleared, marked by an operator) and its worker. Below: why a task is in its\n"
            "state (a mark says who and when), outputs, and the tries, one row per\n"
            "attempt with its own start, end, duration, outcome and worker.\n"
            "RUN_ID 'latest' is the DAG's newest run (by logical date).\n\n"
            "Exit status: 0 ok; 2 usage error; 3 unknown DAG or run; 4 cannot reach\n"
            "PostgreSQL.\n",
    .run = run_runs_show,
};

static int run_runs_show(struct cli *cli, int argc, char **argv)
{
	struct sl_strbuf err = SL_STRBUF_INIT, id = SL_STRBUF_INIT;
	struct sl_db *db;
	struct cli_args args;
	struct sl_rows *r = NULL, *cb = NULL, *tries = NULL;
	int rc = cli_start(cli, &cli_cmd_runs_show, argc, argv, NULL, NULL, 2, 2, "DAG and RUN_ID",
	                   &args, &db);
	const char *run_id;
	json_t *show = NULL;

	if (!db)
		goto out;
	run_id = args.v[1];
	rc = sl_run_id_resolve(db, args.v[0], &run_id, &id, &err);
	if (rc)
		goto fail;
	if (cli->json) {
		rc = sl_run_show_doc(db, args.v[0], run_id, &show, &err);
		if (rc)
			goto fail;
		rc = cli_print_json(show);
		goto out;
	}
	rc = sl_run_show_load(db, args.v[0], run_id, &r, &err);
	if (!rc)
		rc = sl_view_run_tries(db, args.v[0], run_id, &tries, &err);
	if (!rc)
		rc = sl_view_run_callbacks(db, args.v[0], run_id, &cb, &err);
	if (rc)
		goto fail;
	runs_show_print(args.v[0], run_id, r, tries, cli_colour_on(cli, stdout));
	runs_callbacks_print(cb, cli_colour_on(cli, stdout));
	goto out;
fail:
	rc = runs_fail(&err, rc);
out:
	sl_rows_free(r);
	sl_rows_free(tries);
	sl_rows_free(cb);
	sl_strbuf_release(&id);
	sl_db_free(db);
	sl_strbuf_release(&err);
	free(args.v);
	return rc;
}

/* ---- runs cancel -------------------------------------------------------- */

const struct cli_command cli_cmd_runs_cancel = {
    .path = "runs cancel",
    .usage = "DAG RUN_ID|latest",
    .summary = "Cancel a run: stop its running attempts, mark the rest cancelled.",
    .help = "The run and every unfinished task instance become cancelled; live attempts\n"
            "end with outcome 'cancelled' and the scheduler is told to stop them.\n"
            "RUN_ID 'latest' is the DAG's newest run (by logical date).\n\n"
            "Exit status: 0 ok; 1 the run has already ended; 2 usage error; 3 unknown\n"
            "DAG or run; 4 cannot reach PostgreSQL.\n",
    .run = run_runs_cancel,
};

static int run_runs_cancel(struct cli *cli, int argc, char **argv)
{
	struct sl_strbuf err = SL_STRBUF_INIT, id = SL_STRBUF_INIT, actor = SL_STRBUF_INIT;
	struct sl_db *db;
	struct sl_run_change change;
	const char *run_id;
	struct cli_args args;
	int rc = cli_start(cli, &cli_cmd_runs_cancel, argc, argv, NULL, NULL, 2, 2,
	                   "DAG and RUN_ID", &args, &db);

	if (!db)
		goto out;
	cli_actor(&actor);
	run_id = args.v[1];
	rc = sl_run_id_resolve(db, args.v[0], &run_id, &id, &err);
	if (!rc)
		rc = sl_action_cancel(db, &(struct sl_actor){actor.buf, "cli"}, args.v[0], run_id,
		                      &change, &err);
	if (rc)
		rc = runs_fail(&err, rc);
	else if (cli->json)
		rc = cli_print_json(sl_cancel_json(args.v[0], run_id, &change));
	else
		printf("cancelled run '%s' of DAG '%s' (was %s): %zu task%s cancelled, %zu "
		       "running attempt%s stopped\n",
		       run_id, args.v[0], change.prev_state, change.tasks,
		       change.tasks == 1 ? "" : "s", change.attempts,
		       change.attempts == 1 ? "" : "s");
out:
	sl_db_free(db);
	sl_strbuf_release(&actor);
	sl_strbuf_release(&id);
	sl_strbuf_release(&err);
	free(args.v);
	return rc;
}

/* ---- backfill ----------------------------------------------------------- */

static const struct option backfill_options[] = {
    {"from", required_argument, NULL, OPT_FROM},
    {"to", required_argument, NULL, OPT_TO},
    {"reset", no_argument, NULL, OPT_RESET},
    {"unpause", no_argument, NULL, OPT_UNPAUSE},
    {"latest", no_argument, NULL, OPT_LATEST},
    {"wait", no_argument, NULL, OPT_WAIT},
    {NULL, 0, NULL, 0},
};

#define BACKFILL_MAX 10000

const struct cli_command cli_cmd_backfill = {
    .path = "backfill",
    .usage = "DAG --from ISO --to ISO [--reset [--latest]] [--unpause] [--wait]",
    .summary = "Create one run per schedule interval whose logical date is in a range.",
    .help = "A run covers the interval [logical date, next fire time) of the DAG's cron\n"
            "schedule, in its time zone (Airflow 2's convention). Runs are of type\n"
            "'backfill', with run id backfill__<logical date>, pinned to the DAG's current\n"
            "version. Intervals that already have a scheduled or backfill run are skipped\n"
            "(--json names the run that exists). The range ignores start_date, end_date\n"
            "and catchup.\n\n"
            "A paused DAG starts no run, backfills included: backfill refuses it unless\n"
            "--unpause is given, which unpauses the DAG (its schedule resumes too) in the\n"
            "same transaction that creates the runs.\n\n"
            "Options:\n"
            "  --from ISO   first logical date (inclusive); without an offset it is read\n"
            "               in the DAG's time zone\n"
            "  --to ISO     last logical date (inclusive)\n"
            "  --reset      clear the task instances of the intervals that already have a\n"
            "               run, so that they run again\n"
            "  --latest     with --reset: first move those runs to the DAG's current\n"
            "               version and commit (as tasks clear --latest does); refused\n"
            "               when the DAG's file does not load at the current commit\n"
            "  --unpause    unpause a paused DAG so that the runs start\n"
            "  --wait       follow the runs of the range until every one has ended,\n"
            "               printing each as it ends (with a progress line on a\n"
            "               terminal); exit 0 only when all succeeded\n\n"
            "Exit status: 0 ok; 1 the DAG has no cron schedule, cannot run, is paused\n"
            "(without --unpause), --latest and its current file is a load error, or\n"
            "(--wait) a run did not succeed; 2 usage error (more than 10000 intervals,\n"
            "--latest without --reset); 3 unknown DAG; 4 cannot reach PostgreSQL.\n",
    .options = backfill_options,
    .run = run_backfill,
};

struct backfill_opts {
	const char *from, *to;
	bool reset, unpause, latest, wait;
};

static int on_backfill_option(struct cli *cli, int opt, const char *arg, void *ctx)
{
	struct backfill_opts *o = ctx;

	(void)cli;
	switch (opt) {
	case OPT_FROM:
		o->from = arg;
		return 0;
	case OPT_TO:
		o->to = arg;
		return 0;
	case OPT_RESET:
		o->reset = true;
		return 0;
	case OPT_UNPAUSE:
		o->unpause = true;
		return 0;
	case OPT_LATEST:
		o->latest = true;
		return 0;
	case OPT_WAIT:
		o->wait = true;
		return 0;
	}
	return CLI_EXIT_USAGE;
}

struct intervals {
	struct sl_run_new *items;
	size_t nr, alloc;
	char **ids;
	char **found; /* the run that stands for each interval skipped (sl_runs_existing) */
};

static void intervals_release(struct intervals *iv)
{
	for (size_t i = 0; i < iv->nr; i++) {
		free(iv->ids[i]);
		if (iv->found)
			free(iv->found[i]);
	}
	free(iv->found);
	free(iv->ids);
	free(iv->items);
}

/*
 * Every fire time of the DAG's cron in [from, to], each the logical date of
 * an interval that ends at the next fire time. An exit code on error.
 */
static int backfill_intervals(const struct sl_dag *dag, const struct sl_tz *tz, int64_t from,
                              int64_t to, struct intervals *iv)
{
	size_t ids_alloc = 0;
	int64_t t, next;

	if (sl_cron_next(&dag->cron, tz, from - 1, &t) < 0)
		return 0;
	while (t <= to) {
		struct sl_strbuf id = SL_STRBUF_INIT;

		if (iv->nr == BACKFILL_MAX)
			return cli_usage_error(&cli_cmd_backfill,
			                       "the range holds more than %d intervals of '%s'; "
			                       "ask for a narrower range",
			                       BACKFILL_MAX, dag->schedule);
		if (sl_cron_next(&dag->cron, tz, t, &next) < 0)
			break;
		sl_run_id_format(&id, "backfill", t * 1000000);
		SL_ALLOC_GROW(iv->items, iv->nr + 1, iv->alloc);
		SL_ALLOC_GROW(iv->ids, iv->nr + 1, ids_alloc);
		iv->ids[iv->nr] = sl_strbuf_detach(&id, NULL);
		iv->items[iv->nr] = (struct sl_run_new){
		    .run_id = iv->ids[iv->nr],
		    .run_type = "backfill",
		    .logical_date = t * 1000000,
		    .interval_start = t * 1000000,
		    .interval_end = next * 1000000,
		};
		iv->nr++;
		t = next;
	}
	return 0;
}

/* The run that stands for interval i: the one created, or the one that existed. */
static const char *interval_run(const struct intervals *iv, size_t i)
{
	return iv->found && iv->found[i] ? iv->found[i] : iv->items[i].run_id;
}

/* `states`: with --wait, each interval's run's final state (its "state"). */
static json_t *backfill_json(const char *dag_id, const struct intervals *iv,
                             const struct create_tx *tx, char *const *states)
{
	json_t *runs = json_array();

	for (size_t i = 0; i < iv->nr; i++) {
		struct sl_strbuf s = SL_STRBUF_INIT, e = SL_STRBUF_INIT;

		sl_run_time_format(&s, iv->items[i].logical_date);
		sl_run_time_format(&e, iv->items[i].interval_end);
		const char *id = interval_run(iv, i);
		bool created = iv->items[i].run_pk != 0;
		json_t *run = json_pack("{s:s, s:s, s:s, s:b, s:s}", "run_id", id, "logical_date",
		                        s.buf, "data_interval_end", e.buf, "created", created,
		                        "status", created ? "created" : "existed");

		if (states)
			json_object_set_new(run, "state",
			                    states[i] ? json_string(states[i]) : json_null());
		json_array_append_new(runs, run);
		sl_strbuf_release(&s);
		sl_strbuf_release(&e);
	}
	json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:o, s:b}", "dag", dag_id, "intervals",
	                      (json_int_t)iv->nr, "created", (json_int_t)tx->created, "skipped",
	                      (json_int_t)(iv->nr - tx->created), "reset",
	                      (json_int_t)tx->runs_reset, "runs", runs, "unpaused", tx->unpause);

	if (tx->latest)
		json_object_set_new(o, "commit", json_string(tx->latest->commit));
	return o;
}

/* Parse --from / --to in the DAG's zone; an exit code on error. */
static int backfill_parse_time(const char *flag, const char *value, const struct sl_tz *tz,
                               int64_t *out)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	int rc = 0;

	if (!value)
		rc = cli_usage_error(&cli_cmd_backfill, "missing %s ISO", flag);
	else if (sl_iso_parse(value, tz, out, &err) < 0)
		rc = cli_usage_error(&cli_cmd_backfill, "%s: %s", flag, err.buf);
	sl_strbuf_release(&err);
	return rc;
}

/* The one-line summary of what backfill did. */
static void backfill_print(const struct backfill_opts *o, const struct sl_run_pin *pin,
                           const struct intervals *iv, const struct create_tx *tx)
{
	printf("backfill of DAG '%s': %zu interval%s, %zu run%s created, %zu skipped (a run "
	       "exists)",
	       pin->dag_id, iv->nr, iv->nr == 1 ? "" : "s", tx->created,
	       tx->created == 1 ? "" : "s", iv->nr - tx->created);
	if (o->reset)
		printf(", %zu reset (%zu task%s cleared)", tx->runs_reset, tx->tasks_reset,
		       tx->tasks_reset == 1 ? "" : "s");
	if (o->latest)
		printf(", on commit %.12s", pin->commit);
	printf("\n");
}

/*
 * --wait: the summary (unless --json), then follow every run of the range,
 * created or existing, until all have ended; with --json the summary
 * object comes last, each run with its final "state".
 */
static int backfill_wait(struct cli *cli, struct sl_db *db, const struct backfill_opts *o,
                         const struct sl_run_pin *pin, const struct intervals *iv,
                         const struct create_tx *tx)
{
	const char **ids = sl_xcalloc(iv->nr ? iv->nr : 1, sizeof(*ids));
	char **states = sl_xcalloc(iv->nr ? iv->nr : 1, sizeof(*states));
	bool all_ended;
	int rc;

	for (size_t i = 0; i < iv->nr; i++)
		ids[i] = interval_run(iv, i);
	if (!cli->json) {
		backfill_print(o, pin, iv, tx);
		fflush(stdout);
	}
	rc = runs_wait_all(cli, db, pin->dag_id, ids, iv->nr, states, &all_ended);
	/* After an error (PostgreSQL gone) the states are not final: no object. */
	if (cli->json && all_ended) {
		int print_rc = cli_print_json(backfill_json(pin->dag_id, iv, tx, states));

		if (print_rc)
			rc = print_rc;
	}
	for (size_t i = 0; i < iv->nr; i++)
		free(states[i]);
	free(states);
	free(ids);
	return rc;
}

static int run_backfill(struct cli *cli, int argc, char **argv)
{
	struct backfill_opts o = {NULL, NULL, false, false, false, false};
	struct sl_strbuf err = SL_STRBUF_INIT, actor = SL_STRBUF_INIT;
	struct sl_run_pin pin = SL_RUN_PIN_INIT;
	struct intervals iv = {NULL, 0, 0, NULL, NULL};
	struct create_tx tx = {0};
	struct sl_tz *tz = NULL;
	struct sl_db *db = NULL;
	struct cli_args args;
	int64_t from, to;
	bool stop;
	int rc = cli_parse_options(cli, &cli_cmd_backfill, argc, argv, on_backfill_option, &o,
	                           &args, &stop);

	if (rc || stop)
		goto out;
	if (args.n != 1) {
		rc =
		    cli_usage_error(&cli_cmd_backfill, args.n ? "expected one DAG" : "missing DAG");
		goto out;
	}
	if (!o.from || !o.to) {
		rc = cli_usage_error(&cli_cmd_backfill, "missing %s ISO",
		                     o.from ? "--to" : "--from");
		goto out;
	}
	if (o.latest && !o.reset) {
		rc = cli_usage_error(&cli_cmd_backfill,
		                     "--latest needs --reset (new runs always pin the current "
		                     "version)");
		goto out;
	}
	rc = cli_db_open(cli, &db);
	if (rc)
		goto out;
	rc = sl_run_pin_load(db, args.v[0], &pin, &err);
	if (!rc && o.latest)
		rc = sl_run_pin_check_latest(&pin, &err);
	if (rc)
		goto fail;
	if (pin.dag->schedule_kind != SL_SCHEDULE_CRON) {
		cli_error("DAG '%s' has no cron schedule (schedule: %s): nothing to backfill",
		          pin.dag_id, pin.dag->schedule ? pin.dag->schedule : "null");
		rc = CLI_EXIT_FAILED;
		goto out;
	}
	if (pin.paused && !o.unpause) {
		cli_error("DAG '%s' is paused: its backfill runs would not start until it is "
		          "unpaused; pass --unpause to unpause it (its schedule resumes too) and "
		          "backfill, or unpause it later and backfill then",
		          pin.dag_id);
		rc = CLI_EXIT_FAILED;
		goto out;
	}
	rc = sl_tz_load(&tz, pin.dag->timezone, &err);
	if (rc)
		goto fail;
	rc = backfill_parse_time("--from", o.from, tz, &from);
	if (!rc)
		rc = backfill_parse_time("--to", o.to, tz, &to);
	if (!rc && from > to)
		rc = cli_usage_error(&cli_cmd_backfill, "--from is after --to");
	if (!rc)
		rc = backfill_intervals(pin.dag, tz, from, to, &iv);
	if (rc)
		goto out;
	iv.found = sl_xcalloc(iv.nr ? iv.nr : 1, sizeof(*iv.found));
	cli_actor(&actor);
	tx = (struct create_tx){.who = &(struct sl_actor){actor.buf, "cli"},
	                        .pin = &pin,
	                        .runs = iv.items,
	                        .nr = iv.nr,
	                        .flags = SL_RUNS_SKIP_EXISTING,
	                        .reset = o.reset,
	                        .unpause = o.unpause && pin.paused,
	                        .latest = o.latest ? &pin : NULL,
	                        .event = "backfill",
	                        .found = iv.found};
	if (iv.nr) {
		rc = sl_db_transaction(db, 0, create_tx, &tx, &err);
		if (rc)
			goto fail;
	}
	if (tx.unpause)
		fprintf(stderr, "sluice: unpaused DAG '%s'\n", pin.dag_id);
	if (o.wait) {
		rc = backfill_wait(cli, db, &o, &pin, &iv, &tx);
		goto out;
	}
	if (cli->json) {
		rc = cli_print_json(backfill_json(pin.dag_id, &iv, &tx, NULL));
		goto out;
	}
	backfill_print(&o, &pin, &iv, &tx);
	goto out;
fail:
	rc = runs_fail(&err, rc);
out:
	sl_run_repin_release(&tx.repin);
	intervals_release(&iv);
	sl_tz_free(tz);
	sl_run_pin_release(&pin);
	sl_db_free(db);
	sl_strbuf_release(&actor);
	sl_strbuf_release(&err);
	free(args.v);
	return rc;
}
