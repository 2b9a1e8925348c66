#include "sluice/taskenv.h"

#include "sluice/alloc.h"
#include "sluice/civil.h"
#include "sluice/error.h"
#include "sluice/template.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "sluice/banned.h"

void sl_env_release(struct sl_env *env)
{
	for (size_t i = 0; i < env->nr; i++)
		free(env->items[i]);
	free(env->items);
	env->items = NULL;
	env->nr = env->alloc = 0;
}

static long env_find(const struct sl_env *env, const char *name, size_t name_len)
{
	for (size_t i = 0; i < env->nr; i++)
		if (!strncmp(env->items[i], name, name_len) && env->items[i][name_len] == '=')
			return (long)i;
	return -1;
}

static void env_put(struct sl_env *env, char *entry, size_t name_len)
{
	long i = env_find(env, entry, name_len);

	if (i >= 0) {
		free(env->items[i]);
		env->items[i] = entry;
		return;
	}
	SL_ALLOC_GROW(env->items, env->nr + 2, env->alloc);
	env->items[env->nr++] = entry;
	env->items[env->nr] = NULL;
}

void sl_env_set(struct sl_env *env, const char *name, const char *value)
{
	env_put(env, sl_xasprintf("%s=%s", name, value), strlen(name));
}

const char *sl_env_get(const struct sl_env *env, const char *name)
{
	size_t len = strlen(name);
	long i = env_find(env, name, len);

	return i < 0 ? NULL : env->items[i] + len + 1;
}

char **sl_env_array(struct sl_env *env)
{
	if (!env->nr) {
		SL_ALLOC_GROW(env->items, 1, env->alloc);
		env->items[0] = NULL;
	}
	return env->items;
}

static const char *const base_names[] = {
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TZDIR", "TMPDIR",
};

static int base_inherited(const char *entry, size_t name_len)
{
	if (name_len > 3 && !strncmp(entry, "LC_", 3))
		return 1;
	for (size_t i = 0; i < SL_ARRAY_SIZE(base_names); i++)
		if (strlen(base_names[i]) == name_len && !strncmp(entry, base_names[i], name_len))
			return 1;
	return 0;
}

void sl_env_inherit_base(struct sl_env *env, char *const *parent)
{
	for (size_t i = 0; parent && parent[i]; i++) {
		const char *eq = strchr(parent[i], '=');

		if (!eq || eq == parent[i] || !base_inherited(parent[i], (size_t)(eq - parent[i])))
			continue;
		env_put(env, sl_xstrdup(parent[i]), (size_t)(eq - parent[i]));
	}
	if (!sl_env_get(env, "PATH"))
		sl_env_set(env, "PATH", "/usr/local/bin:/usr/bin:/bin");
}

/* Upper-case s[0..len) into sb, '.' and '-' becoming '_'. */
static void add_mangled(struct sl_strbuf *sb, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		sl_strbuf_addch(sb, c == '.' || c == '-' ? '_' : toupper(c));
	}
}

static void set_var(struct sl_env *env, struct sl_strbuf *name, const char *value)
{
	sl_env_set(env, name->buf, value);
	sl_strbuf_reset(name);
}

/*
 * Expand the templates of env value `value` into `out` from the SLUICE_*
 * values in `vals`: each `{{ name }}` becomes the value itself (an env
 * value is data handed to execve, never read by a shell, so there is
 * nothing to quote). A reference with no value (an output the upstream
 * task did not write) gives "", as `${VAR}` does in a command. The loader
 * refused unknown names and unterminated braces, so those are kept as
 * written rather than failing an attempt over a definition that loaded.
 */
static void expand_value(struct sl_strbuf *out, const char *value, const struct sl_env *vals)
{
	struct sl_strbuf var = SL_STRBUF_INIT, err = SL_STRBUF_INIT;
	struct sl_template_iter it;
	struct sl_template_piece p;

	sl_template_iter_init(&it, value, strlen(value));
	while (sl_template_next(&it, &p)) {
		const char *v = NULL;

		if (p.kind == SL_TEMPLATE_REF) {
			sl_strbuf_reset(&var);
			if (!sl_taskenv_var_name(&var, p.name, p.name_len, &err)) {
				v = sl_env_get(vals, var.buf);
				sl_strbuf_adds(out, v ? v : "");
				continue;
			}
		}
		sl_strbuf_add(out, value + p.start, p.len);
	}
	sl_strbuf_release(&var);
	sl_strbuf_release(&err);
}

static void kvs_apply(struct sl_env *env, const struct sl_kvs *kvs, const struct sl_env *vals)
{
	struct sl_strbuf val = SL_STRBUF_INIT;

	for (size_t i = 0; kvs && i < kvs->nr; i++) {
		sl_strbuf_reset(&val);
		expand_value(&val, kvs->items[i].value, vals);
		sl_env_set(env, kvs->items[i].key, val.buf);
	}
	sl_strbuf_release(&val);
}

char *sl_taskenv_param_value(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		return sl_xstrndup(json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return sl_xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
	case JSON_REAL:
		return sl_xasprintf("%.17g", json_real_value(v));
	case JSON_TRUE:
		return sl_xstrdup("true");
	case JSON_FALSE:
		return sl_xstrdup("false");
	case JSON_NULL:
		return sl_xstrdup("");
	default: {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		char *copy = sl_xstrdup(s ? s : "");

		free(s);
		return copy;
	}
	}
}

void sl_taskenv_param_name(struct sl_strbuf *out, const char *param, size_t len)
{
	sl_strbuf_adds(out, "SLUICE_PARAM_");
	add_mangled(out, param, len);
}

static void set_param(struct sl_env *env, struct sl_strbuf *name, const char *key, const json_t *v)
{
	char *text = sl_taskenv_param_value(v);

	sl_taskenv_param_name(name, key, strlen(key));
	set_var(env, name, text);
	free(text);
}

/* The SLUICE_* values of an attempt into `env`. */
static void sluice_values(struct sl_env *env, const struct sl_taskenv_ctx *ctx)
{
	struct sl_strbuf name = SL_STRBUF_INIT, val = SL_STRBUF_INIT;
	struct sl_civil c;
	const char *key;
	json_t *v;

	sl_civil_from_secs(ctx->logical_date, &c);
	sl_strbuf_addf(&val, "%04d-%02d-%02d", c.year, c.month, c.day);
	sl_env_set(env, "SLUICE_DS", val.buf);
	sl_strbuf_reset(&val);
	sl_strbuf_addf(&val, "%04d%02d%02d", c.year, c.month, c.day);
	sl_env_set(env, "SLUICE_DS_NODASH", val.buf);
	sl_strbuf_reset(&val);
	sl_iso_format(&val, ctx->logical_date, NULL);
	sl_env_set(env, "SLUICE_TS", val.buf);
	sl_env_set(env, "SLUICE_LOGICAL_DATE", val.buf);
	sl_strbuf_reset(&val);
	sl_iso_format(&val, ctx->data_interval_start, NULL);
	sl_env_set(env, "SLUICE_DATA_INTERVAL_START", val.buf);
	sl_strbuf_reset(&val);
	sl_iso_format(&val, ctx->data_interval_end, NULL);
	sl_env_set(env, "SLUICE_DATA_INTERVAL_END", val.buf);
	sl_strbuf_reset(&val);
	sl_env_set(env, "SLUICE_RUN_ID", ctx->run_id ? ctx->run_id : "");
	sl_env_set(env, "SLUICE_DAG", ctx->dag ? ctx->dag : "");
	sl_env_set(env, "SLUICE_TASK", ctx->task ? ctx->task : "");
	sl_strbuf_addf(&val, "%d", ctx->try_number);
	sl_env_set(env, "SLUICE_TRY_NUMBER", val.buf);
	sl_strbuf_reset(&val);
	sl_strbuf_addf(&val, "%d", ctx->poke_number > 0 ? ctx->poke_number : 1);
	sl_env_set(env, "SLUICE_POKE_NUMBER", val.buf);
	if (ctx->run_state)
		sl_env_set(env, "SLUICE_RUN_STATE", ctx->run_state);
	if (ctx->failed_tasks)
		sl_env_set(env, "SLUICE_FAILED_TASKS", ctx->failed_tasks);

	/* Defaults first, then the overrides replace them by name. */
	if (ctx->params && json_is_object(ctx->params))
		json_object_foreach((json_t *)ctx->params, key, v) set_param(env, &name, key, v);
	if (ctx->conf && json_is_object(ctx->conf))
		json_object_foreach((json_t *)ctx->conf, key, v) set_param(env, &name, key, v);

	for (size_t i = 0; i < ctx->outputs_nr; i++) {
		const struct sl_taskenv_output *o = &ctx->outputs[i];

		sl_strbuf_adds(&name, "SLUICE_OUT_");
		add_mangled(&name, o->task, strlen(o->task));
		sl_strbuf_addch(&name, '_');
		add_mangled(&name, o->key, strlen(o->key));
		set_var(env, &name, o->value);
	}
	sl_strbuf_release(&name);
	sl_strbuf_release(&val);
}

void sl_taskenv_build(struct sl_env *env, const struct sl_taskenv_ctx *ctx)
{
	struct sl_env vals = SL_ENV_INIT;

	/* The SLUICE_* values first, for the env templates to read; set last
	 * in `env`, so that no env mapping can spoof them. */
	sluice_values(&vals, ctx);
	kvs_apply(env, ctx->dag_env, &vals);
	kvs_apply(env, ctx->task_env, &vals);
	for (size_t i = 0; i < vals.nr; i++) {
		const char *eq = strchr(vals.items[i], '=');

		env_put(env, vals.items[i], (size_t)(eq - vals.items[i]));
	}
	/* The strings moved to `env`. */
	free(vals.items);
}

int sl_taskenv_var_name(struct sl_strbuf *out, const char *name, size_t len, struct sl_strbuf *err)
{
	struct sl_template_ref ref;

	sl_template_ref_parse(name, len, &ref);
	switch (ref.kind) {
	case SL_TREF_BUILTIN:
		sl_strbuf_adds(out, "SLUICE_");
		add_mangled(out, ref.a, ref.a_len);
		return 0;
	case SL_TREF_PARAM:
		sl_taskenv_param_name(out, ref.a, ref.a_len);
		return 0;
	case SL_TREF_OUTPUT:
		sl_strbuf_adds(out, "SLUICE_OUT_");
		add_mangled(out, ref.a, ref.a_len);
		sl_strbuf_addch(out, '_');
		add_mangled(out, ref.b, ref.b_len);
		return 0;
	case SL_TREF_INVALID:
		break;
	}
	sl_strbuf_addf(err, "unknown template value '{{ %.*s }}'", (int)len, name);
	return SL_EINVAL;
}

int sl_taskenv_expand(struct sl_strbuf *out, const char *command, struct sl_strbuf *err)
{
	struct sl_template_iter it;
	struct sl_template_piece p;

	sl_template_iter_init(&it, command, strlen(command));
	while (sl_template_next(&it, &p)) {
		switch (p.kind) {
		case SL_TEMPLATE_TEXT:
			sl_strbuf_add(out, command + p.start, p.len);
			break;
		case SL_TEMPLATE_REF:
			sl_strbuf_adds(out, "${");
			if (sl_taskenv_var_name(out, p.name, p.name_len, err))
				return SL_EINVAL;
			sl_strbuf_addch(out, '}');
			break;
		case SL_TEMPLATE_UNTERMINATED:
			sl_strbuf_addf(err, "unterminated '{{' at offset %zu of the command",
			               p.start);
			return SL_EINVAL;
		}
	}
	return 0;
}
