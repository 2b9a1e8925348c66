#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "worker.h"

#include "sluice/alloc.h"
#include "sluice/fsutil.h"
#include "sluice/error.h"
#include "sluice/banned.h"

/*
 * The process groups of running attempts, recorded so that a worker killed
 * with SIGKILL (no cgroup to clean up after it, see docs/worker.md) kills
 * what its previous life left running before it takes any work: otherwise
 * the scheduler retries the attempt elsewhere while the orphan goes on.
 *
 * Each attempt whose process has started has a file `pgroups/<attempt>`
 * holding one line `pgid=N start=T boot=ID`: the process group id (the
 * shell's pid, since sl_taskexec makes it a session and group leader), the
 * shell's start time (field 22 of /proc/PID/stat, clock ticks since boot)
 * and the boot id. A pid is only unique for as long as its process lives;
 * the pair (pid, start time) names one process for the whole boot, and the
 * boot id says which boot. The file is written as `.new`, fsynced and
 * renamed right after the spawn, and removed when the attempt's process
 * has ended. A worker killed between the spawn and the rename leaves that
 * one task unrecorded and so unsupervised: a window of a few system calls,
 * accepted.
 *
 * At start, before connecting, every file left in the folder is read as a
 * record (a `.new` one too: its process had started) and removed; what a
 * record names is killed unless the machine has rebooted since or its pid
 * now names another process (settle() says why that is safe). Records are
 * read like wire input: a hostile or truncated one is removed, logged, and
 * never used to kill.
 */

/* A record is one short line; anything longer is not one. */
#define RECORD_MAX 128
/* /proc/PID/stat: 52 numeric fields and a command name of at most 64 bytes. */
#define PROC_STAT_MAX 4096
/* The boot id's text form, without its newline: 8-4-4-4-12 hex digits. */
#define BOOT_ID_LEN  36
#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"

struct pgroup_record {
	int pgid;
	uint64_t start;
	char boot_id[BOOT_ID_LEN + 1];
};

/*
 * Read a small file whole into `buf` (`size` bytes: at most size - 2 of
 * content, one more to tell a longer file apart, one for the NUL). Only a
 * regular file, never through a symlink, and never blocking on a FIFO.
 * SL_ENOENT when the file (or the process of a /proc file) does not exist.
 */
static int read_small(const char *path, char *buf, size_t size, size_t *len, struct sl_strbuf *err)
{
	struct stat st;
	size_t n = 0;
	int fd, rc = SL_ERR, e;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		e = errno;
		sl_strbuf_addf(err, "cannot open %s: %s", path, strerror(e));
		return e == ENOENT || e == ESRCH ? SL_ENOENT : SL_ERR;
	}
	if (fstat(fd, &st)) {
		sl_strbuf_addf(err, "cannot stat %s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		sl_strbuf_addf(err, "%s is not a regular file", path);
		goto fail;
	}
	while (n < size - 1) {
		ssize_t r = read(fd, buf + n, size - 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			e = errno;
			sl_strbuf_addf(err, "cannot read %s: %s", path, strerror(e));
			rc = e == ESRCH ? SL_ENOENT : SL_ERR;
			goto fail;
		}
		if (!r)
			break;
		n += (size_t)r;
	}
	if (n > size - 2) {
		sl_strbuf_addf(err, "%s is over %zu bytes", path, size - 2);
		rc = SL_ETOOBIG;
		goto fail;
	}
	buf[n] = '\0';
	*len = n;
	rc = 0;
fail:
	close(fd);
	return rc;
}

/* A decimal number with no sign, space or leading zero, at most `max`; advances *p. */
static bool parse_uint(const char **p, uint64_t max, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] >= '0' && s[1] <= '9'))
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	*p = s;
	return true;
}

static bool skip(const char **p, const char *lit)
{
	size_t n = strlen(lit);

	if (strncmp(*p, lit, n))
		return false;
	*p += n;
	return true;
}

/* The 36 characters at `s` are a boot id as the kernel writes it (lowercase). */
static bool boot_id_ok(const char *s)
{
	for (int i = 0; i < BOOT_ID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		bool hex = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');

		/* A NUL fails here, so nothing past the end is read. */
		if (dash ? s[i] != '-' : !hex)
			return false;
	}
	return true;
}

static int read_boot_id(struct worker *w, struct sl_strbuf *err)
{
	char buf[BOOT_ID_LEN + 8];
	size_t len;
	int rc;

	if ((rc = read_small(BOOT_ID_PATH, buf, sizeof(buf), &len, err)))
		return rc;
	if (len != BOOT_ID_LEN + 1 || !boot_id_ok(buf) || buf[BOOT_ID_LEN] != '\n') {
		sl_strbuf_addf(err, "%s does not hold a boot id", BOOT_ID_PATH);
		return SL_EINVAL;
	}
	w->boot_id = sl_xstrndup(buf, BOOT_ID_LEN);
	return 0;
}

/*
 * A process's start time, field 22 of /proc/PID/stat; SL_ENOENT when there
 * is no such process.
 */
static int proc_start(int pid, uint64_t *start, struct sl_strbuf *err)
{
	char path[64], buf[PROC_STAT_MAX + 2];
	const char *p;
	size_t len;
	int rc;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((rc = read_small(path, buf, sizeof(buf), &len, err)))
		return rc;
	/* Field 2, the command name in parentheses, may hold anything, ')' and
	 * spaces included: the fields after it begin after the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		goto bad;
	p++;
	for (int field = 3; field < 22; field++) {
		if (*p != ' ')
			goto bad;
		p++;
		p += strcspn(p, " ");
	}
	if (!skip(&p, " ") || !parse_uint(&p, UINT64_MAX, start) || *p != ' ')
		goto bad;
	return 0;
bad:
	sl_strbuf_addf(err, "%s is not in the expected format", path);
	return SL_ERR;
}

/*
 * Strict: exactly `pgid=N start=T boot=ID\n`. A group id below 2 is refused
 * here, since kill() reads 0 as our own group and -1 as every process.
 */
static int record_parse(const char *buf, size_t len, struct pgroup_record *r, struct sl_strbuf *err)
{
	const char *p = buf;
	uint64_t pgid;

	if (strlen(buf) != len || !skip(&p, "pgid=") || !parse_uint(&p, INT_MAX, &pgid) ||
	    pgid < 2 || !skip(&p, " start=") || !parse_uint(&p, UINT64_MAX, &r->start) ||
	    !skip(&p, " boot=") || !boot_id_ok(p) || strcmp(p + BOOT_ID_LEN, "\n")) {
		sl_strbuf_adds(err, "not a record: \"pgid=N start=T boot=ID\" with N >= 2");
		return SL_EINVAL;
	}
	r->pgid = (int)pgid;
	memcpy(r->boot_id, p, BOOT_ID_LEN);
	r->boot_id[BOOT_ID_LEN] = '\0';
	return 0;
}

static void unlink_record(const char *path)
{
	struct sl_strbuf q = SL_STRBUF_INIT;
	int e;

	/* remove(), not unlink(): a folder someone left there goes too when empty. */
	if (remove(path) && (e = errno) != ENOENT) {
		sl_log_quote(&q, path);
		sl_log("error", "pgroup_unlink_failed", "file=%s error=\"%s\"", q.buf, strerror(e));
	}
	sl_strbuf_release(&q);
}

/*
 * Kill the group of one record left by the previous life unless it cannot
 * be that group any more, and remove the record in every case.
 */
static void settle(const struct worker *w, const char *name)
{
	struct sl_strbuf err = SL_STRBUF_INIT, qerr = SL_STRBUF_INIT;
	struct sl_strbuf qfile = SL_STRBUF_INIT, qid = SL_STRBUF_INIT;
	char *path = sl_xasprintf("%s/%s", w->pgroups_dir, name);
	char buf[RECORD_MAX + 2];
	struct pgroup_record r;
	uint64_t start;
	size_t len;
	int rc, e;

	/* The name and the content are anything someone put there. */
	sl_log_quote(&qfile, path);
	sl_log_quote(&qid, name);
	if (read_small(path, buf, sizeof(buf), &len, &err) || record_parse(buf, len, &r, &err))
		goto unreadable;
	if (r.pgid == getpgrp()) {
		/* A task's group is never ours: it has a session of its own. */
		sl_strbuf_adds(&err, "names the worker's own process group");
		goto unreadable;
	}
	if (strcmp(r.boot_id, w->boot_id)) {
		sl_log("info", "leftover_gone", "attempt=%s pgid=%d reason=rebooted", qid.buf,
		       r.pgid);
		goto out;
	}
	rc = proc_start(r.pgid, &start, &err);
	if (rc && rc != SL_ENOENT) {
		/* Whatever this is, a guess is no ground to kill. */
		sl_log_quote(&qerr, err.buf);
		sl_log("error", "leftover_unchecked", "attempt=%s pgid=%d reason=%s", qid.buf,
		       r.pgid, qerr.buf);
		goto out;
	}
	if (!rc && start != r.start) {
		/*
		 * The pid now belongs to another process: the leader has exited
		 * and its pid was given again. The kernel gives a pid again only
		 * once no process uses it as its id, its process group id or its
		 * session id; so the old group had no member left when this
		 * process was born, and an empty group never gains one again.
		 * Nothing of the task can be alive, and -pgid, if it names a
		 * group at all, names a stranger's: no kill.
		 */
		sl_log("info", "leftover_gone", "attempt=%s pgid=%d reason=\"pid reused\"", qid.buf,
		       r.pgid);
		goto out;
	}
	/*
	 * The leader is alive (same pid, same start time: the same process), or
	 * it has exited while members of its group (a job it left in the
	 * background) may live on, keeping the id theirs for the reason above.
	 * One case looks the same and is accepted: the whole group ended, then
	 * the pid went to a new process that made a group of its own and
	 * exited, leaving members, whom this kill reaches; that takes a reuse
	 * of this very pid and a leaderless group, both while the worker was
	 * down. SIGKILL cannot be caught or blocked: when kill() returns, every
	 * process of the group is bound to die without running its own code
	 * again.
	 */
	if (!kill(-r.pgid, SIGKILL)) {
		sl_log("warn", "leftover_killed", "attempt=%s pgid=%d leader=%s", qid.buf, r.pgid,
		       rc ? "exited" : "alive");
	} else if ((e = errno) == ESRCH) {
		sl_log("info", "leftover_gone", "attempt=%s pgid=%d reason=exited", qid.buf,
		       r.pgid);
	} else {
		sl_log("error", "leftover_kill_failed", "attempt=%s pgid=%d error=\"%s\"", qid.buf,
		       r.pgid, strerror(e));
	}
	goto out;
unreadable:
	sl_log_quote(&qerr, err.buf);
	sl_log("warn", "leftover_unreadable", "file=%s reason=%s", qfile.buf, qerr.buf);
out:
	unlink_record(path);
	free(path);
	sl_strbuf_release(&err);
	sl_strbuf_release(&qerr);
	sl_strbuf_release(&qfile);
	sl_strbuf_release(&qid);
}

int pgroups_init(struct worker *w, struct sl_strbuf *err)
{
	DIR *dir = NULL;
	struct dirent *de;
	int rc;

	w->pgroups_dir = sl_xasprintf("%s/pgroups", w->cfg.state_dir);
	if ((rc = read_boot_id(w, err)))
		goto out;
	if (mkdir(w->pgroups_dir, 0700) && errno != EEXIST) {
		sl_strbuf_addf(err, "cannot create %s: %s", w->pgroups_dir, strerror(errno));
		rc = SL_ERR;
		goto out;
	}
	if (!(dir = opendir(w->pgroups_dir))) {
		sl_strbuf_addf(err, "cannot read %s: %s", w->pgroups_dir, strerror(errno));
		rc = SL_ERR;
		goto out;
	}
	/* Removing the entry just read while reading on is allowed (POSIX). */
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, "..")))
			continue;
		settle(w, de->d_name);
	}
out:
	if (dir)
		closedir(dir);
	return rc;
}

void pgroups_release(struct worker *w)
{
	free(w->pgroups_dir);
	w->pgroups_dir = NULL;
	free(w->boot_id);
	w->boot_id = NULL;
}

void pgroups_add(struct worker *w, const char *attempt_id, int pgid)
{
	struct sl_strbuf body = SL_STRBUF_INIT, err = SL_STRBUF_INIT, q = SL_STRBUF_INIT;
	char *path = sl_xasprintf("%s/%s", w->pgroups_dir, attempt_id);
	uint64_t start;
	int rc;

	/* The shell is our child and not reaped yet, so its /proc entry is there. */
	rc = proc_start(pgid, &start, &err);
	if (!rc) {
		sl_strbuf_addf(&body, "pgid=%d start=%llu boot=%s\n", pgid,
		               (unsigned long long)start, w->boot_id);
		rc = sl_file_write_atomic(w->pgroups_dir, path, body.buf, body.len, &err);
	}
	if (rc) {
		/* The task runs on; only a crash of this worker would leave it unsupervised. */
		sl_log_quote(&q, err.buf);
		sl_log("warn", "pgroup_not_recorded", "attempt=%s pgid=%d reason=%s", attempt_id,
		       pgid, q.buf);
	}
	free(path);
	sl_strbuf_release(&body);
	sl_strbuf_release(&err);
	sl_strbuf_release(&q);
}

void pgroups_remove(struct worker *w, const char *attempt_id)
{
	char *path = sl_xasprintf("%s/%s", w->pgroups_dir, attempt_id);

	unlink_record(path);
	free(path);
}
