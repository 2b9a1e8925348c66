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

#include "run_view.h"
#include "sluice/alloc.h"
#include "sluice/civil.h"
#include "sluice/db.h"
#include "sluice/error.h"
#include "sluice/events.h"
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

static void wait_line_start(void)
{
	struct sl_strbuf now = SL_STRBUF_INIT;

	cli_fmt_time(&now, time(NULL), NULL);
	printf("%s  ", now.buf);
	sl_strbuf_release(&now);
}

/*
 * Tries first_try .. last_try of `task` ended between two polls: a poll
 * sees a task's state now, not every state it went through, but every
 * attempt is kept, so each missed try is shown with its recorded outcome.
 */
static void print_missed_tries(struct sl_db *db, const char *dag_id, const char *run_id,
                               const char *task, int64_t first_try, int64_t last_try,
                               const char *max_tries)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_run_ref ref;

	if (first_try > last_try)
		return;
	if (sl_run_lookup(db, dag_id, run_id, task, &ref, &err)) {
		cli_error("%s", err.buf);
		goto out;
	}
	for (int64_t k = first_try; k <= last_try; k++) {
		struct sl_rows *a = NULL;

		sl_strbuf_reset(&err);
		if (sl_view_task_attempt(db, ref.ti_id, (long)k, 0, &a, &err)) {
			cli_error("%s", err.buf);
			break;
		}
		wait_line_start();
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
static void print_changes(struct sl_db *db, const char *dag_id, const char *run_id,
                          const struct sl_rows *r, struct wait_seen **seen, int *seen_nr)
{
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
		print_missed_tries(db, dag_id, run_id, task, w->ended_try + 1, try_number - 1,
		                   max_tries);
		if (w->ended_try < try_number - 1)
			w->ended_try = try_number - 1;
		if (w->state || strcmp(state, "pending")) {
			wait_line_start();
			printf("%s  %s", task, state);
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
 * How long trigger --wait rides out an unreachable database: a restart or
 * a failover takes seconds; a database gone for longer is something the
 * caller (a CI job, a script) must hear about, with exit 4, not hang on.
 */
#define WAIT_OUTAGE_MAX_MS 30000

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
	int seen_nr = 0, rc;
	unsigned long listen_gen;
	int down_ms = 0;
	const struct timespec retry = {0, 500 * 1000 * 1000};

	if (!cli->json) {
		printf("%s\n", run_id);
		fflush(stdout);
	}
	rc = listen_run_changes(db, &err);
	listen_gen = sl_db_reconnects(db);
	for (;;) {
		const char *state;

		/* A reconnect is a new session: LISTEN again. */
		if (!rc && sl_db_reconnects(db) != listen_gen) {
			rc = listen_run_changes(db, &err);
			listen_gen = sl_db_reconnects(db);
		}
		if (!rc)
			rc = sl_run_show_load(db, dag_id, run_id, &r, &err);
		/* PostgreSQL restarting: the run goes on, so does the wait. */
		if (rc == SL_EUNAVAIL && down_ms < WAIT_OUTAGE_MAX_MS) {
			if (!down_ms)
				fprintf(stderr,
				        "sluice: %s; waiting up to %d s for it to come back\n",
				        err.buf, WAIT_OUTAGE_MAX_MS / 1000);
			down_ms += 500;
			sl_strbuf_reset(&err);
			rc = 0;
			nanosleep(&retry, NULL);
			continue;
		}
		if (rc)
			break;
		down_ms = 0;
		state = sl_rows_value(r, 0, SL_RUN_SHOW_STATE);
		if (!cli->json)
			print_changes(db, dag_id, run_id, r, &seen, &seen_nr);
		if (sl_run_state_final(state)) {
			if (cli->json)
				print_final_json(db, dag_id, run_id);
			else
				printf("run %s %s\n", run_id, state);
			rc = strcmp(state, "success") ? CLI_EXIT_FAILED : CLI_EXIT_OK;
			goto out;
		}
		sl_rows_free(r);
		r = NULL;
		wait_notify(db, 200);
	}
	rc = runs_fail(&err, rc);
out:
	for (int i = 0; i < seen_nr; i++)
		free(seen[i].state);
	free(seen);
	sl_rows_free(r);
	sl_strbuf_release(&err);
	return rc;
}
