/* A DAG as Graphviz DOT (sluice/dag_dot.h). */
#include "sluice/dag_dot.h"

void sl_dag_dot(const struct sl_dag *dag, struct sl_strbuf *out)
{
	/* Ids are [A-Za-z0-9_.-], so quoting them needs no escaping. */
	sl_strbuf_addf(out, "digraph \"%s\" {\n\trankdir=LR;\n\tnode [shape=box];\n", dag->id);
	for (size_t i = 0; i < dag->tasks_nr; i++)
		sl_strbuf_addf(out, "\t\"%s\" [id=\"task-%s\"];\n", dag->tasks[i].id,
		               dag->tasks[i].id);
	for (size_t i = 0; i < dag->tasks_nr; i++) {
		const struct sl_task *t = &dag->tasks[i];

		for (size_t j = 0; j < t->upstream_nr; j++)
			sl_strbuf_addf(out, "\t\"%s\" -> \"%s\";\n", dag->tasks[t->upstream[j]].id,
			               t->id);
	}
	sl_strbuf_adds(out, "}\n");
}
