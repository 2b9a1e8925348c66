#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "sluice/credentials.h"

static void test_generate(void **state)
{
	char a[SL_CREDENTIAL_SECRET_LEN + 1], b[SL_CREDENTIAL_SECRET_LEN + 1];
	struct sl_strbuf err = SL_STRBUF_INIT;
	size_t prefix = strlen(SL_CREDENTIAL_PREFIX);

	(void)state;
	assert_int_equal(sl_credential_generate(a, &err), 0);
	assert_int_equal(sl_credential_generate(b, &err), 0);
	assert_int_equal(strlen(a), SL_CREDENTIAL_SECRET_LEN);
	assert_int_equal(SL_CREDENTIAL_SECRET_LEN, 54);
	assert_memory_equal(a, "sluice-wk1.", prefix);
	/* base64url without padding: a file, a URL or a shell word holds it as is. */
	assert_int_equal(strspn(a + prefix, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                                    "0123456789-_"),
	                 SL_CREDENTIAL_SECRET_LEN - prefix);
	assert_string_not_equal(a, b);
	sl_strbuf_release(&err);
}

static void test_hash(void **state)
{
	/* SHA-256("abc"), FIPS 180-2 appendix B.1. */
	static const unsigned char want[SL_CREDENTIAL_HASH_LEN] = {
	    0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
	    0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
	    0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
	unsigned char got[SL_CREDENTIAL_HASH_LEN];
	struct sl_strbuf err = SL_STRBUF_INIT;

	(void)state;
	assert_int_equal(sl_credential_hash("abc", 3, got, &err), 0);
	assert_memory_equal(got, want, sizeof(want));
	sl_strbuf_release(&err);
}

/* The rule of docs/scheduler.md, "Who may connect", row by row. */
static void test_check(void **state)
{
	char w1[] = "w1";
	struct sl_credential own = {w1, SL_CREDENTIAL_OWN, {0}};
	struct sl_credential revoked = {w1, SL_CREDENTIAL_REVOKED, {0}};
	unsigned char right[SL_CREDENTIAL_HASH_LEN], wrong[SL_CREDENTIAL_HASH_LEN];
	static const unsigned char zeros[SL_CREDENTIAL_HASH_LEN];
	struct sl_strbuf err = SL_STRBUF_INIT;

	(void)state;
	assert_int_equal(sl_credential_hash("right", 5, right, &err), 0);
	assert_int_equal(sl_credential_hash("wrong", 5, wrong, &err), 0);
	memcpy(own.hash, right, sizeof(right));
	/* Its own secret, and only that, whether or not it is also the shared token. */
	assert_int_equal(sl_credential_check(&own, right, false), SL_CREDENTIAL_BY_OWN);
	assert_int_equal(sl_credential_check(&own, wrong, false), SL_CREDENTIAL_REFUSED);
	assert_int_equal(sl_credential_check(&own, wrong, true), SL_CREDENTIAL_REFUSED);
	/* Revoked: nothing, not even the zeros a revoked row's hash is left as. */
	assert_int_equal(sl_credential_check(&revoked, right, true), SL_CREDENTIAL_REFUSED);
	assert_int_equal(sl_credential_check(&revoked, zeros, false), SL_CREDENTIAL_REFUSED);
	/* No credential: the shared token only. */
	assert_int_equal(sl_credential_check(NULL, right, true), SL_CREDENTIAL_BY_SHARED);
	assert_int_equal(sl_credential_check(NULL, right, false), SL_CREDENTIAL_REFUSED);
	assert_int_equal(sl_credential_check(NULL, zeros, false), SL_CREDENTIAL_REFUSED);
	sl_strbuf_release(&err);
}

static void test_find(void **state)
{
	char w1[] = "w1", w2[] = "w2";
	struct sl_credential items[] = {{w1, SL_CREDENTIAL_OWN, {0}},
	                                {w2, SL_CREDENTIAL_REVOKED, {0}}};
	struct sl_credentials c = {items, 2, 2};

	(void)state;
	assert_ptr_equal(sl_credentials_find(&c, "w2"), &items[1]);
	assert_null(sl_credentials_find(&c, "w3"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_generate),
	    cmocka_unit_test(test_hash),
	    cmocka_unit_test(test_check),
	    cmocka_unit_test(test_find),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
