#ifndef SLUICE_DAG_DOT_H
#define SLUICE_DAG_DOT_H

#include "sluice/dag.h"
#include "sluice/strbuf.h"

/**
 * `dag` as a Graphviz digraph, appended to `out`: left to right, a box per
 * task with the SVG id `task-<task id>` (so that a page can find a task's
 * node in the SVG that `dot -Tsvg`, or sluice-web, draws), an edge per
 * dependency. `sluice dags show --dot` prints it; sluice-web lays it out.
 */
void sl_dag_dot(const struct sl_dag *dag, struct sl_strbuf *out);

#endif
