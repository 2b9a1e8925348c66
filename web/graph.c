/*
 * GET /api/v1/dags/{dag}/graph: the DAG's latest version laid out by
 * Graphviz (libgvc's dot layout) as SVG, from the DOT `sluice dags show
 * --dot` prints. Each task's node is `<g id="task-ID">`, so that a page
 * colours it by state.
 *
 * libgvc keeps global state and is not thread-safe: one context, made on
 * first use, and one layout at a time (handlers run on several threads).
 * The context has exactly two plugins, loaded by path: dot's layout and
 * the core renderers (SVG). gvContext() would instead read the system's
 * plugin list and load the text-layout plugins too, which pull in
 * fontconfig (a cache it never frees, and a scan of the system's fonts);
 * without them Graphviz estimates label widths from built-in metrics,
 * which is all a graph of boxes needs.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <graphviz/gvc.h>

#include "sluice/dag.h"
#include "sluice/dag_dot.h"
#include "sluice/dag_json.h"
#include "sluice/log.h"
#include "sluice/views.h"
#include "web.h"

/* dot's layout time grows fast with the graph: past this, no picture. */
#define GRAPH_TASKS_MAX 1000

static pthread_mutex_t gv_lock = PTHREAD_MUTEX_INITIALIZER;
static GVC_t *gv_context;

static const struct {
	const char *file, *symbol;
} gv_plugins[] = {
    {GRAPHVIZ_PLUGIN_DIR "/libgvplugin_dot_layout.so." GRAPHVIZ_PLUGIN_ABI,
     "gvplugin_dot_layout_LTX_library"},
    {GRAPHVIZ_PLUGIN_DIR "/libgvplugin_core.so." GRAPHVIZ_PLUGIN_ABI, "gvplugin_core_LTX_library"},
};
static void *gv_handles[sizeof(gv_plugins) / sizeof(gv_plugins[0])];

/*
 * The plugins stay loaded until the process ends: dot's layout keeps
 * buffers it reuses in its static data, which would leak if the module
 * went away first.
 */
void web_graph_release(void)
{
	if (gv_context)
		gvFreeContext(gv_context);
	gv_context = NULL;
}

/* The context with its two plugins; false (said on stderr) when one is missing. */
static bool gv_start(void)
{
	static const lt_symlist_t no_builtins[] = {{NULL, NULL}};

	if (gv_context)
		return true;
	for (size_t i = 0; i < sizeof(gv_plugins) / sizeof(gv_plugins[0]); i++) {
		if (!gv_handles[i] && !(gv_handles[i] = dlopen(gv_plugins[i].file, RTLD_NOW))) {
			sl_log("error", "graphviz_plugin", "error=\"%s\"", dlerror());
			return false;
		}
	}
	if (!(gv_context = gvContextPlugins(no_builtins, 0)))
		return false;
	for (size_t i = 0; i < sizeof(gv_plugins) / sizeof(gv_plugins[0]); i++) {
		gvplugin_library_t *lib = dlsym(gv_handles[i], gv_plugins[i].symbol);

		if (!lib) {
			sl_log("error", "graphviz_plugin", "error=\"%s\"", dlerror());
			gvFreeContext(gv_context);
			gv_context = NULL;
			return false;
		}
		gvAddLibrary(gv_context, lib);
	}
	return true;
}

/* `dot` laid out as SVG into `out`; false when Graphviz failed (it says why on stderr). */
static bool render_svg(const char *dot, struct sl_strbuf *out)
{
	Agraph_t *g = NULL;
	char *data = NULL;
	unsigned int len = 0;
	bool ok = false;

	pthread_mutex_lock(&gv_lock);
	if (!gv_start())
		goto out;
	if (!(g = agmemread(dot)))
		goto out;
	if (gvLayout(gv_context, g, "dot"))
		goto out;
	if (!gvRenderData(gv_context, g, "svg", &data, &len)) {
		sl_strbuf_add(out, data, len);
		ok = true;
	}
	gvFreeRenderData(data);
	gvFreeLayout(gv_context, g);
out:
	if (g)
		agclose(g);
	pthread_mutex_unlock(&gv_lock);
	return ok;
}

void web_api_graph(struct web_call *c, struct sl_db *db)
{
	struct sl_strbuf err = SL_STRBUF_INIT, dot = SL_STRBUF_INIT, svg = SL_STRBUF_INIT;
	const char *id = c->params[0];
	struct sl_rows *res = NULL;
	struct sl_dag *dag = NULL;
	json_t *def = NULL;

	if (sl_view_dag_definition(db, id, &res, &err)) {
		web_db_failed(c, "dag_definition", &err);
		goto out;
	}
	if (sl_rows_nr(res) == 0) {
		web_problem(c, 404, "no DAG '%s'", id);
		goto out;
	}
	if (sl_rows_null(res, 0, 0)) {
		web_problem(c, 404, "DAG '%s' has no version that loads; see 'sluice dags errors'",
		            id);
		goto out;
	}
	if (!(def = json_loads(sl_rows_value(res, 0, 0), 0, NULL)) ||
	    sl_dag_from_json(&dag, def, &err) < 0) {
		web_problem(c, 500, "DAG '%s': the stored definition is invalid: %s", id, err.buf);
		goto out;
	}
	if (dag->tasks_nr > GRAPH_TASKS_MAX) {
		web_problem(c, 422, "DAG '%s' has %zu tasks: more than the %d a graph is drawn for",
		            id, dag->tasks_nr, GRAPH_TASKS_MAX);
		goto out;
	}
	sl_dag_dot(dag, &dot);
	if (!render_svg(dot.buf, &svg)) {
		web_problem(c, 500, "Graphviz could not lay out DAG '%s' (see the daemon's log)",
		            id);
		goto out;
	}
	/* An SVG opened on its own is a document: it may run nothing. */
	web_header(c, "content-security-policy", "default-src 'none'; style-src 'unsafe-inline'");
	web_answer(c, 200, "image/svg+xml", svg.buf, svg.len);
out:
	sl_dag_free(dag);
	json_decref(def);
	sl_rows_free(res);
	sl_strbuf_release(&svg);
	sl_strbuf_release(&dot);
	sl_strbuf_release(&err);
}
