#ifndef SLUICE_GITSRC_H
#define SLUICE_GITSRC_H

#ifndef SLUICE_LAYER_GIT
#error "sluice/gitsrc.h: this target does not link the git layer (docs/architecture.md)"
#endif

#include <stdbool.h>
#include <stddef.h>

#include "sluice/strbuf.h"

/**
 * The DAG repository, read with libgit2 straight from git objects: no work
 * tree is ever checked out.
 *
 * A source is either
 *
 *  - a local repository, named by a path (bare or not): opened in place and
 *    read as it is. sl_gitsrc_fetch does nothing; a push to it is seen by
 *    the next sl_gitsrc_resolve. Branches are read from its refs
 *    (refs/heads/...), never from a work tree, so uncommitted edits in a
 *    developer's clone are not picked up; or
 *  - a URL (`file://`, `https://`, `http://`, `ssh://`, `git://`, or
 *    scp-like `user@host:path`): mirrored into a bare repository under
 *    `STATE_DIR/mirrors/NAME-HASH` (NAME from the URL's last component, HASH
 *    12 hex digits of the hash of the URL without credentials, so two
 *    repositories never share a mirror and no credential is ever part of a
 *    file name, not even hashed), which sl_gitsrc_fetch
 *    updates: every remote refs/heads/NAME to the mirror's refs/heads/NAME,
 *    forced, deleted branches pruned; the mirror's HEAD follows the
 *    remote's HEAD.
 *
 * Threads: libgit2 is initialised once per process (sl_gitsrc_global_init).
 * A struct sl_gitsrc is used by one thread at a time, and this module keeps
 * no global state of its own, so a fetch (the slow, networked call) may run
 * on a worker thread (uv_queue_work) while the loop thread goes on.
 *
 * Errors: functions return 0 or a negative SL_E* code and append one
 * sentence to `err` that includes libgit2's own message.
 */

/** Object ids are passed around as lowercase hex (SHA-1 or SHA-256). */
#define SL_OID_HEX_MAX 64

struct sl_gitsrc;

/**
 * Initialise and shut down libgit2. Each program calls sl_gitsrc_global_init
 * once, from its main thread, before the first other sl_gitsrc_* call and
 * before starting threads that use this module (the CLI from the command
 * that needs git, the scheduler from main), and sl_gitsrc_global_shutdown
 * once when every sl_gitsrc has been freed. libgit2 counts the calls, so a
 * library or test that pairs them again is harmless.
 */
int sl_gitsrc_global_init(struct sl_strbuf *err);
void sl_gitsrc_global_shutdown(void);

/** True when `repo` is a URL to mirror rather than a local path. */
bool sl_gitsrc_is_url(const char *repo);

/**
 * Open the source `repo`. A local path must be an existing repository. A
 * URL's mirror is created under `state_dir` (created as needed) when it
 * does not exist yet; nothing is fetched here. `*out` is NULL on failure.
 */
int sl_gitsrc_open(struct sl_gitsrc **out, const char *repo, const char *state_dir,
                   struct sl_strbuf *err);
void sl_gitsrc_free(struct sl_gitsrc *src);

/** The repository as configured, and where it is read from (the local
 * path, or the mirror's folder). */
const char *sl_gitsrc_repo(const struct sl_gitsrc *src);
const char *sl_gitsrc_dir(const struct sl_gitsrc *src);
/** True when the source is a mirror that sl_gitsrc_fetch updates. */
bool sl_gitsrc_is_mirror(const struct sl_gitsrc *src);

/**
 * Bring a mirror up to date with its remote: every branch, pruning the
 * deleted ones, and the remote's HEAD. Blocks on the network; never called
 * with a database transaction open. A no-op (0) for a local repository.
 * Authentication: ssh keys from ssh-agent; other credentials in the URL,
 * which are given to libgit2 for this fetch only: the mirror's config
 * holds the URL without them (sl_url_redact), and so does every message.
 * A credential helper is not consulted.
 */
int sl_gitsrc_fetch(struct sl_gitsrc *src, struct sl_strbuf *err);

/**
 * Resolve `branch` to the commit it points at, as hex in `commit`
 * (SL_OID_HEX_MAX + 1 bytes). A NULL or empty branch means the branch HEAD
 * points at (for a mirror, the remote's HEAD), else `main`, else `master`.
 * `resolved` (may be NULL) receives the branch's short name. An unknown
 * branch is SL_ENOENT with a message that lists the branches there are.
 */
int sl_gitsrc_resolve(struct sl_gitsrc *src, const char *branch, char *commit,
                      struct sl_strbuf *resolved, struct sl_strbuf *err);

/** One DAG file found by sl_gitsrc_walk. */
struct sl_gitsrc_file {
	const char *path;    /* in the repository: "dags/etl.yaml" */
	const char *blob_id; /* hex */
	size_t size;         /* the blob's size in bytes */
	/*
	 * The content (not NUL-terminated), or NULL when the file cannot be
	 * loaded, and then `problem` says why (over the size limit, a symbolic
	 * link): the caller records it as a load error at 1:1.
	 */
	const char *data;
	const char *problem;
};

/**
 * Called for each file; returns 0 to go on, or a negative code (after
 * appending to `err`) to stop the walk, which then returns that code.
 */
typedef int (*sl_gitsrc_walk_fn)(const struct sl_gitsrc_file *file, void *ctx,
                                 struct sl_strbuf *err);

/**
 * Call `fn` for every `*.yaml` and `*.yml` file under folder `path` (""
 * or "." for the root; "dags", "dags/" and "./dags" are the same) of
 * `commit`'s tree, recursively, in byte order of their paths (git's tree
 * order gives exactly that), skipping every entry whose name starts with
 * '.' and submodules. A blob over `max_size` bytes (0: 1 MiB, the DAG
 * loader's limit) is not read: its size is taken from the object's header
 * and the file is passed with `problem` set. A `path` missing from the
 * commit, or not a folder, is SL_ENOENT.
 */
int sl_gitsrc_walk(struct sl_gitsrc *src, const char *commit, const char *path, size_t max_size,
                   sl_gitsrc_walk_fn fn, void *ctx, struct sl_strbuf *err);

#endif
