#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sluice/alloc.h"
#include "sluice/diag.h"
#include "sluice/error.h"
#include "sluice/strbuf.h"

static void test_empty_is_printable(void **state)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;

	(void)state;
	assert_non_null(sb.buf);
	assert_string_equal(sb.buf, "");
	sl_strbuf_release(&sb);
	assert_string_equal(sb.buf, "");
}

static void test_add_and_format(void **state)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;
	char *s;
	size_t len;

	(void)state;
	sl_strbuf_adds(&sb, "abc");
	sl_strbuf_addch(&sb, '-');
	sl_strbuf_addf(&sb, "%d:%s", 42, "x");
	assert_string_equal(sb.buf, "abc-42:x");
	for (int i = 0; i < 10000; i++)
		sl_strbuf_addch(&sb, 'y');
	assert_int_equal(sb.len, 8 + 10000);
	assert_int_equal(sb.buf[sb.len], '\0');
	s = sl_strbuf_detach(&sb, &len);
	assert_int_equal(len, 10008);
	assert_string_equal(sb.buf, "");
	free(s);
}

static void test_read_file_limit(void **state)
{
	char path[] = "/tmp/sluice-strbuf-XXXXXX";
	struct sl_strbuf sb = SL_STRBUF_INIT, err = SL_STRBUF_INIT;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello world", 11), 11);
	close(fd);
	assert_int_equal(sl_strbuf_read_file(&sb, path, 100, &err), 0);
	assert_string_equal(sb.buf, "hello world");
	sl_strbuf_reset(&sb);
	assert_int_equal(sl_strbuf_read_file(&sb, path, 5, &err), SL_ETOOBIG);
	assert_int_equal(sb.len, 0);
	assert_non_null(strstr(err.buf, "over the limit of 5 bytes"));
	unlink(path);
	sl_strbuf_reset(&err);
	assert_int_equal(sl_strbuf_read_file(&sb, path, 5, &err), SL_ERR);
	assert_non_null(strstr(err.buf, "cannot open"));
	sl_strbuf_release(&sb);
	sl_strbuf_release(&err);
}

static void test_alloc_grow(void **state)
{
	int *items = NULL;
	size_t nr = 0, alloc = 0;

	(void)state;
	for (int i = 0; i < 1000; i++) {
		SL_ALLOC_GROW(items, nr + 1, alloc);
		items[nr++] = i;
	}
	assert_true(alloc >= 1000);
	assert_int_equal(items[999], 999);
	free(items);
}

static void test_diags_sorted_stably(void **state)
{
	struct sl_diags d = SL_DIAGS_INIT;

	(void)state;
	sl_diags_add(&d, "b.yaml", 1, 1, "b1");
	sl_diags_add(&d, "a.yaml", 3, 2, "a32");
	sl_diags_add(&d, "a.yaml", 3, 2, "a32-second");
	sl_diags_add(&d, "a.yaml", 1, 9, "a19");
	sl_diags_add(&d, "a.yaml", 0, 0, "whole file %s", "x");
	sl_diags_sort(&d);
	assert_string_equal(d.items[0].message, "whole file x");
	assert_int_equal(d.items[0].line, 1);
	assert_string_equal(d.items[1].message, "a19");
	assert_string_equal(d.items[2].message, "a32");
	assert_string_equal(d.items[3].message, "a32-second");
	assert_string_equal(d.items[4].message, "b1");
	sl_diags_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty_is_printable),  cmocka_unit_test(test_add_and_format),
	    cmocka_unit_test(test_read_file_limit),     cmocka_unit_test(test_alloc_grow),
	    cmocka_unit_test(test_diags_sorted_stably),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
