#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "sluice/alloc.h"
#include "sluice/container.h"
#include "sluice/frameconn.h"
#include "sluice/proto.h"
#include "sluice/strbuf.h"

/*
 * Two sl_frameconns over a real loopback TCP connection on a real loop:
 * `client` connected, `server` accepted from a listener. Each test ends
 * by closing everything and checking that the loop closes with no live
 * handle.
 */

struct end {
	struct sl_frameconn fc;
	struct pair *p;
	bool started; /* reading: a test may leave one end deaf */
	int frames, refused, reads, errors, closed;
	int this_read, max_per_read;  /* frames delivered by one read */
	enum sl_proto_type last_type; /* of the last frame */
	uint64_t last_dispatches;     /* of the last HEARTBEAT */
	enum sl_frameconn_error error;
	struct sl_strbuf why; /* of the last refusal or error */
};

struct pair {
	uv_loop_t loop;
	uv_tcp_t listener;
	struct end server, client;
	bool accepted, connected, listener_closed;
};

static struct end *end_of(struct sl_frameconn *fc)
{
	return container_of(fc, struct end, fc);
}

static void on_frame(struct sl_frameconn *fc, struct sl_proto_msg *msg)
{
	struct end *e = end_of(fc);

	e->frames++;
	e->this_read++;
	e->last_type = msg->type;
	if (msg->type == SL_PROTO_HEARTBEAT)
		e->last_dispatches = msg->u.heartbeat.dispatches;
}

static void on_refused(struct sl_frameconn *fc, const struct sl_proto_refusal *r, const char *why)
{
	struct end *e = end_of(fc);

	(void)r;
	e->refused++;
	sl_strbuf_reset(&e->why);
	sl_strbuf_adds(&e->why, why);
}

static void on_read_done(struct sl_frameconn *fc)
{
	struct end *e = end_of(fc);

	e->reads++;
	if (e->this_read > e->max_per_read)
		e->max_per_read = e->this_read;
	e->this_read = 0;
}

/* As the daemons do: a connection that cannot go on is closed by its owner. */
static void on_error(struct sl_frameconn *fc, enum sl_frameconn_error err, const char *reason)
{
	struct end *e = end_of(fc);

	e->errors++;
	e->error = err;
	sl_strbuf_reset(&e->why);
	sl_strbuf_adds(&e->why, reason);
	sl_frameconn_close(fc);
}

static void on_closed(struct sl_frameconn *fc)
{
	end_of(fc)->closed++;
}

static const struct sl_frameconn_ops ops = {
    .on_frame = on_frame,
    .on_refused = on_refused,
    .on_read_done = on_read_done,
    .on_error = on_error,
    .on_closed = on_closed,
};

static void on_connection(uv_stream_t *server, int status)
{
	struct pair *p = container_of((uv_tcp_t *)server, struct pair, listener);

	assert_int_equal(status, 0);
	assert_int_equal(sl_frameconn_init(&p->server.fc, &p->loop, &ops), 0);
	assert_int_equal(sl_frameconn_accept(&p->server.fc, server), 0);
	if (p->server.started)
		assert_int_equal(sl_frameconn_start(&p->server.fc), 0);
	p->accepted = true;
}

static void on_connect(struct sl_frameconn *fc, int status)
{
	struct end *e = end_of(fc);

	assert_int_equal(status, 0);
	assert_int_equal(sl_frameconn_start(fc), 0);
	e->p->connected = true;
}

/* Run the loop until `*counter` reaches `at_least` (a hang is the test's timeout). */
static void run_until(struct pair *p, const int *counter, int at_least)
{
	while (*counter < at_least)
		if (!uv_run(&p->loop, UV_RUN_ONCE) && *counter < at_least)
			fail_msg("the loop ran out of handles first");
}

/* Run the loop until `*flag` holds. */
static void run_until_true(struct pair *p, const bool *flag)
{
	while (!*flag)
		if (!uv_run(&p->loop, UV_RUN_ONCE) && !*flag)
			fail_msg("the loop ran out of handles first");
}

static void pair_open(struct pair *p, bool server_reads)
{
	struct sockaddr_storage addr;
	int len = sizeof(addr);

	memset(p, 0, sizeof(*p));
	p->server.p = p->client.p = p;
	p->server.started = server_reads;
	sl_strbuf_init(&p->server.why);
	sl_strbuf_init(&p->client.why);
	assert_int_equal(uv_loop_init(&p->loop), 0);
	assert_int_equal(uv_tcp_init(&p->loop, &p->listener), 0);
	assert_int_equal(uv_ip4_addr("127.0.0.1", 0, (struct sockaddr_in *)&addr), 0);
	assert_int_equal(uv_tcp_bind(&p->listener, (struct sockaddr *)&addr, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&p->listener, 1, on_connection), 0);
	assert_int_equal(uv_tcp_getsockname(&p->listener, (struct sockaddr *)&addr, &len), 0);
	assert_int_equal(sl_frameconn_init(&p->client.fc, &p->loop, &ops), 0);
	assert_int_equal(sl_frameconn_connect(&p->client.fc, (struct sockaddr *)&addr, on_connect),
	                 0);
	run_until_true(p, &p->connected);
	run_until_true(p, &p->accepted);
}

static void on_listener_closed(uv_handle_t *h)
{
	container_of((uv_tcp_t *)h, struct pair, listener)->listener_closed = true;
}

/* Close what is still open; every handle must be gone, and each end closed once. */
static void pair_close(struct pair *p)
{
	sl_frameconn_close(&p->client.fc);
	sl_frameconn_close(&p->server.fc);
	uv_close((uv_handle_t *)&p->listener, on_listener_closed);
	assert_int_equal(uv_run(&p->loop, UV_RUN_DEFAULT), 0);
	assert_true(p->listener_closed);
	assert_int_equal(p->client.closed, 1);
	assert_int_equal(p->server.closed, 1);
	assert_int_equal(uv_loop_close(&p->loop), 0);
	sl_strbuf_release(&p->server.why);
	sl_strbuf_release(&p->client.why);
}

static void heartbeat(struct sl_strbuf *out, uint64_t dispatches)
{
	struct sl_proto_msg m;

	sl_proto_msg_init(&m, SL_PROTO_HEARTBEAT);
	m.u.heartbeat.dispatches = dispatches;
	assert_int_equal(sl_proto_encode(&m, out), 0);
	sl_proto_msg_release(&m);
}

static void write_all(struct end *e, const char *bytes, size_t len)
{
	struct sl_strbuf err = SL_STRBUF_INIT;

	if (sl_frameconn_write(&e->fc, bytes, len, &err))
		fail_msg("write: %s", err.buf);
	sl_strbuf_release(&err);
}

static void test_round_trip(void **state)
{
	struct sl_strbuf frame = SL_STRBUF_INIT;
	struct sl_proto_msg m;
	struct pair p;

	(void)state;
	pair_open(&p, true);
	sl_proto_msg_init(&m, SL_PROTO_REJECT);
	m.u.reject.reason = sl_xstrdup("bad token");
	assert_int_equal(sl_proto_encode(&m, &frame), 0);
	sl_proto_msg_release(&m);
	write_all(&p.server, frame.buf, frame.len);
	run_until(&p, &p.client.frames, 1);
	assert_int_equal(p.client.last_type, SL_PROTO_REJECT);

	sl_strbuf_reset(&frame);
	heartbeat(&frame, 42);
	write_all(&p.client, frame.buf, frame.len);
	run_until(&p, &p.server.frames, 1);
	assert_int_equal(p.server.last_type, SL_PROTO_HEARTBEAT);
	assert_int_equal(p.server.last_dispatches, 42);
	assert_true(p.server.fc.last_rx >= p.client.fc.last_tx);
	assert_int_equal(p.server.errors + p.client.errors, 0);
	sl_strbuf_release(&frame);
	pair_close(&p);
}

static void test_split_frame(void **state)
{
	struct sl_strbuf frame = SL_STRBUF_INIT;
	struct pair p;

	(void)state;
	pair_open(&p, true);
	heartbeat(&frame, 7);
	/* Three bytes of the length prefix, then the rest: two reads, one frame. */
	write_all(&p.client, frame.buf, 3);
	run_until(&p, &p.server.reads, 1);
	assert_int_equal(p.server.frames, 0);
	write_all(&p.client, frame.buf + 3, frame.len - 3);
	run_until(&p, &p.server.frames, 1);
	assert_int_equal(p.server.reads, 2);
	assert_int_equal(p.server.last_dispatches, 7);
	sl_strbuf_release(&frame);
	pair_close(&p);
}

static void test_many_frames_one_read(void **state)
{
	struct sl_strbuf frames = SL_STRBUF_INIT;
	struct pair p;

	(void)state;
	pair_open(&p, true);
	for (uint64_t i = 1; i <= 100; i++)
		heartbeat(&frames, i);
	write_all(&p.client, frames.buf, frames.len);
	run_until(&p, &p.server.frames, 100);
	assert_true(p.server.max_per_read > 1);
	assert_int_equal(p.server.last_dispatches, 100);
	sl_strbuf_release(&frames);
	pair_close(&p);
}

/* A frame that breaks a field rule is skipped; the next one still arrives. */
static void test_refused_frame_goes_on(void **state)
{
	/* HEARTBEAT without its required "dispatches". */
	static const char bad[] = "\0\0\0\3\4{}";
	struct sl_strbuf frames = SL_STRBUF_INIT;
	struct pair p;

	(void)state;
	pair_open(&p, true);
	sl_strbuf_add(&frames, bad, sizeof(bad) - 1);
	heartbeat(&frames, 3);
	write_all(&p.client, frames.buf, frames.len);
	run_until(&p, &p.server.frames, 1);
	assert_int_equal(p.server.refused, 1);
	assert_non_null(strstr(p.server.why.buf, "dispatches"));
	assert_int_equal(p.server.last_dispatches, 3);
	assert_int_equal(p.server.errors, 0);
	sl_strbuf_release(&frames);
	pair_close(&p);
}

/*
 * A broken stream is reported once, the owner closes, and the peer sees
 * the close; the frame before it was delivered, nothing after it.
 */
static void broken_stream(const char *bytes, size_t len, const char *reason)
{
	struct sl_strbuf frames = SL_STRBUF_INIT;
	struct pair p;

	pair_open(&p, true);
	heartbeat(&frames, 1);
	sl_strbuf_add(&frames, bytes, len);
	heartbeat(&frames, 2);
	write_all(&p.client, frames.buf, frames.len);
	run_until(&p, &p.client.errors, 1);
	assert_int_equal(p.server.errors, 1);
	assert_int_equal(p.server.error, SL_FRAMECONN_FAILED);
	assert_string_equal(p.server.why.buf, reason);
	assert_int_equal(p.server.frames, 1);
	assert_int_equal(p.server.last_dispatches, 1);
	assert_int_equal(p.client.error, SL_FRAMECONN_EOF);
	sl_strbuf_release(&frames);
	pair_close(&p);
}

static void test_oversized_frame(void **state)
{
	static const char big[] = "\0\x20\0\0\4";

	(void)state;
	broken_stream(big, sizeof(big) - 1,
	              "frame of 2097152 bytes exceeds the 1048576-byte limit");
}

static void test_garbage_frame(void **state)
{
	static const char garbage[] = "\0\0\0\3\x63{}";

	(void)state;
	broken_stream(garbage, sizeof(garbage) - 1, "frame type 99 is unknown");
}

static void test_peer_eof(void **state)
{
	struct pair p;

	(void)state;
	pair_open(&p, true);
	sl_frameconn_shutdown(&p.client.fc);
	run_until(&p, &p.server.errors, 1);
	assert_int_equal(p.server.error, SL_FRAMECONN_EOF);
	assert_int_equal(p.client.closed, 1);
	assert_int_equal(p.client.errors, 0);
	pair_close(&p);
}

/* What is queued when the writer shuts down still reaches the peer. */
static void test_shutdown_flushes(void **state)
{
	struct sl_strbuf frames = SL_STRBUF_INIT;
	struct pair p;

	(void)state;
	pair_open(&p, true);
	for (uint64_t i = 1; i <= 1000; i++)
		heartbeat(&frames, i);
	write_all(&p.client, frames.buf, frames.len);
	sl_frameconn_shutdown(&p.client.fc);
	run_until(&p, &p.server.errors, 1);
	assert_int_equal(p.server.frames, 1000);
	assert_int_equal(p.server.error, SL_FRAMECONN_EOF);
	sl_strbuf_release(&frames);
	pair_close(&p);
}

/*
 * Close with megabytes queued for a peer that does not read: every write
 * request is freed (LSan would tell), none is reported as an error, and
 * on_closed comes once.
 */
static void test_close_with_pending_writes(void **state)
{
	size_t len = 256 * 1024;
	char *chunk = sl_xcalloc(1, len);
	struct pair p;

	(void)state;
	pair_open(&p, false);
	for (int i = 0; i < 128; i++)
		write_all(&p.client, chunk, len);
	for (int i = 0; i < 10; i++)
		assert_int_not_equal(uv_run(&p.loop, UV_RUN_NOWAIT), 0);
	assert_true(uv_stream_get_write_queue_size((uv_stream_t *)&p.client.fc.tcp) > 0);
	sl_frameconn_close(&p.client.fc);
	sl_frameconn_close(&p.client.fc); /* again: nothing happens */
	pair_close(&p);
	assert_int_equal(p.client.errors, 0);
	free(chunk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_split_frame),
	    cmocka_unit_test(test_many_frames_one_read),
	    cmocka_unit_test(test_refused_frame_goes_on),
	    cmocka_unit_test(test_oversized_frame),
	    cmocka_unit_test(test_garbage_frame),
	    cmocka_unit_test(test_peer_eof),
	    cmocka_unit_test(test_shutdown_flushes),
	    cmocka_unit_test(test_close_with_pending_writes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
