/*
 * sluice: the command-line interface. This file only finds the command named
 * on the line; each command lives in its own cmd_*.c.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sluice/banned.h"

/* One command per line, so that adding one is a one-line change. */
/* clang-format off */
const struct cli_command *const cli_commands[] = {
    &cli_cmd_validate,
    &cli_cmd_dags_list,
    &cli_cmd_dags_show,
    &cli_cmd_dags_next,
    &cli_cmd_dags_pause,
    &cli_cmd_dags_unpause,
    &cli_cmd_dags_errors,
    &cli_cmd_dags_refresh,
    &cli_cmd_pools_list,
    &cli_cmd_pools_set,
    &cli_cmd_pools_delete,
    &cli_cmd_workers_list,
    &cli_cmd_workers_add,
    &cli_cmd_workers_revoke,
    &cli_cmd_workers_delete,
    &cli_cmd_users_add,
    &cli_cmd_users_list,
    &cli_cmd_users_delete,
    &cli_cmd_users_passwd,
    &cli_cmd_tokens_create,
    &cli_cmd_tokens_list,
    &cli_cmd_tokens_revoke,
    &cli_cmd_audit,
    &cli_cmd_status,
    &cli_cmd_trigger,
    &cli_cmd_runs_list,
    &cli_cmd_runs_show,
    &cli_cmd_runs_cancel,
    &cli_cmd_tasks_clear,
    &cli_cmd_tasks_mark,
    &cli_cmd_logs,
    &cli_cmd_backfill,
    &cli_cmd_cron,
    &cli_cmd_db_init,
    &cli_cmd_db_migrate,
    &cli_cmd_db_status,
    &cli_cmd_db_clean,
    &cli_cmd_test,
    &cli_cmd_standalone,
    &cli_cmd_version,
    &cli_cmd_completion,
    &cli_cmd_init,
};
/* clang-format on */
const size_t cli_commands_nr = sizeof(cli_commands) / sizeof(cli_commands[0]);

static void print_overview(FILE *out)
{
	fprintf(out, "usage: sluice [--config FILE] [--json] [--color WHEN] COMMAND [ARGS...]\n\n"
	             "sluice is a git-native DAG workflow orchestrator.\n\nCommands:\n");
	for (size_t i = 0; i < cli_commands_nr; i++)
		fprintf(out, "  %-14s %s\n", cli_commands[i]->path, cli_commands[i]->summary);
	fprintf(out, "\nRun 'sluice COMMAND --help' for a command's options.\n");
}

/* How many of argv's words, from `at`, spell `path` ("dags show" = 2). */
static int match_path(const char *path, int argc, char **argv, int at)
{
	int words = 0;

	while (*path) {
		size_t len = strcspn(path, " ");

		if (at + words >= argc || strlen(argv[at + words]) != len ||
		    strncmp(argv[at + words], path, len))
			return 0;
		words++;
		path += len;
		path += strspn(path, " ");
	}
	return words;
}

int main(int argc, char **argv)
{
	struct cli cli = {
	    .config = getenv("SLUICE_CONFIG"), .json = false, .colour = CLI_COLOUR_AUTO};
	int at = 1;

	/* Options before the command name apply to it as if written after it. */
	for (; at < argc && argv[at][0] == '-'; at++) {
		if (!strcmp(argv[at], "--json")) {
			cli.json = true;
		} else if (!strcmp(argv[at], "--config") && at + 1 < argc) {
			cli.config = argv[++at];
		} else if (!strncmp(argv[at], "--config=", 9)) {
			cli.config = argv[at] + 9;
		} else if (!strcmp(argv[at], "--color") || !strncmp(argv[at], "--color=", 8)) {
			const char *when = argv[at][7]     ? argv[at] + 8
			                   : at + 1 < argc ? argv[++at]
			                                   : "";

			if (cli_colour_parse(when, &cli.colour) < 0) {
				fprintf(
				    stderr,
				    "sluice: --color: expected never, auto or always, got '%s'\n"
				    "Try 'sluice --help'.\n",
				    when);
				return CLI_EXIT_USAGE;
			}
		} else if (!strcmp(argv[at], "--help") || !strcmp(argv[at], "-h")) {
			print_overview(stdout);
			return CLI_EXIT_OK;
		} else if (!strcmp(argv[at], "--version")) {
			return cli_cmd_version.run(&cli, 1, argv);
		} else {
			fprintf(stderr, "sluice: unknown option '%s'\nTry 'sluice --help'.\n",
			        argv[at]);
			return CLI_EXIT_USAGE;
		}
	}
	if (at >= argc) {
		print_overview(stderr);
		return CLI_EXIT_USAGE;
	}
	/* Hidden: what the completion scripts call, not a command for people. */
	if (!strcmp(argv[at], cli_cmd_complete.path))
		return cli_cmd_complete.run(&cli, argc - at, argv + at);
	for (size_t i = 0; i < cli_commands_nr; i++) {
		int words = match_path(cli_commands[i]->path, argc, argv, at);

		if (words)
			return cli_commands[i]->run(&cli, argc - at - words + 1,
			                            argv + at + words - 1);
	}
	for (size_t i = 0; i < cli_commands_nr; i++) {
		size_t len = strlen(argv[at]);

		if (!strncmp(cli_commands[i]->path, argv[at], len) &&
		    cli_commands[i]->path[len] == ' ') {
			fprintf(stderr, "sluice %s: missing or unknown subcommand\n", argv[at]);
			print_overview(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	fprintf(stderr, "sluice: unknown command '%s'\nTry 'sluice --help'.\n", argv[at]);
	return CLI_EXIT_USAGE;
}
