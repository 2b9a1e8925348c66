#include "sluice/utf8.h"

#include <stdint.h>
#include "sluice/banned.h"

/* Length of the well-formed sequence at the start of `s`, or 0 if it is not one. */
static size_t seq_len(const unsigned char *s, size_t avail)
{
	unsigned c = s[0];
	size_t n;
	uint32_t cp;

	if (c && c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		n = 1;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 2;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 3;
		cp = c & 0x07;
	} else {
		return 0; /* NUL, a continuation byte, or a lead byte never valid */
	}
	if (avail <= n)
		return 0;
	for (size_t k = 1; k <= n; k++) {
		if ((s[k] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[k] & 0x3F);
	}
	/* overlong forms, UTF-16 surrogates, beyond U+10FFFF */
	if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || (cp >= 0xD800 && cp <= 0xDFFF) ||
	    cp > 0x10FFFF)
		return 0;
	return n + 1;
}

size_t sl_utf8_check(const char *str, size_t len, bool *ascii)
{
	const unsigned char *s = (const unsigned char *)str;
	bool only_ascii = true;
	size_t i = 0, n;

	while (i < len && (n = seq_len(s + i, len - i))) {
		only_ascii = only_ascii && n == 1;
		i += n;
	}
	if (ascii)
		*ascii = only_ascii;
	return i;
}
