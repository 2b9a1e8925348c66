#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "sluice/url.h"

static void redacts(const char *url, const char *want)
{
	char *got = sl_url_redact(url);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_userinfo_removed(void **state)
{
	(void)state;
	redacts("https://user:secret@git.example.com/dags.git", "https://git.example.com/dags.git");
	redacts("http://user:secret@git.example.com:8080/dags.git",
	        "http://git.example.com:8080/dags.git");
	/* A token as the user name is a credential too. */
	redacts("https://ghp_TOKEN@github.com/o/r.git", "https://github.com/o/r.git");
	redacts("https://oauth2:TOKEN@gitlab.example.com/o/r", "https://gitlab.example.com/o/r");
	redacts("git://u:p@127.0.0.1:9418/dags", "git://127.0.0.1:9418/dags");
	redacts("file://user:secret@/srv/dags.git", "file:///srv/dags.git");
	redacts("HTTPS://u:p@host/x", "HTTPS://host/x");
	/* An empty user, an empty password, nothing but the '@'. */
	redacts("https://:secret@host/x", "https://host/x");
	redacts("https://user:@host/x", "https://host/x");
	redacts("https://@host/x", "https://host/x");
	/* No path at all, or a query or fragment right after the host. */
	redacts("https://u:p@host", "https://host");
	redacts("https://u:p@host?x=1", "https://host?x=1");
	redacts("https://u:p@host#frag", "https://host#frag");
}

static void test_ipv6_and_ports(void **state)
{
	(void)state;
	redacts("https://u:p@[::1]:8443/x.git", "https://[::1]:8443/x.git");
	redacts("https://u:p@[2001:db8::7]/x.git", "https://[2001:db8::7]/x.git");
	redacts("https://[::1]:8443/x.git", "https://[::1]:8443/x.git");
	redacts("ssh://git:pw@[fe80::1%25eth0]:22/x", "ssh://git@[fe80::1%25eth0]:22/x");
}

static void test_at_signs(void **state)
{
	(void)state;
	/* An '@' in the path is not user-info. */
	redacts("https://host/users/@me/x.git", "https://host/users/@me/x.git");
	redacts("https://u:p@host/@me/x.git", "https://host/@me/x.git");
	redacts("https://host/x?who=a@b", "https://host/x?who=a@b");
	/* An unencoded '@' in the user or the password: the last one ends it. */
	redacts("https://me@example.com:p@ss@host/x", "https://host/x");
	/* A password with ':' in it. */
	redacts("https://u:a:b:c@host/x", "https://host/x");
}

static void test_ssh_keeps_user(void **state)
{
	(void)state;
	redacts("ssh://git@host/x.git", "ssh://git@host/x.git");
	redacts("ssh://git:secret@host:2222/x.git", "ssh://git@host:2222/x.git");
	redacts("git+ssh://deploy:pw@host/x", "git+ssh://deploy@host/x");
	redacts("ssh+git://deploy:pw@host/x", "ssh+git://deploy@host/x");
	redacts("SSH://git:pw@host/x", "SSH://git@host/x");
	/* Not ssh: the scheme only starts like it. */
	redacts("sshx://git@host/x", "sshx://host/x");
}

static void test_unchanged(void **state)
{
	(void)state;
	redacts("", "");
	redacts("/srv/dags.git", "/srv/dags.git");
	redacts("./dags-repo", "./dags-repo");
	redacts("/srv/a:b@c", "/srv/a:b@c");
	redacts("file:///srv/dags.git", "file:///srv/dags.git");
	redacts("https://git.example.com/dags.git", "https://git.example.com/dags.git");
	/* scp-like: no place for a password; the user is a login. */
	redacts("git@github.com:o/r.git", "git@github.com:o/r.git");
	redacts("host:path", "host:path");
	/* Odd input. */
	redacts("://", "://");
	redacts("://@", "://");
	redacts("@", "@");
	redacts("a://", "a://");
	redacts("https://", "https://");
	redacts("https:/u:p@host/x", "https:/u:p@host/x");
	assert_null(sl_url_redact(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_userinfo_removed), cmocka_unit_test(test_ipv6_and_ports),
	    cmocka_unit_test(test_at_signs),         cmocka_unit_test(test_ssh_keeps_user),
	    cmocka_unit_test(test_unchanged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
