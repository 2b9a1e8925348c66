#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#include "colour.h"

/* Exit codes (docs/cli.md). */
enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILED = 1,      /* the thing asked about failed or is invalid */
	CLI_EXIT_USAGE = 2,       /* bad command line */
	CLI_EXIT_NOT_FOUND = 3,   /* unknown DAG, run, file */
	CLI_EXIT_UNAVAILABLE = 4, /* cannot reach the database or scheduler */
};

/* Command-specific option codes start here: getopt_long reports positional
 * arguments as 1 and the common options use 0x1000 and up. */
#define CLI_OPT_BASE 0x100

/* Options every command accepts, wherever they appear on the line. */
struct cli {
	const char *config;
	bool json;
	enum cli_colour_mode colour; /* --color (cli/colour.h) */
};

/*
 * One command of the table in main.c. `path` is the words that name it
 * ("dags show"); `usage` is the synopsis after them; `help` the rest of its
 * --help text.
 */
struct cli_command {
	const char *path;
	const char *usage;
	const char *summary;
	const char *help;
	const struct option *options; /* command-specific long options, or NULL */
	int (*run)(struct cli *cli, int argc, char **argv);
};

/* Positional arguments of a command, in order; `v` is freed by the caller. */
struct cli_args {
	char **v;
	int n;
};

/*
 * Parse the command's options. Handles --json, --config and --help itself;
 * for each other option calls `on_option(cli, opt_val, optarg, ctx)`, which
 * returns 0 or an exit code. Positionals are collected in `args` (always
 * allocated, even on error). Returns 0, or the exit code to stop with:
 * CLI_EXIT_OK with `*stop` set after --help, CLI_EXIT_USAGE on a bad option.
 */
int cli_parse_options(struct cli *cli, const struct cli_command *cmd, int argc, char **argv,
                      int (*on_option)(struct cli *, int, const char *, void *), void *ctx,
                      struct cli_args *args, bool *stop);

/* Print `sluice PATH: message` and a pointer to --help; returns CLI_EXIT_USAGE. */
int cli_usage_error(const struct cli_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Print `sluice: message` to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Parse a decimal integer option value within [min, max]. */
int cli_parse_long(const struct cli_command *cmd, const char *flag, const char *value, long min,
                   long max, long *out);

struct sl_config;
struct sl_db;
struct sl_strbuf;

/*
 * Load the configuration: --config FILE, else $SLUICE_CONFIG, else
 * /etc/sluice/sluice.yaml when it exists (the defaults otherwise). Prints
 * every problem as file:line:col. Returns 0 or an exit code; `cfg` is always
 * initialised and must be released.
 */
int cli_config(struct cli *cli, struct sl_config *cfg);

/*
 * Connect to PostgreSQL: $SLUICE_DATABASE_URL, else the configuration's
 * database_url, else libpq's PG* variables. Prints the reason on failure.
 * Returns 0 or an exit code (CLI_EXIT_UNAVAILABLE when the server cannot be
 * reached); `*db` is NULL on failure.
 */
int cli_db_open(struct cli *cli, struct sl_db **db);
/* cli_db_open for shell completion: prints nothing, gives up after about a
 * second (sl_db_connect_quick). */
int cli_db_open_quick(struct cli *cli, struct sl_db **db);

/*
 * The usual start of a database command: parse its options, check that it
 * has from `min` to `max` positionals (else a usage error saying "expected
 * `what`"), connect. Returns 0 or an exit code; `*db` is NULL unless 0 and
 * the command should go on (after --help it returns 0 with `*db` NULL).
 * `args->v` is always allocated and freed by the caller.
 */
int cli_start(struct cli *cli, const struct cli_command *cmd, int argc, char **argv,
              int (*on_option)(struct cli *, int, const char *, void *), void *ctx, int min,
              int max, const char *what, struct cli_args *args, struct sl_db **db);

/*
 * The conf of a run from `--conf-json JSON` and then each `--conf KEY=VALUE`
 * of `pairs`, checked against the DAG's `params` (lib/core/params.c) into the
 * object `conf`. Returns 0 or CLI_EXIT_USAGE after naming the bad option.
 */
struct json_t;
int cli_conf_build(const struct cli_command *cmd, const char *conf_json, const char **pairs,
                   size_t pairs_nr, const struct json_t *params, struct json_t *conf);

/* The exit code of a library return code (SL_EUNAVAIL -> 4, SL_ENOENT -> 3,
 * SL_EINVAL -> 2, other errors -> 1). */
int cli_exit_code(int rc);

/* Print a JSON value to stdout, followed by a newline; takes the reference. */
int cli_print_json(struct json_t *value);

extern const struct cli_command cli_cmd_validate;
extern const struct cli_command cli_cmd_dags_list;
extern const struct cli_command cli_cmd_dags_show;
extern const struct cli_command cli_cmd_dags_next;
extern const struct cli_command cli_cmd_dags_pause;
extern const struct cli_command cli_cmd_dags_unpause;
extern const struct cli_command cli_cmd_dags_errors;
extern const struct cli_command cli_cmd_dags_refresh;
extern const struct cli_command cli_cmd_pools_list;
extern const struct cli_command cli_cmd_pools_set;
extern const struct cli_command cli_cmd_pools_delete;
extern const struct cli_command cli_cmd_workers_list;
extern const struct cli_command cli_cmd_workers_add;
extern const struct cli_command cli_cmd_workers_revoke;
extern const struct cli_command cli_cmd_workers_delete;
extern const struct cli_command cli_cmd_users_add;
extern const struct cli_command cli_cmd_users_list;
extern const struct cli_command cli_cmd_users_delete;
extern const struct cli_command cli_cmd_users_passwd;
extern const struct cli_command cli_cmd_tokens_create;
extern const struct cli_command cli_cmd_tokens_list;
extern const struct cli_command cli_cmd_tokens_revoke;
extern const struct cli_command cli_cmd_audit;
extern const struct cli_command cli_cmd_status;
extern const struct cli_command cli_cmd_trigger;
extern const struct cli_command cli_cmd_runs_list;
extern const struct cli_command cli_cmd_runs_show;
extern const struct cli_command cli_cmd_runs_cancel;
extern const struct cli_command cli_cmd_tasks_clear;
extern const struct cli_command cli_cmd_tasks_mark;
extern const struct cli_command cli_cmd_logs;
extern const struct cli_command cli_cmd_backfill;
extern const struct cli_command cli_cmd_cron;
extern const struct cli_command cli_cmd_db_init;
extern const struct cli_command cli_cmd_db_migrate;
extern const struct cli_command cli_cmd_db_status;
extern const struct cli_command cli_cmd_db_clean;
extern const struct cli_command cli_cmd_test;
extern const struct cli_command cli_cmd_standalone;
extern const struct cli_command cli_cmd_version;
extern const struct cli_command cli_cmd_completion;
extern const struct cli_command cli_cmd_init;
extern const struct cli_command cli_cmd_complete; /* hidden: `__complete`, for the scripts */

/* The commands `sluice --help` lists, in its order (main.c); completion reads it too. */
extern const struct cli_command *const cli_commands[];
extern const size_t cli_commands_nr;

/** Who runs this command, for audit rows: the login name of the effective uid, or "uid:N". */
void cli_actor(struct sl_strbuf *name);

#endif
