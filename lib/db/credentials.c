/*
 * Workers' own credentials: making a secret, hashing it, the rule a HELLO
 * is checked by, and the rows of worker_credentials.
 */
#include "sluice/credentials.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "sluice/alloc.h"
#include "sluice/dag.h"
#include "sluice/error.h"
#include "sluice/pgarray.h"
#include "sluice/banned.h"

#define SECRET_BYTES 32

int sl_secret_generate(const char *prefix, char *out, size_t size, struct sl_strbuf *err)
{
	unsigned char raw[SECRET_BYTES];
	/* EVP_EncodeBlock writes 4 characters per 3 bytes, padded, and a NUL. */
	unsigned char b64[4 * ((SECRET_BYTES + 2) / 3) + 1];
	size_t got = 0, plen = strlen(prefix);
	int len;

	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			sl_strbuf_addf(err, "cannot read random bytes (getrandom): %s",
			               strerror(errno));
			return SL_ERR;
		}
		got += (size_t)n;
	}
	len = EVP_EncodeBlock(b64, raw, (int)sizeof(raw));
	memset(raw, 0, sizeof(raw));
	/* base64url without padding: safe in a file, a URL and a shell word. */
	while (len > 0 && b64[len - 1] == '=')
		len--;
	if ((size_t)len != SL_SECRET_B64_LEN || plen + SL_SECRET_B64_LEN + 1 != size) {
		sl_strbuf_addf(err, "a secret of %zu characters does not fit in %zu bytes",
		               plen + (size_t)len, size);
		memset(b64, 0, sizeof(b64));
		return SL_ERR;
	}
	memcpy(out, prefix, plen);
	for (int i = 0; i < len; i++)
		out[plen + (size_t)i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : (char)b64[i];
	out[plen + (size_t)len] = '\0';
	memset(b64, 0, sizeof(b64));
	return 0;
}

int sl_credential_generate(char secret[SL_CREDENTIAL_SECRET_LEN + 1], struct sl_strbuf *err)
{
	return sl_secret_generate(SL_CREDENTIAL_PREFIX, secret, SL_CREDENTIAL_SECRET_LEN + 1, err);
}

int sl_credential_hash(const char *secret, size_t len, unsigned char hash[SL_CREDENTIAL_HASH_LEN],
                       struct sl_strbuf *err)
{
	unsigned int out = 0;

	if (!EVP_Digest(secret, len, hash, &out, EVP_sha256(), NULL) ||
	    out != SL_CREDENTIAL_HASH_LEN) {
		sl_strbuf_adds(err, "cannot compute SHA-256 (OpenSSL EVP_Digest failed)");
		return SL_ERR;
	}
	return 0;
}

void sl_credential_hex(const unsigned char hash[SL_CREDENTIAL_HASH_LEN],
                       char hex[2 * SL_CREDENTIAL_HASH_LEN + 1])
{
	for (size_t i = 0; i < SL_CREDENTIAL_HASH_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", hash[i]);
}

void sl_credentials_release(struct sl_credentials *c)
{
	for (size_t i = 0; i < c->nr; i++)
		free(c->items[i].worker_id);
	free(c->items);
	*c = (struct sl_credentials)SL_CREDENTIALS_INIT;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The hash as encode(..., 'hex') writes it. */
static int hash_from_hex(const char *hex, unsigned char hash[SL_CREDENTIAL_HASH_LEN])
{
	if (strlen(hex) != 2 * SL_CREDENTIAL_HASH_LEN)
		return SL_ERR;
	for (size_t i = 0; i < SL_CREDENTIAL_HASH_LEN; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return SL_ERR;
		hash[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int sl_credentials_of(struct sl_db *db, const char *const *names, size_t nr,
                      struct sl_credentials *out, struct sl_strbuf *err)
{
	struct sl_strbuf arr = SL_STRBUF_INIT;
	const char *params[1];
	PGresult *r = NULL;
	int rc;

	for (size_t i = 0; i < nr; i++)
		sl_pgarray_add(&arr, names[i]);
	params[0] = sl_pgarray_end(&arr);
	if ((rc = sl_db_q_idempotent(db, SL_Q_CREDENTIALS_OF, 1, params, &r, err)))
		goto out;
	for (int i = 0; i < PQntuples(r); i++) {
		struct sl_credential *c;

		SL_ALLOC_GROW(out->items, out->nr + 1, out->alloc);
		c = &out->items[out->nr++];
		c->worker_id = sl_xstrdup(PQgetvalue(r, i, 0));
		memset(c->hash, 0, sizeof(c->hash));
		c->state =
		    PQgetvalue(r, i, 2)[0] == 't' ? SL_CREDENTIAL_REVOKED : SL_CREDENTIAL_OWN;
		if (c->state == SL_CREDENTIAL_OWN && hash_from_hex(PQgetvalue(r, i, 1), c->hash)) {
			sl_strbuf_addf(err, "worker_credentials: the hash of '%s' is not 32 bytes",
			               c->worker_id);
			rc = SL_ERR;
			goto out;
		}
	}
out:
	PQclear(r);
	sl_strbuf_release(&arr);
	return rc;
}

const struct sl_credential *sl_credentials_find(const struct sl_credentials *c,
                                                const char *worker_id)
{
	for (size_t i = 0; i < c->nr; i++)
		if (!strcmp(c->items[i].worker_id, worker_id))
			return &c->items[i];
	return NULL;
}

enum sl_credential_auth sl_credential_check(const struct sl_credential *c,
                                            const unsigned char presented[SL_CREDENTIAL_HASH_LEN],
                                            bool shared_ok)
{
	static const unsigned char none[SL_CREDENTIAL_HASH_LEN];
	/* Compared in every case, against zeros when there is no hash, so that
	 * the time is the same whatever the name's state. */
	bool own_ok = !CRYPTO_memcmp(c && c->state == SL_CREDENTIAL_OWN ? c->hash : none, presented,
	                             SL_CREDENTIAL_HASH_LEN);

	if (!c)
		return shared_ok ? SL_CREDENTIAL_BY_SHARED : SL_CREDENTIAL_REFUSED;
	if (c->state == SL_CREDENTIAL_OWN && own_ok)
		return SL_CREDENTIAL_BY_OWN;
	return SL_CREDENTIAL_REFUSED;
}

int sl_credential_add(struct sl_db *db, const char *worker_id,
                      const unsigned char hash[SL_CREDENTIAL_HASH_LEN], bool rotate,
                      long *rotations, struct sl_strbuf *err)
{
	char hex[2 * SL_CREDENTIAL_HASH_LEN + 1];
	const char *params[] = {worker_id, hex, rotate ? "true" : "false"};
	PGresult *r = NULL;
	int rc;

	if (!sl_id_valid(worker_id)) {
		sl_strbuf_addf(err, "'%s' is not a valid worker name", worker_id);
		return SL_EINVAL;
	}
	sl_credential_hex(hash, hex);
	/* Not idempotent: sent twice, the second would find the first's row. */
	if ((rc = sl_db_q(db, SL_Q_CREDENTIALS_ADD, 3, params, &r, err)))
		goto out;
	if (PQntuples(r) == 0) {
		sl_strbuf_addf(err,
		               "worker '%s' already has a credential; --rotate replaces it "
		               "(and closes the connection made with the old one)",
		               worker_id);
		rc = SL_ERR;
		goto out;
	}
	if (rotations)
		*rotations = strtol(PQgetvalue(r, 0, 0), NULL, 10);
out:
	PQclear(r);
	return rc;
}

int sl_credential_revoke(struct sl_db *db, const char *worker_id, struct sl_strbuf *err)
{
	const char *params[] = {worker_id};
	PGresult *r = NULL;
	int rc;

	if (!sl_id_valid(worker_id)) {
		sl_strbuf_addf(err, "'%s' is not a valid worker name", worker_id);
		return SL_EINVAL;
	}
	rc = sl_db_q_idempotent(db, SL_Q_CREDENTIALS_REVOKE, 1, params, &r, err);
	if (!rc && PQntuples(r) == 0) {
		sl_strbuf_addf(err,
		               "no worker '%s' (neither connected once nor given a credential)",
		               worker_id);
		rc = SL_ENOENT;
	}
	PQclear(r);
	return rc;
}
