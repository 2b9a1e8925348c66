/*
 * sluice db init | migrate | status: create, upgrade and inspect the schema
 * in PostgreSQL (lib/db.c does the work; this file wires it to the CLI).
 */
#include "cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sluice/alloc.h"
#include "sluice/db.h"
#include "sluice/diag.h"
#include "sluice/error.h"
#include "sluice/strbuf.h"
#include "sluice/yaml_doc.h"

#define DEFAULT_CONFIG "/etc/sluice/sluice.yaml"
#define CONFIG_LIMIT   (1024 * 1024)

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

static int exit_code(int rc)
{
	switch (rc) {
	case 0:
		return CLI_EXIT_OK;
	case SL_EUNAVAIL:
		return CLI_EXIT_UNAVAILABLE;
	case SL_EINVAL:
		return CLI_EXIT_USAGE;
	default:
		return CLI_EXIT_FAILED;
	}
}

/* The top-level `database_url` string of a YAML configuration file, or NULL
 * when it has none. Other keys belong to the daemons and are not checked. */
static int config_database_url(const char *path, char **url, struct sl_strbuf *err)
{
	struct sl_strbuf data = SL_STRBUF_INIT;
	struct sl_diags diags = SL_DIAGS_INIT;
	struct sl_ydoc *doc = NULL;
	const struct sl_ynode *root;
	int rc;

	*url = NULL;
	rc = sl_strbuf_read_file(&data, path, CONFIG_LIMIT, err);
	if (rc)
		goto out;
	rc = sl_ydoc_parse(&doc, path, data.buf, data.len, &diags);
	if (rc) {
		const struct sl_diag *d = diags.nr ? &diags.items[0] : NULL;

		if (d)
			sl_strbuf_addf(err, "%s:%u:%u: %s", d->file, d->line, d->column,
			               d->message);
		else
			sl_strbuf_addf(err, "%s: not a valid YAML document", path);
		rc = SL_EINVAL;
		goto out;
	}
	root = sl_ynode_deref(sl_ydoc_root(doc));
	if (root->kind != SL_YNODE_MAPPING)
		goto out;
	for (size_t i = 0; i < root->u.map.nr; i++) {
		const struct sl_ypair *p = &root->u.map.pairs[i];
		const struct sl_ynode *v = sl_ynode_deref(p->value);

		if (strcmp(p->key->u.scalar.text, "database_url"))
			continue;
		if (sl_ynode_is(v, SL_YTYPE_NULL))
			break;
		if (!sl_ynode_is_string(v)) {
			sl_strbuf_addf(err, "%s:%u:%u: database_url: expected a string, got %s",
			               path, v->line, v->column, sl_ynode_type_name(v));
			rc = SL_EINVAL;
			goto out;
		}
		*url = sl_xstrdup(v->u.scalar.text);
		break;
	}
out:
	sl_ydoc_free(doc);
	sl_diags_release(&diags);
	sl_strbuf_release(&data);
	return rc;
}

/*
 * Connect as SPEC §4 says: $SLUICE_DATABASE_URL first (the library reads
 * it), then the configuration file's database_url, then libpq's defaults.
 * The default configuration file may be missing; one named by --config or
 * $SLUICE_CONFIG may not.
 */
static int db_open(struct cli *cli, struct sl_db **db)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	const char *env = getenv("SLUICE_DATABASE_URL");
	char *url = NULL;
	int rc = 0;

	if (!env || !*env) {
		const char *config = cli->config && *cli->config ? cli->config : NULL;

		if (!config && access(DEFAULT_CONFIG, F_OK) == 0)
			config = DEFAULT_CONFIG;
		if (config)
			rc = config_database_url(config, &url, &err);
		if (rc) {
			cli_error("configuration: %s", err.buf);
			rc = CLI_EXIT_USAGE;
			goto out;
		}
	}
	rc = sl_db_connect(db, url, &err);
	if (rc) {
		cli_error("%s", err.buf);
		rc = exit_code(rc);
	}
out:
	free(url);
	sl_strbuf_release(&err);
	return rc;
}

/*
 * Options (--json, --help) and no positional argument; then connect.
 * Returns an exit code; `*db` is NULL when there is nothing more to do
 * (after --help, or on an error already reported).
 */
static int db_start(struct cli *cli, const struct cli_command *cmd, int argc, char **argv,
                    struct sl_db **db)
{
	struct cli_args args;
	bool stop;
	int rc = cli_parse_options(cli, cmd, argc, argv, NULL, NULL, &args, &stop);

	*db = NULL;
	if (!rc && !stop && args.n)
		rc = cli_usage_error(cmd, "unexpected argument '%s'", args.v[0]);
	free(args.v);
	if (rc || stop)
		return rc;
	return db_open(cli, db);
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
	return exit_code(rc);
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
