/*
 * Credentials out of repository URLs, before they are sent, printed or
 * stored. See include/sluice/url.h.
 */
#include "sluice/url.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "sluice/alloc.h"
#include "sluice/strbuf.h"
#include "sluice/banned.h"

/* ssh's user name is the account a key logs into, not a credential. */
static bool keeps_user(const char *scheme, size_t len)
{
	static const char *const ssh[] = {"ssh", "git+ssh", "ssh+git"};

	for (size_t i = 0; i < SL_ARRAY_SIZE(ssh); i++)
		if (strlen(ssh[i]) == len && !strncasecmp(scheme, ssh[i], len))
			return true;
	return false;
}

/*
 * Where the part of `url` to drop starts and ends: [*from, *to). False
 * when there is nothing to drop.
 */
static bool credentials_span(const char *url, size_t *from, size_t *to)
{
	const char *sep = strstr(url, "://");
	const char *auth, *at = NULL, *colon;
	size_t authlen;

	if (!sep)
		return false;
	auth = sep + 3;
	authlen = strcspn(auth, "/?#");
	for (size_t i = 0; i < authlen; i++)
		if (auth[i] == '@')
			at = auth + i;
	if (!at)
		return false;
	if (!keeps_user(url, (size_t)(sep - url))) {
		*from = (size_t)(auth - url);
		*to = (size_t)(at + 1 - url);
		return true;
	}
	colon = memchr(auth, ':', (size_t)(at - auth));
	if (!colon)
		return false;
	*from = (size_t)(colon - url);
	*to = (size_t)(at - url);
	return true;
}

char *sl_url_redact(const char *url)
{
	struct sl_strbuf out = SL_STRBUF_INIT;
	size_t from, to;

	if (!url)
		return NULL;
	if (!credentials_span(url, &from, &to))
		return sl_xstrdup(url);
	sl_strbuf_add(&out, url, from);
	sl_strbuf_adds(&out, url + to);
	return sl_strbuf_detach(&out, NULL);
}

int sl_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *sl_url_pct_decode(const char *s, size_t len, bool plus_is_space)
{
	char *out = sl_xmalloc(len + 1), *o = out;
	int hi, lo;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '+' && plus_is_space) {
			*o++ = ' ';
		} else if (s[i] == '%' && i + 2 < len &&
		           (hi = sl_hex_digit((unsigned char)s[i + 1])) >= 0 &&
		           (lo = sl_hex_digit((unsigned char)s[i + 2])) >= 0) {
			*o++ = (char)(hi << 4 | lo);
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}
