#include "dag_load.h"

#include "sluice/alloc.h"
#include "sluice/proto.h"
#include "sluice/strbuf.h"
#include "sluice/suggest.h"
#include "sluice/template.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "sluice/banned.h"

static bool env_name_valid(const char *s)
{
	return sl_template_ident_valid(s, strlen(s));
}

/* The entries of an `env` mapping (the reader checked that it is one) into `env`. */
bool sl__dag_read_env(struct loader *L, const struct sl_ynode *v, struct sl_kvs *env)
{
	const struct sl_ynode *m = sl_ynode_deref(v);
	bool ok = true;

	for (size_t i = 0; i < m->u.map.nr; i++) {
		const struct sl_ynode *k = m->u.map.pairs[i].key;
		const struct sl_ynode *val = sl_ynode_deref(m->u.map.pairs[i].value);

		if (!env_name_valid(k->u.scalar.text)) {
			sl_yreader_report(&L->r, k,
			                  "env: '%s' is not a valid environment variable name "
			                  "(letters, digits and '_', not starting with a digit)",
			                  k->u.scalar.text);
			ok = false;
			continue;
		}
		if (strlen(k->u.scalar.text) > SL_PROTO_ID_MAX) {
			sl_yreader_report(&L->r, k,
			                  "env: variable name is %zu characters long, over the job "
			                  "protocol's limit of %d",
			                  strlen(k->u.scalar.text), SL_PROTO_ID_MAX);
			ok = false;
			continue;
		}
		if (val->kind != SL_YNODE_SCALAR || val->u.scalar.type == SL_YTYPE_NULL) {
			struct sl_strbuf key = SL_STRBUF_INIT;

			sl_strbuf_addf(&key, "env.%s", k->u.scalar.text);
			sl_yreader_type_error(&L->r, key.buf, m->u.map.pairs[i].value,
			                      "a value (write \"\" for an empty one)");
			sl_strbuf_release(&key);
			ok = false;
			continue;
		}
		if (!sl__dag_text_fits(L, m->u.map.pairs[i].value, strlen(val->u.scalar.text),
		                       "env.%s", k->u.scalar.text)) {
			ok = false;
			continue;
		}
		if (!sl__dag_charge(L, m->u.map.pairs[i].value,
		                    SL_DAG_ITEM_BYTES + strlen(k->u.scalar.text) +
		                        strlen(val->u.scalar.text)))
			return false;
		SL_ALLOC_GROW(env->items, env->nr + 1, env->alloc);
		env->items[env->nr].key = sl_xstrdup(k->u.scalar.text);
		env->items[env->nr].value = sl_xstrdup(val->u.scalar.text);
		env->nr++;
	}
	return ok;
}

static bool read_task_env(struct sl_yreader *r, const char *name, const struct sl_ynode *v,
                          void *out)
{
	struct sl_task *t = out;

	(void)name;
	return sl__dag_read_env(loader_of(r), v, &t->env);
}

/* A pool's or a queue's name. */
static bool check_name(struct sl_yreader *r, const char *name, const struct sl_ynode *v, void *out)
{
	const char *s = sl_ynode_deref(v)->u.scalar.text;

	(void)out;
	if (sl_id_valid(s))
		return sl__dag_charge(loader_of(r), v, strlen(s));
	sl_yreader_report(
	    r, v,
	    "%s: '%s' is not a valid name (letters, digits, '_', '.' and '-', at most "
	    "%d characters)",
	    name, s, SL_ID_MAX);
	return false;
}

static bool check_cwd(struct sl_yreader *r, const char *name, const struct sl_ynode *v, void *out)
{
	const char *s = sl_ynode_deref(v)->u.scalar.text, *p;

	(void)name;
	(void)out;
	if (!*s) {
		sl_yreader_report(r, v, "cwd: is empty (omit it to run in the repository root)");
		return false;
	}
	if (s[0] == '/') {
		sl_yreader_report(r, v, "cwd: '%s' must be relative to the repository root", s);
		return false;
	}
	for (p = s; *p; p += strcspn(p, "/"), p += *p == '/') {
		if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || !p[2])) {
			sl_yreader_report(
			    r, v, "cwd: '%s' must stay inside the repository ('..' is not allowed)",
			    s);
			return false;
		}
	}
	return sl__dag_text_fits(loader_of(r), v, strlen(s), "cwd") &&
	       sl__dag_charge(loader_of(r), v, strlen(s));
}

static const struct sl_ykey sensor_keys[] = {
    SL_YKEY_DURATION("poke_interval", struct sl_task, poke_interval, SL_YKEY_POSITIVE),
    SL_YKEY_DURATION("timeout", struct sl_task, sensor_timeout, SL_YKEY_POSITIVE),
};

const struct sl_yschema sl__dag_sensor_schema = {sensor_keys, SL_ARRAY_SIZE(sensor_keys), NULL};

/* `sensor: true`, or a mapping of its settings; null or false: not a sensor. */
static bool read_sensor(struct sl_yreader *r, const char *name, const struct sl_ynode *v, void *out)
{
	const struct sl_yscope scope = {.where = "sensor", .prefix = "sensor."};
	struct sl_task *t = out;

	t->sensor = false;
	t->poke_interval = 60;
	t->sensor_timeout = 7 * 86400;
	if (sl_ynode_is(v, SL_YTYPE_NULL))
		return true;
	if (sl_ynode_is(v, SL_YTYPE_BOOL)) {
		t->sensor = sl_ynode_bool(v);
		return true;
	}
	if (sl_ynode_deref(v)->kind != SL_YNODE_MAPPING) {
		sl_yreader_type_error(r, name, v,
		                      "a mapping with poke_interval and timeout, or true");
		return false;
	}
	t->sensor = true;
	return sl_yschema_read(r, &sl__dag_sensor_schema, &scope, v, t, NULL) == 0;
}

static bool read_backoff(struct sl_yreader *r, const char *name, const struct sl_ynode *v,
                         void *out)
{
	const char *s = sl_ynode_deref(v)->u.scalar.text;
	struct sl_task *t = out;

	if (!strcmp(s, "fixed"))
		t->retry_backoff = SL_BACKOFF_FIXED;
	else if (!strcmp(s, "exponential"))
		t->retry_backoff = SL_BACKOFF_EXPONENTIAL;
	else {
		sl_yreader_report(r, v, "%s: expected 'fixed' or 'exponential', got '%s'", name, s);
		return false;
	}
	return true;
}

static bool read_trigger_rule(struct sl_yreader *r, const char *name, const struct sl_ynode *v,
                              void *out)
{
	const char *names[SL_TRIGGER_ALWAYS + 1];
	const char *s = sl_ynode_deref(v)->u.scalar.text, *hint;
	struct sl_task *t = out;

	(void)name;
	if (!sl_trigger_rule_parse(s, &t->trigger_rule))
		return true;
	for (int i = 0; i <= SL_TRIGGER_ALWAYS; i++)
		names[i] = sl_trigger_rule_name((enum sl_trigger_rule)i);
	hint = sl_yreader_suggest(r, s, names, SL_ARRAY_SIZE(names));
	if (hint)
		sl_yreader_report(r, v, "unknown trigger rule '%s' (did you mean '%s'?)", s, hint);
	else
		sl_yreader_report(
		    r, v, "unknown trigger rule '%s' (see the list in docs/dag-format.md)", s);
	return false;
}

/* A task's or a callback's command: not blank, and one a DISPATCH can carry. */
bool sl__dag_check_command(struct sl_yreader *r, const char *name, const struct sl_ynode *v,
                           void *out)
{
	const char *s = sl_ynode_deref(v)->u.scalar.text;

	(void)out;
	if (!s[strspn(s, " \t\r\n")]) {
		sl_yreader_report(r, v, "%s: is empty", name);
		return false;
	}
	return sl__dag_text_fits(loader_of(r), v, strlen(s), "%s", name) &&
	       sl__dag_charge(loader_of(r), v, strlen(s));
}

static const struct sl_ykey task_keys[TK_NR] = {
    [TK_COMMAND] =
        SL_YKEY_STRING("command", struct sl_task, command, SL_YKEY_REQUIRED, sl__dag_check_command),
    /* Resolved once every task id is known (load_deps). */
    [TK_DEPENDS_ON] = SL_YKEY_FN("depends_on", SL_YK_ANY, 0, NULL, NULL),
    [TK_RETRIES] = SL_YKEY_INT("retries", struct sl_task, retries, 0, 1000, 0),
    [TK_RETRY_DELAY] = SL_YKEY_DURATION("retry_delay", struct sl_task, retry_delay, 0),
    [TK_RETRY_BACKOFF] = SL_YKEY_FN("retry_backoff", SL_YK_STRING, 0, NULL, read_backoff),
    [TK_MAX_RETRY_DELAY] = SL_YKEY_DURATION("max_retry_delay", struct sl_task, max_retry_delay, 0),
    /* `timeout: null` undoes a timeout set in defaults. */
    [TK_TIMEOUT] = SL_YKEY_DURATION("timeout", struct sl_task, timeout,
                                    SL_YKEY_POSITIVE | SL_YKEY_NULL_CLEARS),
    [TK_TRIGGER_RULE] = SL_YKEY_FN("trigger_rule", SL_YK_STRING, 0, NULL, read_trigger_rule),
    [TK_POOL] = SL_YKEY_STRING("pool", struct sl_task, pool, SL_YKEY_NULL_CLEARS, check_name),
    [TK_PRIORITY] = SL_YKEY_INT("priority", struct sl_task, priority, INT_MIN, INT_MAX, 0),
    [TK_QUEUE] = SL_YKEY_STRING("queue", struct sl_task, queue, 0, check_name),
    [TK_ENV] = SL_YKEY_FN("env", SL_YK_MAPPING, SL_YKEY_NULL_KEEPS,
                          "a mapping of variable names to values", read_task_env),
    [TK_CWD] = SL_YKEY_STRING("cwd", struct sl_task, cwd, SL_YKEY_NULL_CLEARS, check_cwd),
    [TK_SENSOR] = SL_YKEY_FN("sensor", SL_YK_ANY, 0, NULL, read_sensor),
    [TK_DEPENDS_ON_PAST] = SL_YKEY_BOOL("depends_on_past", struct sl_task, depends_on_past, 0),
};

static char *dup_or_null(const char *s)
{
	return s ? sl_xstrdup(s) : NULL;
}

/* The bytes the model gains when key `k` of the parsed defaults `d` is applied. */
static size_t task_key_bytes(enum task_key k, const struct sl_task *d)
{
	size_t n = 0;

	switch (k) {
	case TK_POOL:
		return d->pool ? strlen(d->pool) : 0;
	case TK_QUEUE:
		return strlen(d->queue);
	case TK_CWD:
		return d->cwd ? strlen(d->cwd) : 0;
	case TK_ENV:
		for (size_t i = 0; i < d->env.nr; i++)
			n += SL_DAG_ITEM_BYTES + strlen(d->env.items[i].key) +
			     strlen(d->env.items[i].value);
		return n;
	default:
		return 0;
	}
}

/* Copy the value of key `k` from the parsed defaults `d` to `t`. */
static void task_key_copy(enum task_key k, const struct sl_task *d, struct sl_task *t)
{
	switch (k) {
	case TK_RETRIES:
		t->retries = d->retries;
		break;
	case TK_RETRY_DELAY:
		t->retry_delay = d->retry_delay;
		break;
	case TK_RETRY_BACKOFF:
		t->retry_backoff = d->retry_backoff;
		break;
	case TK_MAX_RETRY_DELAY:
		t->max_retry_delay = d->max_retry_delay;
		break;
	case TK_TIMEOUT:
		t->timeout = d->timeout;
		break;
	case TK_TRIGGER_RULE:
		t->trigger_rule = d->trigger_rule;
		break;
	case TK_POOL:
		free(t->pool);
		t->pool = dup_or_null(d->pool);
		break;
	case TK_PRIORITY:
		t->priority = d->priority;
		break;
	case TK_QUEUE:
		free(t->queue);
		t->queue = sl_xstrdup(d->queue);
		break;
	case TK_ENV:
		for (size_t i = 0; i < d->env.nr; i++) {
			SL_ALLOC_GROW(t->env.items, t->env.nr + 1, t->env.alloc);
			t->env.items[t->env.nr].key = sl_xstrdup(d->env.items[i].key);
			t->env.items[t->env.nr].value = sl_xstrdup(d->env.items[i].value);
			t->env.nr++;
		}
		break;
	case TK_CWD:
		free(t->cwd);
		t->cwd = dup_or_null(d->cwd);
		break;
	case TK_SENSOR:
		t->sensor = d->sensor;
		t->poke_interval = d->poke_interval;
		t->sensor_timeout = d->sensor_timeout;
		break;
	case TK_DEPENDS_ON_PAST:
		t->depends_on_past = d->depends_on_past;
		break;
	case TK_COMMAND:
	case TK_DEPENDS_ON:
	case TK_NR:
		break;
	}
}

void sl__dag_task_init_defaults(struct sl_task *t)
{
	memset(t, 0, sizeof(*t));
	t->retry_delay = 300;
	t->max_retry_delay = 86400;
	t->queue = sl_xstrdup("default");
	t->poke_interval = 60;
	t->sensor_timeout = 7 * 86400;
}

bool sl__dag_is_task_key(const char *name)
{
	for (int k = 0; k < TK_NR; k++) {
		if (!strcmp(name, task_keys[k].name))
			return true;
	}
	return false;
}

/* `command` and `depends_on` under defaults: each task sets its own. */
static bool defaults_unknown(struct sl_yreader *r, const struct sl_yscope *scope,
                             const struct sl_ynode *key)
{
	if (sl__dag_airflow_unknown(r, scope, key, AT_DEFAULTS))
		return true;
	for (int k = TK_COMMAND; k < TK_RETRIES; k++) {
		if (!strcmp(key->u.scalar.text, task_keys[k].name)) {
			sl_yreader_report(r, key,
			                  "'%s' cannot be set in defaults: each task sets its own",
			                  task_keys[k].name);
			return true;
		}
	}
	return false;
}

const struct sl_yschema sl__dag_defaults_schema = {task_keys + TK_RETRIES, TK_NR - TK_RETRIES,
                                                   defaults_unknown};

bool sl__dag_read_defaults(struct sl_yreader *r, const char *name, const struct sl_ynode *v,
                           void *out)
{
	const struct sl_yscope scope = {.where = "defaults"};
	struct loader *L = loader_of(r);
	struct sl_yfound found;
	int rc;

	(void)name;
	(void)out;
	rc = sl_yschema_read(r, &sl__dag_defaults_schema, &scope, v, &L->defaults, &found);
	L->defaults_set = found.valid << TK_RETRIES;
	if (found.pairs[TK_ENV - TK_RETRIES])
		L->defaults_env_key = found.pairs[TK_ENV - TK_RETRIES]->key;
	return rc == 0;
}

static bool task_unknown(struct sl_yreader *r, const struct sl_yscope *scope,
                         const struct sl_ynode *key)
{
	return sl__dag_airflow_unknown(r, scope, key, AT_TASK);
}

const struct sl_yschema sl__dag_task_schema = {task_keys, TK_NR, task_unknown};

static void load_task(struct loader *L, size_t ti, const struct sl_ypair *pair)
{
	struct sl_task *t = &L->dag->tasks[ti];
	struct task_src *src = &L->src[ti];
	const struct sl_ynode *m = sl_ynode_deref(pair->value);
	struct sl_yscope scope = {.where = "task", .at = pair->key};
	struct sl_yfound found;
	size_t defaults_bytes = 0;

	sl__dag_task_init_defaults(t);
	if (!sl__dag_charge(L, pair->key, SL_DAG_TASK_BYTES + pair->key->u.scalar.len))
		return;
	t->id = sl_xstrdup(pair->key->u.scalar.text);
	t->line = pair->key->line;
	t->column = pair->key->column;
	src->id = pair->key;
	if (!sl_id_valid(t->id))
		sl_yreader_report(
		    &L->r, pair->key,
		    "bad task id '%s': use letters, digits, '_', '.' and '-' (at most %d "
		    "characters)",
		    t->id, SL_ID_MAX);
	if (m->kind != SL_YNODE_MAPPING) {
		struct sl_strbuf name = SL_STRBUF_INIT;

		sl_strbuf_addf(&name, "task '%s'", t->id);
		sl_yreader_type_error(&L->r, name.buf, pair->value,
		                      sl_ynode_is_string(m)
		                          ? "a mapping of task keys (write 'command:' "
		                            "before a command)"
		                          : "a mapping of task keys");
		sl_strbuf_release(&name);
		return;
	}
	scope.id = t->id;
	sl_yschema_read(&L->r, &sl__dag_task_schema, &scope, m, t, &found);
	/* What the task does not set itself, it takes from defaults: counted first. */
	for (unsigned k = 0; k < TK_NR; k++)
		if ((L->defaults_set & ~found.present) & (1u << k))
			defaults_bytes += task_key_bytes((enum task_key)k, &L->defaults);
	if (!sl__dag_charge(L, pair->key, defaults_bytes))
		return;
	for (unsigned k = 0; k < TK_NR; k++)
		if ((L->defaults_set & ~found.present) & (1u << k))
			task_key_copy((enum task_key)k, &L->defaults, t);
	if (found.pairs[TK_COMMAND])
		src->command = found.pairs[TK_COMMAND]->value;
	if (found.pairs[TK_DEPENDS_ON])
		src->depends_on = found.pairs[TK_DEPENDS_ON]->value;
	if (found.pairs[TK_ENV])
		src->env_key = found.pairs[TK_ENV]->key;
}

static bool dep_listed(const struct sl_task *t, size_t u)
{
	for (size_t i = 0; i < t->upstream_nr; i++) {
		if (t->upstream[i] == u)
			return true;
	}
	return false;
}

/* `depends_on: a, c` is one string in YAML: show it as the list it meant. */
static void report_comma_dep(struct loader *L, const struct sl_ynode *at, const char *task,
                             const char *dep)
{
	struct sl_strbuf list = SL_STRBUF_INIT;
	const char *p = dep;

	while (*p) {
		size_t n;

		p += strspn(p, " \t,");
		n = strcspn(p, ",");
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n)
			sl_strbuf_addf(&list, "%s%.*s", list.len ? ", " : "", (int)n, p);
		p += n;
	}
	sl_yreader_report(&L->r, at,
	                  "task '%s' depends on unknown task '%s' (depends_on takes a list: [%s])",
	                  task, dep, list.buf);
	sl_strbuf_release(&list);
}

static void report_unknown_dep(struct loader *L, const struct sl_ynode *at, const char *task,
                               const char *dep)
{
	struct sl_dag *dag = L->dag;
	struct sl_suggest s;

	sl_suggest_init(&s, dep);
	for (size_t i = 0; i < dag->tasks_nr && L->r.suggest_budget; i++, L->r.suggest_budget--)
		sl_suggest_consider(&s, dag->tasks[i].id);
	if (strchr(dep, ','))
		report_comma_dep(L, at, task, dep);
	else if (s.best)
		sl_yreader_report(&L->r, at,
		                  "task '%s' depends on unknown task '%s' (did you mean '%s'?)",
		                  task, dep, s.best);
	else
		sl_yreader_report(&L->r, at, "task '%s' depends on unknown task '%s'", task, dep);
}

static void add_dep(struct loader *L, size_t ti, const struct sl_ynode *entry)
{
	struct sl_task *t = &L->dag->tasks[ti];
	struct task_src *src = &L->src[ti];
	const struct sl_ynode *e = sl_ynode_deref(entry);
	const char *dep;
	long u;

	if (e->kind != SL_YNODE_SCALAR || e->u.scalar.type == SL_YTYPE_NULL ||
	    e->u.scalar.type == SL_YTYPE_BOOL) {
		sl_yreader_type_error(&L->r, "depends_on", entry, "a task id");
		return;
	}
	dep = e->u.scalar.text;
	u = sl_dag_task_index(L->dag, dep);
	if (u < 0) {
		report_unknown_dep(L, entry, t->id, dep);
	} else if ((size_t)u == ti) {
		sl_yreader_report(&L->r, entry, "task '%s' depends on itself", t->id);
	} else if (dep_listed(t, (size_t)u)) {
		sl_yreader_report(&L->r, entry, "task '%s' lists '%s' more than once in depends_on",
		                  t->id, dep);
	} else {
		t->upstream[t->upstream_nr] = (size_t)u;
		src->dep_nodes[t->upstream_nr] = entry;
		t->upstream_nr++;
	}
}

/*
 * Resolve depends_on once every task id is known. A single id may stand
 * for a one-item list. Duplicates are found by a scan of the task's own
 * list, which stays short in any real DAG.
 */
static void load_deps(struct loader *L, size_t ti)
{
	const struct sl_ynode *v = L->src[ti].depends_on;
	const struct sl_ynode *d;
	size_t nr;

	if (!v)
		return;
	d = sl_ynode_deref(v);
	if (sl_ynode_is(d, SL_YTYPE_NULL))
		return;
	if (d->kind == SL_YNODE_SCALAR) {
		nr = 1;
	} else if (d->kind == SL_YNODE_SEQUENCE) {
		nr = d->u.seq.nr;
	} else {
		sl_yreader_type_error(&L->r, "depends_on", v, "a list of task ids");
		return;
	}
	L->dag->tasks[ti].upstream = sl_xcalloc(nr, sizeof(size_t));
	L->src[ti].dep_nodes = sl_xcalloc(nr, sizeof(*L->src[ti].dep_nodes));
	for (size_t i = 0; i < nr; i++) {
		const struct sl_ynode *entry = d->kind == SL_YNODE_SCALAR ? v : d->u.seq.items[i];
		const struct sl_ynode *e = sl_ynode_deref(entry);

		/* The stored DAG names each upstream task by its id; `v` may be an alias. */
		if (!sl__dag_charge(L, v,
		                    SL_DAG_EDGE_BYTES +
		                        (e->kind == SL_YNODE_SCALAR ? e->u.scalar.len : 0)))
			return;
		add_dep(L, ti, entry);
	}
}

void sl__dag_load_tasks(struct loader *L, const struct sl_ynode *v, const struct sl_ynode *root)
{
	const struct sl_ynode *m = v ? sl_ynode_deref(v) : NULL;
	struct sl_dag *dag = L->dag;

	if (!m || sl_ynode_is(m, SL_YTYPE_NULL) || (m->kind == SL_YNODE_MAPPING && !m->u.map.nr)) {
		sl_yreader_report(&L->r, v ? v : root, "a DAG needs 'tasks': at least one task");
		return;
	}
	if (m->kind != SL_YNODE_MAPPING) {
		sl_yreader_type_error(&L->r, "tasks", v, "a mapping of task ids to tasks");
		return;
	}
	dag->tasks = sl_xcalloc(m->u.map.nr, sizeof(*dag->tasks));
	L->src = sl_xcalloc(m->u.map.nr, sizeof(*L->src));
	L->src_nr = m->u.map.nr;
	for (size_t i = 0; i < m->u.map.nr && !L->over_cap; i++) {
		dag->tasks_nr++;
		load_task(L, i, &m->u.map.pairs[i]);
	}
	if (L->over_cap)
		return;
	sl_dag_index_build(dag);
	for (size_t i = 0; i < dag->tasks_nr && !L->over_cap; i++)
		load_deps(L, i);
	if (!L->over_cap)
		sl__dag_check_graph(L);
}
