#ifndef SLUICE_DAG_SCHEMA_H
#define SLUICE_DAG_SCHEMA_H

/**
 * The JSON Schema (draft 2020-12) of DAG files, docs/dag.schema.json as it
 * was when the library was built (lib/core/embed_text.py compiles it in:
 * nothing reads docs/ at run time). A NUL-terminated UTF-8 text that ends
 * with a newline, byte for byte the file, for `sluice validate
 * --print-schema` and for whatever writes it into a DAG repository.
 *
 * The schema is what editors and CI tools can check without sluice; the
 * loader checks more (cron fields, zones, dates, dependencies, templates,
 * sizes). tests/cli/t0165-schema.sh holds the two to the same keys.
 */
const char *sl_dag_schema(void);

#endif
