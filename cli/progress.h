#ifndef SLUICE_CLI_PROGRESS_H
#define SLUICE_CLI_PROGRESS_H

/*
 * The live progress line of trigger --wait and backfill --wait: on a
 * terminal, one line at the bottom of standard output redrawn in place
 * ("\r", the text, clear to the end of the line), cut to the terminal's
 * width so that it never wraps; the event lines are printed above it.
 * Off a terminal, or with --json, every call does nothing and the output
 * is the plain lines alone.
 *
 *     struct cli_progress p;
 *     cli_progress_init(&p, cli);
 *     cli_progress_clear(&p);          before printing an event line
 *     printf("...\n");
 *     cli_progress_draw(&p, "run x: 3/5 done");
 *     cli_progress_end(&p);            keeps the last line, ends it
 */

#include <stdbool.h>

struct cli;

struct cli_progress {
	bool on;    /* stdout is a terminal and not --json */
	bool shown; /* a line is drawn and not ended */
};

void cli_progress_init(struct cli_progress *p, const struct cli *cli);
/* Erase the line drawn, so that the next output starts at column 0. */
void cli_progress_clear(struct cli_progress *p);
/* Draw `text` (one line) in place of the last one, cut to the width. */
void cli_progress_draw(struct cli_progress *p, const char *text);
/* End the line drawn with a newline: it stays as the final count. */
void cli_progress_end(struct cli_progress *p);

#endif
