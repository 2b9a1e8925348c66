/*
 * `sluice init [DIR]`: the files a new DAG repository starts from. It never
 * replaces anything: every target is checked before the first is written,
 * each is created with O_EXCL, and when one cannot be written, what this
 * run made is removed again, so that DIR ends as it was or complete.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice/alloc.h"
#include "sluice/strbuf.h"
#include "sluice/dag_schema.h"
#include "sluice/banned.h"

static int run_init(struct cli *cli, int argc, char **argv);

const struct cli_command cli_cmd_init = {
    .path = "init",
    .usage = "[DIR]",
    .summary = "Start a DAG repository: an example DAG, a pre-commit hook, a README.",
    .help = "Writes, in DIR (default: the current directory, made when missing):\n"
            "  dags/example.yaml        a commented example DAG (params, schedule,\n"
            "                           retries, depends_on) that `sluice validate` accepts\n"
            "  .pre-commit-config.yaml  a pre-commit hook running `sluice validate` on\n"
            "                           the DAG files a commit changes\n"
            "  README.md                how to check the DAGs and point a scheduler at them\n"
            "  dag.schema.json          the JSON Schema of DAG files, which the example's\n"
            "                           first line points editors at\n"
            "Nothing is overwritten: when any of them exists, nothing is written. It does\n"
            "not run `git init` (DIR may be inside a repository already).\n\n"
            "Exit status: 0 ok; 1 a file exists or cannot be written; 2 usage error.\n",
    .run = run_init,
};

static const char example_dag[] =
    "# yaml-language-server: $schema=../dag.schema.json\n"
    "# An example DAG to start from: edit it, or copy it to make another (one DAG\n"
    "# a file; the file name is the DAG id unless `dag:` says otherwise).\n"
    "# `sluice validate dags/` checks every file as the scheduler will load it and\n"
    "# reports each problem as file:line:col. `sluice test dags/example.yaml` runs\n"
    "# it on this machine. The modeline above points editors at dag.schema.json\n"
    "# (written beside the README; `sluice validate --print-schema` prints it\n"
    "# anew) for completion and hover help.\n"
    "dag: example\n"
    "description: An example DAG made by sluice init\n"
    "\n"
    "# When runs are made: a five-field cron expression read in `timezone`, a\n"
    "# preset such as @daily, or null for runs triggered by hand only.\n"
    "schedule: \"0 6 * * *\"\n"
    "timezone: UTC\n"
    "start_date: 2026-01-01\n"
    "catchup: false\n"
    "\n"
    "# Parameters, with their defaults; a run may set others:\n"
    "#     sluice trigger example --conf greeting=hi --conf count=5\n"
    "# Commands read them as {{ params.NAME }}, or as $SLUICE_PARAM_NAME.\n"
    "params:\n"
    "  greeting: hello\n"
    "  count: 3\n"
    "\n"
    "# Task keys that every task gets unless it sets its own.\n"
    "defaults:\n"
    "  retries: 2         # a failed task is tried twice more,\n"
    "  retry_delay: 30s   # 30 seconds after each failure,\n"
    "  timeout: 10m       # and stopped (failed) after 10 minutes.\n"
    "\n"
    "tasks:\n"
    "  hello:\n"
    "    command: echo \"{{ params.greeting }} from {{ dag }}, run {{ run_id }}\"\n"
    "  count:\n"
    "    # Runs once hello has succeeded.\n"
    "    command: seq 1 \"$SLUICE_PARAM_COUNT\"\n"
    "    depends_on: [hello]\n"
    "    retries: 0         # overrides defaults: never tried again\n"
    "  goodbye:\n"
    "    command: echo \"done for {{ ds }}\"\n"
    "    depends_on: [count]\n";

static const char precommit_config[] =
    "# pre-commit (https://pre-commit.com) runs `sluice validate` on the DAG\n"
    "# files a commit adds or changes, and stops the commit on an error.\n"
    "# Install the hook in your clone with `pre-commit install`; it needs\n"
    "# sluice on PATH. `files` is relative to the top of the git repository.\n"
    "repos:\n"
    "  - repo: local\n"
    "    hooks:\n"
    "      - id: sluice-validate\n"
    "        name: sluice validate\n"
    "        entry: sluice validate\n"
    "        language: system\n"
    "        files: '^dags/.*\\.ya?ml$'\n";

static const char readme[] =
    "# DAGs\n"
    "\n"
    "The workflows of this repository, run by sluice.\n"
    "\n"
    "- `dags/`: one DAG a file (`*.yaml` or `*.yml`); `dags/example.yaml` shows\n"
    "  the common keys, each explained.\n"
    "- `.pre-commit-config.yaml`: checks the DAG files a commit changes\n"
    "  (`pre-commit install` once in a clone).\n"
    "- `dag.schema.json`: the JSON Schema of DAG files, for editors.\n"
    "\n"
    "## Check and try\n"
    "\n"
    "    sluice validate dags/              # every file, errors as file:line:col\n"
    "    sluice test dags/example.yaml      # run one DAG here, no scheduler needed\n"
    "\n"
    "For completion and hover help in editors that use yaml-language-server\n"
    "(VS Code's YAML extension, among others), the DAG files name\n"
    "`dag.schema.json` in their first line. After an upgrade of sluice, write it\n"
    "anew:\n"
    "\n"
    "    sluice validate --print-schema > dag.schema.json\n"
    "\n"
    "## Point a scheduler at it\n"
    "\n"
    "Push this repository where the scheduler's host can read it, then set in\n"
    "its `/etc/sluice/sluice.yaml`:\n"
    "\n"
    "```yaml\n"
    "dags:\n"
    "  repo: https://git.example.com/team/dags.git   # a path, file://, https:// or ssh URL\n"
    "  branch: main\n"
    "  path: dags                                    # the folder holding the DAG files\n"
    "```\n"
    "\n"
    "The scheduler reads what is committed on that branch, never a work tree, and\n"
    "fetches it every `dags.poll_interval` (60s); `sluice dags refresh` reads it at\n"
    "once. `sluice dags list` then shows the DAGs, and `sluice dags errors` any file\n"
    "that did not load.\n";

/* A file init writes: where, relative to DIR, and what. */
struct init_file {
	const char *path;
	const char *text;
};

/* What this run made, to take back on failure: folders and files. */
struct made {
	char *paths[8];
	bool is_dir[8];
	size_t nr;
};

static void made_add(struct made *m, const char *path, bool is_dir)
{
	m->paths[m->nr] = sl_xstrdup(path);
	m->is_dir[m->nr++] = is_dir;
}

/* Remove what was made, the newest first (the files before their folders). */
static void made_undo(struct made *m)
{
	while (m->nr) {
		m->nr--;
		if (m->is_dir[m->nr])
			rmdir(m->paths[m->nr]);
		else
			unlink(m->paths[m->nr]);
	}
}

static void made_release(struct made *m)
{
	for (size_t i = 0; i < SL_ARRAY_SIZE(m->paths); i++)
		free(m->paths[i]);
}

/* Make folder `path` unless it is one: 0, or an exit code after saying why. */
static int make_dir(struct made *m, const char *path)
{
	struct stat st;

	if (mkdir(path, 0777) == 0) {
		made_add(m, path, true);
		return 0;
	}
	if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	if (errno == EEXIST)
		cli_error("init: %s exists and is not a folder", path);
	else
		cli_error("init: cannot create the folder %s: %s", path, strerror(errno));
	return CLI_EXIT_FAILED;
}

/* Create `path` (never through a symlink, never over a file) holding `text`. */
static int write_new(struct made *m, const char *path, const char *text)
{
	size_t len = strlen(text), done = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);

	if (fd < 0) {
		cli_error("init: cannot create %s: %s", path, strerror(errno));
		return CLI_EXIT_FAILED;
	}
	made_add(m, path, false);
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			cli_error("init: cannot write %s: %s", path,
			          n < 0 ? strerror(errno) : "no space");
			close(fd);
			return CLI_EXIT_FAILED;
		}
		done += (size_t)n;
	}
	if (close(fd) < 0) {
		cli_error("init: cannot write %s: %s", path, strerror(errno));
		return CLI_EXIT_FAILED;
	}
	return 0;
}

static int run_init(struct cli *cli, int argc, char **argv)
{
	struct sl_strbuf path = SL_STRBUF_INIT, dags = SL_STRBUF_INIT;
	struct made made = {{NULL}, {false}, 0};
	struct cli_args args;
	struct stat st;
	/* In the order they are written; made here, so that a text may come
	 * from a call. */
	const struct init_file files[] = {
	    {"dags/example.yaml", example_dag},
	    {".pre-commit-config.yaml", precommit_config},
	    {"README.md", readme},
	    {"dag.schema.json", sl_dag_schema()},
	};
	const char *dir;
	bool stop;
	int rc = cli_parse_options(cli, &cli_cmd_init, argc, argv, NULL, NULL, &args, &stop);

	if (rc || stop)
		goto out;
	if (args.n > 1) {
		rc = cli_usage_error(&cli_cmd_init, "expected at most one DIR");
		goto out;
	}
	dir = args.n ? args.v[0] : ".";
	if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
		cli_error("init: %s exists and is not a folder", dir);
		rc = CLI_EXIT_FAILED;
		goto out;
	}
	/* Every target first: a refusal writes nothing at all. */
	for (size_t i = 0; i < SL_ARRAY_SIZE(files); i++) {
		sl_strbuf_reset(&path);
		sl_strbuf_addf(&path, "%s/%s", dir, files[i].path);
		if (lstat(path.buf, &st) == 0) {
			cli_error("init: %s exists; nothing was written (sluice init never "
			          "replaces a file)",
			          path.buf);
			rc = CLI_EXIT_FAILED;
			goto out;
		}
		/* ENOTDIR: dags is a file, which make_dir reports. */
		if (errno != ENOENT && errno != ENOTDIR) {
			cli_error("init: cannot check %s: %s", path.buf, strerror(errno));
			rc = CLI_EXIT_FAILED;
			goto out;
		}
	}
	sl_strbuf_addf(&dags, "%s/dags", dir);
	if ((rc = make_dir(&made, dir)) || (rc = make_dir(&made, dags.buf)))
		goto out;
	for (size_t i = 0; i < SL_ARRAY_SIZE(files); i++) {
		sl_strbuf_reset(&path);
		sl_strbuf_addf(&path, "%s/%s", dir, files[i].path);
		if ((rc = write_new(&made, path.buf, files[i].text)))
			goto out;
	}
	made.nr = 0; /* all written: kept whatever follows */
	if (cli->json) {
		json_t *list = json_array();

		for (size_t i = 0; i < SL_ARRAY_SIZE(files); i++)
			json_array_append_new(list, json_string(files[i].path));
		rc = cli_print_json(json_pack("{s:s, s:o}", "dir", dir, "created", list));
	} else {
		printf("Created in %s:\n", dir);
		for (size_t i = 0; i < SL_ARRAY_SIZE(files); i++)
			printf("  %s\n", files[i].path);
		printf("Not done: git init (run it unless %s is in a repository already).\n"
		       "Next: sluice validate %s/dags, then see %s/README.md.\n",
		       dir, dir, dir);
	}
out:
	if (rc)
		made_undo(&made);
	made_release(&made);
	sl_strbuf_release(&path);
	sl_strbuf_release(&dags);
	free(args.v);
	return rc;
}
