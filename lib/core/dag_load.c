#include "dag_load.h"

#include "sluice/alloc.h"
#include "sluice/civil.h"
#include "sluice/error.h"
#include "sluice/proto.h"
#include "sluice/strbuf.h"
#include "sluice/taskenv.h"
#include "sluice/template.h"
#include "sluice/tz.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "sluice/banned.h"

#define DEFAULT_MAX_FILE_SIZE (1024 * 1024)
/*
 * The loaded model may hold this many times the file size: far more than
 * any DAG written out without defaults or aliases needs (its strings are at
 * most the file, and 2,000 tasks of overhead are 1 MB), and small enough
 * that a file that multiplies itself through them stops in a few MB.
 */
#define MODEL_SIZE_FACTOR 8

/* The DAG-level keys, in the order they are read: dates need the zone. */
enum dag_key {
	DK_DAG,
	DK_DESCRIPTION,
	DK_SCHEDULE,
	DK_TIMEZONE,
	DK_START_DATE,
	DK_END_DATE,
	DK_CATCHUP,
	DK_MAX_ACTIVE_RUNS,
	DK_MAX_ACTIVE_TASKS,
	DK_PAUSED,
	DK_TAGS,
	DK_OWNER,
	DK_PARAMS,
	DK_ENV,
	DK_DEFAULTS,
	DK_ON_FAILURE,
	DK_ON_SUCCESS,
	DK_TASKS,
	DK_NR
};

static bool failed(const struct loader *L)
{
	return L->r.diags->nr > L->diags_start;
}

bool sl__dag_text_fits(struct loader *L, const struct sl_ynode *at, size_t len, const char *fmt,
                       ...)
{
	struct sl_strbuf key = SL_STRBUF_INIT;
	va_list ap;

	if (len <= SL_PROTO_TEXT_MAX)
		return true;
	va_start(ap, fmt);
	sl_strbuf_vaddf(&key, fmt, ap);
	va_end(ap);
	sl_yreader_report(&L->r, at,
	                  "%s: is %zu bytes long, over the job protocol's limit of %d bytes",
	                  key.buf, len, SL_PROTO_TEXT_MAX);
	sl_strbuf_release(&key);
	return false;
}

bool sl__dag_charge(struct loader *L, const struct sl_ynode *at, size_t bytes)
{
	if (L->over_cap)
		return false;
	L->model_bytes = bytes > SIZE_MAX - L->model_bytes ? SIZE_MAX : L->model_bytes + bytes;
	if (L->model_bytes <= L->model_cap)
		return true;
	L->over_cap = true;
	sl_yreader_report(&L->r, at,
	                  "this DAG's loaded definition exceeds %zu bytes after defaults and "
	                  "aliases are applied (every task's command, env, depends_on and other "
	                  "values, the DAG's params, env and tags, and %d bytes a task); set "
	                  "fewer or smaller values through defaults and aliases, or split the DAG",
	                  L->model_cap, SL_DAG_TASK_BYTES);
	return false;
}

/*
 * Any YAML value as JSON; NULL after reporting what cannot be one, or once
 * the model is over its cap (an alias may stand for a large subtree, so the
 * copy is counted as it is made, and the cap reported at `at`, the param's
 * own value, rather than inside the anchored node).
 */
static json_t *to_json(struct loader *L, const char *name, const struct sl_ynode *v,
                       const struct sl_ynode *at)
{
	const struct sl_ynode *n = sl_ynode_deref(v);
	json_t *j;
	long long i;
	double d;

	if (!sl__dag_charge(L, at,
	                    SL_DAG_ITEM_BYTES + (n->kind == SL_YNODE_SCALAR ? n->u.scalar.len : 0)))
		return NULL;
	switch (n->kind) {
	case SL_YNODE_SEQUENCE:
		j = json_array();
		for (size_t k = 0; k < n->u.seq.nr && !L->over_cap; k++) {
			json_t *item = to_json(L, name, n->u.seq.items[k], at);

			if (item)
				json_array_append_new(j, item);
		}
		return j;
	case SL_YNODE_MAPPING:
		j = json_object();
		for (size_t k = 0; k < n->u.map.nr && !L->over_cap; k++) {
			json_t *item = to_json(L, name, n->u.map.pairs[k].value, at);

			if (item)
				json_object_set_new(j, n->u.map.pairs[k].key->u.scalar.text, item);
		}
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
		sl_yreader_report(&L->r, v, "params.%s: %s does not fit in a 64-bit integer", name,
		                  n->u.scalar.text);
		return NULL;
	case SL_YTYPE_FLOAT:
		/* .inf and .nan have no JSON form (and strtod does not read YAML's). */
		d = strpbrk(n->u.scalar.text, "iInN") ? NAN : strtod(n->u.scalar.text, NULL);
		if (isfinite(d) && (j = json_real(d)))
			return j;
		sl_yreader_report(&L->r, v, "params.%s: %s cannot be written in JSON", name,
		                  n->u.scalar.text);
		return NULL;
	case SL_YTYPE_STRING:
		break;
	}
	return json_stringn(n->u.scalar.text, n->u.scalar.len);
}

/*
 * Every task gets param `k` (value `v`, as JSON `j` unless that failed) as
 * the variable SLUICE_PARAM_<NAME>: a DISPATCH must be able to carry both.
 */
static void check_param_env(struct loader *L, const struct sl_ynode *k, const struct sl_ynode *v,
                            const json_t *j)
{
	struct sl_strbuf var = SL_STRBUF_INIT;
	const char *name = k->u.scalar.text;
	size_t len = strlen(name);
	char *text;

	sl_taskenv_param_name(&var, name, len);
	if (var.len > SL_PROTO_ID_MAX)
		sl_yreader_report(&L->r, k,
		                  "params: name is %zu characters long, over the limit of %zu "
		                  "(SLUICE_PARAM_<NAME> must fit the job protocol's %d)",
		                  len, SL_PROTO_ID_MAX - (var.len - len), SL_PROTO_ID_MAX);
	sl_strbuf_release(&var);
	if (!j)
		return;
	text = sl_taskenv_param_value(j);
	sl__dag_text_fits(L, v, strlen(text), "params.%s", name);
	free(text);
}

static bool read_params(struct sl_yreader *r, const char *name, const struct sl_ynode *v, void *out)
{
	const struct sl_ynode *m = sl_ynode_deref(v);
	struct loader *L = loader_of(r);
	struct sl_dag *dag = out;
	size_t problems = r->problems;

	(void)name;
	for (size_t i = 0; i < m->u.map.nr && !L->over_cap; i++) {
		const struct sl_ynode *k = m->u.map.pairs[i].key;
		const char *param = k->u.scalar.text;
		json_t *j;

		if (!sl_template_ident_valid(param, strlen(param))) {
			sl_yreader_report(
			    r, k,
			    "params: '%s' is not a valid param name (letters, digits and "
			    "'_', not starting with a digit)",
			    param);
			continue;
		}
		j = to_json(L, param, m->u.map.pairs[i].value, m->u.map.pairs[i].value);
		check_param_env(L, k, m->u.map.pairs[i].value, j);
		if (j)
			json_object_set_new(dag->params, param, j);
	}
	return r->problems == problems;
}

static bool read_tags(struct sl_yreader *r, const char *name, const struct sl_ynode *v, void *out)
{
	struct sl_dag *dag = out;
	size_t n = sl_ylist_nr(v);

	(void)name;
	dag->tags = sl_xcalloc(n ? n : 1, sizeof(*dag->tags));
	for (size_t i = 0; i < n; i++) {
		const struct sl_ynode *tag = sl_ylist_item(v, i);
		const char *text = sl_ynode_deref(tag)->u.scalar.text;

		if (!sl__dag_charge(loader_of(r), tag, SL_DAG_ITEM_BYTES + strlen(text)))
			return false;
		dag->tags[dag->tags_nr++] = sl_xstrdup(text);
	}
	return true;
}

/*
 * Map an offset inside a scalar's value to a column: exact when the value is
 * written as is on one line (plain, or quoted without escapes), otherwise the
 * scalar's own position.
 */
static void value_position(const struct loader *L, const struct sl_ynode *v, size_t off,
                           unsigned *line, unsigned *column)
{
	const struct sl_ynode *s = sl_ynode_deref(v);
	size_t q = s->u.scalar.style == SL_YSTYLE_QUOTED;
	size_t raw_len = s->end_offset - s->start_offset;

	*line = s->line;
	*column = s->column;
	if (s->u.scalar.style == SL_YSTYLE_BLOCK || raw_len < q + s->u.scalar.len ||
	    memcmp(L->data + s->start_offset + q, s->u.scalar.text, s->u.scalar.len) ||
	    memchr(s->u.scalar.text, '\n', s->u.scalar.len) || off > s->u.scalar.len)
		return;
	sl_ynode_position(s, L->data, s->start_offset + q + off, line, column);
}

static bool check_schedule(struct sl_yreader *r, const char *name, const struct sl_ynode *v,
                           void *out)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	const char *s = sl_ynode_deref(v)->u.scalar.text;
	struct sl_dag *dag = out;
	unsigned line, column;
	size_t off = 0;

	if (!strcmp(s, "@once")) {
		dag->schedule_kind = SL_SCHEDULE_ONCE;
		return true;
	}
	/* Airflow's spellings of "once" and "no schedule". */
	if (!strcmp(s, "once") || !strcmp(s, "None")) {
		sl_yreader_report(r, v, "%s: '%s' is not a schedule (did you mean %s?)", name, s,
		                  *s == 'o' ? "'@once'" : "null, which means triggered only");
		return false;
	}
	if (sl_cron_parse(&dag->cron, s, &err, &off) == 0) {
		dag->schedule_kind = SL_SCHEDULE_CRON;
		sl_strbuf_release(&err);
		return true;
	}
	/* Point at the field at fault, not at the start of the expression. */
	value_position(loader_of(r), v, off, &line, &column);
	sl_diags_add(r->diags, r->file, line, column, "%s: %s", name, err.buf);
	r->problems++;
	sl_strbuf_release(&err);
	return false;
}

static bool check_timezone(struct sl_yreader *r, const char *name, const struct sl_ynode *v,
                           void *out)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct loader *L = loader_of(r);
	bool ok = sl_tz_load(&L->tz, sl_ynode_deref(v)->u.scalar.text, &err) == 0;

	(void)out;
	if (!ok) {
		sl_yreader_report(r, v, "%s: %s", name, err.buf);
		L->tz = NULL;
	}
	sl_strbuf_release(&err);
	return ok;
}

/* A date in the DAG's time zone, which the table has read by then. */
static bool read_date(struct sl_yreader *r, const char *name, const struct sl_ynode *v, int64_t *at,
                      bool *has)
{
	struct sl_strbuf err = SL_STRBUF_INIT;

	*has = sl_iso_parse(sl_ynode_deref(v)->u.scalar.text, loader_of(r)->tz, at, &err) == 0;
	if (!*has)
		sl_yreader_report(r, v, "%s: %s", name, err.buf);
	sl_strbuf_release(&err);
	return *has;
}

static bool read_start_date(struct sl_yreader *r, const char *name, const struct sl_ynode *v,
                            void *out)
{
	struct sl_dag *dag = out;

	return read_date(r, name, v, &dag->start_date, &dag->has_start_date);
}

static bool read_end_date(struct sl_yreader *r, const char *name, const struct sl_ynode *v,
                          void *out)
{
	struct sl_dag *dag = out;

	return read_date(r, name, v, &dag->end_date, &dag->has_end_date);
}

static bool check_dag_id(struct sl_yreader *r, const char *name, const struct sl_ynode *v,
                         void *out)
{
	const char *s = sl_ynode_deref(v)->u.scalar.text;

	(void)name;
	(void)out;
	if (sl_id_valid(s))
		return true;
	sl_yreader_report(r, v,
	                  "bad DAG id '%s': use letters, digits, '_', '.' and '-' (at most %d "
	                  "characters)",
	                  s, SL_ID_MAX);
	return false;
}

/* Without `dag:`, the id is the file's name without its directory and extension. */
static void id_from_file(struct loader *L)
{
	const char *base = strrchr(L->r.file, '/');
	size_t len;

	base = base ? base + 1 : L->r.file;
	len = strlen(base);
	if (len > 5 && !strcmp(base + len - 5, ".yaml"))
		len -= 5;
	else if (len > 4 && !strcmp(base + len - 4, ".yml"))
		len -= 4;
	L->dag->id = sl_xstrndup(base, len);
	if (!sl_id_valid(L->dag->id))
		sl_yreader_report(&L->r, NULL,
		                  "the DAG id '%s' taken from the file name is not valid (letters, "
		                  "digits, '_', '.' and '-', at most %d characters); set 'dag:' or "
		                  "rename the file",
		                  L->dag->id, SL_ID_MAX);
}

static bool read_dag_env(struct sl_yreader *r, const char *name, const struct sl_ynode *v,
                         void *out)
{
	struct sl_dag *dag = out;

	(void)name;
	return sl__dag_read_env(loader_of(r), v, &dag->env);
}

static const struct sl_ykey dag_keys[DK_NR] = {
    [DK_DAG] = SL_YKEY_STRING("dag", struct sl_dag, id, 0, check_dag_id),
    [DK_DESCRIPTION] =
        SL_YKEY_STRING("description", struct sl_dag, description, SL_YKEY_NULL_KEEPS, NULL),
    [DK_SCHEDULE] =
        SL_YKEY_STRING("schedule", struct sl_dag, schedule, SL_YKEY_NULL_KEEPS, check_schedule),
    [DK_TIMEZONE] = SL_YKEY_STRING("timezone", struct sl_dag, timezone, 0, check_timezone),
    [DK_START_DATE] =
        SL_YKEY_FN("start_date", SL_YK_STRING, SL_YKEY_NULL_KEEPS, NULL, read_start_date),
    [DK_END_DATE] = SL_YKEY_FN("end_date", SL_YK_STRING, SL_YKEY_NULL_KEEPS, NULL, read_end_date),
    [DK_CATCHUP] = SL_YKEY_BOOL("catchup", struct sl_dag, catchup, 0),
    [DK_MAX_ACTIVE_RUNS] =
        SL_YKEY_INT("max_active_runs", struct sl_dag, max_active_runs, 1, INT_MAX, 0),
    [DK_MAX_ACTIVE_TASKS] =
        SL_YKEY_INT("max_active_tasks", struct sl_dag, max_active_tasks, 1, INT_MAX, 0),
    [DK_PAUSED] = SL_YKEY_BOOL("paused", struct sl_dag, paused, 0),
    [DK_TAGS] = SL_YKEY_FN("tags", SL_YK_STRINGS, SL_YKEY_NULL_KEEPS, NULL, read_tags),
    [DK_OWNER] = SL_YKEY_STRING("owner", struct sl_dag, owner, SL_YKEY_NULL_KEEPS, NULL),
    [DK_PARAMS] = SL_YKEY_FN("params", SL_YK_MAPPING, SL_YKEY_NULL_KEEPS,
                             "a mapping of names to values", read_params),
    [DK_ENV] = SL_YKEY_FN("env", SL_YK_MAPPING, SL_YKEY_NULL_KEEPS,
                          "a mapping of variable names to values", read_dag_env),
    [DK_DEFAULTS] = SL_YKEY_FN("defaults", SL_YK_MAPPING, SL_YKEY_NULL_KEEPS,
                               "a mapping of task keys", sl__dag_read_defaults),
    [DK_ON_FAILURE] = SL_YKEY_STRING("on_failure", struct sl_dag, on_failure, SL_YKEY_NULL_KEEPS,
                                     sl__dag_check_command),
    [DK_ON_SUCCESS] = SL_YKEY_STRING("on_success", struct sl_dag, on_success, SL_YKEY_NULL_KEEPS,
                                     sl__dag_check_command),
    /* Read by sl__dag_load_tasks once every other key is: tasks take defaults. */
    [DK_TASKS] = SL_YKEY_FN("tasks", SL_YK_ANY, 0, NULL, NULL),
};

/*
 * Airflow's names for sluice's keys: a team coming from Airflow writes them
 * first, and an edit-distance suggestion is useless (or wrong: 'cmd' is one
 * edit from 'cwd'). `task` tells which level the sluice key lives at.
 */
static const struct airflow_name {
	const char *airflow, *sluice;
	bool task;
} airflow_names[] = {
    {"dag_id", "dag", false},
    {"default_args", "defaults", false},
    {"schedule_interval", "schedule", false},
    {"execution_timeout", "timeout", true},
    {"priority_weight", "priority", true},
    {"retry_exponential_backoff", "retry_backoff", true},
    {"bash_command", "command", true},
    {"cmd", "command", true},
};

bool sl__dag_airflow_unknown(struct sl_yreader *r, const struct sl_yscope *scope,
                             const struct sl_ynode *key, enum dag_level level)
{
	const struct airflow_name *a = NULL;
	struct sl_strbuf note = SL_STRBUF_INIT;

	for (size_t i = 0; i < SL_ARRAY_SIZE(airflow_names) && !a; i++)
		if (!strcmp(key->u.scalar.text, airflow_names[i].airflow))
			a = &airflow_names[i];
	if (!a)
		return false;
	sl_strbuf_addf(&note, "Airflow's name; sluice calls it '%s'", a->sluice);
	if (a->task && level == AT_DAG)
		sl_strbuf_adds(&note, !strcmp(a->sluice, "command")
		                          ? ", a task key"
		                          : ", a task key: set it under 'defaults' for every task");
	else if (!a->task && level != AT_DAG)
		sl_strbuf_adds(&note, ", a DAG-level key");
	else if (level == AT_DEFAULTS && !strcmp(a->sluice, "command"))
		sl_strbuf_adds(&note, ", and each task sets its own");
	sl_yreader_unknown_key(r, scope, key, note.buf);
	sl_strbuf_release(&note);
	return true;
}

/* A task key at the DAG level is a common slip: say where it belongs. */
static bool root_unknown(struct sl_yreader *r, const struct sl_yscope *scope,
                         const struct sl_ynode *key)
{
	if (sl__dag_airflow_unknown(r, scope, key, AT_DAG))
		return true;
	if (!sl__dag_is_task_key(key->u.scalar.text))
		return false;
	sl_yreader_report(r, key,
	                  "unknown key '%s' at DAG level ('%s' is a task key; set it for every "
	                  "task under 'defaults')",
	                  key->u.scalar.text, key->u.scalar.text);
	return true;
}

static const struct sl_ynode *value_of(const struct sl_yfound *found, enum dag_key k)
{
	return found->pairs[k] ? found->pairs[k]->value : NULL;
}

const struct sl_yschema sl__dag_root_schema = {dag_keys, DK_NR, root_unknown};

static void load_root(struct loader *L, const struct sl_ynode *root)
{
	const struct sl_yscope scope = {0};
	const struct sl_ynode *m = sl_ynode_deref(root);
	struct sl_dag *dag = L->dag;
	struct sl_yfound found;

	if (m->kind != SL_YNODE_MAPPING) {
		sl_yreader_type_error(&L->r, NULL, root,
		                      "a mapping of DAG keys (dag, schedule, tasks, ...)");
		return;
	}
	sl_yschema_read(&L->r, &sl__dag_root_schema, &scope, m, dag, &found);
	if (!found.pairs[DK_DAG])
		id_from_file(L);
	if (dag->has_start_date && dag->has_end_date && dag->end_date < dag->start_date)
		sl_yreader_report(&L->r, value_of(&found, DK_END_DATE),
		                  "end_date: is before start_date");
	sl__dag_load_tasks(L, value_of(&found, DK_TASKS), root);
	/* Over the cap, the model is partial: the checks below would only add noise. */
	if (L->over_cap)
		return;
	sl__dag_check_templates(L, value_of(&found, DK_ON_FAILURE),
	                        value_of(&found, DK_ON_SUCCESS));
	sl__dag_check_template_places(L, root);
	sl__dag_check_env_room(L, found.pairs[DK_ENV] ? found.pairs[DK_ENV]->key : NULL,
	                       found.pairs[DK_PARAMS] ? found.pairs[DK_PARAMS]->key : NULL);
}

static struct sl_dag *dag_new(const char *file)
{
	struct sl_dag *dag = sl_xcalloc(1, sizeof(*dag));

	dag->file = sl_xstrdup(file);
	dag->timezone = sl_xstrdup("UTC");
	dag->max_active_runs = 16;
	dag->max_active_tasks = 16;
	dag->params = json_object();
	if (!dag->params)
		sl_xmalloc((size_t)-1); /* jansson failed to allocate: treat as OOM */
	return dag;
}

static void loader_release(struct loader *L)
{
	if (L->src) {
		for (size_t i = 0; i < L->src_nr; i++)
			free(L->src[i].dep_nodes);
		free(L->src);
	}
	sl_task_release(&L->defaults);
	sl_tz_free(L->tz);
}

int sl_dag_load(struct sl_dag **out, const char *file, const char *data, size_t len,
                const struct sl_load_opts *opts, struct sl_diags *diags)
{
	size_t limit = opts && opts->max_file_size ? opts->max_file_size : DEFAULT_MAX_FILE_SIZE;
	struct loader L = {.data = data};
	struct sl_ydoc *doc = NULL;
	int rc = SL_EINVAL;

	*out = NULL;
	L.model_cap = opts && opts->max_model_size ? opts->max_model_size
	                                           : sl_st_mult(limit, MODEL_SIZE_FACTOR);
	sl_yreader_init(&L.r, file, diags);
	L.diags_start = diags->nr;
	sl__dag_task_init_defaults(&L.defaults);
	if (len > limit) {
		sl_yreader_report(&L.r, NULL, "file is %zu bytes, over the size limit of %zu bytes",
		                  len, limit);
		rc = SL_ETOOBIG;
		goto fail;
	}
	sl_ydoc_parse(&doc, file, data, len, diags);
	if (!doc)
		goto fail;
	L.dag = dag_new(file);
	load_root(&L, sl_ydoc_root(doc));
	if (failed(&L))
		goto fail;
	*out = L.dag;
	L.dag = NULL;
	rc = SL_OK;
fail:
	loader_release(&L);
	sl_dag_free(L.dag);
	sl_ydoc_free(doc);
	sl_diags_sort(diags);
	return rc;
}

int sl_dag_load_file(struct sl_dag **out, const char *path, const struct sl_load_opts *opts,
                     struct sl_diags *diags)
{
	size_t limit = opts && opts->max_file_size ? opts->max_file_size : DEFAULT_MAX_FILE_SIZE;
	struct sl_strbuf data = SL_STRBUF_INIT, err = SL_STRBUF_INIT;
	int rc;

	*out = NULL;
	rc = sl_strbuf_read_file(&data, path, limit, &err);
	if (rc == SL_ETOOBIG)
		sl_diags_add(diags, path, 1, 1, "file is over the size limit of %zu bytes", limit);
	else if (rc < 0)
		sl_diags_add(diags, path, 1, 1, "%s", err.buf);
	else
		rc = sl_dag_load(out, path, data.buf, data.len, opts, diags);
	sl_strbuf_release(&data);
	sl_strbuf_release(&err);
	return rc;
}
