#ifndef SLUICE_TLS_H
#define SLUICE_TLS_H

#ifndef SLUICE_LAYER_EXEC
#error "sluice/tls.h: this target does not link the exec layer (docs/architecture.md)"
#endif

#include <stdbool.h>
#include <stddef.h>

#include "sluice/strbuf.h"

/**
 * TLS 1.3 for the job protocol (docs/security.md, "TLS on the job
 * protocol"), with OpenSSL 3 and no I/O: a session reads ciphertext from
 * and writes ciphertext to memory, so that the one place that meets the
 * socket (sl_frameconn) decides when bytes travel, and so that tests and
 * the fuzzer run two ends in one process.
 *
 *     peer's bytes --sl_tls_feed--> plaintext (to the frame decoder)
 *     frames --sl_tls_write--> sl_tls_take --> bytes for the peer
 *
 * The scheduler is the server, with a certificate and its key; workers
 * are clients and present no certificate. A client verifies the server
 * before any of its plaintext leaves: what it writes before the handshake
 * has completed, and the server's certificate been verified, is kept in
 * memory and encrypted only then (never, when verification fails). A
 * client verifies with a CA file and the host name it dialled, with a
 * pinned SHA-256 fingerprint of the server's certificate, or with both
 * (then both must hold). TLS 1.3 only; no session tickets, no
 * renegotiation (TLS 1.3 has none), no compression.
 *
 * Memory (measured with OpenSSL 3.0, P-256 certificates): a server
 * session is about 9 KiB when new, 46 KiB in the middle of its handshake
 * and 16 KiB once established and idle (record buffers are released
 * between records, SSL_MODE_RELEASE_BUFFERS); a client's is about 42 KiB
 * during its handshake and 21 KiB after. Add the ciphertext that waits in
 * sl_tls_take and the plaintext written before the handshake completed.
 *
 * Not thread-safe beyond OpenSSL's own guarantees: a context may be shared
 * by the sessions of one thread.
 */

/** A SHA-256 certificate fingerprint, in bytes. */
#define SL_TLS_FINGERPRINT_LEN 32

/** One side's settings: certificates, keys, what a peer must prove. */
struct sl_tls_ctx;
struct ssl_ctx_st;

/** One connection's TLS state. */
struct sl_tls;

/**
 * The server's context: the PEM certificate chain in `cert_file` (the
 * server's certificate first) and its PEM private key in `key_file`.
 * Returns 0, or SL_ERR with a sentence naming the file in `err`.
 */
int sl_tls_ctx_server(struct sl_tls_ctx **ctx, const char *cert_file, const char *key_file,
                      struct sl_strbuf *err);

/**
 * A client's context. `ca_file`: NULL, or PEM certificates of the CAs
 * the server's chain must lead to (the host name is then checked too,
 * sl_tls_new). `pin`: NULL, or SL_TLS_FINGERPRINT_LEN bytes, the SHA-256 of
 * the server certificate's DER encoding, which is then all that is checked
 * unless `ca_file` is given too. At least one of them. Returns 0, or
 * SL_ERR/SL_EINVAL with a sentence in `err`.
 */
int sl_tls_ctx_client(struct sl_tls_ctx **ctx, const char *ca_file, const unsigned char *pin,
                      struct sl_strbuf *err);

/** Free a context (NULL is fine). Its sessions must be freed first. */
void sl_tls_ctx_free(struct sl_tls_ctx *ctx);

/**
 * The OpenSSL context inside `ctx`, for a library that runs TLS itself
 * (h2o in sluice-web) with the certificate and key loaded, and checked, here.
 * It belongs to `ctx`. (OpenSSL's SSL_CTX, named by its struct so that
 * this header does not bring OpenSSL's into every file that includes it.)
 */
struct ssl_ctx_st *sl_tls_ctx_ssl(struct sl_tls_ctx *ctx);

/**
 * A session of `ctx`, server or client as `ctx` is. `host` (clients with a
 * CA file only; ignored otherwise): the name or IP address the server's
 * certificate must be for (its subjectAltName), as given in the worker's
 * `scheduler` entry. Returns 0, or SL_ERR with a sentence in `err`.
 */
int sl_tls_new(struct sl_tls **t, struct sl_tls_ctx *ctx, const char *host, struct sl_strbuf *err);

/** Free a session (NULL is fine). */
void sl_tls_free(struct sl_tls *t);

/** A client's first flight (its ClientHello), to sl_tls_take. No-op on a server. */
int sl_tls_start(struct sl_tls *t, struct sl_strbuf *err);

/**
 * `len` bytes from the peer: advance the handshake, then append whatever
 * plaintext they complete to `plain`. Bytes for the peer may be waiting
 * afterwards (handshake messages, an alert): call sl_tls_take. Returns 0;
 * 1 when the peer has closed the session (close_notify: no more
 * plaintext comes); or SL_ERR with one sentence in `err` (the handshake
 * failed, a certificate was refused, a record was not valid), after which
 * the session is failed and only sl_tls_take and sl_tls_free make sense.
 */
int sl_tls_feed(struct sl_tls *t, const void *bytes, size_t len, struct sl_strbuf *plain,
                struct sl_strbuf *err);

/**
 * `len` bytes of plaintext for the peer: encrypted now if the handshake
 * is complete, else kept until it is (and dropped if it fails). Returns 0,
 * or SL_ERR with a sentence in `err`.
 */
int sl_tls_write(struct sl_tls *t, const void *bytes, size_t len, struct sl_strbuf *err);

/** Move the bytes waiting for the peer to the end of `out`. */
void sl_tls_take(struct sl_tls *t, struct sl_strbuf *out);

/** Whether the handshake is complete and the peer verified. */
bool sl_tls_established(const struct sl_tls *t);

/** Queue a close_notify alert (once the handshake is complete; else nothing). */
void sl_tls_close(struct sl_tls *t);

/**
 * Append "sha256:AB:CD:..." (as `openssl x509 -noout -fingerprint
 * -sha256` prints it, upper case, with colons) of `fp` to `out`.
 */
void sl_tls_fingerprint_format(const unsigned char *fp, struct sl_strbuf *out);

#endif
