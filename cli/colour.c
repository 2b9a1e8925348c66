/*
 * Coloured states: the decision (--color, NO_COLOR, a terminal) and the
 * state -> SGR table, so that every command colours a state alike.
 */
#include "colour.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sluice/alloc.h"
#include "sluice/strbuf.h"
#include "table.h"
#include "sluice/banned.h"

#define SGR_RESET "\033[0m"

int cli_colour_parse(const char *value, enum cli_colour_mode *mode)
{
	static const struct {
		const char *name;
		enum cli_colour_mode mode;
	} modes[] = {
	    {"never", CLI_COLOUR_NEVER}, {"auto", CLI_COLOUR_AUTO}, {"always", CLI_COLOUR_ALWAYS}};

	for (size_t i = 0; i < SL_ARRAY_SIZE(modes); i++)
		if (!strcmp(value, modes[i].name)) {
			*mode = modes[i].mode;
			return 0;
		}
	return -1;
}

bool cli_terminal(FILE *out)
{
	const char *term = getenv("TERM");

	/* Like git: an unset TERM is as dumb as "dumb" (no cursor motion). */
	return isatty(fileno(out)) && term && *term && strcmp(term, "dumb");
}

bool cli_colour_on(const struct cli *cli, FILE *out)
{
	const char *no_color = getenv("NO_COLOR");

	/* JSON is for programs: an escape byte in it would be data. */
	if (cli->json || cli->colour == CLI_COLOUR_NEVER)
		return false;
	if (cli->colour == CLI_COLOUR_ALWAYS)
		return true;
	return !(no_color && *no_color) && cli_terminal(out);
}

/* The SGR parameters of a state, or NULL for one printed plain. */
static const char *state_sgr(const char *state)
{
	static const struct {
		const char *state, *sgr;
	} table[] = {
	    {"success", "32"}, /* green: done, nothing to do */
	    {"active", "32"},  /* a worker taking tasks */
	    {"failed", "31"},  /* red: someone has to look */
	    {"upstream_failed", "31"},
	    {"running", "34"}, /* blue: under way */
	    {"queued", "36"},  /* cyan: waiting its turn */
	    {"scheduled", "36"},
	    {"up_for_retry", "33"}, /* yellow: not over, not well */
	    {"up_for_reschedule", "33"},
	    {"draining", "33"},
	    {"skipped", "2"}, /* dim: will not run */
	    {"removed", "2"},
	    {"cancelled", "2"},
	    {"gone", "2"},
	};

	for (size_t i = 0; i < SL_ARRAY_SIZE(table); i++)
		if (!strcmp(state, table[i].state))
			return table[i].sgr;
	return NULL;
}

void cli_colour_state(struct sl_strbuf *sb, bool on, const char *state)
{
	const char *sgr = on && state ? state_sgr(state) : NULL;

	if (sgr)
		sl_strbuf_addf(sb, "\033[%sm%s" SGR_RESET, sgr, state);
	else
		sl_strbuf_adds(sb, state ? state : "-");
}

void cli_colour_cell(struct cli_table *t, bool on, const char *state)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;

	cli_colour_state(&sb, on, state);
	cli_table_add_buf(t, &sb);
	sl_strbuf_release(&sb);
}
