#include "sluice/dag.h"

#include "sluice/alloc.h"
#include "sluice/error.h"

#include <stdlib.h>
#include <string.h>
#include "sluice/banned.h"

static const char *const trigger_rule_names[] = {
    [SL_TRIGGER_ALL_SUCCESS] = "all_success",
    [SL_TRIGGER_ALL_FAILED] = "all_failed",
    [SL_TRIGGER_ALL_DONE] = "all_done",
    [SL_TRIGGER_ALL_SKIPPED] = "all_skipped",
    [SL_TRIGGER_ONE_SUCCESS] = "one_success",
    [SL_TRIGGER_ONE_FAILED] = "one_failed",
    [SL_TRIGGER_ONE_DONE] = "one_done",
    [SL_TRIGGER_NONE_FAILED] = "none_failed",
    [SL_TRIGGER_NONE_FAILED_MIN_ONE_SUCCESS] = "none_failed_min_one_success",
    [SL_TRIGGER_NONE_SKIPPED] = "none_skipped",
    [SL_TRIGGER_ALWAYS] = "always",
};

const char *sl_trigger_rule_name(enum sl_trigger_rule rule)
{
	if ((size_t)rule >= SL_ARRAY_SIZE(trigger_rule_names))
		return "unknown";
	return trigger_rule_names[rule];
}

int sl_trigger_rule_parse(const char *name, enum sl_trigger_rule *rule)
{
	for (size_t i = 0; i < SL_ARRAY_SIZE(trigger_rule_names); i++) {
		if (!strcmp(name, trigger_rule_names[i])) {
			*rule = (enum sl_trigger_rule)i;
			return 0;
		}
	}
	return -1;
}

bool sl_id_valid(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++) {
		char c = s[n];

		if (n == SL_ID_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return n > 0;
}

void sl_kvs_release(struct sl_kvs *kvs)
{
	for (size_t i = 0; i < kvs->nr; i++) {
		free(kvs->items[i].key);
		free(kvs->items[i].value);
	}
	free(kvs->items);
	memset(kvs, 0, sizeof(*kvs));
}

void sl_task_release(struct sl_task *t)
{
	free(t->id);
	free(t->command);
	free(t->upstream);
	free(t->downstream);
	free(t->pool);
	free(t->queue);
	sl_kvs_release(&t->env);
	free(t->cwd);
}

void sl_dag_free(struct sl_dag *dag)
{
	if (!dag)
		return;
	free(dag->id);
	free(dag->file);
	free(dag->description);
	free(dag->owner);
	free(dag->schedule);
	free(dag->timezone);
	for (size_t i = 0; i < dag->tags_nr; i++)
		free(dag->tags[i]);
	free(dag->tags);
	if (dag->params)
		json_decref(dag->params);
	sl_kvs_release(&dag->env);
	free(dag->on_failure);
	free(dag->on_success);
	for (size_t i = 0; i < dag->tasks_nr; i++)
		sl_task_release(&dag->tasks[i]);
	free(dag->tasks);
	free(dag->topo);
	free(dag->by_id);
	free(dag);
}

struct id_entry {
	const char *id;
	size_t index;
};

static int id_entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct id_entry *)a)->id, ((const struct id_entry *)b)->id);
}

void sl_dag_index_build(struct sl_dag *dag)
{
	struct id_entry *entries = sl_xcalloc(dag->tasks_nr, sizeof(*entries));

	for (size_t i = 0; i < dag->tasks_nr; i++) {
		entries[i].id = dag->tasks[i].id;
		entries[i].index = i;
	}
	qsort(entries, dag->tasks_nr, sizeof(*entries), id_entry_cmp);
	free(dag->by_id);
	dag->by_id = sl_xcalloc(dag->tasks_nr, sizeof(*dag->by_id));
	for (size_t i = 0; i < dag->tasks_nr; i++)
		dag->by_id[i] = entries[i].index;
	free(entries);
}

long sl_dag_task_index(const struct sl_dag *dag, const char *id)
{
	size_t lo = 0, hi = dag->tasks_nr;

	if (!dag->by_id) {
		for (size_t i = 0; i < dag->tasks_nr; i++) {
			if (!strcmp(dag->tasks[i].id, id))
				return (long)i;
		}
		return -1;
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(dag->tasks[dag->by_id[mid]].id, id);

		if (!c)
			return (long)dag->by_id[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

void sl_dag_cycles_release(struct sl_dag_cycles *cycles)
{
	for (size_t i = 0; i < cycles->nr; i++)
		free(cycles->items[i].tasks);
	free(cycles->items);
	memset(cycles, 0, sizeof(*cycles));
}

static void build_downstream(struct sl_dag *dag)
{
	size_t *count = sl_xcalloc(dag->tasks_nr, sizeof(*count));

	for (size_t v = 0; v < dag->tasks_nr; v++) {
		for (size_t k = 0; k < dag->tasks[v].upstream_nr; k++)
			count[dag->tasks[v].upstream[k]]++;
	}
	for (size_t u = 0; u < dag->tasks_nr; u++) {
		free(dag->tasks[u].downstream);
		dag->tasks[u].downstream = sl_xcalloc(count[u], sizeof(size_t));
		dag->tasks[u].downstream_nr = 0;
	}
	/* Visiting v in file order leaves every downstream list in file order. */
	for (size_t v = 0; v < dag->tasks_nr; v++) {
		for (size_t k = 0; k < dag->tasks[v].upstream_nr; k++) {
			struct sl_task *u = &dag->tasks[dag->tasks[v].upstream[k]];

			u->downstream[u->downstream_nr++] = v;
		}
	}
	free(count);
}

enum { WHITE, GRAY, BLACK };

struct dfs_frame {
	size_t task;
	size_t next; /* next upstream edge to follow */
};

/* The stack from `from` to the top is a path closed by an edge back to it. */
static void add_cycle(struct sl_dag_cycles *cycles, const struct dfs_frame *stack, size_t from,
                      size_t top)
{
	struct sl_dag_cycle *c;
	size_t n = top - from + 1;

	SL_ALLOC_GROW(cycles->items, cycles->nr + 1, cycles->alloc);
	c = &cycles->items[cycles->nr++];
	c->tasks = sl_xcalloc(n, sizeof(*c->tasks));
	c->nr = n;
	/* Each frame depends on the one above it, so reading down runs forward. */
	c->tasks[0] = stack[from].task;
	for (size_t i = 1; i < n; i++)
		c->tasks[i] = stack[top + 1 - i].task;
}

/*
 * Depth-first over upstream edges, starting from each task in file order,
 * placing a task once all its upstream tasks are placed: linear, and it
 * keeps file order wherever that order is already valid. An edge to a task
 * still on the stack closes a cycle.
 */
int sl_dag_graph_build(struct sl_dag *dag, struct sl_dag_cycles *cycles)
{
	size_t n = dag->tasks_nr;
	unsigned char *color = sl_xcalloc(n, 1);
	size_t *stack_pos = sl_xcalloc(n, sizeof(*stack_pos));
	struct dfs_frame *stack = sl_xcalloc(n, sizeof(*stack));
	size_t *topo = sl_xcalloc(n, sizeof(*topo));
	size_t topo_nr = 0;
	bool cyclic = false;
	int rc = SL_OK;

	build_downstream(dag);
	for (size_t root = 0; root < n; root++) {
		size_t top = 0;

		if (color[root] != WHITE)
			continue;
		stack[0].task = root;
		stack[0].next = 0;
		color[root] = GRAY;
		stack_pos[root] = 0;
		for (;;) {
			struct dfs_frame *f = &stack[top];
			const struct sl_task *t = &dag->tasks[f->task];
			size_t u;

			if (f->next == t->upstream_nr) {
				color[f->task] = BLACK;
				topo[topo_nr++] = f->task;
				if (!top)
					break;
				top--;
				continue;
			}
			u = t->upstream[f->next++];
			if (color[u] == WHITE) {
				color[u] = GRAY;
				stack_pos[u] = ++top;
				stack[top].task = u;
				stack[top].next = 0;
			} else if (color[u] == GRAY) {
				cyclic = true;
				if (cycles && cycles->nr < SL_DAG_MAX_CYCLES)
					add_cycle(cycles, stack, stack_pos[u], top);
			}
		}
	}
	if (cyclic) {
		free(topo);
		rc = SL_EINVAL;
	} else {
		free(dag->topo);
		dag->topo = topo;
	}
	free(color);
	free(stack_pos);
	free(stack);
	return rc;
}

void sl_dag_walk_init(struct sl_dag_walk *w, const struct sl_dag *dag)
{
	/* The loader walks graphs that may still hold a cycle, which can lead
	 * back to the start of a walk once: one more entry for it. */
	size_t n = dag->tasks_nr + 1;

	w->dag = dag;
	w->mark = sl_xcalloc(n, sizeof(*w->mark));
	w->stack = sl_xcalloc(n, sizeof(*w->stack));
	w->stamp = 1;
}

void sl_dag_walk_release(struct sl_dag_walk *w)
{
	free(w->mark);
	free(w->stack);
	w->mark = w->stack = NULL;
}

void sl_dag_walk_clear(struct sl_dag_walk *w)
{
	w->stamp++;
}

bool sl_dag_walk_marked(const struct sl_dag_walk *w, size_t t)
{
	return w->mark[t] == w->stamp;
}

static void walk(struct sl_dag_walk *w, size_t from, bool up)
{
	size_t sp = 0;

	w->stack[sp++] = from;
	while (sp) {
		const struct sl_task *t = &w->dag->tasks[w->stack[--sp]];
		const size_t *next = up ? t->upstream : t->downstream;
		size_t nr = up ? t->upstream_nr : t->downstream_nr;

		for (size_t i = 0; i < nr; i++) {
			if (w->mark[next[i]] == w->stamp)
				continue;
			w->mark[next[i]] = w->stamp;
			w->stack[sp++] = next[i];
		}
	}
}

void sl_dag_walk_ancestors(struct sl_dag_walk *w, size_t t)
{
	sl_dag_walk_clear(w);
	walk(w, t, true);
}

void sl_dag_walk_add_descendants(struct sl_dag_walk *w, size_t t)
{
	walk(w, t, false);
}
