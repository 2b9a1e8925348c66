#ifndef SLUICE_STRBUF_H
#define SLUICE_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

/**
 * A growable, always NUL-terminated byte buffer (after git's strbuf).
 *
 * Invariants: `buf` is never NULL (an empty buffer points at a shared empty
 * string, so it can be printed at once); `buf[len] == '\0'`; `len < alloc`
 * whenever `alloc != 0`. Only sl_strbuf_detach hands the memory to the caller.
 * Library functions that can fail take a `struct sl_strbuf *err` and append
 * one human sentence to it (no trailing newline, no "error:" prefix).
 */
struct sl_strbuf {
	char *buf;
	size_t len;
	size_t alloc;
};

extern char sl_strbuf_empty[];
#define SL_STRBUF_INIT                \
	{                             \
		sl_strbuf_empty, 0, 0 \
	}

void sl_strbuf_init(struct sl_strbuf *sb);
void sl_strbuf_release(struct sl_strbuf *sb);
/** Make room for `extra` more bytes (plus the terminator). */
void sl_strbuf_grow(struct sl_strbuf *sb, size_t extra);
void sl_strbuf_reset(struct sl_strbuf *sb);
void sl_strbuf_setlen(struct sl_strbuf *sb, size_t len);
void sl_strbuf_add(struct sl_strbuf *sb, const void *data, size_t len);
void sl_strbuf_adds(struct sl_strbuf *sb, const char *s);
void sl_strbuf_addch(struct sl_strbuf *sb, int c);
void sl_strbuf_addf(struct sl_strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sl_strbuf_vaddf(struct sl_strbuf *sb, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/** Take the buffer; `sb` is left empty and reusable. Never returns NULL. */
char *sl_strbuf_detach(struct sl_strbuf *sb, size_t *len);

/**
 * Read a whole file. Fails (-1, message in `err` naming the path) when it
 * cannot be read or holds more than `limit` bytes; an oversized file is
 * detected from its size before any of it is read, and a pipe is read only
 * up to `limit + 1` bytes, so memory stays bounded either way. Returns
 * SL_ETOOBIG for an oversized file.
 */
int sl_strbuf_read_file(struct sl_strbuf *sb, const char *path, size_t limit,
                        struct sl_strbuf *err);

#endif
