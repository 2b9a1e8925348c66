#include "sluice/dag.h"

#include "sluice/alloc.h"
#include "sluice/civil.h"
#include "sluice/duration.h"
#include "sluice/error.h"
#include "sluice/proto.h"
#include "sluice/strbuf.h"
#include "sluice/suggest.h"
#include "sluice/taskenv.h"
#include "sluice/template.h"
#include "sluice/tz.h"
#include "sluice/yaml_doc.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "sluice/banned.h"

#define DEFAULT_MAX_FILE_SIZE (1024 * 1024)
/* Bounds the "did you mean" work a file full of unknown names can cause. */
#define SUGGEST_BUDGET 20000
/*
 * The env entries of a DISPATCH that the file's env and params may fill:
 * the rest is kept for the SLUICE_* values every attempt gets.
 */
#define ENV_ROOM (SL_PROTO_LIST_MAX - SL_TASKENV_FIXED_MAX)

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

static const char *const dag_keys[DK_NR] = {
    "dag",
    "description",
    "schedule",
    "timezone",
    "start_date",
    "end_date",
    "catchup",
    "max_active_runs",
    "max_active_tasks",
    "paused",
    "tags",
    "owner",
    "params",
    "env",
    "defaults",
    "on_failure",
    "on_success",
    "tasks",
};

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

static const char *const task_keys[TK_NR] = {
    "command",         "depends_on", "retries",      "retry_delay", "retry_backoff",
    "max_retry_delay", "timeout",    "trigger_rule", "pool",        "priority",
    "queue",           "env",        "cwd",          "sensor",      "depends_on_past",
};

static const char *const sensor_keys[] = {"poke_interval", "timeout"};

/* What the loader knows about one task beyond struct sl_task. */
struct task_src {
	const struct sl_ynode *id;          /* the key naming the task */
	const struct sl_ynode *keys[TK_NR]; /* the task's own values */
	const struct sl_ynode *env_key;     /* the task's own 'env' key */
	const struct sl_ynode **dep_nodes;  /* parallel to task->upstream */
};

struct loader {
	const char *file;
	const char *data;
	struct sl_diags *diags;
	size_t diags_start;
	struct sl_dag *dag;
	struct sl_tz *tz;
	struct sl_task defaults;
	unsigned defaults_set; /* bit k: defaults gave a valid value for task key k */
	const struct sl_ynode *defaults_env_key; /* the 'env' key in defaults */
	struct task_src *src;                    /* one per task */
	size_t src_nr;
	size_t suggest_budget;
};

static void report(struct loader *L, const struct sl_ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report(struct loader *L, const struct sl_ynode *at, const char *fmt, ...)
{
	struct sl_strbuf msg = SL_STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	sl_strbuf_vaddf(&msg, fmt, ap);
	va_end(ap);
	sl_diags_add(L->diags, L->file, at ? at->line : 1, at ? at->column : 1, "%s", msg.buf);
	sl_strbuf_release(&msg);
}

static bool failed(const struct loader *L)
{
	return L->diags->nr > L->diags_start;
}

/* "string \"two\"", "integer -3", "mapping": the got-part of a type error. */
static void describe(struct sl_strbuf *sb, const struct sl_ynode *v)
{
	const char *text;
	size_t n;
	bool cut;

	v = sl_ynode_deref(v);
	sl_strbuf_adds(sb, sl_ynode_type_name(v));
	if (v->kind != SL_YNODE_SCALAR || v->u.scalar.type == SL_YTYPE_NULL)
		return;
	text = v->u.scalar.text;
	n = strcspn(text, "\n");
	cut = n > 40 || text[n];
	if (n > 40)
		n = 40;
	while (n && ((unsigned char)text[n] & 0xC0) == 0x80)
		n--;
	if (v->u.scalar.type == SL_YTYPE_STRING)
		sl_strbuf_addf(sb, " \"%.*s%s\"", (int)n, text, cut ? "..." : "");
	else
		sl_strbuf_addf(sb, " %.*s", (int)n, text);
}

static void type_error(struct loader *L, const char *key, const struct sl_ynode *v,
                       const char *expected)
{
	struct sl_strbuf got = SL_STRBUF_INIT;

	describe(&got, v);
	report(L, v, "%s: expected %s, got %s", key, expected, got.buf);
	sl_strbuf_release(&got);
}

static const char *suggest_from(struct loader *L, const char *word, const char *const *cands,
                                size_t nr)
{
	struct sl_suggest s;

	sl_suggest_init(&s, word);
	for (size_t i = 0; i < nr && L->suggest_budget; i++, L->suggest_budget--)
		sl_suggest_consider(&s, cands[i]);
	return s.best;
}

static void report_unknown(struct loader *L, const struct sl_ynode *key, const char *what,
                           const char *const *cands, size_t nr)
{
	const char *hint = suggest_from(L, key->u.scalar.text, cands, nr);

	if (hint)
		report(L, key, "unknown key '%s'%s (did you mean '%s'?)", key->u.scalar.text, what,
		       hint);
	else
		report(L, key, "unknown key '%s'%s", key->u.scalar.text, what);
}

static int key_index(const char *key, const char *const *names, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		if (!strcmp(key, names[i]))
			return (int)i;
	}
	return -1;
}

/*
 * Scalar accessors. Each reports its own error and returns false, so that a
 * caller checks one condition and moves on to the next key.
 */
static bool get_string(struct loader *L, const char *key, const struct sl_ynode *v,
                       const char **out)
{
	if (!sl_ynode_is_string(v)) {
		type_error(L, key, v, "a string");
		return false;
	}
	*out = sl_ynode_deref(v)->u.scalar.text;
	return true;
}

static bool get_bool(struct loader *L, const char *key, const struct sl_ynode *v, bool *out)
{
	if (!sl_ynode_is(v, SL_YTYPE_BOOL)) {
		type_error(L, key, v, "true or false");
		return false;
	}
	*out = sl_ynode_bool(v);
	return true;
}

static bool get_int(struct loader *L, const char *key, const struct sl_ynode *v, long long lo,
                    long long hi, const char *expected, long long *out)
{
	if (!sl_ynode_is(v, SL_YTYPE_INT)) {
		type_error(L, key, v, expected);
		return false;
	}
	if (sl_ynode_int(v, out) < 0 || *out < lo || *out > hi) {
		report(L, v, "%s: must be between %lld and %lld, got %s", key, lo, hi,
		       sl_ynode_deref(v)->u.scalar.text);
		return false;
	}
	return true;
}

static bool get_duration(struct loader *L, const char *key, const struct sl_ynode *v, bool positive,
                         int64_t *out)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	const struct sl_ynode *d = sl_ynode_deref(v);
	bool ok = false;

	if (!sl_ynode_is_string(d) && !sl_ynode_is(d, SL_YTYPE_INT)) {
		type_error(L, key, v, "a duration (seconds, or e.g. 90s, 5m, 1h30m, 2d)");
		return false;
	}
	if (sl_duration_parse(d->u.scalar.text, out, &err) < 0)
		report(L, v, "%s: %s", key, err.buf);
	else if (positive && *out == 0)
		report(L, v, "%s: must be greater than 0", key);
	else
		ok = true;
	sl_strbuf_release(&err);
	return ok;
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
	report(L, at, "%s: is %zu bytes long, over the job protocol's limit of %d bytes", key.buf,
	       len, SL_PROTO_TEXT_MAX);
	sl_strbuf_release(&key);
	return false;
}

static bool env_name_valid(const char *s)
{
	return sl_template_ident_valid(s, strlen(s));
}

static bool get_env(struct loader *L, const struct sl_ynode *v, struct sl_kvs *env)
{
	const struct sl_ynode *m = sl_ynode_deref(v);
	bool ok = true;

	if (sl_ynode_is(m, SL_YTYPE_NULL))
		return true;
	if (m->kind != SL_YNODE_MAPPING) {
		type_error(L, "env", v, "a mapping of variable names to values");
		return false;
	}
	for (size_t i = 0; i < m->u.map.nr; i++) {
		const struct sl_ynode *k = m->u.map.pairs[i].key;
		const struct sl_ynode *val = sl_ynode_deref(m->u.map.pairs[i].value);

		if (!env_name_valid(k->u.scalar.text)) {
			report(L, k,
			       "env: '%s' is not a valid environment variable name "
			       "(letters, digits and '_', not starting with a digit)",
			       k->u.scalar.text);
			ok = false;
			continue;
		}
		if (strlen(k->u.scalar.text) > SL_PROTO_ID_MAX) {
			report(L, k,
			       "env: variable name is %zu characters long, over the job protocol's "
			       "limit of %d",
			       strlen(k->u.scalar.text), SL_PROTO_ID_MAX);
			ok = false;
			continue;
		}
		if (val->kind != SL_YNODE_SCALAR || val->u.scalar.type == SL_YTYPE_NULL) {
			struct sl_strbuf key = SL_STRBUF_INIT;

			sl_strbuf_addf(&key, "env.%s", k->u.scalar.text);
			type_error(L, key.buf, m->u.map.pairs[i].value,
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

static bool name_ok(struct loader *L, const char *key, const struct sl_ynode *v, const char *s)
{
	if (sl_id_valid(s))
		return true;
	report(L, v,
	       "%s: '%s' is not a valid name (letters, digits, '_', '.' and '-', at most %d "
	       "characters)",
	       key, s, SL_ID_MAX);
	return false;
}

static bool get_cwd(struct loader *L, const struct sl_ynode *v, char **out)
{
	const char *s, *p;

	if (!get_string(L, "cwd", v, &s))
		return false;
	if (!*s) {
		report(L, v, "cwd: is empty (omit it to run in the repository root)");
		return false;
	}
	if (s[0] == '/') {
		report(L, v, "cwd: '%s' must be relative to the repository root", s);
		return false;
	}
	for (p = s; *p; p += strcspn(p, "/"), p += *p == '/') {
		if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || !p[2])) {
			report(L, v,
			       "cwd: '%s' must stay inside the repository ('..' is not allowed)",
			       s);
			return false;
		}
	}
	if (!text_fits(L, v, strlen(s), "cwd"))
		return false;
	*out = sl_xstrdup(s);
	return true;
}

static bool get_sensor(struct loader *L, const struct sl_ynode *v, struct sl_task *t)
{
	const struct sl_ynode *m = sl_ynode_deref(v);
	bool ok = true;

	t->sensor = false;
	t->poke_interval = 60;
	t->sensor_timeout = 7 * 86400;
	if (sl_ynode_is(m, SL_YTYPE_NULL))
		return true;
	if (sl_ynode_is(m, SL_YTYPE_BOOL)) {
		t->sensor = sl_ynode_bool(m);
		return true;
	}
	if (m->kind != SL_YNODE_MAPPING) {
		type_error(L, "sensor", v, "a mapping with poke_interval and timeout, or true");
		return false;
	}
	t->sensor = true;
	for (size_t i = 0; i < m->u.map.nr; i++) {
		const struct sl_ynode *k = m->u.map.pairs[i].key;
		const struct sl_ynode *val = m->u.map.pairs[i].value;
		int idx = key_index(k->u.scalar.text, sensor_keys, SL_ARRAY_SIZE(sensor_keys));

		if (idx == 0)
			ok &= get_duration(L, "poke_interval", val, true, &t->poke_interval);
		else if (idx == 1)
			ok &= get_duration(L, "sensor.timeout", val, true, &t->sensor_timeout);
		else {
			report_unknown(L, k, " in sensor", sensor_keys, SL_ARRAY_SIZE(sensor_keys));
			ok = false;
		}
	}
	return ok;
}

static bool get_backoff(struct loader *L, const struct sl_ynode *v, enum sl_backoff *out)
{
	const char *s;

	if (!get_string(L, "retry_backoff", v, &s))
		return false;
	if (!strcmp(s, "fixed"))
		*out = SL_BACKOFF_FIXED;
	else if (!strcmp(s, "exponential"))
		*out = SL_BACKOFF_EXPONENTIAL;
	else {
		report(L, v, "retry_backoff: expected 'fixed' or 'exponential', got '%s'", s);
		return false;
	}
	return true;
}

static bool get_trigger_rule(struct loader *L, const struct sl_ynode *v, enum sl_trigger_rule *out)
{
	const char *names[SL_TRIGGER_ALWAYS + 1];
	const char *s, *hint;

	if (!get_string(L, "trigger_rule", v, &s))
		return false;
	if (!sl_trigger_rule_parse(s, out))
		return true;
	for (int i = 0; i <= SL_TRIGGER_ALWAYS; i++)
		names[i] = sl_trigger_rule_name((enum sl_trigger_rule)i);
	hint = suggest_from(L, s, names, SL_ARRAY_SIZE(names));
	if (hint)
		report(L, v, "unknown trigger rule '%s' (did you mean '%s'?)", s, hint);
	else
		report(L, v, "unknown trigger rule '%s' (see the list in docs/dag-format.md)", s);
	return false;
}

static char *dup_or_null(const char *s)
{
	return s ? sl_xstrdup(s) : NULL;
}

/*
 * Parse task key `k` (neither command nor depends_on) from `v` into `t`.
 * Returns true when the value was valid.
 */
static bool task_key_parse(struct loader *L, enum task_key k, const struct sl_ynode *v,
                           struct sl_task *t)
{
	const char *name = task_keys[k];
	const char *s;
	long long n;
	bool b;

	switch (k) {
	case TK_RETRIES:
		if (!get_int(L, name, v, 0, 1000, "a non-negative integer", &n))
			return false;
		t->retries = (int)n;
		return true;
	case TK_RETRY_DELAY:
		return get_duration(L, name, v, false, &t->retry_delay);
	case TK_RETRY_BACKOFF:
		return get_backoff(L, v, &t->retry_backoff);
	case TK_MAX_RETRY_DELAY:
		return get_duration(L, name, v, false, &t->max_retry_delay);
	case TK_TIMEOUT:
		if (sl_ynode_is(v, SL_YTYPE_NULL)) {
			t->timeout = 0;
			return true;
		}
		return get_duration(L, name, v, true, &t->timeout);
	case TK_TRIGGER_RULE:
		return get_trigger_rule(L, v, &t->trigger_rule);
	case TK_POOL:
	case TK_QUEUE:
		if (k == TK_POOL && sl_ynode_is(v, SL_YTYPE_NULL)) {
			free(t->pool);
			t->pool = NULL;
			return true;
		}
		if (!get_string(L, name, v, &s) || !name_ok(L, name, v, s))
			return false;
		if (k == TK_POOL) {
			free(t->pool);
			t->pool = sl_xstrdup(s);
		} else {
			free(t->queue);
			t->queue = sl_xstrdup(s);
		}
		return true;
	case TK_PRIORITY:
		if (!get_int(L, name, v, INT_MIN, INT_MAX, "an integer", &n))
			return false;
		t->priority = (int)n;
		return true;
	case TK_ENV:
		return get_env(L, v, &t->env);
	case TK_CWD:
		free(t->cwd);
		t->cwd = NULL;
		if (sl_ynode_is(v, SL_YTYPE_NULL))
			return true;
		return get_cwd(L, v, &t->cwd);
	case TK_SENSOR:
		return get_sensor(L, v, t);
	case TK_DEPENDS_ON_PAST:
		if (!get_bool(L, name, v, &b))
			return false;
		t->depends_on_past = b;
		return true;
	case TK_COMMAND:
	case TK_DEPENDS_ON:
	case TK_NR:
		break;
	}
	return false;
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

static void load_defaults(struct loader *L, const struct sl_ynode *v)
{
	const struct sl_ynode *m = sl_ynode_deref(v);

	if (sl_ynode_is(m, SL_YTYPE_NULL))
		return;
	if (m->kind != SL_YNODE_MAPPING) {
		type_error(L, "defaults", v, "a mapping of task keys");
		return;
	}
	for (size_t i = 0; i < m->u.map.nr; i++) {
		const struct sl_ynode *k = m->u.map.pairs[i].key;
		int idx = key_index(k->u.scalar.text, task_keys, TK_NR);

		if (idx == TK_ENV)
			L->defaults_env_key = k;
		if (idx < 0)
			report_unknown(L, k, " in defaults", task_keys, TK_NR);
		else if (idx == TK_COMMAND || idx == TK_DEPENDS_ON)
			report(L, k, "'%s' cannot be set in defaults: each task sets its own",
			       task_keys[idx]);
		else if (task_key_parse(L, (enum task_key)idx, m->u.map.pairs[i].value,
		                        &L->defaults))
			L->defaults_set |= 1u << idx;
	}
}

/* A task's or a callback's command: a string, not blank, that a DISPATCH can carry. */
static bool get_command(struct loader *L, const char *key, const struct sl_ynode *v,
                        const char **out)
{
	const char *s;

	if (!get_string(L, key, v, &s))
		return false;
	if (!s[strspn(s, " \t\r\n")]) {
		report(L, v, "%s: is empty", key);
		return false;
	}
	if (!text_fits(L, v, strlen(s), "%s", key))
		return false;
	*out = s;
	return true;
}

static void load_command(struct loader *L, size_t ti, const struct sl_ynode *v)
{
	struct sl_task *t = &L->dag->tasks[ti];
	const char *s;

	if (!v) {
		report(L, L->src[ti].id, "task '%s' has no command", t->id);
		return;
	}
	if (get_command(L, "command", v, &s))
		t->command = sl_xstrdup(s);
}

static void load_task(struct loader *L, size_t ti, const struct sl_ypair *pair)
{
	struct sl_task *t = &L->dag->tasks[ti];
	struct task_src *src = &L->src[ti];
	const struct sl_ynode *m = sl_ynode_deref(pair->value);

	task_init_defaults(t);
	t->id = sl_xstrdup(pair->key->u.scalar.text);
	t->line = pair->key->line;
	t->column = pair->key->column;
	src->id = pair->key;
	if (!sl_id_valid(t->id))
		report(L, pair->key,
		       "bad task id '%s': use letters, digits, '_', '.' and '-' (at most %d "
		       "characters)",
		       t->id, SL_ID_MAX);
	if (m->kind != SL_YNODE_MAPPING) {
		struct sl_strbuf got = SL_STRBUF_INIT;

		describe(&got, m);
		report(L, pair->value, "task '%s': expected a mapping of task keys%s, got %s",
		       t->id, sl_ynode_is_string(m) ? " (write 'command:' before a command)" : "",
		       got.buf);
		sl_strbuf_release(&got);
		return;
	}
	for (size_t i = 0; i < m->u.map.nr; i++) {
		const struct sl_ynode *k = m->u.map.pairs[i].key;
		int idx = key_index(k->u.scalar.text, task_keys, TK_NR);
		struct sl_strbuf what = SL_STRBUF_INIT;

		if (idx >= 0) {
			src->keys[idx] = m->u.map.pairs[i].value;
			if (idx == TK_ENV)
				src->env_key = k;
			continue;
		}
		sl_strbuf_addf(&what, " in task '%s'", t->id);
		report_unknown(L, k, what.buf, task_keys, TK_NR);
		sl_strbuf_release(&what);
	}
	for (int k = TK_RETRIES; k < TK_NR; k++) {
		if (src->keys[k])
			task_key_parse(L, (enum task_key)k, src->keys[k], t);
		else if (L->defaults_set & (1u << k))
			task_key_copy((enum task_key)k, &L->defaults, t);
	}
	load_command(L, ti, src->keys[TK_COMMAND]);
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
	for (size_t i = 0; i < dag->tasks_nr && L->suggest_budget; i++, L->suggest_budget--)
		sl_suggest_consider(&s, dag->tasks[i].id);
	if (s.best)
		report(L, at, "task '%s' depends on unknown task '%s' (did you mean '%s'?)", task,
		       dep, s.best);
	else
		report(L, at, "task '%s' depends on unknown task '%s'", task, dep);
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
		type_error(L, "depends_on", entry, "a task id");
		return;
	}
	dep = e->u.scalar.text;
	u = sl_dag_task_index(L->dag, dep);
	if (u < 0) {
		report_unknown_dep(L, entry, t->id, dep);
	} else if ((size_t)u == ti) {
		report(L, entry, "task '%s' depends on itself", t->id);
	} else if (dep_listed(t, (size_t)u)) {
		report(L, entry, "task '%s' lists '%s' more than once in depends_on", t->id, dep);
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
		type_error(L, "depends_on", v, "a list of task ids");
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
	report(L, at, "%s", msg.buf);
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
	sl_diags_add(c->L->diags, c->L->file, line, column, "%s", msg.buf);
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
		for (size_t i = 0; i < dag->tasks_nr && c->L->suggest_budget;
		     i++, c->L->suggest_budget--)
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
		report(L, v ? v : root, "a DAG needs 'tasks': at least one task");
		return;
	}
	if (m->kind != SL_YNODE_MAPPING) {
		type_error(L, "tasks", v, "a mapping of task ids to tasks");
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
		report(L, v, "params.%s: %s does not fit in a 64-bit integer", name,
		       n->u.scalar.text);
		return NULL;
	case SL_YTYPE_FLOAT:
		/* .inf and .nan have no JSON form (and strtod does not read YAML's). */
		d = strpbrk(n->u.scalar.text, "iInN") ? NAN : strtod(n->u.scalar.text, NULL);
		if (isfinite(d) && (j = json_real(d)))
			return j;
		report(L, v, "params.%s: %s cannot be written in JSON", name, n->u.scalar.text);
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
		report(L, k,
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

static void load_params(struct loader *L, const struct sl_ynode *v)
{
	const struct sl_ynode *m = sl_ynode_deref(v);

	if (sl_ynode_is(m, SL_YTYPE_NULL))
		return;
	if (m->kind != SL_YNODE_MAPPING) {
		type_error(L, "params", v, "a mapping of names to values");
		return;
	}
	for (size_t i = 0; i < m->u.map.nr; i++) {
		const struct sl_ynode *k = m->u.map.pairs[i].key;
		const char *name = k->u.scalar.text;
		json_t *j;

		if (!sl_template_ident_valid(name, strlen(name))) {
			report(L, k,
			       "params: '%s' is not a valid param name (letters, digits and '_', "
			       "not starting with a digit)",
			       name);
			continue;
		}
		j = to_json(L, name, m->u.map.pairs[i].value);
		check_param_env(L, k, m->u.map.pairs[i].value, j);
		if (j)
			json_object_set_new(L->dag->params, name, j);
	}
}

static void load_tags(struct loader *L, const struct sl_ynode *v)
{
	const struct sl_ynode *s = sl_ynode_deref(v);
	struct sl_dag *dag = L->dag;

	if (sl_ynode_is(s, SL_YTYPE_NULL))
		return;
	if (s->kind != SL_YNODE_SEQUENCE) {
		type_error(L, "tags", v, "a list of strings");
		return;
	}
	dag->tags = sl_xcalloc(s->u.seq.nr ? s->u.seq.nr : 1, sizeof(*dag->tags));
	for (size_t i = 0; i < s->u.seq.nr; i++) {
		const struct sl_ynode *t = sl_ynode_deref(s->u.seq.items[i]);

		if (t->kind != SL_YNODE_SCALAR || t->u.scalar.type == SL_YTYPE_NULL) {
			type_error(L, "tags", s->u.seq.items[i], "a string");
			continue;
		}
		dag->tags[dag->tags_nr++] = sl_xstrdup(t->u.scalar.text);
	}
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

static void load_schedule(struct loader *L, const struct sl_ynode *v)
{
	struct sl_dag *dag = L->dag;
	struct sl_strbuf err = SL_STRBUF_INIT;
	const char *s;
	size_t off = 0;

	if (sl_ynode_is(v, SL_YTYPE_NULL))
		return;
	if (!get_string(L, "schedule", v, &s))
		return;
	if (!strcmp(s, "@once")) {
		dag->schedule_kind = SL_SCHEDULE_ONCE;
	} else if (sl_cron_parse(&dag->cron, s, &err, &off) < 0) {
		unsigned line, column;

		value_position(L, v, off, &line, &column);
		sl_diags_add(L->diags, L->file, line, column, "schedule: %s", err.buf);
		sl_strbuf_release(&err);
		return;
	} else {
		dag->schedule_kind = SL_SCHEDULE_CRON;
	}
	dag->schedule = sl_xstrdup(s);
	sl_strbuf_release(&err);
}

static void load_timezone(struct loader *L, const struct sl_ynode *v)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	const char *s;

	if (!v || !get_string(L, "timezone", v, &s))
		return;
	if (sl_tz_load(&L->tz, s, &err) < 0) {
		report(L, v, "timezone: %s", err.buf);
		L->tz = NULL;
	} else {
		free(L->dag->timezone);
		L->dag->timezone = sl_xstrdup(s);
	}
	sl_strbuf_release(&err);
}

static bool load_date(struct loader *L, const char *key, const struct sl_ynode *v, int64_t *out)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	const char *s;
	bool ok = false;

	if (!get_string(L, key, v, &s))
		return false;
	if (sl_iso_parse(s, L->tz, out, &err) < 0)
		report(L, v, "%s: %s", key, err.buf);
	else
		ok = true;
	sl_strbuf_release(&err);
	return ok;
}

static void load_id(struct loader *L, const struct sl_ynode *v)
{
	struct sl_dag *dag = L->dag;
	const char *s, *base;
	size_t len;

	if (v) {
		if (!get_string(L, "dag", v, &s))
			return;
		if (!sl_id_valid(s))
			report(L, v,
			       "bad DAG id '%s': use letters, digits, '_', '.' and '-' (at most %d "
			       "characters)",
			       s, SL_ID_MAX);
		dag->id = sl_xstrdup(s);
		return;
	}
	base = strrchr(L->file, '/');
	base = base ? base + 1 : L->file;
	len = strlen(base);
	if (len > 5 && !strcmp(base + len - 5, ".yaml"))
		len -= 5;
	else if (len > 4 && !strcmp(base + len - 4, ".yml"))
		len -= 4;
	dag->id = sl_xstrndup(base, len);
	if (!sl_id_valid(dag->id))
		report(L, NULL,
		       "the DAG id '%s' taken from the file name is not valid (letters, digits, "
		       "'_', '.' and '-', at most %d characters); set 'dag:' or rename the file",
		       dag->id, SL_ID_MAX);
}

static void load_optional_string(struct loader *L, const char *key, const struct sl_ynode *v,
                                 char **out)
{
	const char *s;

	if (!v || sl_ynode_is(v, SL_YTYPE_NULL) || !get_string(L, key, v, &s))
		return;
	*out = sl_xstrdup(s);
}

static void load_callback(struct loader *L, const char *key, const struct sl_ynode *v, char **out)
{
	const char *s;

	if (!v || sl_ynode_is(v, SL_YTYPE_NULL) || !get_command(L, key, v, &s))
		return;
	*out = sl_xstrdup(s);
}

static void load_dag_keys(struct loader *L, const struct sl_ynode *const *k)
{
	struct sl_dag *dag = L->dag;
	long long n;
	bool b;

	load_id(L, k[DK_DAG]);
	load_optional_string(L, "description", k[DK_DESCRIPTION], &dag->description);
	load_optional_string(L, "owner", k[DK_OWNER], &dag->owner);
	load_callback(L, "on_failure", k[DK_ON_FAILURE], &dag->on_failure);
	load_callback(L, "on_success", k[DK_ON_SUCCESS], &dag->on_success);
	if (k[DK_SCHEDULE])
		load_schedule(L, k[DK_SCHEDULE]);
	load_timezone(L, k[DK_TIMEZONE]);
	if (k[DK_START_DATE] && !sl_ynode_is(k[DK_START_DATE], SL_YTYPE_NULL))
		dag->has_start_date =
		    load_date(L, "start_date", k[DK_START_DATE], &dag->start_date);
	if (k[DK_END_DATE] && !sl_ynode_is(k[DK_END_DATE], SL_YTYPE_NULL))
		dag->has_end_date = load_date(L, "end_date", k[DK_END_DATE], &dag->end_date);
	if (dag->has_start_date && dag->has_end_date && dag->end_date < dag->start_date)
		report(L, k[DK_END_DATE], "end_date: is before start_date");
	if (k[DK_CATCHUP] && get_bool(L, "catchup", k[DK_CATCHUP], &b))
		dag->catchup = b;
	if (k[DK_PAUSED] && get_bool(L, "paused", k[DK_PAUSED], &b))
		dag->paused = b;
	if (k[DK_MAX_ACTIVE_RUNS] && get_int(L, "max_active_runs", k[DK_MAX_ACTIVE_RUNS], 1,
	                                     INT_MAX, "a positive integer", &n))
		dag->max_active_runs = (int)n;
	if (k[DK_MAX_ACTIVE_TASKS] && get_int(L, "max_active_tasks", k[DK_MAX_ACTIVE_TASKS], 1,
	                                      INT_MAX, "a positive integer", &n))
		dag->max_active_tasks = (int)n;
	if (k[DK_TAGS])
		load_tags(L, k[DK_TAGS]);
	if (k[DK_PARAMS])
		load_params(L, k[DK_PARAMS]);
	if (k[DK_ENV])
		get_env(L, k[DK_ENV], &dag->env);
	if (k[DK_DEFAULTS])
		load_defaults(L, k[DK_DEFAULTS]);
}

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

		report(L, at_env ? env_key : params_key,
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
			report(
			    L, at,
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

static void load_root(struct loader *L, const struct sl_ynode *root)
{
	const struct sl_ynode *m = sl_ynode_deref(root);
	const struct sl_ynode *k[DK_NR] = {NULL}, *key_nodes[DK_NR] = {NULL};

	if (m->kind != SL_YNODE_MAPPING) {
		struct sl_strbuf got = SL_STRBUF_INIT;

		describe(&got, m);
		report(L, root,
		       "expected a mapping of DAG keys (dag, schedule, tasks, ...), got %s",
		       got.buf);
		sl_strbuf_release(&got);
		return;
	}
	for (size_t i = 0; i < m->u.map.nr; i++) {
		const struct sl_ynode *key = m->u.map.pairs[i].key;
		int idx = key_index(key->u.scalar.text, dag_keys, DK_NR);

		if (idx >= 0) {
			k[idx] = m->u.map.pairs[i].value;
			key_nodes[idx] = key;
		} else if (key_index(key->u.scalar.text, task_keys, TK_NR) >= 0) {
			report(L, key,
			       "unknown key '%s' at DAG level ('%s' is a task key; set it for "
			       "every task under 'defaults')",
			       key->u.scalar.text, key->u.scalar.text);
		} else {
			report_unknown(L, key, "", dag_keys, DK_NR);
		}
	}
	/* Order matters: dates need the zone, tasks need defaults and params. */
	load_dag_keys(L, k);
	load_tasks(L, k[DK_TASKS], root);
	check_templates(L, k[DK_ON_FAILURE], k[DK_ON_SUCCESS]);
	check_env_room(L, key_nodes[DK_ENV], key_nodes[DK_PARAMS]);
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
	struct loader L = {.file = file, .data = data, .diags = diags};
	struct sl_ydoc *doc = NULL;
	int rc = SL_EINVAL;

	*out = NULL;
	L.diags_start = diags->nr;
	L.suggest_budget = SUGGEST_BUDGET;
	task_init_defaults(&L.defaults);
	if (len > limit) {
		report(&L, NULL, "file is %zu bytes, over the size limit of %zu bytes", len, limit);
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
