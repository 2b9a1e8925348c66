#include "sluice/strbuf.h"

#include "sluice/alloc.h"
#include "sluice/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "sluice/banned.h"

char sl_strbuf_empty[1];

void sl_strbuf_init(struct sl_strbuf *sb)
{
	sb->buf = sl_strbuf_empty;
	sb->len = 0;
	sb->alloc = 0;
}

void sl_strbuf_release(struct sl_strbuf *sb)
{
	if (sb->alloc)
		free(sb->buf);
	sl_strbuf_init(sb);
}

void sl_strbuf_grow(struct sl_strbuf *sb, size_t extra)
{
	int fresh = sb->alloc == 0;

	if (sb->len + extra + 1 <= sb->len)
		sl_xmalloc((size_t)-1);
	if (fresh)
		sb->buf = NULL;
	SL_ALLOC_GROW(sb->buf, sb->len + extra + 1, sb->alloc);
	if (fresh)
		sb->buf[0] = '\0';
}

void sl_strbuf_reset(struct sl_strbuf *sb)
{
	sl_strbuf_setlen(sb, 0);
}

void sl_strbuf_setlen(struct sl_strbuf *sb, size_t len)
{
	if (!sb->alloc)
		return;
	sb->len = len;
	sb->buf[len] = '\0';
}

void sl_strbuf_add(struct sl_strbuf *sb, const void *data, size_t len)
{
	if (!len)
		return;
	sl_strbuf_grow(sb, len);
	memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
}

void sl_strbuf_adds(struct sl_strbuf *sb, const char *s)
{
	sl_strbuf_add(sb, s, strlen(s));
}

void sl_strbuf_addch(struct sl_strbuf *sb, int c)
{
	char ch = (char)c;

	sl_strbuf_add(sb, &ch, 1);
}

void sl_strbuf_vaddf(struct sl_strbuf *sb, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n <= 0)
		return;
	sl_strbuf_grow(sb, (size_t)n);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
}

void sl_strbuf_addf(struct sl_strbuf *sb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sl_strbuf_vaddf(sb, fmt, ap);
	va_end(ap);
}

char *sl_strbuf_detach(struct sl_strbuf *sb, size_t *len)
{
	char *out;

	if (len)
		*len = sb->len;
	if (!sb->alloc)
		return sl_xstrdup("");
	out = sb->buf;
	sl_strbuf_init(sb);
	return out;
}

int sl_strbuf_read_file(struct sl_strbuf *sb, const char *path, size_t limit, struct sl_strbuf *err)
{
	struct stat st;
	int fd = -1;
	int rc = SL_ERR;
	size_t start = sb->len;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		sl_strbuf_addf(err, "cannot open %s: %s", path, strerror(errno));
		goto fail;
	}
	if (fstat(fd, &st) < 0) {
		sl_strbuf_addf(err, "cannot stat %s: %s", path, strerror(errno));
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		sl_strbuf_addf(err, "%s is a directory", path);
		goto fail;
	}
	if (S_ISREG(st.st_mode) && (unsigned long long)st.st_size > limit) {
		sl_strbuf_addf(err, "%s is %llu bytes, over the limit of %zu bytes", path,
		               (unsigned long long)st.st_size, limit);
		rc = SL_ETOOBIG;
		goto fail;
	}
	for (;;) {
		ssize_t n;

		sl_strbuf_grow(sb, 8192);
		n = read(fd, sb->buf + sb->len, sb->alloc - sb->len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			sl_strbuf_addf(err, "cannot read %s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		sb->len += (size_t)n;
		sb->buf[sb->len] = '\0';
		if (sb->len - start > limit) {
			sl_strbuf_addf(err, "%s is over the limit of %zu bytes", path, limit);
			rc = SL_ETOOBIG;
			goto fail;
		}
	}
	close(fd);
	return SL_OK;
fail:
	if (fd >= 0)
		close(fd);
	sl_strbuf_setlen(sb, start);
	return rc;
}
