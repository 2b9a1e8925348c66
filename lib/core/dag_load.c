#include "sluice/dag.h"

#include "sluice/alloc.h"
#include "sluice/civil.h"
#include "sluice/container.h"
#include "sluice/error.h"
#include "sluice/proto.h"
#include "sluice/strbuf.h"
#include "sluice/suggest.h"
#include "sluice/taskenv.h"
#include "sluice/template.h"
#include "sluice/tz.h"
#include "sluice/yaml_doc.h"
#include "sluice/yschema.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "sluice/banned.h"

#define DEFAULT_MAX_FILE_SIZE (1024 * 1024)
/*
 * The env entries of a DISPATCH that the file's env and params may fill:
 * the rest is kept for the SLUICE_* values every attempt gets.
 */
#define ENV_ROOM (SL_PROTO_LIST_MAX - SL_TASKENV_FIXED_MAX)

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

/*
 * The task keys. The two each task sets for itself come first: `defaults`
 * reads the table from TK_RETRIES on.
 */
enum task_key {
	TK_COMMAND,
	TK_DEPENDS_ON,
	TK_RETRIES,
	TK_RETRY_DELAY,
	TK_RETRY_BACKOFF,
	TK_MAX_RETRY_DELAY,
	TK_TIMEOUT,
	TK_TRIGGER_RULE,
	TK_POOL,
	TK_PRIORITY,
	TK_QUEUE,
	TK_ENV,
	TK_CWD,
	TK_SENSOR,
	TK_DEPENDS_ON_PAST,
	TK_NR
};

/* What the loader knows about one task beyond struct sl_task. */
struct task_src {
	const struct sl_ynode *id;          /* the key naming the task */
	const struct sl_ynode *keys[TK_NR]; /* the task's own values */
	const struct sl_ynode *env_key;     /* the task's own 'env' key */
	const struct sl_ynode **dep_nodes;  /* parallel to task->upstream */
};

struct loader {
	struct sl_yreader r; /* the file's name, the diagnostics */
	const char *data;
	size_t diags_start;
	struct sl_dag *dag;
	struct sl_tz *tz;
	struct sl_task defaults;
	unsigned defaults_set; /* bit k: defaults gave a valid value for task key k */
	const struct sl_ynode *defaults_env_key; /* the 'env' key in defaults */
	struct task_src *src;                    /* one per task */
	size_t src_nr;
	struct sl_strbuf where; /* "task 'x'", reused from task to task */
};

/* The loader of a key callback's reader. */
static struct loader *loader_of(struct sl_yreader *r)
{
	return container_of(r, struct loader, r);
}

static bool failed(const struct loader *L)
{
	return L->r.diags->nr > L->diags_start;
}

static bool text_fits(struct loader *L, const struct sl_ynode *at, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Whether a value sent in a DISPATCH (a command, cwd or env value) fits the
 * job protocol, whose worker refuses the whole DISPATCH otherwise; `fmt`
 * names the key.
 */
static bool text_fits(struct loader *L, const struct sl_ynode *at, size_t len, const char *fmt, ...)
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

static bool env_name_valid(const char *s)
{
	return sl_template_ident_valid(s, strlen(s));
}

/* The entries of an `env` mapping (the reader checked that it is one) into `env`. */
static bool read_env(struct loader *L, const struct sl_ynode *v, struct sl_kvs *env)
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
		if (!text_fits(L, m->u.map.pairs[i].value, strlen(val->u.scalar.text), "env.%s",
		               k->u.scalar.text)) {
			ok = false;
			continue;
		}
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
	return read_env(loader_of(r), v, &t->env);
}

/* A pool's or a queue's name. */
static bool check_name(struct sl_yreader *r, const char *name, const struct sl_ynode *v, void *out)
{
	const char *s = sl_ynode_deref(v)->u.scalar.text;

	(void)out;
	if (sl_id_valid(s))
		return true;
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
	return text_fits(loader_of(r), v, strlen(s), "cwd");
}

static const struct sl_ykey sensor_keys[] = {
    SL_YKEY_DURATION("poke_interval", struct sl_task, poke_interval, SL_YKEY_POSITIVE),
    SL_YKEY_DURATION("timeout", struct sl_task, sensor_timeout, SL_YKEY_POSITIVE),
};

/* `sensor: true`, or a mapping of its settings; null or false: not a sensor. */
static bool read_sensor(struct sl_yreader *r, const char *name, const struct sl_ynode *v, void *out)
{
	static const struct sl_yschema schema = {sensor_keys, SL_ARRAY_SIZE(sensor_keys), NULL};
	const struct sl_yscope scope = {"sensor", "sensor.", NULL};
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
	return sl_yschema_read(r, &schema, &scope, v, t, NULL) == 0;
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
static bool check_command(struct sl_yreader *r, const char *name, const struct sl_ynode *v,
                          void *out)
{
	const char *s = sl_ynode_deref(v)->u.scalar.text;

	(void)out;
	if (!s[strspn(s, " \t\r\n")]) {
		sl_yreader_report(r, v, "%s: is empty", name);
		return false;
	}
	return text_fits(loader_of(r), v, strlen(s), "%s", name);
}

static const struct sl_ykey task_keys[TK_NR] = {
    [TK_COMMAND] =
        SL_YKEY_STRING("command", struct sl_task, command, SL_YKEY_REQUIRED, check_command),
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

static void task_init_defaults(struct sl_task *t)
{
	memset(t, 0, sizeof(*t));
	t->retry_delay = 300;
	t->max_retry_delay = 86400;
	t->queue = sl_xstrdup("default");
	t->poke_interval = 60;
	t->sensor_timeout = 7 * 86400;
}

/* `command` and `depends_on` under defaults: each task sets its own. */
static bool defaults_unknown(struct sl_yreader *r, const struct sl_ynode *key)
{
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

static bool read_defaults(struct sl_yreader *r, const char *name, const struct sl_ynode *v,
                          void *out)
{
	static const struct sl_yschema schema = {task_keys + TK_RETRIES, TK_NR - TK_RETRIES,
	                                         defaults_unknown};
	const struct sl_yscope scope = {"defaults", "", NULL};
	struct loader *L = loader_of(r);
	struct sl_yfound found;
	int rc;

	(void)name;
	(void)out;
	rc = sl_yschema_read(r, &schema, &scope, v, &L->defaults, &found);
	L->defaults_set = found.valid << TK_RETRIES;
	if (found.pairs[TK_ENV - TK_RETRIES])
		L->defaults_env_key = found.pairs[TK_ENV - TK_RETRIES]->key;
	return rc == 0;
}

static void load_task(struct loader *L, size_t ti, const struct sl_ypair *pair)
{
	static const struct sl_yschema schema = {task_keys, TK_NR, NULL};
	struct sl_task *t = &L->dag->tasks[ti];
	struct task_src *src = &L->src[ti];
	const struct sl_ynode *m = sl_ynode_deref(pair->value);
	struct sl_yscope scope = {NULL, "", pair->key};
	struct sl_yfound found;

	task_init_defaults(t);
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
	sl_strbuf_reset(&L->where);
	sl_strbuf_addf(&L->where, "task '%s'", t->id);
	if (m->kind != SL_YNODE_MAPPING) {
		sl_yreader_type_error(&L->r, L->where.buf, pair->value,
		                      sl_ynode_is_string(m)
		                          ? "a mapping of task keys (write 'command:' "
		                            "before a command)"
		                          : "a mapping of task keys");
		return;
	}
	scope.where = L->where.buf;
	sl_yschema_read(&L->r, &schema, &scope, m, t, &found);
	for (int k = 0; k < TK_NR; k++) {
		if (found.pairs[k])
			src->keys[k] = found.pairs[k]->value;
		else if (k >= TK_RETRIES && (L->defaults_set & (1u << k)))
			task_key_copy((enum task_key)k, &L->defaults, t);
	}
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

static void report_unknown_dep(struct loader *L, const struct sl_ynode *at, const char *task,
                               const char *dep)
{
	struct sl_dag *dag = L->dag;
	struct sl_suggest s;

	sl_suggest_init(&s, dep);
	for (size_t i = 0; i < dag->tasks_nr && L->r.suggest_budget; i++, L->r.suggest_budget--)
		sl_suggest_consider(&s, dag->tasks[i].id);
	if (s.best)
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
	const struct sl_ynode *v = L->src[ti].keys[TK_DEPENDS_ON];
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
	if (d->kind == SL_YNODE_SCALAR)
		add_dep(L, ti, v);
	for (size_t i = 0; d->kind == SL_YNODE_SEQUENCE && i < nr; i++)
		add_dep(L, ti, d->u.seq.items[i]);
}

static const struct sl_ynode *dep_node(const struct loader *L, size_t task, size_t upstream)
{
	const struct sl_task *t = &L->dag->tasks[task];

	for (size_t i = 0; i < t->upstream_nr; i++) {
		if (t->upstream[i] == upstream)
			return L->src[task].dep_nodes[i];
	}
	return L->src[task].id;
}

static bool pos_after(const struct sl_ynode *a, const struct sl_ynode *b)
{
	return a->line > b->line || (a->line == b->line && a->column > b->column);
}

/*
 * Name the cycle so that it ends with the dependency written last in the
 * file: that is the edge whose addition closed the cycle, and where the
 * error points.
 */
static void report_cycle(struct loader *L, const struct sl_dag_cycle *c)
{
	struct sl_strbuf msg = SL_STRBUF_INIT;
	const struct sl_ynode *at = NULL;
	size_t start = 0;

	for (size_t i = 0; i < c->nr; i++) {
		/* the edge into c->tasks[i], from the task before it */
		const struct sl_ynode *n =
		    dep_node(L, c->tasks[i], c->tasks[(i + c->nr - 1) % c->nr]);

		if (!at || pos_after(n, at)) {
			at = n;
			start = i;
		}
	}
	sl_strbuf_adds(&msg, "cycle: ");
	for (size_t i = 0; i <= c->nr; i++)
		sl_strbuf_addf(&msg, "%s%s", i ? " -> " : "",
		               L->dag->tasks[c->tasks[(start + i) % c->nr]].id);
	sl_yreader_report(&L->r, at, "%s", msg.buf);
	sl_strbuf_release(&msg);
}

/* Where the n-th "{{" of scalar `v` is written, found in the raw source. */
static void brace_position(const struct loader *L, const struct sl_ynode *v, size_t nth,
                           unsigned *line, unsigned *column)
{
	const struct sl_ynode *s = sl_ynode_deref(v);
	size_t i = s->start_offset;

	*line = s->line;
	*column = s->column;
	while (i + 1 < s->end_offset) {
		if (L->data[i] == '{' && L->data[i + 1] == '{') {
			if (!nth--) {
				sl_ynode_position(s, L->data, i, line, column);
				return;
			}
			i += 2;
			continue;
		}
		i++;
	}
}

struct template_ctx {
	struct loader *L;
	const struct sl_ynode *node;
	const char *where;            /* "command", "on_failure", ... */
	long task;                    /* -1: a DAG callback, where any task's outputs may be used */
	struct sl_dag_walk ancestors; /* of `task`, once `marked` */
	bool marked;
};

static void template_error(struct template_ctx *c, size_t nth, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void template_error(struct template_ctx *c, size_t nth, const char *fmt, ...)
{
	struct sl_strbuf msg = SL_STRBUF_INIT;
	unsigned line, column;
	va_list ap;

	va_start(ap, fmt);
	sl_strbuf_vaddf(&msg, fmt, ap);
	va_end(ap);
	brace_position(c->L, c->node, nth, &line, &column);
	sl_diags_add(c->L->r.diags, c->L->r.file, line, column, "%s", msg.buf);
	sl_strbuf_release(&msg);
}

static void check_output_ref(struct template_ctx *c, size_t nth, const struct sl_template_ref *r,
                             const char *full)
{
	struct sl_dag *dag = c->L->dag;
	char *task = sl_xstrndup(r->a, r->a_len);
	long u = sl_dag_task_index(dag, task);

	if (u < 0) {
		struct sl_suggest s;

		sl_suggest_init(&s, task);
		for (size_t i = 0; i < dag->tasks_nr && c->L->r.suggest_budget;
		     i++, c->L->r.suggest_budget--)
			sl_suggest_consider(&s, dag->tasks[i].id);
		if (s.best)
			template_error(c, nth,
			               "{{ %s }}: there is no task '%s' (did you mean '%s'?)", full,
			               task, s.best);
		else
			template_error(c, nth, "{{ %s }}: there is no task '%s'", full, task);
	} else if (c->task >= 0) {
		if (!c->marked) {
			sl_dag_walk_ancestors(&c->ancestors, (size_t)c->task);
			c->marked = true;
		}
		if (!sl_dag_walk_marked(&c->ancestors, (size_t)u))
			template_error(c, nth,
			               "{{ %s }}: task '%s' is not upstream of task '%s', so its "
			               "outputs are not known when it runs",
			               full, task, dag->tasks[c->task].id);
	}
	free(task);
}

static void check_ref(struct template_ctx *c, size_t nth, const struct sl_template_piece *p)
{
	struct sl_template_ref r;
	char *full = sl_xstrndup(p->name, p->name_len);
	char *param;

	sl_template_ref_parse(p->name, p->name_len, &r);
	switch (r.kind) {
	case SL_TREF_BUILTIN:
		break;
	case SL_TREF_PARAM:
		param = sl_xstrndup(r.a, r.a_len);
		if (!json_object_get(c->L->dag->params, param)) {
			const char *hint = NULL;
			struct sl_suggest s;
			const char *key;
			json_t *val;

			sl_suggest_init(&s, param);
			json_object_foreach(c->L->dag->params, key, val)
			    sl_suggest_consider(&s, key);
			hint = s.best;
			if (hint)
				template_error(c, nth,
				               "{{ %s }}: param '%s' is not declared in 'params' "
				               "(did you mean '%s'?)",
				               full, param, hint);
			else
				template_error(c, nth,
				               "{{ %s }}: param '%s' is not declared in 'params'",
				               full, param);
		}
		free(param);
		break;
	case SL_TREF_OUTPUT:
		check_output_ref(c, nth, &r, full);
		break;
	case SL_TREF_INVALID: {
		const char *hint = NULL;
		size_t nr;

		if (!p->name_len) {
			template_error(c, nth, "%s: empty template '{{ }}'", c->where);
			break;
		}
		if (!strncmp(full, "params.", 7) || !strncmp(full, "outputs.", 8)) {
			template_error(
			    c, nth,
			    "{{ %s }}: expected params.NAME or outputs.TASK.KEY, where NAME "
			    "and KEY are letters, digits and '_'",
			    full);
			break;
		}
		for (nr = 0; sl_template_builtins[nr]; nr++)
			;
		hint = sl_suggest_best(full, sl_template_builtins, nr);
		if (hint)
			template_error(c, nth, "unknown template name '%s' (did you mean '%s'?)",
			               full, hint);
		else
			template_error(c, nth, "unknown template name '%s'", full);
		break;
	}
	}
	free(full);
}

static void check_template(struct template_ctx *c)
{
	const struct sl_ynode *s = sl_ynode_deref(c->node);
	struct sl_template_iter it;
	struct sl_template_piece p;
	size_t nth = 0;

	sl_template_iter_init(&it, s->u.scalar.text, s->u.scalar.len);
	while (sl_template_next(&it, &p)) {
		if (p.kind == SL_TEMPLATE_UNTERMINATED)
			template_error(c, nth, "%s: unterminated '{{' (no closing '}}')", c->where);
		else if (p.kind == SL_TEMPLATE_REF)
			check_ref(c, nth, &p);
		if (p.kind != SL_TEMPLATE_TEXT)
			nth++;
	}
}

static void check_templates(struct loader *L, const struct sl_ynode *on_failure,
                            const struct sl_ynode *on_success)
{
	struct sl_dag *dag = L->dag;
	struct template_ctx c = {.L = L};

	sl_dag_walk_init(&c.ancestors, dag);
	c.where = "command";
	for (size_t i = 0; i < dag->tasks_nr; i++) {
		if (!dag->tasks[i].command)
			continue;
		c.node = L->src[i].keys[TK_COMMAND];
		c.task = (long)i;
		c.marked = false;
		check_template(&c);
	}
	c.task = -1;
	if (dag->on_failure) {
		c.node = on_failure;
		c.where = "on_failure";
		check_template(&c);
	}
	if (dag->on_success) {
		c.node = on_success;
		c.where = "on_success";
		check_template(&c);
	}
	sl_dag_walk_release(&c.ancestors);
}

static void load_tasks(struct loader *L, const struct sl_ynode *v, const struct sl_ynode *root)
{
	const struct sl_ynode *m = v ? sl_ynode_deref(v) : NULL;
	struct sl_dag *dag = L->dag;
	struct sl_dag_cycles cycles = SL_DAG_CYCLES_INIT;

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
	for (size_t i = 0; i < m->u.map.nr; i++) {
		dag->tasks_nr++;
		load_task(L, i, &m->u.map.pairs[i]);
	}
	sl_dag_index_build(dag);
	for (size_t i = 0; i < dag->tasks_nr; i++)
		load_deps(L, i);
	if (sl_dag_graph_build(dag, &cycles) < 0) {
		for (size_t i = 0; i < cycles.nr; i++)
			report_cycle(L, &cycles.items[i]);
	}
	sl_dag_cycles_release(&cycles);
}

/* Any YAML value as JSON; NULL after reporting what cannot be one. */
static json_t *to_json(struct loader *L, const char *name, const struct sl_ynode *v)
{
	const struct sl_ynode *n = sl_ynode_deref(v);
	json_t *j;
	long long i;
	double d;

	switch (n->kind) {
	case SL_YNODE_SEQUENCE:
		j = json_array();
		for (size_t k = 0; k < n->u.seq.nr; k++) {
			json_t *item = to_json(L, name, n->u.seq.items[k]);

			if (item)
				json_array_append_new(j, item);
		}
		return j;
	case SL_YNODE_MAPPING:
		j = json_object();
		for (size_t k = 0; k < n->u.map.nr; k++) {
			json_t *item = to_json(L, name, n->u.map.pairs[k].value);

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
	text_fits(L, v, strlen(text), "params.%s", name);
	free(text);
}

static bool read_params(struct sl_yreader *r, const char *name, const struct sl_ynode *v, void *out)
{
	const struct sl_ynode *m = sl_ynode_deref(v);
	struct loader *L = loader_of(r);
	struct sl_dag *dag = out;
	size_t problems = r->problems;

	(void)name;
	for (size_t i = 0; i < m->u.map.nr; i++) {
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
		j = to_json(L, param, m->u.map.pairs[i].value);
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

	(void)r;
	(void)name;
	dag->tags = sl_xcalloc(n ? n : 1, sizeof(*dag->tags));
	for (size_t i = 0; i < n; i++)
		dag->tags[dag->tags_nr++] =
		    sl_xstrdup(sl_ynode_deref(sl_ylist_item(v, i))->u.scalar.text);
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

/* A date in the DAG's time zone, read before (the table's order). */
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
	return read_env(loader_of(r), v, &dag->env);
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
    /* After params and env, which check_env_room weighs against it. */
    [DK_DEFAULTS] = SL_YKEY_FN("defaults", SL_YK_MAPPING, SL_YKEY_NULL_KEEPS,
                               "a mapping of task keys", read_defaults),
    [DK_ON_FAILURE] =
        SL_YKEY_STRING("on_failure", struct sl_dag, on_failure, SL_YKEY_NULL_KEEPS, check_command),
    [DK_ON_SUCCESS] =
        SL_YKEY_STRING("on_success", struct sl_dag, on_success, SL_YKEY_NULL_KEEPS, check_command),
    /* Read by load_tasks once every other key is: tasks take defaults. */
    [DK_TASKS] = SL_YKEY_FN("tasks", SL_YK_ANY, 0, NULL, NULL),
};

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * A DISPATCH carries at most SL_PROTO_LIST_MAX env entries: one per
 * distinct name of the DAG's env, the task's env and SLUICE_PARAM_<NAME>
 * (sl_taskenv_build merges them by name), the SLUICE_* values, and the
 * upstream outputs, which only the scheduler can count. Report an
 * env or params that leaves no room for the SLUICE_* values, at the key
 * that holds the most (`env_key`, `params_key`: the DAG's).
 */
static void check_env_room(struct loader *L, const struct sl_ynode *env_key,
                           const struct sl_ynode *params_key)
{
	const struct sl_dag *dag = L->dag;
	size_t nr = 0, all = dag->env.nr + json_object_size(dag->params);
	char **names = sl_xcalloc(all ? all : 1, sizeof(*names));
	bool defaults_checked = false;
	const char *key;
	json_t *v;

	for (size_t i = 0; i < dag->env.nr; i++)
		names[nr++] = sl_xstrdup(dag->env.items[i].key);
	json_object_foreach(dag->params, key, v)
	{
		struct sl_strbuf var = SL_STRBUF_INIT;

		sl_taskenv_param_name(&var, key, strlen(key));
		names[nr++] = sl_strbuf_detach(&var, NULL);
	}
	qsort(names, all, sizeof(*names), name_cmp);
	nr = 0;
	for (size_t i = 0; i < all; i++) {
		if (nr && !strcmp(names[nr - 1], names[i]))
			free(names[i]);
		else
			names[nr++] = names[i];
	}
	if (nr > ENV_ROOM) {
		bool at_env = dag->env.nr >= json_object_size(dag->params);

		sl_yreader_report(
		    &L->r, at_env ? env_key : params_key,
		    "%s: the DAG's env and params make %zu environment variables, over the "
		    "limit of %d (the job protocol's %d less %d kept for sluice's SLUICE_* "
		    "variables)",
		    at_env ? "env" : "params", nr, ENV_ROOM, SL_PROTO_LIST_MAX,
		    SL_TASKENV_FIXED_MAX);
		goto out;
	}
	for (size_t i = 0; i < dag->tasks_nr; i++) {
		const struct sl_kvs *env = &dag->tasks[i].env;
		const struct sl_ynode *at = L->src[i].env_key;
		size_t n = nr;

		if (!at) {
			/* Tasks that take defaults.env all get the same: report it once. */
			if (!(L->defaults_set & (1u << TK_ENV)) || defaults_checked)
				continue;
			defaults_checked = true;
			at = L->defaults_env_key;
		}
		for (size_t j = 0; j < env->nr; j++)
			n += !bsearch(&env->items[j].key, names, nr, sizeof(*names), name_cmp);
		if (n > ENV_ROOM)
			sl_yreader_report(
			    &L->r, at,
			    "env: with the DAG's env and params, a task gets %zu environment "
			    "variables, over the limit of %d (the job protocol's %d less %d kept "
			    "for sluice's SLUICE_* variables)",
			    n, ENV_ROOM, SL_PROTO_LIST_MAX, SL_TASKENV_FIXED_MAX);
	}
out:
	for (size_t i = 0; i < nr; i++)
		free(names[i]);
	free(names);
}

/* A task key at the DAG level is a common slip: say where it belongs. */
static bool root_unknown(struct sl_yreader *r, const struct sl_ynode *key)
{
	for (int k = 0; k < TK_NR; k++) {
		if (!strcmp(key->u.scalar.text, task_keys[k].name)) {
			sl_yreader_report(
			    r, key,
			    "unknown key '%s' at DAG level ('%s' is a task key; set it "
			    "for every task under 'defaults')",
			    key->u.scalar.text, key->u.scalar.text);
			return true;
		}
	}
	return false;
}

static const struct sl_ynode *value_of(const struct sl_yfound *found, enum dag_key k)
{
	return found->pairs[k] ? found->pairs[k]->value : NULL;
}

static void load_root(struct loader *L, const struct sl_ynode *root)
{
	static const struct sl_yschema schema = {dag_keys, DK_NR, root_unknown};
	const struct sl_yscope scope = {NULL, "", NULL};
	const struct sl_ynode *m = sl_ynode_deref(root);
	struct sl_dag *dag = L->dag;
	struct sl_yfound found;

	if (m->kind != SL_YNODE_MAPPING) {
		sl_yreader_type_error(&L->r, NULL, root,
		                      "a mapping of DAG keys (dag, schedule, tasks, ...)");
		return;
	}
	sl_yschema_read(&L->r, &schema, &scope, m, dag, &found);
	if (!found.pairs[DK_DAG])
		id_from_file(L);
	if (dag->has_start_date && dag->has_end_date && dag->end_date < dag->start_date)
		sl_yreader_report(&L->r, value_of(&found, DK_END_DATE),
		                  "end_date: is before start_date");
	load_tasks(L, value_of(&found, DK_TASKS), root);
	check_templates(L, value_of(&found, DK_ON_FAILURE), value_of(&found, DK_ON_SUCCESS));
	check_env_room(L, found.pairs[DK_ENV] ? found.pairs[DK_ENV]->key : NULL,
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
	sl_strbuf_release(&L->where);
}

int sl_dag_load(struct sl_dag **out, const char *file, const char *data, size_t len,
                const struct sl_load_opts *opts, struct sl_diags *diags)
{
	size_t limit = opts && opts->max_file_size ? opts->max_file_size : DEFAULT_MAX_FILE_SIZE;
	struct loader L = {.data = data};
	struct sl_ydoc *doc = NULL;
	int rc = SL_EINVAL;

	*out = NULL;
	sl_yreader_init(&L.r, file, diags);
	sl_strbuf_init(&L.where);
	L.diags_start = diags->nr;
	task_init_defaults(&L.defaults);
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
