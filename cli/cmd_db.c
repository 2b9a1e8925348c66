/*
 * sluice db init | migrate | status: create, upgrade and inspect the schema
 * in PostgreSQL (lib/db/db.c does the work; this file wires it to the CLI).
 */
#include "cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/alloc.h"
#include "sluice/db.h"
#include "sluice/diag.h"
#include "sluice/duration.h"
#include "sluice/error.h"
#include "sluice/retention.h"
#include "sluice/strbuf.h"
#include "table.h"
#include "sluice/banned.h"

static int run_db_init(struct cli *cli, int argc, char **argv);
static int run_db_migrate(struct cli *cli, int argc, char **argv);
static int run_db_status(struct cli *cli, int argc, char **argv);
static int run_db_clean(struct cli *cli, int argc, char **argv);

#define DB_HELP_WHERE                                                                       \
	"\nThe database is $SLUICE_DATABASE_URL (a libpq connection string or URI), else\n" \
	"database_url in the configuration file, else libpq's PG* variables; with none\n"   \
	"of them and no --config, the database of a running `sluice standalone`.\n"

#define DB_HELP_EXIT                                                                       \
	"\nExit status: 0 ok; 1 the database schema is newer than this sluice knows, or\n" \
	"a migration failed; 2 usage or configuration error; 4 cannot reach PostgreSQL.\n"

const struct cli_command cli_cmd_db_init = {
    .path = "db init",
    .usage = "",
    .summary = "Create sluice's tables in an empty database.",
    .help = "Applies every migration to a database that has none. On a database that is\n"
            "already initialised it changes nothing and says so (use 'sluice db migrate'\n"
            "to apply newer migrations).\n" DB_HELP_WHERE DB_HELP_EXIT,
    .run = run_db_init,
};

const struct cli_command cli_cmd_db_migrate = {
    .path = "db migrate",
    .usage = "",
    .summary = "Apply the schema migrations the database does not have yet.",
    .help = "Each migration runs in its own transaction under an advisory lock, so two\n"
            "concurrent runs are safe: each migration is applied once. Nothing to do is\n"
            "success.\n" DB_HELP_WHERE DB_HELP_EXIT,
    .run = run_db_migrate,
};

const struct cli_command cli_cmd_db_status = {
    .path = "db status",
    .usage = "",
    .summary = "Show the database's schema version and which migrations are applied.",
    .help = "Pending migrations are listed (exit 0); a schema newer than this sluice\n"
            "knows is an error (exit 1).\n" DB_HELP_WHERE DB_HELP_EXIT,
    .run = run_db_status,
};

enum { OPT_OLDER_THAN = CLI_OPT_BASE, OPT_DRY_RUN };

static const struct option clean_options[] = {
    {"older-than", required_argument, NULL, OPT_OLDER_THAN},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {NULL, 0, NULL, 0},
};

const struct cli_command cli_cmd_db_clean = {
    .path = "db clean",
    .usage = "--older-than DURATION [--dry-run]",
    .summary = "Delete finished runs, their attempts and logs, older than a cutoff.",
    .help = "Deletes every run that finished (success, failed, cancelled) more than\n"
            "DURATION ago (e.g. 90d, 12h), with its task instances, attempts and logs, in\n"
            "batches of 200 runs, each its own transaction: a clean stopped half way has\n"
            "deleted whole runs only, and the scheduler is never held up for long. Kept\n"
            "whatever their age: each DAG's newest run and newest scheduled run (the\n"
            "scheduler's next interval follows it), and any run with a task or callback\n"
            "not finished. DAG versions, load errors and workers are not touched.\n\n"
            "Options:\n"
            "  --older-than DURATION  the cutoff: runs that ended before now minus DURATION\n"
            "  --dry-run              count what would be deleted; delete nothing\n"
            "\nExit status: 0 ok; 1 the database refused; 2 usage error; 4 cannot reach\n"
            "PostgreSQL.\n",
    .options = clean_options,
    .run = run_db_clean,
};

/*
 * Options (--json, --help) and no positional argument; then connect.
 * Returns an exit code; `*db` is NULL when there is nothing more to do
 * (after --help, or on an error already reported).
 */
static int db_start(struct cli *cli, const struct cli_command *cmd, int argc, char **argv,
                    struct sl_db **db)
{
	struct cli_args args;
	int rc = cli_start(cli, cmd, argc, argv, NULL, NULL, 0, 0, "no arguments", &args, db);

	free(args.v);
	return rc;
}

static const struct sl_db_applied *find_applied(const struct sl_db_status *st, int version)
{
	for (size_t i = 0; i < st->applied_nr; i++)
		if (st->applied[i].version == version)
			return &st->applied[i];
	return NULL;
}

static int pending_count(const struct sl_db_status *st)
{
	int n = 0;

	for (size_t i = 0; i < sl_db_migrations_nr; i++)
		n += !find_applied(st, sl_db_migrations[i].version);
	return n;
}

static json_t *status_json(struct sl_db *db, const struct sl_db_status *st)
{
	json_t *migrations = json_array();

	for (size_t i = 0; i < sl_db_migrations_nr; i++) {
		const struct sl_db_migration *m = &sl_db_migrations[i];
		const struct sl_db_applied *a = find_applied(st, m->version);

		json_array_append_new(migrations,
		                      json_pack("{s:i, s:s, s:b, s:b, s:s?}", "version", m->version,
		                                "name", m->name, "known", 1, "applied", a != NULL,
		                                "applied_at", a ? a->applied_at : NULL));
	}
	/* Applied by a newer sluice: known by the database only. */
	for (size_t i = 0; i < st->applied_nr; i++) {
		const struct sl_db_applied *a = &st->applied[i];

		if (a->version > st->known_version)
			json_array_append_new(migrations,
			                      json_pack("{s:i, s:s, s:b, s:b, s:s}", "version",
			                                a->version, "name", a->name, "known", 0,
			                                "applied", 1, "applied_at", a->applied_at));
	}
	return json_pack("{s:{s:s, s:s, s:s}, s:b, s:i, s:i, s:b, s:i, s:o}", "database", "where",
	                 sl_db_where(db), "name", sl_db_name(db), "server_version",
	                 sl_db_server_version(db), "initialised", st->initialised, "version",
	                 st->version, "known_version", st->known_version, "up_to_date",
	                 st->version == st->known_version && !pending_count(st), "pending",
	                 pending_count(st), "migrations", migrations);
}

static void print_status(struct sl_db *db, const struct sl_db_status *st)
{
	int pending = pending_count(st);

	printf("database: %s at %s (PostgreSQL %s)\n", sl_db_name(db), sl_db_where(db),
	       sl_db_server_version(db));
	if (!st->initialised)
		printf("schema: not initialised; run 'sluice db init'\n");
	else if (st->version > st->known_version)
		printf("schema: version %d, newer than this sluice knows (%d)\n", st->version,
		       st->known_version);
	else if (pending)
		printf("schema: version %d, %d migration%s pending; run 'sluice db migrate'\n",
		       st->version, pending, pending == 1 ? "" : "s");
	else
		printf("schema: version %d, up to date\n", st->version);
	for (size_t i = 0; i < sl_db_migrations_nr; i++) {
		const struct sl_db_migration *m = &sl_db_migrations[i];
		const struct sl_db_applied *a = find_applied(st, m->version);

		printf("  %04d %-24s %s%s\n", m->version, m->name, a ? "applied " : "pending",
		       a ? a->applied_at : "");
	}
	for (size_t i = 0; i < st->applied_nr; i++) {
		const struct sl_db_applied *a = &st->applied[i];

		if (a->version > st->known_version)
			printf("  %04d %-24s applied %s (unknown to this sluice)\n", a->version,
			       a->name, a->applied_at);
	}
}

/* Exit 1, with what to do, when the schema is newer than this binary. */
static int check_newer(const struct sl_db_status *st)
{
	if (st->version <= st->known_version)
		return CLI_EXIT_OK;
	cli_error("the database schema is at version %d, newer than this sluice knows (%d); "
	          "upgrade sluice to a release that has migration %04d",
	          st->version, st->known_version, st->version);
	return CLI_EXIT_FAILED;
}

static int report_error(struct sl_strbuf *err, int rc)
{
	cli_error("%s", err->buf);
	return cli_exit_code(rc);
}

static int run_db_status(struct cli *cli, int argc, char **argv)
{
	struct sl_db_status st = SL_DB_STATUS_INIT;
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_db *db;
	int rc = db_start(cli, &cli_cmd_db_status, argc, argv, &db);

	if (!db)
		return rc;
	rc = sl_db_status(db, &st, &err);
	if (rc) {
		rc = report_error(&err, rc);
		goto out;
	}
	if (cli->json)
		rc = cli_print_json(status_json(db, &st));
	else
		print_status(db, &st);
	if (!rc)
		rc = check_newer(&st);
out:
	sl_db_status_release(&st);
	sl_strbuf_release(&err);
	sl_db_free(db);
	return rc;
}

/* Migrate and report; `init` first checks that nothing is applied yet. */
static int init_or_migrate(struct cli *cli, const struct cli_command *cmd, int argc, char **argv,
                           bool init)
{
	struct sl_db_status st = SL_DB_STATUS_INIT;
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_db *db;
	bool already = false;
	int applied = 0, rc = db_start(cli, cmd, argc, argv, &db);

	if (!db)
		return rc;
	rc = sl_db_status(db, &st, &err);
	if (rc)
		goto fail;
	rc = check_newer(&st);
	if (rc)
		goto out;
	already = init && st.version > 0;
	if (!already) {
		rc = sl_db_migrate(db, &applied, &err);
		if (rc)
			goto fail;
		rc = sl_db_status(db, &st, &err);
		if (rc)
			goto fail;
	}
	if (cli->json) {
		json_t *o = status_json(db, &st);

		json_object_set_new(o, "applied_now", json_integer(applied));
		if (init)
			json_object_set_new(o, "already_initialised", json_boolean(already));
		rc = cli_print_json(o);
	} else if (already) {
		int pending = pending_count(&st);

		printf("database %s at %s is already initialised (schema version %d)",
		       sl_db_name(db), sl_db_where(db), st.version);
		if (pending)
			printf("; %d migration%s pending: run 'sluice db migrate'", pending,
			       pending == 1 ? "" : "s");
		printf("\n");
	} else if (applied) {
		printf("database %s at %s: applied %d migration%s, schema version %d\n",
		       sl_db_name(db), sl_db_where(db), applied, applied == 1 ? "" : "s",
		       st.version);
	} else {
		printf("database %s at %s: schema version %d is up to date\n", sl_db_name(db),
		       sl_db_where(db), st.version);
	}
	goto out;
fail:
	rc = report_error(&err, rc);
out:
	sl_db_status_release(&st);
	sl_strbuf_release(&err);
	sl_db_free(db);
	return rc;
}

static int run_db_init(struct cli *cli, int argc, char **argv)
{
	return init_or_migrate(cli, &cli_cmd_db_init, argc, argv, true);
}

static int run_db_migrate(struct cli *cli, int argc, char **argv)
{
	return init_or_migrate(cli, &cli_cmd_db_migrate, argc, argv, false);
}

struct clean_opts {
	const char *older_than;
	bool dry;
};

static int on_clean_option(struct cli *cli, int c, const char *arg, void *ctx)
{
	struct clean_opts *o = ctx;

	(void)cli;
	if (c == OPT_OLDER_THAN)
		o->older_than = arg;
	else if (c == OPT_DRY_RUN)
		o->dry = true;
	else
		return CLI_EXIT_USAGE;
	return 0;
}

static void print_clean(const struct sl_retention_report *r, bool dry)
{
	printf("%s %lld %s (%lld task instances, %lld attempts, %lld bytes of logs) that "
	       "ended before %s",
	       dry ? "would delete" : "deleted", (long long)r->runs, r->runs == 1 ? "run" : "runs",
	       (long long)r->task_instances, (long long)r->attempts, (long long)r->log_bytes,
	       r->cutoff);
	if (!dry)
		printf(" in %lld %s", (long long)r->batches,
		       r->batches == 1 ? "transaction" : "transactions");
	printf("\n");
}

static int run_db_clean(struct cli *cli, int argc, char **argv)
{
	struct sl_retention_report report = SL_RETENTION_REPORT_INIT;
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct clean_opts o = {NULL, false};
	struct cli_args args;
	struct sl_db *db = NULL;
	int64_t older_than_s = 0;
	bool more = true, stop;
	int rc = cli_parse_options(cli, &cli_cmd_db_clean, argc, argv, on_clean_option, &o, &args,
	                           &stop);

	if (rc || stop)
		goto out;
	if (args.n) {
		rc = cli_usage_error(&cli_cmd_db_clean, "unexpected argument '%s'", args.v[0]);
		goto out;
	}
	if (!o.older_than) {
		rc = cli_usage_error(&cli_cmd_db_clean, "missing --older-than DURATION");
		goto out;
	}
	if (sl_duration_parse(o.older_than, &older_than_s, &err) || older_than_s <= 0) {
		rc = cli_usage_error(&cli_cmd_db_clean, "--older-than %s: %s", o.older_than,
		                     err.len ? err.buf : "must be more than 0");
		goto out;
	}
	rc = cli_db_open(cli, &db);
	if (rc)
		goto out;
	rc = sl_retention_cutoff(db, older_than_s, &report, &err);
	while (!rc && more)
		rc = sl_retention_batch(db, &report, SL_RETENTION_BATCH, o.dry, &more, &err);
	if (rc) {
		/* Batches already committed stay deleted: say how far it got. */
		if (report.batches)
			print_clean(&report, false);
		rc = cli_db_rc(rc, &err);
		goto out;
	}
	if (cli->json)
		rc = cli_print_json(
		    json_pack("{s:b, s:s, s:I, s:I, s:I, s:I, s:I}", "dry_run", o.dry, "cutoff",
		              report.cutoff, "runs", (json_int_t)report.runs, "task_instances",
		              (json_int_t)report.task_instances, "attempts",
		              (json_int_t)report.attempts, "log_bytes",
		              (json_int_t)report.log_bytes, "batches", (json_int_t)report.batches));
	else
		print_clean(&report, o.dry);
out:
	free(args.v);
	sl_db_free(db);
	sl_strbuf_release(&err);
	return rc;
}
