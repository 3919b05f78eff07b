/* The WebSocket API model: a pure state machine that turns network observations into
 * exactly the events a page would see, and says what the browser writes, following the
 * WHATWG WebSockets standard and, where they differ, what Chromium 156 does (its
 * net::WebSocketChannel and Blink's DOMWebSocket; ../shared/browser-truth):
 *  - a close frame from the server with code 1005, 1006 or 1015, a 1-byte payload or a
 *    reason that is not UTF-8 fails the connection (the page sees error, then close 1006,
 *    and the server gets close 1002); every other code, 999, 1004, 1016, 2999 and 5000
 *    included, is echoed and reaches the close event with wasClean true;
 *  - every failure sends close 1002 with Chromium's reason (invalid UTF-8 in a text message
 *    too, where RFC 6455 says 1007), closes TCP at once and fires error then close 1006;
 *  - after the server's close has been echoed, Chromium waits 2 s for the server to close
 *    TCP, then closes it itself and still reports wasClean true; after close() it waits
 *    60 s for the server's close frame;
 *  - after close() was called, messages and pings from the server are ignored; any frame
 *    after the server's close fails the connection.
 *
 * The model never touches a socket or a clock: callers pass the time (µs since the case
 * started) with every input and ask ws_next_timer() when to call ws_timer(). What the
 * browser writes accumulates in `out` (the handshake request, then whole frames, masked);
 * the runner writes all of it and calls ws_output_written(), then closes TCP when
 * `want_tcp_close` is set. The step is over when `closed` is set (the close event fired).
 *
 * Runner sequence: ws_init, ws_connect (writes the request head), then, on the connection,
 * ws_handshake_response with the HTTP/1.1 head (http1.h stops in H1_UPGRADED after a 101:
 * the remaining bytes go to ws_receive), ws_receive for every read, ws_tcp_closed on EOF or
 * reset, ws_fail_connect when the connection cannot be made; page script calls ws_send_text,
 * ws_send_binary, ws_close (also from the hook); harness actions ws_send_ping and
 * ws_send_raw write frames no page could.
 *
 * Trace (events the page sees are delivered to the hook, the others are only recorded):
 *   constructed   rs url                       new WebSocket() returned
 *   open          rs text=protocol detail=extensions (always "": comet offers none)
 *   message       rs type=text|binary origin len text
 *                 text: data (capped at trace->text_cap bytes, text_truncated), len in UTF-16
 *                 code units; binary: lower-case hex of the first text_cap/2 bytes, len in
 *                 bytes
 *   error         rs
 *   close         rs code reason wasClean
 *   call:close    rs code reason (the arguments given) len=bufferedAmount after the call;
 *                 type=exception name and
 *                 detail=exception message when it threw
 *   call:send     rs type=text|binary len=bufferedAmount after the call; type/detail of an
 *                 exception as for call:close (type is then the exception name)
 *   call:constructor type=SyntaxError detail  the constructor threw (bad subprotocols)
 * and comet's own, which no page sees:
 *   request       method url detail=request head
 *   frame-out     type=opcode name len [code reason] text (text payload, or hex) detail
 *                 ("raw"/"harness" for frames no browser would send)
 *   close-in      len=payload size [code] [reason] (detail when the reason is not UTF-8):
 *                 the server's close frame as it came, before any check
 *   pong-in       len text=payload in hex: a pong from the server
 *   tcp-close     detail: who closed TCP and why
 *   finding       offset code detail: a protocol violation in the server's bytes, or a close
 *                 code the registry grades (type = its grade: fail, non-strict,
 *                 informational; the detail ends with it too)
 *   console       detail: Chromium's console message
 *   final         rs text=protocol url len=bufferedAmount (ws_final) */
#ifndef COMET_WEBSOCKET_H
#define COMET_WEBSOCKET_H

#include "browser/trace.h"
#include "proto/ws_close_registry.h"
#include "proto/ws_frame.h"
#include "proto/ws_handshake.h"
#include "util/buf.h"
#include "util/headers.h"

#include <stdbool.h>
#include <stdint.h>

enum { WS_CONNECTING = 0, WS_OPEN = 1, WS_CLOSING = 2, WS_CLOSED = 3 };

#define WS_CLOSING_HANDSHAKE_TIMEOUT_US 60000000 /* kClosingHandshakeTimeoutSeconds */
#define WS_TCP_CLOSE_TIMEOUT_US 2000000          /* kUnderlyingConnectionCloseTimeoutSeconds */
#define WS_MAX_REASON_BYTES 123

typedef struct ws_model ws_model;
/* Called after every event the page sees (open, message, error, close); the handler may
 * call ws_send_text, ws_send_binary and ws_close, as page script would from a listener. */
typedef void (*ws_event_hook)(void *ud, ws_model *w, const trace_event *e);

typedef struct ws_options {
    const char *url;                   /* the serialized WebSocket URL, "ws://host[:port]/p" */
    ws_random_fn rng;                  /* keys and masks; NULL = ws_random_bytes */
    void *rng_ud;
    uint64_t max_message;              /* 0 = WS_DEFAULT_MAX_MESSAGE */
    const ws_close_registry *registry; /* grades the server's close codes; may be NULL */
    bool hash_messages;                /* keep msg_hash of every message (echo checks) */
} ws_options;

struct ws_model {
    trace *trace;
    ws_event_hook hook;
    void *ud;
    /* outputs */
    buf out;                 /* what the browser writes: write it all, then ws_output_written */
    bool want_tcp_close;     /* close TCP once `out` is written */
    bool closed;             /* the close event fired (or the constructor threw): step over */
    int ready_state;
    /* private */
    uint8_t channel;         /* Chromium's WebSocketChannel state */
    bool fail_pending;       /* close() while connecting: error and close are queued */
    int64_t fail_at;         /* ... for this time */
    bool received_close;
    uint16_t received_code;
    int64_t close_deadline;  /* -1 = none */
    int sent_close_code;     /* the code of the first close frame comet sent; -1 = none */
    uint64_t buffered;       /* bufferedAmount of messages not yet written */
    uint64_t buffered_after_close;
    char *received_reason;
    char *url;
    char *origin;            /* the WebSocket URL's origin, for message events */
    char *protocol;          /* selected subprotocol */
    char **protocols;
    size_t n_protocols;
    char accept[WS_ACCEPT_LEN + 1];
    ws_random_fn rng;
    void *rng_ud;
    const ws_close_registry *registry;
    ws_parser parser;
    int64_t now;             /* time of the input being processed */
    uint8_t msg_opcode;
    uint64_t msg_len;
    uint64_t msg_units;      /* UTF-16 code units of a text message */
    buf msg;                 /* the first text_cap bytes of the message being received */
    bool hash_messages;
    uint64_t msg_hash;       /* FNV-1a of the whole message, valid in the hook of its event */
};

void ws_init(ws_model *w, trace *t, ws_event_hook hook, void *ud, const ws_options *o);
void ws_free(ws_model *w);

/* new WebSocket(url, protocols): records "constructed" and queues the handshake request.
 * Returns 0, or -1 when the constructor throws (closed is then set) or the request cannot
 * be written (bad header values). */
int ws_connect(ws_model *w, int64_t now, const ws_handshake_request *req);
/* The response head (after any 1xx): validates it, then open, or error + close 1006. */
void ws_handshake_response(ws_model *w, int64_t now, int status, const header_field *headers,
                           size_t n_headers);
/* The connection could not be made or the handshake response was unreadable: why is the
 * console text after "WebSocket connection to 'URL' failed: ". */
void ws_fail_connect(ws_model *w, int64_t now, const char *why);
/* Bytes from the server after the 101 response head. */
void ws_receive(ws_model *w, int64_t now, const uint8_t *data, size_t len);
/* The server closed TCP: clean for EOF, false for a reset or read error. */
void ws_tcp_closed(ws_model *w, int64_t now, bool clean);

/* Page script. Text is taken as UTF-8; invalid sequences become U+FFFD, as a USVString
 * conversion would. code < 0 and reason == NULL mean "not passed". */
void ws_send_text(ws_model *w, int64_t now, const char *text, size_t len);
void ws_send_binary(ws_model *w, int64_t now, const void *data, size_t len);
void ws_close(ws_model *w, int64_t now, int code, const char *reason, size_t reason_len);

/* Harness actions, not browser API: a correct ping, or any frame at all. Both write only
 * while the connection is up (open, or closing with TCP still open); a raw close frame
 * starts a client-initiated closing handshake as close() would. Return 0, or -1 when
 * nothing was written. */
int ws_send_ping(ws_model *w, int64_t now, const void *payload, size_t len);
int ws_send_raw(ws_model *w, int64_t now, const ws_frame_spec *f);

/* The runner wrote n bytes of `out`. */
void ws_output_written(ws_model *w, size_t n);
/* When ws_timer() wants to run (closing handshake and TCP close timeouts, queued events),
 * or -1. */
int64_t ws_next_timer(const ws_model *w);
void ws_timer(ws_model *w, int64_t now);

/* Pushes "final": what the page can read when the step ends. */
void ws_final(ws_model *w, int64_t now);
/* 64-bit FNV-1a, continued from h (start with FNV1A_OFFSET). */
#define FNV1A_OFFSET 0xcbf29ce484222325ULL
uint64_t fnv1a(uint64_t h, const void *data, size_t len);
/* bufferedAmount as the page reads it. */
uint64_t ws_buffered_amount(const ws_model *w);

#endif
