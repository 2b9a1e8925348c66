#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testgit.h"

#include "sluice/gitsrc.h"
#include "sluice/strbuf.h"

int tg_sh(const char *fmt, ...)
{
	struct sl_strbuf cmd = SL_STRBUF_INIT;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	sl_strbuf_vaddf(&cmd, fmt, ap);
	va_end(ap);
	rc = system(cmd.buf);
	sl_strbuf_release(&cmd);
	return rc;
}

int tg_rev_parse(const char *repo, const char *rev, char *out)
{
	struct sl_strbuf cmd = SL_STRBUF_INIT;
	FILE *p;
	int rc = -1;

	sl_strbuf_addf(&cmd, "git -C '%s' rev-parse %s", repo, rev);
	p = popen(cmd.buf, "r");
	if (p && fgets(out, SL_OID_HEX_MAX + 1, p)) {
		out[strcspn(out, "\n")] = '\0';
		rc = 0;
	}
	if (p && pclose(p) != 0)
		rc = -1;
	sl_strbuf_release(&cmd);
	return rc;
}
