#ifndef SLUICE_TESTUTIL_H
#define SLUICE_TESTUTIL_H

/* Helpers shared by the cmocka tests; include after <cmocka.h>. */

#include <stdint.h>

#include "sluice/civil.h"
#include "sluice/strbuf.h"

/* An ISO 8601 string as an instant (UTC when it has no offset); a test
 * with a bad literal fails at once. */
static inline int64_t T(const char *iso)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	int64_t t = 0;

	if (sl_iso_parse(iso, NULL, &t, &err))
		fail_msg("bad test time '%s': %s", iso, err.buf);
	sl_strbuf_release(&err);
	return t;
}

#endif
