/* The XMLHttpRequest model: a pure state machine that turns network observations into
 * exactly the events a page would see, following the WHATWG XMLHttpRequest standard and,
 * where they differ, what Chromium does (../shared/browser-truth):
 *  - progress events are throttled as Chromium's XMLHttpRequestProgressEventThrottle does:
 *    the first goes out at once, later ones at most every 50 ms, a deferred one is flushed
 *    at the end (after readyState became 4, so it carries readyState 4);
 *    readystatechange(3) precedes every dispatched progress event while loading;
 *  - no progress event for an empty body (the spec fires one, Chromium does not);
 *  - MIME sniffing: text/plain, application/octet-stream, XML and untyped responses without
 *    `X-Content-Type-Options: nosniff` are held back (headers too) until 1024 body bytes or
 *    the end, so a stream reaches the page in one piece;
 *  - responseText shows nothing until 3 bytes arrived (the decoder's BOM check);
 *  - Content-Encoding makes lengthComputable false and total 0; loaded counts decoded bytes.
 * The model never touches a socket or a clock: callers pass the time (µs since the case
 * started) with every input, and ask xhr_next_timer() when to call xhr_timer(). */
#ifndef COMET_XHR_H
#define COMET_XHR_H

#include "browser/text_decoder.h"
#include "browser/trace.h"
#include "util/buf.h"
#include "util/headers.h"

#include <stdbool.h>
#include <stdint.h>

enum { XHR_UNSENT = 0, XHR_OPENED = 1, XHR_HEADERS_RECEIVED = 2, XHR_LOADING = 3, XHR_DONE = 4 };

#define XHR_PROGRESS_INTERVAL_US 50000 /* Chromium's kMinimumProgressEventDispatchingInterval */
#define XHR_SNIFF_BYTES 1024           /* net::kMaxBytesToSniff */

/* What the fetch layer saw of the final response (after redirects). */
typedef struct xhr_response_head {
    int status;
    const char *reason;
    size_t reason_len;
    const header_field *headers; /* what the page may read (CORS-filtered), in order */
    size_t n_headers;
    const header_field *internal; /* every header: sniffing and decoding look at these */
    size_t n_internal;
    const char *url;           /* responseURL */
    bool content_length_known; /* Content-Length framed the body, or HEAD/304 carried one */
    uint64_t content_length;
} xhr_response_head;

typedef struct xhr_model xhr_model;
/* Called after every event the page would see (and after "abort()"); the handler may call
 * xhr_abort(), as page script would from an event listener. */
typedef void (*xhr_event_hook)(void *ud, xhr_model *x, const trace_event *e);

struct xhr_model {
    trace *trace;
    xhr_event_hook hook;
    void *ud;
    unsigned gen;              /* bumped by abort: a dispatch loop that sees it change stops */
    int state;
    bool send_flag;
    bool upload_complete;
    bool upload_listener;
    uint64_t request_body_len;
    /* response */
    bool error;                /* the response is a network error */
    int status;
    char *status_text;
    header_field *headers;
    size_t n_headers;
    char *response_url;
    bool length_computable;
    uint64_t total;
    uint64_t loaded;
    bool sniffing;             /* holding headers and body for MIME sniffing */
    buf held;
    text_decoder decoder;
    buf text;                  /* responseText, UTF-8 */
    /* progress throttle */
    bool throttle_active;
    int64_t throttle_deadline;
    bool deferred;
    uint64_t deferred_loaded;
    bool dispatched_progress;
};

void xhr_init(xhr_model *x, trace *t, xhr_event_hook hook, void *ud, size_t max_response_text);
void xhr_free(xhr_model *x);

void xhr_open(xhr_model *x, int64_t now);
/* send(): body_len is the request body's length (0 with no body; GET/HEAD bodies are
 * dropped by the caller). */
void xhr_send(xhr_model *x, int64_t now, bool has_body, uint64_t body_len, bool upload_listener);
/* The request body has been transmitted (or the response started first). */
void xhr_upload_done(xhr_model *x, int64_t now);
void xhr_headers(xhr_model *x, int64_t now, const xhr_response_head *h);
/* Body bytes after transfer- and content-decoding. */
void xhr_body(xhr_model *x, int64_t now, const char *data, size_t len);
void xhr_end(xhr_model *x, int64_t now);
/* Request error steps: ev is "error" or "timeout"; detail says why (kept in the trace as a
 * "network-error" event, which no page sees). */
void xhr_fail(xhr_model *x, int64_t now, const char *ev, const char *detail);
void xhr_abort(xhr_model *x, int64_t now);
/* Throttle timer: the time xhr_timer() wants to run, or -1. */
int64_t xhr_next_timer(const xhr_model *x);
void xhr_timer(xhr_model *x, int64_t now);

/* getAllResponseHeaders() as the spec formats it: names lower-cased and sorted, values of
 * repeated names joined with ", ", Set-Cookie hidden, "name: value\r\n" each. */
void xhr_all_headers(const xhr_model *x, buf *out);
/* responseText length in UTF-16 code units. */
uint64_t xhr_text_length(const xhr_model *x);

/* Whether a response with this Content-Type / X-Content-Type-Options is MIME-sniffed. */
bool xhr_is_sniffed(const char *content_type, const char *nosniff);

#endif
