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
	assert_int_equal(cfg.heartbeat_timeout, 30);
	assert_int_equal(cfg.log_limit, 10 * 1024 * 1024);
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
	                        "heartbeat_timeout: 1m30s\nlog_limit: 4096\n");

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
	                    "parallelism: expected an integer from 1 to 100000");
	/* The defaults survive a bad value. */
	assert_int_equal(cfg.parallelism, 32);
	assert_int_equal(cfg.dags_poll_interval, 60);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_full_file),
	    cmocka_unit_test(test_every_problem_reported),
	    cmocka_unit_test(test_missing_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
