/* The text/event-stream parser, sans I/O: the HTML standard's "Parsing an event stream" and
 * "Interpreting an event stream", byte for byte.
 *  - The stream is UTF-8; invalid bytes become U+FFFD exactly as the WHATWG decoder makes them
 *    (one per maximal invalid subpart). Decoding is done per line, which gives the same text
 *    as decoding the whole stream: CR, LF, ':' and U+0020 never occur inside a sequence.
 *  - One leading U+FEFF (EF BB BF) at the start of the stream is dropped, also when split
 *    across feeds; nothing is held back for it (the first line is not complete before it).
 *  - Lines end at CR, LF or CRLF, also when the CR ends one feed and the LF starts the next.
 *  - Lines starting with ':' are comments (on_comment); "field:value" splits at the first
 *    colon and drops one U+0020 after it; a line without a colon is a field with an empty
 *    value. Fields: event, data, id (ignored when the value holds U+0000), retry (ASCII
 *    digits only); others are ignored; names are case-sensitive.
 *  - A blank line commits the last event ID buffer to the last event ID string (even when no
 *    data came) and dispatches when the data buffer is not empty, type "message" by default.
 *  - sse_parser_finish() is the end of the stream: an incomplete event is dropped, and its
 *    id is not committed.
 * Comet's own limits (never unbounded memory): a line longer than max_line bytes or event
 * data longer than max_data bytes is reported through on_limit and the event is discarded:
 * its data and type are dropped and nothing is dispatched for it (its id and retry fields
 * still count, as they would in a browser that has no limit).
 *
 * Every string a callback receives is valid UTF-8 and is only valid during the call; it is
 * not NUL-terminated. A callback may call sse_parser_stop() (a listener closing the
 * EventSource): the rest of the input is ignored until sse_parser_finish().
 *
 * Memory: buffers are allocated on demand and released when a feed returns with them empty,
 * so an idle parser between events holds no heap beyond its last event ID string. A line
 * or data value wholly inside one feed is dispatched from the caller's bytes, not copied. */
#ifndef COMET_SSE_PARSER_H
#define COMET_SSE_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SSE_DEFAULT_MAX_LINE (1u << 20)  /* 1 MiB */
#define SSE_DEFAULT_MAX_DATA (16u << 20) /* 16 MiB */
#define SSE_MAX_LIMIT (1u << 30)         /* configured limits are clamped to 1 GiB */
#define SSE_CHROMIUM_DEFAULT_RETRY_MS 3000 /* EventSource::kDefaultReconnectDelay */

typedef enum sse_limit {
    SSE_LIMIT_LINE, /* a line longer than max_line */
    SSE_LIMIT_DATA, /* an event's data (each value with its LF) longer than max_data */
    SSE_LIMIT_MEMORY, /* an allocation failed */
} sse_limit;

/* Shared by any number of parsers (load mode runs many): callbacks and limits. Any callback
 * may be NULL. Offsets are absolute byte offsets in the stream (0 = its first byte). */
typedef struct sse_parser_config {
    /* A dispatched event: type is "message" unless an event field set another; data without
     * its final LF; last_event_id is the event stream's last event ID string. */
    void (*on_event)(void *ud, const char *type, size_t type_len, const char *data,
                     size_t data_len, const char *last_event_id, size_t id_len);
    /* A valid retry field: the new reconnection time in milliseconds. */
    void (*on_retry)(void *ud, uint64_t ms);
    /* A comment line: the text after the ':' (a leading space is kept). */
    void (*on_comment)(void *ud, const char *text, size_t len);
    /* A limit was hit at the line starting at `offset`; that event is discarded. */
    void (*on_limit)(void *ud, sse_limit what, uint64_t offset);
    size_t max_line; /* 0 = SSE_DEFAULT_MAX_LINE */
    size_t max_data; /* 0 = SSE_DEFAULT_MAX_DATA */
    /* Chromium's EventSourceParser instead of the spec's letter for retry: an empty value
     * resets the reconnection time to 3000 ms, and a value beyond 2^64-1 is ignored (the
     * spec's rule, and this parser's default, ignore the empty value and saturate). */
    bool chromium_retry;
} sse_parser_config;

/* A small growable string; lengths fit the 1 GiB limit. */
typedef struct sse_str {
    char *p;
    uint32_t len;
    uint32_t cap;
} sse_str;

typedef struct sse_parser {
    const sse_parser_config *cfg;
    void *ud;
    uint64_t offset;  /* stream offset of the next byte fed */
    sse_str line;     /* a line that spans feeds, so far */
    sse_str data;     /* the data buffer, each value followed by LF */
    sse_str type;     /* the event type buffer */
    sse_str id;       /* the last event ID buffer, when set since the last dispatch */
    sse_str last_id;  /* the last event ID string */
    uint32_t max_line;
    uint32_t max_data;
    uint16_t flags;   /* SSE_F_* in sse_parser.c */
} sse_parser;

void sse_parser_init(sse_parser *p, const sse_parser_config *cfg, void *ud);
void sse_parser_free(sse_parser *p);
/* Parses the next bytes of the stream (any split, any length). */
void sse_parser_feed(sse_parser *p, const char *data, size_t len);
/* End of the stream: the pending line and event are discarded. The parser is then ready for
 * a new stream (a reconnection): offset 0, a BOM expected, the last event ID string kept. */
void sse_parser_finish(sse_parser *p);
/* From inside a callback: ignore the rest of this stream (until sse_parser_finish()). */
void sse_parser_stop(sse_parser *p);
/* The last event ID string (what a reconnection sends as Last-Event-ID), NUL-terminated
 * (it never holds U+0000); "" when empty. */
const char *sse_parser_last_event_id(const sse_parser *p, size_t *len);
/* Sets the last event ID string (and buffer), e.g. for a parser that continues another;
 * id must not contain NUL, CR or LF. Returns -1 when memory runs out. */
int sse_parser_set_last_event_id(sse_parser *p, const char *id, size_t len);
/* Bytes of the current stream fed so far. */
uint64_t sse_parser_offset(const sse_parser *p);
const char *sse_limit_name(sse_limit what);

#endif
