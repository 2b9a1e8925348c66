/*
 * docs/dag.schema.json as it was when the library was built (see
 * sluice/dag_schema.h): nothing reads docs/ at run time.
 */
#include "sluice/dag_schema.h"

#include "dag_schema_json.h"
#include "sluice/banned.h"

const char *sl_dag_schema(void)
{
	return dag_schema_json;
}
