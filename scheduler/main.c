#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "scheduler.h"

#include "sluice/alloc.h"
#include "sluice/diag.h"
#include "sluice/engine.h"
#include "sluice/error.h"
#include "sluice/workers.h"
#include "sluice/gitsrc.h"
#include "sluice_version.h"
#include "sluice/sdnotify.h"
#include "sluice/url.h"
#include "sluice/banned.h"

/*
 * sluice-scheduler: one libuv loop around the engine's transactions
 * (docs/scheduler.md). The loop's own database connection is used
 * synchronously for bounded, batched calls; the DAG refresh (git fetch and
 * sync) runs in uv_queue_work on a connection of its own.
 */

#define TOKEN_MAX      65536
#define TICK_MS        1000 /* NOTIFY, results and new workers kick a tick at once */
#define CHECK_MS       1000 /* lost workers, cancels */
#define CREATE_LIMIT   100
#define ADVANCE_LIMIT  500
#define ADVANCE_ROUNDS 4
#define DB_BACKOFF_MIN 500 /* ms between probes of an unreachable database, doubling */
#define DB_BACKOFF_MAX 2000

int64_t wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

uint64_t mono_ms(void)
{
	return uv_hrtime() / 1000000;
}

uint64_t sched_heartbeat_ms(const struct sched *s)
{
	uint64_t ms = (uint64_t)s->cfg.heartbeat_timeout * 1000 / 8;

	return ms < 100 ? 100 : ms > 1200000 ? 1200000 : ms;
}

uint64_t sched_lease_ms(const struct sched *s)
{
	return 3 * sched_heartbeat_ms(s);
}

void sched_db_error(struct sched *s, const char *what, int rc, const struct sl_strbuf *err)
{
	struct sl_strbuf q = SL_STRBUF_INIT;

	sched_metrics_db_error(s, rc);
	if (rc == SL_EUNAVAIL && s->db_down)
		goto out;
	sl_log_quote(&q, err->buf);
	if (rc == SL_EFENCED) {
		sl_log("warn", "db_fenced", "what=%s error=%s", what, q.buf);
		lease_fenced(s);
		goto out;
	}
	if (rc != SL_EUNAVAIL) {
		sl_log("error", "db_failed", "what=%s error=%s", what, q.buf);
		goto out;
	}
	/* One line per outage; the tick probes with a capped back-off. */
	s->db_down = true;
	s->db_down_at = mono_ms();
	s->db_backoff = DB_BACKOFF_MIN;
	s->db_retry_at = s->db_down_at + s->db_backoff;
	notify_stop(s);
	sl_log("error", "db_failed", "what=%s outage=yes error=%s", what, q.buf);
out:
	sl_strbuf_release(&q);
}

/* Often enough to renew the lease a few times within heartbeat_timeout. */
static uint64_t tick_ms(const struct sched *s)
{
	uint64_t ms = (uint64_t)s->cfg.heartbeat_timeout * 1000 / 3;

	return ms < 100 ? 100 : ms > TICK_MS ? TICK_MS : ms;
}

/* While the database is down: probe it when due. True when it is back. */
static bool db_probe(struct sched *s)
{
	uint64_t now = mono_ms();

	if (now < s->db_retry_at)
		return false;
	s->last_renew = 0;
	if (lease_tick(s) == SL_EUNAVAIL) {
		s->db_backoff =
		    s->db_backoff * 2 > DB_BACKOFF_MAX ? DB_BACKOFF_MAX : s->db_backoff * 2;
		s->db_retry_at = mono_ms() + s->db_backoff;
		return false;
	}
	s->db_down = false;
	/* Heartbeats were not recorded meanwhile: give workers time to show up. */
	s->lost_checks_after = mono_ms() + (uint64_t)s->cfg.heartbeat_timeout * 1000;
	sl_log("info", "db_recovered", "down_ms=%" PRIu64, mono_ms() - s->db_down_at);
	return true;
}

/* Workers past heartbeat_timeout that are not connected: their attempts are lost. */
static void fail_lost_workers(struct sched *s, int64_t now_ms)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_worker_ids silent = SL_WORKER_IDS_INIT;
	int64_t timeout = s->cfg.heartbeat_timeout;
	char *reason;
	int rc;

	reason = sl_xasprintf("its worker sent no heartbeat for %" PRId64 "s (heartbeat_timeout)",
	                      timeout);
	if ((rc = sl_workers_silent(s->db, timeout, &silent, &err))) {
		sched_db_error(s, "lost_workers", rc, &err);
		goto out;
	}
	for (size_t i = 0; i < silent.nr; i++) {
		const char *id = silent.items[i];
		size_t ended = 0;

		if (conn_worker_connected(s, id))
			continue;
		sl_strbuf_reset(&err);
		if ((rc = sl_engine_fail_worker(&s->engine, id, now_ms, reason, &ended, &err))) {
			sched_db_error(s, "fail_worker", rc, &err);
			break;
		}
		if ((rc = sl_worker_set_gone(s->db, id, timeout, &err))) {
			sched_db_error(s, "worker_gone", rc, &err);
			break;
		}
		sl_log("warn", "worker_lost", "worker=%s attempts_ended=%zu", id, ended);
	}
out:
	free(reason);
	sl_worker_ids_release(&silent);
	sl_strbuf_release(&err);
}

/*
 * The engine's work, for the lease holder only. Stops at the first lost
 * connection (the outage is then handled by the next ticks).
 */
static void engine_work(struct sched *s)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	int64_t now = wall_ms();
	size_t n = 0;
	bool more = false;
	int rc;

	if (uv_now(s->loop) - s->last_lost_check >= CHECK_MS) {
		s->last_lost_check = uv_now(s->loop);
		if (mono_ms() >= s->lost_checks_after)
			fail_lost_workers(s, now);
		if (!s->db_down)
			dispatch_cancel_ended(s);
	}
	if (s->db_down || !lease_held(s))
		goto out;
	live_heartbeats_flush(s);
	if (s->db_down || !lease_held(s))
		goto out;
	if ((rc = sl_engine_create_scheduled_runs(&s->engine, now, CREATE_LIMIT, &n, &err))) {
		sched_db_error(s, "create_scheduled_runs", rc, &err);
		sl_strbuf_reset(&err);
	} else if (n) {
		sl_log("info", "runs_created", "count=%zu", n);
		/* 1,000 DAGs due at one minute are 10 batches: the next one now,
		 * once the loop has read its sockets, not a tick later. */
		more = n == CREATE_LIMIT;
	}
	for (int round = 0; !s->db_down && round < ADVANCE_ROUNDS; round++) {
		n = 0;
		if ((rc = sl_engine_advance(&s->engine, now, ADVANCE_LIMIT, &n, &err))) {
			sched_db_error(s, "advance", rc, &err);
			sl_strbuf_reset(&err);
			break;
		}
		/*
		 * One call already decides each run through its whole graph; a
		 * second is for the runs past the limit, not worth a commit else.
		 */
		if (n < ADVANCE_LIMIT)
			break;
	}
	if (!s->db_down && lease_held(s))
		dispatch_all(s, now);
	if (!s->db_down && lease_held(s))
		retention_tick(s);
	if (more && !s->db_down)
		sched_kick(s);
out:
	sl_strbuf_release(&err);
}

static void tick_work(struct sched *s)
{
	if (s->db_down) {
		lease_check(s);
		if (!db_probe(s))
			return;
	} else if (lease_tick(s) == SL_EUNAVAIL) {
		return;
	}
	if (s->creds_changed)
		auth_recheck_all(s);
	if (lease_held(s))
		engine_work(s);
	notify_sync(s);
}

static void tick(struct sched *s)
{
	uint64_t start_ns = uv_hrtime();

	tick_work(s);
	sl_metric_observe(s->m.tick, (double)(uv_hrtime() - start_ns) / 1e9);
}

static void on_tick(uv_timer_t *t)
{
	tick(container_of(t, struct sched, tick_timer));
}

/* Apart from the tick, which waits on the database: a worker's lease must not. */
static void on_hb_timer(uv_timer_t *t)
{
	conn_check_all(container_of(t, struct sched, hb_timer));
}

static void on_refresh_timer(uv_timer_t *t);

void sched_refresh_now(struct sched *s)
{
	int rc;

	if (s->stopping || !s->cfg.dags_repo)
		return;
	if ((rc = uv_timer_start(&s->refresh_timer, on_refresh_timer, 0,
	                         (uint64_t)s->cfg.dags_poll_interval * 1000)))
		sl_log("error", "timer_failed", "what=refresh error=\"%s\"", uv_strerror(rc));
}

void sched_kick(struct sched *s)
{
	int rc;

	if (s->stopping)
		return;
	if ((rc = uv_timer_start(&s->tick_timer, on_tick, 0, tick_ms(s))))
		sl_log("error", "timer_failed", "what=tick error=\"%s\"", uv_strerror(rc));
}

/* ---- DAG refresh, off the loop ------------------------------------------- */

static void refresh_work(uv_work_t *req)
{
	struct sched *s = container_of(req, struct sched, refresh_req);
	struct sl_dagstore_source src = {
	    .repo = s->cfg.dags_repo,
	    .branch = s->cfg.dags_branch,
	    .path = s->cfg.dags_path,
	    .state_dir = s->cfg.state_dir,
	};

	/* This thread's own connection: a PGconn is never shared between threads. */
	if (!s->refresh_db &&
	    (s->refresh_rc = sl_db_connect(&s->refresh_db, s->cfg.database_url, &s->refresh_err)))
		return;
	s->refresh_rc =
	    sl_dagstore_refresh(s->refresh_db, &src, &s->refresh_report, &s->refresh_err);
}

/* A refresh with news: a summary, and each load error of the commit once. */
static void refresh_log(const struct sl_dagstore_report *r)
{
	struct sl_strbuf q = SL_STRBUF_INIT;

	sl_log("info", "refreshed",
	       "commit=%s files=%zu parsed=%zu new_versions=%zu failed=%zu removed=%zu", r->commit,
	       r->files, r->parsed, r->new_versions, r->failed, r->removed);
	for (size_t i = 0; i < r->errors_nr; i++) {
		sl_strbuf_reset(&q);
		sl_log_quote(&q, r->errors[i].message);
		sl_log("warn", "dag_error", "file=%s line=%u column=%u message=%s",
		       r->errors[i].file, r->errors[i].line, r->errors[i].column, q.buf);
	}
	sl_strbuf_release(&q);
}

static void refresh_done(uv_work_t *req, int status)
{
	struct sched *s = container_of(req, struct sched, refresh_req);
	struct sl_dagstore_report *r = &s->refresh_report;
	struct sl_strbuf q = SL_STRBUF_INIT;

	s->refreshing = false;
	/* The thread is done with its connection: its count can be read. */
	if (s->refresh_db)
		s->refresh_commits = sl_db_commits(s->refresh_db);
	if (status) {
		sl_log("error", "refresh_failed", "error=\"%s\"", uv_strerror(status));
	} else if (s->refresh_rc) {
		sl_log_quote(&q, s->refresh_err.buf);
		sl_log("error", "refresh_failed", "error=%s", q.buf);
	} else if (r->changed || !s->commit || strcmp(s->commit, r->commit)) {
		/*
		 * The parse of the files lived on the pool thread, whose malloc
		 * arena keeps what was freed (about 3 KiB a task: 35 MiB after a
		 * DAG of 10,000 tasks): hand it back.
		 */
		malloc_trim(0);
		refresh_log(r);
		free(s->commit);
		s->commit = sl_xstrdup(r->commit);
		sched_kick(s);
	}
	/* Else the same commit as this scheduler's last refresh, nothing changed:
	 * its load errors were logged then, and a line per poll is only noise. */
	sl_dagstore_report_release(&s->refresh_report);
	sl_strbuf_reset(&s->refresh_err);
	sl_strbuf_release(&q);
}

static void on_refresh_timer(uv_timer_t *t)
{
	struct sched *s = container_of(t, struct sched, refresh_timer);
	int rc;

	/* A standby leaves the DAG source to the leader. */
	if (s->refreshing || s->stopping || !s->cfg.dags_repo || !lease_held(s) || s->db_down)
		return;
	s->refresh_report = (struct sl_dagstore_report)SL_DAGSTORE_REPORT_INIT;
	s->refresh_rc = 0;
	if ((rc = uv_queue_work(s->loop, &s->refresh_req, refresh_work, refresh_done))) {
		sl_log("error", "refresh_failed", "error=\"%s\"", uv_strerror(rc));
		return;
	}
	s->refreshing = true;
}

/* ---- lifecycle ------------------------------------------------------------ */

static void close_handle(uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void on_signal(uv_signal_t *sig, int signum)
{
	struct sched *s = sig->data;

	if (s->stopping)
		return;
	s->stopping = true;
	sl_sdnotify("STOPPING=1");
	sl_log("info", "stopping", "signal=%s workers=%zu refreshing=%s", strsignal(signum),
	       s->conns_nr, s->refreshing ? "yes" : "no");
	conn_shutdown_all(s);
	sl_metricsd_stop(&s->metricsd);
	notify_stop(s);
	lease_release(s);
	close_handle((uv_handle_t *)&s->tick_timer);
	close_handle((uv_handle_t *)&s->hb_timer);
	close_handle((uv_handle_t *)&s->refresh_timer);
	close_handle((uv_handle_t *)&s->watchdog_timer);
	close_handle((uv_handle_t *)&s->sigterm);
	close_handle((uv_handle_t *)&s->sigint);
	/* An in-flight refresh keeps the loop alive until it is done. */
}

static int read_token(struct sched *s)
{
	struct sl_strbuf tok = SL_STRBUF_INIT, err = SL_STRBUF_INIT;
	int rc = -1;

	/* Without a shared token, only workers' own credentials are accepted. */
	if (!s->cfg.token_file) {
		rc = 0;
		goto out;
	}
	if (sl_strbuf_read_file(&tok, s->cfg.token_file, TOKEN_MAX, &err)) {
		fprintf(stderr, "sluice-scheduler: %s\n", err.buf);
		goto out;
	}
	while (tok.len && (tok.buf[tok.len - 1] == '\n' || tok.buf[tok.len - 1] == '\r'))
		sl_strbuf_setlen(&tok, tok.len - 1);
	if (!tok.len || memchr(tok.buf, '\0', tok.len)) {
		fprintf(stderr, "sluice-scheduler: %s: the token is empty or holds a NUL byte\n",
		        s->cfg.token_file);
		goto out;
	}
	s->token = sl_strbuf_detach(&tok, &s->token_len);
	rc = 0;
out:
	sl_strbuf_release(&tok);
	sl_strbuf_release(&err);
	return rc;
}

static int load_config(struct sched *s, const char *path)
{
	struct sl_diags diags = SL_DIAGS_INIT;
	int rc;

	rc = sl_config_load(&s->cfg, path, &diags);
	sl_diags_print(&diags, stderr);
	sl_diags_release(&diags);
	s->dags_repo_sent = sl_url_redact(s->cfg.dags_repo);
	return rc;
}

/*
 * The TLS context workers are served with, or, without `tls`, a warning
 * at every start when clear text was asked for off loopback (the config
 * reader refuses it otherwise).
 */
static int tls_setup(struct sched *s)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	int rc = 0;

	if (s->cfg.tls_cert) {
		if ((rc = sl_tls_ctx_server(&s->tls, s->cfg.tls_cert, s->cfg.tls_key, &err)))
			fprintf(stderr, "sluice-scheduler: tls: %s\n", err.buf);
	} else if (s->cfg.insecure) {
		sl_log("warn", "insecure",
		       "listen=%s reason=\"insecure: true: workers connect without TLS, their "
		       "token and every frame travel in clear text\"",
		       s->cfg.listen);
	}
	sl_strbuf_release(&err);
	return rc;
}

static int start(struct sched *s)
{
	int rc;

	if ((rc = uv_timer_init(s->loop, &s->tick_timer)) ||
	    (rc = uv_timer_init(s->loop, &s->hb_timer)) ||
	    (rc = uv_timer_init(s->loop, &s->refresh_timer)) ||
	    (rc = uv_timer_init(s->loop, &s->watchdog_timer)) ||
	    (rc = uv_signal_init(s->loop, &s->sigterm)) ||
	    (rc = uv_signal_init(s->loop, &s->sigint))) {
		sl_log("error", "init_failed", "error=\"%s\"", uv_strerror(rc));
		return rc;
	}
	s->sigterm.data = s->sigint.data = s;
	if ((rc = uv_signal_start(&s->sigterm, on_signal, SIGTERM)) ||
	    (rc = uv_signal_start(&s->sigint, on_signal, SIGINT))) {
		sl_log("error", "init_failed", "what=signal error=\"%s\"", uv_strerror(rc));
		return rc;
	}
	if ((rc = conn_listen(s)) || (rc = sched_metrics_start(s)))
		return rc;
	/* The first tick at once: it takes the lease (or learns the leader). */
	if ((rc = uv_timer_start(&s->tick_timer, on_tick, 0, tick_ms(s)))) {
		sl_log("error", "timer_failed", "what=tick error=\"%s\"", uv_strerror(rc));
		return rc;
	}
	if ((rc = uv_timer_start(&s->hb_timer, on_hb_timer, conn_check_ms(s), conn_check_ms(s)))) {
		sl_log("error", "timer_failed", "what=heartbeat error=\"%s\"", uv_strerror(rc));
		return rc;
	}
	sl_sdnotify_watchdog_start(&s->watchdog_timer);
	sl_log("info", "started",
	       "scheduler_id=%s listen=%s tls=%s database=%s:%s heartbeat_timeout_s=%" PRId64
	       " parallelism=%d shared_token=%s metrics_listen=%s version=%s",
	       s->scheduler_id, s->cfg.listen, s->tls ? "yes" : "no", sl_db_where(s->db),
	       sl_db_name(s->db), s->cfg.heartbeat_timeout, s->cfg.parallelism,
	       s->token ? "yes" : "no", s->cfg.metrics_listen ? s->cfg.metrics_listen : "-",
	       SLUICE_VERSION);
	sl_sdnotify("READY=1");
	return 0;
}

/*
 * The scheduler's id (lease holder, WELCOME): the host name and the listen
 * port, so that schedulers of one host differ and a restarted one finds its
 * own lease again (two hosts of the same name would both hold it: the whole
 * name is kept). Characters outside a protocol id become '_'.
 */
static char *make_id(const char *listen)
{
	char host[256] = "localhost";
	const char *colon = strrchr(listen, ':');
	char *id;

	if (gethostname(host, sizeof(host) - 1))
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	id = sl_xasprintf("%.150s-%s", host, colon ? colon + 1 : "0");
	for (char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
			*p = '_';
	return id;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: sluice-scheduler --config FILE [--check-config]\n");
}

static void ignore_sigpipe(void)
{
	struct sigaction sa;

	/* A worker that goes away mid-write must be an error code, not a death. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

static void close_any(uv_handle_t *h, void *arg)
{
	(void)arg;
	close_handle(h);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {"check-config", no_argument, NULL, 'C'}, /* parse, print "ok", exit 0 or 2 */
	    {NULL, 0, NULL, 0},
	};
	const char *config = NULL;
	char *session = NULL;
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sched s;
	uv_loop_t loop;
	int c, rc, status = 1;
	bool loop_ok = false, check_only = false;

	memset(&s, 0, sizeof(s));
	sl_config_init(&s.cfg);
	sl_strbuf_init(&s.refresh_err);
	sched_metrics_init(&s);
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'h':
			usage(stdout);
			status = 0;
			goto out;
		case 'V':
			printf("sluice-scheduler %s\n", SLUICE_VERSION);
			status = 0;
			goto out;
		case 'C':
			check_only = true;
			break;
		default:
			usage(stderr);
			status = 2;
			goto out;
		}
	}
	if (optind != argc) {
		usage(stderr);
		status = 2;
		goto out;
	}
	if (check_only) {
		/* Parse the file only: no token, no certificates, no database. */
		if (load_config(&s, config ? config : SL_CONFIG_DEFAULT_PATH)) {
			status = 2;
			goto out;
		}
		printf("ok\n");
		status = 0;
		goto out;
	}
	if (load_config(&s, config ? config : SL_CONFIG_DEFAULT_PATH) || read_token(&s) ||
	    tls_setup(&s))
		goto out;
	s.scheduler_id = make_id(s.cfg.listen);
	/*
	 * A scheduler frozen inside a transaction would keep its FOR SHARE lock
	 * on the lease row (sl_db_set_fence), and so its lease, for as long as
	 * it is frozen: the server ends such a session after half the lease.
	 */
	session = sl_xasprintf("-c idle_in_transaction_session_timeout=%" PRId64,
	                       s.cfg.heartbeat_timeout * 500);
	if (sl_db_connect_session(&s.db, s.cfg.database_url, session, &err)) {
		fprintf(stderr, "sluice-scheduler: %s\n", err.buf);
		goto out;
	}
	/* Nothing is written before this scheduler leads (lease.c sets the epoch). */
	sl_db_set_fence(s.db, s.scheduler_id, 0);
	sl_engine_init(&s.engine, s.db);
	if (sl_gitsrc_global_init(&err)) {
		fprintf(stderr, "sluice-scheduler: %s\n", err.buf);
		goto out;
	}
	s.git_ready = true;
	ignore_sigpipe();
	if ((rc = uv_loop_init(&loop))) {
		fprintf(stderr, "sluice-scheduler: uv_loop_init: %s\n", uv_strerror(rc));
		goto out;
	}
	loop_ok = true;
	s.loop = &loop;
	if (start(&s)) {
		/* Close what was opened, then let the loop run the close callbacks. */
		s.stopping = true;
		uv_walk(&loop, close_any, NULL);
		uv_run(&loop, UV_RUN_DEFAULT);
		goto out;
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	sl_log("info", "stopped", "version=%s reports_refused=%" PRIu64, SLUICE_VERSION,
	       s.reports_refused);
	status = 0;
out:
	if (loop_ok && (rc = uv_loop_close(&loop))) {
		sl_log("error", "loop_close_failed", "error=\"%s\"", uv_strerror(rc));
		status = 1;
	}
	sl_db_free(s.refresh_db);
	sl_engine_release(&s.engine);
	sl_db_free(s.db);
	if (s.git_ready)
		sl_gitsrc_global_shutdown();
	sl_strbuf_release(&s.refresh_err);
	sl_strbuf_release(&err);
	free(session);
	free(s.token);
	free(s.scheduler_id);
	free(s.holder);
	free(s.commit);
	free(s.dags_repo_sent);
	sl_tls_ctx_free(s.tls);
	sched_metrics_release(&s);
	sl_config_release(&s.cfg);
	return status;
}
