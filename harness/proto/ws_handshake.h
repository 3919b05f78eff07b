/* The WebSocket opening handshake (RFC 6455 section 4) from the browser's side: the key,
 * the request head Chromium 156 sends, and the checks Chromium applies to the server's
 * response, each failure worded like Chromium's console message.
 *
 * comet sends no Sec-WebSocket-Extensions header. Chromium offers
 * "permessage-deflate; client_max_window_bits", but comet does not implement
 * permessage-deflate (RFC 7692), so it offers nothing and treats any extension in the
 * response as the handshake failure Chromium reports for an extension it did not offer. A
 * server that compresses only when offered behaves the same for comet as for an old
 * browser without deflate; what Chromium would see of its compressed frames is not
 * modelled. */
#ifndef COMET_WS_HANDSHAKE_H
#define COMET_WS_HANDSHAKE_H

#include "util/headers.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_KEY_LEN 24    /* base64 of 16 bytes */
#define WS_ACCEPT_LEN 28 /* base64 of a SHA-1 digest */

/* What `new WebSocket(url, protocols)` puts on the wire. */
typedef struct ws_handshake_request {
    const char *host;                /* Host value: "host[:port]", default port omitted */
    const char *target;              /* request-target: "/path?query" */
    const char *origin;              /* Origin value (the page's origin); NULL = none */
    const char *const *protocols;    /* offered subprotocols, in order */
    size_t n_protocols;
    const char *user_agent;          /* NULL = BROWSER_USER_AGENT */
    const char *cookie;              /* Cookie value; NULL = none */
    const header_field *extra;       /* appended last (harness use); may be NULL */
    size_t n_extra;
} ws_handshake_request;

/* RAND_bytes() as a ws_random_fn (ws_frame.h): the production source of keys and masks. */
int ws_random_bytes(void *ud, uint8_t *out, size_t n);

/* Sec-WebSocket-Key: base64 of 16 random bytes. */
void ws_key_from_nonce(const uint8_t nonce[16], char key[WS_KEY_LEN + 1]);
/* Sec-WebSocket-Accept for a key: base64(SHA-1(key + WS_GUID)). Returns 0 or -1. */
int ws_accept_for_key(const char *key, char accept[WS_ACCEPT_LEN + 1]);

/* Appends the request head, headers in Chromium's order. Returns 0, or -1 when a value
 * holds CR, LF or NUL (never written: header injection) or out's limit is hit. */
int ws_write_handshake(struct buf *out, const ws_handshake_request *r, const char *key);

/* Whether the subprotocol list is one the WebSocket constructor accepts; when it is not,
 * why (Chromium's SyntaxError message) goes to message. */
bool ws_protocols_valid(const char *const *protocols, size_t n, char *message, size_t len);

typedef struct ws_handshake_result {
    bool ok;
    const char *protocol; /* the selected subprotocol (one of those offered), "" for none */
    /* on failure, Chromium's console text after "WebSocket connection to 'URL' failed: " */
    char message[512];
} ws_handshake_result;

/* Checks the server's response head as Chromium does, in its order: status 101, Upgrade,
 * Sec-WebSocket-Accept, Connection, Sec-WebSocket-Protocol, Sec-WebSocket-Extensions. */
void ws_check_response(int status, const header_field *headers, size_t n_headers,
                       const char *expected_accept, const char *const *protocols,
                       size_t n_protocols, ws_handshake_result *res);

#endif
