/* Growable byte buffer with a hard limit: every buffer in comet is bounded. */
#ifndef COMET_BUF_H
#define COMET_BUF_H

#include <stddef.h>

typedef struct buf {
    char *data;
    size_t len;
    size_t cap;
    size_t limit; /* 0 = no limit beyond SIZE_MAX/2 */
} buf;

/* Appends n bytes; returns 0, or -1 when the limit would be exceeded or memory runs out
 * (the buffer is unchanged then). data is always NUL-terminated after a successful append. */
int buf_append(buf *b, const void *data, size_t n);
int buf_append_str(buf *b, const char *s);
int buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drops the first n bytes (consumed input). */
void buf_consume(buf *b, size_t n);
void buf_reset(buf *b);
/* Frees the storage; the buffer can be reused (limit kept). */
void buf_free(buf *b);
/* Hands the storage to the caller (NUL-terminated, never NULL) and empties the buffer. */
char *buf_take(buf *b);

#endif
