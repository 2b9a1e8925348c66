#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sluice/config.h"
#include "sluice/diag.h"
#include "sluice/strbuf.h"

static char *write_temp(const char *text)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/sluice-config-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_defaults(void **state)
{
	struct sl_config cfg;

	(void)state;
	sl_config_init(&cfg);
	assert_null(cfg.database_url);
	assert_null(cfg.dags_repo);
	assert_string_equal(cfg.dags_path, "");
	assert_int_equal(cfg.dags_poll_interval, 60);
	assert_string_equal(cfg.listen, "127.0.0.1:7411");
	assert_string_equal(cfg.state_dir, "/var/lib/sluice");
	assert_int_equal(cfg.parallelism, 32);
	assert_int_equal(cfg.heartbeat_timeout, 8);
	assert_int_equal(cfg.log_limit, 10 * 1024 * 1024);
	assert_int_equal(cfg.hello_timeout, 5);
	assert_int_equal(cfg.max_connections, 1024);
	assert_string_equal(cfg.web_listen, "127.0.0.1:7412");
	assert_null(cfg.web_base_url);
	assert_null(cfg.web_tls_cert);
	assert_false(cfg.web_insecure);
	sl_config_release(&cfg);
}

static void test_full_file(void **state)
{
	struct sl_diags diags = SL_DIAGS_INIT;
	struct sl_config cfg;
	char *path = write_temp("database_url: postgresql:///sluice\n"
	                        "dags:\n  repo: /srv/dags.git\n  branch: prod\n  path: dags\n"
	                        "  poll_interval: 2m\n"
	                        "state_dir: /tmp/state\nlisten: 0.0.0.0:9000\n"
	                        "token_file: /etc/sluice/token\nparallelism: 8\n"
	                        "heartbeat_timeout: 1m30s\nlog_limit: 4096\n"
	                        "hello_timeout: 2s\nmax_connections: 100\ninsecure: true\n");

	(void)state;
	sl_config_init(&cfg);
	assert_int_equal(sl_config_load(&cfg, path, &diags), 0);
	assert_int_equal(diags.nr, 0);
	assert_string_equal(cfg.database_url, "postgresql:///sluice");
	assert_string_equal(cfg.dags_repo, "/srv/dags.git");
	assert_string_equal(cfg.dags_branch, "prod");
	assert_string_equal(cfg.dags_path, "dags");
	assert_int_equal(cfg.dags_poll_interval, 120);
	assert_string_equal(cfg.state_dir, "/tmp/state");
	assert_string_equal(cfg.listen, "0.0.0.0:9000");
	assert_string_equal(cfg.token_file, "/etc/sluice/token");
	assert_int_equal(cfg.parallelism, 8);
	assert_int_equal(cfg.heartbeat_timeout, 90);
	assert_int_equal(cfg.log_limit, 4096);
	assert_int_equal(cfg.hello_timeout, 2);
	assert_int_equal(cfg.max_connections, 100);
	assert_true(cfg.insecure);
	assert_null(cfg.tls_cert);
	unlink(path);
	sl_config_release(&cfg);
	sl_diags_release(&diags);
}

static void test_every_problem_reported(void **state)
{
	struct sl_diags diags = SL_DIAGS_INIT;
	struct sl_config cfg;
	char *path = write_temp("databse_url: x\n"
	                        "dags:\n  repo: [a]\n  pth: dags\n  poll_interval: soon\n"
	                        "parallelism: 0\n");

	(void)state;
	sl_config_init(&cfg);
	assert_int_not_equal(sl_config_load(&cfg, path, &diags), 0);
	sl_diags_sort(&diags);
	assert_int_equal(diags.nr, 5);
	assert_int_equal(diags.items[0].line, 1);
	assert_string_equal(diags.items[0].message,
	                    "unknown key 'databse_url' (did you mean 'database_url'?)");
	assert_int_equal(diags.items[1].line, 3);
	assert_int_equal(diags.items[1].column, 9);
	assert_string_equal(diags.items[1].message, "dags.repo: expected a string, got sequence");
	assert_string_equal(diags.items[2].message,
	                    "unknown key 'pth' in dags (did you mean 'path'?)");
	assert_int_equal(diags.items[3].line, 5);
	assert_non_null(strstr(diags.items[3].message, "dags.poll_interval: "));
	assert_string_equal(diags.items[4].message,
	                    "parallelism: must be between 1 and 100000, got 0");
	/* The defaults survive a bad value. */
	assert_int_equal(cfg.parallelism, 32);
	assert_int_equal(cfg.dags_poll_interval, 60);
	unlink(path);
	sl_config_release(&cfg);
	sl_diags_release(&diags);
}

static void test_not_a_mapping(void **state)
{
	struct sl_diags diags = SL_DIAGS_INIT;
	struct sl_config cfg;
	char *path = write_temp("- listen: x\n");

	(void)state;
	sl_config_init(&cfg);
	assert_int_not_equal(sl_config_load(&cfg, path, &diags), 0);
	assert_int_equal(diags.nr, 1);
	assert_string_equal(diags.items[0].message, "expected a mapping of settings, got sequence");
	unlink(path);
	sl_config_release(&cfg);
	sl_diags_release(&diags);
}

static void test_missing_file(void **state)
{
	struct sl_diags diags = SL_DIAGS_INIT;
	struct sl_config cfg;

	(void)state;
	sl_config_init(&cfg);
	assert_int_not_equal(sl_config_load(&cfg, "/nonexistent/sluice.yaml", &diags), 0);
	assert_int_equal(diags.nr, 1);
	assert_non_null(strstr(diags.items[0].message, "cannot open"));
	sl_config_release(&cfg);
	sl_diags_release(&diags);
}

static void test_worker_defaults(void **state)
{
	struct sl_worker_config cfg;

	(void)state;
	sl_worker_config_init(&cfg);
	assert_int_equal(cfg.schedulers_nr, 0);
	assert_null(cfg.token_file);
	assert_non_null(cfg.name);
	assert_true(cfg.name[0] != '\0');
	assert_int_equal(cfg.slots, 1);
	assert_int_equal(cfg.queues_nr, 1);
	assert_string_equal(cfg.queues[0], "default");
	assert_string_equal(cfg.state_dir, "/var/lib/sluice-worker");
	assert_null(cfg.repo);
	assert_int_equal(cfg.grace, 60);
	sl_worker_config_release(&cfg);
}

static void test_worker_full_file(void **state)
{
	struct sl_diags diags = SL_DIAGS_INIT;
	struct sl_worker_config cfg;
	char *path = write_temp("scheduler: [sched1:7411, '[::1]:7412']\n"
	                        "token_file: /etc/sluice/token\nname: w-1.a\nslots: 4\n"
	                        "queues: [default, gpu]\nstate_dir: /tmp/w\n"
	                        "repo: https://example.com/dags.git\ngrace: 2m\n"
	                        "tls: {ca: /etc/sluice/ca.pem}\n");

	(void)state;
	sl_worker_config_init(&cfg);
	assert_int_equal(sl_worker_config_load(&cfg, path, &diags), 0);
	assert_int_equal(diags.nr, 0);
	assert_int_equal(cfg.schedulers_nr, 2);
	assert_string_equal(cfg.schedulers[0], "sched1:7411");
	assert_string_equal(cfg.schedulers[1], "[::1]:7412");
	assert_string_equal(cfg.token_file, "/etc/sluice/token");
	assert_string_equal(cfg.name, "w-1.a");
	assert_int_equal(cfg.slots, 4);
	assert_int_equal(cfg.queues_nr, 2);
	assert_string_equal(cfg.queues[1], "gpu");
	assert_string_equal(cfg.state_dir, "/tmp/w");
	assert_string_equal(cfg.repo, "https://example.com/dags.git");
	assert_int_equal(cfg.grace, 120);
	assert_true(cfg.tls);
	assert_string_equal(cfg.tls_ca, "/etc/sluice/ca.pem");
	assert_false(cfg.tls_pinned);
	assert_false(cfg.insecure);
	unlink(path);
	sl_worker_config_release(&cfg);
	sl_diags_release(&diags);
}

static void test_worker_one_scheduler(void **state)
{
	struct sl_diags diags = SL_DIAGS_INIT;
	struct sl_worker_config cfg;
	char *path = write_temp("scheduler: 127.0.0.1:7411\ntoken_file: t\n");

	(void)state;
	sl_worker_config_init(&cfg);
	assert_int_equal(sl_worker_config_load(&cfg, path, &diags), 0);
	assert_int_equal(cfg.schedulers_nr, 1);
	assert_string_equal(cfg.schedulers[0], "127.0.0.1:7411");
	unlink(path);
	sl_worker_config_release(&cfg);
	sl_diags_release(&diags);
}

static void test_worker_task_user(void **state)
{
	struct sl_diags diags = SL_DIAGS_INIT;
	struct sl_worker_config cfg;
	char *path =
	    write_temp("scheduler: 127.0.0.1:1\ntoken_file: t\ntask_user:   sluice-task\n");

	(void)state;
	sl_worker_config_init(&cfg);
	assert_null(cfg.task_user);
	assert_int_equal(sl_worker_config_load(&cfg, path, &diags), 0);
	assert_string_equal(cfg.task_user, "sluice-task");
	/* Kept for the start-up error when the user does not exist there. */
	assert_int_equal(cfg.task_user_line, 3);
	assert_int_equal(cfg.task_user_column, 14);
	unlink(path);
	sl_worker_config_release(&cfg);

	path = write_temp("scheduler: 127.0.0.1:1\ntoken_file: t\ntask_user: '-rf'\n");
	sl_worker_config_init(&cfg);
	assert_int_not_equal(sl_worker_config_load(&cfg, path, &diags), 0);
	assert_int_equal(diags.nr, 1);
	assert_int_equal(diags.items[0].line, 3);
	assert_int_equal(diags.items[0].column, 12);
	assert_string_equal(diags.items[0].message,
	                    "task_user: '-rf' is not a user name (1 to 32 of A-Z a-z 0-9 _ . -, "
	                    "not starting with '-')");
	assert_null(cfg.task_user);
	unlink(path);
	sl_worker_config_release(&cfg);
	sl_diags_release(&diags);

	path = write_temp("scheduler: 127.0.0.1:1\ntoken_file: t\ntask_user: [a, b]\n");
	sl_worker_config_init(&cfg);
	assert_int_not_equal(sl_worker_config_load(&cfg, path, &diags), 0);
	assert_int_equal(diags.nr, 1);
	assert_non_null(strstr(diags.items[0].message, "task_user: expected a string"));
	unlink(path);
	sl_worker_config_release(&cfg);
	sl_diags_release(&diags);
}

static void test_worker_every_problem_reported(void **state)
{
	struct sl_diags diags = SL_DIAGS_INIT;
	struct sl_worker_config cfg;
	char *path = write_temp("schedular: a:1\n"
	                        "scheduler: [good:1, nohost, 'h:99999']\n"
	                        "token_file: t\nslots: 0\nqueues: [ok, 'bad queue']\n"
	                        "name: 'a/b'\ngrace: soon\n");

	(void)state;
	sl_worker_config_init(&cfg);
	assert_int_not_equal(sl_worker_config_load(&cfg, path, &diags), 0);
	sl_diags_sort(&diags);
	assert_int_equal(diags.nr, 7);
	assert_string_equal(diags.items[0].message,
	                    "unknown key 'schedular' (did you mean 'scheduler'?)");
	assert_int_equal(diags.items[1].line, 2);
	assert_int_equal(diags.items[1].column, 21);
	assert_string_equal(diags.items[1].message,
	                    "scheduler: 'nohost' is not host:port ([address]:port for IPv6)");
	assert_string_equal(diags.items[2].message,
	                    "scheduler: 'h:99999' has no valid port (1 to 65535)");
	assert_string_equal(diags.items[3].message, "slots: must be between 1 and 65535, got 0");
	assert_int_equal(diags.items[4].line, 5);
	assert_non_null(strstr(diags.items[4].message, "'bad queue' is not a valid queue name"));
	assert_non_null(strstr(diags.items[5].message, "name: 'a/b' is not a valid name"));
	assert_non_null(strstr(diags.items[6].message, "grace: "));
	/* The defaults survive bad values. */
	assert_int_equal(cfg.slots, 1);
	assert_int_equal(cfg.queues_nr, 1);
	assert_int_equal(cfg.schedulers_nr, 0);
	unlink(path);
	sl_worker_config_release(&cfg);
	sl_diags_release(&diags);
}

static void test_worker_required(void **state)
{
	struct sl_diags diags = SL_DIAGS_INIT;
	struct sl_worker_config cfg;
	char *path = write_temp("slots: 2\n");

	(void)state;
	sl_worker_config_init(&cfg);
	assert_int_not_equal(sl_worker_config_load(&cfg, path, &diags), 0);
	/* Every missing key is reported, at the mapping. */
	assert_int_equal(diags.nr, 2);
	assert_int_equal(diags.items[0].line, 1);
	assert_int_equal(diags.items[0].column, 1);
	assert_string_equal(diags.items[0].message, "missing key 'scheduler'");
	assert_string_equal(diags.items[1].message, "missing key 'token_file'");
	unlink(path);
	sl_worker_config_release(&cfg);
	sl_diags_release(&diags);
}

/* Load TEXT as a scheduler (or worker) file; the number of problems, the first in *first. */
static size_t load_text(bool worker, const char *text, struct sl_diags *diags,
                        struct sl_config *cfg, struct sl_worker_config *wcfg)
{
	char *path = write_temp(text);

	if (worker) {
		sl_worker_config_init(wcfg);
		sl_worker_config_load(wcfg, path, diags);
	} else {
		sl_config_init(cfg);
		sl_config_load(cfg, path, diags);
	}
	unlink(path);
	sl_diags_sort(diags);
	return diags->nr;
}

static void test_listen_needs_tls(void **state)
{
	struct sl_diags d = SL_DIAGS_INIT;
	struct sl_config cfg;

	(void)state;
	/* Off loopback without tls or insecure: refused, at the value of listen. */
	assert_int_equal(load_text(false, "token_file: t\nlisten: 0.0.0.0:7411\n", &d, &cfg, NULL),
	                 1);
	assert_int_equal(d.items[0].line, 2);
	assert_int_equal(d.items[0].column, 9);
	assert_string_equal(d.items[0].message,
	                    "listen: 0.0.0.0:7411 is not a loopback address, and workers would "
	                    "send their token in clear text: set tls (cert and key) so that "
	                    "workers can verify this scheduler, or insecure: true if the network "
	                    "is trusted");
	sl_config_release(&cfg);
	sl_diags_release(&d);
	/* With tls, or insecure: true, or on loopback: fine. */
	assert_int_equal(load_text(false, "listen: 10.1.2.3:7411\ntls: {cert: c.pem, key: k.pem}\n",
	                           &d, &cfg, NULL),
	                 0);
	assert_string_equal(cfg.tls_cert, "c.pem");
	assert_string_equal(cfg.tls_key, "k.pem");
	sl_config_release(&cfg);
	assert_int_equal(load_text(false, "listen: '[::]:7411'\ninsecure: true\n", &d, &cfg, NULL),
	                 0);
	sl_config_release(&cfg);
	assert_int_equal(load_text(false, "listen: 127.8.9.1:7411\n", &d, &cfg, NULL), 0);
	sl_config_release(&cfg);
	assert_int_equal(load_text(false, "listen: '[::1]:7411'\n", &d, &cfg, NULL), 0);
	sl_config_release(&cfg);
	/* Half a tls mapping, or an unknown key in it. */
	assert_int_equal(
	    load_text(false, "tls:\n  cert: c.pem\n  kee: k\ninsecure: maybe\n", &d, &cfg, NULL),
	    3);
	assert_string_equal(d.items[0].message, "missing key 'key' in tls");
	assert_string_equal(d.items[1].message, "unknown key 'kee' in tls (did you mean 'key'?)");
	assert_string_equal(d.items[2].message,
	                    "insecure: expected true or false, got string \"maybe\"");
	assert_null(cfg.tls_cert);
	sl_config_release(&cfg);
	sl_diags_release(&d);
}

static void test_metrics_listen(void **state)
{
	struct sl_diags d = SL_DIAGS_INIT;
	struct sl_worker_config w;
	struct sl_config cfg;

	(void)state;
	/* Off by default. */
	assert_int_equal(load_text(false, "parallelism: 4\n", &d, &cfg, NULL), 0);
	assert_null(cfg.metrics_listen);
	sl_config_release(&cfg);
	assert_int_equal(load_text(false, "metrics_listen: '[::1]:9411'\n", &d, &cfg, NULL), 0);
	assert_string_equal(cfg.metrics_listen, "[::1]:9411");
	sl_config_release(&cfg);
	/* Off loopback: refused at the value, whatever the job protocol's insecure says. */
	assert_int_equal(
	    load_text(false, "insecure: true\nmetrics_listen: 0.0.0.0:9411\n", &d, &cfg, NULL), 1);
	assert_int_equal(d.items[0].line, 2);
	assert_int_equal(d.items[0].column, 17);
	assert_string_equal(d.items[0].message,
	                    "metrics_listen: 0.0.0.0:9411 is not a loopback address, and /metrics "
	                    "has neither TLS nor authentication: listen on loopback (and let a "
	                    "local agent or a tunnel scrape it), or set metrics_insecure: true if "
	                    "the network is trusted");
	sl_config_release(&cfg);
	sl_diags_release(&d);
	assert_int_equal(load_text(false, "metrics_listen: 0.0.0.0:9411\nmetrics_insecure: true\n",
	                           &d, &cfg, NULL),
	                 0);
	assert_true(cfg.metrics_insecure);
	sl_config_release(&cfg);
	/* Not host:port. */
	assert_int_equal(load_text(false, "metrics_listen: 'host'\n", &d, &cfg, NULL), 1);
	assert_string_equal(d.items[0].message,
	                    "metrics_listen: 'host' is not host:port ([address]:port for IPv6)");
	assert_null(cfg.metrics_listen);
	sl_config_release(&cfg);
	sl_diags_release(&d);
	/* The worker's file: the same rule. */
	assert_int_equal(load_text(true,
	                           "scheduler: 127.0.0.1:7411\ntoken_file: t\n"
	                           "metrics_listen: 192.0.2.1:9412\n",
	                           &d, NULL, &w),
	                 1);
	assert_int_equal(d.items[0].line, 3);
	assert_int_equal(d.items[0].column, 17);
	sl_worker_config_release(&w);
	sl_diags_release(&d);
	assert_int_equal(load_text(true,
	                           "scheduler: 127.0.0.1:7411\ntoken_file: t\n"
	                           "metrics_listen: localhost:9412\n",
	                           &d, NULL, &w),
	                 0);
	assert_string_equal(w.metrics_listen, "localhost:9412");
	sl_worker_config_release(&w);
}

static void test_web_group(void **state)
{
	struct sl_diags d = SL_DIAGS_INIT;
	struct sl_config cfg;

	(void)state;
	assert_int_equal(load_text(false,
	                           "web:\n  listen: 0.0.0.0:8080\n  base_url: https://x/\n"
	                           "  tls_cert: c.pem\n  tls_key: k.pem\n",
	                           &d, &cfg, NULL),
	                 0);
	assert_string_equal(cfg.web_listen, "0.0.0.0:8080");
	assert_string_equal(cfg.web_base_url, "https://x/");
	assert_string_equal(cfg.web_tls_cert, "c.pem");
	assert_string_equal(cfg.web_tls_key, "k.pem");
	/* The scheduler's own listen is untouched. */
	assert_string_equal(cfg.listen, "127.0.0.1:7411");
	sl_config_release(&cfg);
	/* Off loopback in clear text, at the value; a misspelt key, with a suggestion. */
	assert_int_equal(load_text(false, "web:\n  listen: 10.0.0.1:80\n", &d, &cfg, NULL), 1);
	assert_int_equal(d.items[0].line, 2);
	assert_int_equal(d.items[0].column, 11);
	sl_config_release(&cfg);
	sl_diags_release(&d);
	assert_int_equal(load_text(false, "web:\n  lissen: x\n", &d, &cfg, NULL), 1);
	assert_string_equal(d.items[0].message,
	                    "unknown key 'lissen' in web (did you mean 'listen'?)");
	sl_config_release(&cfg);
	sl_diags_release(&d);
	/* The top-level insecure is the scheduler's, not the web's. */
	assert_int_equal(
	    load_text(false, "insecure: true\nweb:\n  listen: 10.0.0.1:80\n", &d, &cfg, NULL), 1);
	sl_config_release(&cfg);
	sl_diags_release(&d);
	assert_int_equal(
	    load_text(false, "web:\n  listen: 10.0.0.1:80\n  insecure: true\n", &d, &cfg, NULL), 0);
	assert_true(cfg.web_insecure);
	sl_config_release(&cfg);
}

static void test_worker_needs_tls(void **state)
{
	struct sl_diags d = SL_DIAGS_INIT;
	struct sl_worker_config cfg;

	(void)state;
	/* Each entry off loopback is named, at its own position. */
	assert_int_equal(load_text(true,
	                           "token_file: t\nscheduler: [localhost:1, s1.example.com:7411, "
	                           "'10.0.0.1:7411']\n",
	                           &d, NULL, &cfg),
	                 2);
	assert_int_equal(d.items[0].line, 2);
	assert_int_equal(d.items[0].column, 26);
	assert_string_equal(d.items[0].message,
	                    "scheduler: s1.example.com:7411 is not a loopback address, and this "
	                    "worker would send its token in clear text to whoever answers there: "
	                    "set tls (ca and/or fingerprint) so that it verifies the scheduler "
	                    "first, or insecure: true if the network is trusted");
	assert_non_null(strstr(d.items[1].message, "scheduler: 10.0.0.1:7411 is not a loopback"));
	sl_worker_config_release(&cfg);
	sl_diags_release(&d);
	assert_int_equal(
	    load_text(true, "token_file: t\nscheduler: s:1\ninsecure: true\n", &d, NULL, &cfg), 0);
	assert_true(cfg.insecure);
	assert_false(cfg.tls);
	sl_worker_config_release(&cfg);
	/* A pin as openssl prints it, without colons, in lower case: the same bytes. */
	assert_int_equal(load_text(true,
	                           "token_file: t\nscheduler: s:1\ntls:\n  fingerprint: "
	                           "\"sha256:D5:0A:57:2E:52:80:7A:8C:C4:66:7C:82:04:F0:13:AA:11:"
	                           "B7:DD:DD:91:9E:45:D6:9E:BC:85:BA:BE:5C:15:55\"\n",
	                           &d, NULL, &cfg),
	                 0);
	assert_true(cfg.tls && cfg.tls_pinned);
	assert_null(cfg.tls_ca);
	assert_int_equal(cfg.tls_fingerprint[0], 0xd5);
	assert_int_equal(cfg.tls_fingerprint[31], 0x55);
	sl_worker_config_release(&cfg);
	assert_int_equal(
	    load_text(true,
	              "token_file: t\nscheduler: s:1\ntls: {ca: ca.pem, fingerprint: "
	              "d50a572e52807a8cc4667c8204f013aa11b7dddd919e45d69ebc85babe5c1555}\n",
	              &d, NULL, &cfg),
	    0);
	assert_true(cfg.tls && cfg.tls_pinned);
	assert_string_equal(cfg.tls_ca, "ca.pem");
	assert_int_equal(cfg.tls_fingerprint[1], 0x0a);
	sl_worker_config_release(&cfg);
	/* Bad pins, an empty tls. */
	assert_int_equal(load_text(true,
	                           "token_file: t\nscheduler: 127.0.0.1:1\n"
	                           "tls: {fingerprint: 'sha256:D5:0A'}\n",
	                           &d, NULL, &cfg),
	                 1);
	assert_string_equal(d.items[0].message,
	                    "tls.fingerprint: expected sha256: and 32 bytes in hex (AB:CD:... as "
	                    "`openssl x509 -noout -fingerprint -sha256` prints them), got "
	                    "'sha256:D5:0A'");
	assert_false(cfg.tls);
	sl_worker_config_release(&cfg);
	sl_diags_release(&d);
	assert_int_equal(load_text(true,
	                           "token_file: t\nscheduler: 127.0.0.1:1\ntls: {fingerprint: "
	                           "'md5:d50a572e52807a8cc4667c8204f013aa11b7dddd919e45d69ebc85bab"
	                           "e5c1555'}\n",
	                           &d, NULL, &cfg),
	                 1);
	sl_worker_config_release(&cfg);
	sl_diags_release(&d);
	assert_int_equal(
	    load_text(true, "token_file: t\nscheduler: 127.0.0.1:1\ntls: {}\n", &d, NULL, &cfg), 1);
	assert_int_equal(d.items[0].line, 3);
	assert_string_equal(d.items[0].message,
	                    "tls: needs ca (CA certificates to verify the scheduler with), "
	                    "fingerprint (its certificate's SHA-256), or both");
	sl_worker_config_release(&cfg);
	sl_diags_release(&d);
}

static void test_loopback(void **state)
{
	(void)state;
	assert_true(sl_host_is_loopback("localhost"));
	assert_true(sl_host_is_loopback("LocalHost"));
	assert_true(sl_host_is_loopback("127.0.0.1"));
	assert_true(sl_host_is_loopback("127.255.0.9"));
	assert_true(sl_host_is_loopback("::1"));
	assert_true(sl_host_is_loopback("::ffff:127.0.0.1"));
	assert_false(sl_host_is_loopback("0.0.0.0"));
	assert_false(sl_host_is_loopback("::"));
	assert_false(sl_host_is_loopback("128.0.0.1"));
	assert_false(sl_host_is_loopback("::2"));
	assert_false(sl_host_is_loopback("localhost.example.com"));
	assert_false(sl_host_is_loopback("127.0.0.1.nip.io"));
}

static void test_hostport_parse(void **state)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	char *host;
	int port;

	(void)state;
	assert_int_equal(sl_hostport_parse("[::1]:80", &host, &port, &err), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 80);
	free(host);
	assert_int_equal(sl_hostport_parse("localhost:7411", &host, &port, &err), 0);
	assert_string_equal(host, "localhost");
	free(host);
	assert_int_not_equal(sl_hostport_parse("::1:80", &host, &port, &err), 0);
	assert_int_not_equal(sl_hostport_parse(":80", &host, &port, &err), 0);
	assert_int_not_equal(sl_hostport_parse("h:", &host, &port, &err), 0);
	assert_int_not_equal(sl_hostport_parse("h:+1", &host, &port, &err), 0);
	assert_null(host);
	sl_strbuf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_full_file),
	    cmocka_unit_test(test_every_problem_reported),
	    cmocka_unit_test(test_not_a_mapping),
	    cmocka_unit_test(test_missing_file),
	    cmocka_unit_test(test_worker_defaults),
	    cmocka_unit_test(test_worker_full_file),
	    cmocka_unit_test(test_worker_one_scheduler),
	    cmocka_unit_test(test_worker_task_user),
	    cmocka_unit_test(test_worker_every_problem_reported),
	    cmocka_unit_test(test_worker_required),
	    cmocka_unit_test(test_listen_needs_tls),
	    cmocka_unit_test(test_web_group),
	    cmocka_unit_test(test_metrics_listen),
	    cmocka_unit_test(test_worker_needs_tls),
	    cmocka_unit_test(test_loopback),
	    cmocka_unit_test(test_hostport_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
