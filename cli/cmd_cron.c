#include "cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sluice/civil.h"
#include "sluice/cron.h"
#include "sluice/strbuf.h"
#include "sluice/tz.h"
#include "sluice/banned.h"

static int run_cron(struct cli *cli, int argc, char **argv);

enum { OPT_COUNT = CLI_OPT_BASE, OPT_FROM, OPT_TZ };

static const struct option cron_options[] = {
    {"count", required_argument, NULL, OPT_COUNT},
    {"from", required_argument, NULL, OPT_FROM},
    {"tz", required_argument, NULL, OPT_TZ},
    {NULL, 0, NULL, 0},
};

const struct cli_command cli_cmd_cron = {
    .path = "cron",
    .usage = "EXPR [--count N] [--from ISO] [--tz ZONE]",
    .summary = "Print the next fire times of a cron expression (offline).",
    .help = "EXPR is a 5-field cron expression or a preset (@hourly, @daily, @weekly,\n"
            "@monthly, @yearly). Times are printed one per line in ISO 8601 with the\n"
            "zone's offset; the first is strictly after --from.\n\n"
            "Options:\n"
            "  --count N    how many fire times (1-10000, default 5)\n"
            "  --from ISO   start after this time (default now); without an offset it is\n"
            "               read in --tz\n"
            "  --tz ZONE    IANA time zone (default UTC)\n\n"
            "Exit status: 0 ok; 1 the expression is invalid or never fires; 2 usage\n"
            "error (unknown time zone, bad --count or --from).\n",
    .options = cron_options,
    .run = run_cron,
};

struct cron_opts {
	long count;
	const char *from;
	const char *tz;
};

static int on_cron_option(struct cli *cli, int opt, const char *arg, void *ctx)
{
	struct cron_opts *o = ctx;

	(void)cli;
	switch (opt) {
	case OPT_COUNT:
		return cli_parse_long(&cli_cmd_cron, "--count", arg, 1, 10000, &o->count);
	case OPT_FROM:
		o->from = arg;
		return 0;
	case OPT_TZ:
		o->tz = arg;
		return 0;
	}
	return CLI_EXIT_USAGE;
}

/* Show where in the expression the parser stopped, as compilers do. */
static void print_caret(const char *expr, size_t offset)
{
	fprintf(stderr, "  %s\n  %*s^\n", expr, (int)offset, "");
}

static int run_cron(struct cli *cli, int argc, char **argv)
{
	struct cron_opts o = {.count = 5, .from = NULL, .tz = "UTC"};
	struct sl_strbuf err = SL_STRBUF_INIT, line = SL_STRBUF_INIT;
	struct sl_tz *tz = NULL;
	struct sl_cron cron;
	struct cli_args args;
	json_t *times = NULL;
	int64_t t;
	size_t err_offset = 0;
	bool stop;
	int rc =
	    cli_parse_options(cli, &cli_cmd_cron, argc, argv, on_cron_option, &o, &args, &stop);

	if (rc || stop)
		goto out;
	if (args.n != 1) {
		rc = cli_usage_error(&cli_cmd_cron,
		                     args.n ? "expected one expression, got %d "
		                              "arguments (quote the expression)"
		                            : "missing cron expression",
		                     args.n);
		goto out;
	}
	if (sl_tz_load(&tz, o.tz, &err) < 0) {
		rc = cli_usage_error(&cli_cmd_cron, "--tz: %s", err.buf);
		goto out;
	}
	if (o.from) {
		if (sl_iso_parse(o.from, tz, &t, &err) < 0) {
			rc = cli_usage_error(&cli_cmd_cron, "--from: %s", err.buf);
			goto out;
		}
	} else {
		t = (int64_t)time(NULL);
	}
	if (sl_cron_parse(&cron, args.v[0], &err, &err_offset) < 0) {
		cli_error("invalid cron expression: %s", err.buf);
		print_caret(args.v[0], err_offset);
		rc = CLI_EXIT_FAILED;
		goto out;
	}
	times = json_array();
	for (long i = 0; i < o.count; i++) {
		if (sl_cron_next(&cron, tz, t, &t) < 0) {
			if (!i) {
				cli_error("'%s' does not fire within 400 years", args.v[0]);
				rc = CLI_EXIT_FAILED;
			}
			break;
		}
		sl_strbuf_reset(&line);
		sl_iso_format(&line, t, tz);
		if (cli->json)
			json_array_append_new(times, json_string(line.buf));
		else
			puts(line.buf);
	}
	if (cli->json && !rc) {
		rc = cli_print_json(json_pack("{s:s, s:s, s:O}", "expression", args.v[0],
		                              "timezone", sl_tz_name(tz), "times", times));
	}
out:
	json_decref(times);
	sl_tz_free(tz);
	sl_strbuf_release(&err);
	sl_strbuf_release(&line);
	free(args.v);
	return rc;
}
