#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "sluice/alloc.h"
#include "sluice/error.h"
#include "sluice/strbuf.h"
#include "sluice/taskenv.h"
#include "sluice/taskexec.h"
#include "taskrun.h"

static void test_success_streams(void **state)
{
	struct run r;

	(void)state;
	run_cmd(&r, "echo a; echo b >&2; echo c; echo d >&2; read x; echo \"stdin=$x.\"");
	assert_int_equal(r.res.outcome, SL_OUTCOME_SUCCESS);
	assert_int_equal(r.res.exit_code, 0);
	assert_int_equal(r.res.term_signal, 0);
	assert_string_equal(r.out.buf, "a\nc\nstdin=.\n");
	assert_string_equal(r.err.buf, "b\nd\n");
	assert_int_equal(r.res.log_bytes, 4 + 4 + 8);
	assert_false(r.res.log_truncated);
	assert_true(r.res.started_at_ms > 1600000000000LL);
	assert_true(r.res.ended_at_ms >= r.res.started_at_ms);
	run_release(&r);
}

static void test_exit_codes(void **state)
{
	static const struct {
		const char *cmd;
		bool sensor;
		enum sl_outcome outcome;
		int code;
	} cases[] = {
	    {"exit 1", false, SL_OUTCOME_FAILED, 1},
	    {"exit 99", false, SL_OUTCOME_SKIPPED, 99},
	    {"exit 75", false, SL_OUTCOME_FAILED, 75},
	    {"exit 75", true, SL_OUTCOME_RESCHEDULE, 75},
	    {"exit 0", true, SL_OUTCOME_SUCCESS, 0},
	    {"no-such-command-for-sluice", false, SL_OUTCOME_FAILED, 127},
	};

	(void)state;
	for (size_t i = 0; i < SL_ARRAY_SIZE(cases); i++) {
		struct sl_taskexec_opts o;
		struct run r;

		opts_init(&o, &r, cases[i].cmd);
		o.sensor = cases[i].sensor;
		run_opts(&r, &o);
		assert_int_equal(r.res.outcome, cases[i].outcome);
		assert_int_equal(r.res.exit_code, cases[i].code);
		if (cases[i].code == 127)
			assert_non_null(strstr(r.err.buf, "not found"));
		run_release(&r);
	}
}

static void test_signal(void **state)
{
	struct run r;

	(void)state;
	run_cmd(&r, "kill -9 $$");
	assert_int_equal(r.res.outcome, SL_OUTCOME_FAILED);
	assert_int_equal(r.res.exit_code, -1);
	assert_int_equal(r.res.term_signal, SIGKILL);
	run_release(&r);
}

/* Dead, or a zombie nobody has reaped yet: either way no longer running. */
static bool pid_gone_now(long pid)
{
	char path[64], buf[512];
	const char *p;
	FILE *f;
	size_t n;

	if (kill((pid_t)pid, 0) && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return true;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

/*
 * A dying process closes its files before it turns into a zombie, so the
 * pipes can reach EOF a moment before /proc shows it gone: poll briefly.
 */
static bool pid_gone(long pid)
{
	for (int i = 0; i < 100; i++) {
		if (pid_gone_now(pid))
			return true;
		usleep(10000);
	}
	return false;
}

static void test_timeout_kills_group(void **state)
{
	struct sl_taskexec_opts o;
	struct run r;
	long pid;

	(void)state;
	opts_init(&o, &r, "sleep 30 & echo $!; sleep 30; wait");
	o.timeout = 1;
	o.grace = 1;
	run_opts(&r, &o);
	assert_int_equal(r.res.outcome, SL_OUTCOME_TIMEOUT);
	assert_int_equal(r.res.term_signal, SIGTERM);
	assert_true(r.res.duration_ms >= 900);
	assert_true(r.res.duration_ms < 2500);
	pid = strtol(r.out.buf, NULL, 10);
	assert_true(pid > 0);
	assert_true(pid_gone(pid));
	run_release(&r);
}

/* Background jobs left behind by a finished command do not outlive it. */
static void test_leftover_jobs(void **state)
{
	static const char *const commands[] = {
	    "sleep 30 & echo $!",
	    "sleep 30 >/dev/null 2>&1 & echo $!",
	};

	(void)state;
	for (size_t i = 0; i < SL_ARRAY_SIZE(commands); i++) {
		struct sl_taskexec_opts o;
		struct run r;
		long pid;

		opts_init(&o, &r, commands[i]);
		o.grace = 1;
		run_opts(&r, &o);
		assert_int_equal(r.res.outcome, SL_OUTCOME_SUCCESS);
		assert_int_equal(r.res.exit_code, 0);
		assert_true(r.res.duration_ms < 900);
		pid = strtol(r.out.buf, NULL, 10);
		assert_true(pid > 0);
		assert_true(pid_gone(pid));
		run_release(&r);
	}
}

static void test_timeout_sigkill_after_grace(void **state)
{
	struct sl_taskexec_opts o;
	struct run r;

	(void)state;
	/* SIGTERM is ignored by the shell and (inherited) by sleep. */
	opts_init(&o, &r, "trap '' TERM; sleep 30");
	o.timeout = 1;
	o.grace = 1;
	run_opts(&r, &o);
	assert_int_equal(r.res.outcome, SL_OUTCOME_TIMEOUT);
	assert_int_equal(r.res.term_signal, SIGKILL);
	assert_true(r.res.duration_ms >= 1900);
	assert_true(r.res.duration_ms < 3000);
	run_release(&r);
}

struct cancel_timer {
	uv_timer_t timer;
	struct run *r;
};

static void on_cancel_close(uv_handle_t *h)
{
	(void)h;
}

static void on_cancel_timer(uv_timer_t *t)
{
	struct cancel_timer *ct = (struct cancel_timer *)t;

	sl_taskexec_cancel(ct->r->te);
	sl_taskexec_cancel(ct->r->te); /* twice is harmless */
	uv_close((uv_handle_t *)t, on_cancel_close);
}

static void test_cancel(void **state)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_taskexec_opts o;
	struct cancel_timer ct;
	uv_loop_t loop;
	struct run r;

	(void)state;
	opts_init(&o, &r, "echo started; sleep 30");
	assert_int_equal(uv_loop_init(&loop), 0);
	r.loop = &loop;
	assert_int_equal(sl_taskexec_start(&loop, &o, &r.te, &err), 0);
	ct.r = &r;
	assert_int_equal(uv_timer_init(&loop, &ct.timer), 0);
	assert_int_equal(uv_timer_start(&ct.timer, on_cancel_timer, 100, 0), 0);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(r.done, 1);
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_int_equal(r.res.outcome, SL_OUTCOME_CANCELLED);
	assert_int_equal(r.res.term_signal, SIGTERM);
	assert_true(r.res.duration_ms < 1000);
	assert_string_equal(r.out.buf, "started\n");
	run_release(&r);
	sl_strbuf_release(&err);
}

static void test_log_limit(void **state)
{
	struct sl_taskexec_opts o;
	struct run r;
	const char *marker;

	(void)state;
	opts_init(&o, &r, "head -c 1048576 /dev/zero | tr '\\0' a; echo done >&2");
	o.log_limit = 4096;
	o.timeout = 5;
	run_opts(&r, &o);
	assert_int_equal(r.res.outcome, SL_OUTCOME_SUCCESS);
	assert_true(r.res.log_truncated);
	assert_int_equal(r.res.log_bytes, 1048576 + 5);
	marker = r.out.buf + 4096;
	for (size_t i = 0; i < 4096; i++)
		assert_int_equal(r.out.buf[i], 'a');
	assert_string_equal(marker,
	                    "\n[sluice: log truncated at 4096 bytes; the rest is discarded]\n");
	assert_string_equal(r.err.buf, "");
	run_release(&r);
}

static const char *output_get(const struct sl_kvs *kvs, const char *key)
{
	for (size_t i = 0; i < kvs->nr; i++)
		if (!strcmp(kvs->items[i].key, key))
			return kvs->items[i].value;
	return NULL;
}

static void test_outputs(void **state)
{
	char dir[] = "/tmp/sluice-taskexec-XXXXXX";
	struct sl_taskexec_opts o;
	struct run r;

	(void)state;
	assert_non_null(mkdtemp(dir));
	opts_init(
	    &o, &r,
	    "printf 'a=1\\nb=x=y\\n1bad=2\\nnoeq\\n\\nc=\\r\\na=2\\n=v\\n' >\"$SLUICE_OUTPUT\"");
	o.output_dir = dir;
	run_opts(&r, &o);
	assert_int_equal(r.res.outcome, SL_OUTCOME_SUCCESS);
	assert_int_equal(r.res.outputs.nr, 3);
	assert_string_equal(output_get(&r.res.outputs, "a"), "2");
	assert_string_equal(output_get(&r.res.outputs, "b"), "x=y");
	assert_string_equal(output_get(&r.res.outputs, "c"), "");
	assert_int_equal(r.res.outputs_bad_lines, 3);
	assert_null(r.res.outputs_error);
	assert_non_null(strstr(r.err.buf, "[sluice: $SLUICE_OUTPUT line 3 ignored: '1bad' is not a "
	                                  "valid key"));
	assert_null(strstr(r.err.buf, "refused"));
	run_release(&r);

	/* A bad line is only ignored, even with a key too long or a value not
	 * UTF-8 for the protocol: it was never an output. */
	opts_init(&o, &r,
	          "{ printf '%0250d-x=1\\n' 0 | tr 0 k; printf 'caf\\351\\n'; echo a=1; } "
	          ">\"$SLUICE_OUTPUT\"");
	o.output_dir = dir;
	run_opts(&r, &o);
	assert_int_equal(r.res.outcome, SL_OUTCOME_SUCCESS);
	assert_null(r.res.outputs_error);
	assert_int_equal(r.res.outputs_bad_lines, 2);
	assert_int_equal(r.res.outputs.nr, 1);
	assert_string_equal(output_get(&r.res.outputs, "a"), "1");
	assert_non_null(strstr(r.err.buf, "[sluice: $SLUICE_OUTPUT line 2 ignored: not a key=value "
	                                  "line]\n"));
	assert_null(strstr(r.err.buf, "refused"));
	run_release(&r);

	/* No file written: no outputs. */
	opts_init(&o, &r, "test -f \"$SLUICE_OUTPUT\" && test ! -s \"$SLUICE_OUTPUT\"");
	o.output_dir = dir;
	run_opts(&r, &o);
	assert_int_equal(r.res.outcome, SL_OUTCOME_SUCCESS);
	assert_int_equal(r.res.outputs.nr, 0);
	run_release(&r);

	/* A FIFO in place of the file must not hang the loop. */
	opts_init(&o, &r, "rm -f \"$SLUICE_OUTPUT\" && mkfifo \"$SLUICE_OUTPUT\"");
	o.output_dir = dir;
	run_opts(&r, &o);
	assert_int_equal(r.res.outputs.nr, 0);
	run_release(&r);

	assert_int_equal(rmdir(dir), 0); /* every outputs file was removed */
}

/*
 * The command chooses what lies at the outputs file's name: a link to a
 * file it could not read itself must not make us read it (the worker reads
 * the file with more rights than a task_user has).
 */
static void test_outputs_links_refused(void **state)
{
	char dir[] = "/tmp/sluice-taskexec-XXXXXX";
	struct sl_strbuf cmd = SL_STRBUF_INIT, secret = SL_STRBUF_INIT;
	struct sl_taskexec_opts o;
	struct run r;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	sl_strbuf_addf(&secret, "%s/secret", dir);
	f = fopen(secret.buf, "w");
	assert_non_null(f);
	fputs("token=hunter2\n", f);
	fclose(f);

	sl_strbuf_addf(&cmd, "ln -sf '%s' \"$SLUICE_OUTPUT\"", secret.buf);
	opts_init(&o, &r, cmd.buf);
	o.output_dir = dir;
	run_opts(&r, &o);
	assert_int_equal(r.res.outcome, SL_OUTCOME_SUCCESS);
	assert_int_equal(r.res.outputs.nr, 0);
	assert_non_null(
	    strstr(r.err.buf, "[sluice: $SLUICE_OUTPUT ignored: it is a symbolic link]"));
	run_release(&r);

	sl_strbuf_reset(&cmd);
	sl_strbuf_addf(&cmd, "ln -f '%s' \"$SLUICE_OUTPUT\"", secret.buf);
	opts_init(&o, &r, cmd.buf);
	o.output_dir = dir;
	run_opts(&r, &o);
	assert_int_equal(r.res.outputs.nr, 0);
	assert_non_null(strstr(r.err.buf,
	                       "[sluice: $SLUICE_OUTPUT ignored: not a regular file with "
	                       "one name]"));
	run_release(&r);

	assert_int_equal(unlink(secret.buf), 0);
	assert_int_equal(rmdir(dir), 0);
	sl_strbuf_release(&cmd);
	sl_strbuf_release(&secret);
}

/*
 * Run as another user (root only: taking another uid needs the right to):
 * the command has that uid and gid and no supplementary group, and can
 * write the outputs file, which we can still read.
 */
static void test_user(void **state)
{
	char dir[] = "/tmp/sluice-taskexec-XXXXXX";
	const struct sl_taskexec_user nobody = {65534, 65534};
	struct sl_taskexec_opts o;
	struct run r;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0711), 0);
	opts_init(&o, &r,
	          "echo \"$(id -u) $(id -g) $(id -G)\"; echo who=$(id -u) >\"$SLUICE_OUTPUT\"");
	o.output_dir = dir;
	o.user = &nobody;
	run_opts(&r, &o);
	assert_int_equal(r.res.outcome, SL_OUTCOME_SUCCESS);
	assert_string_equal(r.out.buf, "65534 65534 65534\n");
	assert_int_equal(r.res.outputs.nr, 1);
	assert_string_equal(output_get(&r.res.outputs, "who"), "65534");
	run_release(&r);
	assert_int_equal(rmdir(dir), 0);
}

/* Run `cmd` with its outputs file in `dir`. */
static void run_outputs(struct run *r, const char *dir, const char *cmd, bool sensor)
{
	struct sl_taskexec_opts o;

	opts_init(&o, r, cmd);
	o.output_dir = dir;
	o.sensor = sensor;
	run_opts(r, &o);
}

/* The attempt failed because of its outputs, with `reason`, in the result and the log. */
static void assert_refused(struct run *r, const char *reason)
{
	struct sl_strbuf line = SL_STRBUF_INIT;

	assert_int_equal(r->res.outcome, SL_OUTCOME_FAILED);
	assert_int_equal(r->res.outputs.nr, 0);
	assert_non_null(r->res.outputs_error);
	assert_string_equal(r->res.outputs_error, reason);
	sl_strbuf_addf(&line, "[sluice: outputs refused (none are kept; the attempt fails): %s]\n",
	               reason);
	assert_non_null(strstr(r->err.buf, line.buf));
	sl_strbuf_release(&line);
}

/*
 * Outputs the job protocol cannot carry fail the attempt
 * (include/sluice/proto.h). A key of 200 characters is an id; 250 is not.
 */
static void test_outputs_long_key(void **state)
{
	char dir[] = "/tmp/sluice-taskexec-XXXXXX";
	struct run r;

	(void)state;
	assert_non_null(mkdtemp(dir));
	run_outputs(&r, dir, "printf '%0200d=1\\n' 0 | tr 0 k >\"$SLUICE_OUTPUT\"", false);
	assert_int_equal(r.res.outcome, SL_OUTCOME_SUCCESS);
	assert_null(r.res.outputs_error);
	assert_int_equal(r.res.outputs.nr, 1);
	assert_int_equal(strlen(r.res.outputs.items[0].key), 200);
	run_release(&r);
	run_outputs(&r, dir,
	            "{ echo a=1; printf '%0250d=1\\n' 0 | tr 0 k; } >\"$SLUICE_OUTPUT\"; echo done",
	            false);
	assert_refused(&r,
	               "$SLUICE_OUTPUT line 2: key "
	               "'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...' is "
	               "250 characters, more than 200");
	assert_int_equal(r.res.exit_code, 0);
	assert_string_equal(r.out.buf, "done\n");
	run_release(&r);
	assert_int_equal(rmdir(dir), 0);
}

/* A value must be UTF-8 (U+00E9 is, a lone Latin-1 0xE9 is not), whatever the exit code. */
static void test_outputs_not_utf8(void **state)
{
	char dir[] = "/tmp/sluice-taskexec-XXXXXX";
	struct sl_taskexec_opts o;
	struct run r;

	(void)state;
	assert_non_null(mkdtemp(dir));
	run_outputs(&r, dir, "printf 'name=caf\\303\\251\\n' >\"$SLUICE_OUTPUT\"", false);
	assert_int_equal(r.res.outcome, SL_OUTCOME_SUCCESS);
	assert_string_equal(output_get(&r.res.outputs, "name"), "caf\303\251");
	run_release(&r);
	run_outputs(&r, dir, "printf 'ok=1\\nname=caf\\351\\n' >\"$SLUICE_OUTPUT\"", false);
	assert_refused(&r, "$SLUICE_OUTPUT line 2: the value of 'name' is not UTF-8 (byte 0xe9 at "
	                   "column 9)");
	run_release(&r);

	/* Skipped, a sensor's reschedule, a failure: all become failed. */
	run_outputs(&r, dir, "printf 'name=caf\\351\\n' >\"$SLUICE_OUTPUT\"; exit 99", false);
	assert_refused(&r, "$SLUICE_OUTPUT line 1: the value of 'name' is not UTF-8 (byte 0xe9 at "
	                   "column 9)");
	assert_int_equal(r.res.exit_code, 99);
	run_release(&r);
	run_outputs(&r, dir, "printf 'name=caf\\351\\n' >\"$SLUICE_OUTPUT\"; exit 75", true);
	assert_refused(&r, "$SLUICE_OUTPUT line 1: the value of 'name' is not UTF-8 (byte 0xe9 at "
	                   "column 9)");
	assert_int_equal(r.res.exit_code, 75);
	run_release(&r);
	run_outputs(&r, dir, "printf 'name=caf\\351\\n' >\"$SLUICE_OUTPUT\"; exit 3", false);
	assert_refused(&r, "$SLUICE_OUTPUT line 1: the value of 'name' is not UTF-8 (byte 0xe9 at "
	                   "column 9)");
	assert_int_equal(r.res.exit_code, 3);
	run_release(&r);

	/* A timed-out attempt stays timed out; its outputs are still dropped. */
	opts_init(&o, &r, "printf 'name=caf\\351\\n' >\"$SLUICE_OUTPUT\"; sleep 30");
	o.output_dir = dir;
	o.timeout = 1;
	o.grace = 1;
	run_opts(&r, &o);
	assert_int_equal(r.res.outcome, SL_OUTCOME_TIMEOUT);
	assert_int_equal(r.res.outputs.nr, 0);
	assert_non_null(r.res.outputs_error);
	assert_non_null(strstr(r.err.buf,
	                       "[sluice: outputs refused (none are kept): $SLUICE_OUTPUT "
	                       "line 1: the value of 'name' is not UTF-8"));
	run_release(&r);
	assert_int_equal(rmdir(dir), 0);
}

/* At most SL_TASKEXEC_OUTPUT_MAX bytes: 4096 lines of 16 bytes are exactly that. */
static void test_outputs_too_big(void **state)
{
	char dir[] = "/tmp/sluice-taskexec-XXXXXX";
	struct run r;

	(void)state;
	assert_non_null(mkdtemp(dir));
	run_outputs(&r, dir,
	            "awk 'BEGIN { for (i = 0; i < 4096; i++) printf \"k%04d=xxxxxxxxx\\n\", i }' "
	            ">\"$SLUICE_OUTPUT\"",
	            false);
	assert_int_equal(r.res.outcome, SL_OUTCOME_SUCCESS);
	assert_null(r.res.outputs_error);
	assert_int_equal(r.res.outputs.nr, 4096);
	assert_string_equal(output_get(&r.res.outputs, "k4095"), "xxxxxxxxx");
	run_release(&r);

	/* A line more is over it. */
	run_outputs(&r, dir,
	            "awk 'BEGIN { for (i = 0; i <= 4096; i++) printf \"k%04d=xxxxxxxxx\\n\", i }' "
	            ">\"$SLUICE_OUTPUT\"",
	            false);
	assert_refused(&r, "$SLUICE_OUTPUT is larger than 65536 bytes (64 KiB), the limit");
	assert_int_equal(r.res.outputs_bad_lines, 0);
	run_release(&r);
	assert_int_equal(rmdir(dir), 0);
}

/* At most SL_PROTO_LIST_MAX keys; a key written again is not a new one. */
static void test_outputs_too_many_keys(void **state)
{
	char dir[] = "/tmp/sluice-taskexec-XXXXXX";
	struct run r;

	(void)state;
	assert_non_null(mkdtemp(dir));
	run_outputs(&r, dir,
	            "awk 'BEGIN { for (i = 0; i < 4096; i++) printf \"k%d=\\nk0=again\\n\", i }' "
	            ">\"$SLUICE_OUTPUT\"",
	            false);
	assert_int_equal(r.res.outcome, SL_OUTCOME_SUCCESS);
	assert_int_equal(r.res.outputs.nr, 4096);
	assert_string_equal(output_get(&r.res.outputs, "k0"), "again");
	run_release(&r);
	run_outputs(&r, dir,
	            "awk 'BEGIN { for (i = 0; i <= 4096; i++) printf \"k%d=\\n\", i }' "
	            ">\"$SLUICE_OUTPUT\"",
	            false);
	assert_refused(&r,
	               "$SLUICE_OUTPUT line 4097: key 'k4096' is one more than the 4096 allowed");
	run_release(&r);
	assert_int_equal(rmdir(dir), 0);
}

static void test_cwd_and_bad_cwd(void **state)
{
	char dir[] = "/tmp/sluice-taskexec-XXXXXX";
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_taskexec_opts o;
	struct sl_taskexec *te;
	uv_loop_t loop;
	struct run r;

	(void)state;
	assert_non_null(mkdtemp(dir));
	opts_init(&o, &r, "pwd");
	o.cwd = dir;
	run_opts(&r, &o);
	assert_int_equal(r.res.outcome, SL_OUTCOME_SUCCESS);
	assert_true(r.out.len > 0);
	r.out.buf[r.out.len - 1] = '\0';
	assert_string_equal(r.out.buf, dir);
	run_release(&r);
	assert_int_equal(rmdir(dir), 0);

	/* A cwd that is gone: an error now, no callback, a clean loop. */
	opts_init(&o, &r, "true");
	o.cwd = dir;
	o.output_dir = "/tmp";
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(sl_taskexec_start(&loop, &o, &te, &err), SL_ERR);
	assert_null(te);
	assert_non_null(strstr(err.buf, dir));
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(r.done, 0);
	assert_int_equal(uv_loop_close(&loop), 0);
	sl_strbuf_release(&err);
	run_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_success_streams),
	    cmocka_unit_test(test_exit_codes),
	    cmocka_unit_test(test_signal),
	    cmocka_unit_test(test_timeout_kills_group),
	    cmocka_unit_test(test_timeout_sigkill_after_grace),
	    cmocka_unit_test(test_leftover_jobs),
	    cmocka_unit_test(test_cancel),
	    cmocka_unit_test(test_log_limit),
	    cmocka_unit_test(test_outputs),
	    cmocka_unit_test(test_outputs_long_key),
	    cmocka_unit_test(test_outputs_not_utf8),
	    cmocka_unit_test(test_outputs_too_big),
	    cmocka_unit_test(test_outputs_too_many_keys),
	    cmocka_unit_test(test_outputs_links_refused),
	    cmocka_unit_test(test_user),
	    cmocka_unit_test(test_cwd_and_bad_cwd),
	};

	srand((unsigned)getpid());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
