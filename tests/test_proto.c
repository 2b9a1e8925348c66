#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/alloc.h"
#include "sluice/error.h"
#include "sluice/proto.h"
#include "sluice/strbuf.h"

#define COMMIT "0123456789abcdef0123456789abcdef01234567"

/* A fully populated message of each type. */
static void make_msg(struct sl_proto_msg *m, enum sl_proto_type type)
{
	sl_proto_msg_init(m, type);
	switch (type) {
	case SL_PROTO_HELLO:
		m->u.hello.version_min = 1;
		m->u.hello.version_max = 3;
		m->u.hello.token = sl_xstrdup("s3cret token");
		m->u.hello.worker_id = sl_xstrdup("worker-1");
		m->u.hello.host = sl_xstrdup("host.example.org");
		m->u.hello.slots = 8;
		sl_proto_strlist_push(&m->u.hello.queues, "default");
		sl_proto_strlist_push(&m->u.hello.queues, "gpu");
		sl_proto_strlist_push(&m->u.hello.running, "a.41");
		break;
	case SL_PROTO_WELCOME:
		m->u.welcome.version = 1;
		m->u.welcome.heartbeat_ms = 5000;
		m->u.welcome.lease_ms = 15000;
		m->u.welcome.scheduler_id = sl_xstrdup("sched_a");
		break;
	case SL_PROTO_REJECT:
		m->u.reject.reason = sl_xstrdup("bad token \"x\"\n\xc3\xa9");
		break;
	case SL_PROTO_HEARTBEAT:
		sl_proto_strlist_push(&m->u.heartbeat.running, "42");
		sl_proto_strlist_push(&m->u.heartbeat.running, "43");
		m->u.heartbeat.dispatches = 5;
		break;
	case SL_PROTO_DISPATCH:
		m->u.dispatch.attempt_id = sl_xstrdup("42");
		m->u.dispatch.fence = 7;
		m->u.dispatch.dag = sl_xstrdup("nightly_etl");
		m->u.dispatch.run_id = sl_xstrdup("scheduled__2026-01-01T02:00:00+00:00");
		m->u.dispatch.task = sl_xstrdup("extract");
		m->u.dispatch.try_number = 2;
		m->u.dispatch.command = sl_xstrdup("echo \"$X\" | tr a b");
		sl_proto_kvlist_push(&m->u.dispatch.env, "X", "1");
		sl_proto_kvlist_push(&m->u.dispatch.env, "A_B", "two words");
		m->u.dispatch.cwd = sl_xstrdup("jobs/etl");
		m->u.dispatch.commit = sl_xstrdup(COMMIT);
		m->u.dispatch.timeout_s = 3600;
		m->u.dispatch.log_limit = (uint64_t)1 << 40;
		m->u.dispatch.sensor = true;
		break;
	case SL_PROTO_LOG:
		m->u.log.attempt_id = sl_xstrdup("42");
		m->u.log.fence = 7;
		m->u.log.seq = 3;
		m->u.log.stream = SL_PROTO_STDERR;
		m->u.log.len = 6;
		m->u.log.data = sl_xmalloc(7);
		memcpy(m->u.log.data, "a\0\xff\n\"b", 7);
		break;
	case SL_PROTO_RESULT:
		m->u.result.attempt_id = sl_xstrdup("42");
		m->u.result.fence = 7;
		m->u.result.outcome = SL_OUTCOME_FAILED;
		m->u.result.exit_code = 3;
		m->u.result.signal = 0;
		m->u.result.started_ms = 1767232800000;
		m->u.result.ended_ms = 1767232801500;
		sl_proto_kvlist_push(&m->u.result.outputs, "rows", "1200");
		m->u.result.log_bytes = 123;
		m->u.result.truncated = true;
		break;
	case SL_PROTO_ACK:
		m->u.ack.attempt_id = sl_xstrdup("42");
		m->u.ack.fence = 7;
		break;
	case SL_PROTO_CANCEL:
		m->u.cancel.attempt_id = sl_xstrdup("42");
		m->u.cancel.fence = 7;
		m->u.cancel.reason = sl_xstrdup("cleared by user");
		break;
	case SL_PROTO_DRAIN:
		break;
	case SL_PROTO_NACK:
		m->u.nack.attempt_id = sl_xstrdup("42");
		m->u.nack.fence = 7;
		m->u.nack.reason =
		    sl_xstrdup("RESULT message: field \"outputs\" item 1 has a bad key");
		break;
	}
}

static void encode_ok(const struct sl_proto_msg *m, struct sl_strbuf *out)
{
	assert_int_equal(sl_proto_encode(m, out), 0);
}

/* Feed `frame` in pieces (step 0: random sizes) and expect one message back. */
static void decode_in_pieces(const struct sl_strbuf *frame, size_t step, struct sl_proto_msg *out)
{
	struct sl_proto_decoder dec;
	struct sl_strbuf err = SL_STRBUF_INIT;
	size_t off = 0;
	int got = 0;

	sl_proto_decoder_init(&dec, 0);
	while (off < frame->len) {
		size_t n = step ? step : 1 + (size_t)rand() % 17;
		int rc;

		if (n > frame->len - off)
			n = frame->len - off;
		assert_int_equal(sl_proto_decoder_feed(&dec, frame->buf + off, n), 0);
		off += n;
		rc = sl_proto_decoder_next(&dec, out, &err);
		assert_int_equal(rc, off == frame->len ? 1 : 0);
		got += rc;
	}
	assert_int_equal(got, 1);
	assert_int_equal(err.len, 0);
	sl_proto_decoder_release(&dec);
}

static void test_round_trip_every_type(void **state)
{
	(void)state;
	srand(1);
	for (int t = SL_PROTO_HELLO; t <= SL_PROTO_NACK; t++) {
		struct sl_proto_msg m, back = SL_PROTO_MSG_INIT;
		struct sl_strbuf frame = SL_STRBUF_INIT, again = SL_STRBUF_INIT;

		make_msg(&m, t);
		encode_ok(&m, &frame);
		assert_int_equal(frame.buf[4], t);
		for (int pass = 0; pass < 3; pass++) {
			decode_in_pieces(&frame, pass == 0 ? frame.len : pass == 1 ? 1 : 0, &back);
			assert_int_equal(back.type, t);
			/* Equal messages encode to equal bytes. */
			sl_strbuf_reset(&again);
			encode_ok(&back, &again);
			assert_int_equal(again.len, frame.len);
			assert_memory_equal(again.buf, frame.buf, frame.len);
		}
		sl_proto_msg_release(&back);
		sl_proto_msg_release(&m);
		sl_strbuf_release(&frame);
		sl_strbuf_release(&again);
	}
}

static void test_fields_survive(void **state)
{
	struct sl_proto_msg m, back = SL_PROTO_MSG_INIT;
	struct sl_strbuf frame = SL_STRBUF_INIT;

	(void)state;
	make_msg(&m, SL_PROTO_DISPATCH);
	encode_ok(&m, &frame);
	decode_in_pieces(&frame, 1, &back);
	assert_string_equal(back.u.dispatch.run_id, "scheduled__2026-01-01T02:00:00+00:00");
	assert_int_equal(back.u.dispatch.fence, 7);
	assert_int_equal(back.u.dispatch.env.nr, 2);
	assert_string_equal(back.u.dispatch.env.items[1].key, "A_B");
	assert_string_equal(back.u.dispatch.env.items[1].value, "two words");
	assert_true(back.u.dispatch.log_limit == (uint64_t)1 << 40);
	assert_true(back.u.dispatch.sensor);
	sl_proto_msg_release(&m);

	sl_strbuf_reset(&frame);
	make_msg(&m, SL_PROTO_LOG);
	encode_ok(&m, &frame);
	decode_in_pieces(&frame, 0, &back);
	assert_int_equal(back.u.log.len, 6);
	assert_memory_equal(back.u.log.data, "a\0\xff\n\"b", 6);
	assert_int_equal(back.u.log.stream, SL_PROTO_STDERR);
	sl_proto_msg_release(&m);

	sl_strbuf_reset(&frame);
	make_msg(&m, SL_PROTO_RESULT);
	m.u.result.exit_code = -1;
	m.u.result.signal = 9;
	encode_ok(&m, &frame);
	decode_in_pieces(&frame, 0, &back);
	assert_int_equal(back.u.result.exit_code, -1);
	assert_int_equal(back.u.result.signal, 9);
	assert_true(back.u.result.ended_ms == 1767232801500);
	assert_string_equal(back.u.result.outputs.items[0].value, "1200");
	sl_proto_msg_release(&m);
	sl_proto_msg_release(&back);
	sl_strbuf_release(&frame);
}

static void test_several_frames_in_one_buffer(void **state)
{
	struct sl_strbuf all = SL_STRBUF_INIT, err = SL_STRBUF_INIT;
	struct sl_proto_msg m = SL_PROTO_MSG_INIT;
	struct sl_proto_decoder dec;

	(void)state;
	for (int t = SL_PROTO_HELLO; t <= SL_PROTO_NACK; t++) {
		make_msg(&m, t);
		encode_ok(&m, &all);
		sl_proto_msg_release(&m);
	}
	sl_proto_decoder_init(&dec, 0);
	assert_int_equal(sl_proto_decoder_feed(&dec, all.buf, all.len), 0);
	for (int t = SL_PROTO_HELLO; t <= SL_PROTO_NACK; t++) {
		assert_int_equal(sl_proto_decoder_next(&dec, &m, &err), 1);
		assert_int_equal(m.type, t);
	}
	assert_int_equal(sl_proto_decoder_next(&dec, &m, &err), 0);
	assert_int_equal(m.type, 0);
	assert_int_equal(dec.buf.len, 0);
	/* Fed again after draining, it still works. */
	assert_int_equal(sl_proto_decoder_feed(&dec, all.buf, 10), 0);
	assert_int_equal(sl_proto_decoder_next(&dec, &m, &err), 0);
	assert_int_equal(err.len, 0);
	sl_proto_decoder_release(&dec);
	sl_strbuf_release(&all);
	sl_strbuf_release(&err);
}

static void test_oversized_rejected_before_buffering(void **state)
{
	struct sl_proto_decoder dec;
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_proto_msg m = SL_PROTO_MSG_INIT;
	const char prefix[] = "\x00\x10\x00\x01\x05{";

	(void)state;
	sl_proto_decoder_init(&dec, 0);
	assert_int_equal(sl_proto_decoder_feed(&dec, prefix, 3), 0);
	assert_int_equal(sl_proto_decoder_feed(&dec, prefix + 3, 3), SL_ETOOBIG);
	assert_int_equal(dec.buf.alloc, 0);
	assert_int_equal(sl_proto_decoder_next(&dec, &m, &err), SL_ETOOBIG);
	assert_string_equal(err.buf, "frame of 1048577 bytes exceeds the 1048576-byte limit");
	/* It stays failed. */
	assert_int_equal(sl_proto_decoder_feed(&dec, "\0\0\0\1\x0a", 5), SL_ETOOBIG);
	sl_strbuf_reset(&err);
	assert_int_equal(sl_proto_decoder_next(&dec, &m, &err), SL_ETOOBIG);
	assert_non_null(strstr(err.buf, "exceeds"));
	sl_proto_decoder_release(&dec);

	/* A configured limit; a frame of exactly the limit passes. */
	sl_proto_decoder_init(&dec, 2000);
	{
		struct sl_strbuf f = SL_STRBUF_INIT;

		make_msg(&m, SL_PROTO_LOG);
		m.u.log.len = 0;
		encode_ok(&m, &f);
		free(m.u.log.data);
		m.u.log.len = 2004 - f.len;
		m.u.log.data = sl_xcalloc(1, m.u.log.len + 1);
		sl_strbuf_reset(&f);
		encode_ok(&m, &f);
		assert_int_equal(f.len, 2004);
		sl_strbuf_reset(&err);
		assert_int_equal(sl_proto_decoder_feed(&dec, f.buf, f.len), 0);
		assert_int_equal(sl_proto_decoder_next(&dec, &m, &err), 1);
		sl_strbuf_reset(&f);
		m.u.log.len++;
		m.u.log.data = sl_xrealloc(m.u.log.data, m.u.log.len + 1);
		encode_ok(&m, &f);
		assert_int_equal(sl_proto_decoder_feed(&dec, f.buf, f.len), SL_ETOOBIG);
		assert_int_equal(sl_proto_decoder_next(&dec, &m, &err), SL_ETOOBIG);
		assert_string_equal(err.buf, "frame of 2001 bytes exceeds the 2000-byte limit");
		sl_strbuf_release(&f);
	}
	sl_proto_msg_release(&m);
	sl_proto_decoder_release(&dec);
	sl_strbuf_release(&err);
}

/* A small limit until the peer authenticates, then the default: both apply. */
static void test_max_frame_changed_after_init(void **state)
{
	struct sl_proto_decoder dec;
	struct sl_strbuf f = SL_STRBUF_INIT, err = SL_STRBUF_INIT;
	struct sl_proto_msg m = SL_PROTO_MSG_INIT;

	(void)state;
	make_msg(&m, SL_PROTO_LOG);
	free(m.u.log.data);
	m.u.log.len = 100 * 1024;
	m.u.log.data = sl_xcalloc(1, m.u.log.len + 1);
	encode_ok(&m, &f);
	sl_proto_msg_release(&m);

	sl_proto_decoder_init(&dec, 0);
	sl_proto_decoder_set_max_frame(&dec, 16 * 1024);
	assert_int_equal(sl_proto_decoder_feed(&dec, f.buf, 4), SL_ETOOBIG);
	assert_int_equal(sl_proto_decoder_next(&dec, &m, &err), SL_ETOOBIG);
	{
		char *want =
		    sl_xasprintf("frame of %zu bytes exceeds the 16384-byte limit", f.len - 4);

		assert_string_equal(err.buf, want);
		free(want);
	}
	sl_proto_decoder_release(&dec);

	/* Raised again (0: the default), the same frame passes. */
	sl_proto_decoder_init(&dec, 16 * 1024);
	sl_proto_decoder_set_max_frame(&dec, 0);
	assert_int_equal(dec.max_frame, SL_PROTO_MAX_FRAME);
	assert_int_equal(sl_proto_decoder_feed(&dec, f.buf, f.len), 0);
	assert_int_equal(sl_proto_decoder_next(&dec, &m, &err), 1);
	assert_int_equal(m.u.log.len, 100 * 1024);
	sl_proto_decoder_release(&dec);

	/* Lowered under a frame already partly buffered: that frame fails. */
	sl_proto_decoder_init(&dec, 0);
	assert_int_equal(sl_proto_decoder_feed(&dec, f.buf, 1000), 0);
	sl_proto_decoder_set_max_frame(&dec, 16 * 1024);
	sl_strbuf_reset(&err);
	assert_int_equal(sl_proto_decoder_next(&dec, &m, &err), SL_ETOOBIG);
	assert_non_null(strstr(err.buf, "exceeds the 16384-byte limit"));
	sl_proto_decoder_release(&dec);

	/* Below the floor is raised, as at init. */
	sl_proto_decoder_init(&dec, 0);
	sl_proto_decoder_set_max_frame(&dec, 10);
	assert_int_equal(dec.max_frame, SL_PROTO_MIN_MAX_FRAME);
	sl_proto_decoder_release(&dec);

	sl_proto_msg_release(&m);
	sl_strbuf_release(&f);
	sl_strbuf_release(&err);
}

static void test_undrained_decoder_fails(void **state)
{
	struct sl_proto_decoder dec;
	struct sl_strbuf f = SL_STRBUF_INIT, err = SL_STRBUF_INIT;
	struct sl_proto_msg m = SL_PROTO_MSG_INIT;
	int rc = 0;

	(void)state;
	make_msg(&m, SL_PROTO_DRAIN);
	encode_ok(&m, &f);
	sl_proto_decoder_init(&dec, 1024);
	for (int i = 0; i < 1000 && rc == 0; i++)
		rc = sl_proto_decoder_feed(&dec, f.buf, f.len);
	assert_int_equal(rc, SL_ETOOBIG);
	assert_int_equal(sl_proto_decoder_next(&dec, &m, &err), SL_ETOOBIG);
	assert_non_null(strstr(err.buf, "not drained"));
	sl_proto_decoder_release(&dec);
	sl_strbuf_release(&f);
	sl_strbuf_release(&err);
}

static void test_truncated_waits(void **state)
{
	struct sl_proto_decoder dec;
	struct sl_strbuf f = SL_STRBUF_INIT, err = SL_STRBUF_INIT;
	struct sl_proto_msg m;

	(void)state;
	make_msg(&m, SL_PROTO_RESULT);
	encode_ok(&m, &f);
	sl_proto_decoder_init(&dec, 0);
	assert_int_equal(sl_proto_decoder_feed(&dec, f.buf, f.len - 1), 0);
	assert_int_equal(sl_proto_decoder_next(&dec, &m, &err), 0);
	assert_int_equal(sl_proto_decoder_next(&dec, &m, &err), 0);
	assert_int_equal(sl_proto_decoder_feed(&dec, f.buf + f.len - 1, 1), 0);
	assert_int_equal(sl_proto_decoder_next(&dec, &m, &err), 1);
	assert_int_equal(m.type, SL_PROTO_RESULT);
	sl_proto_msg_release(&m);
	sl_proto_decoder_release(&dec);
	sl_strbuf_release(&f);
	sl_strbuf_release(&err);
}

/* Frame raw bytes by hand: type byte and payload. */
static void raw_frame(struct sl_strbuf *sb, int type, const char *payload, size_t len)
{
	uint32_t n = (uint32_t)len + 1;
	unsigned char b[5] = {n >> 24, n >> 16, n >> 8, n, (unsigned char)type};

	sl_strbuf_add(sb, b, 5);
	sl_strbuf_add(sb, payload, len);
}

static const char dispatch_ok[] =
    "{\"attempt_id\":\"42\",\"fencing_token\":7,\"dag\":\"d\",\"run_id\":\"r\",\"task\":\"t\","
    "\"try_number\":1,\"command\":\"true\",\"env\":[],\"cwd\":\"\",\"commit\":\"" COMMIT "\","
    "\"timeout_s\":0,\"log_limit\":0%s}";

static const struct bad_case {
	int type;
	const char *payload;
	const char *expect;
	size_t len; /* 0: strlen(payload) */
} bad_cases[] = {
    {SL_PROTO_HELLO, "{\"version_min\":1", "HELLO message: payload is not JSON"},
    {SL_PROTO_WELCOME, "[1]", "WELCOME message: payload is not a JSON object"},
    {SL_PROTO_HELLO, "{\"version_min\":1,\"version_min\":1}", "duplicate"},
    {SL_PROTO_HELLO, "{\"version_min\":\"1\"}",
     "HELLO message: field \"version_min\" must be an integer from 1 to 65535"},
    {SL_PROTO_HELLO, "{\"version_min\":2,\"version_max\":1}",
     "HELLO message: field \"version_max\" must be an integer from 2 to 65535"},
    {SL_PROTO_HELLO, "{\"version_min\":1,\"version_max\":1}",
     "HELLO message: field \"token\" is missing"},
    {SL_PROTO_HELLO, "{\"version_min\":1,\"version_max\":1,\"token\":\"t\",\"worker_id\":\"a b\"}",
     "HELLO message: field \"worker_id\" must be an id of 1 to 200 characters from "
     "[A-Za-z0-9_.-]"},
    {SL_PROTO_HELLO,
     "{\"version_min\":1,\"version_max\":1,\"token\":\"t\",\"worker_id\":\"w\",\"host\":\"h\","
     "\"slots\":0}",
     "HELLO message: field \"slots\" must be an integer from 1 to 65535"},
    {SL_PROTO_HELLO,
     "{\"version_min\":1,\"version_max\":1,\"token\":\"t\",\"worker_id\":\"w\",\"host\":\"h\","
     "\"slots\":1,\"queues\":[\"ok\",\"no/slash\"]}",
     "HELLO message: field \"queues\" item 2 must be an id"},
    {SL_PROTO_WELCOME, "{\"version\":1,\"heartbeat_ms\":5000.5}",
     "WELCOME message: field \"heartbeat_ms\" must be an integer from 100 to 3600000"},
    {SL_PROTO_REJECT, "{\"reason\":\"\"}",
     "REJECT message: field \"reason\" must be a non-empty string without NUL bytes"},
    {SL_PROTO_REJECT, "{\"reason\":\"a\\u0000b\"}", "REJECT message: payload is not JSON"},
    {SL_PROTO_HEARTBEAT, "{\"running\":{}}",
     "HEARTBEAT message: field \"running\" must be an array"},
    {SL_PROTO_DISPATCH, "{\"attempt_id\":\"42\",\"fencing_token\":0}",
     "DISPATCH message: field \"fencing_token\" must be an integer from 1 to"},
    {SL_PROTO_DISPATCH, "{\"attempt_id\":\"42\",\"fencing_token\":-1}",
     "DISPATCH message: field \"fencing_token\" must be an integer"},
    {SL_PROTO_DISPATCH,
     "{\"attempt_id\":\"42\",\"fencing_token\":7,\"dag\":\"d\",\"run_id\":\"r;x\"}",
     "DISPATCH message: field \"run_id\" must be a run id of 1 to 250 characters from "
     "[A-Za-z0-9_.:+~-]"},
    {SL_PROTO_ACK, "{\"attempt_id\":\"\",\"fencing_token\":1}",
     "ACK message: field \"attempt_id\" must be an id"},
    {SL_PROTO_ACK, "{\"fencing_token\":1}", "ACK message: field \"attempt_id\" is missing"},
    {SL_PROTO_CANCEL, "{\"attempt_id\":\"1\",\"fencing_token\":1}",
     "CANCEL message: field \"reason\" is missing"},
    {SL_PROTO_RESULT, "{\"attempt_id\":\"1\",\"fencing_token\":1,\"outcome\":\"ok\"}",
     "RESULT message: field \"outcome\" must be one of success, failed"},
    {SL_PROTO_RESULT,
     "{\"attempt_id\":\"1\",\"fencing_token\":1,\"outcome\":\"failed\",\"exit_code\":256}",
     "RESULT message: field \"exit_code\" must be an integer from 0 to 255"},
    {SL_PROTO_RESULT,
     "{\"attempt_id\":\"1\",\"fencing_token\":1,\"outcome\":\"failed\",\"exit_code\":1,"
     "\"signal\":9,\"started_ms\":5,\"ended_ms\":6,\"log_bytes\":0}",
     "RESULT message: field \"signal\" cannot be given together with \"exit_code\""},
    {SL_PROTO_RESULT,
     "{\"attempt_id\":\"1\",\"fencing_token\":1,\"outcome\":\"failed\",\"started_ms\":5,"
     "\"ended_ms\":4,\"log_bytes\":0}",
     "RESULT message: field \"ended_ms\" is before \"started_ms\""},
    {SL_PROTO_RESULT,
     "{\"attempt_id\":\"1\",\"fencing_token\":1,\"outcome\":\"failed\",\"started_ms\":5,"
     "\"ended_ms\":6,\"log_bytes\":0,\"outputs\":[[\"k\"]]}",
     "RESULT message: field \"outputs\" item 1 must be a [key, value] pair"},
    {SL_PROTO_RESULT,
     "{\"attempt_id\":\"1\",\"fencing_token\":1,\"outcome\":\"failed\",\"started_ms\":5,"
     "\"ended_ms\":6,\"log_bytes\":0,\"truncated\":1}",
     "RESULT message: field \"truncated\" must be true or false"},
    {0, "{}", "frame type 0 is unknown"},
    {12, "{}", "frame type 12 is unknown"},
    {SL_PROTO_LOG, "\0\0\0\x09{}", "LOG message: header length runs past the frame", 6},
    {SL_PROTO_LOG, "\0\0", "LOG message: header length runs past the frame", 2},
};

static void expect_error(int type, const char *payload, size_t len, const char *expect)
{
	struct sl_proto_decoder dec;
	struct sl_strbuf f = SL_STRBUF_INIT, err = SL_STRBUF_INIT;
	struct sl_proto_msg m = SL_PROTO_MSG_INIT;
	int rc;

	raw_frame(&f, type, payload, len);
	sl_proto_decoder_init(&dec, 0);
	assert_int_equal(sl_proto_decoder_feed(&dec, f.buf, f.len), 0);
	rc = sl_proto_decoder_next(&dec, &m, &err);
	if ((rc != SL_EINVAL && rc != SL_PROTO_REFUSED) || !strstr(err.buf, expect))
		fail_msg("payload %s: rc %d, error \"%s\", expected \"%s\"", payload, rc, err.buf,
		         expect);
	assert_int_equal(m.type, 0);
	sl_strbuf_reset(&err);
	if (rc == SL_PROTO_REFUSED) {
		/* A field broke a rule in a whole frame: only that frame is lost. */
		assert_non_null(sl_proto_decoder_refusal(&dec));
		assert_int_equal(sl_proto_decoder_refusal(&dec)->type, type);
		assert_int_equal(sl_proto_decoder_feed(&dec, "\0\0\0\3\x0a{}", 7), 0);
		assert_int_equal(sl_proto_decoder_next(&dec, &m, &err), 1);
		assert_int_equal(m.type, SL_PROTO_DRAIN);
		assert_null(sl_proto_decoder_refusal(&dec));
	} else {
		/* The stream is broken: failed for good, even with a valid frame after it. */
		assert_int_equal(sl_proto_decoder_feed(&dec, "\0\0\0\3\x0a{}", 7), SL_EINVAL);
		assert_int_equal(sl_proto_decoder_next(&dec, &m, &err), SL_EINVAL);
		assert_non_null(strstr(err.buf, expect));
	}
	sl_proto_decoder_release(&dec);
	sl_strbuf_release(&f);
	sl_strbuf_release(&err);
}

static void test_malformed_frames(void **state)
{
	struct sl_strbuf p = SL_STRBUF_INIT;

	(void)state;
	for (size_t i = 0; i < SL_ARRAY_SIZE(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		size_t len = c->len ? c->len : strlen(c->payload);

		expect_error(c->type, c->payload, len, c->expect);
	}
	expect_error(SL_PROTO_HELLO, "", 0, "HELLO message: payload is not JSON");

	/* DISPATCH: the valid body passes; each broken field is named. */
	sl_strbuf_addf(&p, dispatch_ok, "");
	{
		struct sl_proto_decoder dec;
		struct sl_strbuf f = SL_STRBUF_INIT, err = SL_STRBUF_INIT;
		struct sl_proto_msg m = SL_PROTO_MSG_INIT;

		raw_frame(&f, SL_PROTO_DISPATCH, p.buf, p.len);
		sl_proto_decoder_init(&dec, 0);
		sl_proto_decoder_feed(&dec, f.buf, f.len);
		assert_int_equal(sl_proto_decoder_next(&dec, &m, &err), 1);
		assert_false(m.u.dispatch.sensor);
		assert_string_equal(m.u.dispatch.cwd, "");
		sl_proto_msg_release(&m);
		sl_proto_decoder_release(&dec);
		sl_strbuf_release(&f);
		sl_strbuf_release(&err);
	}
	sl_strbuf_reset(&p);
	sl_strbuf_addf(&p, dispatch_ok, ",\"unknown_future_field\":{\"x\":[1]}");
	{
		struct sl_proto_decoder dec;
		struct sl_strbuf f = SL_STRBUF_INIT, err = SL_STRBUF_INIT;
		struct sl_proto_msg m = SL_PROTO_MSG_INIT;

		raw_frame(&f, SL_PROTO_DISPATCH, p.buf, p.len);
		sl_proto_decoder_init(&dec, 0);
		sl_proto_decoder_feed(&dec, f.buf, f.len);
		assert_int_equal(sl_proto_decoder_next(&dec, &m, &err), 1);
		sl_proto_msg_release(&m);
		sl_proto_decoder_release(&dec);
		sl_strbuf_release(&f);
		sl_strbuf_release(&err);
	}
	sl_strbuf_reset(&p);
	sl_strbuf_adds(&p,
	               "{\"attempt_id\":\"42\",\"fencing_token\":7,\"dag\":\"d\",\"run_id\":\"r\","
	               "\"task\":\"t\",\"try_number\":1,\"command\":\"true\","
	               "\"env\":[[\"1X\",\"v\"]]}");
	expect_error(SL_PROTO_DISPATCH, p.buf, p.len,
	             "DISPATCH message: field \"env\" item 1 has a bad key: an environment name");
	sl_strbuf_reset(&p);
	sl_strbuf_adds(&p,
	               "{\"attempt_id\":\"42\",\"fencing_token\":7,\"dag\":\"d\",\"run_id\":\"r\","
	               "\"task\":\"t\",\"try_number\":1,\"command\":\"true\",\"env\":[],"
	               "\"cwd\":\"\",\"commit\":\"ABC\"}");
	expect_error(SL_PROTO_DISPATCH, p.buf, p.len,
	             "DISPATCH message: field \"commit\" must be a commit id");
	sl_strbuf_reset(&p);
	sl_strbuf_addf(&p, "{\"attempt_id\":\"%0201d\",\"fencing_token\":7}", 1);
	expect_error(SL_PROTO_ACK, p.buf, p.len, "ACK message: field \"attempt_id\" must be an id");
	sl_strbuf_release(&p);
}

static void test_encode_refuses_what_it_cannot_carry(void **state)
{
	struct sl_proto_msg m;
	struct sl_strbuf out = SL_STRBUF_INIT;

	(void)state;
	make_msg(&m, SL_PROTO_ACK);
	free(m.u.ack.attempt_id);
	m.u.ack.attempt_id = NULL;
	assert_int_equal(sl_proto_encode(&m, &out), SL_EINVAL);
	m.u.ack.attempt_id = sl_xstrdup("\xff");
	assert_int_equal(sl_proto_encode(&m, &out), SL_EINVAL);
	sl_proto_msg_release(&m);
	sl_proto_msg_init(&m, 0);
	assert_int_equal(sl_proto_encode(&m, &out), SL_EINVAL);
	assert_int_equal(out.len, 0);
	/* A RESULT whose outcome nobody set is not taken for a success. */
	make_msg(&m, SL_PROTO_RESULT);
	m.u.result.outcome = 0;
	assert_int_equal(sl_proto_encode(&m, &out), SL_EINVAL);
	sl_proto_msg_release(&m);
	sl_strbuf_release(&out);
}

/* Every outcome crosses the wire by the name the database stores. */
static void test_outcomes_round_trip(void **state)
{
	(void)state;
	for (int o = SL_OUTCOME_SUCCESS; o <= SL_OUTCOME_LOST; o++) {
		struct sl_proto_msg m, back = SL_PROTO_MSG_INIT;
		struct sl_strbuf out = SL_STRBUF_INIT, err = SL_STRBUF_INIT;
		struct sl_proto_decoder dec;
		enum sl_outcome parsed;

		make_msg(&m, SL_PROTO_RESULT);
		m.u.result.outcome = (enum sl_outcome)o;
		assert_int_equal(sl_proto_encode(&m, &out), 0);
		/* The frame starts with binary lengths: search it as bytes. */
		assert_non_null(memmem(out.buf, out.len, sl_outcome_name((enum sl_outcome)o),
		                       strlen(sl_outcome_name((enum sl_outcome)o))));
		sl_proto_decoder_init(&dec, 0);
		sl_proto_decoder_feed(&dec, out.buf, out.len);
		assert_int_equal(sl_proto_decoder_next(&dec, &back, &err), 1);
		assert_int_equal(back.u.result.outcome, o);
		assert_true(sl_outcome_parse(sl_outcome_name((enum sl_outcome)o),
		                             strlen(sl_outcome_name((enum sl_outcome)o)), &parsed));
		assert_int_equal(parsed, o);
		sl_proto_decoder_release(&dec);
		sl_proto_msg_release(&back);
		sl_proto_msg_release(&m);
		sl_strbuf_release(&out);
		sl_strbuf_release(&err);
	}
	assert_false(sl_outcome_valid(0));
	assert_string_equal(sl_outcome_name(0), "unknown");
}

/* What a refused frame tells the receiver, to answer for its attempt. */
static void test_refusal_names_the_attempt(void **state)
{
	static const char bad_key[] =
	    "{\"attempt_id\":\"17\",\"fencing_token\":9,\"outcome\":\"success\",\"started_ms\":5,"
	    "\"ended_ms\":6,\"log_bytes\":0,\"truncated\":false,\"outputs\":[[\"a b\",\"v\"]]}";
	static const char bad_ref[] = "{\"attempt_id\":\"1 7\",\"fencing_token\":0}";
	struct sl_proto_decoder dec;
	struct sl_strbuf f = SL_STRBUF_INIT, err = SL_STRBUF_INIT;
	struct sl_proto_msg m = SL_PROTO_MSG_INIT;
	const struct sl_proto_refusal *r;

	(void)state;
	raw_frame(&f, SL_PROTO_RESULT, bad_key, strlen(bad_key));
	raw_frame(&f, SL_PROTO_ACK, bad_ref, strlen(bad_ref));
	sl_proto_decoder_init(&dec, 0);
	assert_int_equal(sl_proto_decoder_feed(&dec, f.buf, f.len), 0);
	assert_int_equal(sl_proto_decoder_next(&dec, &m, &err), SL_PROTO_REFUSED);
	assert_non_null(strstr(err.buf, "RESULT message: field \"outputs\" item 1 has a bad key"));
	r = sl_proto_decoder_refusal(&dec);
	assert_int_equal(r->type, SL_PROTO_RESULT);
	assert_string_equal(r->attempt_id, "17");
	assert_int_equal(r->fence, 9);
	sl_strbuf_reset(&err);
	assert_int_equal(sl_proto_decoder_next(&dec, &m, &err), SL_PROTO_REFUSED);
	r = sl_proto_decoder_refusal(&dec);
	assert_int_equal(r->type, SL_PROTO_ACK);
	assert_null(r->attempt_id);
	assert_int_equal(r->fence, 0);
	assert_int_equal(sl_proto_decoder_next(&dec, &m, &err), 0);
	sl_proto_decoder_release(&dec);
	sl_strbuf_release(&f);
	sl_strbuf_release(&err);
}

/* A sender checks what it built from data it does not control, as its peer will. */
static void test_encode_checked(void **state)
{
	struct sl_proto_msg m;
	struct sl_strbuf out = SL_STRBUF_INIT, err = SL_STRBUF_INIT;
	char *big = sl_xmalloc(SL_PROTO_TEXT_MAX + 2);

	(void)state;
	make_msg(&m, SL_PROTO_DISPATCH);
	assert_int_equal(sl_proto_encode_checked(&m, &out, &err), 0);
	assert_true(out.len > 0);
	sl_strbuf_reset(&out);
	memset(big, 'x', SL_PROTO_TEXT_MAX + 1);
	big[SL_PROTO_TEXT_MAX + 1] = '\0';
	free(m.u.dispatch.command);
	m.u.dispatch.command = big;
	assert_int_equal(sl_proto_encode_checked(&m, &out, &err), SL_EINVAL);
	assert_non_null(strstr(err.buf, "DISPATCH message: field \"command\""));
	assert_int_equal(out.len, 0);
	big[SL_PROTO_TEXT_MAX] = '\0';
	for (int i = 0; i < 5; i++)
		sl_proto_kvlist_push(&m.u.dispatch.env, "BIG", big);
	sl_strbuf_reset(&err);
	assert_int_equal(sl_proto_encode_checked(&m, &out, &err), SL_ETOOBIG);
	assert_non_null(strstr(err.buf, "exceeds the 1048576-byte limit"));
	assert_int_equal(out.len, 0);
	sl_proto_msg_release(&m);

	make_msg(&m, SL_PROTO_RESULT);
	sl_proto_kvlist_push(&m.u.result.outputs, "name", "caf\xe9");
	sl_strbuf_reset(&err);
	assert_int_equal(sl_proto_encode_checked(&m, &out, &err), SL_EINVAL);
	assert_non_null(strstr(err.buf, "not UTF-8"));
	sl_proto_msg_release(&m);
	sl_strbuf_release(&out);
	sl_strbuf_release(&err);
}

static void test_token_equal(void **state)
{
	(void)state;
	assert_true(sl_proto_token_equal("abc", 3, "abc", 3));
	assert_false(sl_proto_token_equal("abd", 3, "abc", 3));
	assert_false(sl_proto_token_equal("ab", 2, "abc", 3));
	assert_false(sl_proto_token_equal("abcabc", 6, "abc", 3));
	assert_false(sl_proto_token_equal("", 0, "abc", 3));
	assert_false(sl_proto_token_equal("", 0, "", 0));
	assert_false(sl_proto_token_equal("x", 1, "", 0));
	assert_true(sl_proto_token_equal("a\0b", 3, "a\0b", 3));
	assert_false(sl_proto_token_equal("a\0c", 3, "a\0b", 3));
}

static void test_version_choose(void **state)
{
	(void)state;
	assert_int_equal(sl_proto_version_choose(2, 2), 2);
	assert_int_equal(sl_proto_version_choose(1, 7), 2);
	assert_int_equal(sl_proto_version_choose(0, 2), 2);
	assert_int_equal(sl_proto_version_choose(1, 1), -1);
	assert_int_equal(sl_proto_version_choose(3, 7), -1);
	assert_int_equal(sl_proto_version_choose(0, 0), -1);
	assert_int_equal(sl_proto_version_choose(1, 0), -1);
	assert_string_equal(sl_proto_type_name(SL_PROTO_DISPATCH), "DISPATCH");
	assert_string_equal(sl_proto_type_name(0), "unknown");
	assert_string_equal(sl_proto_type_name(99), "unknown");
}

/*
 * With SL_PROTO_CORPUS=DIR, write each message type's frame there as a seed
 * for tests/fuzz/fuzz_proto (how tests/fuzz/corpus/proto/ was made). The
 * target reads a chunk-size byte first: 7 feeds 8 bytes at a time, 128 all.
 */
static void test_write_corpus(void **state)
{
	const char *dir = getenv("SL_PROTO_CORPUS");
	struct sl_strbuf all = SL_STRBUF_INIT;

	(void)state;
	if (!dir)
		return;
	for (int t = SL_PROTO_HELLO; t <= SL_PROTO_NACK; t++) {
		struct sl_proto_msg m;
		struct sl_strbuf f = SL_STRBUF_INIT;
		char *path = sl_xasprintf("%s/%02d-%s", dir, t, sl_proto_type_name(t));
		FILE *fp = fopen(path, "wb");

		make_msg(&m, t);
		encode_ok(&m, &f);
		sl_strbuf_add(&all, f.buf, f.len);
		assert_non_null(fp);
		fputc(7, fp);
		assert_int_equal(fwrite(f.buf, 1, f.len, fp), f.len);
		fclose(fp);
		free(path);
		sl_proto_msg_release(&m);
		sl_strbuf_release(&f);
	}
	{
		char *path = sl_xasprintf("%s/%02d-all", dir, SL_PROTO_NACK + 1);
		FILE *fp = fopen(path, "wb");

		assert_non_null(fp);
		fputc(128, fp);
		assert_int_equal(fwrite(all.buf, 1, all.len, fp), all.len);
		fclose(fp);
		free(path);
	}
	sl_strbuf_release(&all);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip_every_type),
	    cmocka_unit_test(test_fields_survive),
	    cmocka_unit_test(test_several_frames_in_one_buffer),
	    cmocka_unit_test(test_oversized_rejected_before_buffering),
	    cmocka_unit_test(test_max_frame_changed_after_init),
	    cmocka_unit_test(test_undrained_decoder_fails),
	    cmocka_unit_test(test_truncated_waits),
	    cmocka_unit_test(test_malformed_frames),
	    cmocka_unit_test(test_encode_refuses_what_it_cannot_carry),
	    cmocka_unit_test(test_outcomes_round_trip),
	    cmocka_unit_test(test_refusal_names_the_attempt),
	    cmocka_unit_test(test_encode_checked),
	    cmocka_unit_test(test_token_equal),
	    cmocka_unit_test(test_version_choose),
	    cmocka_unit_test(test_write_corpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
