#ifndef SLUICE_CORE_DAG_LOAD_H
#define SLUICE_CORE_DAG_LOAD_H

/*
 * Private to the DAG loader (sl_dag_load), which is three files:
 * dag_load.c reads the file, the document and the DAG-level keys;
 * dag_tasks.c the tasks, `defaults` and the dependencies; dag_check.c
 * checks what needs the whole DAG: cycles, templates, the env room of a
 * DISPATCH.
 */

#include <stdbool.h>
#include <stddef.h>

#include "sluice/container.h"
#include "sluice/dag.h"
#include "sluice/strbuf.h"
#include "sluice/yaml_doc.h"
#include "sluice/yschema.h"

struct sl_tz;

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
	const struct sl_ynode *id;         /* the key naming the task */
	const struct sl_ynode *command;    /* its value, NULL when absent */
	const struct sl_ynode *depends_on; /* its value, NULL when absent */
	const struct sl_ynode *env_key;    /* the task's own 'env' key */
	const struct sl_ynode **dep_nodes; /* parallel to task->upstream */
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
	size_t model_bytes; /* what the loaded model holds so far (sl__dag_charge) */
	size_t model_cap;
	bool over_cap; /* model_bytes passed model_cap: stop loading */
};

/*
 * What the model cap counts besides the strings themselves: a task (its
 * struct and the fixed keys of its stored JSON), a dependency edge (upstream
 * and downstream indices, its node), an env, params or tags item.
 */
#define SL_DAG_TASK_BYTES 512
#define SL_DAG_EDGE_BYTES 24
#define SL_DAG_ITEM_BYTES 32

/* The loader of a key callback's reader. */
static inline struct loader *loader_of(struct sl_yreader *r)
{
	return container_of(r, struct loader, r);
}

/*
 * Whether a value sent in a DISPATCH (a command, cwd or env value) fits the
 * job protocol, whose worker refuses the whole DISPATCH otherwise; `fmt`
 * names the key. Reports when it does not.
 */
bool sl__dag_text_fits(struct loader *L, const struct sl_ynode *at, size_t len, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));

/*
 * Count `bytes` more into the loaded model, as a value is applied (`at`:
 * where). Returns false, after reporting once at `at`, when the model has
 * passed its cap: the caller then stores nothing more and stops.
 */
bool sl__dag_charge(struct loader *L, const struct sl_ynode *at, size_t bytes);

/*
 * The key tables of each mapping the loader reads with sl_yschema_read,
 * read-only. Besides the loader, only tests/tools/schema_tool reads them:
 * it prints them so that a test checks docs/dag.schema.json knows the
 * same keys, with the same types, as the loader.
 */
extern const struct sl_yschema sl__dag_root_schema;     /* dag_load.c: the DAG level */
extern const struct sl_yschema sl__dag_task_schema;     /* dag_tasks.c: a task */
extern const struct sl_yschema sl__dag_defaults_schema; /* dag_tasks.c: `defaults` */
extern const struct sl_yschema sl__dag_sensor_schema;   /* dag_tasks.c: a `sensor` mapping */

/* dag_load.c */

/** Which mapping an unknown key was found in. */
enum dag_level { AT_DAG, AT_DEFAULTS, AT_TASK };
/**
 * An unknown key that is Airflow's name for a sluice key (`schedule_interval`,
 * `bash_command`, ...): reports it with the sluice name and returns true;
 * false for any other key.
 */
bool sl__dag_airflow_unknown(struct sl_yreader *r, const struct sl_yscope *scope,
                             const struct sl_ynode *key, enum dag_level level);

/* dag_tasks.c */

/** A task's settings before its keys and the defaults are applied. */
void sl__dag_task_init_defaults(struct sl_task *t);
/** Whether `name` is a task key (a slip when written at the DAG level). */
bool sl__dag_is_task_key(const char *name);
/** The entries of an `env` mapping into `env`; false after reporting a bad one. */
bool sl__dag_read_env(struct loader *L, const struct sl_ynode *v, struct sl_kvs *env);
/* yschema callbacks the DAG-level table shares: see sl_ykey_fn. */
bool sl__dag_check_command(struct sl_yreader *r, const char *name, const struct sl_ynode *v,
                           void *out);
bool sl__dag_read_defaults(struct sl_yreader *r, const char *name, const struct sl_ynode *v,
                           void *out);
/**
 * The `tasks` mapping `v` (NULL when absent; `root` is then where to say
 * so), every task's dependencies, and the graph; needs `defaults` read.
 */
void sl__dag_load_tasks(struct loader *L, const struct sl_ynode *v, const struct sl_ynode *root);

/* dag_check.c */

/** Build the task graph, reporting each cycle at the dependency that closes it. */
void sl__dag_check_graph(struct loader *L);
/** The templates of every command and callback (the values of on_failure, on_success). */
void sl__dag_check_templates(struct loader *L, const struct sl_ynode *on_failure,
                             const struct sl_ynode *on_success);
/**
 * Templates everywhere else in the document `root`: those of env values
 * (the DAG's, `defaults`' and each task's) are checked like a command's,
 * but as data (no shell context); one anywhere they are not expanded is
 * refused at its "{{".
 */
void sl__dag_check_template_places(struct loader *L, const struct sl_ynode *root);
/** Whether every task's environment fits a DISPATCH (the DAG's env and params keys). */
void sl__dag_check_env_room(struct loader *L, const struct sl_ynode *env_key,
                            const struct sl_ynode *params_key);

#endif
