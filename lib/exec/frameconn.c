#include <stdlib.h>
#include <string.h>

#include "sluice/frameconn.h"

#include "sluice/alloc.h"
#include "sluice/container.h"
#include "sluice/error.h"
#include "sluice/banned.h"

/*
 * Bytes from the socket go to feed() (through sl_tls_feed with TLS),
 * frames to the socket through sl_frameconn_write (through sl_tls_write);
 * raw_write is the one place bytes are queued on the socket.
 */

#define READ_CHUNK (64 * 1024)

/* One write request per sl_frameconn_write, with its own copy of the bytes. */
struct write_req {
	uv_write_t req;
	uv_buf_t buf;
	char data[];
};

static bool closing(const struct sl_frameconn *fc)
{
	return uv_is_closing((const uv_handle_t *)&fc->tcp);
}

/* Report the first failure only: the owner closes, the rest is its echo. */
static void fail(struct sl_frameconn *fc, enum sl_frameconn_error e, const char *reason)
{
	if (fc->failed || closing(fc))
		return;
	fc->failed = true;
	if (fc->reading) {
		fc->reading = false;
		(void)uv_read_stop((uv_stream_t *)&fc->tcp); /* cannot fail */
	}
	fc->ops->on_error(fc, e, reason);
}

int sl_frameconn_init(struct sl_frameconn *fc, uv_loop_t *loop, const struct sl_frameconn_ops *ops)
{
	int rc;

	memset(fc, 0, sizeof(*fc));
	fc->ops = ops;
	if ((rc = uv_tcp_init(loop, &fc->tcp)))
		return rc;
	sl_proto_decoder_init(&fc->dec, 0);
	return 0;
}

void sl_frameconn_set_max_frame(struct sl_frameconn *fc, size_t max_frame)
{
	sl_proto_decoder_set_max_frame(&fc->dec, max_frame);
}

int sl_frameconn_set_tls(struct sl_frameconn *fc, struct sl_tls_ctx *ctx, const char *host,
                         struct sl_strbuf *err)
{
	return sl_tls_new(&fc->tls, ctx, host, err);
}

int sl_frameconn_accept(struct sl_frameconn *fc, uv_stream_t *server)
{
	return uv_accept(server, (uv_stream_t *)&fc->tcp);
}

static void on_connected(uv_connect_t *req, int status)
{
	struct sl_frameconn *fc = container_of(req, struct sl_frameconn, connect_req);

	/* Closed while connecting: on_closed tells the owner. */
	if (status == UV_ECANCELED)
		return;
	fc->on_connect(fc, status);
}

int sl_frameconn_connect(struct sl_frameconn *fc, const struct sockaddr *addr,
                         sl_frameconn_connect_cb cb)
{
	fc->on_connect = cb;
	return uv_tcp_connect(&fc->connect_req, &fc->tcp, addr, on_connected);
}

static void on_closed(uv_handle_t *h)
{
	struct sl_frameconn *fc = container_of((uv_tcp_t *)h, struct sl_frameconn, tcp);

	sl_proto_decoder_release(&fc->dec);
	sl_tls_free(fc->tls);
	fc->tls = NULL;
	/* Last: the owner may free fc. */
	fc->ops->on_closed(fc);
}

void sl_frameconn_close(struct sl_frameconn *fc)
{
	if (closing(fc))
		return;
	fc->reading = false;
	/* Closing cancels a pending connect and every queued write (UV_ECANCELED). */
	uv_close((uv_handle_t *)&fc->tcp, on_closed);
}

static void on_write(uv_write_t *req, int status)
{
	struct write_req *wr = container_of(req, struct write_req, req);
	struct sl_frameconn *fc = container_of((uv_tcp_t *)req->handle, struct sl_frameconn, tcp);

	free(wr);
	if (status < 0 && status != UV_ECANCELED) {
		struct sl_strbuf r = SL_STRBUF_INIT;

		sl_strbuf_addf(&r, "write failed: %s", uv_strerror(status));
		fail(fc, SL_FRAMECONN_FAILED, r.buf);
		sl_strbuf_release(&r);
	}
}

static int raw_write(struct sl_frameconn *fc, const char *bytes, size_t len, struct sl_strbuf *err)
{
	struct write_req *wr;
	int rc;

	if (!len)
		return 0;
	wr = sl_xmalloc(sizeof(*wr) + len);
	memcpy(wr->data, bytes, len);
	wr->buf = uv_buf_init(wr->data, (unsigned)len);
	if ((rc = uv_write(&wr->req, (uv_stream_t *)&fc->tcp, &wr->buf, 1, on_write))) {
		free(wr);
		sl_strbuf_addf(err, "write failed: %s", uv_strerror(rc));
		return rc;
	}
	return 0;
}

/* What the TLS session has for the peer (records, handshake, alerts), to the socket. */
static int tls_flush(struct sl_frameconn *fc, struct sl_strbuf *err)
{
	struct sl_strbuf out = SL_STRBUF_INIT;
	int rc;

	sl_tls_take(fc->tls, &out);
	rc = raw_write(fc, out.buf, out.len, err);
	sl_strbuf_release(&out);
	return rc;
}

int sl_frameconn_write(struct sl_frameconn *fc, const char *bytes, size_t len,
                       struct sl_strbuf *err)
{
	int rc;

	if (!fc->tls)
		rc = raw_write(fc, bytes, len, err);
	else if (sl_tls_write(fc->tls, bytes, len, err))
		rc = UV_EPROTO;
	else
		rc = tls_flush(fc, err);
	if (!rc)
		fc->last_tx = uv_now(fc->tcp.loop);
	return rc;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	/* Flushed or not (the peer may be gone), the connection is over. */
	(void)status;
	sl_frameconn_close(container_of(req, struct sl_frameconn, shutdown_req));
}

void sl_frameconn_shutdown(struct sl_frameconn *fc)
{
	if (fc->shutting || closing(fc))
		return;
	fc->shutting = true;
	if (fc->reading) {
		fc->reading = false;
		(void)uv_read_stop((uv_stream_t *)&fc->tcp); /* cannot fail */
	}
	if (fc->tls) {
		struct sl_strbuf err = SL_STRBUF_INIT;

		sl_tls_close(fc->tls);
		/* A failed write ends in on_write, and the shutdown below closes anyway. */
		(void)tls_flush(fc, &err);
		sl_strbuf_release(&err);
	}
	/* Not connected (any more): nothing can be flushed. */
	if (uv_shutdown(&fc->shutdown_req, (uv_stream_t *)&fc->tcp, on_shutdown))
		sl_frameconn_close(fc);
}

/* Deliver every whole frame; stop as soon as the owner stops reading. */
static void feed(struct sl_frameconn *fc, const char *bytes, size_t len)
{
	struct sl_proto_msg m = SL_PROTO_MSG_INIT;
	struct sl_strbuf err = SL_STRBUF_INIT;
	int rc;

	/* A failed decoder says why from sl_proto_decoder_next. */
	(void)sl_proto_decoder_feed(&fc->dec, bytes, len);
	while (fc->reading && (rc = sl_proto_decoder_next(&fc->dec, &m, &err)) != 0) {
		if (rc < 0) {
			fail(fc, SL_FRAMECONN_FAILED, err.buf);
			break;
		}
		if (rc == SL_PROTO_REFUSED)
			fc->ops->on_refused(fc, sl_proto_decoder_refusal(&fc->dec), err.buf);
		else
			fc->ops->on_frame(fc, &m);
		sl_strbuf_reset(&err);
	}
	sl_proto_msg_release(&m);
	sl_strbuf_release(&err);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	(void)suggested;
	buf->base = sl_xmalloc(READ_CHUNK);
	buf->len = READ_CHUNK;
}

/*
 * Ciphertext from the peer: what it decrypts to goes to feed(), and what
 * the session has to say back (its handshake, an alert that tells the peer
 * why it failed) to the socket first.
 */
static void tls_read(struct sl_frameconn *fc, const char *bytes, size_t len)
{
	struct sl_strbuf plain = SL_STRBUF_INIT, err = SL_STRBUF_INIT, ignored = SL_STRBUF_INIT;
	int rc = sl_tls_feed(fc->tls, bytes, len, &plain, &err);

	if (rc < 0) {
		/* The alert, best effort: the session is over whether it leaves or not. */
		(void)tls_flush(fc, &ignored);
		fail(fc, SL_FRAMECONN_TLS, err.buf);
		goto out;
	}
	if (tls_flush(fc, &err)) {
		fail(fc, SL_FRAMECONN_FAILED, err.buf);
		goto out;
	}
	if (plain.len)
		feed(fc, plain.buf, plain.len);
	if (rc == 1)
		fail(fc, SL_FRAMECONN_EOF, "the peer closed the connection");
out:
	sl_strbuf_release(&plain);
	sl_strbuf_release(&err);
	sl_strbuf_release(&ignored);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct sl_frameconn *fc = container_of((uv_tcp_t *)st, struct sl_frameconn, tcp);

	if (nread < 0) {
		/* Before the handshake is over, an end is a refusal of TLS. */
		if (fc->tls && !sl_tls_established(fc->tls))
			fail(fc, SL_FRAMECONN_TLS,
			     nread == UV_EOF
			         ? "the peer closed the connection during the TLS handshake"
			         : "the connection failed during the TLS handshake");
		else if (nread == UV_EOF)
			fail(fc, SL_FRAMECONN_EOF, "the peer closed the connection");
		else
			fail(fc, SL_FRAMECONN_FAILED, uv_strerror((int)nread));
		goto out;
	}
	if (!nread)
		goto out;
	fc->last_rx = uv_now(fc->tcp.loop);
	if (fc->tls)
		tls_read(fc, buf->base, (size_t)nread);
	else
		feed(fc, buf->base, (size_t)nread);
	if (fc->ops->on_read_done)
		fc->ops->on_read_done(fc);
out:
	free(buf->base);
}

int sl_frameconn_start(struct sl_frameconn *fc)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	int rc;

	fc->last_rx = fc->last_tx = uv_now(fc->tcp.loop);
	if ((rc = uv_tcp_nodelay(&fc->tcp, 1)) ||
	    (rc = uv_read_start((uv_stream_t *)&fc->tcp, on_alloc, on_read)))
		goto out;
	fc->reading = true;
	if (fc->tls && (sl_tls_start(fc->tls, &err) || tls_flush(fc, &err)))
		rc = UV_EPROTO;
out:
	sl_strbuf_release(&err);
	return rc;
}

char *sl_frameconn_peer(const struct sl_frameconn *fc)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	char ip[64];
	int port;

	if (uv_tcp_getpeername(&fc->tcp, (struct sockaddr *)&ss, &len))
		return sl_xstrdup("unknown");
	if (ss.ss_family == AF_INET) {
		if (uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip)))
			return sl_xstrdup("unknown");
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		return sl_xasprintf("%s:%d", ip, port);
	}
	if (ss.ss_family == AF_INET6) {
		if (uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip)))
			return sl_xstrdup("unknown");
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		return sl_xasprintf("[%s]:%d", ip, port);
	}
	return sl_xstrdup("unknown");
}
