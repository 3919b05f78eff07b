/* HTTP/1.1 request head parser (RFC 9112) for the server side, sans-I/O, no allocation.
 *
 * The caller accumulates bytes and calls http1_request_parse() on all of them; the parser
 * finds the end of the head (resuming its search from *scan_from, which the caller keeps
 * between calls and resets to 0 for the next request) and then parses the whole head in
 * one pass. The result points into the caller's bytes: valid while they are. The body
 * (Content-Length bytes after head_len) is the caller's business.
 */
#ifndef COMET_HTTP1_REQUEST_H
#define COMET_HTTP1_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP1_REQ_MAX_HEADERS 128

typedef enum http1_req_status {
    H1R_OK = 0,
    H1R_INCOMPLETE,            /* no end of head yet: feed more */
    H1R_HEAD_TOO_LARGE,        /* 431 */
    H1R_TOO_MANY_HEADERS,      /* 431 */
    H1R_BAD_REQUEST_LINE,      /* 400 */
    H1R_BAD_VERSION,           /* 505 */
    H1R_BAD_HEADER,            /* 400: bad name, whitespace before colon, obs-fold, CTL */
    H1R_BAD_CONTENT_LENGTH,    /* 400: not digits, overflow, conflicting values */
    H1R_BAD_TRANSFER_ENCODING, /* 400: not ending in chunked, or together with Content-Length */
} http1_req_status;

typedef struct http1_req_header {
    const char *name;
    size_t name_len;
    const char *value; /* without surrounding whitespace */
    size_t value_len;
} http1_req_header;

typedef struct http1_request {
    const char *method;
    size_t method_len;
    const char *target;
    size_t target_len;
    int version_minor; /* HTTP/1.x */
    size_t n_headers;
    http1_req_header headers[HTTP1_REQ_MAX_HEADERS];
    size_t head_len; /* bytes up to and including the empty line */
    bool has_content_length;
    uint64_t content_length;
    bool chunked;         /* Transfer-Encoding: ..., chunked */
    bool keep_alive;      /* per version and Connection */
    bool expect_continue; /* Expect: 100-continue */
    const char *error;    /* static text when the status is an error */
} http1_request;

/* Parses the head at the start of data. max_head bounds the head (0 = 64 KiB). */
http1_req_status http1_request_parse(http1_request *r, const char *data, size_t len,
                                     size_t max_head, size_t *scan_from);
/* The HTTP status a server answers an error with (400, 431, 505). */
int http1_req_status_code(http1_req_status s);
/* Case-insensitive lookup of the first header with that name; NULL when absent. */
const http1_req_header *http1_request_header(const http1_request *r, const char *name);

#endif
