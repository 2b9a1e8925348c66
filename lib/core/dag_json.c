#include "sluice/dag_json.h"

#include <stdlib.h>
#include <string.h>

#include "sluice/alloc.h"
#include "sluice/civil.h"
#include "sluice/duration.h"
#include "sluice/error.h"
#include "sluice/banned.h"

static json_t *duration_json(int64_t secs)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;
	json_t *v;

	sl_duration_format(&sb, secs);
	v = json_string(sb.buf);
	sl_strbuf_release(&sb);
	return v;
}

static json_t *instant_json(bool has, int64_t t)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;
	json_t *v;

	if (!has)
		return json_null();
	sl_iso_format(&sb, t, NULL);
	v = json_string(sb.buf);
	sl_strbuf_release(&sb);
	return v;
}

static json_t *kvs_json(const struct sl_kvs *kvs)
{
	json_t *obj = json_object();

	for (size_t i = 0; i < kvs->nr; i++)
		json_object_set_new(obj, kvs->items[i].key, json_string(kvs->items[i].value));
	return obj;
}

static json_t *string_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *task_json(const struct sl_dag *dag, const struct sl_task *t)
{
	json_t *deps = json_array(), *task = json_object();

	for (size_t j = 0; j < t->upstream_nr; j++)
		json_array_append_new(deps, json_string(dag->tasks[t->upstream[j]].id));
	json_object_set_new(task, "task", json_string(t->id));
	json_object_set_new(task, "command", json_string(t->command));
	json_object_set_new(task, "depends_on", deps);
	json_object_set_new(task, "trigger_rule",
	                    json_string(sl_trigger_rule_name(t->trigger_rule)));
	json_object_set_new(task, "retries", json_integer(t->retries));
	json_object_set_new(task, "retry_delay", duration_json(t->retry_delay));
	json_object_set_new(
	    task, "retry_backoff",
	    json_string(t->retry_backoff == SL_BACKOFF_EXPONENTIAL ? "exponential" : "fixed"));
	json_object_set_new(task, "max_retry_delay", duration_json(t->max_retry_delay));
	json_object_set_new(task, "timeout", t->timeout ? duration_json(t->timeout) : json_null());
	json_object_set_new(task, "pool", string_or_null(t->pool));
	json_object_set_new(task, "priority", json_integer(t->priority));
	json_object_set_new(task, "queue", json_string(t->queue));
	json_object_set_new(task, "env", kvs_json(&t->env));
	json_object_set_new(task, "cwd", string_or_null(t->cwd));
	json_object_set_new(task, "sensor",
	                    t->sensor ? json_pack("{s:o, s:o}", "poke_interval",
	                                          duration_json(t->poke_interval), "timeout",
	                                          duration_json(t->sensor_timeout))
	                              : json_null());
	json_object_set_new(task, "depends_on_past", json_boolean(t->depends_on_past));
	return task;
}

json_t *sl_dag_to_json(const struct sl_dag *dag)
{
	json_t *obj = json_object(), *tags = json_array(), *tasks = json_array();

	for (size_t i = 0; i < dag->tags_nr; i++)
		json_array_append_new(tags, json_string(dag->tags[i]));
	for (size_t i = 0; i < dag->tasks_nr; i++)
		json_array_append_new(tasks, task_json(dag, &dag->tasks[i]));
	json_object_set_new(obj, "dag", json_string(dag->id));
	json_object_set_new(obj, "file", json_string(dag->file));
	json_object_set_new(obj, "description", string_or_null(dag->description));
	json_object_set_new(obj, "schedule", string_or_null(dag->schedule));
	json_object_set_new(obj, "timezone", json_string(dag->timezone));
	json_object_set_new(obj, "start_date", instant_json(dag->has_start_date, dag->start_date));
	json_object_set_new(obj, "end_date", instant_json(dag->has_end_date, dag->end_date));
	json_object_set_new(obj, "catchup", json_boolean(dag->catchup));
	json_object_set_new(obj, "max_active_runs", json_integer(dag->max_active_runs));
	json_object_set_new(obj, "max_active_tasks", json_integer(dag->max_active_tasks));
	json_object_set_new(obj, "paused", json_boolean(dag->paused));
	json_object_set_new(obj, "tags", tags);
	json_object_set_new(obj, "owner", string_or_null(dag->owner));
	json_object_set_new(obj, "params", json_deep_copy(dag->params));
	json_object_set_new(obj, "env", kvs_json(&dag->env));
	json_object_set_new(obj, "on_failure", string_or_null(dag->on_failure));
	json_object_set_new(obj, "on_success", string_or_null(dag->on_success));
	json_object_set_new(obj, "tasks", tasks);
	return obj;
}

/*
 * Readers for one field. `where` names the object ("task 'load'") so that
 * a message says which field of which task is wrong. All return 0 or -1.
 */
struct reader {
	const json_t *obj;
	const char *where;
	struct sl_strbuf *err;
};

static const json_t *field(const struct reader *r, const char *key, json_type type, bool nullable)
{
	const json_t *v = json_object_get(r->obj, key);

	if (!v) {
		sl_strbuf_addf(r->err, "%s: missing field '%s'", r->where, key);
		return NULL;
	}
	if (json_is_null(v) && nullable)
		return v;
	if (json_typeof(v) != type) {
		sl_strbuf_addf(r->err, "%s: field '%s' has the wrong type", r->where, key);
		return NULL;
	}
	return v;
}

static int read_string(const struct reader *r, const char *key, bool nullable, char **out)
{
	const json_t *v = field(r, key, JSON_STRING, nullable);

	if (!v)
		return -1;
	*out = json_is_null(v) ? NULL : sl_xstrdup(json_string_value(v));
	return 0;
}

static int read_bool(const struct reader *r, const char *key, bool *out)
{
	const json_t *v = json_object_get(r->obj, key);

	if (!json_is_boolean(v)) {
		sl_strbuf_addf(r->err, "%s: field '%s' must be true or false", r->where, key);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

static int read_int(const struct reader *r, const char *key, long long min, long long max, int *out)
{
	const json_t *v = field(r, key, JSON_INTEGER, false);

	if (!v)
		return -1;
	if (json_integer_value(v) < min || json_integer_value(v) > max) {
		sl_strbuf_addf(r->err, "%s: field '%s' is out of range", r->where, key);
		return -1;
	}
	*out = (int)json_integer_value(v);
	return 0;
}

/* A null duration reads as 0 ("none") where `nullable`. */
static int read_duration(const struct reader *r, const char *key, bool nullable, int64_t *out)
{
	const json_t *v = field(r, key, JSON_STRING, nullable);
	struct sl_strbuf msg = SL_STRBUF_INIT;
	int rc = 0;

	if (!v)
		return -1;
	*out = 0;
	if (!json_is_null(v) && sl_duration_parse(json_string_value(v), out, &msg) < 0) {
		sl_strbuf_addf(r->err, "%s: field '%s': %s", r->where, key, msg.buf);
		rc = -1;
	}
	sl_strbuf_release(&msg);
	return rc;
}

static int read_instant(const struct reader *r, const char *key, bool *has, int64_t *out)
{
	const json_t *v = field(r, key, JSON_STRING, true);
	struct sl_strbuf msg = SL_STRBUF_INIT;
	int rc = 0;

	if (!v)
		return -1;
	*has = !json_is_null(v);
	if (*has && sl_iso_parse(json_string_value(v), NULL, out, &msg) < 0) {
		sl_strbuf_addf(r->err, "%s: field '%s': %s", r->where, key, msg.buf);
		rc = -1;
	}
	sl_strbuf_release(&msg);
	return rc;
}

static int read_kvs(const struct reader *r, const char *key, struct sl_kvs *kvs)
{
	const json_t *obj = field(r, key, JSON_OBJECT, false), *value;
	const char *name;

	if (!obj)
		return -1;
	json_object_foreach((json_t *)obj, name, value)
	{
		if (!json_is_string(value)) {
			sl_strbuf_addf(r->err, "%s: %s.%s must be a string", r->where, key, name);
			return -1;
		}
		SL_ALLOC_GROW(kvs->items, kvs->nr + 1, kvs->alloc);
		kvs->items[kvs->nr].key = sl_xstrdup(name);
		kvs->items[kvs->nr++].value = sl_xstrdup(json_string_value(value));
	}
	return 0;
}

static int read_trigger_rule(const struct reader *r, enum sl_trigger_rule *rule)
{
	char *name = NULL;
	int rc = read_string(r, "trigger_rule", false, &name);

	if (!rc && sl_trigger_rule_parse(name, rule) < 0) {
		sl_strbuf_addf(r->err, "%s: unknown trigger rule '%s'", r->where, name);
		rc = -1;
	}
	free(name);
	return rc;
}

static int read_backoff(const struct reader *r, enum sl_backoff *backoff)
{
	char *name = NULL;
	int rc = read_string(r, "retry_backoff", false, &name);

	if (!rc) {
		if (!strcmp(name, "fixed")) {
			*backoff = SL_BACKOFF_FIXED;
		} else if (!strcmp(name, "exponential")) {
			*backoff = SL_BACKOFF_EXPONENTIAL;
		} else {
			sl_strbuf_addf(r->err, "%s: unknown retry_backoff '%s'", r->where, name);
			rc = -1;
		}
	}
	free(name);
	return rc;
}

static int read_sensor(const struct reader *r, struct sl_task *t)
{
	const json_t *sensor = field(r, "sensor", JSON_OBJECT, true);
	struct reader rs = {sensor, r->where, r->err};

	if (!sensor)
		return -1;
	if (json_is_null(sensor))
		return 0;
	t->sensor = true;
	if (read_duration(&rs, "poke_interval", false, &t->poke_interval) < 0 ||
	    read_duration(&rs, "timeout", false, &t->sensor_timeout) < 0)
		return -1;
	return 0;
}

/* Everything of a task but its dependencies, which need all ids first. */
static int read_task(struct sl_task *t, const json_t *obj, struct sl_strbuf *err)
{
	struct reader r = {obj, "tasks", err};
	char *where = NULL;
	int rc = -1;

	if (!json_is_object(obj)) {
		sl_strbuf_adds(err, "tasks: every task must be an object");
		return -1;
	}
	if (read_string(&r, "task", false, &t->id) < 0)
		return -1;
	if (!sl_id_valid(t->id)) {
		sl_strbuf_addf(err, "tasks: bad task id '%s'", t->id);
		return -1;
	}
	r.where = where = sl_xasprintf("task '%s'", t->id);
	if (read_string(&r, "command", false, &t->command) < 0 ||
	    read_trigger_rule(&r, &t->trigger_rule) < 0 ||
	    read_int(&r, "retries", 0, 1000, &t->retries) < 0 ||
	    read_duration(&r, "retry_delay", false, &t->retry_delay) < 0 ||
	    read_backoff(&r, &t->retry_backoff) < 0 ||
	    read_duration(&r, "max_retry_delay", false, &t->max_retry_delay) < 0 ||
	    read_duration(&r, "timeout", true, &t->timeout) < 0 ||
	    read_string(&r, "pool", true, &t->pool) < 0 ||
	    read_int(&r, "priority", INT32_MIN, INT32_MAX, &t->priority) < 0 ||
	    read_string(&r, "queue", false, &t->queue) < 0 || read_kvs(&r, "env", &t->env) < 0 ||
	    read_string(&r, "cwd", true, &t->cwd) < 0 || read_sensor(&r, t) < 0 ||
	    read_bool(&r, "depends_on_past", &t->depends_on_past) < 0)
		goto out;
	rc = 0;
out:
	free(where);
	return rc;
}

static int read_depends_on(struct sl_dag *dag, size_t i, const json_t *deps, struct sl_strbuf *err)
{
	struct sl_task *t = &dag->tasks[i];
	const json_t *dep;
	size_t j;

	if (!json_is_array(deps)) {
		sl_strbuf_addf(err, "task '%s': field 'depends_on' must be a list", t->id);
		return -1;
	}
	t->upstream = sl_xcalloc(json_array_size(deps), sizeof(*t->upstream));
	json_array_foreach(deps, j, dep)
	{
		long u = json_is_string(dep) ? sl_dag_task_index(dag, json_string_value(dep)) : -1;

		if (u < 0 || (size_t)u == i) {
			sl_strbuf_addf(err, "task '%s': bad dependency in 'depends_on'", t->id);
			return -1;
		}
		for (size_t k = 0; k < t->upstream_nr; k++) {
			if (t->upstream[k] == (size_t)u) {
				sl_strbuf_addf(err, "task '%s': dependency listed twice", t->id);
				return -1;
			}
		}
		t->upstream[t->upstream_nr++] = (size_t)u;
	}
	return 0;
}

static int read_schedule(const struct reader *r, struct sl_dag *dag)
{
	struct sl_strbuf msg = SL_STRBUF_INIT;
	size_t offset;
	int rc = 0;

	if (read_string(r, "schedule", true, &dag->schedule) < 0)
		return -1;
	if (!dag->schedule) {
		dag->schedule_kind = SL_SCHEDULE_NONE;
	} else if (!strcmp(dag->schedule, "@once")) {
		dag->schedule_kind = SL_SCHEDULE_ONCE;
	} else {
		dag->schedule_kind = SL_SCHEDULE_CRON;
		if (sl_cron_parse(&dag->cron, dag->schedule, &msg, &offset) < 0) {
			sl_strbuf_addf(r->err, "%s: schedule: %s", r->where, msg.buf);
			rc = -1;
		}
	}
	sl_strbuf_release(&msg);
	return rc;
}

static int read_tags(const struct reader *r, struct sl_dag *dag)
{
	const json_t *tags = field(r, "tags", JSON_ARRAY, false), *tag;
	size_t i;

	if (!tags)
		return -1;
	dag->tags = sl_xcalloc(json_array_size(tags), sizeof(*dag->tags));
	json_array_foreach(tags, i, tag)
	{
		if (!json_is_string(tag)) {
			sl_strbuf_addf(r->err, "%s: tags must be strings", r->where);
			return -1;
		}
		dag->tags[dag->tags_nr++] = sl_xstrdup(json_string_value(tag));
	}
	return 0;
}

/*
 * Read the `nr` tasks that `load` gives one at a time (a new reference each,
 * or NULL after filling `err`): only one task's JSON is alive at a time, and
 * of each only its depends_on until every id is known.
 */
static int read_tasks(const struct reader *r, struct sl_dag *dag, size_t nr,
                      json_t *(*load)(void *ctx, size_t i, struct sl_strbuf *err), void *ctx)
{
	struct sl_dag_cycles cycles = SL_DAG_CYCLES_INIT;
	json_t **deps = NULL;
	size_t i;
	int rc = -1;

	if (!nr) {
		sl_strbuf_addf(r->err, "%s: no tasks", r->where);
		return -1;
	}
	dag->tasks = sl_xcalloc(nr, sizeof(*dag->tasks));
	deps = sl_xcalloc(nr, sizeof(*deps));
	for (i = 0; i < nr; i++) {
		json_t *task = load(ctx, i, r->err);

		if (!task)
			goto out;
		dag->tasks_nr++;
		if (read_task(&dag->tasks[i], task, r->err) < 0) {
			json_decref(task);
			goto out;
		}
		deps[i] = json_incref(json_object_get(task, "depends_on"));
		json_decref(task);
	}
	sl_dag_index_build(dag);
	for (i = 1; i < dag->tasks_nr; i++) {
		if (!strcmp(dag->tasks[dag->by_id[i]].id, dag->tasks[dag->by_id[i - 1]].id)) {
			sl_strbuf_addf(r->err, "%s: task '%s' is defined twice", r->where,
			               dag->tasks[dag->by_id[i]].id);
			goto out;
		}
	}
	for (i = 0; i < nr; i++)
		if (read_depends_on(dag, i, deps[i], r->err) < 0)
			goto out;
	if (sl_dag_graph_build(dag, &cycles) < 0)
		sl_strbuf_addf(r->err, "%s: the dependencies form a cycle", r->where);
	else
		rc = 0;
out:
	for (i = 0; i < nr; i++)
		json_decref(deps[i]);
	free(deps);
	sl_dag_cycles_release(&cycles);
	return rc;
}

static json_t *array_task(void *ctx, size_t i, struct sl_strbuf *err)
{
	(void)err;
	return json_incref(json_array_get(ctx, i));
}

/* The loader of a DAG whose `tasks` is not a list: says so when reached. */
static json_t *no_tasks(void *ctx, size_t i, struct sl_strbuf *err)
{
	(void)i;
	sl_strbuf_addf(err, "DAG: %s 'tasks'", ctx ? "field" : "missing field");
	if (ctx)
		sl_strbuf_adds(err, " has the wrong type");
	return NULL;
}

/* The DAG's own fields from `json`; its tasks from `load` (see read_tasks). */
static int from_json(struct sl_dag **out, const json_t *json, size_t tasks_nr,
                     json_t *(*load)(void *ctx, size_t i, struct sl_strbuf *err), void *ctx,
                     struct sl_strbuf *err)
{
	struct sl_dag *dag = sl_xcalloc(1, sizeof(*dag));
	struct reader r = {json, "DAG", err};
	const json_t *params;

	*out = NULL;
	if (!json_is_object(json)) {
		sl_strbuf_adds(err, "a DAG must be a JSON object");
		goto fail;
	}
	if (read_string(&r, "dag", false, &dag->id) < 0)
		goto fail;
	if (!sl_id_valid(dag->id)) {
		sl_strbuf_addf(err, "bad DAG id '%s'", dag->id);
		goto fail;
	}
	params = field(&r, "params", JSON_OBJECT, false);
	if (!params || read_string(&r, "file", false, &dag->file) < 0 ||
	    read_string(&r, "description", true, &dag->description) < 0 ||
	    read_schedule(&r, dag) < 0 || read_string(&r, "timezone", false, &dag->timezone) < 0 ||
	    read_instant(&r, "start_date", &dag->has_start_date, &dag->start_date) < 0 ||
	    read_instant(&r, "end_date", &dag->has_end_date, &dag->end_date) < 0 ||
	    read_bool(&r, "catchup", &dag->catchup) < 0 ||
	    read_int(&r, "max_active_runs", 1, INT32_MAX, &dag->max_active_runs) < 0 ||
	    read_int(&r, "max_active_tasks", 1, INT32_MAX, &dag->max_active_tasks) < 0 ||
	    read_bool(&r, "paused", &dag->paused) < 0 || read_tags(&r, dag) < 0 ||
	    read_string(&r, "owner", true, &dag->owner) < 0 || read_kvs(&r, "env", &dag->env) < 0 ||
	    read_string(&r, "on_failure", true, &dag->on_failure) < 0 ||
	    read_string(&r, "on_success", true, &dag->on_success) < 0 ||
	    read_tasks(&r, dag, tasks_nr, load, ctx) < 0)
		goto fail;
	dag->params = json_deep_copy(params);
	*out = dag;
	return SL_OK;
fail:
	sl_dag_free(dag);
	return SL_EINVAL;
}

int sl_dag_from_json(struct sl_dag **out, const json_t *json, struct sl_strbuf *err)
{
	const json_t *tasks = json_object_get(json, "tasks");

	if (!json_is_array(tasks))
		return from_json(out, json, 1, no_tasks, (void *)tasks, err);
	return from_json(out, json, json_array_size(tasks), array_task, (void *)tasks, err);
}

int sl_dag_from_json_tasks(struct sl_dag **out, const json_t *json, size_t tasks_nr,
                           json_t *(*load)(void *ctx, size_t i, struct sl_strbuf *err), void *ctx,
                           struct sl_strbuf *err)
{
	return from_json(out, json, tasks_nr, load, ctx, err);
}
