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
#include "sluice/error.h"
#include "sluice/strbuf.h"
#include "sluice/banned.h"

static int run_db_init(struct cli *cli, int argc, char **argv);
static int run_db_migrate(struct cli *cli, int argc, char **argv);
static int run_db_status(struct cli *cli, int argc, char **argv);

#define DB_HELP_WHERE                                                                       \
	"\nThe database is $SLUICE_DATABASE_URL (a libpq connection string or URI), else\n" \
	"database_url in the configuration file, else libpq's PG* variables.\n"

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
