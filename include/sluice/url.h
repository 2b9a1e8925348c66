#ifndef SLUICE_URL_H
#define SLUICE_URL_H

#include <stdbool.h>
#include <stddef.h>

/**
 * Repository URLs fit to send, print and store: without credentials.
 *
 * sl_url_redact returns a new string (free it), `url` without the
 * credentials of its user-info, for a repository named as sluice takes it
 * (docs/dag-source.md):
 *
 *  - `SCHEME://USER:PASSWORD@HOST/...` and `SCHEME://USER@HOST/...`
 *    become `SCHEME://HOST/...`: the whole user-info goes, because a token
 *    is often the user name itself (`https://TOKEN@host/x.git`,
 *    `https://oauth2:TOKEN@host/x.git`);
 *  - except for ssh (`ssh://`, `git+ssh://`, `ssh+git://`), where the user
 *    is the login an ssh key is checked against, not a secret: it stays,
 *    only a password goes (`ssh://git:pw@host/x` -> `ssh://git@host/x`);
 *  - the scp-like form `user@host:path` has no place for a password and
 *    is returned as it is, like a local path and `file:///path`.
 *
 * The user-info ends at the last '@' before the first '/', '?' or '#'
 * after "://" (so an '@' in the path is not taken for one, and an
 * unencoded '@' in a password is); a password holding '/', '?' or '#'
 * must be percent-encoded, as libgit2 needs it to be. NULL gives NULL.
 */
char *sl_url_redact(const char *url);

/** The value of hexadecimal digit `c` (either case), or -1. */
int sl_hex_digit(int c);

/**
 * A new string (free it): `len` bytes of `s` percent-decoded, as a URL's
 * path segment or, with `plus_is_space`, its query
 * (application/x-www-form-urlencoded: "+" is a space). A malformed escape
 * is kept as it is.
 */
char *sl_url_pct_decode(const char *s, size_t len, bool plus_is_space);

#endif
