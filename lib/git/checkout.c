/*
 * The worker's per-commit checkout cache: read-only trees of commits under
 * STATE_DIR/checkouts, written with libgit2 into a temporary folder and
 * renamed into place, pinned while used, pruned by age and size. See
 * include/sluice/checkout.h.
 */
#include "sluice/checkout.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sluice/alloc.h"
#include "sluice/error.h"
#include "sluice/gitsrc.h"
#include "sluice/url.h"
#include "git_int.h"
#include "sluice/banned.h"

/* Folders nested deeper than this are not walked (a checkout of a sane
 * repository never comes close; the limit bounds the recursion). */
#define MAX_DEPTH 256

struct sl_checkout_pin {
	char commit[SL_OID_HEX_MAX + 1];
	unsigned nr;
};

static bool is_commit_id(const char *s)
{
	size_t len = strspn(s, "0123456789abcdef");

	return !s[len] && (len == 40 || len == 64);
}

static int sys_fail(struct sl_strbuf *err, const char *what, const char *path)
{
	sl_strbuf_addf(err, "cannot %s %s: %s", what, path, strerror(errno));
	return SL_ERR;
}

static int share_existing(struct sl_checkout_cache *cache, struct sl_strbuf *err);

/* "message: libgit2's reason", as lib/git/gitsrc.c words them. */
int sl_checkout_cache_init(struct sl_checkout_cache *cache, const char *state_dir,
                           struct sl_strbuf *err)
{
	memset(cache, 0, sizeof(*cache));
	cache->state_dir = sl_xstrdup(state_dir);
	cache->dir = sl_xasprintf("%s/checkouts", state_dir);
	if (mkdir(state_dir, 0700) && errno != EEXIST) {
		sys_fail(err, "create", state_dir);
		goto fail;
	}
	if (mkdir(cache->dir, 0700) && errno != EEXIST) {
		sys_fail(err, "create", cache->dir);
		goto fail;
	}
	if (share_existing(cache, err))
		goto fail;
	if (uv_mutex_init(&cache->lock)) {
		sl_strbuf_adds(err, "cannot create a mutex");
		goto fail;
	}
	return 0;
fail:
	free(cache->state_dir);
	free(cache->dir);
	memset(cache, 0, sizeof(*cache));
	return SL_ERR;
}

void sl_checkout_cache_release(struct sl_checkout_cache *cache)
{
	if (!cache->dir)
		return;
	uv_mutex_destroy(&cache->lock);
	free(cache->state_dir);
	free(cache->dir);
	free(cache->pins);
	memset(cache, 0, sizeof(*cache));
}

void sl_checkout_stats(struct sl_checkout_cache *cache, struct sl_checkout_stats *out)
{
	uv_mutex_lock(&cache->lock);
	*out = cache->stats;
	uv_mutex_unlock(&cache->lock);
}

/* Count a get that found its checkout, or one that had to build it. */
static void count_get(struct sl_checkout_cache *cache, bool hit)
{
	uv_mutex_lock(&cache->lock);
	if (hit)
		cache->stats.hits++;
	else
		cache->stats.misses++;
	uv_mutex_unlock(&cache->lock);
}

/* --- pins (callers hold cache->lock) ------------------------------------ */

static struct sl_checkout_pin *pin_find(struct sl_checkout_cache *cache, const char *commit)
{
	for (size_t i = 0; i < cache->pins_nr; i++)
		if (!strcmp(cache->pins[i].commit, commit))
			return &cache->pins[i];
	return NULL;
}

static void pin(struct sl_checkout_cache *cache, const char *commit)
{
	struct sl_checkout_pin *p;

	uv_mutex_lock(&cache->lock);
	p = pin_find(cache, commit);
	if (!p) {
		SL_ALLOC_GROW(cache->pins, cache->pins_nr + 1, cache->pins_alloc);
		p = &cache->pins[cache->pins_nr++];
		memset(p, 0, sizeof(*p));
		memcpy(p->commit, commit, strlen(commit) + 1);
	}
	p->nr++;
	uv_mutex_unlock(&cache->lock);
}

void sl_checkout_unpin(struct sl_checkout_cache *cache, const char *commit)
{
	struct sl_checkout_pin *p;

	uv_mutex_lock(&cache->lock);
	p = pin_find(cache, commit);
	if (p && !--p->nr)
		*p = cache->pins[--cache->pins_nr];
	uv_mutex_unlock(&cache->lock);
}

/* --- walking a checkout ---------------------------------------------------- */

enum walk_op {
	WALK_READONLY, /* every file and folder below: readable by all, writable by none */
	WALK_SIZE,     /* add up allocated bytes */
	WALK_REMOVE,   /* delete everything below */
};

/*
 * The mode of a checked-out file or folder, whatever the umask it was
 * written under (the unit's 0027 would give 0640): readable by everyone, so
 * that tasks running as another user than the worker's (task_user) can read
 * the tree, and writable by no one, so that no task changes what the next
 * attempt of the same commit runs. Who may reach the tree at all is decided
 * by the checkouts folder above it (docs/worker.md). git records only 644
 * and 755.
 */
static mode_t readonly_mode(mode_t m)
{
	return S_ISDIR(m) || (m & 0111) ? 0555 : 0444;
}

/*
 * Apply `op` to everything below the open folder `dfd` (not to the folder
 * itself). Symbolic links are never followed. Goes on after an error and
 * returns the first one (with a sentence in `err`).
 */
static int walk(int dfd, const char *path, enum walk_op op, uint64_t *bytes, int depth,
                struct sl_strbuf *err)
{
	struct sl_strbuf sub_path = SL_STRBUF_INIT;
	struct dirent *e;
	DIR *d = NULL;
	int fd, rc = 0;

	if (depth > MAX_DEPTH) {
		sl_strbuf_addf(err, "folders nested more than %d deep at %s", MAX_DEPTH, path);
		return SL_ETOOBIG;
	}
	fd = dup(dfd);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return sys_fail(err, "read folder", path);
	}
	while ((errno = 0, e = readdir(d))) {
		struct stat st;
		int sub = -1, r = 0;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		sl_strbuf_reset(&sub_path);
		sl_strbuf_addf(&sub_path, "%s/%s", path, e->d_name);
		if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW)) {
			r = sys_fail(err, "read", sub_path.buf);
			goto next;
		}
		if (op == WALK_SIZE)
			*bytes += (uint64_t)st.st_blocks * 512;
		if (S_ISDIR(st.st_mode)) {
			/* A read-only folder's entries can only be removed once it
			 * is writable again. */
			if (op == WALK_REMOVE && fchmodat(dfd, e->d_name, 0700, 0)) {
				r = sys_fail(err, "make writable", sub_path.buf);
				goto next;
			}
			sub =
			    openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				r = sys_fail(err, "open folder", sub_path.buf);
				goto next;
			}
			r = walk(sub, sub_path.buf, op, bytes, depth + 1, err);
			close(sub);
			if (op == WALK_REMOVE && unlinkat(dfd, e->d_name, AT_REMOVEDIR))
				r = r ? r : sys_fail(err, "remove", sub_path.buf);
		} else if (op == WALK_REMOVE && unlinkat(dfd, e->d_name, 0)) {
			r = sys_fail(err, "remove", sub_path.buf);
		}
		if (op == WALK_READONLY && !S_ISLNK(st.st_mode) &&
		    (st.st_mode & 07777) != readonly_mode(st.st_mode) &&
		    fchmodat(dfd, e->d_name, readonly_mode(st.st_mode), 0))
			r = r ? r : sys_fail(err, "make read-only", sub_path.buf);
	next:
		if (r && !rc)
			rc = r;
	}
	if (errno && !rc)
		rc = sys_fail(err, "read folder", path);
	closedir(d);
	sl_strbuf_release(&sub_path);
	return rc;
}

static int walk_path(const char *path, enum walk_op op, uint64_t *bytes, struct sl_strbuf *err)
{
	int fd, rc;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return sys_fail(err, "open folder", path);
	rc = walk(fd, path, op, bytes, 0, err);
	close(fd);
	return rc;
}

/* rm -rf of a (possibly read-only) checkout folder. */
static int remove_tree(const char *path, struct sl_strbuf *err)
{
	int rc;

	if (chmod(path, 0700))
		return errno == ENOENT ? 0 : sys_fail(err, "make writable", path);
	rc = walk_path(path, WALK_REMOVE, NULL, err);
	if (!rc && rmdir(path))
		rc = sys_fail(err, "remove", path);
	return rc;
}

/*
 * Give every cached checkout the modes a new one gets: checkouts made by an
 * earlier version kept the umask's, which a task user outside the worker's
 * group cannot read. Only what differs is changed, so once done this is a
 * walk like pruning's. A checkout that cannot be fixed is removed (it is
 * built again when needed).
 */
static int share_existing(struct sl_checkout_cache *cache, struct sl_strbuf *err)
{
	struct sl_strbuf path = SL_STRBUF_INIT, ignored = SL_STRBUF_INIT;
	struct dirent *e;
	DIR *d;
	int rc = 0;

	d = opendir(cache->dir);
	if (!d)
		return sys_fail(err, "read folder", cache->dir);
	while ((errno = 0, e = readdir(d))) {
		sl_strbuf_reset(&path);
		sl_strbuf_addf(&path, "%s/%s", cache->dir, e->d_name);
		if (!is_commit_id(e->d_name) || !walk_path(path.buf, WALK_READONLY, NULL, &ignored))
			continue;
		sl_strbuf_reset(&ignored);
		if (remove_tree(path.buf, err)) {
			rc = SL_ERR;
			break;
		}
	}
	if (!rc && errno)
		rc = sys_fail(err, "read folder", cache->dir);
	closedir(d);
	sl_strbuf_release(&path);
	sl_strbuf_release(&ignored);
	return rc;
}

/* --- getting a checkout ----------------------------------------------------- */

/*
 * Look `commit` up in `repo_dir`, opened afresh (so that a fetch made
 * through another handle is seen). GIT_ENOTFOUND when it is not there.
 */
static int lookup(git_repository **r, git_commit **c, const char *repo_dir, const git_oid *oid)
{
	int rc;

	git_commit_free(*c);
	*c = NULL;
	git_repository_free(*r);
	*r = NULL;
	rc = git_repository_open_ext(r, repo_dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
	if (rc < 0)
		return rc;
	return git_commit_lookup(c, *r, oid);
}

/* The commit, from the repository or (for a URL) its mirror after a fetch. */
/*
 * An flock on STATE_DIR/mirrors.lock: each caller opens the file itself,
 * so the lock excludes threads of one process as well as other processes.
 * Returns the descriptor to close, or -1 with `err` filled.
 */
static int fetch_lock(const char *state_dir, struct sl_strbuf *err)
{
	char *path = sl_xasprintf("%s/mirrors.lock", state_dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0) {
		sys_fail(err, "open", path);
	} else {
		while (flock(fd, LOCK_EX) && errno == EINTR)
			;
	}
	free(path);
	return fd;
}

static int find_commit(const char *state_dir, struct sl_gitsrc *src, const char *commit,
                       git_repository **r, git_commit **c, struct sl_strbuf *err)
{
	struct sl_strbuf fetch_err = SL_STRBUF_INIT;
	char *shown = sl_url_redact(sl_gitsrc_repo(src));
	git_oid oid;
	int rc;

	if (git_oid_fromstr(&oid, commit) < 0) {
		sl_strbuf_addf(err, "'%s' is not a commit id", commit);
		rc = SL_EINVAL;
		goto out;
	}
	rc = lookup(r, c, sl_gitsrc_dir(src), &oid);
	if (rc == GIT_ENOTFOUND && sl_gitsrc_is_mirror(src)) {
		int frc;

		/*
		 * One fetch at a time into the mirrors, across the threads and
		 * processes that build checkouts (a libgit2 fetch that meets
		 * another's lock fails); the commit may have come meanwhile.
		 */
		int lock = fetch_lock(state_dir, err);

		if (lock < 0) {
			rc = SL_ERR;
			goto out;
		}
		rc = lookup(r, c, sl_gitsrc_dir(src), &oid);
		frc = rc == GIT_ENOTFOUND ? sl_gitsrc_fetch(src, &fetch_err) : 0;
		close(lock);
		if (rc == GIT_ENOTFOUND)
			rc = lookup(r, c, sl_gitsrc_dir(src), &oid);
		if (rc == GIT_ENOTFOUND && frc) {
			sl_strbuf_adds(err, fetch_err.buf);
			rc = frc;
			goto out;
		}
	}
	if (rc == GIT_ENOTFOUND) {
		sl_strbuf_addf(err, "commit %s is not in %s%s", commit, shown,
		               sl_gitsrc_is_mirror(src) ? " (fetched: no branch has it)" : "");
		rc = SL_ENOENT;
		goto out;
	}
	if (rc < 0) {
		rc = sl__git_fail(err, rc, "cannot read commit %s", commit);
		goto out;
	}
out:
	free(shown);
	sl_strbuf_release(&fetch_err);
	return rc;
}

/* Write the tree of `c` into the empty folder `dir`, without touching the
 * repository's index or work tree. */
static int write_tree(git_repository *r, git_commit *c, const char *commit, const char *dir,
                      struct sl_strbuf *err)
{
	git_checkout_options opts = GIT_CHECKOUT_OPTIONS_INIT;
	int rc;

	opts.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_RECREATE_MISSING |
	                         GIT_CHECKOUT_DONT_UPDATE_INDEX | GIT_CHECKOUT_DONT_WRITE_INDEX;
	opts.target_directory = dir;
	opts.dir_mode = 0755;
	rc = git_checkout_tree(r, (const git_object *)c, &opts);
	if (rc < 0)
		return sl__git_fail(err, rc, "cannot check out commit %s", commit);
	return 0;
}

/* Flush a finished checkout before it is renamed into place, so that a
 * crash never leaves a complete-looking folder of empty files. */
static int flush(const char *dir, struct sl_strbuf *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return sys_fail(err, "open folder", dir);
	if (syncfs(fd))
		rc = sys_fail(err, "flush", dir);
	close(fd);
	return rc;
}

/* Build the checkout of `commit` at `final`, in STATE_DIR/checkouts. */
static int build(const char *state_dir, const char *repo, const char *commit, const char *final,
                 struct sl_strbuf *err)
{
	struct sl_gitsrc *src = NULL;
	git_repository *r = NULL;
	git_commit *c = NULL;
	char *tmp =
	    sl_xasprintf("%s/checkouts/.tmp-%s-%ld-XXXXXX", state_dir, commit, (long)getpid());
	bool made = false;
	int rc;

	rc = sl_gitsrc_open(&src, repo, state_dir, err);
	if (rc)
		goto out;
	rc = find_commit(state_dir, src, commit, &r, &c, err);
	if (rc)
		goto out;
	if (!mkdtemp(tmp)) {
		rc = sys_fail(err, "create", tmp);
		goto out;
	}
	made = true;
	if ((rc = write_tree(r, c, commit, tmp, err)) ||
	    (rc = walk_path(tmp, WALK_READONLY, NULL, err)) || (rc = flush(tmp, err)))
		goto out;
	if (chmod(tmp, 0555)) {
		rc = sys_fail(err, "make read-only", tmp);
		goto out;
	}
	if (rename(tmp, final)) {
		/* Lost the race to another builder of the same commit: use its
		 * checkout and remove ours (below). */
		if (errno != EEXIST && errno != ENOTEMPTY) {
			rc = sys_fail(err, "rename into place", tmp);
			goto out;
		}
		rc = 0;
		goto out;
	}
	made = false;
	rc = 0;
out:
	if (made) {
		struct sl_strbuf ignored = SL_STRBUF_INIT;

		remove_tree(tmp, &ignored);
		sl_strbuf_release(&ignored);
	}
	free(tmp);
	git_commit_free(c);
	git_repository_free(r);
	sl_gitsrc_free(src);
	return rc;
}

bool sl_checkout_get_ready(struct sl_checkout_cache *cache, const char *commit, char **path)
{
	struct stat st;
	char *final;

	*path = NULL;
	if (!is_commit_id(commit))
		return false;
	pin(cache, commit);
	final = sl_xasprintf("%s/%s", cache->dir, commit);
	/* The folder's mtime is its last use, for sl_checkout_prune. */
	if (lstat(final, &st) || !S_ISDIR(st.st_mode) ||
	    utimensat(AT_FDCWD, final, NULL, AT_SYMLINK_NOFOLLOW)) {
		free(final);
		sl_checkout_unpin(cache, commit);
		return false;
	}
	count_get(cache, true);
	*path = final;
	return true;
}

void sl_checkout_build_begin(struct sl_checkout_cache *cache, const char *commit)
{
	pin(cache, commit);
	count_get(cache, false);
}

int sl_checkout_build_end(struct sl_checkout_cache *cache, const char *commit, char **path,
                          struct sl_strbuf *err)
{
	char *final = sl_xasprintf("%s/%s", cache->dir, commit);

	/* The folder's mtime is its last use, for sl_checkout_prune. */
	if (utimensat(AT_FDCWD, final, NULL, AT_SYMLINK_NOFOLLOW)) {
		sys_fail(err, "touch", final);
		free(final);
		sl_checkout_unpin(cache, commit);
		return SL_ERR;
	}
	*path = final;
	return 0;
}

int sl_checkout_build(const char *state_dir, const char *repo, const char *commit,
                      struct sl_strbuf *err)
{
	char *final;
	int rc;

	if (!is_commit_id(commit)) {
		sl_strbuf_addf(err, "'%s' is not a commit id (40 or 64 lowercase hex digits)",
		               commit);
		return SL_EINVAL;
	}
	final = sl_xasprintf("%s/checkouts/%s", state_dir, commit);
	rc = build(state_dir, repo, commit, final, err);
	free(final);
	return rc;
}

int sl_checkout_get(struct sl_checkout_cache *cache, const char *repo, const char *commit,
                    char **path, struct sl_strbuf *err)
{
	int rc;

	*path = NULL;
	if (!is_commit_id(commit)) {
		sl_strbuf_addf(err, "'%s' is not a commit id (40 or 64 lowercase hex digits)",
		               commit);
		return SL_EINVAL;
	}
	if (sl_checkout_get_ready(cache, commit, path))
		return 0;
	sl_checkout_build_begin(cache, commit);
	if ((rc = sl_checkout_build(cache->state_dir, repo, commit, err))) {
		sl_checkout_unpin(cache, commit);
		return rc;
	}
	return sl_checkout_build_end(cache, commit, path, err);
}

/* --- pruning ------------------------------------------------------------------ */

struct entry {
	char *name;
	time_t used;
	uint64_t bytes;
	bool keep;
};

static int cmp_used(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->used != y->used)
		return x->used < y->used ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* `.tmp-<commit>-<pid>-XXXXXX` or `.trash-...`: true when <pid> is gone. */
static bool leftover(const char *name)
{
	const char *p = name + (name[1] == 't' && name[2] == 'm' ? 5 : 7);
	char *end;
	long pid;

	p += strspn(p, "0123456789abcdef");
	if (*p++ != '-')
		return false;
	pid = strtol(p, &end, 10);
	if (end == p || *end != '-' || pid <= 0)
		return false;
	if (pid == (long)getpid())
		return false;
	return kill((pid_t)pid, 0) && errno == ESRCH;
}

/*
 * Remove one checkout unless it is pinned: renamed out of the way under the
 * lock (so a concurrent get either pinned it first or finds it gone), then
 * deleted without the lock.
 */
static int remove_checkout(struct sl_checkout_cache *cache, const char *name, bool *done,
                           struct sl_strbuf *err)
{
	char *from = sl_xasprintf("%s/%s", cache->dir, name);
	char *trash = sl_xasprintf("%s/.trash-%s-%ld-XXXXXX", cache->dir, name, (long)getpid());
	int rc = 0;

	*done = false;
	if (!mkdtemp(trash)) {
		rc = sys_fail(err, "create", trash);
		goto out;
	}
	uv_mutex_lock(&cache->lock);
	if (pin_find(cache, name)) {
		uv_mutex_unlock(&cache->lock);
		rmdir(trash);
		goto out;
	}
	/* Over the empty folder mkdtemp made: rename(2) replaces an empty one. */
	if (rename(from, trash)) {
		rc = errno == ENOENT ? 0 : sys_fail(err, "move away", from);
		uv_mutex_unlock(&cache->lock);
		rmdir(trash);
		goto out;
	}
	uv_mutex_unlock(&cache->lock);
	*done = true;
	rc = remove_tree(trash, err);
out:
	free(from);
	free(trash);
	return rc;
}

int sl_checkout_prune(struct sl_checkout_cache *cache, int64_t max_age, uint64_t max_bytes,
                      const char *const *keep, size_t keep_nr, size_t *removed,
                      struct sl_strbuf *err)
{
	struct sl_strbuf path = SL_STRBUF_INIT;
	struct entry *items = NULL;
	size_t nr = 0, alloc = 0, gone = 0;
	uint64_t total = 0;
	time_t now = time(NULL);
	struct dirent *e;
	DIR *d;
	int rc = 0;

	if (removed)
		*removed = 0;
	d = opendir(cache->dir);
	if (!d)
		return sys_fail(err, "read folder", cache->dir);
	while ((errno = 0, e = readdir(d))) {
		struct stat st;
		struct entry *it;

		sl_strbuf_reset(&path);
		sl_strbuf_addf(&path, "%s/%s", cache->dir, e->d_name);
		if ((!strncmp(e->d_name, ".tmp-", 5) || !strncmp(e->d_name, ".trash-", 7)) &&
		    leftover(e->d_name)) {
			int r = remove_tree(path.buf, err);

			rc = rc ? rc : r;
			continue;
		}
		if (!is_commit_id(e->d_name) || lstat(path.buf, &st) || !S_ISDIR(st.st_mode))
			continue;
		SL_ALLOC_GROW(items, nr + 1, alloc);
		it = &items[nr++];
		it->name = sl_xstrdup(e->d_name);
		it->used = st.st_mtime;
		it->bytes = (uint64_t)st.st_blocks * 512;
		it->keep = false;
		for (size_t i = 0; i < keep_nr && !it->keep; i++)
			it->keep = keep[i] && !strcmp(keep[i], e->d_name);
		if (walk_path(path.buf, WALK_SIZE, &it->bytes, err)) {
			/* Unreadable: counted as far as it could be read. */
			sl_strbuf_reset(err);
		}
		total += it->bytes;
	}
	if (errno) {
		rc = sys_fail(err, "read folder", cache->dir);
		goto out;
	}
	if (nr)
		qsort(items, nr, sizeof(*items), cmp_used);
	for (size_t i = 0; i < nr; i++) {
		struct entry *it = &items[i];
		bool too_old = max_age > 0 && now - it->used > max_age;
		bool too_big = max_bytes > 0 && total > max_bytes;
		bool done = false;
		int r;

		if (it->keep || (!too_old && !too_big))
			continue;
		r = remove_checkout(cache, it->name, &done, err);
		rc = rc ? rc : r;
		if (done) {
			gone++;
			total -= it->bytes;
		}
	}
	uv_mutex_lock(&cache->lock);
	cache->stats.entries = nr - gone;
	cache->stats.bytes = total;
	uv_mutex_unlock(&cache->lock);
out:
	if (removed)
		*removed = gone;
	for (size_t i = 0; i < nr; i++)
		free(items[i].name);
	free(items);
	closedir(d);
	sl_strbuf_release(&path);
	return rc;
}
