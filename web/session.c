/*
 * UI sessions (docs/web.md, "Signing in"): POST, GET and DELETE
 * /api/v1/session, and the check call.c makes of a request that carries
 * the sluice_session cookie instead of a bearer token.
 *
 * A cookie is an ambient credential: the browser sends it with any
 * request to this host, including one that another site's page makes it
 * send. Three things keep such a request from acting as the user:
 * SameSite=Strict (the browser does not attach the cookie to a request
 * started by another site), the CSRF token (a request that changes
 * something must repeat, in X-CSRF-Token, a secret that only a page of
 * this origin can read, over GET /api/v1/session), and the Origin check
 * (a browser names the page's origin on such a request). Bearer tokens
 * are sent only by code that holds them, so they need none of this.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "sluice/alloc.h"
#include "sluice/log.h"
#include "web.h"

#define COOKIE "sluice_session"

/*
 * The value of cookie COOKIE in `h`, a Cookie header ("a=b; c=d", RFC 6265
 * §5.4), without DQUOTEs: 1 with `*val` and `*len` set, 0 when absent, -1
 * when the header carries it twice with different values (another site of
 * the same domain may plant one: rather none than maybe theirs).
 */
static int find_cookie(const char *h, const char **val, size_t *len)
{
	const size_t nlen = sizeof(COOKIE) - 1;
	int found = 0;

	while (*h) {
		const char *end, *eq, *v;
		size_t vlen;

		h += strspn(h, " \t;");
		end = strchrnul(h, ';');
		eq = memchr(h, '=', (size_t)(end - h));
		if (eq && (size_t)(eq - h) == nlen && !memcmp(h, COOKIE, nlen)) {
			v = eq + 1;
			vlen = (size_t)(end - v);
			while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
				vlen--;
			if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"')
				v++, vlen -= 2;
			if (found && (vlen != *len || memcmp(v, *val, vlen)))
				return -1;
			*val = v;
			*len = vlen;
			found = 1;
		}
		h = end;
	}
	return found;
}

/* Secure whenever browsers reach the daemon over HTTPS: its own TLS, or a proxy's. */
static bool cookie_secure(const struct web_call *c)
{
	const char *base = c->w->cfg.web_base_url;

	return c->w->tls || (base && !strncmp(base, "https://", 8));
}

/*
 * The session's cookie, or (`value` NULL) an order to forget it. Without
 * Max-Age it lasts until the browser closes, or the session ends.
 */
static void set_cookie(struct web_call *c, const char *value)
{
	char *v =
	    sl_xasprintf(COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict%s%s", value ? value : "",
	                 value ? "" : "; Max-Age=0", cookie_secure(c) ? "; Secure" : "");

	web_header(c, "set-cookie", v);
	free(v);
}

/*
 * `url`'s origin (RFC 6454: scheme "://" host [":" port], the port only
 * when not the scheme's default) in `out`; false when it has none.
 */
static bool origin_of(const char *url, struct sl_strbuf *out)
{
	const char *host = strstr(url, "://"), *end;
	size_t len;

	if (!host)
		return false;
	host += 3;
	end = strchrnul(host, '/');
	len = (size_t)(end - host);
	if (!strncmp(url, "https://", 8) && len > 4 && !memcmp(end - 4, ":443", 4))
		len -= 4;
	else if (!strncmp(url, "http://", 7) && len > 3 && !memcmp(end - 3, ":80", 3))
		len -= 3;
	sl_strbuf_add(out, url, (size_t)(host - url));
	sl_strbuf_add(out, host, len);
	return true;
}

/*
 * A request that changes something with the browser's credential: when it
 * names its page's Origin, that must be this daemon's (as the request
 * reached it, or web.base_url). A browser sends Origin with every such
 * request it makes from a page (fetch or form), so another site's page
 * cannot pass; a client without one is no browser.
 */
static bool origin_ok(const struct web_call *c)
{
	struct sl_strbuf base = SL_STRBUF_INIT;
	bool ok;

	if (!c->origin || !strcasecmp(c->origin, c->own_origin))
		return true;
	ok = c->w->cfg.web_base_url && origin_of(c->w->cfg.web_base_url, &base) &&
	     !strcasecmp(c->origin, base.buf);
	sl_strbuf_release(&base);
	return ok;
}

bool web_method_safe(const struct web_call *c)
{
	return !strcmp(c->method, "GET") || !strcmp(c->method, "HEAD");
}

/* The request's X-CSRF-Token equals the session's, compared in constant time. */
static bool csrf_ok(const struct web_call *c, const char *csrf)
{
	const char *got = c->csrf;

	return got && strlen(got) == SL_CSRF_LEN && CRYPTO_memcmp(got, csrf, SL_CSRF_LEN) == 0;
}

bool web_session_auth(struct web_call *c, struct sl_db *db, char csrf[SL_CSRF_LEN + 1])
{
	struct sl_session s = SL_SESSION_INIT;
	struct sl_strbuf err = SL_STRBUF_INIT;
	const char *v = NULL;
	size_t len = 0;
	bool ok = false;
	int found = c->cookie ? find_cookie(c->cookie, &v, &len) : 0;

	if (found <= 0) {
		web_header(c, "www-authenticate", "Bearer realm=\"sluice\"");
		web_problem(c, 401,
		            found ? "two different sluice_session cookies: sign in again"
		                  : "not signed in: sign in, or send an API token");
		goto out;
	}
	if (sl_session_check(db, v, len, &ok, &s, &err)) {
		web_db_failed(c, "session_check", &err);
		goto out;
	}
	if (!ok) {
		sl_log("info", "auth_refused", "reason=session");
		/* The browser may as well forget it. */
		set_cookie(c, NULL);
		web_header(c, "www-authenticate", "Bearer realm=\"sluice\"");
		web_problem(c, 401, "the session has ended or does not exist: sign in again");
		goto out;
	}
	ok = false;
	if (!web_method_safe(c) && !origin_ok(c)) {
		sl_log("warn", "csrf_refused", "reason=origin user=%s", s.user.buf);
		web_problem(c, 403, "a request from another origin cannot use the session cookie");
		goto out;
	}
	if (!web_method_safe(c) && !csrf_ok(c, s.csrf)) {
		sl_log("warn", "csrf_refused", "reason=token user=%s", s.user.buf);
		web_problem(c, 403, "missing or wrong CSRF token (header X-CSRF-Token)");
		goto out;
	}
	sl_strbuf_reset(&c->user);
	sl_strbuf_adds(&c->user, s.user.buf);
	c->role = s.role;
	if (csrf)
		memcpy(csrf, s.csrf, SL_CSRF_LEN + 1);
	ok = true;
out:
	sl_session_release(&s);
	sl_strbuf_release(&err);
	return ok;
}

static json_t *session_json(const char *user, enum sl_role role, const char *csrf)
{
	return json_pack("{s:s, s:s, s:s}", "user", user, "role", sl_role_name(role), "csrf", csrf);
}

/* POST /api/v1/session {"user", "password"}: sign in. */
void web_api_session_create(struct web_call *c, struct sl_db *db)
{
	struct sl_session s = SL_SESSION_INIT;
	struct sl_strbuf err = SL_STRBUF_INIT, q = SL_STRBUF_INIT;
	json_t *body = web_body_object(c), *user, *password;
	bool ok;

	if (!body)
		goto out;
	user = json_object_get(body, "user");
	password = json_object_get(body, "password");
	if (!json_is_string(user) || !json_is_string(password)) {
		web_problem(c, 400, "%s: expected a string",
		            json_is_string(user) ? "password" : "user");
		goto out;
	}
	/* Login CSRF: another site's page must not sign the browser in as someone else. */
	if (!origin_ok(c)) {
		web_problem(c, 403, "a request from another origin cannot sign in");
		goto out;
	}
	if (sl_session_create(db, json_string_value(user), json_string_value(password),
	                      json_string_length(password), c->peer, &ok, &s, &err)) {
		web_db_failed(c, "session_create", &err);
		goto out;
	}
	sl_log_quote(&q, json_string_value(user));
	if (s.retry_after) {
		char secs[24];

		sl_log("warning", "login_throttled", "user=%s from=%s retry_after=%ld", q.buf,
		       c->peer, s.retry_after);
		snprintf(secs, sizeof(secs), "%ld", s.retry_after);
		web_header(c, "retry-after", secs);
		web_problem(c, 429,
		            "too many failed sign-ins as this user or from this address; try again "
		            "in %ld seconds",
		            s.retry_after);
		goto out;
	}
	if (!ok) {
		sl_log("info", "login_refused", "user=%s from=%s", q.buf, c->peer);
		/* One answer for an unknown user and a wrong password. */
		web_header(c, "www-authenticate", "Bearer realm=\"sluice\"");
		web_problem(c, 401, "wrong user name or password");
		goto out;
	}
	sl_log("info", "login", "user=%s role=%s from=%s", q.buf, sl_role_name(s.role), c->peer);
	set_cookie(c, s.secret);
	web_json(c, 201, session_json(s.user.buf, s.role, s.csrf));
out:
	json_decref(body);
	sl_session_release(&s);
	sl_strbuf_release(&q);
	sl_strbuf_release(&err);
}

/* GET /api/v1/session: who is signed in, and the CSRF token the page needs. */
void web_api_session_get(struct web_call *c, struct sl_db *db)
{
	char csrf[SL_CSRF_LEN + 1];

	if (web_session_auth(c, db, csrf))
		web_json(c, 200, session_json(c->user.buf, c->role, csrf));
}

/* DELETE /api/v1/session: sign out, here and in the database. */
void web_api_session_delete(struct web_call *c, struct sl_db *db)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	const char *v = NULL;
	size_t len = 0;
	bool found;

	if (!web_session_auth(c, db, NULL))
		goto out;
	find_cookie(c->cookie, &v, &len);
	if (sl_session_delete(db, v, len, c->peer, &found, &err)) {
		web_db_failed(c, "session_delete", &err);
		goto out;
	}
	sl_log("info", "logout", "user=%s from=%s", c->user.buf, c->peer);
	set_cookie(c, NULL);
	web_answer(c, 204, "text/plain", "", 0);
out:
	sl_strbuf_release(&err);
}
