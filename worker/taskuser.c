#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "worker.h"

#include "sluice/alloc.h"
#include "sluice/error.h"
#include "sluice/fsutil.h"
#include "sluice/privs.h"
#include "sluice/taskenv.h"
#include "sluice/banned.h"

/*
 * Who tasks run as (docs/worker.md, "task_user"), and the state_dir layout
 * that keeps them from the worker's secrets.
 *
 * A task is the user's program and may be hostile; the worker's token and
 * its state_dir (the result journal, the process-group records, the
 * mirrors) must be out of its reach. So tasks run as `task_user`, another
 * user, and the layout gives that user exactly this (W the worker's user,
 * T the task user's primary group):
 *
 *     state_dir/              0711  W        traversable, not listable
 *       results/ pgroups/     0700  W        the worker's alone
 *       mirrors/              0700  W
 *       checkouts/            0710  W:T      reachable by the task user only
 *         <commit>/           0555/0444      read-only trees (lib/git/checkout.c)
 *       work/                 0710  W:T      not listable
 *         <attempt>/         02770  W:T      the attempt's $SLUICE_WORK_DIR
 *
 * The worker gives folders to T with chown(-1, T), which needs no
 * capability when W is a member of T (sysusers: `m sluice sluice-task`).
 * The setgid bit makes what the task creates in its folder belong to T too.
 * Removing that folder at the end is done as the task user, through the
 * same spawn path as the task (workdir_remove): a task may leave folders
 * the worker could not enter or empty (mode 0500, owned by the task user),
 * and a task still running in the background could swap a folder for a
 * symlink while the worker walks the tree; as the task user, the removal
 * can only ever touch what the task could touch itself.
 *
 * Without task_user, tasks run as the worker (as before) and the layout is
 * the worker's alone (0700); a worker that runs as root must name a
 * task_user, `root` included, so that tasks never run as root by default.
 */

/* The removal of an attempt's folder gets this long (a huge tree, a slow disk). */
#define CLEANUP_TIMEOUT_S 600
/* What the removal's commands may say, kept for the warning when it fails. */
#define CLEANUP_LOG_MAX 1024

/* "file:line:col: " of the task_user value, for start-up errors. */
static void where(const struct worker *w, struct sl_strbuf *err)
{
	sl_strbuf_addf(err, "%s:%u:%u: task_user: ", w->cfg.file ? w->cfg.file : "-",
	               w->cfg.task_user_line, w->cfg.task_user_column);
}

static int lookup(struct worker *w, struct sl_strbuf *err)
{
	struct passwd pw, *found = NULL;
	long size = sysconf(_SC_GETPW_R_SIZE_MAX);
	char *buf;
	int rc;

	if (size < 1024)
		size = 16384;
	buf = sl_xmalloc((size_t)size);
	rc = getpwnam_r(w->cfg.task_user, &pw, buf, (size_t)size, &found);
	if (found) {
		w->task_user.uid = pw.pw_uid;
		w->task_user.gid = pw.pw_gid;
	} else {
		where(w, err);
		if (rc && rc != ENOENT && rc != ESRCH)
			sl_strbuf_addf(err, "cannot look up user '%s': %s", w->cfg.task_user,
			               strerror(rc));
		else
			sl_strbuf_addf(err, "no user '%s' on this machine", w->cfg.task_user);
	}
	free(buf);
	return found ? 0 : SL_EINVAL;
}

/* Whether the worker may give a folder to group `gid` (chown(-1, gid)). */
static bool can_chgrp(gid_t gid)
{
	gid_t groups[NGROUPS_MAX];
	int n;

	if (geteuid() == 0 || getegid() == gid || sl_privs_effective(CAP_CHOWN))
		return true;
	n = getgroups(NGROUPS_MAX, groups);
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* A separate task user: the rights it takes to run tasks as it and to stop them. */
static int check_rights(struct worker *w, struct sl_strbuf *err)
{
	static const struct {
		int cap;
		const char *name;
	} needed[] = {
	    {CAP_SETUID, "CAP_SETUID"}, {CAP_SETGID, "CAP_SETGID"}, {CAP_KILL, "CAP_KILL"}};
	struct sl_strbuf missing = SL_STRBUF_INIT;
	struct group gr, *found = NULL;
	char buf[4096];
	int rc = 0;

	if (geteuid() != 0) {
		for (size_t i = 0; i < SL_ARRAY_SIZE(needed); i++)
			if (!sl_privs_effective(needed[i].cap))
				sl_strbuf_addf(&missing, "%s%s", missing.len ? ", " : "",
				               needed[i].name);
	}
	if (missing.len) {
		where(w, err);
		sl_strbuf_addf(err,
		               "running tasks as '%s' takes CAP_SETUID, CAP_SETGID and CAP_KILL, "
		               "and the worker lacks %s (AmbientCapabilities=, docs/systemd.md)",
		               w->cfg.task_user, missing.buf);
		rc = SL_EINVAL;
		goto out;
	}
	if (!can_chgrp(w->task_user.gid)) {
		if (getgrgid_r(w->task_user.gid, &gr, buf, sizeof(buf), &found) || !found)
			found = NULL;
		where(w, err);
		sl_strbuf_addf(err,
		               "the worker's user must be a member of group '%s' (gid %ld), the "
		               "primary group of '%s', to give the attempts' folders to it "
		               "(docs/worker.md)",
		               found ? gr.gr_name : "?", (long)w->task_user.gid, w->cfg.task_user);
		rc = SL_EINVAL;
	}
out:
	sl_strbuf_release(&missing);
	return rc;
}

int taskuser_init(struct worker *w, struct sl_strbuf *err)
{
	struct sl_strbuf q = SL_STRBUF_INIT;
	int rc;

	/* Before anything is spawned: nothing the worker was given passes on. */
	if ((rc = sl_privs_clear_inheritable(err)))
		return rc;
	if (!w->cfg.task_user) {
		if (geteuid() == 0) {
			sl_strbuf_addf(err,
			               "%s: the worker runs as root and task_user is not set, so "
			               "tasks would run as root: set task_user to an unprivileged "
			               "user (task_user: root runs them as root knowingly; "
			               "docs/worker.md)",
			               w->cfg.file ? w->cfg.file : "-");
			return SL_EINVAL;
		}
		sl_log("warn", "tasks_share_worker_user",
		       "uid=%ld reason=\"task_user is not set: tasks run as the worker's own user "
		       "and can read its token_file and state_dir\"",
		       (long)geteuid());
		return 0;
	}
	if ((rc = lookup(w, err)))
		return rc;
	sl_log_quote(&q, w->cfg.task_user);
	if (w->task_user.uid == 0)
		sl_log("warn", "tasks_as_root",
		       "task_user=%s reason=\"tasks run as root: they can read and change "
		       "everything, the worker's token and state_dir included\"",
		       q.buf);
	if (w->task_user.uid == geteuid()) {
		if (w->task_user.uid)
			sl_log("warn", "tasks_share_worker_user",
			       "task_user=%s uid=%ld reason=\"task_user is the worker's own user: "
			       "tasks can read its token_file and state_dir\"",
			       q.buf, (long)geteuid());
		goto out;
	}
	if ((rc = check_rights(w, err)))
		goto out;
	w->task_as = &w->task_user;
	sl_log("info", "task_user", "task_user=%s uid=%ld gid=%ld", q.buf, (long)w->task_user.uid,
	       (long)w->task_user.gid);
out:
	sl_strbuf_release(&q);
	return rc;
}

/*
 * Make `path` a folder (if missing) with `mode`, given to group `gid`
 * unless it is -1. An existing one is set too: it may come from an earlier
 * version or configuration. Opened without following a symlink, so the
 * modes land on the folder itself.
 */
static int folder(const char *path, mode_t mode, gid_t gid, struct sl_strbuf *err)
{
	int fd;

	if (mkdir(path, 0700) && errno != EEXIST) {
		sl_strbuf_addf(err, "cannot create %s: %s", path, strerror(errno));
		return SL_ERR;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		sl_strbuf_addf(err, "cannot open the folder %s: %s", path, strerror(errno));
		return SL_ERR;
	}
	if ((gid != (gid_t)-1 && fchown(fd, (uid_t)-1, gid)) || fchmod(fd, mode)) {
		sl_strbuf_addf(err, "cannot set the owner or mode of %s: %s", path,
		               strerror(errno));
		close(fd);
		return SL_ERR;
	}
	close(fd);
	return 0;
}

int taskuser_layout(struct worker *w, struct sl_strbuf *err)
{
	static const char *const private[] = {"results", "pgroups", "mirrors"};
	static const char *const shared[] = {"checkouts", "work"};
	gid_t gid = w->task_as ? w->task_as->gid : (gid_t)-1;
	char *path = NULL;
	int rc;

	if ((rc = sl_mkdir_p(w->cfg.state_dir, 0700, err)))
		return rc;
	/* Without a task user, the state_dir's own mode stays the operator's. */
	if (w->task_as && (rc = folder(w->cfg.state_dir, 0711, (gid_t)-1, err)))
		return rc;
	for (size_t i = 0; i < SL_ARRAY_SIZE(private) && !rc; i++) {
		path = sl_xasprintf("%s/%s", w->cfg.state_dir, private[i]);
		rc = folder(path, 0700, (gid_t)-1, err);
		free(path);
	}
	for (size_t i = 0; i < SL_ARRAY_SIZE(shared) && !rc; i++) {
		path = sl_xasprintf("%s/%s", w->cfg.state_dir, shared[i]);
		rc = folder(path, w->task_as ? 0710 : 0700, gid, err);
		free(path);
	}
	w->work_dir = sl_xasprintf("%s/work", w->cfg.state_dir);
	return rc;
}

int workdir_create(struct worker *w, const char *attempt_id, char **out, struct sl_strbuf *err)
{
	char *dir = sl_xasprintf("%s/%s", w->work_dir, attempt_id);
	int rc;

	rc = w->task_as ? folder(dir, 02770, w->task_as->gid, err)
	                : folder(dir, 0700, (gid_t)-1, err);
	if (rc) {
		rmdir(dir);
		free(dir);
		return rc;
	}
	*out = dir;
	return 0;
}

void taskuser_env(const struct worker *w, struct sl_env *env, const char *dir)
{
	if (!w->task_as)
		return;
	/* The worker's HOME (the unit's state_dir) is not the task user's to write. */
	sl_env_set(env, "HOME", dir);
	sl_env_set(env, "USER", w->cfg.task_user);
	sl_env_set(env, "LOGNAME", w->cfg.task_user);
}

/* --- removing an attempt's folder ------------------------------------------ */

struct cleanup {
	struct worker *w;
	char *dir;
	struct sl_strbuf said;
};

static void cleanup_free(struct cleanup *c)
{
	free(c->dir);
	sl_strbuf_release(&c->said);
	free(c);
}

static void cleanup_warn(const struct cleanup *c, const char *why)
{
	struct sl_strbuf qdir = SL_STRBUF_INIT, qwhy = SL_STRBUF_INIT;

	sl_log_quote(&qdir, c->dir);
	sl_log_quote(&qwhy, why);
	sl_log("warn", "workdir_not_removed", "dir=%s reason=%s", qdir.buf, qwhy.buf);
	sl_strbuf_release(&qdir);
	sl_strbuf_release(&qwhy);
}

static void cleanup_log(struct sl_taskexec *te, enum sl_taskexec_stream stream, const char *buf,
                        size_t len, void *data)
{
	struct cleanup *c = data;

	(void)te;
	(void)stream;
	sl_strbuf_add(&c->said, buf, len);
}

static void cleanup_done(struct sl_taskexec *te, struct sl_taskexec_result *res, void *data)
{
	struct cleanup *c = data;
	struct sl_strbuf why = SL_STRBUF_INIT;

	(void)te;
	/* The folder itself is in work/, which only the worker may write. */
	if (rmdir(c->dir) && errno != ENOENT) {
		sl_strbuf_addf(&why, "%s (removal: %s, exit code %d%s%s)", strerror(errno),
		               sl_outcome_name(res->outcome), res->exit_code,
		               c->said.len ? ": " : "", c->said.buf);
		cleanup_warn(c, why.buf);
	}
	sl_strbuf_release(&why);
	cleanup_free(c);
}

void workdir_remove(struct worker *w, char *dir)
{
	/*
	 * chmod first, for the folders the task made unwritable or unreadable
	 * (it fails on the attempt's folder itself, which is the worker's: hence
	 * 2>/dev/null); find -delete then empties the tree depth first without
	 * following a symlink. Both as the task user.
	 */
	static const char cmd[] = "chmod -R u+rwx -- \"$SLUICE_WORK_DIR\" 2>/dev/null; "
	                          "exec find \"$SLUICE_WORK_DIR\" -mindepth 1 -delete";
	struct sl_taskexec_opts o = {0};
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_env env = SL_ENV_INIT;
	struct sl_taskexec *te;
	struct cleanup *c;

	/*
	 * Most tasks leave their folder empty (the outputs file is gone
	 * already): then it is one rmdir, not three programs (about 30 ms of
	 * CPU, more than a short task costs).
	 */
	if (!rmdir(dir) || errno == ENOENT) {
		free(dir);
		return;
	}
	c = sl_xcalloc(1, sizeof(*c));
	c->w = w;
	c->dir = dir;
	sl_strbuf_init(&c->said);
	sl_env_set(&env, "PATH", "/usr/bin:/bin");
	sl_env_set(&env, "SLUICE_WORK_DIR", dir);
	o.command = cmd;
	o.cwd = "/";
	o.env = sl_env_array(&env);
	o.timeout = CLEANUP_TIMEOUT_S;
	o.log_limit = CLEANUP_LOG_MAX;
	o.user = w->task_as;
	o.on_log = cleanup_log;
	o.on_done = cleanup_done;
	o.data = c;
	if (sl_taskexec_start(w->loop, &o, &te, &err)) {
		cleanup_warn(c, err.buf);
		cleanup_free(c);
	}
	sl_env_release(&env);
	sl_strbuf_release(&err);
}

void workdir_sweep(struct worker *w)
{
	struct sl_strbuf q = SL_STRBUF_INIT;
	DIR *d = opendir(w->work_dir);
	struct dirent *e;

	if (!d) {
		sl_log("warn", "workdir_not_removed", "dir=%s reason=\"%s\"", w->work_dir,
		       strerror(errno));
		return;
	}
	/* What a previous life left: its tasks were killed by pgroups_init. */
	while ((e = readdir(d))) {
		char *dir;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		dir = sl_xasprintf("%s/%s", w->work_dir, e->d_name);
		sl_strbuf_reset(&q);
		sl_log_quote(&q, dir);
		sl_log("info", "workdir_leftover", "dir=%s", q.buf);
		workdir_remove(w, dir);
	}
	closedir(d);
	sl_strbuf_release(&q);
}
