/*
 * libFuzzer target for the cron parser and sl_cron_next: any input must
 * parse or fail with a message and an offset inside the input, and every
 * accepted expression must yield fire times that move strictly forward,
 * quickly, in UTC and in a zone with daylight saving.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/alloc.h"
#include "sluice/cron.h"
#include "sluice/error.h"
#include "sluice/strbuf.h"
#include "sluice/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Instants around the Paris DST changes of 2026, the epoch, and far out. */
static const int64_t starts[] = {
    1774746000,              /* 2026-03-29T01:00:00Z, spring forward */
    1792890000,              /* 2026-10-25T01:00:00Z, fall back */
    0,           4102444800, /* 2100-01-01T00:00:00Z */
    -2208988800,             /* 1900-01-01T00:00:00Z */
};

static void check_next(const struct sl_cron *c, const struct sl_tz *tz)
{
	for (size_t i = 0; i < SL_ARRAY_SIZE(starts); i++) {
		int64_t t = starts[i];

		for (int k = 0; k < 4; k++) {
			int64_t next = 0;

			int rc = sl_cron_next(c, tz, t, &next);

			/* A parsed expression always fires in UTC. In a zone,
			 * a wildcard job whose only times fall in DST gaps
			 * ("* 2 25-31 3 *\/7" in Paris) never does. */
			if (rc == SL_ENOENT && tz)
				break;
			if (rc != 0 || next <= t)
				abort();
			t = next;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_tz *paris = NULL;
	struct sl_cron c;
	size_t off = (size_t)-1;
	char *expr;

	/* Real expressions are short; long inputs only slow the fuzzer. */
	if (size > 256)
		return 0;
	expr = sl_xstrndup((const char *)data, size);
	if (sl_cron_parse(&c, expr, &err, &off) != 0) {
		if (err.len == 0 || off > strlen(expr))
			abort();
		goto out;
	}
	if (err.len != 0)
		abort();
	if (sl_tz_load(&paris, "Europe/Paris", &err) != 0)
		abort();
	check_next(&c, NULL);
	check_next(&c, paris);
out:
	sl_tz_free(paris);
	sl_strbuf_release(&err);
	free(expr);
	return 0;
}
