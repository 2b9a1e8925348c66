/*
 * sluice dags refresh: fetch the DAG repository now and sync its current
 * commit into the database. This file is the command's line (in `sluice`);
 * the work is in refresh_run.c, built into sluice-dags-refresh, the only
 * program of the CLI that loads libgit2 (refresh_exec.c runs it).
 */
#include "refresh.h"

#include "sluice/banned.h"

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
    .run = cli_dags_refresh_run,
};
