/*
 * The read routes of /api/v1 beyond the DAG list (docs/web.md): one DAG
 * with its versions and their files, its runs page by page, one run, an
 * attempt's log (with byte ranges), pools, workers and status. Every
 * document is built by the db layer's builders, the same as the CLI's
 * --json, and every "not found" has the CLI's sentence.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/alloc.h"
#include "sluice/civil.h"
#include "sluice/dags_list.h"
#include "sluice/error.h"
#include "sluice/logread.h"
#include "sluice/run_doc.h"
#include "sluice/runstore.h"
#include "sluice/status_doc.h"
#include "sluice/suggest.h"
#include "sluice/views.h"
#include "web.h"

/* How many versions GET /api/v1/dags/{dag} lists, newest first. */
#define DAG_VERSIONS_MAX 50
/* The runs of one page: the default and the most a client may ask for. */
#define RUNS_LIMIT_DEFAULT 50
#define RUNS_LIMIT_MAX     500
/* The runs of the grid view: the default and the most. */
#define GRID_RUNS_DEFAULT 25
#define GRID_RUNS_MAX     100
/*
 * A log's answer: a Range request gets at most LOG_RANGE_MAX bytes, one
 * without Range the whole log up to LOG_WHOLE_MAX (log_limit is 10 MiB
 * by default, but 0 lifts it).
 */
#define LOG_RANGE_MAX (1 << 20)
#define LOG_WHOLE_MAX (16 << 20)
/* A try number, as `sluice logs --try` takes it. */
#define TRY_MAX 100000

/* A db layer error: SL_ENOENT is the CLI's "not found" sentence, else 503. */
static void db_fail(struct web_call *c, int rc, const char *what, const struct sl_strbuf *err)
{
	if (rc == SL_ENOENT)
		web_problem(c, 404, "%s", err->buf);
	else
		web_db_failed(c, what, err);
}

/* A whole decimal number from `min` to `max`; false for anything else. */
static bool parse_count(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/*
 * Text that others wrote (a DAG file as pushed, a task's log, which may
 * echo a triggered conf) goes out as text/plain that a browser must not
 * sniff into HTML, and that runs no script if one ever renders it
 * (docs/security.md, "Files and logs as text").
 */
static void untrusted_text(struct web_call *c)
{
	web_header(c, "x-content-type-options", "nosniff");
	web_header(c, "content-security-policy", "default-src 'none'; sandbox");
}

/* ---- GET /api/v1/dags/{dag} ------------------------------------------------ */

static json_t *versions_json(const struct sl_rows *v)
{
	json_t *list = json_array();

	for (int row = 0; row < sl_rows_nr(v); row++)
		json_array_append_new(
		    list, json_pack("{s:s, s:s, s:o, s:b, s:b}", "commit", sl_rows_str(v, row, 0),
		                    "file", sl_rows_str(v, row, 1), "loaded_at",
		                    sl_dags_time_json(sl_rows_int(v, row, 2, 0), NULL), "source",
		                    sl_rows_bool(v, row, 3), "latest", sl_rows_bool(v, row, 4)));
	return list;
}

/*
 * The latest version's `params` (names and defaults, as the DAG file
 * declares them: the trigger form's fields), or null when no version
 * loads.
 */
static json_t *params_json(const struct sl_rows *def)
{
	json_t *doc, *params;

	if (!sl_rows_nr(def) || sl_rows_null(def, 0, 0))
		return json_null();
	doc = json_loads(sl_rows_value(def, 0, 0), 0, NULL);
	params = json_object_get(doc, "params");
	params = params ? json_incref(params) : json_object();
	json_decref(doc);
	return params;
}

void web_api_dag(struct web_call *c, struct sl_db *db)
{
	const char *dag = c->params[0];
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_rows *res = NULL, *versions = NULL, *errors = NULL, *def = NULL;
	json_t *doc;
	int rc;

	rc = sl_view_dags(db, dag, &res, &err);
	if (!rc && !sl_rows_nr(res))
		rc = sl_run_dag_check(db, dag, &err);
	if (!rc)
		rc = sl_view_dag_versions(db, dag, DAG_VERSIONS_MAX, &versions, &err);
	if (!rc)
		rc = sl_view_dag_errors(db, dag, &errors, &err);
	if (!rc)
		rc = sl_view_dag_definition(db, dag, &def, &err);
	if (rc) {
		db_fail(c, rc, "dag", &err);
		goto out;
	}
	doc = web_dag_row_json(res, 0);
	json_object_set_new(doc, "params", params_json(def));
	json_object_set_new(doc, "versions", versions_json(versions));
	json_object_set_new(doc, "load_errors", sl_load_errors_json(errors));
	web_json(c, 200, doc);
out:
	sl_rows_free(res);
	sl_rows_free(versions);
	sl_rows_free(errors);
	sl_rows_free(def);
	sl_strbuf_release(&err);
}

/* ---- GET /api/v1/dags/{dag}/versions/{commit}/source ------------------------ */

/* A commit id as git abbreviates it: 7 hex digits at least (SHA-1 or SHA-256). */
static bool commit_valid(char *s)
{
	size_t n = strlen(s);

	if (n < 7 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return false;
		s[i] = (char)tolower((unsigned char)s[i]);
	}
	return true;
}

void web_api_dag_source(struct web_call *c, struct sl_db *db)
{
	const char *dag = c->params[0];
	char *commit = c->params[1];
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_rows *res = NULL;
	const char *text;
	int rc;

	if (!commit_valid(commit)) {
		web_problem(c, 400, "path parameter commit: expected 7 to 64 hexadecimal digits");
		goto out;
	}
	rc = sl_view_dag_source(db, dag, commit, &res, &err);
	if (!rc && !sl_rows_nr(res)) {
		rc = sl_run_dag_check(db, dag, &err);
		if (!rc) {
			sl_strbuf_addf(&err, "DAG '%s' has no version at commit %s", dag, commit);
			rc = SL_ENOENT;
		}
	}
	if (rc) {
		db_fail(c, rc, "dag_source", &err);
		goto out;
	}
	if (sl_rows_nr(res) > 1) {
		web_problem(c, 400,
		            "path parameter commit: %s is ambiguous: it begins the commits of more "
		            "than one version of DAG '%s'; give more digits",
		            commit, dag);
		goto out;
	}
	text = sl_rows_str(res, 0, 2);
	if (!text) {
		web_problem(c, 404,
		            "DAG '%s': its version at commit %.12s was stored before sluice kept "
		            "the text of DAG files (database migration 0015); versions loaded "
		            "since have it",
		            dag, sl_rows_value(res, 0, 0));
		goto out;
	}
	web_header(c, "x-sluice-commit", sl_rows_value(res, 0, 0));
	untrusted_text(c);
	web_answer(c, 200, "text/plain; charset=utf-8", text, strlen(text));
out:
	sl_rows_free(res);
	sl_strbuf_release(&err);
}

/* ---- GET /api/v1/dags/{dag}/runs ------------------------------------------- */

/* The values of runs.run_type (runs_run_type_check in schema.sql). */
static const char *const run_types[] = {"scheduled", "manual", "backfill"};
static const char *const run_states[] = {"queued", "running", "success", "failed", "cancelled"};

/* A query parameter that must be one of `words`; false once answered 400. */
static bool query_word(struct web_call *c, const char *key, const char *what,
                       const char *const *words, size_t nr, const char **out)
{
	const char *v = web_query(c, key), *best;
	struct sl_strbuf list = SL_STRBUF_INIT;

	*out = v;
	for (size_t i = 0; v && i < nr; i++)
		if (!strcmp(v, words[i]))
			return true;
	if (!v)
		return true;
	best = sl_suggest_best(v, words, nr);
	for (size_t i = 0; !best && i < nr; i++)
		sl_strbuf_addf(&list, "%s%s", i ? ", " : "", words[i]);
	if (best)
		web_problem(c, 400, "query parameter %s: unknown %s '%s' (did you mean '%s'?)", key,
		            what, v, best);
	else
		web_problem(c, 400, "query parameter %s: unknown %s '%s' (%s)", key, what, v,
		            list.buf);
	sl_strbuf_release(&list);
	return false;
}

/* An RFC 3339 query parameter, in microseconds; false once answered 400. */
static bool query_time(struct web_call *c, const char *key, bool *has, int64_t *us)
{
	const char *v = web_query(c, key);
	struct sl_strbuf err = SL_STRBUF_INIT;
	int64_t t;

	*has = v != NULL;
	if (!v)
		return true;
	if (sl_iso_parse(v, NULL, &t, &err)) {
		web_problem(c, 400, "query parameter %s: %s", key, err.buf);
		sl_strbuf_release(&err);
		return false;
	}
	*us = t * 1000000;
	return true;
}

/* The page's filters from the query; false once answered 400. */
static bool runs_query(struct web_call *c, struct sl_runs_page *q)
{
	const char *v;

	q->dag_id = c->params[0];
	q->limit = RUNS_LIMIT_DEFAULT;
	if ((v = web_query(c, "limit")) && !parse_count(v, 1, RUNS_LIMIT_MAX, &q->limit)) {
		web_problem(c, 400, "query parameter limit: expected a whole number from 1 to %d",
		            RUNS_LIMIT_MAX);
		return false;
	}
	if (!query_word(c, "state", "run state", run_states, SL_ARRAY_SIZE(run_states),
	                &q->state) ||
	    !query_word(c, "type", "run type", run_types, SL_ARRAY_SIZE(run_types), &q->run_type) ||
	    !query_time(c, "since", &q->has_since, &q->since_us) ||
	    !query_time(c, "until", &q->has_until, &q->until_us))
		return false;
	if ((v = web_query(c, "cursor")) && sl_runs_cursor_parse(v, q)) {
		web_problem(c, 400,
		            "query parameter cursor: not a cursor of this API (pass next_cursor as "
		            "it came)");
		return false;
	}
	return true;
}

void web_api_runs(struct web_call *c, struct sl_db *db)
{
	struct sl_runs_page q = {0};
	struct sl_strbuf err = SL_STRBUF_INIT, cursor = SL_STRBUF_INIT;
	struct sl_rows *res = NULL;
	int rc, limit;

	if (!runs_query(c, &q))
		goto out;
	limit = (int)q.limit;
	/* One row more than the page tells whether there is a next one. */
	q.limit++;
	rc = sl_run_dag_check(db, q.dag_id, &err);
	if (!rc)
		rc = sl_view_runs_page(db, &q, &res, &err);
	if (rc) {
		db_fail(c, rc, "runs_page", &err);
		goto out;
	}
	if (sl_rows_nr(res) > limit)
		sl_runs_cursor(res, limit - 1, &cursor);
	web_json(c, 200,
	         json_pack("{s:o, s:o}", "runs", sl_runs_list_json(res, limit), "next_cursor",
	                   cursor.len ? json_string(cursor.buf) : json_null()));
out:
	sl_rows_free(res);
	sl_strbuf_release(&cursor);
	sl_strbuf_release(&err);
}

/* ---- GET /api/v1/dags/{dag}/grid --------------------------------------------- */

void web_api_grid(struct web_call *c, struct sl_db *db)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_rows *res = NULL;
	const char *v = web_query(c, "runs");
	long runs = GRID_RUNS_DEFAULT;
	int rc;

	if (v && !parse_count(v, 1, GRID_RUNS_MAX, &runs)) {
		web_problem(c, 400, "query parameter runs: expected a whole number from 1 to %d",
		            GRID_RUNS_MAX);
		goto out;
	}
	rc = sl_run_dag_check(db, c->params[0], &err);
	if (!rc)
		rc = sl_view_runs_grid(db, c->params[0], runs, &res, &err);
	if (rc) {
		db_fail(c, rc, "runs_grid", &err);
		goto out;
	}
	web_json(c, 200, json_pack("{s:o}", "runs", sl_runs_grid_json(res)));
out:
	sl_rows_free(res);
	sl_strbuf_release(&err);
}

/* ---- GET /api/v1/dags/{dag}/runs/{run_id} ------------------------------------ */

void web_api_run(struct web_call *c, struct sl_db *db)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	json_t *doc = NULL;
	int rc = sl_run_show_doc(db, c->params[0], c->params[1], &doc, &err);

	if (rc)
		db_fail(c, rc, "run", &err);
	else
		web_json(c, 200, doc);
	sl_strbuf_release(&err);
}

/* ---- GET .../tasks/{task}/tries/{n}/log -------------------------------------- */

/*
 * The one range of a Range header (RFC 9110 §14.1.2) over `len` bytes:
 * 1 with [*first, *last] to send, 0 to send everything (no header, or one
 * that is malformed or asks for several ranges: a server may ignore it),
 * -1 when nothing of it can be satisfied (416).
 */
static int range_parse(const char *h, size_t len, size_t *first, size_t *last)
{
	unsigned long long a = 0, b = 0;
	bool has_a, has_b;
	char *end;

	if (!h || strncmp(h, "bytes=", 6))
		return 0;
	h += 6;
	has_a = isdigit((unsigned char)*h);
	if (has_a) {
		errno = 0;
		a = strtoull(h, &end, 10);
		if (errno)
			return 0;
		h = end;
	}
	if (*h++ != '-')
		return 0;
	has_b = isdigit((unsigned char)*h);
	if (has_b) {
		errno = 0;
		b = strtoull(h, &end, 10);
		if (errno)
			return 0;
		h = end;
	}
	if (*h || (!has_a && !has_b) || (has_a && has_b && b < a))
		return 0;
	if (!has_a) { /* the last b bytes */
		if (!b || !len)
			return -1;
		*first = b >= len ? 0 : len - (size_t)b;
		*last = len - 1;
		return 1;
	}
	if (a >= len)
		return -1;
	*first = (size_t)a;
	*last = has_b && b < len ? (size_t)b : len - 1;
	return 1;
}

/* The attempt of try `n` of task `task`: its row of tasks_attempt, or 404 answered. */
static int find_try(struct web_call *c, struct sl_db *db, long n, struct sl_rows **a,
                    struct sl_strbuf *err)
{
	const char *dag = c->params[0], *run = c->params[1], *task = c->params[2];
	struct sl_run_ref ref;
	int rc = sl_run_lookup(db, dag, run, task, &ref, err);

	if (!rc)
		rc = sl_view_task_attempt(db, ref.ti_id, n, 0, a, err);
	if (rc)
		return rc;
	if (sl_rows_nr(*a) == 1 && !sl_rows_null(*a, 0, 0))
		return 0;
	/* As `sluice logs --try N` says it. */
	if (sl_rows_nr(*a) == 1 && !sl_rows_null(*a, 0, 5))
		sl_strbuf_addf(err, "task '%s' of run '%s' has no try %ld (tries: %s)", task, run,
		               n, sl_rows_value(*a, 0, 5));
	else
		sl_strbuf_addf(err, "task '%s' of run '%s' of DAG '%s' has not run (%s)", task, run,
		               dag, sl_rows_nr(*a) ? sl_rows_value(*a, 0, 4) : "gone");
	return SL_ENOENT;
}

/*
 * The log as it is now, or the part a Range header asks for: at most
 * LOG_RANGE_MAX bytes from its first, with Content-Range saying where it
 * ends and how long the log is, so that a client follows a log of any
 * size by asking again (docs/web.md, "Logs"). Only the chunks holding the
 * bytes sent are read.
 */
void web_api_log(struct web_call *c, struct sl_db *db)
{
	struct sl_strbuf err = SL_STRBUF_INIT, log = SL_STRBUF_INIT;
	struct sl_log_index ix = SL_LOG_INDEX_INIT;
	struct sl_rows *a = NULL;
	size_t first = 0, last = 0;
	char value[96];
	long n;
	int rc, ranged = 0;

	if (!parse_count(c->params[3], 1, TRY_MAX, &n)) {
		web_problem(c, 400, "path parameter n: expected a try number from 1 to %d",
		            TRY_MAX);
		goto out;
	}
	rc = find_try(c, db, n, &a, &err);
	if (!rc)
		rc = sl_log_index_load(db, sl_rows_value(a, 0, 0), &ix, &err);
	if (rc)
		goto failed;
	web_header(c, "accept-ranges", "bytes");
	untrusted_text(c);
	ranged = range_parse(c->range, ix.len, &first, &last);
	if (ranged < 0) {
		snprintf(value, sizeof(value), "bytes */%llu", (unsigned long long)ix.len);
		web_header(c, "content-range", value);
		web_problem(c, 416, "the log has %llu bytes: the range %s is outside it",
		            (unsigned long long)ix.len, c->range);
		goto out;
	}
	if (!ranged && ix.len > LOG_WHOLE_MAX) {
		web_problem(
		    c, 400,
		    "the log has %llu bytes, more than one answer holds (%d): ask for a part "
		    "of it with a Range header",
		    (unsigned long long)ix.len, LOG_WHOLE_MAX);
		goto out;
	}
	if (ranged && last - first >= LOG_RANGE_MAX)
		last = first + LOG_RANGE_MAX - 1;
	if (!ranged && ix.len)
		last = ix.len - 1;
	if (ix.len && (rc = sl_log_read_range(db, &ix, first, last, &log, &err)))
		goto failed;
	if (!ranged) {
		web_answer(c, 200, "text/plain; charset=utf-8", log.buf, log.len);
		goto out;
	}
	snprintf(value, sizeof(value), "bytes %zu-%zu/%llu", first, last,
	         (unsigned long long)ix.len);
	web_header(c, "content-range", value);
	web_answer(c, 206, "text/plain; charset=utf-8", log.buf, log.len);
	goto out;
failed:
	db_fail(c, rc, "log", &err);
out:
	sl_log_index_release(&ix);
	sl_rows_free(a);
	sl_strbuf_release(&log);
	sl_strbuf_release(&err);
}

/* ---- GET /api/v1/pools, /workers, /status ------------------------------------ */

void web_api_pools(struct web_call *c, struct sl_db *db)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_rows *res = NULL;

	if (sl_view_pools(db, NULL, &res, &err))
		web_db_failed(c, "pools", &err);
	else
		web_json(c, 200, sl_pools_json(res));
	sl_rows_free(res);
	sl_strbuf_release(&err);
}

void web_api_workers(struct web_call *c, struct sl_db *db)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_rows *res = NULL;

	if (sl_view_workers(db, c->w->cfg.heartbeat_timeout, &res, &err))
		web_db_failed(c, "workers", &err);
	else
		web_json(c, 200, sl_workers_json(res));
	sl_rows_free(res);
	sl_strbuf_release(&err);
}

void web_api_status(struct web_call *c, struct sl_db *db)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_status st = SL_STATUS_INIT;

	if (sl_status_read(db, c->w->cfg.heartbeat_timeout, &st, &err))
		web_db_failed(c, "status", &err);
	else
		web_json(c, 200, sl_status_json(&st));
	sl_status_release(&st);
	sl_strbuf_release(&err);
}
