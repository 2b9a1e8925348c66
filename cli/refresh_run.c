/*
 * sluice dags refresh's work (cli/cmd_refresh.c has its line): fetch the DAG
 * repository and sync its current commit into the database
 * (lib/engine/dagstore.c does the work; the scheduler calls the same code on
 * its timer). Built into sluice-dags-refresh only.
 */
#include "refresh.h"

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

int cli_dags_refresh_run(struct cli *cli, int argc, char **argv)
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
