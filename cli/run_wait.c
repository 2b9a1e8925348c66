/*
 * trigger --wait: following a run until it ends, printing each change of
 * a task's state, try or poke as it is seen (docs/runs.md).
 */
#include "cli.h"

#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "progress.h"
#include "run_view.h"
#include "sluice/alloc.h"
#include "sluice/civil.h"
#include "sluice/db.h"
#include "sluice/error.h"
#include "sluice/events.h"
#include "sluice/rules.h"
#include "sluice/runstore.h"
#include "sluice/strbuf.h"
#include "sluice/views.h"
#include "sluice/banned.h"

/*
 * LISTEN sluice (the CLI's own notifications) and sluice_events (every
 * committed change of a run's or task's state, the scheduler's included:
 * migration 0013), so that the wait wakes as the run moves rather than at
 * its poll.
 */
static int listen_run_changes(struct sl_db *db, struct sl_strbuf *err)
{
	int rc = sl_runs_listen(db, err);

	return rc ? rc : sl_events_listen(db, err);
}

/*
 * Wait up to `ms` for a notification to arrive; drain what came. One that
 * libpq read together with the last query's answer is queued already, not
 * on the socket: then there is nothing to wait for. A broken connection
 * shows at the next query.
 */
static void wait_notify(struct sl_db *db, int ms)
{
	PGconn *conn = sl_db_conn(db);
	struct pollfd p = {.fd = PQsocket(conn), .events = POLLIN};
	PGnotify *n;
	bool queued = false;

	while ((n = PQnotifies(conn))) {
		PQfreemem(n);
		queued = true;
	}
	if (queued)
		return;
	if (p.fd < 0 || poll(&p, 1, ms) <= 0 || !PQconsumeInput(conn)) {
		struct timespec ts = {0, (long)ms * 1000000};

		if (p.fd < 0)
			nanosleep(&ts, NULL);
		return;
	}
	while ((n = PQnotifies(conn)))
		PQfreemem(n);
}

/*
 * What trigger --wait has shown of one task: the (state, try, poke) of
 * its last line, and the last try whose end it has shown.
 */
struct wait_seen {
	char *state; /* NULL: nothing shown yet */
	int64_t try_number, poke_number;
	int64_t ended_try;
};

/* Whether a task in `state` has no attempt of its current try running or to come. */
static bool try_over(const char *state)
{
	static const char *const live[] = {"pending", "scheduled", "queued", "running",
	                                   "up_for_reschedule"};

	for (size_t i = 0; i < SL_ARRAY_SIZE(live); i++)
		if (!strcmp(state, live[i]))
			return false;
	return true;
}

/* How trigger --wait prints: coloured states or not, the progress line. */
struct wait_out {
	bool colour;
	struct cli_progress progress;
};

static void wait_line_start(struct wait_out *o)
{
	struct sl_strbuf now = SL_STRBUF_INIT;

	cli_progress_clear(&o->progress);
	cli_fmt_time(&now, time(NULL), NULL);
	printf("%s  ", now.buf);
	sl_strbuf_release(&now);
}

/*
 * Tries first_try .. last_try of `task` ended between two polls: a poll
 * sees a task's state now, not every state it went through, but every
 * attempt is kept, so each missed try is shown with its recorded outcome.
 */
static void print_missed_tries(struct wait_out *o, struct sl_db *db, const char *dag_id,
                               const char *run_id, const char *task, int64_t first_try,
                               int64_t last_try, const char *max_tries)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_run_ref ref;

	if (first_try > last_try)
		return;
	if (sl_run_lookup(db, dag_id, run_id, task, &ref, &err)) {
		cli_progress_clear(&o->progress);
		cli_error("%s", err.buf);
		goto out;
	}
	for (int64_t k = first_try; k <= last_try; k++) {
		struct sl_rows *a = NULL;

		sl_strbuf_reset(&err);
		if (sl_view_task_attempt(db, ref.ti_id, (long)k, 0, &a, &err)) {
			cli_progress_clear(&o->progress);
			cli_error("%s", err.buf);
			break;
		}
		wait_line_start(o);
		printf("%s  try %lld/%s ended between two polls: %s\n", task, (long long)k,
		       max_tries,
		       sl_rows_nr(a) == 1 && !sl_rows_null(a, 0, 2) ? sl_rows_value(a, 0, 2)
		                                                    : "no attempt recorded");
		sl_rows_free(a);
	}
out:
	sl_strbuf_release(&err);
}

/*
 * Print each task whose (state, try, poke) differs from what `seen` holds
 * (and update it). The tries a poll did not see end are shown first, in
 * order, from their attempts: a retry shows try 1, 2, 3 however fast it
 * went.
 */
static void print_changes(struct wait_out *o, struct sl_db *db, const char *dag_id,
                          const char *run_id, const struct sl_rows *r, struct wait_seen **seen,
                          int *seen_nr)
{
	struct sl_strbuf name = SL_STRBUF_INIT;

	if (*seen_nr != sl_rows_nr(r)) {
		for (int i = 0; i < *seen_nr; i++)
			free((*seen)[i].state);
		free(*seen);
		*seen_nr = sl_rows_nr(r);
		*seen = sl_xcalloc((size_t)*seen_nr, sizeof(**seen));
	}
	for (int i = 0; i < *seen_nr; i++) {
		struct wait_seen *w = &(*seen)[i];
		const char *task = sl_rows_str(r, i, SL_RUN_SHOW_TASK);
		const char *state = sl_rows_str(r, i, SL_RUN_SHOW_TASK_STATE);
		const char *max_tries = sl_rows_value(r, i, SL_RUN_SHOW_MAX_TRIES);
		int64_t try_number = sl_rows_int(r, i, SL_RUN_SHOW_TRY, 0);
		int64_t poke_number = sl_rows_int(r, i, SL_RUN_SHOW_POKE, 1);

		if (!task || (w->state && !strcmp(w->state, state) && w->try_number == try_number &&
		              w->poke_number == poke_number))
			continue;
		print_missed_tries(o, db, dag_id, run_id, task, w->ended_try + 1, try_number - 1,
		                   max_tries);
		if (w->ended_try < try_number - 1)
			w->ended_try = try_number - 1;
		if (w->state || strcmp(state, "pending")) {
			wait_line_start(o);
			sl_strbuf_reset(&name);
			cli_colour_state(&name, o->colour, state);
			printf("%s  %s", task, name.buf);
			if (try_number && poke_number > 1)
				printf("  (try %lld/%s, poke %lld)", (long long)try_number,
				       max_tries, (long long)poke_number);
			else if (try_number)
				printf("  (try %lld/%s)", (long long)try_number, max_tries);
			printf("\n");
		}
		if (try_over(state) && w->ended_try < try_number)
			w->ended_try = try_number;
		free(w->state);
		w->state = sl_xstrdup(state);
		w->try_number = try_number;
		w->poke_number = poke_number;
	}
	fflush(stdout);
	sl_strbuf_release(&name);
}

/* "run ID: 7/12 done, 1 failed, 2 running" from the run's task rows. */
static void draw_progress(struct wait_out *o, const char *run_id, const struct sl_rows *r)
{
	struct sl_strbuf line = SL_STRBUF_INIT;
	int total = 0, done = 0, failed = 0, running = 0;

	if (!o->progress.on)
		return;
	for (int i = 0; i < sl_rows_nr(r); i++) {
		enum sl_task_state s;

		if (!sl_rows_str(r, i, SL_RUN_SHOW_TASK))
			continue;
		total++;
		if (sl_task_state_parse(sl_rows_value(r, i, SL_RUN_SHOW_TASK_STATE), &s) < 0)
			continue;
		done += sl_task_state_finished(s);
		failed += s == SL_TASK_FAILED || s == SL_TASK_UPSTREAM_FAILED;
		running += s == SL_TASK_RUNNING;
	}
	sl_strbuf_addf(&line, "run %s: %d/%d done, %d failed, %d running", run_id, done, total,
	               failed, running);
	cli_progress_draw(&o->progress, line.buf);
	sl_strbuf_release(&line);
}

/* The finished run, with its callbacks (just created, so not run yet). */
static void print_final_json(struct sl_db *db, const char *dag_id, const char *run_id)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	json_t *show;

	if (sl_run_show_doc(db, dag_id, run_id, &show, &err))
		cli_error("%s", err.buf);
	else
		cli_print_json(show);
	sl_strbuf_release(&err);
}

/*
 * How long a wait rides out an unreachable database: a restart or a
 * failover takes seconds; a database gone for longer is something the
 * caller (a CI job, a script) must hear about, with exit 4, not hang on.
 */
#define WAIT_OUTAGE_MAX_MS 30000

/* The connection side of a wait: its LISTEN session and an outage. */
struct wait_conn {
	unsigned long listen_gen;
	int down_ms;
};

static int wait_conn_start(struct wait_conn *wc, struct sl_db *db, struct sl_strbuf *err)
{
	int rc = listen_run_changes(db, err);

	wc->listen_gen = sl_db_reconnects(db);
	wc->down_ms = 0;
	return rc;
}

/* Before a poll: a reconnect is a new session, so LISTEN again. */
static int wait_conn_relisten(struct wait_conn *wc, struct sl_db *db, struct sl_strbuf *err)
{
	if (sl_db_reconnects(db) == wc->listen_gen)
		return 0;
	return wait_conn_start(wc, db, err);
}

/*
 * After a poll that returned `*rc`: true when it is to be made again, after
 * half a second, because PostgreSQL is restarting (the runs go on, so does
 * the wait) and has not been away for WAIT_OUTAGE_MAX_MS yet.
 */
static bool wait_conn_retry(struct wait_conn *wc, struct wait_out *o, int *rc,
                            struct sl_strbuf *err)
{
	const struct timespec retry = {0, 500 * 1000 * 1000};

	if (*rc != SL_EUNAVAIL || wc->down_ms >= WAIT_OUTAGE_MAX_MS) {
		if (!*rc)
			wc->down_ms = 0;
		return false;
	}
	cli_progress_clear(&o->progress);
	if (!wc->down_ms)
		fprintf(stderr, "sluice: %s; waiting up to %d s for it to come back\n", err->buf,
		        WAIT_OUTAGE_MAX_MS / 1000);
	wc->down_ms += 500;
	sl_strbuf_reset(err);
	*rc = 0;
	nanosleep(&retry, NULL);
	return true;
}

/*
 * trigger --wait: follow the run until it ends. The scheduler's NOTIFYs
 * wake the loop early; a poll every 200 ms catches changes made without
 * one. Exit 0 when the run succeeds, 1 when it fails or is cancelled.
 */
int runs_wait(struct cli *cli, struct sl_db *db, const char *dag_id, const char *run_id)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_rows *r = NULL;
	struct wait_seen *seen = NULL;
	struct wait_out o = {.colour = cli_colour_on(cli, stdout)};
	struct wait_conn wc;
	int seen_nr = 0, rc;

	cli_progress_init(&o.progress, cli);
	if (!cli->json) {
		printf("%s\n", run_id);
		fflush(stdout);
	}
	rc = wait_conn_start(&wc, db, &err);
	for (;;) {
		const char *state;

		if (!rc)
			rc = wait_conn_relisten(&wc, db, &err);
		if (!rc)
			rc = sl_run_show_load(db, dag_id, run_id, &r, &err);
		if (wait_conn_retry(&wc, &o, &rc, &err))
			continue;
		if (rc)
			break;
		state = sl_rows_value(r, 0, SL_RUN_SHOW_STATE);
		if (!cli->json) {
			print_changes(&o, db, dag_id, run_id, r, &seen, &seen_nr);
			draw_progress(&o, run_id, r);
		}
		if (sl_run_state_final(state)) {
			struct sl_strbuf name = SL_STRBUF_INIT;

			cli_progress_end(&o.progress);
			cli_colour_state(&name, o.colour, state);
			if (cli->json)
				print_final_json(db, dag_id, run_id);
			else
				printf("run %s %s\n", run_id, name.buf);
			sl_strbuf_release(&name);
			rc = strcmp(state, "success") ? CLI_EXIT_FAILED : CLI_EXIT_OK;
			goto out;
		}
		sl_rows_free(r);
		r = NULL;
		wait_notify(db, 200);
	}
	cli_progress_end(&o.progress);
	rc = runs_fail(&err, rc);
out:
	for (int i = 0; i < seen_nr; i++)
		free(seen[i].state);
	free(seen);
	sl_rows_free(r);
	sl_strbuf_release(&err);
	return rc;
}

/*
 * One poll of backfill --wait: count, keep the final state of each run
 * that has ended since the last in `states` (of run_ids[i]), and print
 * it unless --json. A run of the list with no row (deleted meanwhile)
 * counts as ended and failed.
 */
static void print_ended(struct wait_out *o, bool print, const struct sl_rows *r,
                        const char *const *run_ids, size_t nr, char **states, size_t *done,
                        size_t *failed, size_t *running)
{
	struct sl_strbuf name = SL_STRBUF_INIT;
	size_t k = 0;

	*done = *failed = *running = 0;
	for (int i = 0; i < sl_rows_nr(r); i++) {
		const char *id = sl_rows_value(r, i, 0), *state = sl_rows_value(r, i, 1);

		/* Both lists go by logical date: the next id is nearly always k. */
		for (size_t tries = 0; tries < nr && strcmp(run_ids[k], id); tries++)
			k = (k + 1) % nr;
		*running += !strcmp(state, "running");
		if (!sl_run_state_final(state))
			continue;
		++*done;
		*failed += strcmp(state, "success") != 0;
		if (states[k])
			continue;
		states[k] = sl_xstrdup(state);
		if (!print)
			continue;
		wait_line_start(o);
		sl_strbuf_reset(&name);
		cli_colour_state(&name, o->colour, state);
		printf("%s  %s\n", id, name.buf);
	}
	*done += nr - (size_t)sl_rows_nr(r);
	*failed += nr - (size_t)sl_rows_nr(r);
	fflush(stdout);
	sl_strbuf_release(&name);
}

int runs_wait_all(struct cli *cli, struct sl_db *db, const char *dag_id, const char *const *run_ids,
                  size_t nr, char **states, bool *all_ended)
{
	struct sl_strbuf err = SL_STRBUF_INIT, line = SL_STRBUF_INIT;
	struct wait_out o = {.colour = cli_colour_on(cli, stdout)};
	size_t done = 0, failed = 0, running = 0;
	struct sl_rows *r = NULL;
	struct wait_conn wc;
	int rc;

	*all_ended = false;
	cli_progress_init(&o.progress, cli);
	rc = wait_conn_start(&wc, db, &err);
	for (;;) {
		if (!rc)
			rc = wait_conn_relisten(&wc, db, &err);
		if (!rc)
			rc = sl_view_run_states(db, dag_id, run_ids, nr, &r, &err);
		if (wait_conn_retry(&wc, &o, &rc, &err))
			continue;
		if (rc)
			break;
		print_ended(&o, !cli->json, r, run_ids, nr, states, &done, &failed, &running);
		sl_strbuf_reset(&line);
		sl_strbuf_addf(&line, "backfill of DAG '%s': %zu/%zu runs done, %zu failed", dag_id,
		               done, nr, failed);
		if (done == nr) {
			/* The last line says what the progress line said: no need for both. */
			cli_progress_clear(&o.progress);
			if (!cli->json)
				printf("%s\n", line.buf);
			*all_ended = true;
			rc = failed ? CLI_EXIT_FAILED : CLI_EXIT_OK;
			goto out;
		}
		sl_strbuf_addf(&line, ", %zu running", running);
		cli_progress_draw(&o.progress, line.buf);
		sl_rows_free(r);
		r = NULL;
		wait_notify(db, 1000);
	}
	cli_progress_end(&o.progress);
	rc = runs_fail(&err, rc);
out:
	sl_rows_free(r);
	sl_strbuf_release(&line);
	sl_strbuf_release(&err);
	return rc;
}
