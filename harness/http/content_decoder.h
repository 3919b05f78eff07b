/* Content-Encoding decoding (gzip, deflate, x-gzip) with zlib, streaming and bounded. */
#ifndef COMET_CONTENT_DECODER_H
#define COMET_CONTENT_DECODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef void (*content_sink)(void *ud, const char *data, size_t len);

typedef struct content_decoder content_decoder;

/* The encodings comet advertises in Accept-Encoding (what it can decode). */
#define CONTENT_ACCEPT_ENCODING "gzip, deflate"

/* NULL when the value names no coding we decode (identity, unknown: bytes pass through).
 * *unsupported is set for a coding we cannot decode (br, zstd, ...). */
content_decoder *content_decoder_new(const char *content_encoding, content_sink sink, void *ud,
                                     bool *unsupported);
/* Returns 0, or -1 on corrupt data / output beyond max_output (detail then says why). */
int content_decoder_feed(content_decoder *d, const char *data, size_t len);
/* End of body: -1 when the compressed stream was incomplete. */
int content_decoder_finish(content_decoder *d);
const char *content_decoder_error(const content_decoder *d);
void content_decoder_free(content_decoder *d);

#endif
