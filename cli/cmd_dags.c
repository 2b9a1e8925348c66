#include "cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sluice/alloc.h"
#include "sluice/dag.h"
#include "sluice/dag_json.h"
#include "sluice/diag.h"
#include "sluice/strbuf.h"

static int run_dags_show(struct cli *cli, int argc, char **argv);

enum { OPT_DOT = CLI_OPT_BASE };

static const struct option show_options[] = {
    {"dot", no_argument, NULL, OPT_DOT},
    {NULL, 0, NULL, 0},
};

const struct cli_command cli_cmd_dags_show = {
    .path = "dags show",
    .usage = "FILE [--dot]",
    .summary = "Show a DAG's tasks and edges as an ASCII tree, or Graphviz DOT.",
    .help = "FILE is a DAG file, loaded offline.\n\n"
            "Options:\n"
            "  --dot    print a Graphviz digraph (pipe it to `dot -Tsvg`)\n",
    .options = show_options,
    .run = run_dags_show,
};

static int on_show_option(struct cli *cli, int opt, const char *arg, void *ctx)
{
	(void)cli;
	(void)arg;
	if (opt != OPT_DOT)
		return CLI_EXIT_USAGE;
	*(bool *)ctx = true;
	return 0;
}

/*
 * Print the tree below `task`. A task with several upstreams is drawn in
 * full under the first one reached and referred to elsewhere, so the output
 * stays linear in the size of the graph.
 */
static void print_subtree(const struct sl_dag *dag, size_t task, struct sl_strbuf *prefix,
                          bool last, bool *drawn)
{
	const struct sl_task *t = &dag->tasks[task];
	size_t keep = prefix->len;

	printf("%s%s%s", prefix->buf, last ? "`-- " : "|-- ", t->id);
	if (drawn[task] && t->downstream_nr) {
		printf(" (see above)\n");
		return;
	}
	printf("\n");
	drawn[task] = true;
	sl_strbuf_adds(prefix, last ? "    " : "|   ");
	for (size_t i = 0; i < t->downstream_nr; i++)
		print_subtree(dag, t->downstream[i], prefix, i + 1 == t->downstream_nr, drawn);
	sl_strbuf_setlen(prefix, keep);
}

static void print_tree(const struct sl_dag *dag)
{
	struct sl_strbuf prefix = SL_STRBUF_INIT;
	bool *drawn = sl_xcalloc(dag->tasks_nr, sizeof(*drawn));

	printf("%s", dag->id);
	if (dag->description)
		printf(": %s", dag->description);
	printf("\n  schedule: %s", dag->schedule ? dag->schedule : "none (manual)");
	printf(" (%s)\n  tasks: %zu\n", dag->timezone, dag->tasks_nr);
	for (size_t i = 0; i < dag->tasks_nr; i++) {
		const struct sl_task *t = &dag->tasks[i];

		if (t->upstream_nr)
			continue;
		printf("%s\n", t->id);
		drawn[i] = true;
		sl_strbuf_reset(&prefix);
		for (size_t j = 0; j < t->downstream_nr; j++)
			print_subtree(dag, t->downstream[j], &prefix, j + 1 == t->downstream_nr,
			              drawn);
	}
	free(drawn);
	sl_strbuf_release(&prefix);
}

static void print_dot(const struct sl_dag *dag)
{
	/* Ids are [A-Za-z0-9_.-], so quoting them needs no escaping. */
	printf("digraph \"%s\" {\n\trankdir=LR;\n\tnode [shape=box];\n", dag->id);
	for (size_t i = 0; i < dag->tasks_nr; i++)
		printf("\t\"%s\";\n", dag->tasks[i].id);
	for (size_t i = 0; i < dag->tasks_nr; i++) {
		const struct sl_task *t = &dag->tasks[i];

		for (size_t j = 0; j < t->upstream_nr; j++)
			printf("\t\"%s\" -> \"%s\";\n", dag->tasks[t->upstream[j]].id, t->id);
	}
	printf("}\n");
}

static int run_dags_show(struct cli *cli, int argc, char **argv)
{
	struct sl_diags diags = SL_DIAGS_INIT;
	struct sl_dag *dag = NULL;
	struct cli_args args;
	struct stat st;
	bool dot = false, stop;
	int rc = cli_parse_options(cli, &cli_cmd_dags_show, argc, argv, on_show_option, &dot, &args,
	                           &stop);

	if (rc || stop)
		goto out;
	if (args.n != 1) {
		rc = cli_usage_error(&cli_cmd_dags_show,
		                     args.n ? "expected one DAG file" : "missing DAG file");
		goto out;
	}
	if (stat(args.v[0], &st) < 0 || S_ISDIR(st.st_mode)) {
		cli_error("no DAG file '%s'", args.v[0]);
		rc = CLI_EXIT_NOT_FOUND;
		goto out;
	}
	if (sl_dag_load_file(&dag, args.v[0], NULL, &diags) < 0) {
		for (size_t i = 0; i < diags.nr; i++)
			fprintf(stderr, "%s:%u:%u: %s\n", diags.items[i].file, diags.items[i].line,
			        diags.items[i].column, diags.items[i].message);
		rc = CLI_EXIT_FAILED;
		goto out;
	}
	if (cli->json)
		rc = cli_print_json(sl_dag_to_json(dag));
	else if (dot)
		print_dot(dag);
	else
		print_tree(dag);
out:
	sl_dag_free(dag);
	sl_diags_release(&diags);
	free(args.v);
	return rc;
}
