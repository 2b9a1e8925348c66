/*
 * schema_tool: what tests/cli/t0165-schema.sh checks docs/dag.schema.json
 * against, taken from the loader itself rather than from a copy that could
 * drift from it.
 *
 *   schema_tool keys       the loader's key tables (the DAG level, a task,
 *                          `defaults`, a `sensor` mapping) as JSON: each
 *                          key's name, kind, whether it is required or may
 *                          be null, and an integer's bounds
 *   schema_tool json FILE  a YAML file as JSON, read by the loader's own
 *                          YAML reader, so with its YAML 1.2 core types
 *                          (`yes` is a string, `0x1F` an integer), which a
 *                          YAML 1.1 reader such as PyYAML would get wrong
 *
 * Exit status 1, with the reader's messages on stderr, when the file is not
 * a well-formed document.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/core/dag_load.h"
#include "sluice/diag.h"
#include "sluice/strbuf.h"
#include "sluice/yaml_doc.h"
#include "sluice/yschema.h"
#include "sluice/banned.h"

static const char *kind_name(enum sl_ykind k)
{
	switch (k) {
	case SL_YK_STRING:
		return "string";
	case SL_YK_INT:
		return "int";
	case SL_YK_BOOL:
		return "bool";
	case SL_YK_DURATION:
		return "duration";
	case SL_YK_STRINGS:
		return "strings";
	case SL_YK_MAPPING:
		return "mapping";
	case SL_YK_ANY:
		break;
	}
	return "any";
}

static json_t *table_json(const struct sl_yschema *s)
{
	json_t *keys = json_array();

	for (size_t i = 0; i < s->nr; i++) {
		const struct sl_ykey *k = &s->keys[i];
		json_t *o = json_pack("{s:s, s:s, s:b, s:b, s:b}", "name", k->name, "kind",
		                      kind_name(k->kind), "required",
		                      (k->flags & SL_YKEY_REQUIRED) != 0, "nullable",
		                      (k->flags & (SL_YKEY_NULL_KEEPS | SL_YKEY_NULL_CLEARS)) != 0,
		                      "positive", (k->flags & SL_YKEY_POSITIVE) != 0);

		if (k->kind == SL_YK_INT) {
			json_object_set_new(o, "min", json_integer(k->min));
			json_object_set_new(o, "max", json_integer(k->max));
		}
		json_array_append_new(keys, o);
	}
	return keys;
}

static int print_keys(void)
{
	json_t *all = json_pack("{s:o, s:o, s:o, s:o}", "dag", table_json(&sl__dag_root_schema),
	                        "task", table_json(&sl__dag_task_schema), "defaults",
	                        table_json(&sl__dag_defaults_schema), "sensor",
	                        table_json(&sl__dag_sensor_schema));

	json_dumpf(all, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(all);
	return 0;
}

static json_t *node_json(const struct sl_ynode *v)
{
	const struct sl_ynode *n = sl_ynode_deref(v);
	long long i;
	json_t *j;

	switch (n->kind) {
	case SL_YNODE_SEQUENCE:
		j = json_array();
		for (size_t k = 0; k < n->u.seq.nr; k++)
			json_array_append_new(j, node_json(n->u.seq.items[k]));
		return j;
	case SL_YNODE_MAPPING:
		j = json_object();
		for (size_t k = 0; k < n->u.map.nr; k++)
			json_object_set_new(j, n->u.map.pairs[k].key->u.scalar.text,
			                    node_json(n->u.map.pairs[k].value));
		return j;
	case SL_YNODE_SCALAR:
	case SL_YNODE_ALIAS:
		break;
	}
	switch (n->u.scalar.type) {
	case SL_YTYPE_NULL:
		return json_null();
	case SL_YTYPE_BOOL:
		return json_boolean(sl_ynode_bool(n));
	case SL_YTYPE_INT:
		if (sl_ynode_int(n, &i) == 0)
			return json_integer((json_int_t)i);
		/* Beyond 64 bits: still a number, which is all a schema can tell. */
		return json_real(strtod(n->u.scalar.text, NULL));
	case SL_YTYPE_FLOAT:
		/* JSON has no .inf or .nan: a number stands for them as well. */
		return json_real(
		    strpbrk(n->u.scalar.text, "iInN") ? 0.0 : strtod(n->u.scalar.text, NULL));
	case SL_YTYPE_STRING:
		break;
	}
	return json_stringn(n->u.scalar.text, n->u.scalar.len);
}

static int print_json(const char *path)
{
	struct sl_strbuf data = SL_STRBUF_INIT, err = SL_STRBUF_INIT;
	struct sl_diags diags = SL_DIAGS_INIT;
	struct sl_ydoc *doc = NULL;
	json_t *j;
	int rc = 1;

	if (sl_strbuf_read_file(&data, path, 16 * 1024 * 1024, &err) < 0) {
		fprintf(stderr, "%s: %s\n", path, err.buf);
		goto out;
	}
	if (sl_ydoc_parse(&doc, path, data.buf, data.len, &diags) < 0) {
		sl_diags_print(&diags, stderr);
		goto out;
	}
	j = node_json(sl_ydoc_root(doc));
	json_dumpf(j, stdout, JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(j);
	rc = 0;
out:
	sl_ydoc_free(doc);
	sl_diags_release(&diags);
	sl_strbuf_release(&data);
	sl_strbuf_release(&err);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "keys"))
		return print_keys();
	if (argc == 3 && !strcmp(argv[1], "json"))
		return print_json(argv[2]);
	fprintf(stderr, "usage: schema_tool keys | schema_tool json FILE\n");
	return 2;
}
