/*
 * sluice dags refresh: fetch the DAG repository now and sync its current
 * commit into the database (lib/engine/dagstore.c does the work; the scheduler
 * calls the same code on its timer).
 */
#include "cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "sluice/config.h"
#include "sluice/dagstore.h"
#include "sluice/db.h"
#include "sluice/error.h"
#include "sluice/gitsrc.h"
#include "sluice/strbuf.h"
#include "sluice/banned.h"

static int run_dags_refresh(struct cli *cli, int argc, char **argv);

enum {
	OPT_REPO = CLI_OPT_BASE,
	OPT_BRANCH,
	OPT_PATH,
	OPT_STATE_DIR,
};

static const struct option refresh_options[] = {
    {"repo", required_argument, NULL, OPT_REPO},
    {"branch", required_argument, NULL, OPT_BRANCH},
    {"path", required_argument, NULL, OPT_PATH},
    {"state-dir", required_argument, NULL, OPT_STATE_DIR},
    {NULL, 0, NULL, 0},
};

const struct cli_command cli_cmd_dags_refresh = {
    .path = "dags refresh",
    .usage = "[--repo REPO] [--branch BRANCH] [--path DIR] [--state-dir DIR]",
    .summary = "Fetch the DAG repository now and load the DAGs of its current commit.",
    .help = "Reads dags.repo, dags.branch, dags.path and state_dir from the configuration\n"
            "(the options override them). A URL (file://, https://, ssh://, user@host:path)\n"
            "is mirrored under STATE_DIR/mirrors and fetched; a local repository is read in\n"
            "place. Every DAG file of the branch's commit under the path is loaded from git\n"
            "objects: a changed file becomes a new version of its DAG, an unchanged one is\n"
            "not parsed again, a broken one is recorded as a load error while its DAG keeps\n"
            "its last good version, and a DAG whose file is gone is marked removed.\n"
            "Prints a summary and each load error as file:line:col: message. A refresh\n"
            "of the commit the last one stored that changes nothing says so and wakes\n"
            "no one (no NOTIFY).\n\n"
            "Options:\n"
            "  --repo REPO        repository path or URL (dags.repo)\n"
            "  --branch BRANCH    branch (dags.branch; default: the remote's HEAD, else\n"
            "                     main, else master)\n"
            "  --path DIR         folder of DAG files in the repository (dags.path)\n"
            "  --state-dir DIR    where mirrors are kept (state_dir)\n"
            "\nExit status: 0 the commit was loaded, also when some DAG files have load\n"
            "errors (they are recorded: see 'sluice dags errors'); 1 the repository or\n"
            "branch cannot be read, or the database refused the change; 2 usage or\n"
            "configuration error; 4 cannot reach PostgreSQL.\n",
    .options = refresh_options,
    .run = run_dags_refresh,
};

struct refresh_opts {
	const char *repo, *branch, *path, *state_dir;
};

static int on_option(struct cli *cli, int c, const char *arg, void *ctx)
{
	struct refresh_opts *o = ctx;

	(void)cli;
	switch (c) {
	case OPT_REPO:
		o->repo = arg;
		break;
	case OPT_BRANCH:
		o->branch = arg;
		break;
	case OPT_PATH:
		o->path = arg;
		break;
	case OPT_STATE_DIR:
		o->state_dir = arg;
		break;
	default:
		return CLI_EXIT_USAGE;
	}
	return 0;
}

static const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static void print_report(const struct sl_dagstore_report *r)
{
	printf("refreshed %s %s at %.12s: %zu %s, %zu parsed, %zu unchanged, %zu new %s, "
	       "%zu %s, %zu removed",
	       r->repo, r->branch ? r->branch : "-", r->commit, r->files,
	       plural(r->files, "file", "files"), r->parsed, r->unchanged, r->new_versions,
	       plural(r->new_versions, "version", "versions"), r->failed,
	       plural(r->failed, "error", "errors"), r->removed);
	if (r->restored)
		printf(", %zu restored", r->restored);
	if (!r->changed)
		printf(" (no change since the last refresh)");
	printf("\n");
	for (size_t i = 0; i < r->errors_nr; i++)
		printf("%s:%u:%u: %s\n", r->errors[i].file, r->errors[i].line, r->errors[i].column,
		       r->errors[i].message);
}

static json_t *report_json(const struct sl_dagstore_report *r)
{
	json_t *errors = json_array();

	for (size_t i = 0; i < r->errors_nr; i++) {
		const struct sl_dagstore_error *e = &r->errors[i];

		json_array_append_new(errors,
		                      json_pack("{s:s, s:i, s:i, s:s, s:s?}", "file", e->file,
		                                "line", (int)e->line, "column", (int)e->column,
		                                "message", e->message, "dag", e->dag_id));
	}
	return json_pack("{s:s, s:s?, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:o}",
	                 "repo", r->repo, "branch", r->branch, "path", r->path ? r->path : "",
	                 "commit", r->commit, "files", (json_int_t)r->files, "parsed",
	                 (json_int_t)r->parsed, "unchanged", (json_int_t)r->unchanged,
	                 "new_versions", (json_int_t)r->new_versions, "failed",
	                 (json_int_t)r->failed, "removed", (json_int_t)r->removed, "restored",
	                 (json_int_t)r->restored, "changed", r->changed, "errors", errors);
}

static const char *pick(const char *option, const char *config)
{
	return option ? option : config;
}

static int run_dags_refresh(struct cli *cli, int argc, char **argv)
{
	struct sl_dagstore_report report = SL_DAGSTORE_REPORT_INIT;
	struct sl_dagstore_source source;
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct refresh_opts o = {NULL, NULL, NULL, NULL};
	struct sl_config cfg;
	struct cli_args args;
	struct sl_db *db = NULL;
	bool stop, git_ready = false;
	int rc;

	sl_config_init(&cfg);
	rc = cli_parse_options(cli, &cli_cmd_dags_refresh, argc, argv, on_option, &o, &args, &stop);
	if (!rc && !stop && args.n)
		rc = cli_usage_error(&cli_cmd_dags_refresh, "unexpected argument '%s'", args.v[0]);
	free(args.v);
	if (rc || stop)
		goto out;
	sl_config_release(&cfg);
	rc = cli_config(cli, &cfg);
	if (rc)
		goto out;
	source.repo = pick(o.repo, cfg.dags_repo);
	source.branch = pick(o.branch, cfg.dags_branch);
	source.path = pick(o.path, cfg.dags_path);
	source.state_dir = pick(o.state_dir, cfg.state_dir);
	if (!source.repo || !*source.repo) {
		rc = cli_usage_error(&cli_cmd_dags_refresh,
		                     "no DAG repository: set dags.repo in the configuration "
		                     "or pass --repo");
		goto out;
	}
	/* The database first: when it is down there is no point fetching. */
	rc = cli_db_open(cli, &db);
	if (rc)
		goto out;
	rc = sl_gitsrc_global_init(&err);
	if (rc) {
		cli_error("%s", err.buf);
		rc = CLI_EXIT_FAILED;
		goto out;
	}
	git_ready = true;
	rc = sl_dagstore_refresh(db, &source, &report, &err);
	if (rc) {
		cli_error("%s", err.buf);
		/* Load errors in DAG files are not failures (they are recorded);
		 * a repository, branch or path that cannot be read is. */
		rc = rc == SL_EUNAVAIL ? CLI_EXIT_UNAVAILABLE : CLI_EXIT_FAILED;
		goto out;
	}
	if (cli->json)
		rc = cli_print_json(report_json(&report));
	else
		print_report(&report);
out:
	sl_dagstore_report_release(&report);
	sl_db_free(db);
	if (git_ready)
		sl_gitsrc_global_shutdown();
	sl_config_release(&cfg);
	sl_strbuf_release(&err);
	return rc;
}
