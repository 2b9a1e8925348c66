#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sluice/log.h"
#include "sluice/strbuf.h"

/* Run sl_log with stderr sent to a temporary file; return what it wrote. */
static char *logged(const char *event, const char *value)
{
	FILE *f = tmpfile();
	int saved;
	char *out = calloc(1, 4096);
	size_t n;

	assert_non_null(f);
	assert_non_null(out);
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(f), 2) >= 0);
	sl_log("info", event, "host=%s", value);
	assert_true(dup2(saved, 2) >= 0);
	close(saved);
	rewind(f);
	n = fread(out, 1, 4095, f);
	out[n] = '\0';
	fclose(f);
	return out;
}

static void test_control_chars_escaped(void **state)
{
	char *line;

	(void)state;
	line = logged("x", "a\nlevel=error event=forged\r\x1b[2J\x7f");
	assert_string_equal(
	    line, "level=info event=x host=a\\nlevel=error event=forged\\x0d\\x1b[2J\\x7f\n");
	/* One line: the only newline is the last byte. */
	assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
	free(line);
}

static void test_quoted_value_unchanged(void **state)
{
	struct sl_strbuf q = SL_STRBUF_INIT;
	char *line;

	(void)state;
	sl_log_quote(&q, "two words\n\"x\"");
	assert_string_equal(q.buf, "\"two words\\n\\\"x\\\"\"");
	line = logged("x", q.buf);
	assert_string_equal(line, "level=info event=x host=\"two words\\n\\\"x\\\"\"\n");
	free(line);
	sl_strbuf_release(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_control_chars_escaped),
	    cmocka_unit_test(test_quoted_value_unchanged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
