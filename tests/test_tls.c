#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "sluice/error.h"
#include "sluice/strbuf.h"
#include "sluice/tls.h"

/*
 * Two sl_tls sessions in one process, their bytes carried by hand: the
 * handshake, records cut anywhere, and every way a client refuses a
 * server. Certificates: tests/fixtures/tls/README.
 */

#define FIX "fixtures/tls/"

struct end {
	struct sl_tls *t;
	struct sl_strbuf plain, err;
	int rc; /* the last sl_tls_feed's */
};

struct pair {
	struct sl_tls_ctx *sctx, *cctx;
	struct end s, c;
};

static void end_init(struct end *e)
{
	e->t = NULL;
	e->rc = 0;
	sl_strbuf_init(&e->plain);
	sl_strbuf_init(&e->err);
}

static void end_release(struct end *e)
{
	sl_tls_free(e->t);
	sl_strbuf_release(&e->plain);
	sl_strbuf_release(&e->err);
}

/* The server's fixture certificate; a client with `ca` and/or `pin`, dialling `host`. */
static void pair_open(struct pair *p, const char *cert, const char *ca, const unsigned char *pin,
                      const char *host)
{
	struct sl_strbuf err = SL_STRBUF_INIT, key = SL_STRBUF_INIT, crt = SL_STRBUF_INIT;

	end_init(&p->s);
	end_init(&p->c);
	sl_strbuf_addf(&crt, FIX "%s.pem", cert);
	sl_strbuf_addf(&key, FIX "%s.key", cert);
	if (sl_tls_ctx_server(&p->sctx, crt.buf, key.buf, &err))
		fail_msg("server context: %s", err.buf);
	if (sl_tls_ctx_client(&p->cctx, ca, pin, &err))
		fail_msg("client context: %s", err.buf);
	assert_int_equal(sl_tls_new(&p->s.t, p->sctx, NULL, &err), 0);
	assert_int_equal(sl_tls_new(&p->c.t, p->cctx, host, &err), 0);
	assert_int_equal(sl_tls_start(p->c.t, &err), 0);
	sl_strbuf_release(&err);
	sl_strbuf_release(&key);
	sl_strbuf_release(&crt);
}

static void pair_close(struct pair *p)
{
	end_release(&p->s);
	end_release(&p->c);
	sl_tls_ctx_free(p->sctx);
	sl_tls_ctx_free(p->cctx);
}

/* Move what `from` has for `to` to it; true when bytes moved. */
static bool carry(struct end *from, struct end *to)
{
	struct sl_strbuf bytes = SL_STRBUF_INIT;
	bool moved;

	sl_tls_take(from->t, &bytes);
	moved = bytes.len > 0;
	if (moved && to->rc >= 0)
		to->rc = sl_tls_feed(to->t, bytes.buf, bytes.len, &to->plain, &to->err);
	sl_strbuf_release(&bytes);
	return moved;
}

/* Until neither side has anything more to say. */
static void pump(struct pair *p)
{
	bool a, b;

	do {
		a = carry(&p->c, &p->s);
		b = carry(&p->s, &p->c);
	} while (a || b);
}

static void fingerprint_of(const char *pem, unsigned char *fp)
{
	FILE *f = fopen(pem, "r");
	X509 *x;
	unsigned int n = 0;

	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	assert_int_equal(X509_digest(x, EVP_sha256(), fp, &n), 1);
	assert_int_equal(n, SL_TLS_FINGERPRINT_LEN);
	X509_free(x);
}

static void test_handshake(void **state)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct pair p;

	(void)state;
	pair_open(&p, "server", FIX "ca.pem", NULL, "127.0.0.1");
	/* Written before the handshake: kept, and sent once the server is verified. */
	assert_int_equal(sl_tls_write(p.c.t, "HELLO token", 11, &err), 0);
	pump(&p);
	assert_true(sl_tls_established(p.c.t));
	assert_true(sl_tls_established(p.s.t));
	assert_int_equal(p.s.rc, 0);
	assert_int_equal(p.c.rc, 0);
	assert_int_equal(p.s.plain.len, 11);
	assert_memory_equal(p.s.plain.buf, "HELLO token", 11);
	assert_int_equal(sl_tls_write(p.s.t, "WELCOME", 7, &err), 0);
	pump(&p);
	assert_int_equal(p.c.plain.len, 7);
	assert_memory_equal(p.c.plain.buf, "WELCOME", 7);
	/* close_notify: the peer learns that nothing more comes. */
	sl_tls_close(p.c.t);
	pump(&p);
	assert_int_equal(p.s.rc, 1);
	pair_close(&p);
	sl_strbuf_release(&err);
}

static void test_host_name(void **state)
{
	struct pair p;

	(void)state;
	pair_open(&p, "server", FIX "ca.pem", NULL, "localhost");
	pump(&p);
	assert_true(sl_tls_established(p.c.t));
	pair_close(&p);
}

/* A record cut at every byte, and several records in one read, decode the same. */
static void test_split_records(void **state)
{
	struct sl_strbuf err = SL_STRBUF_INIT, rec = SL_STRBUF_INIT, two = SL_STRBUF_INIT;
	char msg[300];
	struct pair p;

	(void)state;
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (char)('a' + i % 26);
	pair_open(&p, "server", FIX "ca.pem", NULL, "127.0.0.1");
	pump(&p);
	assert_true(sl_tls_established(p.s.t));
	/* A record of the same length each time, cut at 0, 1, ... its length. */
	for (size_t cut = 0, len = 1; cut <= len; cut++) {
		sl_strbuf_reset(&rec);
		sl_strbuf_reset(&p.s.plain);
		assert_int_equal(sl_tls_write(p.c.t, msg, sizeof(msg), &err), 0);
		sl_tls_take(p.c.t, &rec);
		len = rec.len;
		assert_int_equal(sl_tls_feed(p.s.t, rec.buf, cut, &p.s.plain, &err), 0);
		/* Nothing before the record is whole. */
		if (cut < rec.len)
			assert_int_equal(p.s.plain.len, 0);
		assert_int_equal(sl_tls_feed(p.s.t, rec.buf + cut, rec.len - cut, &p.s.plain, &err),
		                 0);
		assert_int_equal(p.s.plain.len, sizeof(msg));
		assert_memory_equal(p.s.plain.buf, msg, sizeof(msg));
	}
	/* Two records in one feed. */
	sl_strbuf_reset(&p.s.plain);
	assert_int_equal(sl_tls_write(p.c.t, msg, 10, &err), 0);
	assert_int_equal(sl_tls_write(p.c.t, msg + 10, 20, &err), 0);
	sl_tls_take(p.c.t, &two);
	assert_int_equal(sl_tls_feed(p.s.t, two.buf, two.len, &p.s.plain, &err), 0);
	assert_int_equal(p.s.plain.len, 30);
	assert_memory_equal(p.s.plain.buf, msg, 30);
	pair_close(&p);
	sl_strbuf_release(&err);
	sl_strbuf_release(&rec);
	sl_strbuf_release(&two);
}

/*
 * A refused server: the client fails with `why`, the server learns of it
 * through the alert, and what the client wrote first never reached it.
 */
static void expect_refused(struct pair *p, const char *why)
{
	struct sl_strbuf err = SL_STRBUF_INIT;

	assert_int_equal(sl_tls_write(p->c.t, "HELLO token", 11, &err), 0);
	pump(p);
	assert_int_equal(p->c.rc, SL_ERR);
	assert_false(sl_tls_established(p->c.t));
	if (!strstr(p->c.err.buf, why))
		fail_msg("expected '%s' in '%s'", why, p->c.err.buf);
	assert_int_equal(p->s.plain.len, 0);
	assert_int_equal(p->s.rc, SL_ERR);
	/* Nothing more is accepted, nothing more leaves. */
	assert_int_equal(sl_tls_write(p->c.t, "x", 1, &err), SL_ERR);
	pair_close(p);
	sl_strbuf_release(&err);
}

static void test_wrong_ca(void **state)
{
	struct pair p;

	(void)state;
	pair_open(&p, "server", FIX "other-ca.pem", NULL, "127.0.0.1");
	expect_refused(&p, "the scheduler's certificate is not trusted: unable to get local "
	                   "issuer certificate");
	/* A server whose certificate another CA signed, for the very same names. */
	pair_open(&p, "rogue", FIX "ca.pem", NULL, "127.0.0.1");
	expect_refused(&p, "not trusted");
}

static void test_host_mismatch(void **state)
{
	struct pair p;

	(void)state;
	pair_open(&p, "server", FIX "ca.pem", NULL, "sched.example.com");
	expect_refused(&p, "not trusted: hostname mismatch");
	pair_open(&p, "server", FIX "ca.pem", NULL, "10.0.0.7");
	expect_refused(&p, "not trusted: IP address mismatch");
}

static void test_fingerprint(void **state)
{
	unsigned char fp[SL_TLS_FINGERPRINT_LEN];
	struct pair p;

	(void)state;
	fingerprint_of(FIX "server.pem", fp);
	/* The pin alone: no CA, no host name, no chain needed. */
	pair_open(&p, "server", NULL, fp, NULL);
	pump(&p);
	assert_true(sl_tls_established(p.c.t));
	pair_close(&p);
	fingerprint_of(FIX "rogue.pem", fp);
	pair_open(&p, "rogue", NULL, fp, "anything");
	pump(&p);
	assert_true(sl_tls_established(p.c.t));
	pair_close(&p);
	/* Pin and CA: both must hold. */
	fingerprint_of(FIX "server.pem", fp);
	pair_open(&p, "server", FIX "ca.pem", fp, "127.0.0.1");
	pump(&p);
	assert_true(sl_tls_established(p.c.t));
	pair_close(&p);
}

static void test_wrong_fingerprint(void **state)
{
	unsigned char fp[SL_TLS_FINGERPRINT_LEN];
	struct pair p;

	(void)state;
	fingerprint_of(FIX "server.pem", fp);
	pair_open(&p, "rogue", NULL, fp, NULL);
	expect_refused(&p, "the scheduler's certificate does not match the pinned fingerprint "
	                   "(it has sha256:");
	/* The right chain is not enough when the pin differs. */
	fp[0] ^= 1;
	pair_open(&p, "server", FIX "ca.pem", fp, "127.0.0.1");
	expect_refused(&p, "does not match the pinned fingerprint");
}

/* A client that offers TLS 1.2 at most is refused by the server. */
static void test_tls12_refused(void **state)
{
	struct sl_strbuf err = SL_STRBUF_INIT, out = SL_STRBUF_INIT, plain = SL_STRBUF_INIT;
	struct sl_tls_ctx *sctx = NULL;
	struct sl_tls *s = NULL;
	SSL_CTX *old = SSL_CTX_new(TLS_client_method());
	SSL *c;
	BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
	char buf[4096];
	int n;

	(void)state;
	assert_non_null(old);
	assert_int_equal(SSL_CTX_set_max_proto_version(old, TLS1_2_VERSION), 1);
	c = SSL_new(old);
	assert_non_null(c);
	SSL_set_bio(c, rb, wb);
	SSL_set_connect_state(c);
	assert_true(SSL_do_handshake(c) <= 0);
	assert_int_equal(sl_tls_ctx_server(&sctx, FIX "server.pem", FIX "server.key", &err), 0);
	assert_int_equal(sl_tls_new(&s, sctx, NULL, &err), 0);
	n = BIO_read(wb, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(sl_tls_feed(s, buf, (size_t)n, &plain, &err), SL_ERR);
	if (!strstr(err.buf, "unsupported protocol"))
		fail_msg("unexpected reason '%s'", err.buf);
	/* The server answers with an alert, nothing else. */
	sl_tls_take(s, &out);
	assert_true(out.len > 0 && out.len < 16);
	assert_int_equal(out.buf[0], 21); /* alert */
	SSL_free(c);
	SSL_CTX_free(old);
	sl_tls_free(s);
	sl_tls_ctx_free(sctx);
	sl_strbuf_release(&err);
	sl_strbuf_release(&out);
	sl_strbuf_release(&plain);
}

/* A clear-text worker's HELLO is not TLS: refused. */
static void test_plaintext_peer(void **state)
{
	static const char hello[] = "\x00\x00\x00\x10\x01{\"token\":\"se\"}";
	struct sl_strbuf err = SL_STRBUF_INIT, plain = SL_STRBUF_INIT;
	struct sl_tls_ctx *sctx = NULL;
	struct sl_tls *s = NULL;

	(void)state;
	assert_int_equal(sl_tls_ctx_server(&sctx, FIX "server.pem", FIX "server.key", &err), 0);
	assert_int_equal(sl_tls_new(&s, sctx, NULL, &err), 0);
	assert_int_equal(sl_tls_feed(s, hello, sizeof(hello) - 1, &plain, &err), SL_ERR);
	assert_true(err.len > 0);
	assert_int_equal(plain.len, 0);
	sl_tls_free(s);
	sl_tls_ctx_free(sctx);
	sl_strbuf_release(&err);
	sl_strbuf_release(&plain);
}

static void test_bad_files(void **state)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_tls_ctx *ctx = NULL;

	(void)state;
	assert_int_equal(sl_tls_ctx_server(&ctx, FIX "missing.pem", FIX "server.key", &err),
	                 SL_ERR);
	assert_non_null(
	    strstr(err.buf, "cannot load the certificate chain from " FIX "missing.pem"));
	sl_strbuf_reset(&err);
	assert_int_equal(sl_tls_ctx_server(&ctx, FIX "server.pem", FIX "rogue.key", &err), SL_ERR);
	assert_non_null(strstr(err.buf, "cannot load the private key from " FIX
	                                "rogue.key: key values mismatch"));
	sl_strbuf_reset(&err);
	assert_int_equal(sl_tls_ctx_client(&ctx, FIX "missing.pem", NULL, &err), SL_ERR);
	assert_non_null(strstr(err.buf, "cannot load CA certificates from"));
	sl_strbuf_reset(&err);
	assert_int_equal(sl_tls_ctx_client(&ctx, NULL, NULL, &err), SL_EINVAL);
	assert_null(ctx);
	sl_strbuf_release(&err);
}

static void test_fingerprint_format(void **state)
{
	unsigned char fp[SL_TLS_FINGERPRINT_LEN];
	struct sl_strbuf s = SL_STRBUF_INIT;

	(void)state;
	for (size_t i = 0; i < sizeof(fp); i++)
		fp[i] = (unsigned char)(i * 8 + 10);
	sl_tls_fingerprint_format(fp, &s);
	assert_int_equal(s.len, 7 + 32 * 3 - 1);
	assert_true(!strncmp(s.buf, "sha256:0A:12:1A:", 16));
	sl_strbuf_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_handshake),          cmocka_unit_test(test_host_name),
	    cmocka_unit_test(test_split_records),      cmocka_unit_test(test_wrong_ca),
	    cmocka_unit_test(test_host_mismatch),      cmocka_unit_test(test_fingerprint),
	    cmocka_unit_test(test_wrong_fingerprint),  cmocka_unit_test(test_tls12_refused),
	    cmocka_unit_test(test_plaintext_peer),     cmocka_unit_test(test_bad_files),
	    cmocka_unit_test(test_fingerprint_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
