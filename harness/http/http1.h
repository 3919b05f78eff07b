/* HTTP/1.1 response parser and request writer (RFC 9112), sans-I/O.
 *
 * The parser never allocates, never touches a socket or a clock. The caller feeds bytes
 * with http1_parse(); the parser reports what it saw through callbacks and returns how
 * many bytes it consumed. Bytes it did not consume (an incomplete head, an incomplete
 * chunk-size line) must be presented again, with more data appended, on the next call;
 * pointers passed to callbacks are only valid during the callback.
 *
 * Protocol violations become findings with the absolute byte offset in the server's
 * stream (counted from the first byte of the first response on this connection). A
 * finding is either tolerated (a browser accepts it, e.g. bare LF line endings, and
 * parsing goes on) or fatal (a browser fails the request with a network error, e.g.
 * conflicting Content-Length; the parser stops and state becomes H1_ERROR).
 */
#ifndef COMET_HTTP1_H
#define COMET_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum http1_finding_code {
    H1F_BARE_LF = 1,         /* tolerated: line ended by LF without CR */
    H1F_OBS_FOLD,            /* tolerated: obsolete line folding in a header value */
    H1F_BAD_STATUS_LINE,     /* fatal */
    H1F_BAD_HEADER,          /* fatal: no colon, whitespace before colon, bad name char */
    H1F_HEAD_TOO_LARGE,      /* fatal: head exceeds limits.max_head */
    H1F_TOO_MANY_HEADERS,    /* fatal */
    H1F_BAD_CONTENT_LENGTH,  /* fatal: not digits / overflow */
    H1F_CONFLICTING_CONTENT_LENGTH, /* fatal: several different values */
    H1F_DUPLICATE_CONTENT_LENGTH,   /* tolerated: several equal values */
    H1F_TE_WITH_CONTENT_LENGTH,     /* tolerated: Transfer-Encoding wins, Content-Length ignored */
    H1F_UNSUPPORTED_TRANSFER_CODING,/* fatal: Transfer-Encoding other than chunked last */
    H1F_BAD_CHUNK_SIZE,      /* fatal */
    H1F_CHUNK_TOO_LARGE,     /* fatal: exceeds limits.max_chunk_size */
    H1F_BAD_CHUNK_END,       /* fatal: chunk data not followed by CRLF */
    H1F_BAD_TRAILER,         /* fatal */
    H1F_TRUNCATED_HEAD,      /* fatal: EOF inside the head */
    H1F_TRUNCATED_BODY,      /* fatal: EOF before Content-Length bytes / last chunk */
    H1F_BODY_ON_NO_BODY_RESPONSE, /* tolerated: bytes after a HEAD/204/304 response */
    H1F_INTERIM_WITH_BODY,   /* tolerated: 1xx with Content-Length/TE (ignored) */
    H1F_HTTP10_RESPONSE,     /* tolerated: HTTP/1.0 status line */
} http1_finding_code;

typedef struct http1_finding {
    http1_finding_code code;
    bool fatal;
    uint64_t offset;      /* absolute offset of the offending byte */
    const char *message;  /* static, human-readable: "chunk size is not hexadecimal" */
} http1_finding;

typedef struct http1_limits {
    size_t max_head;          /* bytes in status line + headers; default 256 KiB (Chromium's cap) */
    size_t max_headers;       /* header lines; default 1000 */
    uint64_t max_chunk_size;  /* default 2^62 */
} http1_limits;

typedef struct http1_callbacks {
    /* Status line of a final (>= 200) or interim (1xx) response. */
    void (*on_status)(void *ud, int version_minor, int status, const char *reason, size_t reason_len);
    void (*on_header)(void *ud, const char *name, size_t name_len, const char *value, size_t value_len);
    /* End of a head. For 1xx (other than 101) parsing goes on with the next head.
     * For 101 the parser stops in state H1_UPGRADED: later bytes belong to the new protocol. */
    void (*on_headers_done)(void *ud, int status);
    void (*on_body)(void *ud, const char *data, size_t len);
    void (*on_trailer)(void *ud, const char *name, size_t name_len, const char *value, size_t value_len);
    void (*on_message_done)(void *ud);
    void (*on_finding)(void *ud, const http1_finding *finding);
} http1_callbacks;

typedef enum http1_state {
    H1_HEAD,       /* waiting for / parsing a status line and headers */
    H1_BODY,       /* in the body */
    H1_DONE,       /* message complete; call http1_reset() for the next one on a kept-alive connection */
    H1_UPGRADED,   /* 101 received */
    H1_ERROR,      /* a fatal finding was reported */
} http1_state;

typedef enum http1_framing {
    H1_FRAMING_NONE,           /* no body (HEAD, 204, 304, 1xx) */
    H1_FRAMING_CONTENT_LENGTH,
    H1_FRAMING_CHUNKED,
    H1_FRAMING_CLOSE,          /* body ends when the connection closes */
} http1_framing;

typedef struct http1_parser {
    /* configuration */
    http1_callbacks cb;
    void *ud;
    http1_limits limits;
    bool request_was_head;
    /* state (read-only for callers) */
    http1_state state;
    http1_framing framing;
    int status;
    int version_minor;
    bool keep_alive;             /* connection may be reused after this response */
    bool has_content_length;
    uint64_t content_length;
    uint64_t body_received;      /* body bytes delivered so far (decoded from chunking) */
    uint64_t offset;             /* absolute bytes consumed on this connection */
    /* private */
    int chunk_state;
    uint64_t chunk_left;
    size_t scan_from;
} http1_parser;

void http1_limits_default(http1_limits *l);
void http1_parser_init(http1_parser *p, const http1_callbacks *cb, void *ud, bool request_was_head);
/* Prepares for the next response on the same connection (keeps cb, ud, limits, offset). */
void http1_reset(http1_parser *p, bool request_was_head);
/* Consumes bytes; returns how many were consumed. Stops early at H1_DONE, H1_UPGRADED or H1_ERROR. */
size_t http1_parse(http1_parser *p, const char *data, size_t len);
/* The server closed the connection. Ends a close-delimited body (on_message_done), or
 * reports H1F_TRUNCATED_HEAD / H1F_TRUNCATED_BODY (fatal) when a message was incomplete.
 * Returns true when the message completed cleanly. */
bool http1_eof(http1_parser *p);

/* ---- request writer ---- */

typedef struct http1_header {
    const char *name;
    const char *value;
} http1_header;

/* Appends "METHOD target HTTP/1.1\r\n" + headers + "\r\n" to out (a buf from util/buf.h).
 * Adds Content-Length when body_len > 0 or the method is POST/PUT/PATCH and no
 * Content-Length header is given. Returns 0, or -1 if a name/value holds CR, LF or NUL
 * (never written: header injection) or out's limit is hit. */
struct buf;
int http1_write_request(struct buf *out, const char *method, const char *target,
                        const http1_header *headers, size_t n_headers, size_t body_len);

#endif
