#include "browser/websocket.h"

#include "browser/text_decoder.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Chromium's net::WebSocketChannel states (RECV_CLOSED is transient there). */
enum { CH_CONNECTING, CH_CONNECTED, CH_SEND_CLOSED, CH_CLOSE_WAIT, CH_CLOSED };

static void on_frame_header(void *ud, const ws_frame_info *f);
static void on_message_start(void *ud, int opcode);
static void on_message_data(void *ud, const uint8_t *data, size_t len);
static void on_message_end(void *ud);
static void on_control(void *ud, int opcode, const uint8_t *payload, size_t len);
static void on_error(void *ud, const ws_error *e);

/* The origin of a serialized WebSocket URL: everything before its path. */
static char *origin_of(const char *url)
{
    const char *p = strstr(url, "://");
    size_t n = p ? (size_t)(p + 3 - url) + strcspn(p + 3, "/?#") : strlen(url);
    return strndup(url, n);
}

void ws_init(ws_model *w, trace *t, ws_event_hook hook, void *ud, const ws_options *o)
{
    memset(w, 0, sizeof *w);
    w->trace = t;
    w->hook = hook;
    w->ud = ud;
    w->url = strdup(o->url ? o->url : "");
    w->origin = origin_of(w->url ? w->url : "");
    w->rng = o->rng ? o->rng : ws_random_bytes;
    w->rng_ud = o->rng_ud;
    w->registry = o->registry;
    w->close_deadline = -1;
    w->sent_close_code = -1;
    w->ready_state = WS_CONNECTING;
    w->channel = CH_CONNECTING;
    static const ws_parser_callbacks cb = {
        .on_frame_header = on_frame_header, .on_message_start = on_message_start,
        .on_message_data = on_message_data, .on_message_end = on_message_end,
        .on_control = on_control, .on_error = on_error,
    };
    ws_parser_init(&w->parser, WS_ROLE_CLIENT, &cb, w);
    if (o->max_message)
        w->parser.max_message = o->max_message;
    w->hash_messages = o->hash_messages;
}

void ws_free(ws_model *w)
{
    buf_free(&w->out);
    buf_free(&w->msg);
    free(w->received_reason);
    free(w->url);
    free(w->origin);
    free(w->protocol);
    for (size_t i = 0; i < w->n_protocols; i++)
        free(w->protocols[i]);
    free(w->protocols);
    memset(w, 0, sizeof *w);
}

uint64_t ws_buffered_amount(const ws_model *w)
{
    return w->buffered + w->buffered_after_close;
}

/* ---- trace ------------------------------------------------------------------------------- */

static trace_event *push(ws_model *w, const char *ev)
{
    return trace_push(w->trace, w->now, ev);
}

/* Hands an event the page sees to page script. */
static void deliver(ws_model *w, trace_event *e)
{
    if (e && w->hook)
        w->hook(w->ud, w, e);
}

static void note(ws_model *w, const char *ev, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void note(ws_model *w, const char *ev, const char *fmt, ...)
{
    trace_event *e = push(w, ev);
    if (!e)
        return;
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    trace_set_cstr(e, &e->detail, TF_DETAIL, text);
}

static void console_failed(ws_model *w, const char *why)
{
    note(w, "console", "WebSocket connection to '%s' failed: %s", w->url, why);
}

static trace_event *finding(ws_model *w, uint64_t offset, unsigned code, const char *detail)
{
    trace_event *e = push(w, "finding");
    if (!e)
        return NULL;
    e->fields |= TF_OFFSET | TF_CODE;
    e->offset = offset;
    e->code = (int)code;
    trace_set_cstr(e, &e->detail, TF_DETAIL, detail);
    return e;
}

static void set_hex(trace_event *e, const uint8_t *p, size_t n, size_t cap)
{
    static const char digits[] = "0123456789abcdef";
    size_t k = n < cap ? n : cap;
    char *hex = malloc(2 * k + 1);
    if (!hex)
        return;
    for (size_t i = 0; i < k; i++) {
        hex[2 * i] = digits[p[i] >> 4];
        hex[2 * i + 1] = digits[p[i] & 15];
    }
    trace_set_str(e, &e->text, TF_TEXT, hex, 2 * k);
    e->text_truncated = k < n;
    free(hex);
}

/* Bytes of a valid UTF-8 text to keep under a cap of `cap` bytes without cutting a
 * character; s holds at least cap + 1 bytes when len > cap. */
static size_t utf8_cut(const char *s, size_t len, size_t cap)
{
    if (len <= cap)
        return len;
    size_t k = cap;
    while (k && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    return k;
}

static void frame_out(ws_model *w, unsigned opcode, const uint8_t *p, size_t n,
                      const char *detail)
{
    trace_event *e = push(w, "frame-out");
    if (!e)
        return;
    e->fields |= TF_LEN;
    e->len = n;
    trace_set_cstr(e, &e->type, TF_TYPE, ws_opcode_name(opcode));
    size_t cap = w->trace->text_cap;
    if (opcode == WS_OP_CLOSE && n >= 2) {
        e->fields |= TF_CODE;
        e->code = p[0] << 8 | p[1];
        trace_set_str(e, &e->reason, TF_REASON, (const char *)p + 2, n - 2);
    } else if (opcode == WS_OP_TEXT && ws_utf8_valid(p, n, NULL)) {
        size_t k = utf8_cut((const char *)p, n, cap);
        trace_set_str(e, &e->text, TF_TEXT, (const char *)p, k);
        e->text_truncated = k < n;
    } else {
        set_hex(e, p, n, cap / 2);
    }
    if (detail)
        trace_set_cstr(e, &e->detail, TF_DETAIL, detail);
}

/* ---- page events ---------------------------------------------------------------------- */

static void fire_error(ws_model *w)
{
    w->ready_state = WS_CLOSED;
    trace_event *e = push(w, "error");
    if (e) {
        e->fields |= TF_RS;
        e->rs = WS_CLOSED;
    }
    deliver(w, e);
}

static void fire_close(ws_model *w, unsigned code, const char *reason, bool clean)
{
    w->ready_state = WS_CLOSED;
    w->channel = CH_CLOSED;
    w->closed = true;
    w->close_deadline = -1;
    w->fail_pending = false;
    ws_parser_stop(&w->parser);
    trace_event *e = push(w, "close");
    if (e) {
        e->fields |= TF_RS | TF_CODE | TF_WAS_CLEAN;
        e->rs = WS_CLOSED;
        e->code = (int)code;
        e->was_clean = clean;
        trace_set_cstr(e, &e->reason, TF_REASON, reason);
    }
    deliver(w, e);
}

/* ---- what the browser writes ------------------------------------------------------------ */

static int write_frame(ws_model *w, unsigned opcode, const void *p, size_t n)
{
    if (ws_write_client_frame(&w->out, w->rng, w->rng_ud, true, opcode, p, n) < 0)
        return -1;
    frame_out(w, opcode, p, n, NULL);
    return 0;
}

/* Chromium's SendClose: code < 0 (its 1005) is an empty payload. */
static void send_close_frame(ws_model *w, int code, const char *reason, size_t len)
{
    uint8_t payload[WS_MAX_CONTROL_PAYLOAD];
    if (code >= 0 && w->sent_close_code < 0)
        w->sent_close_code = code;
    int n = ws_close_payload(payload, code, reason, len);
    if (n < 0)
        n = ws_close_payload(payload, code, NULL, 0);
    write_frame(w, WS_OP_CLOSE, payload, (size_t)n);
}

static void close_tcp(ws_model *w, const char *why)
{
    w->want_tcp_close = true;
    note(w, "tcp-close", "the browser closes the connection: %s", why);
}

/* Chromium's WebSocketChannel::FailChannel, then Blink's error and close events: a close
 * frame only while connected, TCP closed at once without waiting for the server. */
static void fail_channel(ws_model *w, const char *console, uint16_t code, const char *reason)
{
    if (w->channel == CH_CONNECTED)
        send_close_frame(w, code, reason, strlen(reason));
    ws_parser_stop(&w->parser);
    w->channel = CH_CLOSED;
    close_tcp(w, "the connection failed");
    console_failed(w, console);
    fire_error(w);
    fire_close(w, WS_CLOSE_ABNORMAL, "", false);
}

static void fail_connect(ws_model *w, const char *why)
{
    w->channel = CH_CLOSED;
    close_tcp(w, "the opening handshake failed");
    console_failed(w, why);
    fire_error(w);
    fire_close(w, WS_CLOSE_ABNORMAL, "", false);
}

/* ---- opening handshake ----------------------------------------------------------------- */

static void copy_protocols(ws_model *w, const ws_handshake_request *req)
{
    w->protocols = calloc(req->n_protocols ? req->n_protocols : 1, sizeof *w->protocols);
    if (!w->protocols)
        return;
    for (size_t i = 0; i < req->n_protocols; i++) {
        w->protocols[i] = strdup(req->protocols[i]);
        if (!w->protocols[i])
            return;
        w->n_protocols = i + 1;
    }
}

int ws_connect(ws_model *w, int64_t now, const ws_handshake_request *req)
{
    w->now = now;
    char message[512];
    if (!ws_protocols_valid(req->protocols, req->n_protocols, message, sizeof message)) {
        trace_event *e = push(w, "call:constructor");
        if (e) {
            trace_set_cstr(e, &e->type, TF_TYPE, "SyntaxError");
            trace_set_cstr(e, &e->detail, TF_DETAIL, message);
        }
        w->channel = CH_CLOSED;
        w->closed = true;
        return -1;
    }
    copy_protocols(w, req);
    uint8_t nonce[16];
    char key[WS_KEY_LEN + 1];
    size_t start = w->out.len;
    if (w->n_protocols != req->n_protocols || w->rng(w->rng_ud, nonce, sizeof nonce) < 0)
        return -1;
    ws_key_from_nonce(nonce, key);
    if (ws_accept_for_key(key, w->accept) < 0 || ws_write_handshake(&w->out, req, key) < 0)
        return -1;
    trace_event *e = push(w, "constructed");
    if (e) {
        e->fields |= TF_RS;
        e->rs = WS_CONNECTING;
        trace_set_cstr(e, &e->url, TF_URL, w->url);
    }
    e = push(w, "request");
    if (e) {
        trace_set_cstr(e, &e->method, TF_METHOD, "GET");
        trace_set_cstr(e, &e->url, TF_URL, w->url);
        trace_set_str(e, &e->detail, TF_DETAIL, w->out.data + start, w->out.len - start);
    }
    return 0;
}

void ws_handshake_response(ws_model *w, int64_t now, int status, const header_field *headers,
                           size_t n_headers)
{
    w->now = now;
    if (w->channel != CH_CONNECTING)
        return;
    ws_handshake_result res;
    ws_check_response(status, headers, n_headers, w->accept, (const char *const *)w->protocols,
                      w->n_protocols, &res);
    if (!res.ok) {
        fail_connect(w, res.message);
        return;
    }
    w->protocol = strdup(res.protocol);
    w->channel = CH_CONNECTED;
    w->ready_state = WS_OPEN;
    trace_event *e = push(w, "open");
    if (e) {
        e->fields |= TF_RS;
        e->rs = WS_OPEN;
        trace_set_cstr(e, &e->text, TF_TEXT, res.protocol);
        trace_set_cstr(e, &e->detail, TF_DETAIL, ""); /* extensions: comet offers none */
    }
    deliver(w, e);
}

void ws_fail_connect(ws_model *w, int64_t now, const char *why)
{
    w->now = now;
    if (w->channel == CH_CONNECTING)
        fail_connect(w, why);
    else if (!w->closed)
        ws_tcp_closed(w, now, false);
}

/* ---- frames from the server ------------------------------------------------------------ */

static uint64_t utf16_units(const uint8_t *p, size_t n)
{
    uint64_t units = 0;
    for (size_t i = 0; i < n; i++)
        units += ((p[i] & 0xC0) != 0x80) + (p[i] >= 0xF0); /* astral: a surrogate pair */
    return units;
}

static void on_frame_header(void *ud, const ws_frame_info *f)
{
    ws_model *w = ud;
    if (w->channel != CH_CLOSE_WAIT)
        return;
    /* Chromium fails on any frame after the closing handshake, whatever its opcode */
    static const char *const names[16] = {
        "Data frame", "Data frame", "Data frame", "Unknown frame type", "Unknown frame type",
        "Unknown frame type", "Unknown frame type", "Unknown frame type", "Close", "Ping",
        "Pong", "Unknown frame type", "Unknown frame type", "Unknown frame type",
        "Unknown frame type", "Unknown frame type",
    };
    char console[64];
    snprintf(console, sizeof console, "%s received after close", names[f->opcode & 15]);
    finding(w, f->offset, WS_CLOSE_PROTOCOL_ERROR, "frame after the server's close frame");
    fail_channel(w, console, WS_CLOSE_PROTOCOL_ERROR, "");
}

static void on_message_start(void *ud, int opcode)
{
    ws_model *w = ud;
    w->msg_opcode = (uint8_t)opcode;
    w->msg_len = w->msg_units = 0;
    w->msg_hash = FNV1A_OFFSET;
    buf_reset(&w->msg);
}

uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

static void on_message_data(void *ud, const uint8_t *data, size_t len)
{
    ws_model *w = ud;
    bool text = w->msg_opcode == WS_OP_TEXT;
    /* text keeps a few bytes past the cap to cut at a character boundary */
    size_t keep = text ? w->trace->text_cap + 4 : w->trace->text_cap / 2;
    w->msg_len += len;
    if (w->hash_messages)
        w->msg_hash = fnv1a(w->msg_hash, data, len);
    if (text)
        w->msg_units += utf16_units(data, len);
    if (w->msg.len < keep)
        buf_append(&w->msg, data, len < keep - w->msg.len ? len : keep - w->msg.len);
}

static void on_message_end(void *ud)
{
    ws_model *w = ud;
    trace_event *e = push(w, "message");
    if (e) {
        bool text = w->msg_opcode == WS_OP_TEXT;
        const char *data = w->msg.data ? w->msg.data : "";
        e->fields |= TF_RS | TF_LEN;
        e->rs = w->ready_state;
        e->len = text ? w->msg_units : w->msg_len;
        trace_set_cstr(e, &e->type, TF_TYPE, text ? "text" : "binary");
        trace_set_cstr(e, &e->origin, TF_ORIGIN, w->origin);
        if (text) {
            size_t k = utf8_cut(data, w->msg.len, w->trace->text_cap);
            trace_set_str(e, &e->text, TF_TEXT, data, k);
            e->text_truncated = k < w->msg_len;
        } else {
            set_hex(e, (const uint8_t *)data, w->msg.len, w->msg.len);
            e->text_truncated = w->msg.len < w->msg_len;
        }
    }
    buf_free(&w->msg); /* nothing held between messages: many connections, little memory */
    deliver(w, e);
}

static void grade_close_code(ws_model *w, uint64_t at, unsigned code)
{
    if (!w->registry)
        return;
    const ws_close_entry *entry;
    /* echoing the code the client sent is what RFC 6455 5.5.1 asks, whatever its role */
    bool echo = w->sent_close_code >= 0 && (unsigned)w->sent_close_code == code;
    ws_close_grade g = ws_close_grade_code(w->registry, code, !echo, &entry);
    if (g == WS_GRADE_PASS || !entry)
        return;
    char detail[256];
    snprintf(detail, sizeof detail, "close code %u (%s) %s%s%s [%s]", code, entry->name,
             entry->valid_on_wire ? "is not for servers to send" : "is not valid on the wire",
             entry->note ? ": " : "", entry->note ? entry->note : "", ws_close_grade_name(g));
    trace_event *e = finding(w, at, code, detail);
    if (e) /* the grade itself, for the runner's verdict */
        trace_set_cstr(e, &e->type, TF_TYPE, ws_close_grade_name(g));
}

/* The closing handshake's close frame from the server, once Chromium accepted it. */
static void server_close(ws_model *w, const ws_close_info *ci)
{
    free(w->received_reason);
    w->received_reason = strndup(ci->reason ? (const char *)ci->reason : "", ci->reason_len);
    w->received_close = true;
    w->received_code = ci->has_code ? ci->code : WS_CLOSE_NO_STATUS;
    if (w->channel == CH_CONNECTED) {
        /* echo code and reason; no code, no payload */
        send_close_frame(w, ci->has_code ? ci->code : -1, (const char *)ci->reason,
                         ci->reason_len);
        w->ready_state = WS_CLOSING;
    }
    w->channel = CH_CLOSE_WAIT;
    w->close_deadline = w->now + WS_TCP_CLOSE_TIMEOUT_US;
}

/* Chromium's ParseClose, in its order: size, reserved codes, UTF-8. */
/* The server's close frame as it came: what a grader compares with the expected code. */
static void record_close_frame(ws_model *w, const uint8_t *p, size_t n)
{
    trace_event *e = push(w, "close-in");
    if (!e)
        return;
    e->fields |= TF_LEN;
    e->len = n;
    if (n < 2)
        return;
    e->fields |= TF_CODE;
    e->code = p[0] << 8 | p[1];
    if (ws_utf8_valid(p + 2, n - 2, NULL))
        trace_set_str(e, &e->reason, TF_REASON, (const char *)p + 2, n - 2);
    else
        trace_set_cstr(e, &e->detail, TF_DETAIL, "the reason is not UTF-8");
}

static void close_frame(ws_model *w, const uint8_t *p, size_t n)
{
    uint64_t at = w->parser.offset - n;
    record_close_frame(w, p, n);
    ws_close_info ci;
    ws_error err;
    int rc = ws_parse_close(p, n, &ci, &err);
    if (rc < 0 && err.kind == WS_ERR_CLOSE_ONE_BYTE) {
        finding(w, at, err.code, err.message);
        fail_channel(w, "Received a broken close frame with an invalid size of 1 byte.",
                     WS_CLOSE_PROTOCOL_ERROR, "");
        return;
    }
    if (ci.has_code && (ci.code == WS_CLOSE_NO_STATUS || ci.code == WS_CLOSE_ABNORMAL ||
                        ci.code == WS_CLOSE_TLS_HANDSHAKE)) {
        finding(w, at, ci.code, "close code reserved for the API, never sent (RFC 6455 7.4.1)");
        fail_channel(w, "Received a broken close frame containing a reserved status code.",
                     WS_CLOSE_PROTOCOL_ERROR, "");
        return;
    }
    if (rc < 0) { /* 1002 like every Chromium failure; RFC 6455 would say 1007 */
        finding(w, at + err.offset, err.code, err.message);
        fail_channel(w, "Received a broken close frame containing invalid UTF-8.",
                     WS_CLOSE_PROTOCOL_ERROR, "Invalid UTF-8 in Close frame");
        return;
    }
    /* every other code is echoed and reaches the close event: Chromium over RFC 6455 7.4,
     * which would fail the connection for 0-999, 1004, 1016-2999 and 5000+ */
    if (ci.has_code)
        grade_close_code(w, at, ci.code);
    server_close(w, &ci);
}

static void on_control(void *ud, int opcode, const uint8_t *payload, size_t len)
{
    ws_model *w = ud;
    if (opcode == WS_OP_PONG) { /* comet's own record: pongs answer the harness's pings */
        trace_event *e = push(w, "pong-in");
        if (e) {
            e->fields |= TF_LEN;
            e->len = len;
            set_hex(e, payload, len, len);
        }
    }
    if (opcode == WS_OP_CLOSE)
        close_frame(w, payload, len);
    else if (opcode == WS_OP_PING && w->channel == CH_CONNECTED)
        /* after close() pings go unanswered: Chromium over RFC 6455 5.5.2, which wants a
         * pong until the peer's close frame arrived */
        write_frame(w, WS_OP_PONG, payload, len);
}

/* Chromium's console message and close reason for a parser error. */
static const char *chromium_failure(const ws_error *e, char *tmp, size_t n, const char **reason)
{
    switch (e->kind) {
    case WS_ERR_MASKED:
        *reason = "Masked frame from server";
        return "A server must not mask any frames that it sends to the client.";
    case WS_ERR_RSV:
        *reason = "Invalid reserved bit";
        snprintf(tmp, n,
                 "One or more reserved bits are on: reserved1 = %d, reserved2 = %d, "
                 "reserved3 = %d", e->rsv >> 2 & 1, e->rsv >> 1 & 1, e->rsv & 1);
        return tmp;
    case WS_ERR_RESERVED_OPCODE:
        *reason = "Unknown opcode";
        snprintf(tmp, n, "Unrecognized frame opcode: %d", e->opcode);
        return tmp;
    case WS_ERR_UNEXPECTED_CONTINUATION:
        *reason = "Unexpected continuation";
        return "Received unexpected continuation frame.";
    case WS_ERR_UNFINISHED_MESSAGE:
        *reason = "Previous data frame unfinished";
        return "Received start of new message but previous message is unfinished.";
    case WS_ERR_INVALID_UTF8:
        /* Chromium sends 1002 here (kWebSocketErrorProtocolError); RFC 6455 says 1007 */
        *reason = "Invalid UTF-8 in text frame";
        return "Could not decode a text frame as UTF-8.";
    default: /* length encoding, control frame FIN or size: WebSocketFrameParser errors */
        *reason = "WebSocket Protocol Error";
        return "Invalid frame header";
    }
}

static void on_error(void *ud, const ws_error *e)
{
    ws_model *w = ud;
    char detail[160];
    if (e->kind == WS_ERR_RESERVED_OPCODE || e->kind == WS_ERR_RSV)
        snprintf(detail, sizeof detail, "%s (opcode %u, RSV %u%u%u)", e->message, e->opcode,
                 e->rsv >> 2 & 1, e->rsv >> 1 & 1, e->rsv & 1);
    else
        snprintf(detail, sizeof detail, "%s", e->message);
    finding(w, e->offset, e->code, detail);
    if (e->kind == WS_ERR_TOO_BIG) {
        /* comet's own limit; Chromium's is 2^31-1 bytes per frame, past which it drops the
         * connection (ERR_MSG_TOO_BIG): no close frame, no error event, close 1006 */
        ws_parser_stop(&w->parser);
        w->channel = CH_CLOSED;
        close_tcp(w, "a message exceeded comet's size limit");
        fire_close(w, WS_CLOSE_ABNORMAL, "", false);
        return;
    }
    char tmp[128];
    const char *reason = "";
    const char *console = chromium_failure(e, tmp, sizeof tmp, &reason);
    fail_channel(w, console, WS_CLOSE_PROTOCOL_ERROR, reason);
}

void ws_receive(ws_model *w, int64_t now, const uint8_t *data, size_t len)
{
    w->now = now;
    if (w->channel == CH_CONNECTING || w->channel == CH_CLOSED)
        return;
    ws_parse(&w->parser, data, len);
}

void ws_tcp_closed(ws_model *w, int64_t now, bool clean)
{
    w->now = now;
    if (w->closed)
        return;
    note(w, "tcp-close", "%s", clean ? "the server closed the connection" :
                                       "the connection was reset or failed");
    switch (w->channel) {
    case CH_CONNECTING:
        fail_connect(w, "Connection closed before receiving a handshake response");
        break;
    case CH_CLOSE_WAIT:
        /* the closing handshake completed: the server's code, clean unless reset (the code
         * stays the server's on a reset, as in Chromium's OnReadDone) */
        fire_close(w, w->received_code, w->received_reason ? w->received_reason : "", clean);
        break;
    case CH_CONNECTED:
    case CH_SEND_CLOSED:
        /* no close frame: 1006, and no error event (Chromium's DoDropChannel) */
        fire_close(w, WS_CLOSE_ABNORMAL, "", false);
        break;
    default:
        break;
    }
}

/* ---- page script --------------------------------------------------------------------- */

/* A USVString from the harness's bytes: invalid UTF-8 becomes U+FFFD. */
static void usv_string(const char *s, size_t n, buf *out)
{
    text_decoder d;
    text_decoder_init(&d, ENC_UTF8, false);
    text_decoder_feed(&d, s ? s : "", n, out);
    text_decoder_finish(&d, out);
}

static void set_exception(trace_event *e, const char *name, const char *message)
{
    if (!e)
        return;
    trace_set_cstr(e, &e->type, TF_TYPE, name);
    trace_set_cstr(e, &e->detail, TF_DETAIL, message);
}

static void send_message(ws_model *w, int64_t now, unsigned opcode, const uint8_t *p, size_t n)
{
    w->now = now;
    const char *exception = NULL;
    if (w->ready_state == WS_CONNECTING) {
        exception = "Failed to execute 'send' on 'WebSocket': Still in CONNECTING state.";
    } else if (w->ready_state != WS_OPEN) {
        /* no exception once the connection was established, but nothing is sent */
        w->buffered_after_close += n;
        note(w, "console", "WebSocket is already in CLOSING or CLOSED state.");
    } else if (write_frame(w, opcode, p, n) == 0) {
        w->buffered += n;
    }
    trace_event *e = push(w, "call:send");
    if (!e)
        return;
    e->fields |= TF_RS | TF_LEN;
    e->rs = w->ready_state;
    e->len = ws_buffered_amount(w);
    if (exception)
        set_exception(e, "InvalidStateError", exception);
    else
        trace_set_cstr(e, &e->type, TF_TYPE, opcode == WS_OP_TEXT ? "text" : "binary");
}

void ws_send_text(ws_model *w, int64_t now, const char *text, size_t len)
{
    buf s = {0};
    usv_string(text, len, &s);
    send_message(w, now, WS_OP_TEXT, (const uint8_t *)(s.data ? s.data : ""), s.len);
    buf_free(&s);
}

void ws_send_binary(ws_model *w, int64_t now, const void *data, size_t len)
{
    send_message(w, now, WS_OP_BINARY, data, len);
}

/* What Chromium's StartClosingHandshake sends for what Blink passes on. */
static void start_closing_handshake(ws_model *w, int code, const char *reason, size_t len)
{
    /* no code: Blink passes 1005, sent as an empty payload whatever the reason (Chromium
     * over the spec, which would send 1000 with the reason); a reason Javascript did not
     * limit (no code given) over 123 bytes makes the network service send 1011 instead */
    if (code < 0 && len > WS_MAX_REASON_BYTES)
        send_close_frame(w, WS_CLOSE_INTERNAL_ERROR, "", 0);
    else
        send_close_frame(w, code, reason, code < 0 ? 0 : len);
    w->channel = CH_SEND_CLOSED;
    w->ready_state = WS_CLOSING;
    w->close_deadline = w->now + WS_CLOSING_HANDSHAKE_TIMEOUT_US;
    w->parser.discard_data = true; /* Chromium ignores data frames from now on */
}

/* Blink's DOMWebSocket::close checks; returns the exception name or NULL. The reason is
 * only checked when a code is given (Chromium over the spec, which checks it always). */
static const char *close_exception(int code, size_t reason_len, char *message, size_t n)
{
    if (code < 0)
        return NULL;
    if (code != 1000 && (code < 3000 || code > 4999)) {
        snprintf(message, n,
                 "Failed to execute 'close' on 'WebSocket': The close code must be either "
                 "1000, or between 3000 and 4999. %d is neither.", code > 65535 ? 65535 : code);
        return "InvalidAccessError";
    }
    if (reason_len > WS_MAX_REASON_BYTES) {
        snprintf(message, n,
                 "Failed to execute 'close' on 'WebSocket': The close reason must not be "
                 "greater than %d UTF-8 bytes.", WS_MAX_REASON_BYTES);
        return "SyntaxError";
    }
    return NULL;
}

void ws_close(ws_model *w, int64_t now, int code, const char *reason, size_t reason_len)
{
    w->now = now;
    buf r = {0};
    if (reason)
        usv_string(reason, reason_len, &r);
    const char *text = r.data ? r.data : "";
    char message[256];
    const char *exception = close_exception(code, r.len, message, sizeof message);
    if (exception) {
        /* nothing changes */
    } else if (w->ready_state == WS_CONNECTING) {
        w->ready_state = WS_CLOSING;
        w->channel = CH_CLOSED;
        close_tcp(w, "close() before the connection was established");
        console_failed(w, "WebSocket is closed before the connection is established.");
        w->fail_pending = true; /* error and close are queued tasks */
        w->fail_at = now;
    } else if (w->ready_state == WS_OPEN) {
        start_closing_handshake(w, code, text, r.len);
    }
    trace_event *e = push(w, "call:close");
    if (e) {
        e->fields |= TF_RS | TF_LEN;
        e->rs = w->ready_state;
        e->len = ws_buffered_amount(w);
        if (code >= 0) {
            e->fields |= TF_CODE;
            e->code = code;
        }
        if (reason)
            trace_set_str(e, &e->reason, TF_REASON, text, r.len);
        if (exception)
            set_exception(e, exception, message);
    }
    buf_free(&r);
}

/* ---- harness actions -------------------------------------------------------------------- */

static bool can_write_frames(const ws_model *w)
{
    return !w->want_tcp_close && (w->channel == CH_CONNECTED || w->channel == CH_SEND_CLOSED ||
                                  w->channel == CH_CLOSE_WAIT);
}

int ws_send_ping(ws_model *w, int64_t now, const void *payload, size_t len)
{
    w->now = now;
    if (!can_write_frames(w) || len > WS_MAX_CONTROL_PAYLOAD)
        return -1;
    if (ws_write_client_frame(&w->out, w->rng, w->rng_ud, true, WS_OP_PING, payload, len) < 0)
        return -1;
    frame_out(w, WS_OP_PING, payload, len, "harness");
    return 0;
}

int ws_send_raw(ws_model *w, int64_t now, const ws_frame_spec *f)
{
    w->now = now;
    if (!can_write_frames(w) || ws_write_frame_spec(&w->out, f) < 0)
        return -1;
    frame_out(w, f->opcode & 15, f->payload, f->len, "raw");
    if ((f->opcode & 15) == WS_OP_CLOSE && f->len >= 2 && w->sent_close_code < 0)
        w->sent_close_code = ((const uint8_t *)f->payload)[0] << 8 | ((const uint8_t *)f->payload)[1];
    if ((f->opcode & 15) == WS_OP_CLOSE && w->channel == CH_CONNECTED) {
        w->channel = CH_SEND_CLOSED;
        w->ready_state = WS_CLOSING;
        w->close_deadline = now + WS_CLOSING_HANDSHAKE_TIMEOUT_US;
        w->parser.discard_data = true;
    }
    return 0;
}

/* ---- runner plumbing -------------------------------------------------------------------- */

void ws_output_written(ws_model *w, size_t n)
{
    buf_consume(&w->out, n);
    if (!w->out.len)
        w->buffered = 0;
}

int64_t ws_next_timer(const ws_model *w)
{
    if (w->fail_pending)
        return w->fail_at;
    return w->close_deadline;
}

void ws_timer(ws_model *w, int64_t now)
{
    w->now = now;
    if (w->fail_pending) {
        if (now < w->fail_at)
            return;
        w->fail_pending = false;
        fire_error(w);
        fire_close(w, WS_CLOSE_ABNORMAL, "", false);
        return;
    }
    if (w->close_deadline < 0 || now < w->close_deadline)
        return;
    w->close_deadline = -1;
    if (w->channel == CH_CLOSE_WAIT) {
        /* Chromium 156 reports the closing handshake it completed as clean although it
         * had to close TCP itself (the spec would say wasClean false) */
        close_tcp(w, "the server did not close TCP within 2 s of the closing handshake");
        fire_close(w, w->received_code, w->received_reason ? w->received_reason : "", true);
    } else if (w->channel == CH_SEND_CLOSED) {
        close_tcp(w, "no close frame from the server within 60 s of close()");
        fire_close(w, WS_CLOSE_ABNORMAL, "", false);
    }
}

void ws_final(ws_model *w, int64_t now)
{
    w->now = now;
    trace_event *e = push(w, "final");
    if (!e)
        return;
    e->fields |= TF_RS | TF_LEN;
    e->rs = w->ready_state;
    e->len = ws_buffered_amount(w);
    trace_set_cstr(e, &e->text, TF_TEXT, w->protocol ? w->protocol : "");
    trace_set_cstr(e, &e->url, TF_URL, w->url);
}
