#ifndef SLUICE_DAG_H
#define SLUICE_DAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sluice/cron.h"
#include "sluice/diag.h"

/**
 * The DAG model: what one DAG file means once it has been loaded and
 * validated. A loaded sl_dag is immutable; it owns every string and array
 * reachable from it, and sl_dag_free releases all of it.
 *
 * Tasks keep the order of the file. Edges are task indices. `topo` holds a
 * topological order (computed in O(V+E); ties keep file order).
 */

#define SL_ID_MAX 200

enum sl_trigger_rule {
	SL_TRIGGER_ALL_SUCCESS,
	SL_TRIGGER_ALL_FAILED,
	SL_TRIGGER_ALL_DONE,
	SL_TRIGGER_ALL_SKIPPED,
	SL_TRIGGER_ONE_SUCCESS,
	SL_TRIGGER_ONE_FAILED,
	SL_TRIGGER_ONE_DONE,
	SL_TRIGGER_NONE_FAILED,
	SL_TRIGGER_NONE_FAILED_MIN_ONE_SUCCESS,
	SL_TRIGGER_NONE_SKIPPED,
	SL_TRIGGER_ALWAYS,
};

enum sl_backoff {
	SL_BACKOFF_FIXED,
	SL_BACKOFF_EXPONENTIAL,
};

enum sl_schedule_kind {
	SL_SCHEDULE_NONE, /* null or absent: manual runs only */
	SL_SCHEDULE_ONCE, /* @once */
	SL_SCHEDULE_CRON, /* 5 fields or a preset; `cron` is valid */
};

struct sl_kv {
	char *key;
	char *value;
};

struct sl_kvs {
	struct sl_kv *items;
	size_t nr;
	size_t alloc;
};

/** Free every key and value and the array; `kvs` is empty again. */
void sl_kvs_release(struct sl_kvs *kvs);

struct sl_task {
	char *id;
	char *command;
	size_t *upstream; /* indices into dag->tasks, in depends_on order */
	size_t upstream_nr;
	size_t *downstream; /* indices into dag->tasks, in file order */
	size_t downstream_nr;

	int retries;         /* default 0 */
	int64_t retry_delay; /* seconds, default 300 */
	enum sl_backoff retry_backoff;
	int64_t max_retry_delay; /* seconds, default 86400 */
	int64_t timeout;         /* seconds, 0 = none (default) */
	enum sl_trigger_rule trigger_rule;
	char *pool;        /* NULL = no pool */
	int priority;      /* default 0; higher runs first */
	char *queue;       /* default "default" */
	struct sl_kvs env; /* the task's own env (the DAG's env is in dag->env) */
	char *cwd;         /* relative to the repository root; NULL = root */
	bool sensor;
	int64_t poke_interval;  /* seconds, when sensor; default 60 */
	int64_t sensor_timeout; /* seconds, when sensor; default 7d */
	bool depends_on_past;

	unsigned line, column; /* where the task's id is written */
};

struct sl_dag {
	char *id;
	char *file;        /* as given to the loader */
	char *description; /* NULL when absent */
	char *owner;       /* NULL when absent */

	enum sl_schedule_kind schedule_kind;
	char *schedule; /* the text as written; NULL for SL_SCHEDULE_NONE */
	struct sl_cron cron;
	char *timezone; /* IANA name; default "UTC" */

	bool has_start_date;
	int64_t start_date; /* instant (UTC seconds) */
	bool has_end_date;
	int64_t end_date;
	bool catchup;         /* default false */
	int max_active_runs;  /* default 16 */
	int max_active_tasks; /* default 16 */
	bool paused;          /* default false */

	char **tags;
	size_t tags_nr;
	json_t *params; /* a JSON object, never NULL (empty when absent) */
	struct sl_kvs env;
	char *on_failure; /* NULL when absent */
	char *on_success;

	struct sl_task *tasks;
	size_t tasks_nr;
	size_t *topo;  /* tasks_nr indices */
	size_t *by_id; /* tasks_nr indices sorted by id; NULL until sl_dag_index_build */
};

struct sl_load_opts {
	size_t max_file_size;  /* bytes; 0 = 1 MiB */
	size_t max_model_size; /* bytes of the loaded model; 0 = 8 x max_file_size */
};

/**
 * Load one DAG from `len` bytes of `data`, reporting every problem found in
 * `diags` as `file:line:col`. `file` names the source in messages and
 * supplies the default DAG id (its base name without .yaml/.yml).
 * Returns 0 and sets `*out` to a new DAG when the file is valid; otherwise
 * returns SL_EINVAL (or SL_ETOOBIG), sets `*out` to NULL and has added at
 * least one diagnostic. Time and memory are bounded whatever the input
 * (size limit, nesting limit, alias expansion budget, and the cap on the
 * loaded model: the bytes its tasks, env, params and tags hold once
 * defaults and aliases are applied, counted as they are applied, so that
 * loading stops as soon as it passes `max_model_size`).
 */
int sl_dag_load(struct sl_dag **out, const char *file, const char *data, size_t len,
                const struct sl_load_opts *opts, struct sl_diags *diags);

/**
 * sl_dag_load on the contents of file `path`. A file that cannot be read
 * gives SL_ERR (and a diagnostic at 1:1), one over the size limit
 * SL_ETOOBIG; its size is checked before it is read.
 */
int sl_dag_load_file(struct sl_dag **out, const char *path, const struct sl_load_opts *opts,
                     struct sl_diags *diags);

void sl_dag_free(struct sl_dag *dag);

/** Free everything `task` holds (not the struct itself). */
void sl_task_release(struct sl_task *task);

/** Index of task `id`, or -1. */
long sl_dag_task_index(const struct sl_dag *dag, const char *id);

const char *sl_trigger_rule_name(enum sl_trigger_rule rule);
/** Returns 0 and sets `*rule`, or -1 for an unknown name. */
int sl_trigger_rule_parse(const char *name, enum sl_trigger_rule *rule);

/**
 * Sort the task indices by id into `dag->by_id`, so that sl_dag_task_index
 * is a binary search instead of a scan. Task ids must be unique. A loaded
 * DAG already has its index.
 */
void sl_dag_index_build(struct sl_dag *dag);

/**
 * A dependency cycle: tasks[i + 1] depends on tasks[i], and tasks[0] on
 * tasks[nr - 1], so the cycle reads "tasks[0] -> tasks[1] -> ... ->
 * tasks[0]" in the direction in which tasks would run.
 */
struct sl_dag_cycle {
	size_t *tasks;
	size_t nr;
};

struct sl_dag_cycles {
	struct sl_dag_cycle *items;
	size_t nr;
	size_t alloc;
};

#define SL_DAG_CYCLES_INIT \
	{                  \
		NULL, 0, 0 \
	}
/** At most this many cycles are listed for one DAG. */
#define SL_DAG_MAX_CYCLES 10

void sl_dag_cycles_release(struct sl_dag_cycles *cycles);

/**
 * From every task's `upstream` list, fill the `downstream` lists (file
 * order) and `topo`, in O(V+E). The order is file order wherever file
 * order respects the dependencies: a task comes right after the last of its
 * not yet placed upstream tasks. Returns 0, or SL_EINVAL when there are
 * cycles: then `cycles` lists them (at least one, at most SL_DAG_MAX_CYCLES)
 * and `topo` stays NULL. Upstream lists must hold no duplicates and no
 * self-dependency.
 */
int sl_dag_graph_build(struct sl_dag *dag, struct sl_dag_cycles *cycles);

/**
 * Walks of a DAG's graph: the set of the ancestors (upstream, transitively)
 * or descendants of tasks. A walk is iterative, so a chain of any depth is
 * safe, and O(V+E); one `struct sl_dag_walk` serves many walks of the same
 * DAG without clearing its marks (a new set only bumps a stamp).
 *
 *	struct sl_dag_walk w;
 *	sl_dag_walk_init(&w, dag);
 *	sl_dag_walk_ancestors(&w, t);          (a new set: the ancestors of t)
 *	if (sl_dag_walk_marked(&w, u)) ...
 *	sl_dag_walk_release(&w);
 */
struct sl_dag_walk {
	const struct sl_dag *dag;
	size_t *mark;  /* tasks_nr entries: marked when equal to `stamp` */
	size_t *stack; /* tasks_nr + 1 entries of scratch */
	size_t stamp;
};

void sl_dag_walk_init(struct sl_dag_walk *w, const struct sl_dag *dag);
void sl_dag_walk_release(struct sl_dag_walk *w);
/** Empty the set (a new walk starts empty). */
void sl_dag_walk_clear(struct sl_dag_walk *w);
/** A new set: the ancestors of task `t` (not `t` itself). */
void sl_dag_walk_ancestors(struct sl_dag_walk *w, size_t t);
/** Add the descendants of task `t` (not `t` itself) to the set. */
void sl_dag_walk_add_descendants(struct sl_dag_walk *w, size_t t);
bool sl_dag_walk_marked(const struct sl_dag_walk *w, size_t t);

/** True when `s` is a valid DAG or task id: [A-Za-z0-9_.-]{1,200}. */
bool sl_id_valid(const char *s);

#endif
