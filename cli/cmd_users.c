/*
 * sluice users add | list | delete, tokens create | list | revoke, audit:
 * the accounts of the web UI and the HTTP API (docs/security.md,
 * "Accounts, tokens and the audit log"). Each change is audited as made by
 * the login name of the effective uid, via the CLI.
 */
#include "cli.h"

#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/accounts.h"
#include "sluice/actions_json.h"
#include "sluice/dag.h"
#include "sluice/db.h"
#include "sluice/strbuf.h"
#include "sluice/views.h"
#include "table.h"
#include "sluice/banned.h"

static int run_users_add(struct cli *cli, int argc, char **argv);
static int run_users_list(struct cli *cli, int argc, char **argv);
static int run_users_delete(struct cli *cli, int argc, char **argv);
static int run_users_passwd(struct cli *cli, int argc, char **argv);
static int run_tokens_create(struct cli *cli, int argc, char **argv);
static int run_tokens_list(struct cli *cli, int argc, char **argv);
static int run_tokens_revoke(struct cli *cli, int argc, char **argv);
static int run_audit(struct cli *cli, int argc, char **argv);

enum { OPT_ROLE = CLI_OPT_BASE, OPT_LIMIT };

static const struct option add_options[] = {
    {"role", required_argument, NULL, OPT_ROLE},
    {NULL, 0, NULL, 0},
};

const struct cli_command cli_cmd_users_add = {
    .path = "users add",
    .usage = "NAME --role viewer|operator|admin",
    .summary = "Create an account of the web UI and the HTTP API.",
    .help = "NAME is an id ([A-Za-z0-9_.-], 1 to 200 characters). The password is the\n"
            "first line of standard input (8 to 1024 bytes), e.g.\n"
            "  read -rs pw && printf '%s\\n' \"$pw\" | sluice users add ada --role operator\n"
            "Only its argon2id hash is stored. A viewer reads; an operator also triggers,\n"
            "cancels, clears, marks and pauses; an admin also manages pools, users and\n"
            "tokens. The change is written to the audit log.\n\n"
            "Options:\n"
            "  --role ROLE   viewer, operator or admin (required)\n"
            "\nExit status: 0 ok; 1 the user already exists; 2 usage error (a bad name,\n"
            "role or password); 4 cannot reach PostgreSQL.\n",
    .options = add_options,
    .run = run_users_add,
};

const struct cli_command cli_cmd_users_list = {
    .path = "users list",
    .usage = "",
    .summary = "List the accounts: name, role, created, active tokens.",
    .help = "Passwords are never shown (only their hashes are stored).\n"
            "\nExit status: 0 ok; 2 usage error; 4 cannot reach PostgreSQL.\n",
    .run = run_users_list,
};

const struct cli_command cli_cmd_users_delete = {
    .path = "users delete",
    .usage = "NAME",
    .summary = "Delete an account and its API tokens.",
    .help = "The audit log keeps the rows that name the user.\n"
            "\nExit status: 0 ok; 2 usage error; 3 no such user; 4 cannot reach\n"
            "PostgreSQL.\n",
    .run = run_users_delete,
};

const struct cli_command cli_cmd_users_passwd = {
    .path = "users passwd",
    .usage = "NAME",
    .summary = "Give an account a new password and sign it out of the web UI.",
    .help = "The new password is the first line of standard input (8 to 1024 bytes), as\n"
            "for users add. Every web UI session of the account ends (whoever signed in\n"
            "with the old password must sign in again); its API tokens stay (revoke them\n"
            "with tokens revoke). The change is written to the audit log.\n"
            "\nExit status: 0 ok; 2 usage error (a bad name or password); 3 no such user;\n"
            "4 cannot reach PostgreSQL.\n",
    .run = run_users_passwd,
};

const struct cli_command cli_cmd_tokens_create = {
    .path = "tokens create",
    .usage = "USER",
    .summary = "Make an API bearer token for a user and print it once.",
    .help = "The token acts with USER's role. It is printed once, on the last line of\n"
            "standard output (with --json, as \"token\"); only its SHA-256 is stored, so\n"
            "a lost token cannot be shown again: revoke it and create another.\n"
            "\nExit status: 0 ok; 2 usage error; 3 no such user; 4 cannot reach\n"
            "PostgreSQL.\n",
    .run = run_tokens_create,
};

const struct cli_command cli_cmd_tokens_list = {
    .path = "tokens list",
    .usage = "",
    .summary = "List the API tokens: id, user, created, revoked, last used.",
    .help = "Tokens are never shown (only their hashes are stored).\n"
            "\nExit status: 0 ok; 2 usage error; 4 cannot reach PostgreSQL.\n",
    .run = run_tokens_list,
};

const struct cli_command cli_cmd_tokens_revoke = {
    .path = "tokens revoke",
    .usage = "ID",
    .summary = "Revoke an API token.",
    .help = "ID is the token's id from 'sluice tokens list'. Revoking twice is not an\n"
            "error.\n"
            "\nExit status: 0 ok; 2 usage error; 3 no such token; 4 cannot reach\n"
            "PostgreSQL.\n",
    .run = run_tokens_revoke,
};

static const struct option audit_options[] = {
    {"limit", required_argument, NULL, OPT_LIMIT},
    {NULL, 0, NULL, 0},
};

const struct cli_command cli_cmd_audit = {
    .path = "audit",
    .usage = "[--limit N]",
    .summary = "Who changed what, through the CLI or the web, newest first.",
    .help = "Options:\n"
            "  --limit N   at most N rows (1 to 100000; default 50)\n"
            "\nExit status: 0 ok; 2 usage error; 4 cannot reach PostgreSQL.\n",
    .options = audit_options,
    .run = run_audit,
};

/* Exactly one positional, a valid id named `what`. */
static int one_id(const struct cli_command *cmd, const struct cli_args *args, const char *what)
{
	if (args->n > 1)
		return cli_usage_error(cmd, "unexpected argument '%s'", args->v[1]);
	if (args->n < 1)
		return cli_usage_error(cmd, "missing %s", what);
	if (!sl_id_valid(args->v[0]))
		return cli_usage_error(
		    cmd,
		    "%s: '%s' is not a valid user name ([A-Za-z0-9_.-], 1 to 200 "
		    "characters)",
		    what, args->v[0]);
	return CLI_EXIT_OK;
}

struct add_opts {
	const char *role;
};

static int on_add_option(struct cli *cli, int opt, const char *arg, void *ctx)
{
	(void)cli;
	if (opt != OPT_ROLE)
		return CLI_EXIT_USAGE;
	((struct add_opts *)ctx)->role = arg;
	return CLI_EXIT_OK;
}

/*
 * The first line of standard input, without its line end, into `pw`.
 * Returns an exit code after naming the problem.
 */
static int read_password(const struct cli_command *cmd, struct sl_strbuf *pw)
{
	int c;

	while ((c = getchar()) != EOF && c != '\n') {
		if (pw->len > SL_PASSWORD_MAX)
			break;
		sl_strbuf_addch(pw, (char)c);
	}
	if (pw->len && pw->buf[pw->len - 1] == '\r')
		sl_strbuf_setlen(pw, pw->len - 1);
	if (pw->len < SL_PASSWORD_MIN || pw->len > SL_PASSWORD_MAX)
		return cli_usage_error(cmd,
		                       "the password (first line of standard input) must have "
		                       "from %d to %d bytes",
		                       SL_PASSWORD_MIN, SL_PASSWORD_MAX);
	return CLI_EXIT_OK;
}

/*
 * Read a password from standard input and store it for user `name`: a
 * new user with `*role`, or (role NULL) a new password of an existing one.
 * The clear password lives no longer than this needs it.
 */
static int store_password(struct cli *cli, const struct cli_command *cmd, const char *name,
                          const enum sl_role *role)
{
	struct sl_strbuf err = SL_STRBUF_INIT, pw = SL_STRBUF_INIT, actor = SL_STRBUF_INIT;
	struct sl_db *db = NULL;
	int rc;

	if ((rc = read_password(cmd, &pw)) || (rc = cli_db_open(cli, &db)))
		goto out;
	cli_actor(&actor);
	{
		const struct sl_actor who = {actor.buf, "cli"};

		rc = cli_db_rc(role ? sl_user_add(db, &who, name, *role, pw.buf, pw.len, &err)
		                    : sl_user_set_password(db, &who, name, pw.buf, pw.len, &err),
		               &err);
	}
out:
	if (pw.len)
		explicit_bzero(pw.buf, pw.len);
	sl_db_free(db);
	sl_strbuf_release(&actor);
	sl_strbuf_release(&pw);
	sl_strbuf_release(&err);
	return rc;
}

static int run_users_add(struct cli *cli, int argc, char **argv)
{
	const struct cli_command *cmd = &cli_cmd_users_add;
	struct add_opts opts = {NULL};
	struct cli_args args;
	enum sl_role role;
	bool stop;
	int rc = cli_parse_options(cli, cmd, argc, argv, on_add_option, &opts, &args, &stop);

	if (rc || stop || (rc = one_id(cmd, &args, "NAME")))
		goto out;
	if (!opts.role) {
		rc = cli_usage_error(cmd, "missing --role (viewer, operator or admin)");
		goto out;
	}
	if (!sl_role_parse(opts.role, &role)) {
		rc = cli_usage_error(cmd, "--role: '%s' is not viewer, operator or admin",
		                     opts.role);
		goto out;
	}
	if ((rc = store_password(cli, cmd, args.v[0], &role)))
		goto out;
	if (cli->json)
		rc = cli_print_json(
		    json_pack("{s:s, s:s}", "user", args.v[0], "role", sl_role_name(role)));
	else
		printf("user %s: created with role %s\n", args.v[0], sl_role_name(role));
out:
	free(args.v);
	return rc;
}

/* An instant of a view's column `col` as ISO 8601 UTC, "-" when NULL. */
static void add_time(struct cli_table *table, const struct sl_rows *res, int row, int col)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;

	if (sl_rows_null(res, row, col)) {
		cli_table_add(table, "-");
		return;
	}
	cli_fmt_time(&sb, sl_rows_int(res, row, col, 0), NULL);
	cli_table_add_buf(table, &sb);
	sl_strbuf_release(&sb);
}

/*
 * A listing: its options (no positional), its view `read` (given `limit`),
 * a header, and `row` adding each row to the table and returning its JSON.
 */
struct listing {
	const struct cli_command *cmd;
	int (*on_option)(struct cli *, int, const char *, void *);
	int (*read)(struct sl_db *, long, struct sl_rows **, struct sl_strbuf *);
	const char *header[6]; /* NULL after the last */
	size_t align_right;    /* the column aligned right */
	json_t *(*row)(struct cli_table *, const struct sl_rows *, int);
};

static int run_list(struct cli *cli, const struct listing *l, int argc, char **argv)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct cli_table table = CLI_TABLE_INIT;
	struct sl_rows *res = NULL;
	json_t *list = json_array();
	struct cli_args args;
	struct sl_db *db;
	long limit = 50;
	int rc = cli_start(cli, l->cmd, argc, argv, l->on_option, &limit, 0, 0, "no argument",
	                   &args, &db);

	if (!db || (rc = cli_db_rc(l->read(db, limit, &res, &err), &err)))
		goto out;
	/* The list ends at the first NULL: a shorter header leaves the rest NULL. */
	cli_table_header(&table, l->header[0], l->header[1], l->header[2], l->header[3],
	                 l->header[4], l->header[5], NULL);
	cli_table_align_right(&table, l->align_right);
	for (int row = 0; row < sl_rows_nr(res); row++)
		json_array_append_new(list, l->row(&table, res, row));
	rc = cli_print_list(cli, &table, list);
	list = NULL;
out:
	json_decref(list);
	cli_table_release(&table);
	sl_rows_free(res);
	sl_db_free(db);
	sl_strbuf_release(&err);
	free(args.v);
	return rc;
}

/* The rows of the listings, as sluice/actions_json.h has their columns. */
static json_t *user_row(struct cli_table *table, const struct sl_rows *res, int row)
{
	cli_table_add(table, sl_rows_value(res, row, SL_USERS_COL_NAME));
	cli_table_add(table, sl_rows_value(res, row, SL_USERS_COL_ROLE));
	add_time(table, res, row, SL_USERS_COL_CREATED);
	cli_table_add(table, sl_rows_value(res, row, SL_USERS_COL_TOKENS));
	return sl_user_row_json(res, row);
}

static int read_users(struct sl_db *db, long limit, struct sl_rows **res, struct sl_strbuf *err)
{
	(void)limit;
	return sl_view_users(db, res, err);
}

static int run_users_list(struct cli *cli, int argc, char **argv)
{
	static const struct listing l = {&cli_cmd_users_list,
	                                 NULL,
	                                 read_users,
	                                 {"USER", "ROLE", "CREATED", "TOKENS"},
	                                 3,
	                                 user_row};

	return run_list(cli, &l, argc, argv);
}

/*
 * A change by the CLI's actor: exactly one positional checked by `check`,
 * connect, then `fn`. Prints `done` (a format of the positional) or, with
 * --json, {key: positional, what: true}.
 */
static int run_change(struct cli *cli, const struct cli_command *cmd, int argc, char **argv,
                      int (*check)(const struct cli_command *, const struct cli_args *),
                      int (*fn)(struct sl_db *, const struct sl_actor *, const char *,
                                struct sl_strbuf *),
                      const char *key, const char *what, const char *done)
{
	struct sl_strbuf err = SL_STRBUF_INIT, actor = SL_STRBUF_INIT;
	struct cli_args args;
	struct sl_db *db = NULL;
	bool stop;
	int rc = cli_parse_options(cli, cmd, argc, argv, NULL, NULL, &args, &stop);

	if (rc || stop || (rc = check(cmd, &args)) || (rc = cli_db_open(cli, &db)))
		goto out;
	cli_actor(&actor);
	rc = cli_db_rc(fn(db, &(struct sl_actor){actor.buf, "cli"}, args.v[0], &err), &err);
	if (rc)
		goto out;
	if (cli->json)
		rc = cli_print_json(json_pack("{s:s, s:b}", key, args.v[0], what, 1));
	else
		printf(done, args.v[0]);
out:
	sl_db_free(db);
	sl_strbuf_release(&actor);
	sl_strbuf_release(&err);
	free(args.v);
	return rc;
}

static int check_user(const struct cli_command *cmd, const struct cli_args *args)
{
	return one_id(cmd, args, cmd == &cli_cmd_users_delete ? "NAME" : "USER");
}

static int run_users_delete(struct cli *cli, int argc, char **argv)
{
	return run_change(cli, &cli_cmd_users_delete, argc, argv, check_user, sl_user_delete,
	                  "user", "deleted", "user %s: deleted, with its tokens\n");
}

static int run_users_passwd(struct cli *cli, int argc, char **argv)
{
	const struct cli_command *cmd = &cli_cmd_users_passwd;
	struct cli_args args;
	bool stop;
	int rc = cli_parse_options(cli, cmd, argc, argv, NULL, NULL, &args, &stop);

	if (rc || stop || (rc = one_id(cmd, &args, "NAME")) ||
	    (rc = store_password(cli, cmd, args.v[0], NULL)))
		goto out;
	if (cli->json)
		rc = cli_print_json(json_pack("{s:s, s:b}", "user", args.v[0], "signed_out", 1));
	else
		printf("user %s: new password; its web sessions ended\n", args.v[0]);
out:
	free(args.v);
	return rc;
}

static int run_tokens_create(struct cli *cli, int argc, char **argv)
{
	const struct cli_command *cmd = &cli_cmd_tokens_create;
	struct sl_strbuf err = SL_STRBUF_INIT, actor = SL_STRBUF_INIT;
	char token[SL_TOKEN_LEN + 1] = "";
	struct cli_args args;
	struct sl_db *db = NULL;
	int64_t id = 0;
	bool stop;
	int rc = cli_parse_options(cli, cmd, argc, argv, NULL, NULL, &args, &stop);

	if (rc || stop || (rc = check_user(cmd, &args)) || (rc = cli_db_open(cli, &db)))
		goto out;
	cli_actor(&actor);
	rc = cli_db_rc(
	    sl_token_create(db, &(struct sl_actor){actor.buf, "cli"}, args.v[0], token, &id, &err),
	    &err);
	if (rc)
		goto out;
	if (cli->json) {
		rc = cli_print_json(json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "user",
		                              args.v[0], "token", token));
		goto out;
	}
	/* The token alone on the last line, so that `| tail -n 1` keeps it. */
	printf("token %lld for user %s; it follows, shown this once (only its hash is kept):\n"
	       "%s\n",
	       (long long)id, args.v[0], token);
out:
	explicit_bzero(token, sizeof(token));
	sl_db_free(db);
	sl_strbuf_release(&actor);
	sl_strbuf_release(&err);
	free(args.v);
	return rc;
}

static json_t *token_row(struct cli_table *table, const struct sl_rows *res, int row)
{
	cli_table_add(table, sl_rows_value(res, row, SL_TOKENS_COL_ID));
	cli_table_add(table, sl_rows_value(res, row, SL_TOKENS_COL_USER));
	add_time(table, res, row, SL_TOKENS_COL_CREATED);
	add_time(table, res, row, SL_TOKENS_COL_REVOKED);
	add_time(table, res, row, SL_TOKENS_COL_USED);
	return sl_token_row_json(res, row);
}

static int read_tokens(struct sl_db *db, long limit, struct sl_rows **res, struct sl_strbuf *err)
{
	(void)limit;
	return sl_view_tokens(db, res, err);
}

static int run_tokens_list(struct cli *cli, int argc, char **argv)
{
	static const struct listing l = {&cli_cmd_tokens_list,
	                                 NULL,
	                                 read_tokens,
	                                 {"ID", "USER", "CREATED", "REVOKED", "LAST USED"},
	                                 0,
	                                 token_row};

	return run_list(cli, &l, argc, argv);
}

static int check_token_id(const struct cli_command *cmd, const struct cli_args *args)
{
	long id;

	if (args->n > 1)
		return cli_usage_error(cmd, "unexpected argument '%s'", args->v[1]);
	if (args->n < 1)
		return cli_usage_error(cmd, "missing ID");
	return cli_parse_long(cmd, "ID", args->v[0], 1, LONG_MAX, &id);
}

static int revoke_token(struct sl_db *db, const struct sl_actor *who, const char *id,
                        struct sl_strbuf *err)
{
	return sl_token_revoke(db, who, strtoll(id, NULL, 10), err);
}

static int run_tokens_revoke(struct cli *cli, int argc, char **argv)
{
	return run_change(cli, &cli_cmd_tokens_revoke, argc, argv, check_token_id, revoke_token,
	                  "id", "revoked", "token %s: revoked\n");
}

static int on_audit_option(struct cli *cli, int opt, const char *arg, void *ctx)
{
	(void)cli;
	if (opt != OPT_LIMIT)
		return CLI_EXIT_USAGE;
	return cli_parse_long(&cli_cmd_audit, "--limit", arg, 1, 100000, ctx);
}

static json_t *audit_row(struct cli_table *table, const struct sl_rows *res, int row)
{
	cli_table_add(table, sl_rows_value(res, row, SL_AUDIT_COL_ID));
	add_time(table, res, row, SL_AUDIT_COL_AT);
	for (int col = SL_AUDIT_COL_ACTOR; col <= SL_AUDIT_COL_TARGET; col++)
		cli_table_add(table, sl_rows_value(res, row, col));
	return sl_audit_row_json(res, row);
}

static int run_audit(struct cli *cli, int argc, char **argv)
{
	static const struct listing l = {&cli_cmd_audit,
	                                 on_audit_option,
	                                 sl_view_audit,
	                                 {"ID", "AT", "WHO", "VIA", "ACTION", "TARGET"},
	                                 0,
	                                 audit_row};

	return run_list(cli, &l, argc, argv);
}
