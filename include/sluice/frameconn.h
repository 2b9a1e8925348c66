#ifndef SLUICE_FRAMECONN_H
#define SLUICE_FRAMECONN_H

#ifndef SLUICE_LAYER_EXEC
#error "sluice/frameconn.h: this target does not link the exec layer (docs/architecture.md)"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "sluice/proto.h"
#include "sluice/strbuf.h"
#include "sluice/tls.h"

/**
 * One framed job-protocol connection on a libuv loop (docs/protocol.md):
 * the transport under both daemons. It owns the socket, reads and feeds
 * an sl_proto_decoder, hands whole decoded frames to its owner, writes
 * the owner's encoded frames, and closes. The protocol itself (HELLO,
 * WELCOME, DISPATCH, RESULT, heartbeats, leases) stays with the owner.
 *
 * The owner sees frames and never the socket: bytes enter through one
 * read path and leave through one write path inside frameconn.c. With TLS
 * (sl_frameconn_set_tls) the read path is socket -> sl_tls_feed -> decoder
 * and the write path frames -> sl_tls_write -> socket; the owner sees the
 * same frames and callbacks either way, and a TLS failure as on_error with
 * SL_FRAMECONN_TLS. A client's frames written before its TLS handshake has
 * completed and verified the server are kept and sent only then: a worker
 * may send its HELLO as soon as it is connected, and its token leaves only
 * for a verified scheduler.
 *
 * The owner embeds the struct and finds itself back from the callbacks
 * with container_of. Memory: once sl_frameconn_init has succeeded, the
 * struct must stay in place until `on_closed` has been called, which
 * happens exactly once, after sl_frameconn_close or sl_frameconn_shutdown,
 * and after which no callback comes; the owner frees it there at the
 * earliest.
 */

struct sl_frameconn;

/** Why a connection cannot go on (sl_frameconn_ops.on_error). */
enum sl_frameconn_error {
	SL_FRAMECONN_EOF,    /* the peer closed the connection */
	SL_FRAMECONN_FAILED, /* reading or writing failed, or the stream broke */
	SL_FRAMECONN_TLS, /* the TLS handshake failed (a certificate refused...) or a record was bad
	                   */
};

struct sl_frameconn_ops {
	/** A whole, valid frame; `msg` is released when this returns (move what is kept). */
	void (*on_frame)(struct sl_frameconn *fc, struct sl_proto_msg *msg);
	/**
	 * A whole frame whose fields break the protocol's rules: skipped, and
	 * the stream goes on (sl_proto_decoder_next's SL_PROTO_REFUSED). `r`
	 * is what could be read of it, `why` the decoder's sentence.
	 */
	void (*on_refused)(struct sl_frameconn *fc, const struct sl_proto_refusal *r,
	                   const char *why);
	/**
	 * After each read from the peer, once its whole frames are delivered
	 * (also when it held only part of one): the peer is alive. May be NULL.
	 */
	void (*on_read_done)(struct sl_frameconn *fc);
	/**
	 * The connection cannot go on: the peer closed it, a read or a write
	 * failed (`reason` is libuv's, a failed write's begins "write failed: "),
	 * the bytes are not a frame stream any more (`reason` is the
	 * decoder's, for example "frame of N bytes exceeds the 1048576-byte
	 * limit"), or TLS failed (SL_FRAMECONN_TLS, `reason` is sl_tls's, for
	 * example "the scheduler's certificate is not trusted: hostname
	 * mismatch"; a peer that closes during the handshake is one too). Reading has stopped; the
	 * owner closes the connection. Called at most once, and never after sl_frameconn_close.
	 */
	void (*on_error)(struct sl_frameconn *fc, enum sl_frameconn_error e, const char *reason);
	/** The connection is closed and its memory is the owner's again. */
	void (*on_closed)(struct sl_frameconn *fc);
};

/**
 * `status` 0: connected, or a negative libuv code. Not called when the
 * connection was closed first (on_closed tells).
 */
typedef void (*sl_frameconn_connect_cb)(struct sl_frameconn *fc, int status);

struct sl_frameconn {
	/* Read-only for the owner: loop time of the last bytes read, of the last write queued. */
	uint64_t last_rx, last_tx;

	/* Private. */
	const struct sl_frameconn_ops *ops;
	uv_tcp_t tcp;
	uv_connect_t connect_req;
	uv_shutdown_t shutdown_req;
	sl_frameconn_connect_cb on_connect;
	struct sl_proto_decoder dec;
	struct sl_tls *tls; /* NULL: clear text */
	bool reading, shutting, failed;
};

/**
 * Make `fc` a connection on `loop` with no socket yet: next accept or
 * connect. Returns 0 or a negative libuv code (then nothing needs to be
 * closed or released).
 */
int sl_frameconn_init(struct sl_frameconn *fc, uv_loop_t *loop, const struct sl_frameconn_ops *ops);

/**
 * Change the largest frame the connection accepts from its peer
 * (sl_proto_decoder_set_max_frame; 0 is the protocol's default). The
 * scheduler keeps it small until a HELLO is accepted.
 */
void sl_frameconn_set_max_frame(struct sl_frameconn *fc, size_t max_frame);

/**
 * Speak TLS on this connection, as a server or a client as `ctx` is
 * (sluice/tls.h); `host` is what a client dialled (the name or address its
 * CA-verified server must have a certificate for). Call after
 * sl_frameconn_init and before sl_frameconn_start; `ctx` must outlive the
 * connection. Returns 0, or SL_ERR with a sentence in `err`.
 */
int sl_frameconn_set_tls(struct sl_frameconn *fc, struct sl_tls_ctx *ctx, const char *host,
                         struct sl_strbuf *err);

/** Accept the connection waiting on `server` (from its connection callback). */
int sl_frameconn_accept(struct sl_frameconn *fc, uv_stream_t *server);

/** Connect to `addr`; `cb` is called once connected, or when that failed. */
int sl_frameconn_connect(struct sl_frameconn *fc, const struct sockaddr *addr,
                         sl_frameconn_connect_cb cb);

/**
 * Start reading on a connected or accepted connection (the clocks last_rx
 * and last_tx start now), with Nagle's algorithm off: frames are small and
 * each one is awaited. A TLS client sends its ClientHello now.
 */
int sl_frameconn_start(struct sl_frameconn *fc);

/** The peer's address, "ip:port" or "[ip6]:port", or "unknown"; the caller frees it. */
char *sl_frameconn_peer(const struct sl_frameconn *fc);

/**
 * Queue `len` bytes of encoded frames (sl_proto_encode; several may follow
 * each other) to be written in order; they are copied. Returns 0, or a
 * negative libuv code with "write failed: ..." in `err` (the owner
 * closes). A write that fails later is reported through on_error.
 */
int sl_frameconn_write(struct sl_frameconn *fc, const char *bytes, size_t len,
                       struct sl_strbuf *err);

/**
 * Stop reading, let what is queued reach the peer (with TLS, followed by
 * a close_notify), then close (a REJECT or a DRAIN is the last word). Does nothing when a shutdown
 * or a close is already under way.
 */
void sl_frameconn_shutdown(struct sl_frameconn *fc);

/**
 * Close now: a pending connect and every queued write are cancelled.
 * Safe to call again, and during a shutdown, which it cuts short.
 */
void sl_frameconn_close(struct sl_frameconn *fc);

#endif
