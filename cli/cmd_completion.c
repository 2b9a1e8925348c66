/*
 * `sluice completion bash|zsh|fish`: a completion script for the shell,
 * made from the command table (main.c) that runs the commands, so that the
 * two cannot disagree; and the hidden `sluice __complete`, which the scripts
 * call for DAG and run ids.
 *
 * A script is its shell's logic (cli/completion/, compiled in) with the
 * table written in where it says @SLUICE_COMMAND_TABLE@. What completes a
 * command's positional arguments and option values comes from the words of
 * its usage ("DAG RUN_ID|latest", "--role viewer|operator|admin"): see
 * add_kinds.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "completion_scripts.h"
#include "sluice/alloc.h"
#include "sluice/dag.h"
#include "sluice/db.h"
#include "sluice/rules.h"
#include "sluice/runstore.h"
#include "sluice/strbuf.h"
#include "sluice/views.h"
#include "sluice/banned.h"

static int run_completion(struct cli *cli, int argc, char **argv);
static int run_complete(struct cli *cli, int argc, char **argv);

const struct cli_command cli_cmd_completion = {
    .path = "completion",
    .usage = "bash|zsh|fish",
    .summary = "Print a shell completion script.",
    .help = "Completes commands, options, option values, file names, and DAG and run ids\n"
            "(read from the database when it answers within a second or two; nothing\n"
            "otherwise). Packages install the scripts; by hand:\n\n"
            "  bash:  sluice completion bash > ~/.local/share/bash-completion/completions/sluice\n"
            "  zsh:   sluice completion zsh > ~/.zfunc/_sluice   (with ~/.zfunc in $fpath)\n"
            "  fish:  sluice completion fish > ~/.config/fish/completions/sluice.fish\n\n"
            "Exit status: 0 ok; 2 usage error.\n",
    .run = run_completion,
};

/* Not in the table: `sluice --help` does not list it. */
const struct cli_command cli_cmd_complete = {
    .path = "__complete",
    .usage = "dags [PREFIX] | runs DAG [PREFIX]",
    .summary = "Print DAG or run ids for shell completion, one a line.",
    .help = "Prints nothing and exits 0 when the database cannot be reached.\n",
    .run = run_complete,
};

/* The options every command takes (cli_parse_options) and those that may
 * come before the command's name (main.c). */
static const char common_flags[] = "--json --help";
static const char global_flags[] = "--json --help --version";
static const char common_vopts[] = "--config:file --color:=never|=auto|=always";

/* A word of a usage, without its brackets: "[--reset" is "--reset". */
struct token {
	const char *s;
	size_t len;
	bool repeats; /* followed by "..." */
};

struct usage {
	struct token *v;
	size_t nr, alloc;
};

static void usage_parse(struct usage *u, const char *usage)
{
	while (*usage) {
		struct token t = {NULL, 0, false};
		size_t len;

		usage += strspn(usage, " ");
		len = strcspn(usage, " ");
		t.s = usage;
		usage += len;
		while (len && *t.s == '[') {
			t.s++;
			len--;
		}
		for (;;) {
			if (len >= 3 && !strncmp(t.s + len - 3, "...", 3)) {
				t.repeats = true;
				len -= 3;
			} else if (len && t.s[len - 1] == ']') {
				len--;
			} else {
				break;
			}
		}
		if (!len)
			continue;
		t.len = len;
		SL_ALLOC_GROW(u->v, u->nr + 1, u->alloc);
		u->v[u->nr++] = t;
	}
}

static bool is_word(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!(s[i] >= 'a' && s[i] <= 'z') && s[i] != '_' && s[i] != '-')
			return false;
	return len > 0;
}

static bool spelled(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && !strncmp(s, word, len);
}

/*
 * What completes a metavariable of a usage, as the scripts read it: its
 * alternatives ("RUN_ID|latest") each become a kind, joined by '|'. DAG and
 * RUN_ID are ids from the database (RUN_ID only when the DAG is the first
 * argument: the scripts ask for the runs of that one); FILE and PATH are
 * file names; DIR and REPO directories; STATE a run state; a lowercase word
 * is itself; anything else ("N", "ISO") has nothing to offer, "-".
 */
static void add_kinds(struct sl_strbuf *out, const char *s, size_t len, bool dag_first)
{
	size_t start = out->len;

	while (len) {
		size_t n = 0;

		while (n < len && s[n] != '|')
			n++;
		if (out->len > start)
			sl_strbuf_addch(out, '|');
		if (spelled(s, n, "DAG")) {
			sl_strbuf_adds(out, "dag");
		} else if (spelled(s, n, "RUN_ID") && dag_first) {
			sl_strbuf_adds(out, "run");
		} else if (spelled(s, n, "FILE") || spelled(s, n, "PATH")) {
			sl_strbuf_adds(out, "file");
		} else if (spelled(s, n, "DIR") || spelled(s, n, "REPO")) {
			sl_strbuf_adds(out, "dir");
		} else if (spelled(s, n, "STATE")) {
			for (int st = SL_RUN_QUEUED; st <= SL_RUN_CANCELLED; st++)
				sl_strbuf_addf(out, "%s=%s", st == SL_RUN_QUEUED ? "" : "|",
				               sl_run_state_name((enum sl_run_state)st));
		} else if (is_word(s, n)) {
			sl_strbuf_addf(out, "=%.*s", (int)n, s);
		} else {
			/* Nothing to offer: drop the separator added for it. */
			sl_strbuf_setlen(out, out->len > start ? out->len - 1 : start);
		}
		s += n;
		len -= n;
		if (len) {
			s++;
			len--;
		}
	}
	if (out->len == start)
		sl_strbuf_addch(out, '-');
}

/* One command's part of the table. */
struct spec {
	struct sl_strbuf flags; /* "--json --help --dot" */
	struct sl_strbuf vopts; /* "--config:file --count:-" */
	struct sl_strbuf args;  /* "dag run|=latest -..." */
};

static void spec_init(struct spec *sp)
{
	sl_strbuf_init(&sp->flags);
	sl_strbuf_init(&sp->vopts);
	sl_strbuf_init(&sp->args);
}

static void spec_release(struct spec *sp)
{
	sl_strbuf_release(&sp->flags);
	sl_strbuf_release(&sp->vopts);
	sl_strbuf_release(&sp->args);
}

static const struct option *find_option(const struct cli_command *cmd, const char *s, size_t len)
{
	for (const struct option *o = cmd->options; o && o->name; o++)
		if (spelled(s, len, o->name))
			return o;
	return NULL;
}

static void spec_build(struct spec *sp, const struct cli_command *cmd)
{
	struct usage u = {NULL, 0, 0};
	bool dag_first = false;

	usage_parse(&u, cmd->usage);
	sl_strbuf_adds(&sp->flags, common_flags);
	sl_strbuf_adds(&sp->vopts, common_vopts);
	for (const struct option *o = cmd->options; o && o->name; o++) {
		const char *meta = "-";
		size_t meta_len = 1;

		if (o->has_arg != required_argument) {
			sl_strbuf_addf(&sp->flags, " --%s", o->name);
			continue;
		}
		/* Its metavariable is the word after it in the usage. */
		for (size_t i = 0; i + 1 < u.nr; i++) {
			if (u.v[i].len > 2 && !strncmp(u.v[i].s, "--", 2) &&
			    spelled(u.v[i].s + 2, u.v[i].len - 2, o->name)) {
				meta = u.v[i + 1].s;
				meta_len = u.v[i + 1].len;
				break;
			}
		}
		sl_strbuf_addf(&sp->vopts, " --%s:", o->name);
		add_kinds(&sp->vopts, meta, meta_len, false);
	}
	for (size_t i = 0; i < u.nr; i++) {
		const struct token *t = &u.v[i];
		const struct option *o;

		/* "PATH... | --print-schema": another form of the command; the
		 * positionals are the first form's (options come from the table). */
		if (t->len == 1 && t->s[0] == '|')
			break;
		if (t->s[0] == '-') {
			o = t->len > 2 ? find_option(cmd, t->s + 2, t->len - 2) : NULL;
			if (o && o->has_arg == required_argument)
				i++; /* its metavariable */
			continue;
		}
		if (sp->args.len)
			sl_strbuf_addch(&sp->args, ' ');
		else
			dag_first = spelled(t->s, strcspn(t->s, "|] "), "DAG");
		add_kinds(&sp->args, t->s, t->len, dag_first);
		if (t->repeats)
			sl_strbuf_adds(&sp->args, "...");
	}
	free(u.v);
}

/* The table in bash's and zsh's syntax (the same here). */
static void table_sh(struct sl_strbuf *out)
{
	sl_strbuf_adds(out, "_sluice_paths='");
	for (size_t i = 0; i < cli_commands_nr; i++)
		sl_strbuf_addf(out, "%s%s", i ? "\n" : "", cli_commands[i]->path);
	sl_strbuf_adds(out, "'\n\n_sluice_spec() {\n\tcase $1 in\n");
	sl_strbuf_addf(out, "\t'') flags='%s' vopts='%s' args='' ;;\n", global_flags, common_vopts);
	for (size_t i = 0; i < cli_commands_nr; i++) {
		struct spec sp;

		spec_init(&sp);
		spec_build(&sp, cli_commands[i]);
		sl_strbuf_addf(out, "\t'%s') flags='%s' vopts='%s' args='%s' ;;\n",
		               cli_commands[i]->path, sp.flags.buf, sp.vopts.buf, sp.args.buf);
		spec_release(&sp);
	}
	sl_strbuf_adds(out, "\t*) return 1 ;;\n\tesac\n}");
}

/* `set -g NAME` and the words of `list` (space-separated), each quoted. */
static void fish_list(struct sl_strbuf *out, const char *name, const char *list)
{
	sl_strbuf_addf(out, "            set -g %s", name);
	while (*list) {
		size_t n = strcspn(list, " ");

		if (n)
			sl_strbuf_addf(out, " '%.*s'", (int)n, list);
		list += n;
		list += strspn(list, " ");
	}
	sl_strbuf_addch(out, '\n');
}

static void table_fish(struct sl_strbuf *out)
{
	sl_strbuf_adds(out, "set -g __sluice_paths");
	for (size_t i = 0; i < cli_commands_nr; i++)
		sl_strbuf_addf(out, " '%s'", cli_commands[i]->path);
	sl_strbuf_adds(out,
	               "\n\nfunction __sluice_spec\n    switch \"$argv[1]\"\n        case ''\n");
	fish_list(out, "__sluice_f", global_flags);
	fish_list(out, "__sluice_v", common_vopts);
	fish_list(out, "__sluice_a", "");
	for (size_t i = 0; i < cli_commands_nr; i++) {
		struct spec sp;

		spec_init(&sp);
		spec_build(&sp, cli_commands[i]);
		sl_strbuf_addf(out, "        case '%s'\n", cli_commands[i]->path);
		fish_list(out, "__sluice_f", sp.flags.buf);
		fish_list(out, "__sluice_v", sp.vopts.buf);
		fish_list(out, "__sluice_a", sp.args.buf);
		spec_release(&sp);
	}
	/* The status is said: fish's switch does not pass on its case's. */
	sl_strbuf_adds(out, "        case '*'\n            return 1\n    end\n    return 0\nend");
}

/* Whether every word the table is made of may go between single quotes. */
static bool quotable(void)
{
	for (size_t i = 0; i < cli_commands_nr; i++) {
		const struct cli_command *cmd = cli_commands[i];

		if (strpbrk(cmd->path, "'\\") || strpbrk(cmd->usage, "'\\"))
			return false;
		for (const struct option *o = cmd->options; o && o->name; o++)
			if (strpbrk(o->name, "'\\"))
				return false;
	}
	return true;
}

static int run_completion(struct cli *cli, int argc, char **argv)
{
	static const char marker[] = "# @SLUICE_COMMAND_TABLE@";
	struct sl_strbuf table = SL_STRBUF_INIT;
	struct cli_args args;
	const char *logic = NULL, *at;
	bool stop;
	int rc = cli_parse_options(cli, &cli_cmd_completion, argc, argv, NULL, NULL, &args, &stop);

	if (rc || stop)
		goto out;
	if (args.n != 1) {
		rc = cli_usage_error(&cli_cmd_completion, "expected one shell: bash, zsh or fish");
		goto out;
	}
	if (!strcmp(args.v[0], "bash") || !strcmp(args.v[0], "zsh")) {
		logic = !strcmp(args.v[0], "bash") ? completion_bash : completion_zsh;
		table_sh(&table);
	} else if (!strcmp(args.v[0], "fish")) {
		logic = completion_fish;
		table_fish(&table);
	} else {
		rc = cli_usage_error(&cli_cmd_completion,
		                     "unknown shell '%s': expected bash, zsh or fish", args.v[0]);
		goto out;
	}
	/* The table is quoted with '...' in the scripts: made of our own words,
	 * never a quote; and each script has the line for it. Else a bug. */
	at = strstr(logic, marker);
	if (!quotable() || !at) {
		fputs("BUG: completion: a quote or backslash in the command table, or no "
		      "table line in the script\n",
		      stderr);
		abort();
	}
	if (fwrite(logic, 1, (size_t)(at - logic), stdout) != (size_t)(at - logic) ||
	    fputs(table.buf, stdout) == EOF || fputs(at + strlen(marker), stdout) == EOF ||
	    fflush(stdout) == EOF) {
		cli_error("cannot write the script to standard output");
		rc = CLI_EXIT_FAILED;
	}
out:
	sl_strbuf_release(&table);
	free(args.v);
	return rc;
}

/*
 * The ids are typed into the user's command line: only those that are
 * valid ids are printed, so nothing a shell would read as syntax (the
 * database is trusted, but it is not the place to decide that).
 */
static int run_complete(struct cli *cli, int argc, char **argv)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_rows *rows = NULL;
	struct sl_db *db = NULL;
	struct cli_args args;
	bool stop, dags;
	int rc = cli_parse_options(cli, &cli_cmd_complete, argc, argv, NULL, NULL, &args, &stop);

	if (rc || stop)
		goto out;
	dags = args.n >= 1 && !strcmp(args.v[0], "dags");
	if (!(dags && args.n <= 2) && !(args.n >= 2 && args.n <= 3 && !strcmp(args.v[0], "runs"))) {
		rc = cli_usage_error(&cli_cmd_complete,
		                     "expected dags [PREFIX] or runs DAG [PREFIX]");
		goto out;
	}
	/* No database, no ids: the shell offers nothing, and says nothing. */
	if (cli_db_open_quick(cli, &db))
		goto out;
	if (dags ? sl_view_complete_dags(db, args.n > 1 ? args.v[1] : "", &rows, &err)
	         : sl_view_complete_runs(db, args.v[1], args.n > 2 ? args.v[2] : "", &rows, &err))
		goto out;
	for (int i = 0; i < sl_rows_nr(rows); i++) {
		const char *id = sl_rows_value(rows, i, 0);

		if (dags ? sl_id_valid(id) : sl_run_id_valid(id))
			puts(id);
	}
out:
	sl_rows_free(rows);
	sl_db_free(db);
	sl_strbuf_release(&err);
	free(args.v);
	return rc;
}
