#ifndef SLUICE_GIT_INT_H
#define SLUICE_GIT_INT_H

/* What the files of lib/git/ share and nothing else sees. */

#include "sluice/strbuf.h"

/*
 * Append the message `fmt` and ": libgit2's reason" to `err`; returns
 * SL_ENOENT for libgit2's GIT_ENOTFOUND `code`, SL_ERR otherwise.
 */
__attribute__((format(printf, 3, 4))) int sl__git_fail(struct sl_strbuf *err, int code,
                                                       const char *fmt, ...);

#endif
