/*
 * Runs as `runs list|show --json` and the API show them (sluice/run_doc.h).
 * Moved out of the CLI so that sluice-web, which links no program's code,
 * builds the very same documents.
 */
#include "sluice/run_doc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sluice/error.h"
#include "sluice/runstore.h"
#include "sluice/banned.h"

json_t *sl_run_time_json(const struct sl_rows *r, int row, int col)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;
	json_t *v;

	if (sl_rows_null(r, row, col))
		return json_null();
	sl_run_time_format(&sb, sl_rows_int(r, row, col, 0));
	v = json_string(sb.buf);
	sl_strbuf_release(&sb);
	return v;
}

int sl_run_show_load(struct sl_db *db, const char *dag_id, const char *run_id, struct sl_rows **res,
                     struct sl_strbuf *err)
{
	struct sl_run_ref ref;
	int rc = sl_view_run(db, dag_id, run_id, res, err);

	if (!rc && !sl_rows_nr(*res)) {
		sl_rows_free(*res);
		*res = NULL;
		/* Says which of the two is missing. */
		rc = sl_run_lookup(db, dag_id, run_id, NULL, &ref, err);
		if (!rc) {
			sl_strbuf_addf(err, "run '%s' of DAG '%s' disappeared", run_id, dag_id);
			rc = SL_ENOENT;
		}
	}
	return rc;
}

static json_t *int_or_null(const struct sl_rows *r, int row, int col)
{
	return sl_rows_null(r, row, col) ? json_null() : json_integer(sl_rows_int(r, row, col, 0));
}

static json_t *str_or_null(const struct sl_rows *r, int row, int col)
{
	const char *s = sl_rows_str(r, row, col);

	return s ? json_string(s) : json_null();
}

/* The outputs of the task's latest attempt; {} when it has none. */
json_t *sl_run_outputs_json(const struct sl_rows *r, int row)
{
	json_t *o = NULL;

	if (!sl_rows_null(r, row, SL_RUN_SHOW_OUTPUTS))
		o = json_loads(sl_rows_value(r, row, SL_RUN_SHOW_OUTPUTS), 0, NULL);
	if (json_is_object(o))
		return o;
	json_decref(o);
	return json_object();
}

/* The commits the run's tries ran on, oldest first (space-separated in the row). */
json_t *sl_run_commits_json(const struct sl_rows *r)
{
	json_t *a = json_array();
	const char *p = sl_rows_str(r, 0, SL_RUN_SHOW_COMMITS);

	while (p && *p) {
		size_t n = strcspn(p, " ");

		json_array_append_new(a, json_stringn(p, n));
		p += n + (p[n] == ' ');
	}
	return a;
}

/* The row of `tries` holding the latest attempt of `task`, or -1. */
int sl_run_latest_try(const struct sl_rows *tries, const char *task)
{
	int found = -1;

	for (int i = 0; tries && i < sl_rows_nr(tries); i++)
		if (!strcmp(sl_rows_value(tries, i, SL_RUN_TRY_TASK), task))
			found = i;
	return found;
}

/*
 * Why an attempt ended when its own exit code does not say it; NULL when
 * it does (or it runs). The scheduler's reason, when it gave one, is the
 * task instance's and wins over this one.
 */
const char *sl_run_try_reason(struct sl_strbuf *sb, const char *outcome, const char *signal,
                              const char *stop)
{
	sl_strbuf_reset(sb);
	if (stop)
		sl_strbuf_addf(sb, "stopped by %s",
		               !strcmp(stop, "cancel")  ? "runs cancel"
		               : !strcmp(stop, "clear") ? "tasks clear"
		                                        : "tasks mark");
	else if (outcome && !strcmp(outcome, "timeout"))
		sl_strbuf_adds(sb, "stopped by its timeout");
	else if (outcome && !strcmp(outcome, "lost"))
		sl_strbuf_adds(sb, "its worker was lost");
	else if (signal)
		sl_strbuf_addf(sb, "killed by signal %s", signal);
	return sb->len ? sb->buf : NULL;
}

/* Which operator command stopped the latest attempt (runs_tries), or NULL. */
const char *sl_run_latest_stop(const struct sl_rows *tries, int last)
{
	return last < 0 ? NULL : sl_rows_str(tries, last, SL_RUN_TRY_STOP);
}

/* The reason of task row `i`: the scheduler's (or the mark's), else its
 * latest attempt's. */
const char *sl_run_task_reason(struct sl_strbuf *sb, const struct sl_rows *r, int i,
                               const struct sl_rows *tries, int last)
{
	if (!sl_rows_null(r, i, SL_RUN_SHOW_REASON))
		return sl_rows_value(r, i, SL_RUN_SHOW_REASON);
	return sl_run_try_reason(sb, sl_rows_str(r, i, SL_RUN_SHOW_OUTCOME),
	                         sl_rows_str(r, i, SL_RUN_SHOW_SIGNAL),
	                         sl_run_latest_stop(tries, last));
}

/* One attempt of the `tries` list (docs/json.md). */
static json_t *try_json(const struct sl_rows *tries, int row)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;
	const char *why = sl_run_try_reason(&sb, sl_rows_str(tries, row, SL_RUN_TRY_OUTCOME),
	                                    sl_rows_str(tries, row, SL_RUN_TRY_SIGNAL),
	                                    sl_rows_str(tries, row, SL_RUN_TRY_STOP));
	json_t *o = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "try_number",
	                      int_or_null(tries, row, SL_RUN_TRY_NUMBER), "started_at",
	                      sl_run_time_json(tries, row, SL_RUN_TRY_STARTED), "ended_at",
	                      sl_run_time_json(tries, row, SL_RUN_TRY_ENDED), "outcome",
	                      str_or_null(tries, row, SL_RUN_TRY_OUTCOME), "exit_code",
	                      int_or_null(tries, row, SL_RUN_TRY_EXIT_CODE), "signal",
	                      int_or_null(tries, row, SL_RUN_TRY_SIGNAL), "stopped_by",
	                      str_or_null(tries, row, SL_RUN_TRY_STOP), "worker",
	                      str_or_null(tries, row, SL_RUN_TRY_WORKER), "reason",
	                      why ? json_string(why) : json_null());

	sl_strbuf_release(&sb);
	return o;
}

/* {"state", "by", "at"} of a marked task, else null. */
static json_t *marked_json(const struct sl_rows *r, int i)
{
	if (sl_rows_null(r, i, SL_RUN_SHOW_MARKED_BY))
		return json_null();
	return json_pack("{s:s, s:s, s:o}", "state", sl_rows_value(r, i, SL_RUN_SHOW_TASK_STATE),
	                 "by", sl_rows_value(r, i, SL_RUN_SHOW_MARKED_BY), "at",
	                 sl_run_time_json(r, i, SL_RUN_SHOW_TASK_ENDED));
}

static json_t *task_json(const struct sl_rows *r, int i, const struct sl_rows *tries)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;
	const char *task = sl_rows_value(r, i, SL_RUN_SHOW_TASK);
	int last = sl_run_latest_try(tries, task);
	const char *why = sl_run_task_reason(&sb, r, i, tries, last);
	json_t *o = json_pack(
	    "{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "task", task,
	    "state", sl_rows_value(r, i, SL_RUN_SHOW_TASK_STATE), "try_number",
	    int_or_null(r, i, SL_RUN_SHOW_TRY), "poke_number", int_or_null(r, i, SL_RUN_SHOW_POKE),
	    "started_at", sl_run_time_json(r, i, SL_RUN_SHOW_TASK_STARTED), "ended_at",
	    sl_run_time_json(r, i, SL_RUN_SHOW_TASK_ENDED), "exit_code",
	    int_or_null(r, i, SL_RUN_SHOW_EXIT_CODE), "worker",
	    str_or_null(r, i, SL_RUN_SHOW_WORKER), "reason", why ? json_string(why) : json_null(),
	    "outputs", sl_run_outputs_json(r, i), "outcome", str_or_null(r, i, SL_RUN_SHOW_OUTCOME),
	    "signal", int_or_null(r, i, SL_RUN_SHOW_SIGNAL), "marked", marked_json(r, i));

	json_object_set_new(o, "commit", str_or_null(r, i, SL_RUN_SHOW_TASK_COMMIT));
	if (tries) {
		json_t *list = json_array();

		for (int k = 0; k < sl_rows_nr(tries); k++)
			if (!strcmp(sl_rows_value(tries, k, SL_RUN_TRY_TASK), task))
				json_array_append_new(list, try_json(tries, k));
		json_object_set_new(o, "tries", list);
	}
	sl_strbuf_release(&sb);
	return o;
}

/* The run's conf as stored (an object); {} when it cannot be read. */
static json_t *conf_json(const struct sl_rows *r)
{
	json_t *o = json_loads(sl_rows_value(r, 0, SL_RUN_SHOW_CONF), 0, NULL);

	if (json_is_object(o))
		return o;
	json_decref(o);
	return json_object();
}

json_t *sl_run_show_json(const char *dag_id, const char *run_id, const struct sl_rows *r,
                         const struct sl_rows *tries)
{
	json_t *tasks = json_array(), *show;

	for (int i = 0; i < sl_rows_nr(r); i++)
		if (!sl_rows_null(r, i, SL_RUN_SHOW_TASK))
			json_array_append_new(tasks, task_json(r, i, tries));
	show = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:o}", "dag",
	                 dag_id, "run_id", run_id, "state", sl_rows_value(r, 0, SL_RUN_SHOW_STATE),
	                 "commit", sl_rows_value(r, 0, SL_RUN_SHOW_COMMIT), "logical_date",
	                 sl_run_time_json(r, 0, SL_RUN_SHOW_LOGICAL_DATE), "tasks", tasks,
	                 "run_type", sl_rows_value(r, 0, SL_RUN_SHOW_TYPE), "data_interval_start",
	                 sl_run_time_json(r, 0, SL_RUN_SHOW_INTERVAL_START), "data_interval_end",
	                 sl_run_time_json(r, 0, SL_RUN_SHOW_INTERVAL_END), "started_at",
	                 sl_run_time_json(r, 0, SL_RUN_SHOW_STARTED), "ended_at",
	                 sl_run_time_json(r, 0, SL_RUN_SHOW_ENDED), "conf", conf_json(r));
	json_object_set_new(show, "commits", sl_run_commits_json(r));
	return show;
}

void sl_run_callbacks_json(json_t *show, const struct sl_rows *cb)
{
	json_t *list = json_array();

	for (int i = 0; cb && i < sl_rows_nr(cb); i++)
		json_array_append_new(
		    list, json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "callback",
		                    sl_rows_value(cb, i, SL_RUN_CB_ID), "state",
		                    sl_rows_value(cb, i, SL_RUN_CB_STATE), "try_number",
		                    int_or_null(cb, i, SL_RUN_CB_TRY), "started_at",
		                    sl_run_time_json(cb, i, SL_RUN_CB_STARTED), "ended_at",
		                    sl_run_time_json(cb, i, SL_RUN_CB_ENDED), "exit_code",
		                    int_or_null(cb, i, SL_RUN_CB_EXIT_CODE), "worker",
		                    str_or_null(cb, i, SL_RUN_CB_WORKER)));
	json_object_set_new(show, "callbacks", list);
}

int sl_run_show_doc(struct sl_db *db, const char *dag_id, const char *run_id, json_t **out,
                    struct sl_strbuf *err)
{
	struct sl_rows *r = NULL, *tries = NULL, *cb = NULL;
	int rc = sl_run_show_load(db, dag_id, run_id, &r, err);

	*out = NULL;
	if (!rc)
		rc = sl_view_run_tries(db, dag_id, run_id, &tries, err);
	if (!rc)
		rc = sl_view_run_callbacks(db, dag_id, run_id, &cb, err);
	if (!rc) {
		*out = sl_run_show_json(dag_id, run_id, r, tries);
		sl_run_callbacks_json(*out, cb);
	}
	sl_rows_free(r);
	sl_rows_free(tries);
	sl_rows_free(cb);
	return rc;
}

/* A run of `runs list --json` from row `i`'s first seven columns. */
static json_t *run_json(const struct sl_rows *r, int i)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "dag", sl_rows_value(r, i, 0),
	                 "run_id", sl_rows_value(r, i, 1), "state", sl_rows_value(r, i, 2),
	                 "run_type", sl_rows_value(r, i, 3), "logical_date",
	                 sl_run_time_json(r, i, 4), "started_at", sl_run_time_json(r, i, 5),
	                 "ended_at", sl_run_time_json(r, i, 6));
}

json_t *sl_runs_list_json(const struct sl_rows *r, int nr)
{
	json_t *runs = json_array();

	for (int i = 0; i < nr && i < sl_rows_nr(r); i++)
		json_array_append_new(runs, run_json(r, i));
	return runs;
}

enum {
	GRID_COMMIT = 7,
	GRID_RUN_PK,
	GRID_TASK,
	GRID_TASK_STATE,
	GRID_TRY,
	GRID_TASK_STARTED,
	GRID_TASK_ENDED,
	GRID_EXIT_CODE,
	GRID_WORKER,
};

json_t *sl_runs_grid_json(const struct sl_rows *r)
{
	json_t *runs = json_array(), *tasks = NULL;

	for (int i = 0; i < sl_rows_nr(r); i++) {
		if (!i || strcmp(sl_rows_value(r, i, GRID_RUN_PK),
		                 sl_rows_value(r, i - 1, GRID_RUN_PK))) {
			json_t *run = run_json(r, i);

			tasks = json_array();
			json_object_set_new(run, "commit", str_or_null(r, i, GRID_COMMIT));
			json_object_set_new(run, "tasks", tasks);
			json_array_append_new(runs, run);
		}
		if (sl_rows_null(r, i, GRID_TASK))
			continue;
		json_array_append_new(tasks,
		                      json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "task",
		                                sl_rows_value(r, i, GRID_TASK), "state",
		                                sl_rows_value(r, i, GRID_TASK_STATE), "try_number",
		                                int_or_null(r, i, GRID_TRY), "started_at",
		                                sl_run_time_json(r, i, GRID_TASK_STARTED),
		                                "ended_at", sl_run_time_json(r, i, GRID_TASK_ENDED),
		                                "exit_code", int_or_null(r, i, GRID_EXIT_CODE),
		                                "worker", str_or_null(r, i, GRID_WORKER)));
	}
	return runs;
}

/* The cursor's text before encoding: a version, then the sort key. */
#define CURSOR_FORMAT "1.%lld.%lld"
/* Its encoded length at most: "1." and two int64 with a sign and a dot. */
#define CURSOR_MAX 64

void sl_runs_cursor(const struct sl_rows *r, int row, struct sl_strbuf *sb)
{
	char text[CURSOR_MAX], out[CURSOR_MAX * 2];
	int n = snprintf(text, sizeof(text), CURSOR_FORMAT, (long long)sl_rows_int(r, row, 4, 0),
	                 (long long)sl_rows_int(r, row, 8, 0));

	sodium_bin2base64(out, sizeof(out), (const unsigned char *)text, (size_t)n,
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sl_strbuf_adds(sb, out);
}

/* A decimal int64 from `*p` up to `stop` (or the end); advances `*p`. */
static int cursor_int(const char **p, char stop, int64_t *v)
{
	char *end;
	long long x;

	if (!**p || (**p != '-' && (**p < '0' || **p > '9')))
		return -1;
	errno = 0;
	x = strtoll(*p, &end, 10);
	if (errno || *end != stop)
		return -1;
	*v = x;
	*p = end + (stop != '\0');
	return 0;
}

int sl_runs_cursor_parse(const char *s, struct sl_runs_page *q)
{
	unsigned char text[CURSOR_MAX + 1];
	size_t len;
	const char *end, *p = (const char *)text;

	if (strlen(s) > CURSOR_MAX * 2 ||
	    sodium_base642bin(text, CURSOR_MAX, s, strlen(s), NULL, &len, &end,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) ||
	    *end)
		return -1;
	text[len] = '\0';
	if (strncmp(p, "1.", 2))
		return -1;
	p += 2;
	if (memchr(text, '\0', len) || cursor_int(&p, '.', &q->after_us) ||
	    cursor_int(&p, '\0', &q->after_pk) || q->after_pk < 1)
		return -1;
	q->has_after = true;
	return 0;
}
