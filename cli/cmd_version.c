#include "cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <yaml.h>

#include "sluice_version.h"
#include "sluice/banned.h"

static int run_version(struct cli *cli, int argc, char **argv);

const struct cli_command cli_cmd_version = {
    .path = "version",
    .usage = "",
    .summary = "Print the version of sluice and of the libraries it was built with.",
    .run = run_version,
};

static int run_version(struct cli *cli, int argc, char **argv)
{
	struct cli_args args;
	bool stop;
	int rc = cli_parse_options(cli, &cli_cmd_version, argc, argv, NULL, NULL, &args, &stop);

	if (rc || stop)
		goto out;
	if (args.n) {
		rc = cli_usage_error(&cli_cmd_version, "unexpected argument '%s'", args.v[0]);
		goto out;
	}
	if (cli->json) {
		rc = cli_print_json(json_pack("{s:s, s:s, s:s}", "version", SLUICE_VERSION,
		                              "libyaml", yaml_get_version_string(), "jansson",
		                              jansson_version_str()));
	} else {
		printf("sluice %s (libyaml %s, jansson %s)\n", SLUICE_VERSION,
		       yaml_get_version_string(), jansson_version_str());
	}
out:
	free(args.v);
	return rc;
}
