/*
 * sluice status and sluice workers list: the scheduler's lease, the DAG
 * source's commit, the workers and the queues, as the database records them.
 */
#include "cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/config.h"
#include "sluice/db.h"
#include "sluice/strbuf.h"
#include "sluice/views.h"
#include "table.h"
#include "sluice/banned.h"

/* Running runs listed by `status` (all of them with --json). */
#define STATUS_RUNS_SHOWN 20

static int run_workers_list(struct cli *cli, int argc, char **argv);
static int run_status(struct cli *cli, int argc, char **argv);

#define STALE_HELP                                                                    \
	"A worker is stale when its last heartbeat is older than heartbeat_timeout\n" \
	"(configuration file, default 8s) although its state is not 'gone': the\n"    \
	"scheduler has not noticed yet, or no scheduler runs.\n"

const struct cli_command cli_cmd_workers_list = {
    .path = "workers list",
    .usage = "",
    .summary = "List the workers: host, queues, slots, running tasks, heartbeat.",
    .help =
        "RUNNING counts the worker's live attempts. STATE is active, draining (takes\n"
        "no new work) or gone. CREDENTIAL is own (it connects with a secret of its\n"
        "own, 'sluice workers add'), shared (the shared token) or revoked (refused).\n" STALE_HELP
        "Below the table, each queue with scheduled tasks that no live worker serves:\n"
        "'queue gpu: 3 tasks waiting, no live worker serves it' (on standard error\n"
        "with --json; `status --json` has it as queues[].served).\n"
        "\nExit status: 0 ok; 2 usage error; 4 cannot reach PostgreSQL.\n",
    .run = run_workers_list,
};

const struct cli_command cli_cmd_status = {
    .path = "status",
    .usage = "",
    .summary = "Show the scheduler, the DAG source's commit, workers and queue depth.",
    .help = "The scheduler is the holder of the leader lease; 'no scheduler' when there\n"
            "is no lease or it has expired. Queues list the task instances waiting\n"
            "(scheduled) and handed to a worker (queued), and whether any live worker\n"
            "(active, not stale) serves the queue. " STALE_HELP
            "\nReporting that no scheduler runs is not a failure: the exit status is 0\n"
            "(test .scheduler.alive in --json to alert).\n"
            "\nExit status: 0 ok; 2 usage or configuration error; 4 cannot reach\n"
            "PostgreSQL.\n",
    .run = run_status,
};

/*
 * Options, no positional argument, the configuration (for
 * heartbeat_timeout) and the database. Returns an exit code; `*db` is NULL
 * when there is nothing more to do.
 */
static int status_start(struct cli *cli, const struct cli_command *cmd, int argc, char **argv,
                        int64_t *heartbeat_timeout, struct sl_db **db)
{
	struct sl_config cfg;
	struct cli_args args;
	int rc = cli_start(cli, cmd, argc, argv, NULL, NULL, 0, 0, "no arguments", &args, db);

	free(args.v);
	if (rc || !*db)
		return rc;
	rc = cli_config(cli, &cfg);
	*heartbeat_timeout = cfg.heartbeat_timeout;
	sl_config_release(&cfg);
	if (rc) {
		sl_db_free(*db);
		*db = NULL;
	}
	return rc;
}

static json_t *time_json(int64_t t)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;
	json_t *j;

	cli_fmt_time(&sb, t, NULL);
	j = json_string(sb.buf);
	sl_strbuf_release(&sb);
	return j;
}

/* A nullable instant column as JSON. */
static json_t *time_col_json(const struct sl_rows *res, int row, int col)
{
	return sl_rows_null(res, row, col) ? json_null() : time_json(sl_rows_int(res, row, col, 0));
}

/* The columns of status_workers (lib/db/sql/status.sql). */
enum {
	W_ID,
	W_HOST,
	W_QUEUES,
	W_SLOTS,
	W_RUNNING,
	W_STATE,
	W_HEARTBEAT,
	W_NOW,
	W_VERSION,
	W_STARTED,
	W_STALE,
	W_CREDENTIAL,
};

static json_t *queues_json(const char *list)
{
	json_t *queues = json_array();

	while (*list) {
		size_t len = strcspn(list, ",");

		json_array_append_new(queues, json_stringn(list, len));
		list += len + (list[len] == ',');
	}
	return queues;
}

static json_t *worker_json(const struct sl_rows *res, int row)
{
	int64_t beat = sl_rows_int(res, row, W_HEARTBEAT, 0);

	return json_pack("{s:s, s:s, s:o, s:I, s:I, s:s, s:b, s:s?, s:o, s:o, s:I, s:s}", "worker",
	                 sl_rows_str(res, row, W_ID), "host", sl_rows_str(res, row, W_HOST),
	                 "queues", queues_json(sl_rows_str(res, row, W_QUEUES)), "slots",
	                 (json_int_t)sl_rows_int(res, row, W_SLOTS, 0), "running",
	                 (json_int_t)sl_rows_int(res, row, W_RUNNING, 0), "state",
	                 sl_rows_str(res, row, W_STATE), "stale", sl_rows_bool(res, row, W_STALE),
	                 "version", sl_rows_str(res, row, W_VERSION), "started_at",
	                 time_col_json(res, row, W_STARTED), "last_heartbeat_at", time_json(beat),
	                 "heartbeat_age_seconds",
	                 (json_int_t)(sl_rows_int(res, row, W_NOW, 0) - beat), "credential",
	                 sl_rows_str(res, row, W_CREDENTIAL));
}

static void worker_cells(struct cli_table *t, const struct sl_rows *res, int row)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;

	cli_table_add(t, sl_rows_str(res, row, W_ID));
	cli_table_add(t, sl_rows_str(res, row, W_HOST));
	cli_table_add(t, sl_rows_str(res, row, W_QUEUES));
	cli_table_add(t, sl_rows_str(res, row, W_SLOTS));
	cli_table_add(t, sl_rows_str(res, row, W_RUNNING));
	sl_strbuf_adds(&sb, sl_rows_str(res, row, W_STATE));
	if (sl_rows_bool(res, row, W_STALE))
		sl_strbuf_adds(&sb, " (stale)");
	cli_table_add_buf(t, &sb);
	cli_fmt_age(&sb, sl_rows_int(res, row, W_NOW, 0) - sl_rows_int(res, row, W_HEARTBEAT, 0));
	cli_table_add_buf(t, &sb);
	cli_table_add(t, sl_rows_str(res, row, W_CREDENTIAL));
	sl_strbuf_release(&sb);
}

/* The line `workers list` and `status` print for such a queue. */
static void print_unserved(FILE *f, const char *queue, int64_t waiting)
{
	fprintf(f, "queue %s: %lld task%s waiting, no live worker serves it\n", queue,
	        (long long)waiting, waiting == 1 ? "" : "s");
}

static int run_workers_list(struct cli *cli, int argc, char **argv)
{
	struct cli_table table = CLI_TABLE_INIT;
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_db *db;
	struct sl_rows *res = NULL;
	json_t *list = NULL;
	int64_t heartbeat_timeout = 0;
	int rc = status_start(cli, &cli_cmd_workers_list, argc, argv, &heartbeat_timeout, &db);

	if (!db)
		goto out;
	rc = cli_db_rc(sl_view_workers(db, heartbeat_timeout, &res, &err), &err);
	if (rc)
		goto out;
	list = json_array();
	cli_table_header(&table, "WORKER", "HOST", "QUEUES", "SLOTS", "RUNNING", "STATE",
	                 "HEARTBEAT", "CREDENTIAL", NULL);
	cli_table_align_right(&table, 3);
	cli_table_align_right(&table, 4);
	for (int row = 0; row < sl_rows_nr(res); row++) {
		if (cli->json)
			json_array_append_new(list, worker_json(res, row));
		else
			worker_cells(&table, res, row);
	}
	rc = cli_print_list(cli, &table, list);
	list = NULL;
	if (rc)
		goto out;
	sl_rows_free(res);
	res = NULL;
	rc = cli_db_rc(sl_view_unserved_queues(db, heartbeat_timeout, &res, &err), &err);
	if (rc)
		goto out;
	/* --json keeps its array on stdout; the warning goes to stderr. */
	for (int row = 0; row < sl_rows_nr(res); row++)
		print_unserved(cli->json ? stderr : stdout, sl_rows_str(res, row, 0),
		               sl_rows_int(res, row, 1, 0));
out:
	json_decref(list);
	cli_table_release(&table);
	sl_rows_free(res);
	sl_db_free(db);
	sl_strbuf_release(&err);
	return rc;
}

/* What `status` reads, one result per part. */
struct status {
	struct sl_rows *lease, *source, *workers, *queues, *runs;
};

enum { L_HOLDER, L_EPOCH, L_COMMIT, L_HEARTBEAT, L_EXPIRES, L_ACQUIRED, L_ALIVE, L_NOW };
enum { S_COMMIT, S_REPO, S_BRANCH, S_PATH, S_REFRESHED, S_NOW };
enum { WC_ACTIVE, WC_DRAINING, WC_GONE, WC_STALE };
enum { Q_QUEUE, Q_SCHEDULED, Q_QUEUED, Q_SERVED };
enum { R_DAG, R_RUN_ID, R_STATE, R_SINCE, R_NOW };

static int status_read(struct sl_db *db, int64_t heartbeat_timeout, struct status *st)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	int rc;

	rc = sl_view_lease(db, &st->lease, &err);
	if (!rc)
		rc = sl_view_source(db, &st->source, &err);
	if (!rc)
		rc = sl_view_worker_counts(db, heartbeat_timeout, &st->workers, &err);
	if (!rc)
		rc = sl_view_queues(db, heartbeat_timeout, &st->queues, &err);
	if (!rc)
		rc = sl_view_live_runs(db, &st->runs, &err);
	rc = cli_db_rc(rc, &err);
	sl_strbuf_release(&err);
	return rc;
}

static void status_release(struct status *st)
{
	sl_rows_free(st->lease);
	sl_rows_free(st->source);
	sl_rows_free(st->workers);
	sl_rows_free(st->queues);
	sl_rows_free(st->runs);
}

static int count_runs(const struct sl_rows *res, const char *state)
{
	int n = 0;

	for (int row = 0; row < sl_rows_nr(res); row++)
		n += !strcmp(sl_rows_str(res, row, R_STATE), state);
	return n;
}

static json_t *scheduler_json(const struct sl_rows *l)
{
	bool row = sl_rows_nr(l) > 0;
	int64_t now = row ? sl_rows_int(l, 0, L_NOW, 0) : 0;

	if (!row)
		return json_pack("{s:b, s:n, s:n, s:n, s:n, s:n, s:n, s:n}", "alive", 0, "holder",
		                 "epoch", "commit", "acquired_at", "heartbeat_at",
		                 "heartbeat_age_seconds", "expires_at");
	return json_pack("{s:b, s:s, s:I, s:s?, s:o, s:o, s:I, s:o}", "alive",
	                 sl_rows_bool(l, 0, L_ALIVE), "holder", sl_rows_str(l, 0, L_HOLDER),
	                 "epoch", (json_int_t)sl_rows_int(l, 0, L_EPOCH, 0), "commit",
	                 sl_rows_str(l, 0, L_COMMIT), "acquired_at",
	                 time_col_json(l, 0, L_ACQUIRED), "heartbeat_at",
	                 time_col_json(l, 0, L_HEARTBEAT), "heartbeat_age_seconds",
	                 (json_int_t)(now - sl_rows_int(l, 0, L_HEARTBEAT, 0)), "expires_at",
	                 time_col_json(l, 0, L_EXPIRES));
}

static json_t *status_json(const struct status *st)
{
	const struct sl_rows *s = st->source, *w = st->workers, *q = st->queues, *r = st->runs;
	json_t *source, *queues = json_array(), *running = json_array();

	if (sl_rows_nr(s))
		source = json_pack(
		    "{s:s, s:s, s:s?, s:s, s:o}", "commit", sl_rows_str(s, 0, S_COMMIT), "repo",
		    sl_rows_str(s, 0, S_REPO), "branch", sl_rows_str(s, 0, S_BRANCH), "path",
		    sl_rows_str(s, 0, S_PATH), "refreshed_at", time_col_json(s, 0, S_REFRESHED));
	else
		source = json_pack("{s:n, s:n, s:n, s:n, s:n}", "commit", "repo", "branch", "path",
		                   "refreshed_at");
	for (int row = 0; row < sl_rows_nr(q); row++)
		json_array_append_new(
		    queues, json_pack("{s:s, s:I, s:I, s:b}", "queue", sl_rows_str(q, row, Q_QUEUE),
		                      "scheduled", (json_int_t)sl_rows_int(q, row, Q_SCHEDULED, 0),
		                      "queued", (json_int_t)sl_rows_int(q, row, Q_QUEUED, 0),
		                      "served", sl_rows_bool(q, row, Q_SERVED)));
	for (int row = 0; row < sl_rows_nr(r); row++)
		if (!strcmp(sl_rows_str(r, row, R_STATE), "running"))
			json_array_append_new(
			    running, json_pack("{s:s, s:s, s:o}", "dag", sl_rows_str(r, row, R_DAG),
			                       "run_id", sl_rows_str(r, row, R_RUN_ID),
			                       "started_at", time_col_json(r, row, R_SINCE)));
	return json_pack("{s:o, s:o, s:{s:I, s:I, s:I, s:I}, s:o, s:{s:i, s:i, s:o}}", "scheduler",
	                 scheduler_json(st->lease), "source", source, "workers", "active",
	                 (json_int_t)sl_rows_int(w, 0, WC_ACTIVE, 0), "draining",
	                 (json_int_t)sl_rows_int(w, 0, WC_DRAINING, 0), "gone",
	                 (json_int_t)sl_rows_int(w, 0, WC_GONE, 0), "stale",
	                 (json_int_t)sl_rows_int(w, 0, WC_STALE, 0), "queues", queues, "runs",
	                 "running", count_runs(r, "running"), "queued", count_runs(r, "queued"),
	                 "running_runs", running);
}

static void print_scheduler(const struct sl_rows *l)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;
	int64_t now;

	if (!sl_rows_nr(l)) {
		printf("scheduler: no scheduler (no lease was ever taken)\n");
		return;
	}
	now = sl_rows_int(l, 0, L_NOW, 0);
	if (!sl_rows_bool(l, 0, L_ALIVE)) {
		cli_fmt_age(&sb, now - sl_rows_int(l, 0, L_EXPIRES, 0));
		printf("scheduler: no scheduler (the lease of %s expired %s)\n",
		       sl_rows_str(l, 0, L_HOLDER), sb.buf);
		sl_strbuf_release(&sb);
		return;
	}
	cli_fmt_age(&sb, now - sl_rows_int(l, 0, L_HEARTBEAT, 0));
	sl_strbuf_adds(&sb, ", commit ");
	cli_fmt_commit(&sb, sl_rows_str(l, 0, L_COMMIT));
	printf("scheduler: %s (epoch %s), heartbeat %s\n", sl_rows_str(l, 0, L_HOLDER),
	       sl_rows_str(l, 0, L_EPOCH), sb.buf);
	sl_strbuf_release(&sb);
}

static void print_source(const struct sl_rows *s)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;

	if (!sl_rows_nr(s)) {
		printf("source:    not read yet (run 'sluice dags refresh')\n");
		return;
	}
	cli_fmt_commit(&sb, sl_rows_str(s, 0, S_COMMIT));
	sl_strbuf_addf(&sb, " of %s", sl_rows_str(s, 0, S_REPO));
	if (!sl_rows_null(s, 0, S_BRANCH))
		sl_strbuf_addf(&sb, " (%s)", sl_rows_str(s, 0, S_BRANCH));
	sl_strbuf_adds(&sb, ", refreshed ");
	cli_fmt_age(&sb, sl_rows_int(s, 0, S_NOW, 0) - sl_rows_int(s, 0, S_REFRESHED, 0));
	printf("source:    commit %s\n", sb.buf);
	sl_strbuf_release(&sb);
}

static void print_queues(const struct sl_rows *q)
{
	struct cli_table table = CLI_TABLE_INIT;

	if (!sl_rows_nr(q)) {
		printf("queues:    none (no waiting task, no live worker)\n");
		return;
	}
	printf("queues:\n");
	cli_table_header(&table, "  QUEUE", "SCHEDULED", "QUEUED", "SERVED", NULL);
	cli_table_align_right(&table, 1);
	cli_table_align_right(&table, 2);
	for (int row = 0; row < sl_rows_nr(q); row++) {
		cli_table_addf(&table, "  %s", sl_rows_str(q, row, Q_QUEUE));
		cli_table_add(&table, sl_rows_str(q, row, Q_SCHEDULED));
		cli_table_add(&table, sl_rows_str(q, row, Q_QUEUED));
		cli_table_add(&table,
		              sl_rows_bool(q, row, Q_SERVED) ? "yes" : "NO: no live worker");
	}
	cli_table_print(&table, stdout);
	cli_table_release(&table);
	for (int row = 0; row < sl_rows_nr(q); row++)
		if (!sl_rows_bool(q, row, Q_SERVED) && sl_rows_int(q, row, Q_SCHEDULED, 0))
			print_unserved(stdout, sl_rows_str(q, row, Q_QUEUE),
			               sl_rows_int(q, row, Q_SCHEDULED, 0));
}

static void print_runs(const struct sl_rows *r)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;
	int running = count_runs(r, "running"), shown = 0;

	printf("runs:      %d running, %d queued\n", running, count_runs(r, "queued"));
	for (int row = 0; row < sl_rows_nr(r); row++) {
		if (strcmp(sl_rows_str(r, row, R_STATE), "running"))
			continue;
		if (shown++ == STATUS_RUNS_SHOWN) {
			printf("  ... and %d more\n", running - STATUS_RUNS_SHOWN);
			break;
		}
		sl_strbuf_reset(&sb);
		cli_fmt_duration(&sb,
		                 sl_rows_int(r, row, R_NOW, 0) - sl_rows_int(r, row, R_SINCE, 0));
		printf("  %s %s, running for %s\n", sl_rows_str(r, row, R_DAG),
		       sl_rows_str(r, row, R_RUN_ID), sb.buf);
	}
	sl_strbuf_release(&sb);
}

static void print_status(const struct status *st)
{
	const struct sl_rows *w = st->workers;

	print_scheduler(st->lease);
	print_source(st->source);
	printf("workers:   %s active, %s draining, %s gone", sl_rows_str(w, 0, WC_ACTIVE),
	       sl_rows_str(w, 0, WC_DRAINING), sl_rows_str(w, 0, WC_GONE));
	if (sl_rows_int(w, 0, WC_STALE, 0))
		printf(" (%s stale: no heartbeat within heartbeat_timeout)",
		       sl_rows_str(w, 0, WC_STALE));
	printf("\n");
	print_queues(st->queues);
	print_runs(st->runs);
}

static int run_status(struct cli *cli, int argc, char **argv)
{
	struct status st = {NULL, NULL, NULL, NULL, NULL};
	struct sl_db *db;
	int64_t heartbeat_timeout = 0;
	int rc = status_start(cli, &cli_cmd_status, argc, argv, &heartbeat_timeout, &db);

	if (!db)
		goto out;
	rc = status_read(db, heartbeat_timeout, &st);
	if (rc)
		goto out;
	if (cli->json)
		rc = cli_print_json(status_json(&st));
	else
		print_status(&st);
out:
	status_release(&st);
	sl_db_free(db);
	return rc;
}
