#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sluice/alloc.h"
#include "sluice/dag.h"
#include "sluice/dag_schema.h"
#include "sluice/diag.h"
#include "sluice/strbuf.h"
#include "sluice/banned.h"

static int run_validate(struct cli *cli, int argc, char **argv);

enum { OPT_PRINT_SCHEMA = CLI_OPT_BASE };

static const struct option validate_options[] = {
    {"print-schema", no_argument, NULL, OPT_PRINT_SCHEMA},
    {NULL, 0, NULL, 0},
};

const struct cli_command cli_cmd_validate = {
    .path = "validate",
    .usage = "PATH... | --print-schema",
    .summary = "Check DAG files offline; print every problem as file:line:col: message.",
    .help = "Each PATH is a DAG file or a folder searched recursively for *.yaml and\n"
            "*.yml files (entries starting with '.' are skipped). No database is needed.\n"
            "Exit status: 0 when every file is valid, 1 otherwise.\n"
            "\n"
            "  --print-schema  print the JSON Schema of DAG files (for editors and CI)\n"
            "                  and exit; it checks less than validate does\n",
    .options = validate_options,
    .run = run_validate,
};

struct loaded {
	char *id;
	const char *file;
};

struct validation {
	struct sl_diags diags;
	char **files;
	size_t files_nr, files_alloc;
	struct loaded *dags;
	size_t dags_nr, dags_alloc;
};

static bool is_dag_file(const char *name)
{
	size_t len = strlen(name);

	return (len > 5 && !strcmp(name + len - 5, ".yaml")) ||
	       (len > 4 && !strcmp(name + len - 4, ".yml"));
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collect DAG files under `path` in a stable (sorted) order, so that the
 * output and "defined twice" messages do not depend on readdir order. */
static void collect(struct validation *v, const char *path, bool top)
{
	struct stat st;
	DIR *dir;
	struct dirent *de;
	char **names = NULL;
	size_t nr = 0, alloc = 0;

	if (stat(path, &st) < 0) {
		sl_diags_add(&v->diags, path, 1, 1, "cannot read: %s", strerror(errno));
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (top || is_dag_file(path)) {
			SL_ALLOC_GROW(v->files, v->files_nr + 1, v->files_alloc);
			v->files[v->files_nr++] = sl_xstrdup(path);
		}
		return;
	}
	dir = opendir(path);
	if (!dir) {
		sl_diags_add(&v->diags, path, 1, 1, "cannot open folder: %s", strerror(errno));
		return;
	}
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		SL_ALLOC_GROW(names, nr + 1, alloc);
		names[nr++] = sl_xstrdup(de->d_name);
	}
	closedir(dir);
	if (nr > 1)
		qsort(names, nr, sizeof(*names), cmp_names);
	for (size_t i = 0; i < nr; i++) {
		size_t len = strlen(path);
		char *child =
		    sl_xasprintf("%s%s%s", path, len && path[len - 1] == '/' ? "" : "/", names[i]);

		if (stat(child, &st) == 0 && (S_ISDIR(st.st_mode) || is_dag_file(names[i])))
			collect(v, child, false);
		free(child);
		free(names[i]);
	}
	free(names);
}

static int cmp_loaded(const void *a, const void *b)
{
	const struct loaded *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	return c ? c : strcmp(x->file, y->file);
}

/* Two files may not define the same DAG: the scheduler could not tell which
 * one is meant. Sorting makes the check O(n log n) for large repositories. */
static void check_duplicate_ids(struct validation *v)
{
	struct loaded *sorted;

	if (v->dags_nr < 2)
		return;
	sorted = sl_xcalloc(v->dags_nr, sizeof(*sorted));
	memcpy(sorted, v->dags, v->dags_nr * sizeof(*sorted));
	qsort(sorted, v->dags_nr, sizeof(*sorted), cmp_loaded);
	for (size_t i = 1; i < v->dags_nr; i++) {
		if (!strcmp(sorted[i].id, sorted[i - 1].id))
			sl_diags_add(&v->diags, sorted[i].file, 1, 1,
			             "DAG '%s' is already defined in %s", sorted[i].id,
			             sorted[i - 1].file);
	}
	free(sorted);
}

static int report(struct cli *cli, struct validation *v)
{
	bool ok = v->diags.nr == 0;

	if (cli->json) {
		json_t *dags = json_array(), *errors = json_array();
		int rc;

		for (size_t i = 0; i < v->dags_nr; i++)
			json_array_append_new(dags, json_string(v->dags[i].id));
		for (size_t i = 0; i < v->diags.nr; i++) {
			const struct sl_diag *d = &v->diags.items[i];

			json_array_append_new(errors,
			                      json_pack("{s:s, s:i, s:i, s:s}", "file", d->file,
			                                "line", (int)d->line, "column",
			                                (int)d->column, "message", d->message));
		}
		rc = cli_print_json(
		    json_pack("{s:b, s:o, s:o}", "ok", ok, "dags", dags, "errors", errors));
		if (rc)
			return rc;
	} else {
		for (size_t i = 0; i < v->diags.nr; i++) {
			const struct sl_diag *d = &v->diags.items[i];

			printf("%s:%u:%u: %s\n", d->file, d->line, d->column, d->message);
		}
		fflush(stdout);
		if (ok)
			fprintf(stderr, "%zu DAG file%s valid\n", v->files_nr,
			        v->files_nr == 1 ? "" : "s");
		else
			fprintf(stderr, "%zu error%s in %zu DAG file%s\n", v->diags.nr,
			        v->diags.nr == 1 ? "" : "s", v->files_nr,
			        v->files_nr == 1 ? "" : "s");
	}
	return ok ? CLI_EXIT_OK : CLI_EXIT_FAILED;
}

static int on_validate_option(struct cli *cli, int opt, const char *arg, void *ctx)
{
	bool *print_schema = ctx;

	(void)cli;
	(void)arg;
	if (opt == OPT_PRINT_SCHEMA)
		*print_schema = true;
	return 0;
}

/* The schema as docs/dag.schema.json holds it, byte for byte (it ends with a newline). */
static int print_schema(const struct cli_args *args)
{
	if (args->n)
		return cli_usage_error(&cli_cmd_validate, "--print-schema takes no PATH");
	fputs(sl_dag_schema(), stdout);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		cli_error("cannot write the schema: %s", strerror(errno));
		return CLI_EXIT_FAILED;
	}
	return CLI_EXIT_OK;
}

static int run_validate(struct cli *cli, int argc, char **argv)
{
	struct validation v = {.diags = SL_DIAGS_INIT};
	struct cli_args args;
	bool stop, schema = false;
	int rc = cli_parse_options(cli, &cli_cmd_validate, argc, argv, on_validate_option, &schema,
	                           &args, &stop);

	if (rc || stop)
		goto out;
	if (schema) {
		rc = print_schema(&args);
		goto out;
	}
	if (!args.n) {
		rc = cli_usage_error(&cli_cmd_validate, "missing PATH (a DAG file or folder)");
		goto out;
	}
	for (int i = 0; i < args.n; i++) {
		size_t before = v.files_nr, diags_before = v.diags.nr;

		collect(&v, args.v[i], true);
		if (v.files_nr == before && v.diags.nr == diags_before)
			sl_diags_add(&v.diags, args.v[i], 1, 1,
			             "no DAG files (*.yaml, *.yml) in this folder");
	}
	for (size_t i = 0; i < v.files_nr; i++) {
		struct sl_dag *dag = NULL;

		if (sl_dag_load_file(&dag, v.files[i], NULL, &v.diags) == 0) {
			SL_ALLOC_GROW(v.dags, v.dags_nr + 1, v.dags_alloc);
			v.dags[v.dags_nr].id = sl_xstrdup(dag->id);
			v.dags[v.dags_nr++].file = v.files[i];
			sl_dag_free(dag);
		}
	}
	check_duplicate_ids(&v);
	sl_diags_sort(&v.diags);
	rc = report(cli, &v);
out:
	for (size_t i = 0; i < v.dags_nr; i++)
		free(v.dags[i].id);
	free(v.dags);
	for (size_t i = 0; i < v.files_nr; i++)
		free(v.files[i]);
	free(v.files);
	sl_diags_release(&v.diags);
	free(args.v);
	return rc;
}
