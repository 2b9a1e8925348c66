#include "cli.h"

#include <errno.h>
#include <pwd.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "sluice/alloc.h"
#include "sluice/config.h"
#include "sluice/db.h"
#include "sluice/diag.h"
#include "sluice/error.h"
#include "sluice/params.h"
#include "sluice/strbuf.h"
#include "standalone_file.h"
#include "sluice/banned.h"

enum {
	OPT_JSON = 0x1000,
	OPT_CONFIG,
	OPT_HELP,
	OPT_COLOR,
};

static const struct option common_options[] = {
    {"json", no_argument, NULL, OPT_JSON},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"help", no_argument, NULL, OPT_HELP},
    {"color", required_argument, NULL, OPT_COLOR},
};

static void print_help(const struct cli_command *cmd)
{
	printf("usage: sluice %s %s\n\n%s\n", cmd->path, cmd->usage, cmd->summary);
	if (cmd->help && *cmd->help)
		printf("\n%s", cmd->help);
	printf("\nCommon options:\n"
	       "  --json          print machine-readable JSON\n"
	       "  --config FILE   configuration file (default $SLUICE_CONFIG, then "
	       "/etc/sluice/sluice.yaml)\n"
	       "  --color WHEN    colour states: never, auto (on a terminal, unless NO_COLOR\n"
	       "                  is set) or always\n"
	       "  --help          show this help\n");
}

int cli_usage_error(const struct cli_command *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sluice %s: ", cmd->path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'sluice %s --help'.\n", cmd->path);
	return CLI_EXIT_USAGE;
}

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("sluice: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_parse_long(const struct cli_command *cmd, const char *flag, const char *value, long min,
                   long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (errno || end == value || *end || v < min || v > max)
		return cli_usage_error(cmd, "%s: expected an integer from %ld to %ld, got '%s'",
		                       flag, min, max, value);
	*out = v;
	return 0;
}

int cli_print_json(json_t *value)
{
	int rc = json_dumpf(value, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	json_decref(value);
	if (rc < 0) {
		cli_error("cannot write JSON to standard output");
		return CLI_EXIT_FAILED;
	}
	putchar('\n');
	return CLI_EXIT_OK;
}

int cli_parse_options(struct cli *cli, const struct cli_command *cmd, int argc, char **argv,
                      int (*on_option)(struct cli *, int, const char *, void *), void *ctx,
                      struct cli_args *args, bool *stop)
{
	struct option *longopts = NULL;
	size_t n_own = 0, n_common = SL_ARRAY_SIZE(common_options);
	int rc = CLI_EXIT_OK;

	*stop = false;
	while (cmd->options && cmd->options[n_own].name)
		n_own++;
	longopts = sl_xcalloc(n_own + n_common + 1, sizeof(*longopts));
	memcpy(longopts, common_options, sizeof(common_options));
	if (n_own)
		memcpy(longopts + n_common, cmd->options, n_own * sizeof(*longopts));

	/* "-" returns positionals in order (as code 1) so that options may
	 * follow them, as users type them: "validate dir --json". */
	args->v = sl_xcalloc((size_t)argc + 1, sizeof(*args->v));
	args->n = 0;
	optind = 0;
	opterr = 0;
	for (;;) {
		int longindex = -1;
		int c = getopt_long(argc, argv, "-:", longopts, &longindex);

		if (c == -1)
			break;
		if (c == 1) {
			args->v[args->n++] = optarg;
			continue;
		}
		switch (c) {
		case OPT_JSON:
			cli->json = true;
			break;
		case OPT_CONFIG:
			cli->config = optarg;
			break;
		case OPT_COLOR:
			if (cli_colour_parse(optarg, &cli->colour) < 0) {
				rc = cli_usage_error(
				    cmd, "--color: expected never, auto or always, got '%s'",
				    optarg);
				goto out;
			}
			break;
		case OPT_HELP:
			print_help(cmd);
			*stop = true;
			goto out;
		case ':':
			rc = cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
			goto out;
		case '?':
			rc = cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
			goto out;
		default:
			rc = on_option ? on_option(cli, c, optarg, ctx) : CLI_EXIT_USAGE;
			if (rc)
				goto out;
		}
	}
	/* After "--" everything is positional. */
	while (optind < argc)
		args->v[args->n++] = argv[optind++];
out:
	free(longopts);
	return rc;
}

int cli_exit_code(int rc)
{
	switch (rc) {
	case SL_OK:
		return CLI_EXIT_OK;
	case SL_EUNAVAIL:
		return CLI_EXIT_UNAVAILABLE;
	case SL_ENOENT:
		return CLI_EXIT_NOT_FOUND;
	case SL_EINVAL:
		return CLI_EXIT_USAGE;
	default:
		return CLI_EXIT_FAILED;
	}
}

/* cli_config; `quiet` keeps the problems to itself (shell completion). */
static int config_load(struct cli *cli, bool quiet, struct sl_config *cfg)
{
	struct sl_diags diags = SL_DIAGS_INIT;
	const char *path = cli->config && *cli->config ? cli->config : NULL;
	int rc = CLI_EXIT_OK;

	sl_config_init(cfg);
	/* The default file is optional; one the user named is not. */
	if (!path && access(SL_CONFIG_DEFAULT_PATH, F_OK) == 0)
		path = SL_CONFIG_DEFAULT_PATH;
	if (path && sl_config_load(cfg, path, &diags) < 0) {
		if (!quiet) {
			sl_diags_print(&diags, stderr);
			cli_error("invalid configuration file %s", path);
		}
		rc = CLI_EXIT_USAGE;
	}
	sl_diags_release(&diags);
	return rc;
}

int cli_config(struct cli *cli, struct sl_config *cfg)
{
	return config_load(cli, false, cfg);
}

/* A libpq variable that names a database, so the user chose one. */
static bool pg_env_set(void)
{
	static const char *const vars[] = {"PGHOST",     "PGHOSTADDR", "PGPORT",
	                                   "PGDATABASE", "PGUSER",     "PGSERVICE"};

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = getenv(vars[i]);

		if (v && *v)
			return true;
	}
	return false;
}

/* cli_db_open; `quick`: silent, and about a second at most. */
static int db_open(struct cli *cli, bool quick, struct sl_db **db)
{
	struct sl_strbuf err = SL_STRBUF_INIT, found = SL_STRBUF_INIT;
	struct sl_config cfg;
	const char *env = getenv("SLUICE_DATABASE_URL"), *conninfo = NULL;
	int rc = CLI_EXIT_OK;

	*db = NULL;
	/* sl_db_connect reads $SLUICE_DATABASE_URL itself; the configuration
	 * file is only read (and so only required to be valid) without it. */
	if (env && *env) {
		sl_config_init(&cfg);
	} else if ((rc = config_load(cli, quick, &cfg))) {
		goto out;
	} else if (cfg.database_url && *cfg.database_url) {
		conninfo = cfg.database_url;
	} else if (!cli->config && !pg_env_set()) {
		/* Nothing chosen: a running `sluice standalone`, if any. */
		int r = standalone_file_read(&found, &err);

		if (r < 0) {
			if (!quick)
				cli_error("refusing the file of sluice standalone: %s", err.buf);
			rc = CLI_EXIT_FAILED;
			goto out;
		}
		if (r > 0)
			conninfo = found.buf;
	}
	rc = quick ? sl_db_connect_quick(db, conninfo, &err) : sl_db_connect(db, conninfo, &err);
	if (rc < 0 && quick) {
		rc = cli_exit_code(rc);
	} else if (rc < 0) {
		if (found.len) {
			char *path = standalone_file_path();

			sl_strbuf_addf(&err,
			               " (the database of the sluice standalone recorded in %s: "
			               "is it still running?)",
			               path);
			free(path);
		}
		cli_error("%s", err.buf);
		rc = cli_exit_code(rc);
	}
out:
	sl_config_release(&cfg);
	sl_strbuf_release(&err);
	sl_strbuf_release(&found);
	return rc;
}

int cli_db_open(struct cli *cli, struct sl_db **db)
{
	return db_open(cli, false, db);
}

int cli_db_open_quick(struct cli *cli, struct sl_db **db)
{
	return db_open(cli, true, db);
}

int cli_start(struct cli *cli, const struct cli_command *cmd, int argc, char **argv,
              int (*on_option)(struct cli *, int, const char *, void *), void *ctx, int min,
              int max, const char *what, struct cli_args *args, struct sl_db **db)
{
	bool stop;
	int rc = cli_parse_options(cli, cmd, argc, argv, on_option, ctx, args, &stop);

	*db = NULL;
	if (rc || stop)
		return rc;
	if (args->n < min || args->n > max)
		return cli_usage_error(cmd, "expected %s", what);
	return cli_db_open(cli, db);
}

int cli_conf_build(const struct cli_command *cmd, const char *conf_json, const char **pairs,
                   size_t pairs_nr, const json_t *params, json_t *conf)
{
	struct sl_strbuf why = SL_STRBUF_INIT;
	int rc = 0;

	if (conf_json) {
		json_error_t jerr;
		json_t *j = json_loads(conf_json, JSON_REJECT_DUPLICATES, &jerr);

		if (!j)
			sl_strbuf_adds(&why, jerr.text);
		else
			sl_params_set_json(conf, params, j, &why);
		json_decref(j);
		if (why.len)
			rc = cli_usage_error(cmd, "--conf-json: %s", why.buf);
	}
	for (size_t i = 0; !rc && i < pairs_nr; i++) {
		const char *eq = strchr(pairs[i], '=');
		char *key;

		if (!eq || eq == pairs[i]) {
			rc = cli_usage_error(cmd, "--conf %s: expected KEY=VALUE", pairs[i]);
			break;
		}
		key = sl_xstrndup(pairs[i], (size_t)(eq - pairs[i]));
		if (sl_params_set_text(conf, params, key, eq + 1, &why) < 0)
			rc = cli_usage_error(cmd, "--conf %s: %s", pairs[i], why.buf);
		free(key);
	}
	sl_strbuf_release(&why);
	return rc;
}

/* The login name of the effective uid, or "uid:N" when it has none. */
void cli_actor(struct sl_strbuf *name)
{
	uid_t uid = geteuid();
	struct passwd *pw = getpwuid(uid);

	if (pw && pw->pw_name && *pw->pw_name)
		sl_strbuf_adds(name, pw->pw_name);
	else
		sl_strbuf_addf(name, "uid:%lu", (unsigned long)uid);
}
