#include <arpa/inet.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "sluice/tls.h"

#include "sluice/alloc.h"
#include "sluice/error.h"
#include "sluice/banned.h"

/* Plaintext is read out of a session this much at a time (a TLS record's most). */
#define PLAIN_CHUNK (16 * 1024)

struct sl_tls_ctx {
	SSL_CTX *ssl;
	bool server;
	bool has_ca;
	bool has_pin;
	unsigned char pin[SL_TLS_FINGERPRINT_LEN];
};

struct sl_tls {
	struct sl_tls_ctx *ctx;
	SSL *ssl;
	BIO *rbio, *wbio; /* the peer's bytes in; bytes for the peer out (owned by ssl) */
	bool established, failed;
	/* Plaintext written before the handshake completed: sent only after it. */
	struct sl_strbuf early;
	/* Why the peer's certificate was refused, from the verify callback. */
	struct sl_strbuf refused;
};

/* OpenSSL's queued errors, as "reason; reason", and the queue emptied. */
static void add_ssl_errors(struct sl_strbuf *err)
{
	const char *sep = "";
	unsigned long e;

	while ((e = ERR_get_error()) != 0) {
		const char *r = ERR_reason_error_string(e);

		if (r)
			sl_strbuf_addf(err, "%s%s", sep, r);
		else
			sl_strbuf_addf(err, "%serror %lu", sep, e);
		sep = "; ";
	}
}

void sl_tls_fingerprint_format(const unsigned char *fp, struct sl_strbuf *out)
{
	sl_strbuf_adds(out, "sha256:");
	for (size_t i = 0; i < SL_TLS_FINGERPRINT_LEN; i++)
		sl_strbuf_addf(out, "%s%02X", i ? ":" : "", fp[i]);
}

/*
 * Instead of OpenSSL's chain verification (SSL_CTX_set_cert_verify_callback):
 * with a pin alone the chain is not required (a self-signed certificate
 * is the usual case), so the leaf's fingerprint is all that counts; with a
 * CA file the chain and the host name are verified as OpenSSL does
 * (X509_verify_cert, with the session's verify parameters: SSL_set1_host).
 * The reason of a refusal goes to the session, so that the handshake's
 * error says which check failed rather than "certificate verify failed".
 */
static int verify_server(X509_STORE_CTX *xs, void *arg)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct sl_tls *t = ssl ? SSL_get_app_data(ssl) : NULL;
	struct sl_tls_ctx *ctx = arg;
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	if (!t || !leaf) {
		X509_STORE_CTX_set_error(xs, X509_V_ERR_UNSPECIFIED);
		return 0;
	}
	if (ctx->has_pin) {
		if (!X509_digest(leaf, EVP_sha256(), md, &md_len) ||
		    md_len != SL_TLS_FINGERPRINT_LEN) {
			sl_strbuf_adds(
			    &t->refused,
			    "cannot compute the fingerprint of the scheduler's certificate");
			X509_STORE_CTX_set_error(xs, X509_V_ERR_UNSPECIFIED);
			return 0;
		}
		if (memcmp(md, ctx->pin, SL_TLS_FINGERPRINT_LEN) != 0) {
			sl_strbuf_adds(&t->refused,
			               "the scheduler's certificate does not match the "
			               "pinned fingerprint (it has ");
			sl_tls_fingerprint_format(md, &t->refused);
			sl_strbuf_addch(&t->refused, ')');
			X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
			return 0;
		}
	}
	if (!ctx->has_ca)
		return 1;
	if (X509_verify_cert(xs) == 1)
		return 1;
	sl_strbuf_addf(&t->refused, "the scheduler's certificate is not trusted: %s",
	               X509_verify_cert_error_string(X509_STORE_CTX_get_error(xs)));
	return 0;
}

/* What both sides share: TLS 1.3 only, nothing kept between connections. */
static int ctx_new(struct sl_tls_ctx **out, bool server, struct sl_strbuf *err)
{
	struct sl_tls_ctx *ctx = sl_xcalloc(1, sizeof(*ctx));

	ctx->server = server;
	ctx->ssl = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!ctx->ssl) {
		sl_strbuf_adds(err, "cannot create a TLS context: ");
		add_ssl_errors(err);
		free(ctx);
		return SL_ERR;
	}
	/*
	 * Every connection is a full handshake: a worker reconnects seldom,
	 * and tickets or a session cache would be state to bound and secure.
	 * Record buffers are freed between records, so an idle connection
	 * costs a few KiB.
	 */
	if (!SSL_CTX_set_min_proto_version(ctx->ssl, TLS1_3_VERSION) ||
	    !SSL_CTX_set_num_tickets(ctx->ssl, 0)) {
		sl_strbuf_adds(err, "cannot restrict the TLS context to TLS 1.3: ");
		add_ssl_errors(err);
		sl_tls_ctx_free(ctx);
		return SL_ERR;
	}
	SSL_CTX_set_session_cache_mode(ctx->ssl, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx->ssl, SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(ctx->ssl, SSL_MODE_RELEASE_BUFFERS);
	*out = ctx;
	return 0;
}

int sl_tls_ctx_server(struct sl_tls_ctx **out, const char *cert_file, const char *key_file,
                      struct sl_strbuf *err)
{
	struct sl_tls_ctx *ctx = NULL;
	int rc;

	*out = NULL;
	ERR_clear_error();
	if ((rc = ctx_new(&ctx, true, err)))
		return rc;
	if (SSL_CTX_use_certificate_chain_file(ctx->ssl, cert_file) != 1) {
		sl_strbuf_addf(err, "cannot load the certificate chain from %s: ", cert_file);
		goto fail;
	}
	/* This also checks that the key is the certificate's ("key values mismatch"). */
	if (SSL_CTX_use_PrivateKey_file(ctx->ssl, key_file, SSL_FILETYPE_PEM) != 1) {
		sl_strbuf_addf(err, "cannot load the private key from %s: ", key_file);
		goto fail;
	}
	/* Workers present no certificate: they authenticate in HELLO. */
	SSL_CTX_set_verify(ctx->ssl, SSL_VERIFY_NONE, NULL);
	*out = ctx;
	return 0;
fail:
	add_ssl_errors(err);
	sl_tls_ctx_free(ctx);
	return SL_ERR;
}

struct ssl_ctx_st *sl_tls_ctx_ssl(struct sl_tls_ctx *ctx)
{
	return ctx->ssl;
}

int sl_tls_ctx_client(struct sl_tls_ctx **out, const char *ca_file, const unsigned char *pin,
                      struct sl_strbuf *err)
{
	struct sl_tls_ctx *ctx = NULL;
	int rc;

	*out = NULL;
	if (!ca_file && !pin) {
		sl_strbuf_adds(err, "a TLS client needs a CA file or a pinned fingerprint");
		return SL_EINVAL;
	}
	ERR_clear_error();
	if ((rc = ctx_new(&ctx, false, err)))
		return rc;
	if (ca_file && SSL_CTX_load_verify_locations(ctx->ssl, ca_file, NULL) != 1) {
		sl_strbuf_addf(err, "cannot load CA certificates from %s: ", ca_file);
		add_ssl_errors(err);
		sl_tls_ctx_free(ctx);
		return SL_ERR;
	}
	ctx->has_ca = ca_file != NULL;
	if (pin) {
		memcpy(ctx->pin, pin, SL_TLS_FINGERPRINT_LEN);
		ctx->has_pin = true;
	}
	/* VERIFY_PEER: a refusal of verify_server fails the handshake. */
	SSL_CTX_set_verify(ctx->ssl, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(ctx->ssl, verify_server, ctx);
	*out = ctx;
	return 0;
}

void sl_tls_ctx_free(struct sl_tls_ctx *ctx)
{
	if (!ctx)
		return;
	SSL_CTX_free(ctx->ssl);
	free(ctx);
}

static bool is_ip(const char *host)
{
	unsigned char a[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

/* The name or address the server's certificate must carry (CA mode). */
static int set_expected_host(struct sl_tls *t, const char *host, struct sl_strbuf *err)
{
	if (!host || !host[0]) {
		sl_strbuf_adds(err, "verifying the scheduler with a CA needs its host name");
		return SL_EINVAL;
	}
	if (is_ip(host)) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host) == 1)
			return 0;
	} else if (SSL_set1_host(t->ssl, host) == 1 &&
	           SSL_set_tlsext_host_name(t->ssl, host) == 1) {
		return 0;
	}
	sl_strbuf_addf(err, "cannot set the expected host name '%s': ", host);
	add_ssl_errors(err);
	return SL_ERR;
}

int sl_tls_new(struct sl_tls **out, struct sl_tls_ctx *ctx, const char *host, struct sl_strbuf *err)
{
	struct sl_tls *t = sl_xcalloc(1, sizeof(*t));
	int rc = SL_ERR;

	*out = NULL;
	t->ctx = ctx;
	sl_strbuf_init(&t->early);
	sl_strbuf_init(&t->refused);
	ERR_clear_error();
	t->ssl = SSL_new(ctx->ssl);
	t->rbio = BIO_new(BIO_s_mem());
	t->wbio = BIO_new(BIO_s_mem());
	if (!t->ssl || !t->rbio || !t->wbio) {
		sl_strbuf_adds(err, "cannot create a TLS session: ");
		add_ssl_errors(err);
		BIO_free(t->rbio);
		BIO_free(t->wbio);
		goto fail;
	}
	/* An empty read BIO means "more to come", not the end of the stream. */
	BIO_set_mem_eof_return(t->rbio, -1);
	SSL_set_bio(t->ssl, t->rbio, t->wbio);
	if (!SSL_set_app_data(t->ssl, t)) {
		sl_strbuf_adds(err, "cannot create a TLS session: ");
		add_ssl_errors(err);
		goto fail;
	}
	if (ctx->server) {
		SSL_set_accept_state(t->ssl);
	} else {
		if (ctx->has_ca && (rc = set_expected_host(t, host, err)))
			goto fail;
		SSL_set_connect_state(t->ssl);
	}
	*out = t;
	return 0;
fail:
	sl_tls_free(t);
	return rc;
}

void sl_tls_free(struct sl_tls *t)
{
	if (!t)
		return;
	SSL_free(t->ssl); /* and its BIOs */
	sl_strbuf_release(&t->early);
	sl_strbuf_release(&t->refused);
	free(t);
}

bool sl_tls_established(const struct sl_tls *t)
{
	return t->established;
}

/* The session cannot go on: say why, once. */
static int failed(struct sl_tls *t, const char *what, struct sl_strbuf *err)
{
	struct sl_strbuf ssl_err = SL_STRBUF_INIT;

	t->failed = true;
	add_ssl_errors(&ssl_err);
	if (t->refused.len)
		sl_strbuf_adds(err, t->refused.buf);
	else if (ssl_err.len)
		sl_strbuf_addf(err, "%s: %s", what, ssl_err.buf);
	else
		sl_strbuf_adds(err, what);
	sl_strbuf_release(&ssl_err);
	return SL_ERR;
}

static int seal(struct sl_tls *t, const void *bytes, size_t len, struct sl_strbuf *err)
{
	size_t n = 0;

	/* Memory BIOs never block: all of it is taken, or the session failed. */
	if (len && (SSL_write_ex(t->ssl, bytes, len, &n) != 1 || n != len))
		return failed(t, "TLS write failed", err);
	return 0;
}

/* 0: done or waiting for the peer; SL_ERR: failed. */
static int handshake(struct sl_tls *t, struct sl_strbuf *err)
{
	int rc;

	if (t->established)
		return 0;
	rc = SSL_do_handshake(t->ssl);
	if (rc == 1) {
		t->established = true;
		rc = seal(t, t->early.buf, t->early.len, err);
		sl_strbuf_release(&t->early);
		return rc;
	}
	if (SSL_get_error(t->ssl, rc) == SSL_ERROR_WANT_READ)
		return 0;
	return failed(t, "TLS handshake failed", err);
}

int sl_tls_start(struct sl_tls *t, struct sl_strbuf *err)
{
	if (t->ctx->server || t->failed)
		return 0;
	ERR_clear_error();
	return handshake(t, err);
}

int sl_tls_feed(struct sl_tls *t, const void *bytes, size_t len, struct sl_strbuf *plain,
                struct sl_strbuf *err)
{
	size_t n;
	int rc;

	if (t->failed) {
		sl_strbuf_adds(err, "the TLS session has failed");
		return SL_ERR;
	}
	ERR_clear_error();
	/* A memory BIO takes everything (int: at most INT_MAX at once). */
	while (len) {
		int chunk = len > INT_MAX ? INT_MAX : (int)len;

		if (BIO_write(t->rbio, bytes, chunk) != chunk)
			return failed(t, "cannot buffer TLS records", err);
		bytes = (const char *)bytes + chunk;
		len -= (size_t)chunk;
	}
	if ((rc = handshake(t, err)) || !t->established)
		return rc;
	for (;;) {
		sl_strbuf_grow(plain, PLAIN_CHUNK);
		if (SSL_read_ex(t->ssl, plain->buf + plain->len, PLAIN_CHUNK, &n) == 1) {
			sl_strbuf_setlen(plain, plain->len + n);
			continue;
		}
		switch (SSL_get_error(t->ssl, 0)) {
		case SSL_ERROR_WANT_READ:
			return 0;
		case SSL_ERROR_ZERO_RETURN:
			return 1;
		default:
			return failed(t, "TLS read failed", err);
		}
	}
}

int sl_tls_write(struct sl_tls *t, const void *bytes, size_t len, struct sl_strbuf *err)
{
	if (t->failed) {
		sl_strbuf_adds(err, "the TLS session has failed");
		return SL_ERR;
	}
	if (!t->established) {
		sl_strbuf_add(&t->early, bytes, len);
		return 0;
	}
	ERR_clear_error();
	return seal(t, bytes, len, err);
}

void sl_tls_take(struct sl_tls *t, struct sl_strbuf *out)
{
	size_t pending;
	int n;

	/* A memory BIO hands over what it holds, INT_MAX at most per call. */
	while ((pending = BIO_ctrl_pending(t->wbio)) != 0) {
		if (pending > INT_MAX)
			pending = INT_MAX;
		sl_strbuf_grow(out, pending);
		n = BIO_read(t->wbio, out->buf + out->len, (int)pending);
		if (n <= 0)
			break;
		sl_strbuf_setlen(out, out->len + (size_t)n);
	}
}

void sl_tls_close(struct sl_tls *t)
{
	/*
	 * Queues close_notify; 0 ("not yet answered") is the normal result,
	 * the peer's answer is not awaited, and a failure leaves an unclean
	 * end, which the peer sees as an EOF: not worth more than that.
	 */
	if (t->established && !t->failed && SSL_shutdown(t->ssl) < 0)
		ERR_clear_error();
}
