/*
 * sluice dags refresh in `sluice`: run sluice-dags-refresh (refresh.h) with
 * the same command line. It is looked for next to this program (a build
 * tree), then in SLUICE_LIBEXECDIR (an installation).
 */
#include "refresh.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "colour.h"
#include "sluice/alloc.h"
#include "sluice/strbuf.h"
#include "sluice/banned.h"

#define HELPER "sluice-dags-refresh"

/* The helper beside this program, else the installed one. */
static char *helper_path(void)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		char *slash, *beside;

		self[n] = '\0';
		slash = strrchr(self, '/');
		beside = sl_xasprintf("%.*s/" HELPER, (int)(slash - self), self);
		if (!access(beside, X_OK))
			return beside;
		free(beside);
	}
	return sl_xstrdup(SLUICE_LIBEXECDIR "/" HELPER);
}

int cli_dags_refresh_run(struct cli *cli, int argc, char **argv)
{
	char **args = sl_xcalloc((size_t)argc + 8, sizeof(*args));
	char *path = helper_path();
	char config[] = "--config", json[] = "--json", never[] = "--color=never",
	     always[] = "--color=always", dags[] = "dags", refresh[] = "refresh";
	size_t n = 0;

	args[n++] = path;
	if (cli->config) {
		args[n++] = config;
		args[n++] = (char *)cli->config;
	}
	if (cli->json)
		args[n++] = json;
	if (cli->colour != CLI_COLOUR_AUTO)
		args[n++] = cli->colour == CLI_COLOUR_NEVER ? never : always;
	args[n++] = dags;
	args[n++] = refresh;
	for (int i = 1; i < argc; i++)
		args[n++] = argv[i];
	execv(path, args);
	cli_error("dags refresh: cannot run %s: %s", path, strerror(errno));
	free(args);
	free(path);
	return CLI_EXIT_FAILED;
}
