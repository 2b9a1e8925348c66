#ifndef SLUICE_CLI_REFRESH_H
#define SLUICE_CLI_REFRESH_H

/*
 * sluice dags refresh, the one command that needs libgit2: its line is in
 * cmd_refresh.c (in `sluice`), its work in refresh_run.c, built into the
 * program sluice-dags-refresh alone, which `sluice` runs (refresh_exec.c).
 * A CLI process that lists runs does not load libgit2 and the libraries it
 * brings (TLS, SSH, Kerberos).
 */

#include "cli.h"

enum {
	OPT_REPO = CLI_OPT_BASE,
	OPT_BRANCH,
	OPT_PATH,
	OPT_STATE_DIR,
};

/* The command's run: the real one in sluice-dags-refresh, an exec of it in
 * sluice. */
int cli_dags_refresh_run(struct cli *cli, int argc, char **argv);

#endif
