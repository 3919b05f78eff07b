/* Incremental text decoding as a browser does it for responseText (and later event
 * streams): UTF-8 per the WHATWG Encoding standard (each maximal invalid subpart becomes one
 * U+FFFD), or windows-1252 for the labels that map to it. Output is always valid UTF-8;
 * the length is counted in UTF-16 code units, as JavaScript's String.length counts.
 *
 * Chromium's TextResourceDecoder looks for a byte order mark before it decodes anything,
 * so it holds back the first bytes until it has 3 of them or the stream ends: a 2-byte
 * body is invisible in responseText until the load finishes. `hold_for_bom` models that. */
#ifndef COMET_TEXT_DECODER_H
#define COMET_TEXT_DECODER_H

#include "util/buf.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum text_encoding {
    ENC_UTF8,
    ENC_WINDOWS_1252,
} text_encoding;

typedef struct text_decoder {
    text_encoding enc;
    bool hold_for_bom;
    bool bom_checked;
    unsigned char pending[4]; /* bytes of an incomplete sequence, or held for the BOM check */
    int n_pending;
    uint32_t cp;              /* UTF-8 decoder state (WHATWG) */
    int needed;
    int seen;
    unsigned char lower, upper;
    uint64_t utf16_len;
} text_decoder;

/* Picks the encoding from a charset label (NULL or unknown -> UTF-8). */
text_encoding text_encoding_from_label(const char *label);
void text_decoder_init(text_decoder *d, text_encoding enc, bool hold_for_bom);
/* Decodes bytes, appending UTF-8 to out. Returns -1 when out's limit is hit. */
int text_decoder_feed(text_decoder *d, const char *data, size_t len, buf *out);
/* End of stream: releases held bytes; an incomplete sequence becomes U+FFFD. */
int text_decoder_finish(text_decoder *d, buf *out);

/* UTF-16 code units in a valid UTF-8 string, and the byte length of its first n units. */
uint64_t utf8_utf16_length(const char *s, size_t len);
size_t utf8_prefix_for_units(const char *s, size_t len, uint64_t units);

#endif
