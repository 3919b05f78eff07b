/* The EventSource model: a pure state machine that turns what the network delivered into the
 * events a page's EventSource would see, following the HTML standard's processing model and,
 * where they differ, what Chromium does (../shared/browser-truth, blink's event_source.cc):
 *  - readyState CONNECTING (0) until a 200 response with MIME type text/event-stream, then
 *    "open" and OPEN (1); close() or a failed connection make it CLOSED (2) for good.
 *  - "Fail the connection" (error event, readyState 2, no reconnection): any status but 200,
 *    another MIME type, a charset parameter other than utf-8 (Chromium; the spec ignores
 *    charset), or a failed CORS check (es_fail()).
 *  - "Reestablish the connection" (readyState 0, error event, a new request after the
 *    reconnection time): the end of the stream, a network error before or after the response.
 *    The reconnection time is 3000 ms (Chromium's kDefaultReconnectDelay) until a retry field
 *    sets it; an empty retry field resets it to 3000 ms (Chromium).
 *  - The stream is always decoded as UTF-8; the last event ID string survives reconnections
 *    and seeds the new stream's last event ID buffer (Chromium; the spec empties the buffer),
 *    and goes out as Last-Event-ID when not empty.
 * The model never touches a socket or a clock: callers pass the time (µs since the case
 * started) with every input, and ask es_next_timer() when to call es_timer().
 *
 * Trace events (trace.h), page-visible ones delivered to the hook:
 *   open                      rs
 *   message, or the type      rs text (data, capped at trace->text_cap) len (data length in
 *                             UTF-16 units) lastEventId origin type. For a type other than
 *                             "message", ev points at the event's own `type` string (freed
 *                             with the event: copy it to keep it longer). Only MessageEvents
 *                             carry `type`, so a server's "event: error" stays recognisable.
 *   error                     rs (0: reconnecting, 2: failed)
 * and comet's own:
 *   close()                   rs: the state after the page's close() returned
 *   reconnect                 rs, detail = the reconnection delay in ms ("3000"), right after
 *                             the error event that starts the wait
 *   comment                   text: a comment line (the text after ':'), e.g. a heartbeat
 *   console                   detail: Chromium's console message (bad MIME type or charset)
 *   network-error             detail: why the request failed (es_network_error / es_fail)
 *   finding                   offset detail: a comet limit hit in the stream (line, data)
 */
#ifndef COMET_EVENTSOURCE_H
#define COMET_EVENTSOURCE_H

#include "browser/trace.h"
#include "proto/sse_parser.h"
#include "util/buf.h"
#include "util/headers.h"

#include <stdbool.h>
#include <stdint.h>

enum { ES_CONNECTING = 0, ES_OPEN = 1, ES_CLOSED = 2 };

#define ES_DEFAULT_RECONNECT_MS SSE_CHROMIUM_DEFAULT_RETRY_MS

typedef struct es_model es_model;
/* Called after every event the page would see; the handler may call es_close(), as page
 * script would from a listener (then the rest of the stream is ignored). */
typedef void (*es_event_hook)(void *ud, es_model *m, const trace_event *e);

/* Must not move after es_init (the parser points back at it). */
struct es_model {
    trace *trace;
    es_event_hook hook;
    void *ud;
    sse_parser parser;     /* the stream; keeps the last event ID string */
    char *origin;          /* the event stream's origin: of the final URL of the response */
    int64_t timer_at;      /* when the reconnection wait ends; -1 when not waiting */
    int64_t now;           /* time of the input being processed */
    uint64_t reconnect_ms; /* the reconnection time */
    unsigned gen;          /* bumped by close(): a dispatch loop that sees it change stops */
    uint8_t phase;         /* internal: idle, requesting, streaming, waiting, closed */
    bool in_feed;
};

void es_init(es_model *m, trace *t, es_event_hook hook, void *ud);
void es_free(es_model *m);

/* new EventSource(url): true when the runner must open the request now. */
bool es_start(es_model *m, int64_t now);
/* The response head after redirects: status, the Content-Type value (NULL when absent) and
 * the origin of the final URL ("http://127.0.0.1:18080"). Returns true when the body should
 * be fed through es_body(); false when the runner must drop the request (the connection
 * failed, or a listener closed the EventSource). Reconnections go to the same final URL. */
bool es_response(es_model *m, int64_t now, int status, const char *content_type,
                 const char *origin);
/* Body bytes after transfer- and content-decoding. */
void es_body(es_model *m, int64_t now, const char *data, size_t len);
/* The response body ended (cleanly or not: a truncated body is a network error first). */
void es_end(es_model *m, int64_t now);
/* The fetch failed (refused, reset, bad framing, ...): the connection is reestablished. */
void es_network_error(es_model *m, int64_t now, const char *detail);
/* The fetch failed in a way that fails the connection: a CORS or redirect check. */
void es_fail(es_model *m, int64_t now, const char *detail);
/* close(): no more events; the runner drops any request in flight. */
void es_close(es_model *m, int64_t now);
/* Reconnection timer: the time es_timer() wants to run, or -1. */
int64_t es_next_timer(const es_model *m);
/* True when the wait is over and the runner must open a new request now. */
bool es_timer(es_model *m, int64_t now);

int es_ready_state(const es_model *m);
/* Whether a request should be in flight (after es_start/es_timer said so, until it ends). */
bool es_request_active(const es_model *m);
/* The headers EventSource adds to each request, in Chromium's relative order: Pragma and
 * Cache-Control (no-cache; the fetch is no-store), Accept: text/event-stream, and
 * Last-Event-ID when the last event ID string is not empty. On the wire Chromium puts them:
 * Host, Connection, Pragma, Cache-Control, sec-ch-ua-platform, User-Agent, Accept, sec-ch-ua,
 * sec-ch-ua-mobile, Last-Event-ID, Sec-Fetch-Site, Sec-Fetch-Mode, Sec-Fetch-Dest, Referer,
 * Accept-Encoding, Accept-Language, Cookie. Returns -1 when memory runs out. */
int es_request_headers(const es_model *m, header_list *out);
/* Chromium's check of the response: status 200, MIME type text/event-stream (the type before
 * any parameter, compared case-insensitively) and no charset but utf-8. When it fails and
 * Chromium prints a console message, the message is appended to console (may be NULL). */
bool es_response_ok(int status, const char *content_type, buf *console);

#endif
