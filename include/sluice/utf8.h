#ifndef SLUICE_UTF8_H
#define SLUICE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/**
 * Check that `s` is UTF-8 text: well-formed (no overlong form, no UTF-16
 * surrogate, nothing beyond U+10FFFF) and without a NUL byte, which no C
 * string, environment variable or protocol text can hold. Returns the
 * offset of the first byte that breaks the rule (a NUL, or the first byte
 * of a bad or cut sequence), or `len` when there is none. Unless `ascii` is
 * NULL, `*ascii` says whether every byte before that offset is below 0x80.
 */
size_t sl_utf8_check(const char *s, size_t len, bool *ascii);

#endif
