/*
 * Users, their passwords (argon2id by libsodium) and API tokens (SHA-256 of
 * 32 random bytes), each change with its audit row (sluice/accounts.h).
 */
#include "sluice/accounts.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/dag.h"
#include "sluice/error.h"
#include "sluice/banned.h"

_Static_assert(SL_PASSWORD_HASH_SIZE == crypto_pwhash_STRBYTES,
               "SL_PASSWORD_HASH_SIZE is libsodium's crypto_pwhash_STRBYTES");

static const char *const role_names[] = {
    [SL_ROLE_VIEWER] = "viewer",
    [SL_ROLE_OPERATOR] = "operator",
    [SL_ROLE_ADMIN] = "admin",
};

const char *sl_role_name(enum sl_role role)
{
	return role_names[role];
}

bool sl_role_parse(const char *name, enum sl_role *role)
{
	for (size_t i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
		if (!strcmp(name, role_names[i])) {
			*role = (enum sl_role)i;
			return true;
		}
	return false;
}

int sl_audit_add(struct sl_db *db, const struct sl_actor *who, const char *action,
                 const char *target, struct sl_strbuf *err)
{
	const char *params[] = {who->name, who->via, action, target};

	/* Not idempotent: the caller's transaction is what is retried. */
	return sl_db_q(db, SL_Q_ACCOUNTS_AUDIT_ADD, 4, params, NULL, err);
}

/* sodium_init may be called any number of times, from any thread; it fails
 * only when the kernel gives no random bytes. */
static int sodium_ready(struct sl_strbuf *err)
{
	if (sodium_init() < 0) {
		sl_strbuf_adds(err, "cannot initialise libsodium (no random source?)");
		return SL_ERR;
	}
	return 0;
}

int sl_password_hash(const char *password, size_t len, char hash[SL_PASSWORD_HASH_SIZE],
                     struct sl_strbuf *err)
{
	int rc;

	if (len < SL_PASSWORD_MIN || len > SL_PASSWORD_MAX) {
		sl_strbuf_addf(err, "a password has from %d to %d bytes, not %zu", SL_PASSWORD_MIN,
		               SL_PASSWORD_MAX, len);
		return SL_EINVAL;
	}
	if ((rc = sodium_ready(err)))
		return rc;
	/* Interactive limits: a login costs about 0.2 s and 64 MiB,
	 * which is what each guess of an attacker holding the hash costs too. */
	if (crypto_pwhash_str_alg(hash, password, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
	                          crypto_pwhash_MEMLIMIT_INTERACTIVE,
	                          crypto_pwhash_ALG_ARGON2ID13)) {
		sl_strbuf_adds(err, "cannot hash the password (argon2id ran out of memory)");
		return SL_ERR;
	}
	return 0;
}

bool sl_password_verify(const char *hash, const char *password, size_t len)
{
	return sodium_init() >= 0 && crypto_pwhash_str_verify(hash, password, len) == 0;
}

/*
 * Statement `q`, which sets user `name`'s password, with the actor, the
 * name, `role` when it takes one, and last the password's hash. Not
 * retried: sent twice, it would write its audit row twice. `*found` (when
 * not NULL): whether a row came back.
 */
static int with_password(struct sl_db *db, enum sl_query q, const struct sl_actor *who,
                         const char *name, const char *role, const char *password, size_t len,
                         bool *found, struct sl_strbuf *err)
{
	char hash[SL_PASSWORD_HASH_SIZE];
	const char *params[] = {who->name, who->via, name, role ? role : hash, hash};
	PGresult *r = NULL;
	int rc;

	if (!sl_id_valid(name)) {
		sl_strbuf_addf(err, "'%s' is not a valid user name", name);
		return SL_EINVAL;
	}
	if ((rc = sl_password_hash(password, len, hash, err)))
		return rc;
	rc = sl_db_q(db, q, role ? 5 : 4, params, found ? &r : NULL, err);
	if (!rc && found)
		*found = PQntuples(r) > 0;
	PQclear(r);
	return rc;
}

int sl_user_add(struct sl_db *db, const struct sl_actor *who, const char *name, enum sl_role role,
                const char *password, size_t len, struct sl_strbuf *err)
{
	bool found = false;
	int rc = with_password(db, SL_Q_ACCOUNTS_USER_ADD, who, name, sl_role_name(role), password,
	                       len, &found, err);

	if (!rc && !found) {
		sl_strbuf_addf(err, "user '%s' already exists", name);
		rc = SL_ERR;
	}
	return rc;
}

int sl_user_put(struct sl_db *db, const struct sl_actor *who, const char *name, enum sl_role role,
                const char *password, size_t len, struct sl_strbuf *err)
{
	return with_password(db, SL_Q_ACCOUNTS_USER_PUT, who, name, sl_role_name(role), password,
	                     len, NULL, err);
}

int sl_user_set_password(struct sl_db *db, const struct sl_actor *who, const char *name,
                         const char *password, size_t len, struct sl_strbuf *err)
{
	bool found = false;
	int rc = with_password(db, SL_Q_ACCOUNTS_USER_SET_PASSWORD, who, name, NULL, password, len,
	                       &found, err);

	if (!rc && !found) {
		sl_strbuf_addf(err, "no user '%s'", name);
		rc = SL_ENOENT;
	}
	return rc;
}

/*
 * Run change `q` with the actor and one more parameter; SL_ENOENT with
 * "no <what> '<arg>'" when it comes back with no row.
 */
static int change(struct sl_db *db, enum sl_query q, const struct sl_actor *who, const char *arg,
                  const char *what, struct sl_strbuf *err)
{
	const char *params[] = {who->name, who->via, arg};
	PGresult *r = NULL;
	int rc = sl_db_q(db, q, 3, params, &r, err);

	if (!rc && PQntuples(r) == 0) {
		sl_strbuf_addf(err, "no %s '%s'", what, arg);
		rc = SL_ENOENT;
	}
	PQclear(r);
	return rc;
}

int sl_user_delete(struct sl_db *db, const struct sl_actor *who, const char *name,
                   struct sl_strbuf *err)
{
	if (!sl_id_valid(name)) {
		sl_strbuf_addf(err, "'%s' is not a valid user name", name);
		return SL_EINVAL;
	}
	return change(db, SL_Q_ACCOUNTS_USER_DELETE, who, name, "user", err);
}

int sl_user_check_password(struct sl_db *db, const char *name, const char *password, size_t len,
                           bool *ok, enum sl_role *role, struct sl_strbuf *err)
{
	const char *params[] = {name};
	char dummy[SL_PASSWORD_HASH_SIZE];
	PGresult *r = NULL;
	int rc;

	*ok = false;
	/* No stored password has such a length. Refused before the lookup, so
	 * that it costs nothing for every name alike: verifying it against a
	 * real hash would take argon2id's time for existing names only. */
	if (len < SL_PASSWORD_MIN || len > SL_PASSWORD_MAX)
		return 0;
	if ((rc = sl_db_q_idempotent(db, SL_Q_ACCOUNTS_USER_PASSWORD, 1, params, &r, err)))
		goto out;
	if (PQntuples(r) == 0) {
		/* Spend what a wrong password costs. */
		rc = sl_password_hash(password, len, dummy, err);
		goto out;
	}
	*ok = sl_password_verify(PQgetvalue(r, 0, 0), password, len) &&
	      sl_role_parse(PQgetvalue(r, 0, 1), role);
out:
	PQclear(r);
	return rc;
}

int sl_token_create(struct sl_db *db, const struct sl_actor *who, const char *user,
                    char token[SL_TOKEN_LEN + 1], int64_t *id, struct sl_strbuf *err)
{
	unsigned char hash[SL_CREDENTIAL_HASH_LEN];
	char hex[2 * SL_CREDENTIAL_HASH_LEN + 1];
	const char *params[] = {who->name, who->via, user, hex};
	PGresult *r = NULL;
	int rc;

	if (!sl_id_valid(user)) {
		sl_strbuf_addf(err, "'%s' is not a valid user name", user);
		return SL_EINVAL;
	}
	if ((rc = sl_secret_generate(SL_TOKEN_PREFIX, token, SL_TOKEN_LEN + 1, err)) ||
	    (rc = sl_credential_hash(token, SL_TOKEN_LEN, hash, err)))
		return rc;
	sl_credential_hex(hash, hex);
	if ((rc = sl_db_q(db, SL_Q_ACCOUNTS_TOKEN_CREATE, 4, params, &r, err)))
		goto out;
	if (PQntuples(r) == 0) {
		sl_strbuf_addf(err, "no user '%s'", user);
		rc = SL_ENOENT;
		goto out;
	}
	*id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
out:
	if (rc)
		memset(token, 0, SL_TOKEN_LEN + 1);
	PQclear(r);
	return rc;
}

int sl_token_revoke(struct sl_db *db, const struct sl_actor *who, int64_t id, struct sl_strbuf *err)
{
	char arg[24];

	snprintf(arg, sizeof(arg), "%lld", (long long)id);
	return change(db, SL_Q_ACCOUNTS_TOKEN_REVOKE, who, arg, "token", err);
}

int sl_token_check(struct sl_db *db, const char *token, size_t len, bool *ok, bool *revoked,
                   struct sl_strbuf *user, enum sl_role *role, struct sl_strbuf *err)
{
	unsigned char hash[SL_CREDENTIAL_HASH_LEN];
	char hex[2 * SL_CREDENTIAL_HASH_LEN + 1];
	const char *params[] = {hex};
	PGresult *r = NULL;
	int rc;

	*ok = *revoked = false;
	/* Not one of ours: no need to ask the database. */
	if (len != SL_TOKEN_LEN || strncmp(token, SL_TOKEN_PREFIX, sizeof(SL_TOKEN_PREFIX) - 1))
		return 0;
	if ((rc = sl_credential_hash(token, len, hash, err)))
		return rc;
	sl_credential_hex(hash, hex);
	if ((rc = sl_db_q(db, SL_Q_ACCOUNTS_TOKEN_CHECK, 1, params, &r, err)))
		goto out;
	if (PQntuples(r) == 0)
		goto out;
	*revoked = !strcmp(PQgetvalue(r, 0, 3), "t");
	if (*revoked || !sl_role_parse(PQgetvalue(r, 0, 2), role))
		goto out;
	sl_strbuf_reset(user);
	sl_strbuf_adds(user, PQgetvalue(r, 0, 1));
	*ok = true;
out:
	PQclear(r);
	return rc;
}
