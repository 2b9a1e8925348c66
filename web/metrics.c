/*
 * GET /metrics on sluice-web (docs/metrics.md, "sluice-web"): runs, task
 * instances, DAGs, load errors, pools and queues as the database says at
 * each scrape, in Prometheus' text format. Label values come from the
 * database (a DAG per series), so the page is written straight from the
 * rows rather than kept in a bounded registry like the daemons' own.
 */
#include <stdlib.h>
#include <string.h>

#include "sluice/metrics.h"
#include "sluice/views.h"
#include "web.h"

/* In metrics_web's order: a row's first column is its family's place here, from 1. */
static const struct family {
	const char *name, *help;
	const char *labels[2];
	size_t labels_nr;
} families[] = {
    {"sluice_runs", "Runs kept in the database, by DAG and state.", {"dag", "state"}, 2},
    {"sluice_task_instances",
     "Task instances of the runs not finished, by DAG and state.",
     {"dag", "state"},
     2},
    {"sluice_dag_last_run_duration_seconds",
     "How long the DAG's finished run of latest logical date took, and how it ended.",
     {"dag", "state"},
     2},
    {"sluice_dags", "DAGs known and not removed, by paused.", {"paused"}, 1},
    {"sluice_load_errors", "Load errors of DAG files at the current commit.", {0}, 0},
};

/* metrics_web's rows, family by family. */
static void write_families(struct sl_strbuf *out, const struct sl_rows *rows)
{
	int row = 0;

	for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
		const struct family *fam = &families[f];

		sl_metrics_write_header(out, fam->name, SL_METRIC_GAUGE, fam->help);
		for (; row < sl_rows_nr(rows) && sl_rows_int(rows, row, 0, 0) == (int64_t)f + 1;
		     row++) {
			const char *values[2] = {sl_rows_value(rows, row, 1),
			                         sl_rows_value(rows, row, 2)};

			sl_metrics_write_sample(out, fam->name, fam->labels, values, fam->labels_nr,
			                        strtod(sl_rows_value(rows, row, 3), NULL));
		}
	}
}

/* Columns of pools_list (sl_view_pools). */
enum { POOL_NAME, POOL_DEFINED, POOL_SLOTS, POOL_USED, POOL_WAITING };

static void write_pools(struct sl_strbuf *out, const struct sl_rows *rows)
{
	static const char *const label[] = {"pool"};
	static const struct {
		const char *name, *help;
	} series[] = {
	    {"sluice_pool_slots",
	     "Slots of the pool (0 for a pool named by tasks but not defined)."},
	    {"sluice_pool_slots_used", "Slots of the pool taken by queued or running tasks."},
	    {"sluice_pool_slots_open", "Slots of the pool free now."},
	    {"sluice_pool_tasks_waiting", "Tasks ready to run, waiting for a slot of the pool."},
	};

	for (size_t s = 0; s < sizeof(series) / sizeof(series[0]); s++) {
		sl_metrics_write_header(out, series[s].name, SL_METRIC_GAUGE, series[s].help);
		for (int row = 0; row < sl_rows_nr(rows); row++) {
			const char *pool[] = {sl_rows_value(rows, row, POOL_NAME)};
			int64_t slots = sl_rows_int(rows, row, POOL_SLOTS, 0);
			int64_t used = sl_rows_int(rows, row, POOL_USED, 0);
			int64_t v = s == 0   ? slots
			            : s == 1 ? used
			            : s == 2 ? (slots > used ? slots - used : 0)
			                     : sl_rows_int(rows, row, POOL_WAITING, 0);

			sl_metrics_write_sample(out, series[s].name, label, pool, 1, (double)v);
		}
	}
}

/* Columns of status_queues (sl_view_queues). */
enum { QUEUE_NAME, QUEUE_SCHEDULED, QUEUE_QUEUED, QUEUE_SERVED };

static void write_queues(struct sl_strbuf *out, const struct sl_rows *rows)
{
	static const char *const labels[] = {"queue", "state"};
	static const char *const label[] = {"queue"};

	sl_metrics_write_header(out, "sluice_queue_tasks", SL_METRIC_GAUGE,
	                        "Tasks of the queue waiting for a worker (scheduled) or handed to "
	                        "one and not started (queued).");
	for (int row = 0; row < sl_rows_nr(rows); row++) {
		const char *scheduled[] = {sl_rows_value(rows, row, QUEUE_NAME), "scheduled"};
		const char *queued[] = {sl_rows_value(rows, row, QUEUE_NAME), "queued"};

		sl_metrics_write_sample(out, "sluice_queue_tasks", labels, scheduled, 2,
		                        (double)sl_rows_int(rows, row, QUEUE_SCHEDULED, 0));
		sl_metrics_write_sample(out, "sluice_queue_tasks", labels, queued, 2,
		                        (double)sl_rows_int(rows, row, QUEUE_QUEUED, 0));
	}
	sl_metrics_write_header(out, "sluice_queue_served", SL_METRIC_GAUGE,
	                        "1 when a live worker takes the queue's tasks.");
	for (int row = 0; row < sl_rows_nr(rows); row++) {
		const char *queue[] = {sl_rows_value(rows, row, QUEUE_NAME)};

		sl_metrics_write_sample(out, "sluice_queue_served", label, queue, 1,
		                        sl_rows_bool(rows, row, QUEUE_SERVED) ? 1 : 0);
	}
}

void web_api_metrics(struct web_call *c, struct sl_db *db)
{
	struct sl_strbuf err = SL_STRBUF_INIT, out = SL_STRBUF_INIT;
	struct sl_rows *fams = NULL, *pools = NULL, *queues = NULL;

	if (sl_view_web_metrics(db, &fams, &err) || sl_view_pools(db, NULL, &pools, &err) ||
	    sl_view_queues(db, c->w->cfg.heartbeat_timeout, &queues, &err)) {
		web_db_failed(c, "metrics", &err);
		goto out;
	}
	write_families(&out, fams);
	write_pools(&out, pools);
	write_queues(&out, queues);
	web_answer(c, 200, SL_METRICS_CONTENT_TYPE, out.buf, out.len);
out:
	sl_rows_free(queues);
	sl_rows_free(pools);
	sl_rows_free(fams);
	sl_strbuf_release(&out);
	sl_strbuf_release(&err);
}
