/*
 * sluice pools list | set | delete: named slot limits shared by tasks of
 * every DAG (a task with `pool: NAME` runs only while NAME has a free slot).
 */
#include "cli.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "sluice/admin.h"
#include "sluice/dag.h"
#include "sluice/db.h"
#include "sluice/strbuf.h"
#include "sluice/status_doc.h"
#include "sluice/views.h"
#include "table.h"
#include "sluice/banned.h"

static int run_pools_list(struct cli *cli, int argc, char **argv);
static int run_pools_set(struct cli *cli, int argc, char **argv);
static int run_pools_delete(struct cli *cli, int argc, char **argv);

enum { OPT_DESCRIPTION = CLI_OPT_BASE };

const struct cli_command cli_cmd_pools_list = {
    .path = "pools list",
    .usage = "",
    .summary = "List the pools: slots, used, queued and open.",
    .help = "USED counts task instances of the pool that are queued or running, QUEUED\n"
            "those scheduled and waiting for a slot, OPEN is SLOTS - USED (negative when\n"
            "a pool was shrunk below what runs). A pool that tasks name but nobody has\n"
            "set is listed as undefined with 0 slots: its tasks cannot run until\n"
            "'sluice pools set' creates it.\n"
            "\nExit status: 0 ok; 2 usage error; 4 cannot reach PostgreSQL.\n",
    .run = run_pools_list,
};

static const struct option set_options[] = {
    {"description", required_argument, NULL, OPT_DESCRIPTION},
    {NULL, 0, NULL, 0},
};

const struct cli_command cli_cmd_pools_set = {
    .path = "pools set",
    .usage = "NAME SLOTS [--description TEXT]",
    .summary = "Create a pool or change its slots.",
    .help = "NAME is an id ([A-Za-z0-9_.-], at most 200 characters); SLOTS an integer\n"
            "from 0 (the pool's tasks wait) up. Without --description an existing\n"
            "pool keeps its description. Setting the same value twice is not an error.\n\n"
            "Options:\n"
            "  --description TEXT   what the pool is for\n"
            "\nExit status: 0 ok; 2 bad name or slots; 4 cannot reach PostgreSQL.\n",
    .options = set_options,
    .run = run_pools_set,
};

const struct cli_command cli_cmd_pools_delete = {
    .path = "pools delete",
    .usage = "NAME",
    .summary = "Delete a pool.",
    .help = "Tasks that name a deleted pool wait until it is set again (a missing pool\n"
            "has no slots); running ones finish.\n"
            "\nExit status: 0 ok; 2 bad name; 3 no such pool; 4 cannot reach PostgreSQL.\n",
    .run = run_pools_delete,
};

/* Print the rows of pools_list as a table or a JSON array. */
static int print_pools(struct cli *cli, const struct sl_rows *res)
{
	struct cli_table table = CLI_TABLE_INIT;
	json_t *list = sl_pools_json(res);
	int rc;

	cli_table_header(&table, "POOL", "SLOTS", "USED", "QUEUED", "OPEN", "DESCRIPTION", NULL);
	for (size_t col = 1; col <= 4; col++)
		cli_table_align_right(&table, col);
	for (int row = 0; row < sl_rows_nr(res); row++) {
		int64_t slots = sl_rows_int(res, row, SL_POOL_SLOTS, 0);
		int64_t used = sl_rows_int(res, row, SL_POOL_USED, 0);
		bool defined = sl_rows_bool(res, row, SL_POOL_DEFINED);

		cli_table_add(&table, sl_rows_str(res, row, SL_POOL_NAME));
		cli_table_addf(&table, "%lld", (long long)slots);
		cli_table_addf(&table, "%lld", (long long)used);
		cli_table_add(&table, sl_rows_str(res, row, SL_POOL_QUEUED));
		cli_table_addf(&table, "%lld", (long long)(slots - used));
		cli_table_add(&table, defined ? sl_rows_str(res, row, SL_POOL_DESCRIPTION)
		                              : "(undefined: no slots until 'sluice pools set')");
	}
	rc = cli_print_list(cli, &table, list);
	cli_table_release(&table);
	return rc;
}

/* The row of pool `name` (NULL: every pool) from pools_list. */
static int query_pools(struct sl_db *db, const char *name, struct sl_rows **res)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	int rc = cli_db_rc(sl_view_pools(db, name, res, &err), &err);

	sl_strbuf_release(&err);
	return rc;
}

/*
 * Options and exactly `want` positionals (NAME, then SLOTS into `*slots`),
 * checked before connecting. Returns an exit code; `*db` is NULL when there
 * is nothing more to do.
 */
static int pools_start(struct cli *cli, const struct cli_command *cmd, int argc, char **argv,
                       int (*on_option)(struct cli *, int, const char *, void *), void *ctx,
                       int want, long *slots, struct cli_args *args, struct sl_db **db)
{
	bool stop;
	int rc = cli_parse_options(cli, cmd, argc, argv, on_option, ctx, args, &stop);

	*db = NULL;
	if (rc || stop)
		return rc;
	if (args->n > want)
		return cli_usage_error(cmd, "unexpected argument '%s'", args->v[want]);
	if (args->n < want)
		return cli_usage_error(cmd, want == 1 ? "missing NAME" : "missing NAME or SLOTS");
	if (want && !sl_id_valid(args->v[0]))
		return cli_usage_error(cmd,
		                       "'%s' is not a valid pool name ([A-Za-z0-9_.-], 1 to 200 "
		                       "characters)",
		                       args->v[0]);
	if (want == 2) {
		rc = cli_parse_long(cmd, "SLOTS", args->v[1], 0, INT_MAX, slots);
		if (rc)
			return rc;
	}
	return cli_db_open(cli, db);
}

static int run_pools_list(struct cli *cli, int argc, char **argv)
{
	struct cli_args args;
	struct sl_db *db;
	struct sl_rows *res = NULL;
	int rc = pools_start(cli, &cli_cmd_pools_list, argc, argv, NULL, NULL, 0, NULL, &args, &db);

	if (!db)
		goto out;
	rc = query_pools(db, NULL, &res);
	if (!rc)
		rc = print_pools(cli, res);
out:
	sl_rows_free(res);
	sl_db_free(db);
	free(args.v);
	return rc;
}

static int on_set_option(struct cli *cli, int opt, const char *arg, void *ctx)
{
	(void)cli;
	if (opt != OPT_DESCRIPTION)
		return CLI_EXIT_USAGE;
	*(const char **)ctx = arg;
	return CLI_EXIT_OK;
}

static int run_pools_set(struct cli *cli, int argc, char **argv)
{
	struct sl_strbuf err = SL_STRBUF_INIT, actor = SL_STRBUF_INIT;
	const char *description = NULL;
	struct cli_args args;
	struct sl_db *db;
	struct sl_rows *res = NULL;
	long slots = 0;
	int rc = pools_start(cli, &cli_cmd_pools_set, argc, argv, on_set_option, &description, 2,
	                     &slots, &args, &db);

	if (!db)
		goto out;
	cli_actor(&actor);
	rc = cli_db_rc(sl_pool_set(db, &(struct sl_actor){actor.buf, "cli"}, args.v[0], slots,
	                           description, &err),
	               &err);
	if (rc)
		goto out;
	rc = query_pools(db, args.v[0], &res);
	if (rc)
		goto out;
	if (cli->json)
		rc = cli_print_json(sl_pool_json(res, 0));
	else
		printf("pool %s: %ld slot%s\n", args.v[0], slots, slots == 1 ? "" : "s");
out:
	sl_rows_free(res);
	sl_db_free(db);
	sl_strbuf_release(&actor);
	sl_strbuf_release(&err);
	free(args.v);
	return rc;
}

static int run_pools_delete(struct cli *cli, int argc, char **argv)
{
	struct sl_strbuf err = SL_STRBUF_INIT, actor = SL_STRBUF_INIT;
	struct cli_args args;
	struct sl_db *db;
	int rc =
	    pools_start(cli, &cli_cmd_pools_delete, argc, argv, NULL, NULL, 1, NULL, &args, &db);

	if (!db)
		goto out;
	cli_actor(&actor);
	rc = cli_db_rc(sl_pool_delete(db, &(struct sl_actor){actor.buf, "cli"}, args.v[0], &err),
	               &err);
	if (rc)
		goto out;
	if (cli->json)
		rc = cli_print_json(json_pack("{s:s, s:b}", "pool", args.v[0], "deleted", 1));
	else
		printf("pool %s deleted\n", args.v[0]);
out:
	sl_db_free(db);
	sl_strbuf_release(&actor);
	sl_strbuf_release(&err);
	free(args.v);
	return rc;
}
