/*
 * The read routes of /api/v1 (docs/web.md), each one document built by the
 * db layer's views: the same rows and JSON as the CLI's --json.
 */
#include <stdlib.h>

#include "sluice/dags_list.h"
#include "sluice/error.h"
#include "sluice/log.h"
#include "sluice/runstore.h"
#include "sluice/views.h"
#include "sluice_version.h"
#include "web.h"

void web_api_health(struct web_call *c, struct sl_db *db)
{
	struct sl_strbuf err = SL_STRBUF_INIT;

	if (sl_db_ping(db, &err) == 0)
		web_json(c, 200, json_pack("{s:s}", "status", "ok"));
	else
		web_db_failed(c, "health", &err);
	sl_strbuf_release(&err);
}

void web_api_version(struct web_call *c, struct sl_db *db)
{
	(void)db;
	web_json(c, 200, json_pack("{s:s}", "version", SLUICE_VERSION));
}

/* Generated from web/openapi/ by merge.py. */
extern const char web_openapi_json[];
extern const size_t web_openapi_json_len;

void web_api_openapi(struct web_call *c, struct sl_db *db)
{
	(void)db;
	web_answer(c, 200, "application/json", web_openapi_json, web_openapi_json_len);
}

json_t *web_dag_row_json(const struct sl_rows *res, int row)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_schedule s = SL_SCHEDULE_INIT;
	bool readable = sl_dags_schedule_read(res, row, &s, &err) == 0;
	json_t *doc;

	if (!readable) {
		/* As the CLI does: the row is listed, its next run is null. */
		struct sl_strbuf q = SL_STRBUF_INIT;

		sl_log_quote(&q, err.buf);
		sl_log("warn", "dag_unreadable", "dag=%s error=%s",
		       sl_rows_str(res, row, SL_DAGS_COL_ID), q.buf);
		sl_strbuf_release(&q);
	}
	doc = sl_dags_row_json(res, row, &s, readable);
	sl_schedule_release(&s);
	sl_strbuf_release(&err);
	return doc;
}

/*
 * GET /api/v1/events[?dag=ID]: the caller may read, and the DAG exists; the
 * stream itself starts on the loop (events.c).
 */
void web_api_events(struct web_call *c, struct sl_db *db)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	const char *dag = web_query(c, "dag");
	int rc;

	if (dag && (rc = sl_run_dag_check(db, dag, &err))) {
		if (rc == SL_ENOENT)
			web_problem(c, 404, "%s", err.buf);
		else
			web_db_failed(c, "events", &err);
	} else {
		c->stream = true;
		c->status = 200;
	}
	sl_strbuf_release(&err);
}

/* GET /api/v1/dags: `sluice dags list --json`'s document (sluice/dags_list.h). */
void web_api_dags(struct web_call *c, struct sl_db *db)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_rows *res = NULL;
	json_t *list;

	if (sl_view_dags(db, NULL, &res, &err)) {
		web_db_failed(c, "dags_list", &err);
		goto out;
	}
	list = json_array();
	for (int row = 0; list && row < sl_rows_nr(res); row++)
		if (json_array_append_new(list, web_dag_row_json(res, row)))
			json_decref(list), list = NULL;
	web_json(c, 200, list);
out:
	sl_rows_free(res);
	sl_strbuf_release(&err);
}
