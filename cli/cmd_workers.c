/*
 * sluice workers add | revoke: a worker's own credential (docs/security.md,
 * "One identity per worker"). `workers list` is in cmd_status.c, beside
 * `status`, with which it shares its view.
 */
#include "cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/credentials.h"
#include "sluice/dag.h"
#include "sluice/db.h"
#include "sluice/strbuf.h"
#include "sluice/workers.h"
#include "table.h"
#include "sluice/banned.h"

static int run_workers_add(struct cli *cli, int argc, char **argv);
static int run_workers_revoke(struct cli *cli, int argc, char **argv);
static int run_workers_delete(struct cli *cli, int argc, char **argv);

enum { OPT_ROTATE = CLI_OPT_BASE };

static const struct option add_options[] = {
    {"rotate", no_argument, NULL, OPT_ROTATE},
    {NULL, 0, NULL, 0},
};

const struct cli_command cli_cmd_workers_add = {
    .path = "workers add",
    .usage = "NAME [--rotate]",
    .summary = "Make a worker's own credential and print its secret once.",
    .help = "NAME is the worker's name ([A-Za-z0-9_.-], 1 to 200 characters). The secret\n"
            "is printed alone on standard output, once: put it in the worker's token_file\n"
            "(readable by the worker's user only), e.g.\n"
            "  (umask 077; sluice workers add w1 >/etc/sluice/worker-w1.secret)\n"
            "Only its SHA-256 is stored. From then on the scheduler accepts the name w1\n"
            "with this secret only, not with the shared token; a connection of w1 made\n"
            "otherwise is closed.\n\n"
            "Options:\n"
            "  --rotate   replace the worker's active credential (its connection made\n"
            "             with the old secret is closed)\n"
            "\nExit status: 0 ok; 1 the worker already has a credential (without\n"
            "--rotate); 2 usage error; 4 cannot reach PostgreSQL.\n",
    .options = add_options,
    .run = run_workers_add,
};

const struct cli_command cli_cmd_workers_revoke = {
    .path = "workers revoke",
    .usage = "NAME",
    .summary = "Refuse a worker: revoke its credential and close its connection.",
    .help = "The scheduler closes the worker's connection at once and refuses the name\n"
            "from then on, with its old secret or the shared token, until a new\n"
            "'sluice workers add NAME'. Its running attempts are then handled as a lost\n"
            "worker's: failed and retried after heartbeat_timeout. A worker without a\n"
            "credential of its own (it uses the shared token) is refused the same way.\n"
            "Revoking twice is not an error.\n"
            "\nExit status: 0 ok; 2 usage error; 3 no worker or credential of that name;\n"
            "4 cannot reach PostgreSQL.\n",
    .run = run_workers_revoke,
};

const struct cli_command cli_cmd_workers_delete = {
    .path = "workers delete",
    .usage = "NAME",
    .summary = "Forget a worker that is gone for good.",
    .help = "Removes the worker from 'sluice workers list'. Refused while the worker is\n"
            "not gone (connected, or its heartbeat_timeout has not passed since its last\n"
            "heartbeat) or still holds an attempt that may be running. Its attempts keep\n"
            "its name as history. Its credential is left as it is: a worker that still has\n"
            "its secret may connect again and is then listed again; to refuse the name,\n"
            "'sluice workers revoke' it too.\n"
            "\nExit status: 0 deleted; 1 refused (the worker is not gone, or holds\n"
            "attempts); 2 usage error; 3 no worker of that name; 4 cannot reach PostgreSQL.\n",
    .run = run_workers_delete,
};

/*
 * Options and exactly one positional NAME, a protocol id, checked before
 * connecting. Returns an exit code; `*db` is NULL when there is nothing
 * more to do.
 */
static int workers_start(struct cli *cli, const struct cli_command *cmd, int argc, char **argv,
                         int (*on_option)(struct cli *, int, const char *, void *), void *ctx,
                         struct cli_args *args, struct sl_db **db)
{
	bool stop;
	int rc = cli_parse_options(cli, cmd, argc, argv, on_option, ctx, args, &stop);

	*db = NULL;
	if (rc || stop)
		return rc;
	if (args->n > 1)
		return cli_usage_error(cmd, "unexpected argument '%s'", args->v[1]);
	if (args->n < 1)
		return cli_usage_error(cmd, "missing NAME");
	if (!sl_id_valid(args->v[0]))
		return cli_usage_error(
		    cmd,
		    "NAME: '%s' is not a valid worker name ([A-Za-z0-9_.-], 1 to "
		    "200 characters)",
		    args->v[0]);
	return cli_db_open(cli, db);
}

static int on_add_option(struct cli *cli, int opt, const char *arg, void *ctx)
{
	(void)cli;
	(void)arg;
	if (opt != OPT_ROTATE)
		return CLI_EXIT_USAGE;
	*(bool *)ctx = true;
	return CLI_EXIT_OK;
}

static int run_workers_add(struct cli *cli, int argc, char **argv)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	char secret[SL_CREDENTIAL_SECRET_LEN + 1];
	unsigned char hash[SL_CREDENTIAL_HASH_LEN];
	struct cli_args args;
	struct sl_db *db;
	bool rotate = false;
	long rotations = 0;
	int rc = workers_start(cli, &cli_cmd_workers_add, argc, argv, on_add_option, &rotate, &args,
	                       &db);

	if (!db)
		goto out;
	if ((rc = sl_credential_generate(secret, &err)) ||
	    (rc = sl_credential_hash(secret, strlen(secret), hash, &err)) ||
	    (rc = sl_credential_add(db, args.v[0], hash, rotate, &rotations, &err))) {
		rc = cli_db_rc(rc, &err);
		goto out;
	}
	if (cli->json) {
		rc = cli_print_json(json_pack("{s:s, s:s, s:b, s:I}", "worker", args.v[0], "secret",
		                              secret, "rotated", rotations > 0, "rotations",
		                              (json_int_t)rotations));
		goto out;
	}
	/* Only the secret on standard output, so that it can be redirected to a file. */
	fprintf(stderr,
	        "worker %s: %s credential; its secret follows, shown this once (only its "
	        "hash is kept). Put it in the worker's token_file.\n",
	        args.v[0], rotations ? "a new" : "its own");
	printf("%s\n", secret);
out:
	memset(secret, 0, sizeof(secret));
	sl_db_free(db);
	sl_strbuf_release(&err);
	free(args.v);
	return rc;
}

static int run_workers_revoke(struct cli *cli, int argc, char **argv)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct cli_args args;
	struct sl_db *db;
	int rc = workers_start(cli, &cli_cmd_workers_revoke, argc, argv, NULL, NULL, &args, &db);

	if (!db)
		goto out;
	rc = cli_db_rc(sl_credential_revoke(db, args.v[0], &err), &err);
	if (rc)
		goto out;
	if (cli->json)
		rc = cli_print_json(json_pack("{s:s, s:b}", "worker", args.v[0], "revoked", 1));
	else
		printf("worker %s: credential revoked; the scheduler closes its connection and "
		       "refuses the name until 'sluice workers add %s'\n",
		       args.v[0], args.v[0]);
out:
	sl_db_free(db);
	sl_strbuf_release(&err);
	free(args.v);
	return rc;
}

static int run_workers_delete(struct cli *cli, int argc, char **argv)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct cli_args args;
	struct sl_db *db;
	int rc = workers_start(cli, &cli_cmd_workers_delete, argc, argv, NULL, NULL, &args, &db);

	if (!db)
		goto out;
	rc = cli_db_rc(sl_worker_delete(db, args.v[0], &err), &err);
	if (rc)
		goto out;
	if (cli->json)
		rc = cli_print_json(json_pack("{s:s, s:b}", "worker", args.v[0], "deleted", 1));
	else
		printf("worker %s: deleted\n", args.v[0]);
out:
	sl_db_free(db);
	sl_strbuf_release(&err);
	free(args.v);
	return rc;
}
