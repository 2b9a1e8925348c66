/*
 * `dags list`'s rows as JSON, for the CLI and the API alike
 * (sluice/dags_list.h). Moved out of the CLI so that sluice-web, which
 * links no program's code, builds the very same document.
 */
#include "sluice/dags_list.h"

#include "sluice/civil.h"
#include "sluice/banned.h"

int sl_dags_schedule_read(const struct sl_rows *res, int row, struct sl_schedule *s,
                          struct sl_strbuf *err)
{
	const struct sl_schedule_def def = {
	    .schedule = sl_rows_str(res, row, SL_DAGS_COL_SCHEDULE),
	    .timezone = sl_rows_str(res, row, SL_DAGS_COL_TZ),
	    .has_start_date = !sl_rows_null(res, row, SL_DAGS_COL_START),
	    .start_date = sl_rows_int(res, row, SL_DAGS_COL_START, 0),
	    .has_end_date = !sl_rows_null(res, row, SL_DAGS_COL_END),
	    .end_date = sl_rows_int(res, row, SL_DAGS_COL_END, 0),
	    .catchup = sl_rows_bool(res, row, SL_DAGS_COL_CATCHUP),
	};

	return sl_schedule_load(s, &def, sl_rows_int(res, row, SL_DAGS_COL_FIRST_SEEN, 0),
	                        !sl_rows_null(res, row, SL_DAGS_COL_LAST_END),
	                        sl_rows_int(res, row, SL_DAGS_COL_LAST_END, 0),
	                        sl_rows_int(res, row, SL_DAGS_COL_NOW, 0), err);
}

json_t *sl_dags_time_json(int64_t t, const struct sl_tz *tz)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;
	json_t *j;

	sl_iso_format(&sb, t, tz);
	j = json_string(sb.buf);
	sl_strbuf_release(&sb);
	return j;
}

json_t *sl_dags_interval_json(const struct sl_interval *iv, const struct sl_tz *tz)
{
	return json_pack("{s:o, s:o}", "logical_date", sl_dags_time_json(iv->start, tz),
	                 "run_after", sl_dags_time_json(iv->end, tz));
}

bool sl_dags_next_run(const struct sl_rows *res, int row, const struct sl_schedule *s,
                      struct sl_interval *iv)
{
	if (s->kind != SL_SCHEDULE_CRON || sl_rows_bool(res, row, SL_DAGS_COL_PAUSED) ||
	    sl_rows_bool(res, row, SL_DAGS_COL_REMOVED))
		return false;
	return sl_schedule_next(&s->cron, s->tz, &s->st, iv) == 0;
}

/* A JSON column of the row, or `fallback` (a new reference) when it is NULL or not JSON. */
static json_t *json_column(const struct sl_rows *res, int row, int col, json_t *fallback)
{
	json_t *v =
	    sl_rows_null(res, row, col) ? NULL : json_loads(sl_rows_value(res, row, col), 0, NULL);

	if (!json_is_array(v)) {
		json_decref(v);
		return fallback;
	}
	json_decref(fallback);
	return v;
}

/* [[run_id, state, seconds], ...] as the runs strip's objects, oldest first. */
static json_t *latest_runs_json(const struct sl_rows *res, int row, const struct sl_tz *tz)
{
	json_t *rows = json_column(res, row, SL_DAGS_COL_LATEST_RUNS, json_array()),
	       *out = json_array();
	size_t i;
	json_t *r;

	json_array_foreach(rows, i, r)
	{
		json_t *id = json_array_get(r, 0), *state = json_array_get(r, 1),
		       *at = json_array_get(r, 2);

		if (!json_is_string(id) || !json_is_string(state) || !json_is_integer(at))
			continue;
		json_array_append_new(
		    out, json_pack("{s:O, s:O, s:o}", "run_id", id, "state", state, "logical_date",
		                   sl_dags_time_json(json_integer_value(at), tz)));
	}
	json_decref(rows);
	return out;
}

json_t *sl_dags_row_json(const struct sl_rows *res, int row, const struct sl_schedule *s,
                         bool readable)
{
	struct sl_interval iv;
	json_t *last = json_null(), *next = json_null(), *at = json_null(), *from = json_null(),
	       *to = json_null();

	if (!sl_rows_null(res, row, SL_DAGS_COL_LAST_STATE))
		last = json_pack(
		    "{s:s, s:s, s:o}", "run_id", sl_rows_str(res, row, SL_DAGS_COL_LAST_RUN_ID),
		    "state", sl_rows_str(res, row, SL_DAGS_COL_LAST_STATE), "logical_date",
		    sl_dags_time_json(sl_rows_int(res, row, SL_DAGS_COL_LAST_LOGICAL, 0), s->tz));
	if (readable && sl_dags_next_run(res, row, s, &iv)) {
		next = sl_dags_interval_json(&iv, s->tz);
		/* Airflow's next_dagrun_create_after and next_dagrun_data_interval_*. */
		at = sl_dags_time_json(iv.end, s->tz);
		from = sl_dags_time_json(iv.start, s->tz);
		to = sl_dags_time_json(iv.end, s->tz);
	}
	return json_pack(
	    "{s:s, s:s?, s:s?, s:b, s:b, s:b, s:s?, s:o, s:o, s:o, s:o, s:o, s:o, s:s?, s:o}",
	    "dag", sl_rows_str(res, row, SL_DAGS_COL_ID), "schedule",
	    sl_rows_str(res, row, SL_DAGS_COL_SCHEDULE), "timezone",
	    sl_rows_str(res, row, SL_DAGS_COL_TZ), "paused",
	    sl_rows_bool(res, row, SL_DAGS_COL_PAUSED), "removed",
	    sl_rows_bool(res, row, SL_DAGS_COL_REMOVED), "error",
	    sl_rows_bool(res, row, SL_DAGS_COL_ERROR), "commit",
	    sl_rows_str(res, row, SL_DAGS_COL_COMMIT), "last_run", last, "next_run", next,
	    "next_run_at", at, "next_data_interval_start", from, "next_data_interval_end", to,
	    "tags", json_column(res, row, SL_DAGS_COL_TAGS, json_array()), "owner",
	    sl_rows_str(res, row, SL_DAGS_COL_OWNER), "latest_runs",
	    latest_runs_json(res, row, s->tz));
}

json_t *sl_load_errors_json(const struct sl_rows *res)
{
	json_t *list = json_array();

	for (int row = 0; row < sl_rows_nr(res); row++)
		json_array_append_new(
		    list, json_pack("{s:s, s:I, s:I, s:s, s:s?}", "file", sl_rows_str(res, row, 0),
		                    "line", (json_int_t)sl_rows_int(res, row, 1, 0), "column",
		                    (json_int_t)sl_rows_int(res, row, 2, 0), "message",
		                    sl_rows_str(res, row, 3), "dag", sl_rows_str(res, row, 4)));
	return list;
}
