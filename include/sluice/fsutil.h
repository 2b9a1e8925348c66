#ifndef SLUICE_FSUTIL_H
#define SLUICE_FSUTIL_H

#ifndef SLUICE_LAYER_EXEC
#error "sluice/fsutil.h: this target does not link the exec layer (docs/architecture.md)"
#endif

#include <stddef.h>

#include "sluice/strbuf.h"

/**
 * Small file system helpers shared by the programs: files that a crash
 * leaves whole or absent, never half written (what the worker keeps under
 * its state_dir, the secrets `sluice standalone` writes), and folders made
 * with their parents.
 */

/**
 * Write `len` bytes to `path` in folder `dir`: `path.new` is created
 * (mode 0600, never through a symlink), written, fsynced, renamed over
 * `path`, and `dir` fsynced so that the rename survives a power cut too.
 * 0, or SL_ERR with a sentence in `err`; a failure leaves no `.new`.
 */
int sl_file_write_atomic(const char *dir, const char *path, const void *bytes, size_t len,
                         struct sl_strbuf *err);

/** fsync a folder, so that a rename or unlink in it is durable; 0 or -1. */
int sl_fsync_dir(const char *dir);

/**
 * Create `path` and its missing parents with `mode` (an existing folder is
 * fine, as in `mkdir -p`). 0, or SL_ERR with a sentence naming the folder
 * that could not be made.
 */
int sl_mkdir_p(const char *path, unsigned mode, struct sl_strbuf *err);

#endif
