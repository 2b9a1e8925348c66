/*
 * A run's conf checked against the params its DAG declares: names must be
 * declared, values keep the type of the default.
 */
#include "sluice/params.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/error.h"
#include "sluice/suggest.h"
#include "sluice/banned.h"

const char *sl_json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "a mapping";
	case JSON_ARRAY:
		return "a list";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		break;
	}
	return "null";
}

/* The default of `key`, or NULL (with a sentence in `err`) when undeclared. */
static const json_t *declared(const json_t *params, const char *key, struct sl_strbuf *err)
{
	const json_t *def = json_object_get(params, key);
	struct sl_suggest s;
	const char *name;
	json_t *v;

	if (def)
		return def;
	sl_strbuf_addf(err, "unknown param '%s'", key);
	sl_suggest_init(&s, key);
	json_object_foreach((json_t *)params, name, v) sl_suggest_consider(&s, name);
	if (s.best)
		sl_strbuf_addf(err, " (did you mean '%s'?)", s.best);
	if (!json_object_size(params)) {
		sl_strbuf_adds(err, "; the DAG declares no params");
	} else {
		const char *sep = "; declared: ";

		json_object_foreach((json_t *)params, name, v)
		{
			sl_strbuf_addf(err, "%s%s", sep, name);
			sep = ", ";
		}
	}
	return NULL;
}

static json_t *parse_integer(const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return NULL;
	return json_integer((json_int_t)v);
}

static json_t *parse_real(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v))
		return NULL;
	return json_real(v);
}

int sl_params_set_text(json_t *conf, const json_t *params, const char *key, const char *value,
                       struct sl_strbuf *err)
{
	const json_t *def = declared(params, key, err);
	json_t *v = NULL;

	if (!def)
		return SL_EINVAL;
	switch (json_typeof(def)) {
	case JSON_INTEGER:
		v = parse_integer(value);
		break;
	case JSON_REAL:
		v = parse_real(value);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		if (!strcmp(value, "true") || !strcmp(value, "false"))
			v = json_boolean(!strcmp(value, "true"));
		break;
	case JSON_STRING:
	case JSON_NULL:
		v = json_string(value);
		break;
	case JSON_ARRAY:
	case JSON_OBJECT:
		sl_strbuf_addf(err, "param '%s' is %s: give it with --conf-json", key,
		               sl_json_type_name(def));
		return SL_EINVAL;
	}
	if (!v) {
		sl_strbuf_addf(err, "param '%s' expects %s%s, got '%s'", key,
		               sl_json_type_name(def),
		               json_is_boolean(def) ? " (true or false)" : "", value);
		return SL_EINVAL;
	}
	json_object_set_new(conf, key, v);
	return 0;
}

/* Whether `v` may replace `def`: the same JSON type, any number for a float. */
static int same_type(const json_t *def, const json_t *v)
{
	if (json_is_null(def))
		return 1;
	if (json_is_real(def))
		return json_is_number(v);
	if (json_is_boolean(def))
		return json_is_boolean(v);
	return json_typeof(def) == json_typeof(v);
}

int sl_params_set_json(json_t *conf, const json_t *params, const json_t *overrides,
                       struct sl_strbuf *err)
{
	const char *key;
	json_t *v;

	if (!json_is_object(overrides)) {
		sl_strbuf_addf(err, "expected a JSON object of params, got %s",
		               sl_json_type_name(overrides));
		return SL_EINVAL;
	}
	json_object_foreach((json_t *)overrides, key, v)
	{
		const json_t *def = declared(params, key, err);

		if (!def)
			return SL_EINVAL;
		if (!same_type(def, v)) {
			sl_strbuf_addf(err, "param '%s' expects %s, got %s", key,
			               sl_json_type_name(def), sl_json_type_name(v));
			return SL_EINVAL;
		}
		json_object_set(conf, key, v);
	}
	return 0;
}
