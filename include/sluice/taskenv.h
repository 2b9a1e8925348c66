#ifndef SLUICE_TASKENV_H
#define SLUICE_TASKENV_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sluice/dag.h"
#include "sluice/strbuf.h"

/**
 * What a task's command sees: its environment and its expanded command
 * line. Shared by the worker and `sluice test`, so that a DAG author's local
 * run and a production run build exactly the same process. See
 * docs/execution.md.
 */

/**
 * An environment for a child process: "NAME=value" strings, owned.
 * `items` is NULL-terminated whenever `nr > 0` (so it can go straight to
 * uv_spawn); setting a name that is already present replaces it in place.
 */
struct sl_env {
	char **items;
	size_t nr;
	size_t alloc;
};

#define SL_ENV_INIT        \
	{                  \
		NULL, 0, 0 \
	}

void sl_env_release(struct sl_env *env);
void sl_env_set(struct sl_env *env, const char *name, const char *value);
/** The value of `name`, or NULL. */
const char *sl_env_get(const struct sl_env *env, const char *name);
/** A NULL-terminated array for execve/uv_spawn; valid until the next change. */
char **sl_env_array(struct sl_env *env);

/**
 * Copy the minimal inherited base from `parent` (an `environ`-shaped array):
 * PATH, HOME, USER, LOGNAME, SHELL, LANG, LANGUAGE, every LC_*, TZ, TZDIR,
 * TMPDIR. PATH defaults to /usr/local/bin:/usr/bin:/bin when absent.
 * Nothing else of the daemon's environment (credentials, tokens,
 * SLUICE_DATABASE_URL, sanitizer options...) reaches a task.
 */
void sl_env_inherit_base(struct sl_env *env, char *const *parent);

/** One output of an upstream task of the same run. */
struct sl_taskenv_output {
	const char *task;
	const char *key;
	const char *value;
};

/** Everything a task attempt's environment is built from. */
struct sl_taskenv_ctx {
	const char *dag;
	const char *task;
	const char *run_id;
	int64_t logical_date; /* instants, UTC seconds */
	int64_t data_interval_start;
	int64_t data_interval_end;
	int try_number;       /* 1 for the first try; a sensor's pokes share it */
	int poke_number;      /* 1 for the first poke of the try (0 is taken as 1) */
	const json_t *params; /* the DAG's defaults (an object, or NULL) */
	const json_t *conf;   /* the run's overrides (an object, or NULL) */
	const struct sl_taskenv_output *outputs;
	size_t outputs_nr;
	const struct sl_kvs *dag_env;  /* NULL = none */
	const struct sl_kvs *task_env; /* NULL = none */
	/* A run's on_failure / on_success callback only (NULL otherwise): the
	 * run's final state, and the ids of its failed tasks separated by
	 * spaces, in file order ("" when none). */
	const char *run_state;
	const char *failed_tasks;
};

/**
 * Build the environment of an attempt into `env` (which may already hold
 * entries, normally from sl_env_inherit_base): the DAG's env, then the
 * task's env, then the SLUICE_* values, which are set last so that no env
 * mapping can spoof them:
 *
 *     SLUICE_DS SLUICE_DS_NODASH SLUICE_TS SLUICE_LOGICAL_DATE
 *     SLUICE_DATA_INTERVAL_START SLUICE_DATA_INTERVAL_END SLUICE_RUN_ID
 *     SLUICE_DAG SLUICE_TASK SLUICE_TRY_NUMBER SLUICE_POKE_NUMBER
 *     SLUICE_PARAM_<NAME> SLUICE_OUT_<TASK>_<KEY>
 *
 * The `{{ name }}` templates of the env values are replaced by the values
 * themselves (the same SLUICE_* values): an env value reaches the process
 * through execve, never through a shell, so a value cannot become code.
 *
 * and, for a callback, SLUICE_RUN_STATE and SLUICE_FAILED_TASKS.
 *
 * Dates are UTC (`ds` is the UTC date of the logical date; `ts` is
 * ISO 8601 with a `Z`). Params are the defaults overridden by `conf`; a
 * string is given as is, a number or boolean as its JSON text, null as "",
 * a list or mapping as compact JSON. SLUICE_OUTPUT is set by sl_taskexec,
 * which creates the file.
 */
void sl_taskenv_build(struct sl_env *env, const struct sl_taskenv_ctx *ctx);

/**
 * The most SLUICE_* values sl_taskenv_build sets, params and outputs aside:
 * eleven for every attempt, two more for a callback. The DAG loader keeps this
 * many of a DISPATCH's SL_PROTO_LIST_MAX env entries free for them, so it
 * changes with the list above (tests/test_taskexec.c counts them).
 */
#define SL_TASKENV_FIXED_MAX 13

/**
 * The environment variable of param `param` (`len` bytes), as
 * sl_taskenv_build names it: SLUICE_PARAM_ and the name upper-cased, `.`
 * and `-` becoming `_`. Appends to `out`.
 */
void sl_taskenv_param_name(struct sl_strbuf *out, const char *param, size_t len);

/** A param's value as sl_taskenv_build gives it (see above); the caller frees it. */
char *sl_taskenv_param_value(const json_t *v);

/**
 * The environment variable name of a template reference `name` (as in
 * `{{ name }}`): `ds` -> SLUICE_DS, `params.region` -> SLUICE_PARAM_REGION,
 * `outputs.extract.rows` -> SLUICE_OUT_EXTRACT_ROWS (upper-cased, `.` and
 * `-` become `_`). Appends to `out`. Returns 0, or SL_EINVAL with a message
 * in `err` for a name that is not a valid reference.
 */
int sl_taskenv_var_name(struct sl_strbuf *out, const char *name, size_t len, struct sl_strbuf *err);

/**
 * Expand the templates of `command` into `out`: each `{{ name }}` becomes
 * `${VAR}`, a parameter expansion of its environment variable. The shell
 * never re-parses the result of a parameter expansion as shell syntax, so a
 * value such as `'; rm -rf ~; '` stays data. Unquoted, the value is still
 * subject to field splitting and globbing: write "{{ name }}" in double
 * quotes. Inside single quotes nothing is expanded (the command sees the
 * literal text `${VAR}`). Returns 0, or SL_EINVAL (message in `err`) for an
 * unknown reference or an unterminated `{{`.
 */
int sl_taskenv_expand(struct sl_strbuf *out, const char *command, struct sl_strbuf *err);

#endif
