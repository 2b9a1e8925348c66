/*
 * libFuzzer target for the job protocol decoder. The first input byte picks a
 * chunk size; the rest is a connection's byte stream, fed in chunks. Every
 * call must end in messages, refused frames (with a reason, the decoder going
 * on), a wait for more, or an error with a reason after which the decoder
 * stays failed; every decoded message must encode, and its
 * frame must decode to a message that encodes to the same bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/error.h"
#include "sluice/proto.h"
#include "sluice/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_stable(const struct sl_proto_msg *msg)
{
	struct sl_strbuf one = SL_STRBUF_INIT, two = SL_STRBUF_INIT, err = SL_STRBUF_INIT;
	struct sl_proto_msg back = SL_PROTO_MSG_INIT;
	struct sl_proto_decoder dec;

	if (sl_proto_encode(msg, &one) != 0)
		abort();
	sl_proto_decoder_init(&dec, 0);
	if (sl_proto_decoder_feed(&dec, one.buf, one.len) != 0 ||
	    sl_proto_decoder_next(&dec, &back, &err) != 1 ||
	    sl_proto_decoder_next(&dec, &back, &err) != 0)
		abort();
	/* The second call released `back`; decode once more to keep it. */
	sl_proto_decoder_release(&dec);
	sl_proto_decoder_init(&dec, 0);
	if (sl_proto_decoder_feed(&dec, one.buf, one.len) != 0 ||
	    sl_proto_decoder_next(&dec, &back, &err) != 1)
		abort();
	if (back.type != msg->type || sl_proto_encode(&back, &two) != 0 || two.len != one.len ||
	    memcmp(one.buf, two.buf, one.len) != 0)
		abort();
	sl_proto_msg_release(&back);
	sl_proto_decoder_release(&dec);
	sl_strbuf_release(&one);
	sl_strbuf_release(&two);
	sl_strbuf_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_proto_msg msg = SL_PROTO_MSG_INIT;
	struct sl_proto_decoder dec;
	size_t chunk, off = 1;
	int rc = 0;

	if (size < 1)
		return 0;
	chunk = 1 + data[0] % 64;
	if (data[0] >= 128)
		chunk = size;
	/* A small limit, so that oversized frames are easy to reach. */
	sl_proto_decoder_init(&dec, 4096);
	while (off < size && rc >= 0) {
		size_t n = size - off < chunk ? size - off : chunk;

		rc = sl_proto_decoder_feed(&dec, data + off, n);
		off += n;
		while (rc == 0 && (rc = sl_proto_decoder_next(&dec, &msg, &err)) >= 1) {
			/* A refused frame has a reason and no message; the decoder goes on. */
			if (rc == 1)
				check_stable(&msg);
			else if (rc != SL_PROTO_REFUSED || err.len == 0 || dec.failed ||
			         msg.type != 0 || !sl_proto_decoder_refusal(&dec))
				abort();
			sl_strbuf_reset(&err);
			rc = 0;
		}
	}
	if (rc < 0) {
		/* A failure has a reason, yields no message and is final. */
		if (dec.failed == 0 || msg.type != 0)
			abort();
		sl_strbuf_reset(&err);
		if (sl_proto_decoder_next(&dec, &msg, &err) >= 0 || err.len == 0)
			abort();
	}
	if (dec.buf.len > 4 + dec.max_frame + chunk)
		abort();
	sl_proto_msg_release(&msg);
	sl_proto_decoder_release(&dec);
	sl_strbuf_release(&err);
	return 0;
}
