#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "taskrun.h"

void run_release(struct run *r)
{
	sl_strbuf_release(&r->out);
	sl_strbuf_release(&r->err);
	for (size_t i = 0; i < r->res.outputs.nr; i++) {
		free(r->res.outputs.items[i].key);
		free(r->res.outputs.items[i].value);
	}
	free(r->res.outputs.items);
	free(r->res.outputs_error);
}

static void on_log(struct sl_taskexec *te, enum sl_taskexec_stream stream, const char *buf,
                   size_t len, void *data)
{
	struct run *r = data;

	(void)te;
	sl_strbuf_add(stream == SL_TASKEXEC_STDOUT ? &r->out : &r->err, buf, len);
}

static void on_done(struct sl_taskexec *te, struct sl_taskexec_result *res, void *data)
{
	struct run *r = data;

	(void)te;
	r->res = *res;
	memset(&res->outputs, 0, sizeof(res->outputs)); /* moved */
	res->outputs_error = NULL;
	r->done++;
	/* Every handle of the attempt is closed before we are told. */
	r->loop_alive_in_done = uv_loop_alive(r->loop);
}

void opts_init(struct sl_taskexec_opts *o, struct run *r, const char *cmd)
{
	memset(o, 0, sizeof(*o));
	memset(r, 0, sizeof(*r));
	sl_strbuf_init(&r->out);
	sl_strbuf_init(&r->err);
	o->command = cmd;
	o->on_log = on_log;
	o->on_done = on_done;
	o->data = r;
}

void run_opts(struct run *r, struct sl_taskexec_opts *o)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	uv_loop_t loop;

	assert_int_equal(uv_loop_init(&loop), 0);
	r->loop = &loop;
	if (sl_taskexec_start(&loop, o, &r->te, &err))
		fail_msg("start: %s", err.buf);
	assert_non_null(r->te);
	assert_true(sl_taskexec_pid(r->te) > 0);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(r->done, 1);
	assert_false(r->loop_alive_in_done);
	assert_int_equal(uv_loop_close(&loop), 0);
	sl_strbuf_release(&err);
}

void run_cmd(struct run *r, const char *cmd)
{
	struct sl_taskexec_opts o;

	opts_init(&o, r, cmd);
	run_opts(r, &o);
}
