#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sluice/alloc.h"
#include "sluice/error.h"
#include "sluice/gitsrc.h"
#include "sluice/strbuf.h"

#include "testgit.h"

/*
 * One repository for the whole group, made with the git command in a
 * temporary folder:
 *
 *   main: dags/a.yaml, dags/b.yml, dags/sub/c.yaml, dags/.hidden/h.yaml,
 *         dags/.dot.yaml, dags/notes.txt, dags/link.yaml -> a.yaml,
 *         top.yaml, dags/big.yaml (64 bytes)
 *   dev:  one more commit adding dags/d.yaml
 */
static char root[64];
static char repo[128];
static char head_main[SL_OID_HEX_MAX + 1];
static char head_dev[SL_OID_HEX_MAX + 1];

static int setup(void **state)
{
	struct sl_strbuf err = SL_STRBUF_INIT;

	(void)state;
	snprintf(root, sizeof(root), "/tmp/sluice-gitsrc-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	snprintf(repo, sizeof(repo), "%s/repo", root);
	if (tg_sh("set -e; export GIT_CONFIG_NOSYSTEM=1 HOME='%s'; " TG_GIT
	          " init -q '%s'; cd '%s';"
	          " mkdir -p dags/sub dags/.hidden;"
	          " echo 'tasks: {a: {command: x}}' > dags/a.yaml;"
	          " echo 'tasks: {b: {command: x}}' > dags/b.yml;"
	          " echo 'tasks: {c: {command: x}}' > dags/sub/c.yaml;"
	          " echo 'hidden' > dags/.hidden/h.yaml; echo 'dot' > dags/.dot.yaml;"
	          " echo 'notes' > dags/notes.txt; ln -s a.yaml dags/link.yaml;"
	          " echo 'top' > top.yaml;"
	          " printf '%%064d' 0 > dags/big.yaml;"
	          " git add -A; " TG_GIT " commit -q -m one;"
	          " git checkout -q -b dev; echo 'tasks: {d: {command: x}}' > dags/d.yaml;"
	          " git add -A; " TG_GIT " commit -q -m two; git checkout -q main",
	          root, repo, repo))
		return -1;
	if (tg_rev_parse(repo, "main", head_main) || tg_rev_parse(repo, "dev", head_dev))
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
	return tg_sh("rm -rf '%s'", root);
}

static void test_is_url(void **state)
{
	(void)state;
	assert_true(sl_gitsrc_is_url("file:///srv/dags.git"));
	assert_true(sl_gitsrc_is_url("https://example.com/x.git"));
	assert_true(sl_gitsrc_is_url("git@example.com:team/dags.git"));
	assert_true(sl_gitsrc_is_url("example.com:dags"));
	assert_false(sl_gitsrc_is_url("/srv/dags.git"));
	assert_false(sl_gitsrc_is_url("./a:b"));
	assert_false(sl_gitsrc_is_url("dags"));
}

static struct sl_gitsrc *open_repo(void)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_gitsrc *src = NULL;

	assert_int_equal(sl_gitsrc_open(&src, repo, NULL, &err), 0);
	assert_false(sl_gitsrc_is_mirror(src));
	assert_int_equal(sl_gitsrc_fetch(src, &err), 0); /* a no-op */
	sl_strbuf_release(&err);
	return src;
}

static void test_resolve(void **state)
{
	struct sl_strbuf err = SL_STRBUF_INIT, name = SL_STRBUF_INIT;
	struct sl_gitsrc *src = open_repo();
	char commit[SL_OID_HEX_MAX + 1];

	(void)state;
	assert_int_equal(sl_gitsrc_resolve(src, NULL, commit, &name, &err), 0);
	assert_string_equal(commit, head_main);
	assert_string_equal(name.buf, "main");
	assert_int_equal(sl_gitsrc_resolve(src, "dev", commit, &name, &err), 0);
	assert_string_equal(commit, head_dev);
	assert_string_equal(name.buf, "dev");

	assert_int_equal(sl_gitsrc_resolve(src, "nope", commit, NULL, &err), SL_ENOENT);
	assert_non_null(strstr(err.buf, "branch 'nope' not found in "));
	assert_non_null(strstr(err.buf, "its branches are: dev, main"));
	sl_strbuf_reset(&err);
	assert_int_equal(sl_gitsrc_resolve(src, "a..b", commit, NULL, &err), SL_EINVAL);
	assert_non_null(strstr(err.buf, "not a valid branch name"));
	sl_gitsrc_free(src);

	/* A detached HEAD (a local clone checked out at a commit): main. */
	assert_int_equal(tg_sh("git -C '%s' checkout -q --detach dev", repo), 0);
	src = open_repo();
	sl_strbuf_reset(&err);
	assert_int_equal(sl_gitsrc_resolve(src, "", commit, &name, &err), 0);
	assert_string_equal(commit, head_main);
	assert_string_equal(name.buf, "main");
	sl_gitsrc_free(src);
	assert_int_equal(tg_sh("git -C '%s' checkout -q main", repo), 0);

	sl_strbuf_release(&name);
	sl_strbuf_release(&err);
}

struct seen {
	struct sl_strbuf log;
	int stop_after;
};

static int record(const struct sl_gitsrc_file *f, void *ctx, struct sl_strbuf *err)
{
	struct seen *s = ctx;

	assert_int_equal(strlen(f->blob_id), 40);
	if (f->problem) {
		assert_null(f->data);
		sl_strbuf_addf(&s->log, "%s!%s\n", f->path, f->problem);
	} else {
		assert_non_null(f->data);
		sl_strbuf_addf(&s->log, "%s=%.*s", f->path, (int)f->size, f->data);
	}
	if (s->stop_after && !--s->stop_after) {
		sl_strbuf_adds(err, "stopped");
		return SL_ERR;
	}
	return 0;
}

static void test_walk(void **state)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_gitsrc *src = open_repo();
	struct seen s = {SL_STRBUF_INIT, 0};

	(void)state;
	assert_int_equal(sl_gitsrc_walk(src, head_main, "dags", 100, record, &s, &err), 0);
	assert_string_equal(
	    s.log.buf,
	    "dags/a.yaml=tasks: {a: {command: x}}\n"
	    "dags/b.yml=tasks: {b: {command: x}}\n"
	    "dags/big.yaml="
	    "0000000000000000000000000000000000000000000000000000000000000000"
	    "dags/link.yaml!is a symbolic link; DAG files are read from git objects and links "
	    "are not followed\n"
	    "dags/sub/c.yaml=tasks: {c: {command: x}}\n");

	/* Over the limit: not read, reported with its size. */
	sl_strbuf_reset(&s.log);
	assert_int_equal(sl_gitsrc_walk(src, head_main, "./dags/", 10, record, &s, &err), 0);
	assert_non_null(strstr(s.log.buf, "dags/big.yaml!file is 64 bytes, over the size limit "
	                                  "of 10 bytes\n"));

	/* The root, and another commit. */
	sl_strbuf_reset(&s.log);
	assert_int_equal(sl_gitsrc_walk(src, head_dev, "", 0, record, &s, &err), 0);
	assert_non_null(strstr(s.log.buf, "dags/d.yaml="));
	assert_non_null(strstr(s.log.buf, "top.yaml=top\n"));

	/* The callback stops the walk. */
	sl_strbuf_reset(&s.log);
	s.stop_after = 2;
	assert_int_equal(sl_gitsrc_walk(src, head_main, "dags", 0, record, &s, &err), SL_ERR);
	assert_string_equal(err.buf, "stopped");

	sl_strbuf_reset(&err);
	assert_int_equal(sl_gitsrc_walk(src, head_main, "nowhere", 0, record, &s, &err), SL_ENOENT);
	assert_non_null(strstr(err.buf, "there is no folder 'nowhere' at commit"));
	sl_strbuf_reset(&err);
	assert_int_equal(sl_gitsrc_walk(src, head_main, "top.yaml", 0, record, &s, &err),
	                 SL_ENOENT);
	sl_strbuf_reset(&err);
	assert_int_equal(sl_gitsrc_walk(src, "xyz", "", 0, record, &s, &err), SL_EINVAL);

	sl_strbuf_release(&s.log);
	sl_strbuf_release(&err);
	sl_gitsrc_free(src);
}

static void test_open_errors(void **state)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_gitsrc *src = NULL;
	char path[160];

	(void)state;
	snprintf(path, sizeof(path), "%s/dags", repo);
	assert_int_not_equal(sl_gitsrc_open(&src, path, NULL, &err), 0);
	assert_null(src);
	assert_non_null(strstr(err.buf, "cannot open the git repository"));
	sl_strbuf_reset(&err);
	assert_int_equal(sl_gitsrc_open(&src, "", NULL, &err), SL_EINVAL);
	sl_strbuf_reset(&err);
	assert_int_equal(sl_gitsrc_open(&src, "file:///x.git", NULL, &err), SL_EINVAL);
	assert_non_null(strstr(err.buf, "state_dir"));
	sl_strbuf_release(&err);
}

static void test_mirror(void **state)
{
	struct sl_strbuf err = SL_STRBUF_INIT, name = SL_STRBUF_INIT, url = SL_STRBUF_INIT;
	struct sl_strbuf state_dir = SL_STRBUF_INIT;
	struct sl_gitsrc *src = NULL;
	char commit[SL_OID_HEX_MAX + 1];

	(void)state;
	sl_strbuf_addf(&url, "file://%s", repo);
	sl_strbuf_addf(&state_dir, "%s/state", root);
	assert_int_equal(sl_gitsrc_open(&src, url.buf, state_dir.buf, &err), 0);
	assert_true(sl_gitsrc_is_mirror(src));
	assert_non_null(strstr(sl_gitsrc_dir(src), "/state/mirrors/repo-"));
	/* Nothing fetched yet. */
	assert_int_equal(sl_gitsrc_resolve(src, NULL, commit, NULL, &err), SL_ENOENT);
	assert_non_null(strstr(err.buf, "it has no branches"));
	sl_strbuf_reset(&err);
	assert_int_equal(sl_gitsrc_fetch(src, &err), 0);
	assert_int_equal(sl_gitsrc_resolve(src, NULL, commit, &name, &err), 0);
	assert_string_equal(commit, head_main);
	assert_string_equal(name.buf, "main");
	assert_int_equal(sl_gitsrc_resolve(src, "dev", commit, NULL, &err), 0);
	assert_string_equal(commit, head_dev);
	sl_gitsrc_free(src);

	/* Opened again: the same mirror. */
	assert_int_equal(sl_gitsrc_open(&src, url.buf, state_dir.buf, &err), 0);
	assert_int_equal(sl_gitsrc_resolve(src, "dev", commit, NULL, &err), 0);
	assert_string_equal(commit, head_dev);
	sl_gitsrc_free(src);

	/* With credentials: the same mirror (its name comes from the URL
	 * without credentials), whose config does not hold them. (libgit2's
	 * file:// transport refuses user-info, so the fetch itself is tested
	 * over git:// by tests/cli/t0112-credentials.sh.) */
	sl_strbuf_reset(&url);
	sl_strbuf_addf(&url, "file://bot:s3cret@%s", repo);
	assert_int_equal(sl_gitsrc_open(&src, url.buf, state_dir.buf, &err), 0);
	assert_int_equal(sl_gitsrc_resolve(src, "dev", commit, NULL, &err), 0);
	assert_string_equal(commit, head_dev);
	assert_int_equal(tg_sh("test $(ls '%s/mirrors' | wc -l) = 1", state_dir.buf), 0);
	assert_int_equal(tg_sh("! grep -r s3cret '%s'", state_dir.buf), 0);
	assert_int_equal(tg_sh("grep -q 'url = file://%s$' '%s/config'", repo, sl_gitsrc_dir(src)),
	                 0);
	sl_gitsrc_free(src);

	sl_strbuf_release(&err);
	sl_strbuf_release(&name);
	sl_strbuf_release(&url);
	sl_strbuf_release(&state_dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_is_url), cmocka_unit_test(test_resolve),
	    cmocka_unit_test(test_walk),   cmocka_unit_test(test_open_errors),
	    cmocka_unit_test(test_mirror),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
