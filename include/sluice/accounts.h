#ifndef SLUICE_ACCOUNTS_H
#define SLUICE_ACCOUNTS_H

#ifndef SLUICE_LAYER_DB
#error "sluice/accounts.h: this target does not link the database layer (docs/architecture.md)"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/credentials.h"
#include "sluice/db.h"
#include "sluice/strbuf.h"

/**
 * Accounts of the web UI and the HTTP API (docs/security.md, "Accounts,
 * tokens and the audit log"): users with a role and a password, their
 * bearer tokens, and the audit row each change writes
 * (lib/db/sql/accounts.sql). The lists are views (views.h).
 *
 * A password is stored as libsodium's argon2id string (crypto_pwhash_str):
 * passwords are chosen by people and guessable, so their hash must be slow
 * and memory-hard to make each guess expensive. A token is 32 random bytes
 * and stored as its SHA-256, like a worker's secret (credentials.h): no
 * guess can find it, and a fast hash lets every API request be checked
 * without spending 64 MiB and about 0.2 s of CPU. Both are hashed here,
 * so that the clear text never reaches the server or its statement log.
 *
 * Errors are negative SL_E* codes with one sentence in `err`.
 */

enum sl_role {
	SL_ROLE_VIEWER,
	SL_ROLE_OPERATOR,
	SL_ROLE_ADMIN,
};

/** "viewer", "operator" or "admin". */
const char *sl_role_name(enum sl_role role);
/** Parse a role name; false when `name` is none. */
bool sl_role_parse(const char *name, enum sl_role *role);

/** Who makes a change, for its audit row: a login or user name, and "cli" or "web". */
struct sl_actor {
	const char *name;
	const char *via;
};

/**
 * Write the audit row of a change (`action` such as "runs cancel", on
 * `target`) made by `who`. Stores that change runs, DAGs and pools call it
 * inside their caller's transaction, so that the change and its row commit
 * together; the changes of this header write theirs in their own statement.
 */
int sl_audit_add(struct sl_db *db, const struct sl_actor *who, const char *action,
                 const char *target, struct sl_strbuf *err);

/** A password has from 8 to 1024 bytes. */
#define SL_PASSWORD_MIN 8
#define SL_PASSWORD_MAX 1024
/** The size of an argon2id string and its NUL (libsodium's crypto_pwhash_STRBYTES). */
#define SL_PASSWORD_HASH_SIZE 128

/** Every API token starts so: the format's version, and a mark for secret scanners. */
#define SL_TOKEN_PREFIX "sluice-tk1."
#define SL_TOKEN_LEN    (sizeof(SL_TOKEN_PREFIX) - 1 + SL_SECRET_B64_LEN)

/**
 * The argon2id string of `password` (libsodium's interactive limits: 2
 * passes over 64 MiB), with a random salt. SL_EINVAL: its length is out of
 * bounds.
 */
int sl_password_hash(const char *password, size_t len, char hash[SL_PASSWORD_HASH_SIZE],
                     struct sl_strbuf *err);
/** Whether `password` is the one whose argon2id string is `hash`. */
bool sl_password_verify(const char *hash, const char *password, size_t len);

/**
 * Create user `name` (an id) with `role` and the hash of `password`.
 * SL_EINVAL: a bad name or password; SL_ERR: the name is taken.
 */
int sl_user_add(struct sl_db *db, const struct sl_actor *who, const char *name, enum sl_role role,
                const char *password, size_t len, struct sl_strbuf *err);
/**
 * Create user `name` with `role` and `password`, or give the existing one
 * that role and password (its tokens stay, its web sessions end).
 * SL_EINVAL: a bad name or password.
 */
int sl_user_put(struct sl_db *db, const struct sl_actor *who, const char *name, enum sl_role role,
                const char *password, size_t len, struct sl_strbuf *err);
/**
 * Give user `name` a new password and end its web sessions (its API tokens
 * stay). SL_ENOENT: no such user; SL_EINVAL: a bad name or password.
 */
int sl_user_set_password(struct sl_db *db, const struct sl_actor *who, const char *name,
                         const char *password, size_t len, struct sl_strbuf *err);
/** Delete user `name` and its tokens. SL_ENOENT: no such user. */
int sl_user_delete(struct sl_db *db, const struct sl_actor *who, const char *name,
                   struct sl_strbuf *err);
/**
 * A login: `*ok` tells whether user `name` exists and `password` is its
 * own, and `*role` is then its role. An unknown name takes as long as a
 * wrong password, so that the time does not tell which names exist.
 */
int sl_user_check_password(struct sl_db *db, const char *name, const char *password, size_t len,
                           bool *ok, enum sl_role *role, struct sl_strbuf *err);

/**
 * A new token for user `user`: the token in `token` (shown once; only its
 * SHA-256 is stored) and its id in `*id`. SL_ENOENT: no such user.
 */
int sl_token_create(struct sl_db *db, const struct sl_actor *who, const char *user,
                    char token[SL_TOKEN_LEN + 1], int64_t *id, struct sl_strbuf *err);
/** Revoke token `id`; revoking twice is not an error. SL_ENOENT: no such token. */
int sl_token_revoke(struct sl_db *db, const struct sl_actor *who, int64_t id,
                    struct sl_strbuf *err);

/**
 * The account behind bearer token `token` (`len` bytes, from an
 * Authorization header): `*ok` is true when it is a live token, with its
 * user's name in `user` and role in `*role`; false for a malformed,
 * unknown or revoked one (`*revoked` tells the last apart, for the log).
 * One statement (accounts_token_check) that also marks the token used, at
 * most once a minute. Errors are the database's only.
 */
int sl_token_check(struct sl_db *db, const char *token, size_t len, bool *ok, bool *revoked,
                   struct sl_strbuf *user, enum sl_role *role, struct sl_strbuf *err);

#endif
