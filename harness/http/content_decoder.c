#include "http/content_decoder.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define MAX_DECODED_BYTES (1ULL << 32) /* a decompression bomb stops here */

struct content_decoder {
    z_stream z;
    content_sink sink;
    void *ud;
    bool raw_deflate_retry; /* "deflate" sent as raw DEFLATE, as some servers do */
    bool ended;
    uint64_t produced;
    const char *error;
};

static bool token_is(const char *v, const char *token)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(token);
    if (strncasecmp(v, token, n))
        return false;
    v += n;
    while (*v == ' ' || *v == '\t')
        v++;
    return *v == '\0';
}

content_decoder *content_decoder_new(const char *content_encoding, content_sink sink, void *ud,
                                     bool *unsupported)
{
    *unsupported = false;
    if (!content_encoding || token_is(content_encoding, "identity") ||
        token_is(content_encoding, ""))
        return NULL;
    int window;
    if (token_is(content_encoding, "gzip") || token_is(content_encoding, "x-gzip"))
        window = 15 + 16;
    else if (token_is(content_encoding, "deflate"))
        window = 15;
    else {
        *unsupported = true;
        return NULL;
    }
    content_decoder *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->sink = sink;
    d->ud = ud;
    d->raw_deflate_retry = window == 15;
    if (inflateInit2(&d->z, window) != Z_OK) {
        free(d);
        return NULL;
    }
    return d;
}

int content_decoder_feed(content_decoder *d, const char *data, size_t len)
{
    char out[16384];
    if (d->error)
        return -1;
    d->z.next_in = (Bytef *)(uintptr_t)data;
    d->z.avail_in = (uInt)len;
    while (d->z.avail_in > 0 && !d->ended) {
        d->z.next_out = (Bytef *)out;
        d->z.avail_out = sizeof out;
        int rc = inflate(&d->z, Z_NO_FLUSH);
        if (rc == Z_DATA_ERROR && d->raw_deflate_retry && d->z.total_out == 0) {
            /* zlib header missing: retry as raw DEFLATE from the start of this input */
            d->raw_deflate_retry = false;
            inflateEnd(&d->z);
            memset(&d->z, 0, sizeof d->z);
            if (inflateInit2(&d->z, -15) != Z_OK)
                return (d->error = "out of memory"), -1;
            d->z.next_in = (Bytef *)(uintptr_t)data;
            d->z.avail_in = (uInt)len;
            continue;
        }
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
            return (d->error = "content decoding failed (corrupt compressed data)"), -1;
        d->raw_deflate_retry = false;
        size_t n = sizeof out - d->z.avail_out;
        d->produced += n;
        if (d->produced > MAX_DECODED_BYTES)
            return (d->error = "decoded body exceeds 4 GiB"), -1;
        if (n)
            d->sink(d->ud, out, n);
        if (rc == Z_STREAM_END)
            d->ended = true;
        if (rc == Z_BUF_ERROR && n == 0)
            break;
    }
    return 0;
}

int content_decoder_finish(content_decoder *d)
{
    /* Chromium accepts a compressed stream cut short once every byte arrived; only corrupt
     * data is an error. */
    return d->error ? -1 : 0;
}

const char *content_decoder_error(const content_decoder *d)
{
    return d->error;
}

void content_decoder_free(content_decoder *d)
{
    if (!d)
        return;
    inflateEnd(&d->z);
    free(d);
}
