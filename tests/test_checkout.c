#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sluice/alloc.h"
#include "sluice/checkout.h"
#include "sluice/error.h"
#include "sluice/gitsrc.h"
#include "sluice/strbuf.h"

#include "testgit.h"

/*
 * One non-bare repository for the whole group, made with the git command:
 *
 *   c1: file.txt "one", bin/run.sh (executable)
 *   c2: file.txt "two", bin/run.sh, new.txt      (HEAD of main)
 *
 * Each test uses its own state folder below `root`.
 */
static char root[64];
static char repo[128];
static char c1[SL_OID_HEX_MAX + 1];
static char c2[SL_OID_HEX_MAX + 1];

static int setup(void **state)
{
	struct sl_strbuf err = SL_STRBUF_INIT;

	(void)state;
	snprintf(root, sizeof(root), "/tmp/sluice-checkout-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	snprintf(repo, sizeof(repo), "%s/repo", root);
	if (tg_sh(
	        "set -e; export GIT_CONFIG_NOSYSTEM=1 HOME='%s'; " TG_GIT " init -q '%s'; cd '%s';"
	        " mkdir bin; echo one > file.txt; printf '#!/bin/sh\\necho run\\n' > bin/run.sh;"
	        " chmod +x bin/run.sh; git add -A; " TG_GIT " commit -q -m one;"
	        " echo two > file.txt; echo new > new.txt; git add -A; " TG_GIT " commit -q -m two",
	        root, repo, repo))
		return -1;
	if (tg_rev_parse(repo, "HEAD~1", c1) || tg_rev_parse(repo, "HEAD", c2))
		return -1;
	if (sl_gitsrc_global_init(&err))
		return -1;
	sl_strbuf_release(&err);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sl_gitsrc_global_shutdown();
	return tg_sh("chmod -R u+w '%s'; rm -rf '%s'", root, root);
}

static char *slurp(const char *dir, const char *name)
{
	struct sl_strbuf sb = SL_STRBUF_INIT, err = SL_STRBUF_INIT;
	char *path = sl_xasprintf("%s/%s", dir, name);

	if (sl_strbuf_read_file(&sb, path, 1024, &err))
		sl_strbuf_reset(&sb);
	free(path);
	sl_strbuf_release(&err);
	return sl_strbuf_detach(&sb, NULL);
}

static void cache_in(struct sl_checkout_cache *cache, const char *name)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	char *dir = sl_xasprintf("%s/%s", root, name);

	assert_int_equal(sl_checkout_cache_init(cache, dir, &err), 0);
	free(dir);
	sl_strbuf_release(&err);
}

static bool exists(const struct sl_checkout_cache *cache, const char *commit)
{
	char *p = sl_xasprintf("%s/%s", cache->dir, commit);
	struct stat st;
	bool ok = !lstat(p, &st);

	free(p);
	return ok;
}

/* Entries of the checkouts folder besides "." and "..". */
static size_t entries(const struct sl_checkout_cache *cache)
{
	DIR *d = opendir(cache->dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static void set_mtime(const char *dir, time_t t)
{
	struct timespec ts[2] = {{.tv_sec = t}, {.tv_sec = t}};

	assert_int_equal(utimensat(AT_FDCWD, dir, ts, 0), 0);
}

static void test_two_commits(void **state)
{
	struct sl_checkout_cache cache;
	struct sl_strbuf err = SL_STRBUF_INIT;
	char *p1 = NULL, *p2 = NULL, *s;
	struct stat st;
	mode_t old_mask;

	(void)state;
	cache_in(&cache, "two");
	/* The systemd unit's umask, which alone would give 0640 and 0750. */
	old_mask = umask(027);
	assert_int_equal(sl_checkout_get(&cache, repo, c1, &p1, &err), 0);
	assert_int_equal(sl_checkout_get(&cache, repo, c2, &p2, &err), 0);
	umask(old_mask);
	assert_string_equal(err.buf, "");
	s = slurp(p1, "file.txt");
	assert_string_equal(s, "one\n");
	free(s);
	s = slurp(p2, "file.txt");
	assert_string_equal(s, "two\n");
	free(s);
	s = slurp(p2, "new.txt");
	assert_string_equal(s, "new\n");
	free(s);

	/* Only the tree: no new.txt at c1, no .git anywhere. */
	s = sl_xasprintf("%s/new.txt", p1);
	assert_int_not_equal(lstat(s, &st), 0);
	free(s);
	s = sl_xasprintf("%s/.git", p2);
	assert_int_not_equal(lstat(s, &st), 0);
	free(s);

	/* Readable by all (a task_user outside the worker's group), writable by
	 * none, whatever the umask; executables stay so. */
	assert_int_equal(stat(p1, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0555);
	s = sl_xasprintf("%s/bin", p1);
	assert_int_equal(stat(s, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0555);
	free(s);
	s = sl_xasprintf("%s/bin/run.sh", p1);
	assert_int_equal(stat(s, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0555);
	free(s);
	s = sl_xasprintf("%s/file.txt", p1);
	assert_int_equal(stat(s, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0444);

	/* A checkout of an earlier version (umask modes) is fixed when the
	 * cache is opened again. */
	assert_int_equal(chmod(s, 0440), 0);
	sl_checkout_unpin(&cache, c1);
	sl_checkout_unpin(&cache, c2);
	sl_checkout_cache_release(&cache);
	cache_in(&cache, "two");
	free(p1);
	free(p2);
	assert_int_equal(sl_checkout_get(&cache, repo, c1, &p1, &err), 0);
	assert_int_equal(sl_checkout_get(&cache, repo, c2, &p2, &err), 0);
	assert_int_equal(stat(s, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0444);
	free(s);

	/* The source repository's work tree and index are untouched. */
	assert_int_equal(tg_sh("test -z \"$(git -C '%s' status --porcelain)\"", repo), 0);

	sl_checkout_unpin(&cache, c1);
	sl_checkout_unpin(&cache, c2);
	assert_int_equal(cache.pins_nr, 0);
	free(p1);
	free(p2);
	sl_checkout_cache_release(&cache);
	sl_strbuf_release(&err);
}

static void test_cache_hit(void **state)
{
	struct sl_checkout_cache cache;
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct stat before, file_before, after, file_after;
	char *p = NULL, *file;

	(void)state;
	cache_in(&cache, "hit");
	assert_int_equal(sl_checkout_get(&cache, repo, c1, &p, &err), 0);
	file = sl_xasprintf("%s/file.txt", p);
	set_mtime(p, time(NULL) - 86400);
	assert_int_equal(stat(p, &before), 0);
	assert_int_equal(stat(file, &file_before), 0);
	free(p);
	p = NULL;

	assert_int_equal(sl_checkout_get(&cache, repo, c1, &p, &err), 0);
	assert_int_equal(stat(p, &after), 0);
	assert_int_equal(stat(file, &file_after), 0);
	assert_true(before.st_ino == after.st_ino);
	assert_true(file_before.st_ino == file_after.st_ino);
	/* A hit marks the checkout used. */
	assert_true(after.st_mtime > before.st_mtime + 3600);
	assert_int_equal(cache.pins_nr, 1);
	sl_checkout_unpin(&cache, c1);
	sl_checkout_unpin(&cache, c1);
	assert_int_equal(cache.pins_nr, 0);
	free(p);
	free(file);
	sl_checkout_cache_release(&cache);
	sl_strbuf_release(&err);
}

/* The loop's check: only a checkout already there, nothing built or pinned else. */
static void test_get_ready(void **state)
{
	struct sl_checkout_cache cache;
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_checkout_stats st;
	struct stat before, after;
	char *p = NULL, *q = NULL;

	(void)state;
	cache_in(&cache, "ready");
	assert_false(sl_checkout_get_ready(&cache, c1, &p));
	assert_null(p);
	assert_false(sl_checkout_get_ready(&cache, "../../etc", &p));
	sl_checkout_stats(&cache, &st);
	assert_int_equal(st.hits + st.misses, 0);
	assert_int_equal(cache.pins_nr, 0);

	assert_int_equal(sl_checkout_get(&cache, repo, c1, &p, &err), 0);
	set_mtime(p, time(NULL) - 86400);
	assert_int_equal(stat(p, &before), 0);
	assert_true(sl_checkout_get_ready(&cache, c1, &q));
	assert_string_equal(p, q);
	assert_int_equal(stat(q, &after), 0);
	assert_true(after.st_mtime > before.st_mtime + 3600);
	sl_checkout_stats(&cache, &st);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.misses, 1);
	sl_checkout_unpin(&cache, c1);
	sl_checkout_unpin(&cache, c1);
	assert_int_equal(cache.pins_nr, 0);
	free(p);
	free(q);
	sl_checkout_cache_release(&cache);
	sl_strbuf_release(&err);
}

static void test_missing_commit(void **state)
{
	struct sl_checkout_cache cache;
	struct sl_strbuf err = SL_STRBUF_INIT;
	char *p = NULL;

	(void)state;
	cache_in(&cache, "missing");
	assert_int_equal(
	    sl_checkout_get(&cache, repo, "0123456789abcdef0123456789abcdef01234567", &p, &err),
	    SL_ENOENT);
	assert_null(p);
	assert_non_null(
	    strstr(err.buf, "commit 0123456789abcdef0123456789abcdef01234567 is not in"));
	assert_non_null(strstr(err.buf, repo));
	assert_int_equal(cache.pins_nr, 0);
	assert_int_equal(entries(&cache), 0);

	sl_strbuf_reset(&err);
	assert_int_equal(sl_checkout_get(&cache, repo, "../../etc", &p, &err), SL_EINVAL);
	assert_non_null(strstr(err.buf, "is not a commit id"));

	sl_strbuf_reset(&err);
	assert_true(sl_checkout_get(&cache, "/nonexistent/repo", c1, &p, &err) < 0);
	assert_non_null(strstr(err.buf, "/nonexistent/repo"));
	assert_int_equal(cache.pins_nr, 0);
	sl_checkout_cache_release(&cache);
	sl_strbuf_release(&err);
}

/* A URL is mirrored under state_dir/mirrors and fetched when the commit is missing. */
static void test_mirror(void **state)
{
	struct sl_checkout_cache cache;
	struct sl_strbuf err = SL_STRBUF_INIT;
	char *url = sl_xasprintf("file://%s", repo), *p = NULL, *s;

	(void)state;
	cache_in(&cache, "mirror");
	assert_int_equal(sl_checkout_get(&cache, url, c2, &p, &err), 0);
	assert_string_equal(err.buf, "");
	s = slurp(p, "file.txt");
	assert_string_equal(s, "two\n");
	free(s);
	free(p);
	sl_checkout_unpin(&cache, c2);
	assert_int_equal(tg_sh("ls -d '%s/mirror/mirrors/'repo-* >/dev/null", root), 0);

	assert_int_equal(
	    sl_checkout_get(&cache, url, "1111111111111111111111111111111111111111", &p, &err),
	    SL_ENOENT);
	assert_non_null(strstr(err.buf, "no branch has it"));
	free(url);
	sl_checkout_cache_release(&cache);
	sl_strbuf_release(&err);
}

static void test_prune(void **state)
{
	struct sl_checkout_cache cache;
	struct sl_strbuf err = SL_STRBUF_INIT;
	const char *keep[1];
	char *p1 = NULL, *p2 = NULL, *tmp;
	size_t removed = 99;

	(void)state;
	cache_in(&cache, "prune");
	assert_int_equal(sl_checkout_get(&cache, repo, c1, &p1, &err), 0);
	assert_int_equal(sl_checkout_get(&cache, repo, c2, &p2, &err), 0);
	sl_checkout_unpin(&cache, c1);
	sl_checkout_unpin(&cache, c2);

	/* By age: c1 unused for a day goes, c2 stays. */
	set_mtime(p1, time(NULL) - 86400);
	assert_int_equal(sl_checkout_prune(&cache, 3600, 0, NULL, 0, &removed, &err), 0);
	assert_int_equal(removed, 1);
	assert_false(exists(&cache, c1));
	assert_true(exists(&cache, c2));

	/* Kept although old. */
	set_mtime(p2, time(NULL) - 86400);
	keep[0] = c2;
	assert_int_equal(sl_checkout_prune(&cache, 3600, 0, keep, 1, &removed, &err), 0);
	assert_int_equal(removed, 0);
	assert_true(exists(&cache, c2));

	/* By size: the least recently used goes first, until under the limit. */
	free(p1);
	assert_int_equal(sl_checkout_get(&cache, repo, c1, &p1, &err), 0);
	sl_checkout_unpin(&cache, c1);
	assert_int_equal(sl_checkout_prune(&cache, 0, 1, keep, 1, &removed, &err), 0);
	assert_int_equal(removed, 1);
	assert_false(exists(&cache, c1));
	assert_true(exists(&cache, c2));
	assert_int_equal(sl_checkout_prune(&cache, 0, 1, NULL, 0, &removed, &err), 0);
	assert_int_equal(removed, 1);
	assert_int_equal(entries(&cache), 0);

	/* A pinned checkout (a running attempt) is never removed. */
	free(p2);
	assert_int_equal(sl_checkout_get(&cache, repo, c2, &p2, &err), 0);
	set_mtime(p2, time(NULL) - 86400);
	assert_int_equal(sl_checkout_prune(&cache, 1, 1, NULL, 0, &removed, &err), 0);
	assert_int_equal(removed, 0);
	assert_true(exists(&cache, c2));
	sl_checkout_unpin(&cache, c2);

	/* A leftover of a dead process goes; a live one's stays. */
	tmp = sl_xasprintf("%s/.tmp-%s-2147483646-abcdef", cache.dir, c1);
	assert_int_equal(mkdir(tmp, 0500), 0);
	free(tmp);
	tmp = sl_xasprintf("%s/.tmp-%s-1-abcdef", cache.dir, c1);
	assert_int_equal(mkdir(tmp, 0700), 0);
	assert_int_equal(sl_checkout_prune(&cache, 0, 0, NULL, 0, &removed, &err), 0);
	assert_string_equal(err.buf, "");
	assert_int_equal(entries(&cache), 2); /* c2, and pid 1's */
	assert_int_equal(rmdir(tmp), 0);
	free(tmp);

	free(p1);
	free(p2);
	sl_checkout_cache_release(&cache);
	sl_strbuf_release(&err);
}

/* Two processes build the same commit at once: both succeed, one folder stays. */
static void test_concurrent(void **state)
{
	pid_t pids[2];
	struct sl_checkout_cache cache;
	char *s;

	(void)state;
	for (int i = 0; i < 2; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			struct sl_strbuf err = SL_STRBUF_INIT;
			struct sl_checkout_cache c;
			char *p = NULL;
			int ok;

			if (sl_checkout_cache_init(&c, root, &err) ||
			    sl_checkout_get(&c, repo, c1, &p, &err)) {
				fprintf(stderr, "child: %s\n", err.buf);
				_exit(1);
			}
			s = slurp(p, "file.txt");
			ok = !strcmp(s, "one\n");
			_exit(ok ? 0 : 2);
		}
	}
	for (int i = 0; i < 2; i++) {
		int status = -1;

		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	cache_in(&cache, "");
	assert_int_equal(entries(&cache), 1);
	assert_true(exists(&cache, c1));
	sl_checkout_cache_release(&cache);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_two_commits), cmocka_unit_test(test_cache_hit),
	    cmocka_unit_test(test_get_ready),   cmocka_unit_test(test_missing_commit),
	    cmocka_unit_test(test_mirror),      cmocka_unit_test(test_prune),
	    cmocka_unit_test(test_concurrent),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
