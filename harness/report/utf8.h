/* UTF-8 scanning shared by the reporters: server text may hold any bytes. */
#ifndef COMET_REPORT_UTF8_H
#define COMET_REPORT_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decodes the sequence at s[0..n), n > 0. Returns its length (1-4) and sets *cp when it is
 * well-formed (no overlong form, surrogate or value above U+10FFFF). Otherwise returns 0 and
 * sets *bad to the length of the maximal invalid subpart (1-3): the bytes a decoder replaces
 * with one U+FFFD, as browsers do. */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp, size_t *bad);

/* Copy of s[0..n) with every invalid subpart replaced by U+FFFD; valid bytes are kept as
 * they are. Malloc'd and NUL-terminated, length in *outlen; NULL when memory runs out. */
char *utf8_sanitize(const char *s, size_t n, size_t *outlen);

#endif
