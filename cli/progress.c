/*
 * The progress line: drawn on standard output, the stream the event lines
 * go to, so that the two never interleave out of order; stderr stays for
 * errors.
 */
#include "progress.h"

#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"
#include "colour.h"
#include "sluice/banned.h"

/* Without TIOCGWINSZ (a serial line), the width of a classic terminal. */
#define DEFAULT_COLUMNS 80

void cli_progress_init(struct cli_progress *p, const struct cli *cli)
{
	p->on = !cli->json && cli_terminal(stdout);
	p->shown = false;
}

void cli_progress_clear(struct cli_progress *p)
{
	if (!p->shown)
		return;
	fputs("\r\033[K", stdout);
	fflush(stdout);
	p->shown = false;
}

/*
 * The columns the line may take: one fewer than the terminal's, since a
 * character in the last column makes some terminals wrap at once. Asked
 * at each draw, so a resized window (SIGWINCH) is seen without a handler.
 */
static size_t line_columns(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_col < 2)
		return DEFAULT_COLUMNS - 1;
	return (size_t)ws.ws_col - 1;
}

void cli_progress_draw(struct cli_progress *p, const char *text)
{
	size_t max = line_columns(), cols = 0, len = 0;

	if (!p->on)
		return;
	/* Cut at a character boundary: a UTF-8 continuation byte is no column. */
	for (; text[len] && text[len] != '\n'; len++) {
		if (((unsigned char)text[len] & 0xC0) == 0x80)
			continue;
		if (cols++ == max)
			break;
	}
	printf("\r%.*s\033[K", (int)len, text);
	fflush(stdout);
	p->shown = true;
}

void cli_progress_end(struct cli_progress *p)
{
	if (!p->shown)
		return;
	putchar('\n');
	fflush(stdout);
	p->shown = false;
}
