#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "worker.h"

#include "sluice/alloc.h"
#include "sluice/diag.h"
#include "sluice/error.h"
#include "sluice_version.h"
#include "sluice/sdnotify.h"
#include "sluice/banned.h"

/*
 * sluice-worker: wires the connection (conn.c), the attempts (attempt.c),
 * the result store (results.c) and the process group records (pgroups.c)
 * to one libuv loop, and owns the lifecycle: start, SIGTERM/SIGINT drain
 * with a grace period, systemd notification.
 */

#define TOKEN_MAX 65536

void worker_notify_ready(struct worker *w)
{
	(void)w;
	sl_sdnotify("READY=1");
}

void worker_maybe_exit(struct worker *w)
{
	if (!w->stopping || w->stopped || w->attempts_nr)
		return;
	w->stopped = true;
	sl_log("info", "stopped", "results_kept=%zu", w->kept_nr);
	uv_close((uv_handle_t *)&w->sigterm, NULL);
	uv_close((uv_handle_t *)&w->sigint, NULL);
	uv_close((uv_handle_t *)&w->grace_timer, NULL);
	uv_close((uv_handle_t *)&w->watchdog_timer, NULL);
	attempt_close(w);
	conn_shutdown(w);
	sl_metricsd_stop(&w->metricsd);
}

static void on_grace(uv_timer_t *t)
{
	struct worker *w = container_of(t, struct worker, grace_timer);

	sl_log("warn", "grace_expired", "running=%zu", w->attempts_nr);
	attempt_cancel_all(w);
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct worker *w = s->data;
	int rc;

	if (w->stopping) {
		/* A second signal: do not wait for the grace period. */
		sl_log("warn", "signal", "signal=%s action=cancel", strsignal(signum));
		attempt_cancel_all(w);
		return;
	}
	w->stopping = true;
	sl_sdnotify("STOPPING=1");
	sl_log("info", "stopping", "signal=%s running=%zu grace_s=%lld", strsignal(signum),
	       w->attempts_nr, (long long)w->cfg.grace);
	if (w->attempts_nr &&
	    (rc = uv_timer_start(&w->grace_timer, on_grace, (uint64_t)w->cfg.grace * 1000, 0))) {
		sl_log("error", "timer_failed", "what=grace error=\"%s\"", uv_strerror(rc));
		attempt_cancel_all(w);
	}
	worker_maybe_exit(w);
}

static int read_token(struct worker *w)
{
	struct sl_strbuf tok = SL_STRBUF_INIT, err = SL_STRBUF_INIT;
	int rc = -1;

	if (sl_strbuf_read_file(&tok, w->cfg.token_file, TOKEN_MAX, &err)) {
		fprintf(stderr, "sluice-worker: %s\n", err.buf);
		goto out;
	}
	while (tok.len && (tok.buf[tok.len - 1] == '\n' || tok.buf[tok.len - 1] == '\r'))
		sl_strbuf_setlen(&tok, tok.len - 1);
	if (!tok.len || memchr(tok.buf, '\0', tok.len)) {
		fprintf(stderr, "sluice-worker: %s: the token is empty or holds a NUL byte\n",
		        w->cfg.token_file);
		goto out;
	}
	w->token = sl_strbuf_detach(&tok, NULL);
	rc = 0;
out:
	sl_strbuf_release(&tok);
	sl_strbuf_release(&err);
	return rc;
}

/*
 * The TLS context the scheduler is verified with, or, without `tls`, a
 * warning at every start when clear text was asked for off loopback (the
 * config reader refuses it otherwise).
 */
static int tls_setup(struct worker *w)
{
	_Static_assert(SL_CONFIG_FINGERPRINT_LEN == SL_TLS_FINGERPRINT_LEN, "one SHA-256 length");
	struct sl_strbuf err = SL_STRBUF_INIT;
	int rc = 0;

	if (w->cfg.tls) {
		if ((rc = sl_tls_ctx_client(&w->tls, w->cfg.tls_ca,
		                            w->cfg.tls_pinned ? w->cfg.tls_fingerprint : NULL,
		                            &err)))
			fprintf(stderr, "sluice-worker: tls: %s\n", err.buf);
	} else if (w->cfg.insecure) {
		sl_log("warn", "insecure",
		       "name=%s reason=\"insecure: true: no TLS, the scheduler is not verified and "
		       "the token travels in clear text\"",
		       w->cfg.name);
	}
	sl_strbuf_release(&err);
	return rc;
}

static int load_config(struct worker *w, const char *path, const char *name)
{
	struct sl_diags diags = SL_DIAGS_INIT;
	int rc;

	rc = sl_worker_config_load(&w->cfg, path, &diags);
	sl_diags_print(&diags, stderr);
	sl_diags_release(&diags);
	if (rc)
		return rc;
	if (name) {
		if (!name[0] || strlen(name) > SL_PROTO_ID_MAX ||
		    strspn(name,
		           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") !=
		        strlen(name)) {
			fprintf(stderr, "sluice-worker: --name '%s' is not a valid name\n", name);
			return SL_EINVAL;
		}
		free(w->cfg.name);
		w->cfg.name = sl_xstrdup(name);
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: sluice-worker --config FILE [--name NAME] [--check-config]\n");
}

static void ignore_sigpipe(void)
{
	struct sigaction sa;

	/* A scheduler that goes away mid-write must be an error code, not a death. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

static int start(struct worker *w)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	char host[HOST_NAME_MAX + 1];
	int rc;

	if (gethostname(host, sizeof(host)))
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	w->host = sl_xstrdup(host[0] ? host : "unknown");
	if ((rc = taskuser_init(w, &err)) || (rc = taskuser_layout(w, &err)) ||
	    (rc = results_init(w, &err))) {
		fprintf(stderr, "sluice-worker: %s\n", err.buf);
		goto out;
	}
	if ((rc = pgroups_init(w, &err))) {
		fprintf(stderr, "sluice-worker: %s\n", err.buf);
		goto out;
	}
	if ((rc = attempt_init(w, &err))) {
		fprintf(stderr, "sluice-worker: %s\n", err.buf);
		goto out;
	}
	if ((rc = conn_init(w)) || (rc = worker_metrics_start(w)))
		goto out;
	if ((rc = uv_signal_init(w->loop, &w->sigterm)) ||
	    (rc = uv_signal_init(w->loop, &w->sigint)) ||
	    (rc = uv_timer_init(w->loop, &w->grace_timer)) ||
	    (rc = uv_timer_init(w->loop, &w->watchdog_timer))) {
		sl_log("error", "init_failed", "error=\"%s\"", uv_strerror(rc));
		goto out;
	}
	w->sigterm.data = w->sigint.data = w;
	if ((rc = uv_signal_start(&w->sigterm, on_signal, SIGTERM)) ||
	    (rc = uv_signal_start(&w->sigint, on_signal, SIGINT))) {
		sl_log("error", "init_failed", "what=signal error=\"%s\"", uv_strerror(rc));
		goto out;
	}
	workdir_sweep(w);
	sl_sdnotify_watchdog_start(&w->watchdog_timer);
	sl_log("info", "started",
	       "name=%s slots=%d state_dir=%s results_kept=%zu tls=%s metrics_listen=%s version=%s",
	       w->cfg.name, w->cfg.slots, w->cfg.state_dir, w->kept_nr, w->tls ? "yes" : "no",
	       w->cfg.metrics_listen ? w->cfg.metrics_listen : "-", SLUICE_VERSION);
	conn_start(w);
out:
	sl_strbuf_release(&err);
	return rc;
}

static void close_any(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"name", required_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {"check-config", no_argument, NULL, 'C'}, /* parse, print "ok", exit 0 or 2 */
	    {NULL, 0, NULL, 0},
	};
	const char *config = NULL, *name = NULL;
	struct worker w;
	uv_loop_t loop;
	int c, rc, status = 1;
	bool loop_ok = false, check_only = false;

	/* The worker's own child for a checkout (attempt.c), not for people. */
	if (argc == 5 && !strcmp(argv[1], "--checkout"))
		return checkout_main(argv[2], argv[3], argv[4]);
	memset(&w, 0, sizeof(w));
	sl_worker_config_init(&w.cfg);
	worker_metrics_init(&w);
	while ((c = getopt_long(argc, argv, "c:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'h':
			usage(stdout);
			status = 0;
			goto out;
		case 'V':
			printf("sluice-worker %s\n", SLUICE_VERSION);
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
		/* Parse the file (and --name) only: no token, no state_dir, no network. */
		if (load_config(&w, config ? config : SL_WORKER_CONFIG_DEFAULT_PATH, name)) {
			status = 2;
			goto out;
		}
		printf("ok\n");
		status = 0;
		goto out;
	}
	if (load_config(&w, config ? config : SL_WORKER_CONFIG_DEFAULT_PATH, name) ||
	    read_token(&w) || tls_setup(&w))
		goto out;

	ignore_sigpipe();
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	if ((rc = uv_loop_init(&loop))) {
		fprintf(stderr, "sluice-worker: uv_loop_init: %s\n", uv_strerror(rc));
		goto out;
	}
	loop_ok = true;
	w.loop = &loop;
	if (start(&w)) {
		/* Close what was opened, then let the loop run the close callbacks. */
		uv_walk(&loop, close_any, NULL);
		uv_run(&loop, UV_RUN_DEFAULT);
		goto out;
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	status = 0;
out:
	if (loop_ok && (rc = uv_loop_close(&loop))) {
		sl_log("error", "loop_close_failed", "error=\"%s\"", uv_strerror(rc));
		status = 1;
	}
	conn_release(&w);
	results_release(&w);
	pgroups_release(&w);
	attempt_release(&w);
	free(w.attempts);
	free(w.work_dir);
	free(w.token);
	free(w.host);
	sl_tls_ctx_free(w.tls);
	worker_metrics_release(&w);
	sl_worker_config_release(&w.cfg);
	return status;
}
