/*
 * libFuzzer target for the job protocol decoder. The first input byte picks a
 * chunk size; the rest is a connection's byte stream, fed in chunks. Every
 * call must end in messages, refused frames (with a reason, the decoder going
 * on), a wait for more, or an error with a reason after which the decoder
 * stays failed; every decoded message must encode, and its
 * frame must decode to a message that encodes to the same bytes.
 *
 * Then the same frames, and a LOG frame carrying the whole input, cross a
 * TLS connection (the path sl_frameconn takes with TLS): written in pieces
 * whose sizes the input chooses (so frames are cut across TLS records),
 * the ciphertext fed to the other side in pieces of other sizes (so
 * records are cut across reads), and decoded there: the frames that come
 * out must be those that went in, byte for byte. The two TLS sessions are
 * made once (a handshake is far slower than an execution) and kept in
 * step: every execution consumes all it writes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/alloc.h"
#include "sluice/error.h"
#include "sluice/proto.h"
#include "sluice/strbuf.h"
#include "sluice/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The worker's end and the scheduler's, established once. */
static struct sl_tls *client, *server;

/* Move all `from` has for `to`; abort on any TLS error. */
static void carry(struct sl_tls *from, struct sl_tls *to)
{
	struct sl_strbuf bytes = SL_STRBUF_INIT, plain = SL_STRBUF_INIT, err = SL_STRBUF_INIT;

	sl_tls_take(from, &bytes);
	if (bytes.len && sl_tls_feed(to, bytes.buf, bytes.len, &plain, &err) != 0)
		abort();
	sl_strbuf_release(&bytes);
	sl_strbuf_release(&plain);
	sl_strbuf_release(&err);
}

static void tls_pair_once(void)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_tls_ctx *sctx, *cctx;

	if (client)
		return;
	if (sl_tls_ctx_server(&sctx, SLUICE_TLS_FIXTURES "/server.pem",
	                      SLUICE_TLS_FIXTURES "/server.key", &err) ||
	    sl_tls_ctx_client(&cctx, SLUICE_TLS_FIXTURES "/ca.pem", NULL, &err) ||
	    sl_tls_new(&server, sctx, NULL, &err) || sl_tls_new(&client, cctx, "127.0.0.1", &err) ||
	    sl_tls_start(client, &err))
		abort();
	for (int i = 0; i < 4 && !(sl_tls_established(client) && sl_tls_established(server)); i++) {
		carry(client, server);
		carry(server, client);
	}
	if (!sl_tls_established(client) || !sl_tls_established(server))
		abort();
	/* The contexts live as long as the sessions: the whole run. */
	sl_strbuf_release(&err);
}

/* Piece sizes from the input, 1 to `max`, cycling through it. */
static size_t piece(const uint8_t *data, size_t size, size_t *at, size_t max)
{
	size_t n = 1 + (size_t)data[*at % size] * 131 % max;

	(*at)++;
	return n;
}

/*
 * `frames` written to the client in pieces, the ciphertext fed to the
 * server in pieces, the plaintext decoded: the same frames must come out.
 */
static void check_tls(const uint8_t *data, size_t size, const struct sl_strbuf *frames)
{
	struct sl_strbuf cipher = SL_STRBUF_INIT, plain = SL_STRBUF_INIT, err = SL_STRBUF_INIT,
	                 out = SL_STRBUF_INIT;
	struct sl_proto_msg msg = SL_PROTO_MSG_INIT;
	struct sl_proto_decoder dec;
	size_t at = 0, off, n;
	int rc;

	tls_pair_once();
	for (off = 0; off < frames->len; off += n) {
		n = piece(data, size, &at, 3000);
		if (n > frames->len - off)
			n = frames->len - off;
		if (sl_tls_write(client, frames->buf + off, n, &err))
			abort();
	}
	sl_tls_take(client, &cipher);
	for (off = 0; off < cipher.len; off += n) {
		n = piece(data, size, &at, 700);
		if (n > cipher.len - off)
			n = cipher.len - off;
		if (sl_tls_feed(server, cipher.buf + off, n, &plain, &err))
			abort();
	}
	sl_proto_decoder_init(&dec, 0);
	if (sl_proto_decoder_feed(&dec, plain.buf, plain.len))
		abort();
	while ((rc = sl_proto_decoder_next(&dec, &msg, &err)) == 1)
		if (sl_proto_encode(&msg, &out))
			abort();
	if (rc != 0 || dec.buf.len || out.len != frames->len ||
	    memcmp(out.buf, frames->buf, out.len) != 0)
		abort();
	sl_proto_msg_release(&msg);
	sl_proto_decoder_release(&dec);
	sl_strbuf_release(&cipher);
	sl_strbuf_release(&plain);
	sl_strbuf_release(&err);
	sl_strbuf_release(&out);
}

/* Appends the message's frame to `frames`. */
static void check_stable(const struct sl_proto_msg *msg, struct sl_strbuf *frames)
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
	sl_strbuf_add(frames, one.buf, one.len);
	sl_proto_msg_release(&back);
	sl_proto_decoder_release(&dec);
	sl_strbuf_release(&one);
	sl_strbuf_release(&two);
	sl_strbuf_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_strbuf err = SL_STRBUF_INIT, frames = SL_STRBUF_INIT;
	struct sl_proto_msg msg = SL_PROTO_MSG_INIT, log;
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
				check_stable(&msg, &frames);
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
	/* The whole input as a LOG's raw bytes: a frame of any content and size. */
	sl_proto_msg_init(&log, SL_PROTO_LOG);
	log.u.log.attempt_id = sl_xstrdup("42");
	log.u.log.fence = 7;
	log.u.log.seq = 1;
	log.u.log.stream = SL_PROTO_STDOUT;
	log.u.log.data = sl_xmalloc(size + 1);
	memcpy(log.u.log.data, data, size);
	log.u.log.data[size] = '\0';
	log.u.log.len = size;
	if (sl_proto_encode(&log, &frames))
		abort();
	check_tls(data, size, &frames);
	sl_proto_msg_release(&log);
	sl_proto_msg_release(&msg);
	sl_proto_decoder_release(&dec);
	sl_strbuf_release(&err);
	sl_strbuf_release(&frames);
	return 0;
}
