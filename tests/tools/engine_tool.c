/*
 * engine_tool: the scheduler's database core (include/sluice/engine.h) as
 * subcommands, for tests/cli/t0070-engine.sh. The database is
 * $SLUICE_DATABASE_URL; NOW is in unix seconds. Each command prints one
 * JSON object:
 *
 *   schedule NOW [LIMIT]                      {"created": N}
 *   advance NOW [LIMIT]                       {"changes": N}
 *   claim WORKER Q1,Q2 SLOTS NOW [PARALLELISM] {"dispatches": [...]}
 *                                             (fencing_token as a string)
 *   started WORKER ATTEMPT FENCE NOW          {"accepted": bool}
 *   log WORKER ATTEMPT FENCE SEQ TEXT LIMIT   {"accepted": bool}
 *   result WORKER ATTEMPT FENCE OUTCOME EXIT NOW [OUTPUTS_JSON]   {"accepted": bool}
 *   fail-worker WORKER NOW                    {"ended": N}
 *   confirm-stopped WORKER [ID,ID...]         {"confirmed": N}
 *
 * WORKER of a report is the worker that sends it (the attempt's owner, or
 * not). EXIT is an exit code, or `sigN` for a signal. Exit status 1 on an error.
 * With SLUICE_TEST_FENCE=HOLDER:EPOCH every transaction is fenced by that
 * lease (sl_db_set_fence), as the scheduler's are.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/alloc.h"
#include "sluice/db.h"
#include "sluice/engine.h"
#include "sluice/error.h"
#include "sluice/strbuf.h"
#include "sluice/banned.h"

static int64_t arg_int(const char *s)
{
	char *end;
	long long v = strtoll(s, &end, 10);

	if (*s == '\0' || *end != '\0') {
		fprintf(stderr, "engine_tool: not an integer: %s\n", s);
		exit(2);
	}
	return v;
}

static void print(json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT);

	puts(s);
	free(s);
	json_decref(obj);
}

static json_t *dispatch_json(const struct sl_engine_dispatch *d)
{
	json_t *env = json_array();
	char fence[24];

	for (size_t i = 0; i < d->env.nr; i++) {
		const char *eq = strchr(d->env.items[i], '=');
		char *name = sl_xstrndup(d->env.items[i], (size_t)(eq - d->env.items[i]));

		json_array_append_new(env, json_pack("[ss]", name, eq + 1));
		free(name);
	}
	/* A string: jq 1.6 reads numbers as doubles, and a token has 63 bits. */
	snprintf(fence, sizeof(fence), "%" PRId64, d->fencing_token);
	return json_pack("{sI ss sI ss ss ss si ss so ss ss sI sb}", "attempt_id",
	                 (json_int_t)d->attempt_id, "fencing_token", fence, "ti_id",
	                 (json_int_t)d->ti_id, "dag", d->dag, "run_id", d->run_id, "task", d->task,
	                 "try_number", d->try_number, "command", d->command, "env", env, "cwd",
	                 d->cwd, "commit", d->commit, "timeout_s", (json_int_t)d->timeout_s,
	                 "sensor", d->sensor);
}

static int cmd_claim(struct sl_engine *e, int argc, char **argv, struct sl_strbuf *err)
{
	struct sl_engine_dispatches d = SL_ENGINE_DISPATCHES_INIT;
	char *qs = sl_xstrdup(argv[3]);
	const char **queues = NULL;
	size_t nq = 0, alloc = 0;
	json_t *list;
	int rc;

	for (char *p = qs, *c; p; p = c) {
		c = strchr(p, ',');
		if (c)
			*c++ = '\0';
		SL_ALLOC_GROW(queues, nq + 1, alloc);
		queues[nq++] = p;
	}
	rc = sl_engine_claim(e, argv[2], queues, nq, (size_t)arg_int(argv[4]),
	                     argc > 6 ? (size_t)arg_int(argv[6]) : 0, arg_int(argv[5]) * 1000, &d,
	                     err);
	if (!rc) {
		list = json_array();
		for (size_t i = 0; i < d.nr; i++)
			json_array_append_new(list, dispatch_json(&d.items[i]));
		print(json_pack("{so}", "dispatches", list));
	}
	sl_engine_dispatches_release(&d);
	free(queues);
	free(qs);
	return rc;
}

static int cmd_result(struct sl_engine *e, int argc, char **argv, struct sl_strbuf *err)
{
	struct sl_engine_result res = {SL_OUTCOME_FAILED, -1, 0, NULL};
	bool accepted = false;
	int rc;

	if (!sl_outcome_parse(argv[5], strlen(argv[5]), &res.outcome)) {
		fprintf(stderr, "engine_tool: unknown outcome %s\n", argv[5]);
		exit(2);
	}
	if (!strncmp(argv[6], "sig", 3))
		res.signal = (int)arg_int(argv[6] + 3);
	else
		res.exit_code = (int)arg_int(argv[6]);
	res.outputs = argc > 8 ? argv[8] : NULL;
	rc = sl_engine_result(e, argv[2], arg_int(argv[3]), arg_int(argv[4]), &res,
	                      arg_int(argv[7]) * 1000, &accepted, err);
	if (!rc)
		print(json_pack("{sb}", "accepted", accepted));
	return rc;
}

/* confirm-stopped WORKER [ID,ID...]: the attempts its HELLO would list. */
static int cmd_confirm_stopped(struct sl_engine *e, int argc, char **argv, struct sl_strbuf *err)
{
	int64_t *ids = NULL;
	size_t nr = 0, alloc = 0, confirmed = 0;
	char *list = argc > 3 ? sl_xstrdup(argv[3]) : NULL;
	char *save = NULL;
	int rc;

	for (char *tok = list ? strtok_r(list, ",", &save) : NULL; tok;
	     tok = strtok_r(NULL, ",", &save)) {
		SL_ALLOC_GROW(ids, nr + 1, alloc);
		ids[nr++] = arg_int(tok);
	}
	rc = sl_engine_confirm_stopped(e, argv[2], ids, nr, &confirmed, err);
	if (!rc)
		print(json_pack("{sI}", "confirmed", (json_int_t)confirmed));
	free(ids);
	free(list);
	return rc;
}

static int usage(void)
{
	fputs("usage: engine_tool schedule NOW [LIMIT] | advance NOW [LIMIT]\n"
	      "       | claim WORKER QUEUES SLOTS NOW [PARALLELISM]\n"
	      "       | started WORKER ATTEMPT FENCE NOW\n"
	      "       | log WORKER ATTEMPT FENCE SEQ TEXT LIMIT\n"
	      "       | result WORKER ATTEMPT FENCE OUTCOME EXIT NOW [OUTPUTS]\n"
	      "       | fail-worker W NOW | confirm-stopped WORKER [RUNNING_IDS]\n",
	      stderr);
	return 2;
}

int main(int argc, char **argv)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_db *db = NULL;
	struct sl_engine engine = SL_ENGINE_INIT;
	const char *cmd = argc > 1 ? argv[1] : "";
	size_t n = 0;
	bool accepted = false;
	int rc;

	if ((!strcmp(cmd, "schedule") || !strcmp(cmd, "advance")) && argc >= 3 && argc <= 4) {
	} else if (!strcmp(cmd, "claim") && argc >= 6 && argc <= 7) {
	} else if (!strcmp(cmd, "started") && argc == 6) {
	} else if (!strcmp(cmd, "log") && argc == 8) {
	} else if (!strcmp(cmd, "result") && argc >= 8 && argc <= 9) {
	} else if (!strcmp(cmd, "fail-worker") && argc == 4) {
	} else if (!strcmp(cmd, "confirm-stopped") && argc >= 3 && argc <= 4) {
	} else {
		return usage();
	}
	rc = sl_db_connect(&db, NULL, &err);
	if (rc)
		goto fail;
	if (getenv("SLUICE_TEST_FENCE")) {
		char *holder = sl_xstrdup(getenv("SLUICE_TEST_FENCE"));
		char *colon = strrchr(holder, ':');

		if (!colon) {
			free(holder);
			return usage();
		}
		*colon = '\0';
		sl_db_set_fence(db, holder, arg_int(colon + 1));
		free(holder);
	}
	sl_engine_init(&engine, db);
	if (!strcmp(cmd, "schedule") || !strcmp(cmd, "advance")) {
		size_t limit = argc > 3 ? (size_t)arg_int(argv[3]) : 1000;

		if (!strcmp(cmd, "schedule")) {
			rc = sl_engine_create_scheduled_runs(&engine, arg_int(argv[2]) * 1000,
			                                     limit, &n, &err);
			if (!rc)
				print(json_pack("{sI}", "created", (json_int_t)n));
		} else {
			rc = sl_engine_advance(&engine, arg_int(argv[2]) * 1000, limit, &n, &err);
			if (!rc)
				print(json_pack("{sI}", "changes", (json_int_t)n));
		}
	} else if (!strcmp(cmd, "claim")) {
		rc = cmd_claim(&engine, argc, argv, &err);
	} else if (!strcmp(cmd, "started")) {
		rc = sl_engine_started(&engine, argv[2], arg_int(argv[3]), arg_int(argv[4]),
		                       arg_int(argv[5]) * 1000, &accepted, &err);
		if (!rc)
			print(json_pack("{sb}", "accepted", accepted));
	} else if (!strcmp(cmd, "log")) {
		rc = sl_engine_log(&engine, argv[2], arg_int(argv[3]), arg_int(argv[4]),
		                   (int)arg_int(argv[5]), argv[6], strlen(argv[6]),
		                   arg_int(argv[7]), &accepted, &err);
		if (!rc)
			print(json_pack("{sb}", "accepted", accepted));
	} else if (!strcmp(cmd, "result")) {
		rc = cmd_result(&engine, argc, argv, &err);
	} else if (!strcmp(cmd, "confirm-stopped")) {
		rc = cmd_confirm_stopped(&engine, argc, argv, &err);
	} else {
		rc = sl_engine_fail_worker(&engine, argv[2], arg_int(argv[3]) * 1000, NULL, &n,
		                           &err);
		if (!rc)
			print(json_pack("{sI}", "ended", (json_int_t)n));
	}
fail:
	if (rc)
		fprintf(stderr, "engine_tool: %s\n", err.buf);
	sl_engine_release(&engine);
	sl_db_free(db);
	sl_strbuf_release(&err);
	return rc ? 1 : 0;
}
