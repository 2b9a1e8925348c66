#ifndef SLUICE_CHECKOUT_H
#define SLUICE_CHECKOUT_H

#ifndef SLUICE_LAYER_GIT
#error "sluice/checkout.h: this target does not link the git layer (docs/architecture.md)"
#endif

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "sluice/strbuf.h"

/**
 * The worker's per-commit checkout cache (docs/worker.md): a read-only
 * tree of each commit a task runs in, materialised with libgit2 from the
 * DAG repository (a local path, or a URL mirrored by lib/git/gitsrc.c), kept
 * for reuse by later attempts and pruned by age and size.
 *
 * Layout under STATE_DIR:
 *
 *     checkouts/<commit>/              the tree of <commit>, no .git; files
 *                                      0444 (0555 when executable), folders
 *                                      0555, whatever the umask: readable by
 *                                      a task user, writable by none; the
 *                                      folder's mtime is its last use
 *     checkouts/.tmp-<commit>-<pid>-*  a checkout being written
 *     checkouts/.trash-<commit>-<pid>-* a checkout being removed
 *     mirrors/NAME-HASH/               bare mirrors of URLs (lib/git/gitsrc.c)
 *     mirrors.lock                     held (flock) while a mirror is fetched
 *
 * Atomicity: a checkout is written into a fresh `.tmp-*` folder, made
 * read-only, flushed to disk (syncfs), then renamed to `<commit>`; the
 * rename is the commit point, so a `<commit>` folder is always complete
 * and no marker file is needed. Two callers (threads or processes) that
 * build the same commit at once both succeed: the rename of the second
 * fails (the name exists), and it removes its own copy and uses the
 * first's.
 *
 * Pins: sl_checkout_get pins the commit in this cache (a counter per
 * commit, under a mutex) until sl_checkout_unpin; sl_checkout_prune never
 * removes a pinned checkout, nor one in its `keep` list (for commits pinned
 * by another process). Removal renames `<commit>` to `.trash-*` under the
 * mutex first, so a get either pins before the rename (and the checkout
 * stays) or finds no folder and builds it again.
 *
 * Threads: the cache is shared by threads (uv_queue_work): sl_checkout_get
 * and sl_checkout_prune block on disk and network and must not run on the
 * loop thread. libgit2 must be initialised (sl_gitsrc_global_init).
 */

struct sl_checkout_cache {
	char *state_dir; /* mirrors go to state_dir/mirrors */
	char *dir;       /* state_dir/checkouts */
	uv_mutex_t lock; /* pins, and prune's renames */
	struct sl_checkout_pin *pins;
	size_t pins_nr, pins_alloc;
	struct sl_checkout_stats {
		uint64_t hits;   /* sl_checkout_get found the checkout */
		uint64_t misses; /* and built it */
		/* Checkouts kept and their disk use, as the last prune measured them. */
		uint64_t entries, bytes;
	} stats; /* under `lock`; read with sl_checkout_stats */
};

/**
 * Set up a cache in `state_dir` (its `checkouts` folder is created, 0700
 * when it is new: the caller sets who may reach it). Checkouts already
 * there get the modes above (an earlier version kept the umask's); one that
 * cannot be fixed is removed.
 */
int sl_checkout_cache_init(struct sl_checkout_cache *cache, const char *state_dir,
                           struct sl_strbuf *err);
/** Free what the cache holds; no call may be running. */
void sl_checkout_cache_release(struct sl_checkout_cache *cache);

/**
 * Make sure `state_dir/checkouts/<commit>` holds the tree of `commit` (40
 * or 64 lowercase hex digits) of `repo` (a local repository path or a URL
 * as lib/git/gitsrc.c takes them) and pin it. A cached checkout is only
 * touched (its mtime set to now); otherwise the commit is looked up in the
 * repository (for a URL, in its mirror, fetched first when the commit is
 * not there yet) and checked out. `*path` is the checkout's folder (free
 * it). Submodules are not checked out.
 *
 * Returns 0, or a negative code with a sentence in `err` (SL_EINVAL for a
 * malformed commit id, SL_ENOENT when the repository does not have the
 * commit); nothing stays pinned on failure.
 */
int sl_checkout_get(struct sl_checkout_cache *cache, const char *repo, const char *commit,
                    char **path, struct sl_strbuf *err);

/**
 * sl_checkout_get in three steps, for a caller that builds in a process of
 * its own (the worker keeps libgit2 out of its own memory that way):
 * sl_checkout_build_begin pins `commit` and counts a miss; the other
 * process runs sl_checkout_build (no cache object, no pins: it only
 * writes STATE_DIR/checkouts/<commit>, as sl_checkout_get would, fetching
 * under a lock shared by threads and processes); then
 * sl_checkout_build_end gives `*path` and keeps the pin, or on failure
 * (or after a failed build: call sl_checkout_unpin) leaves nothing pinned.
 */
void sl_checkout_build_begin(struct sl_checkout_cache *cache, const char *commit);
int sl_checkout_build(const char *state_dir, const char *repo, const char *commit,
                      struct sl_strbuf *err);
int sl_checkout_build_end(struct sl_checkout_cache *cache, const char *commit, char **path,
                          struct sl_strbuf *err);

/**
 * sl_checkout_get's hit alone, cheap enough for an event loop (a stat and
 * a touch of one folder, no git, no network): true with `*path` and the
 * pin when the commit's checkout is there, false with nothing pinned or
 * counted when it is not (then call sl_checkout_get off the loop).
 */
bool sl_checkout_get_ready(struct sl_checkout_cache *cache, const char *commit, char **path);

/** A copy of the cache's counts, for the worker's metrics; any thread. */
void sl_checkout_stats(struct sl_checkout_cache *cache, struct sl_checkout_stats *out);

/** Drop one pin taken by a successful sl_checkout_get. */
void sl_checkout_unpin(struct sl_checkout_cache *cache, const char *commit);

/**
 * Remove least recently used checkouts: every one unused for more than
 * `max_age` seconds (0: no age limit), then, oldest first, until the rest
 * take at most `max_bytes` of disk (allocated blocks; 0: no size limit).
 * Pinned checkouts and the `keep_nr` commits in `keep` are never removed
 * (they still count towards the size). Leftover `.tmp-*` and `.trash-*`
 * folders of processes that no longer exist are removed too.
 *
 * Returns 0 with the number of checkouts removed in `*removed` (may be
 * NULL), or a negative code with a sentence in `err` (a folder that cannot
 * be read; a checkout that cannot be removed is reported but the others
 * are still pruned).
 */
int sl_checkout_prune(struct sl_checkout_cache *cache, int64_t max_age, uint64_t max_bytes,
                      const char *const *keep, size_t keep_nr, size_t *removed,
                      struct sl_strbuf *err);

#endif
