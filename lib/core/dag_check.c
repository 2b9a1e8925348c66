#include "dag_load.h"

#include "sluice/alloc.h"
#include "sluice/proto.h"
#include "sluice/shellctx.h"
#include "sluice/strbuf.h"
#include "sluice/suggest.h"
#include "sluice/taskenv.h"
#include "sluice/template.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "sluice/banned.h"

/*
 * The env entries of a DISPATCH that the file's env and params may fill:
 * the rest is kept for the SLUICE_* values every attempt gets.
 */
#define ENV_ROOM (SL_PROTO_LIST_MAX - SL_TASKENV_FIXED_MAX)

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

void sl__dag_check_graph(struct loader *L)
{
	struct sl_dag_cycles cycles = SL_DAG_CYCLES_INIT;

	if (sl_dag_graph_build(L->dag, &cycles) < 0) {
		for (size_t i = 0; i < cycles.nr; i++)
			report_cycle(L, &cycles.items[i]);
	}
	sl_dag_cycles_release(&cycles);
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
	bool shell;                   /* a command, read by /bin/sh (else an env value) */
	bool no_outputs;              /* the DAG's or defaults' env: no task's outputs */
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
	} else if (c->no_outputs) {
		template_error(c, nth,
		               "{{ %s }}: %s applies to every task, and the outputs of '%s' are "
		               "not known when the first ones run; set it in the env of a task "
		               "downstream of '%s'",
		               full, c->where, task, task);
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

/*
 * A valid reference in a place of the shell syntax where bash would take
 * its value for code (docs/execution.md): the n-th template `p`, which the
 * scanner put in `ref`.
 */
static void check_shell_context(struct template_ctx *c, size_t nth,
                                const struct sl_template_piece *p,
                                const struct sl_shellctx_ref *ref)
{
	struct sl_strbuf var = SL_STRBUF_INIT, err = SL_STRBUF_INIT, msg = SL_STRBUF_INIT;

	/* An unknown name has its own error already. */
	if (sl_shctx_refused(ref->ctx) && !sl_taskenv_var_name(&var, p->name, p->name_len, &err)) {
		sl_shellctx_explain(&msg, ref, p->name, p->name_len, var.buf);
		template_error(c, nth, "%s", msg.buf);
	}
	sl_strbuf_release(&var);
	sl_strbuf_release(&err);
	sl_strbuf_release(&msg);
}

static void check_template(struct template_ctx *c)
{
	const struct sl_ynode *s = sl_ynode_deref(c->node);
	struct sl_shellctx_refs refs = SL_SHELLCTX_REFS_INIT;
	struct sl_template_iter it;
	struct sl_template_piece p;
	size_t nth = 0;

	sl_shellctx_scan(&refs, s->u.scalar.text, s->u.scalar.len);
	sl_template_iter_init(&it, s->u.scalar.text, s->u.scalar.len);
	while (sl_template_next(&it, &p)) {
		if (p.kind == SL_TEMPLATE_UNTERMINATED)
			template_error(c, nth, "%s: unterminated '{{' (no closing '}}')", c->where);
		else if (p.kind == SL_TEMPLATE_REF) {
			check_ref(c, nth, &p);
			if (c->shell)
				check_shell_context(c, nth, &p, &refs.items[nth]);
		}
		if (p.kind != SL_TEMPLATE_TEXT)
			nth++;
	}
	sl_shellctx_refs_release(&refs);
}

void sl__dag_check_templates(struct loader *L, const struct sl_ynode *on_failure,
                             const struct sl_ynode *on_success)
{
	struct sl_dag *dag = L->dag;
	struct template_ctx c = {.L = L, .shell = true};

	sl_dag_walk_init(&c.ancestors, dag);
	c.where = "command";
	for (size_t i = 0; i < dag->tasks_nr; i++) {
		if (!dag->tasks[i].command)
			continue;
		c.node = L->src[i].command;
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

/* The templates of the values of `env` mapping `m`, as `c` says. */
static void check_env_templates(struct template_ctx *c, const struct sl_ynode *m, const char *where)
{
	struct sl_strbuf name = SL_STRBUF_INIT;

	m = sl_ynode_deref(m);
	for (size_t i = 0; m->kind == SL_YNODE_MAPPING && i < m->u.map.nr; i++) {
		const struct sl_ynode *v = sl_ynode_deref(m->u.map.pairs[i].value);

		if (v->kind != SL_YNODE_SCALAR)
			continue;
		sl_strbuf_reset(&name);
		sl_strbuf_addf(&name, "%s.%s", where, m->u.map.pairs[i].key->u.scalar.text);
		c->node = v;
		c->where = name.buf;
		c->marked = false;
		check_template(c);
	}
	sl_strbuf_release(&name);
}

/* Whether the loader reported something on `line` already (the value's own error). */
static bool line_reported(const struct loader *L, unsigned line)
{
	for (size_t i = L->diags_start; i < L->r.diags->nr; i++)
		if (L->r.diags->items[i].line == line)
			return true;
	return false;
}

/*
 * Refuse "{{" in scalar `n` (a key or a value) at `where`, a place whose
 * text is used as written: it would otherwise reach the task, the pool or
 * the UI as the literal braces, while `validate` said the file was fine.
 */
static void refuse_templates(struct loader *L, const struct sl_ynode *n, const char *where)
{
	struct template_ctx c = {.L = L, .node = n};

	if (n->kind != SL_YNODE_SCALAR || !memmem(n->u.scalar.text, n->u.scalar.len, "{{", 2) ||
	    line_reported(L, n->line))
		return;
	template_error(&c, 0,
	               "%s: templates are not expanded here (only in command, env values, "
	               "on_failure and on_success); '{{' would stay as written",
	               where);
}

/* Refuse templates anywhere under `n`, named `where`. */
static void refuse_under(struct loader *L, const struct sl_ynode *n, const char *where)
{
	n = sl_ynode_deref(n);
	switch (n->kind) {
	case SL_YNODE_SCALAR:
		refuse_templates(L, n, where);
		break;
	case SL_YNODE_SEQUENCE:
		for (size_t i = 0; i < n->u.seq.nr; i++)
			refuse_under(L, n->u.seq.items[i], where);
		break;
	case SL_YNODE_MAPPING:
		for (size_t i = 0; i < n->u.map.nr; i++) {
			refuse_templates(L, n->u.map.pairs[i].key, where);
			refuse_under(L, n->u.map.pairs[i].value, where);
		}
		break;
	case SL_YNODE_ALIAS:
		break;
	}
}

/* A task's mapping (or `defaults`, `task` -1): env values checked, the rest refused. */
static void check_task_places(struct loader *L, struct template_ctx *c, const struct sl_ynode *m,
                              long task)
{
	m = sl_ynode_deref(m);
	for (size_t i = 0; m->kind == SL_YNODE_MAPPING && i < m->u.map.nr; i++) {
		const char *key = m->u.map.pairs[i].key->u.scalar.text;

		if (!strcmp(key, "command"))
			continue; /* sl__dag_check_templates */
		if (!strcmp(key, "env")) {
			c->task = task;
			c->no_outputs = task < 0;
			check_env_templates(c, m->u.map.pairs[i].value,
			                    task < 0 ? "defaults.env" : "env");
			continue;
		}
		refuse_templates(L, m->u.map.pairs[i].key, key);
		refuse_under(L, m->u.map.pairs[i].value, key);
	}
}

void sl__dag_check_template_places(struct loader *L, const struct sl_ynode *root)
{
	const struct sl_ynode *m = sl_ynode_deref(root);
	struct template_ctx c = {.L = L};

	if (m->kind != SL_YNODE_MAPPING)
		return;
	sl_dag_walk_init(&c.ancestors, L->dag);
	for (size_t i = 0; i < m->u.map.nr; i++) {
		const char *key = m->u.map.pairs[i].key->u.scalar.text;
		const struct sl_ynode *v = sl_ynode_deref(m->u.map.pairs[i].value);

		if (!strcmp(key, "on_failure") || !strcmp(key, "on_success"))
			continue; /* sl__dag_check_templates */
		if (!strcmp(key, "env")) {
			c.task = -1;
			c.no_outputs = true;
			check_env_templates(&c, v, "env");
		} else if (!strcmp(key, "defaults")) {
			check_task_places(L, &c, v, -1);
		} else if (!strcmp(key, "tasks") && v->kind == SL_YNODE_MAPPING) {
			for (size_t t = 0; t < v->u.map.nr; t++) {
				const struct sl_ynode *id = v->u.map.pairs[t].key;

				refuse_templates(L, id, "tasks");
				check_task_places(L, &c, v->u.map.pairs[t].value,
				                  sl_dag_task_index(L->dag, id->u.scalar.text));
			}
		} else {
			refuse_templates(L, m->u.map.pairs[i].key, key);
			refuse_under(L, v, key);
		}
	}
	sl_dag_walk_release(&c.ancestors);
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
void sl__dag_check_env_room(struct loader *L, const struct sl_ynode *env_key,
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
