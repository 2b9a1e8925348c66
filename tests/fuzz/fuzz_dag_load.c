/*
 * libFuzzer target for the DAG loader: any bytes must give either a DAG or
 * diagnostics, within the loader's time and memory bounds, and leak nothing.
 */
#include <stddef.h>
#include <stdint.h>

#include "sluice/dag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_diags diags = SL_DIAGS_INIT;
	struct sl_dag *dag = NULL;

	if (sl_dag_load(&dag, "fuzz.yaml", (const char *)data, size, NULL, &diags) == 0) {
		/* a valid DAG must be a complete one */
		if (!dag || !dag->topo || !dag->tasks_nr || diags.nr)
			__builtin_trap();
	} else if (dag || !diags.nr) {
		__builtin_trap();
	}
	sl_dag_free(dag);
	sl_diags_release(&diags);
	return 0;
}
