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
#include "sluice/status_doc.h"
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

static void worker_cells(struct cli_table *t, const struct sl_rows *res, int row, bool colour)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;

	cli_table_add(t, sl_rows_str(res, row, SL_WORKER_ID));
	cli_table_add(t, sl_rows_str(res, row, SL_WORKER_HOST));
	cli_table_add(t, sl_rows_str(res, row, SL_WORKER_QUEUES));
	cli_table_add(t, sl_rows_str(res, row, SL_WORKER_SLOTS));
	cli_table_add(t, sl_rows_str(res, row, SL_WORKER_RUNNING));
	cli_colour_state(&sb, colour, sl_rows_str(res, row, SL_WORKER_STATE));
	if (sl_rows_bool(res, row, SL_WORKER_STALE))
		sl_strbuf_adds(&sb, " (stale)");
	cli_table_add_buf(t, &sb);
	cli_fmt_age(&sb, sl_rows_int(res, row, SL_WORKER_NOW, 0) -
	                     sl_rows_int(res, row, SL_WORKER_HEARTBEAT, 0));
	cli_table_add_buf(t, &sb);
	cli_table_add(t, sl_rows_str(res, row, SL_WORKER_CREDENTIAL));
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
	list = sl_workers_json(res);
	cli_table_header(&table, "WORKER", "HOST", "QUEUES", "SLOTS", "RUNNING", "STATE",
	                 "HEARTBEAT", "CREDENTIAL", NULL);
	cli_table_align_right(&table, 3);
	cli_table_align_right(&table, 4);
	for (int row = 0; row < sl_rows_nr(res); row++)
		worker_cells(&table, res, row, cli_colour_on(cli, stdout));
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

static void print_scheduler(const struct sl_rows *l)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;
	int64_t now;

	if (!sl_rows_nr(l)) {
		printf("scheduler: no scheduler (no lease was ever taken)\n");
		return;
	}
	now = sl_rows_int(l, 0, SL_LEASE_NOW, 0);
	if (!sl_rows_bool(l, 0, SL_LEASE_ALIVE)) {
		cli_fmt_age(&sb, now - sl_rows_int(l, 0, SL_LEASE_EXPIRES, 0));
		printf("scheduler: no scheduler (the lease of %s expired %s)\n",
		       sl_rows_str(l, 0, SL_LEASE_HOLDER), sb.buf);
		sl_strbuf_release(&sb);
		return;
	}
	cli_fmt_age(&sb, now - sl_rows_int(l, 0, SL_LEASE_HEARTBEAT, 0));
	sl_strbuf_adds(&sb, ", commit ");
	cli_fmt_commit(&sb, sl_rows_str(l, 0, SL_LEASE_COMMIT));
	printf("scheduler: %s (epoch %s), heartbeat %s\n", sl_rows_str(l, 0, SL_LEASE_HOLDER),
	       sl_rows_str(l, 0, SL_LEASE_EPOCH), sb.buf);
	sl_strbuf_release(&sb);
}

static void print_source(const struct sl_rows *s)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;

	if (!sl_rows_nr(s)) {
		printf("source:    not read yet (run 'sluice dags refresh')\n");
		return;
	}
	cli_fmt_commit(&sb, sl_rows_str(s, 0, SL_SOURCE_COMMIT));
	sl_strbuf_addf(&sb, " of %s", sl_rows_str(s, 0, SL_SOURCE_REPO));
	if (!sl_rows_null(s, 0, SL_SOURCE_BRANCH))
		sl_strbuf_addf(&sb, " (%s)", sl_rows_str(s, 0, SL_SOURCE_BRANCH));
	sl_strbuf_adds(&sb, ", refreshed ");
	cli_fmt_age(&sb, sl_rows_int(s, 0, SL_SOURCE_NOW, 0) -
	                     sl_rows_int(s, 0, SL_SOURCE_REFRESHED, 0));
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
		cli_table_addf(&table, "  %s", sl_rows_str(q, row, SL_QUEUE_QUEUE));
		cli_table_add(&table, sl_rows_str(q, row, SL_QUEUE_SCHEDULED));
		cli_table_add(&table, sl_rows_str(q, row, SL_QUEUE_QUEUED));
		cli_table_add(&table,
		              sl_rows_bool(q, row, SL_QUEUE_SERVED) ? "yes" : "NO: no live worker");
	}
	cli_table_print(&table, stdout);
	cli_table_release(&table);
	for (int row = 0; row < sl_rows_nr(q); row++)
		if (!sl_rows_bool(q, row, SL_QUEUE_SERVED) &&
		    sl_rows_int(q, row, SL_QUEUE_SCHEDULED, 0))
			print_unserved(stdout, sl_rows_str(q, row, SL_QUEUE_QUEUE),
			               sl_rows_int(q, row, SL_QUEUE_SCHEDULED, 0));
}

/* "N state" with the state coloured as in the tables. */
static void print_count(struct sl_strbuf *sb, bool colour, const char *n, const char *state)
{
	sl_strbuf_reset(sb);
	cli_colour_state(sb, colour, state);
	printf("%s %s", n, sb->buf);
}

static void print_runs(const struct sl_rows *r, bool colour)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;
	int running = sl_status_count_runs(r, "running"), shown = 0;
	char n[16];

	printf("runs:      ");
	snprintf(n, sizeof(n), "%d", running);
	print_count(&sb, colour, n, "running");
	printf(", ");
	snprintf(n, sizeof(n), "%d", sl_status_count_runs(r, "queued"));
	print_count(&sb, colour, n, "queued");
	printf("\n");
	for (int row = 0; row < sl_rows_nr(r); row++) {
		if (strcmp(sl_rows_str(r, row, SL_LIVE_STATE), "running"))
			continue;
		if (shown++ == STATUS_RUNS_SHOWN) {
			printf("  ... and %d more\n", running - STATUS_RUNS_SHOWN);
			break;
		}
		sl_strbuf_reset(&sb);
		cli_fmt_duration(&sb, sl_rows_int(r, row, SL_LIVE_NOW, 0) -
		                          sl_rows_int(r, row, SL_LIVE_SINCE, 0));
		printf("  %s %s, running for %s\n", sl_rows_str(r, row, SL_LIVE_DAG),
		       sl_rows_str(r, row, SL_LIVE_RUN_ID), sb.buf);
	}
	sl_strbuf_release(&sb);
}

static void print_status(const struct sl_status *st, bool colour)
{
	const struct sl_rows *w = st->workers;
	struct sl_strbuf sb = SL_STRBUF_INIT;

	print_scheduler(st->lease);
	print_source(st->source);
	printf("workers:   ");
	print_count(&sb, colour, sl_rows_str(w, 0, SL_WCOUNT_ACTIVE), "active");
	printf(", ");
	print_count(&sb, colour, sl_rows_str(w, 0, SL_WCOUNT_DRAINING), "draining");
	printf(", ");
	print_count(&sb, colour, sl_rows_str(w, 0, SL_WCOUNT_GONE), "gone");
	sl_strbuf_release(&sb);
	if (sl_rows_int(w, 0, SL_WCOUNT_STALE, 0))
		printf(" (%s stale: no heartbeat within heartbeat_timeout)",
		       sl_rows_str(w, 0, SL_WCOUNT_STALE));
	printf("\n");
	print_queues(st->queues);
	print_runs(st->runs, colour);
}

static int run_status(struct cli *cli, int argc, char **argv)
{
	struct sl_status st = SL_STATUS_INIT;
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_db *db;
	int64_t heartbeat_timeout = 0;
	int rc = status_start(cli, &cli_cmd_status, argc, argv, &heartbeat_timeout, &db);

	if (!db)
		goto out;
	rc = cli_db_rc(sl_status_read(db, heartbeat_timeout, &st, &err), &err);
	if (rc)
		goto out;
	if (cli->json)
		rc = cli_print_json(sl_status_json(&st));
	else
		print_status(&st, cli_colour_on(cli, stdout));
out:
	sl_status_release(&st);
	sl_db_free(db);
	sl_strbuf_release(&err);
	return rc;
}
