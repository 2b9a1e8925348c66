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
	                        "hello_timeout: 2s\nmax_connections: 100\n");

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
	                        "repo: https://example.com/dags.git\ngrace: 2m\n");

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
	char *path = write_temp("scheduler: a:1\ntoken_file: t\ntask_user:   sluice-task\n");

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

	path = write_temp("scheduler: a:1\ntoken_file: t\ntask_user: '-rf'\n");
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

	path = write_temp("scheduler: a:1\ntoken_file: t\ntask_user: [a, b]\n");
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
	    cmocka_unit_test(test_hostport_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
