/*
 * The well-known file of a running `sluice standalone` (standalone_file.h).
 *
 * What it holds decides which database every later command talks to, so it
 * is trusted only when nobody else could have written it: the folder and
 * the file must belong to this user and be closed to everyone else, and
 * neither may be a symlink. Both are opened once (O_NOFOLLOW, then openat)
 * and checked with fstat, so nothing can be swapped between the check and
 * the read.
 */
#include "standalone_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice/alloc.h"
#include "sluice/fsutil.h"
#include "sluice/banned.h"

#define FILE_NAME  "standalone"
#define FILE_LIMIT 8192

/* ${XDG_STATE_HOME:-$HOME/.local/state}/sluice, allocated, or NULL. */
static char *folder(void)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");

	/* The XDG rule: a relative value is invalid and ignored. */
	if (xdg && xdg[0] == '/')
		sl_strbuf_addf(&sb, "%s/sluice", xdg);
	else if (home && home[0] == '/')
		sl_strbuf_addf(&sb, "%s/.local/state/sluice", home);
	else
		return NULL;
	return sl_strbuf_detach(&sb, NULL);
}

char *standalone_file_path(void)
{
	char *dir = folder();
	struct sl_strbuf sb = SL_STRBUF_INIT;

	if (!dir)
		return NULL;
	sl_strbuf_addf(&sb, "%s/" FILE_NAME, dir);
	free(dir);
	return sl_strbuf_detach(&sb, NULL);
}

/* fd's object belongs to this user and is closed to others; else a
 * sentence about `path` in err. */
static int private_to_me(int fd, const char *path, bool want_dir, struct sl_strbuf *err)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		sl_strbuf_addf(err, "cannot stat %s: %s", path, strerror(errno));
		return -1;
	}
	if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
		sl_strbuf_addf(err, "%s is not a %s", path, want_dir ? "folder" : "regular file");
		return -1;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 077)) {
		sl_strbuf_addf(err,
		               "%s is not private to this user (owner uid %u, mode %04o; "
		               "expected uid %u and mode %s)",
		               path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
		               (unsigned)geteuid(), want_dir ? "0700" : "0600");
		return -1;
	}
	return 0;
}

/* The folder, opened and checked; -1 and errno ENOENT when it is missing. */
static int open_folder(const char *dir, struct sl_strbuf *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0) {
		if (errno != ENOENT)
			sl_strbuf_addf(err, "cannot open %s: %s%s", dir, strerror(errno),
			               errno == ELOOP || errno == ENOTDIR ? " (a symlink?)" : "");
		return -1;
	}
	if (private_to_me(fd, dir, true, err)) {
		close(fd);
		return -1;
	}
	return fd;
}

int standalone_file_write(const char *body, struct sl_strbuf *err)
{
	char *dir = folder(), *path = standalone_file_path();
	int fd = -1, rc = -1;

	if (!dir) {
		sl_strbuf_adds(err, "neither $XDG_STATE_HOME nor $HOME is an absolute path");
		goto out;
	}
	if (sl_mkdir_p(dir, 0700, err))
		goto out;
	fd = open_folder(dir, err);
	if (fd < 0) {
		if (!err->len)
			sl_strbuf_addf(err, "cannot open %s: %s", dir, strerror(errno));
		goto out;
	}
	rc = sl_file_write_atomic(dir, path, body, strlen(body), err) ? -1 : 0;
out:
	if (fd >= 0)
		close(fd);
	free(dir);
	free(path);
	return rc;
}

void standalone_file_remove(const char *body)
{
	struct sl_strbuf now = SL_STRBUF_INIT, err = SL_STRBUF_INIT;
	char *path = standalone_file_path();

	if (path && !sl_strbuf_read_file(&now, path, FILE_LIMIT, &err) && !strcmp(now.buf, body))
		unlink(path);
	free(path);
	sl_strbuf_release(&now);
	sl_strbuf_release(&err);
}

int standalone_file_read(struct sl_strbuf *conninfo, struct sl_strbuf *err)
{
	struct sl_strbuf body = SL_STRBUF_INIT;
	char *dir = folder(), *path = standalone_file_path();
	int dfd = -1, fd = -1, rc = -1;
	char *line, *save = NULL;

	if (!dir) {
		rc = 0;
		goto out;
	}
	dfd = open_folder(dir, err);
	if (dfd < 0) {
		rc = err->len ? -1 : 0;
		goto out;
	}
	fd = openat(dfd, FILE_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			rc = 0;
		else
			sl_strbuf_addf(err, "cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	if (private_to_me(fd, path, false, err))
		goto out;
	for (;;) {
		ssize_t n;

		sl_strbuf_grow(&body, 1024);
		n = read(fd, body.buf + body.len, body.alloc - body.len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			sl_strbuf_addf(err, "cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		body.len += (size_t)n;
		body.buf[body.len] = '\0';
		if (body.len > FILE_LIMIT) {
			sl_strbuf_addf(err, "%s is over %d bytes", path, FILE_LIMIT);
			goto out;
		}
	}
	/* The connection string is the first line that is not a comment. */
	for (line = strtok_r(body.buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (line[0] && line[0] != '#')
			break;
	if (!line) {
		sl_strbuf_addf(err, "%s holds no connection string", path);
		goto out;
	}
	sl_strbuf_adds(conninfo, line);
	rc = 1;
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	free(dir);
	free(path);
	sl_strbuf_release(&body);
	return rc;
}
