#ifndef SLUICE_CLI_COLOUR_H
#define SLUICE_CLI_COLOUR_H

/*
 * Terminal output: whether a stream is a terminal, whether the states
 * printed on it are coloured (--color, NO_COLOR), and the colour of each
 * state (docs/cli.md, "Terminal output").
 */

#include <stdbool.h>
#include <stdio.h>

struct cli;
struct cli_table;
struct sl_strbuf;

/* The --color option; auto is the default. */
enum cli_colour_mode {
	CLI_COLOUR_AUTO = 0,
	CLI_COLOUR_NEVER,
	CLI_COLOUR_ALWAYS,
};

/* Parse never|auto|always into `*mode`; -1 for anything else. */
int cli_colour_parse(const char *value, enum cli_colour_mode *mode);

/*
 * Whether `out` is a terminal that understands escape sequences: a tty
 * whose $TERM is set and not "dumb". The progress line of trigger --wait
 * and backfill --wait is drawn only then.
 */
bool cli_terminal(FILE *out);

/*
 * Whether states printed on `out` are coloured: never with --json or
 * --color=never; always with --color=always; else (auto) when `out` is a
 * terminal (cli_terminal) and $NO_COLOR is unset or empty.
 */
bool cli_colour_on(const struct cli *cli, FILE *out);

/*
 * Append `state` (a task, run or worker state) to `sb`, wrapped in its
 * colour's escape sequences when `on`; a state without a colour, or NULL
 * ("-"), is appended as it is.
 */
void cli_colour_state(struct sl_strbuf *sb, bool on, const char *state);

/* Add `state` as the next cell of `t`, coloured as cli_colour_state does. */
void cli_colour_cell(struct cli_table *t, bool on, const char *state);

#endif
