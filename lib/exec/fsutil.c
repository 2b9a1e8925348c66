#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice/alloc.h"
#include "sluice/fsutil.h"
#include "sluice/error.h"
#include "sluice/banned.h"

int sl_mkdir_p(const char *path, unsigned mode, struct sl_strbuf *err)
{
	char *p = sl_xstrdup(path);
	int rc = 0;

	for (char *s = p + 1;; s++) {
		if (*s == '/' || !*s) {
			char c = *s;

			*s = '\0';
			if (mkdir(p, (mode_t)mode) && errno != EEXIST) {
				sl_strbuf_addf(err, "cannot create %s: %s", p, strerror(errno));
				rc = SL_ERR;
				break;
			}
			*s = c;
			if (!c)
				break;
		}
	}
	free(p);
	return rc;
}

int sl_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int sl_file_write_atomic(const char *dir, const char *path, const void *bytes, size_t len,
                         struct sl_strbuf *err)
{
	char *tmp = sl_xasprintf("%s.new", path);
	const char *p = bytes;
	size_t off = 0;
	int fd = -1, rc = SL_ERR;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		sl_strbuf_addf(err, "cannot create %s: %s", tmp, strerror(errno));
		goto fail;
	}
	while (off < len) {
		ssize_t n = write(fd, p + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			sl_strbuf_addf(err, "cannot write %s: %s", tmp, strerror(errno));
			goto fail;
		}
		off += (size_t)n;
	}
	if (fsync(fd)) {
		sl_strbuf_addf(err, "cannot sync %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd)) {
		fd = -1;
		sl_strbuf_addf(err, "cannot write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path)) {
		sl_strbuf_addf(err, "cannot rename %s: %s", tmp, strerror(errno));
		goto fail;
	}
	sl_fsync_dir(dir);
	rc = 0;
fail:
	if (fd >= 0)
		close(fd);
	if (rc)
		unlink(tmp);
	free(tmp);
	return rc;
}
