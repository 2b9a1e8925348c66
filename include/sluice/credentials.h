#ifndef SLUICE_CREDENTIALS_H
#define SLUICE_CREDENTIALS_H

#ifndef SLUICE_LAYER_DB
#error "sluice/credentials.h: this target does not link the database layer (docs/architecture.md)"
#endif

#include <stdbool.h>
#include <stddef.h>

#include "sluice/db.h"
#include "sluice/strbuf.h"

/**
 * A worker's own credential (docs/security.md, "One identity per worker"):
 * a random secret that `sluice workers add NAME` prints once, and of which
 * the database keeps only the SHA-256 (lib/db/sql/credentials.sql). The
 * worker presents it as its HELLO's token; the scheduler hashes what it is
 * given and compares the hashes in constant time.
 *
 * SHA-256, not a password KDF: the secret is 256 random bits, so nobody
 * can guess it from its hash however fast the hash is, and a slow KDF
 * would only cost the scheduler time at every HELLO. The hash is computed
 * here (OpenSSL's EVP), not by PostgreSQL's sha256(), so that the secret
 * never travels to the database server or into its statement log.
 *
 * Errors are negative SL_E* codes with one sentence in `err`.
 */

/** Every secret starts so: the format's version, and a mark for secret scanners. */
#define SL_CREDENTIAL_PREFIX "sluice-wk1."
/** 32 random bytes in unpadded base64url. */
#define SL_SECRET_B64_LEN 43
/** A secret's length: the prefix and 32 random bytes in unpadded base64url. */
#define SL_CREDENTIAL_SECRET_LEN (sizeof(SL_CREDENTIAL_PREFIX) - 1 + SL_SECRET_B64_LEN)
#define SL_CREDENTIAL_HASH_LEN   32
/** The NOTIFY payload of a change is this, a space and the worker's name. */
#define SL_CREDENTIAL_NOTIFY "credential"

/**
 * `prefix` and 32 random bytes from getrandom(2) in unpadded base64url, in
 * `out` of `size` bytes: exactly strlen(prefix) + SL_SECRET_B64_LEN + 1.
 * The workers' secrets and the API tokens (accounts.h) are made so.
 */
int sl_secret_generate(const char *prefix, char *out, size_t size, struct sl_strbuf *err);

/**
 * A new secret in `secret` (SL_CREDENTIAL_SECRET_LEN characters and a NUL),
 * from getrandom(2). Fails only when the kernel gives no random bytes.
 */
int sl_credential_generate(char secret[SL_CREDENTIAL_SECRET_LEN + 1], struct sl_strbuf *err);

/** The SHA-256 of `len` bytes of `secret`. */
int sl_credential_hash(const char *secret, size_t len, unsigned char hash[SL_CREDENTIAL_HASH_LEN],
                       struct sl_strbuf *err);

/** `hash` in lower-case hex, as the statements take it. */
void sl_credential_hex(const unsigned char hash[SL_CREDENTIAL_HASH_LEN],
                       char hex[2 * SL_CREDENTIAL_HASH_LEN + 1]);

enum sl_credential_state {
	SL_CREDENTIAL_NONE,    /* no row: the name may use the shared token */
	SL_CREDENTIAL_OWN,     /* an active secret of its own */
	SL_CREDENTIAL_REVOKED, /* refused until a new `workers add` */
};

struct sl_credential {
	char *worker_id;
	enum sl_credential_state state;
	unsigned char hash[SL_CREDENTIAL_HASH_LEN]; /* when OWN */
};

struct sl_credentials {
	struct sl_credential *items;
	size_t nr, alloc;
};

#define SL_CREDENTIALS_INIT \
	{                   \
		NULL, 0, 0  \
	}

void sl_credentials_release(struct sl_credentials *c);

/**
 * The credentials of the `nr` workers `names`, appended to `out`, in one
 * statement; a name that has none gets no entry.
 */
int sl_credentials_of(struct sl_db *db, const char *const *names, size_t nr,
                      struct sl_credentials *out, struct sl_strbuf *err);
/** The entry of `worker_id` in `c`, NULL when it has none (SL_CREDENTIAL_NONE). */
const struct sl_credential *sl_credentials_find(const struct sl_credentials *c,
                                                const char *worker_id);

/** How a HELLO authenticated, or that it did not. */
enum sl_credential_auth {
	SL_CREDENTIAL_REFUSED,
	SL_CREDENTIAL_BY_SHARED, /* the shared token, for a name without a credential */
	SL_CREDENTIAL_BY_OWN,    /* the worker's own secret */
};

/**
 * The rule (docs/scheduler.md): a name with an active credential `c` is
 * accepted only when `presented` (the hash of the HELLO's token) is its
 * hash; a revoked name never; a name without one (`c` NULL) only when
 * `shared_ok` (the token is the scheduler's shared token, when it has
 * one). The hashes are compared in constant time, and compared whatever
 * the state, so the time taken does not tell a name's state.
 */
enum sl_credential_auth sl_credential_check(const struct sl_credential *c,
                                            const unsigned char presented[SL_CREDENTIAL_HASH_LEN],
                                            bool shared_ok);

/**
 * Store the hash of a new secret for `worker_id` (a protocol id) and wake
 * the scheduler. When the worker has an active credential and `rotate` is
 * false, nothing changes and SL_ERR says so; with `rotate` it is replaced
 * (the scheduler then closes the connection made with the old one). A
 * revoked credential is replaced either way. `*rotations` (may be NULL)
 * receives how many times this worker's secret has been replaced.
 */
int sl_credential_add(struct sl_db *db, const char *worker_id,
                      const unsigned char hash[SL_CREDENTIAL_HASH_LEN], bool rotate,
                      long *rotations, struct sl_strbuf *err);

/**
 * Revoke `worker_id`'s credential, or refuse a worker that uses the shared
 * token, and wake the scheduler, which closes its connection. Revoking
 * twice is not an error. SL_ENOENT: the name is neither a worker nor has a
 * credential.
 */
int sl_credential_revoke(struct sl_db *db, const char *worker_id, struct sl_strbuf *err);

#endif
