/* The fixture's WebSocket routes over real sockets: the opening handshake is written by
 * hand, client frames come from ws_write_frame (masked unless a case says otherwise), and
 * the server's bytes after the 101 head are read by a ws_parser in the client role. */
#include "proto/ws_frame.h"
#include "proto/ws_handshake.h"
#include "tests/fixture_env.h"
#include "tests/test_registry.h"
#include "util/buf.h"
#include "util/headers.h"

#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY "dGhlIHNhbXBsZSBub25jZQ==" /* RFC 6455 1.3's example */
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define QUIET 0.5 /* "nothing happens within": only ever a lower bound on the server's waits */
#define MAX_MSGS 16

/* A WebSocket client made of a raw fixture_env client and a client-role parser. */
typedef struct wsc {
    env *e;
    client c;
    buf head;    /* the response head, once in */
    size_t fed;  /* bytes of c.in given to the parser */
    ws_parser p;
    /* what the server sent after the head */
    int n_msgs;
    unsigned msg_opcode[MAX_MSGS];
    buf msgs[MAX_MSGS];
    double msg_at[MAX_MSGS];
    int data_frames;
    int n_pongs;
    buf pong;
    bool got_close;
    buf close_payload;
    ws_error err; /* valid when p.failed */
} wsc;

static void on_frame_header(void *ud, const ws_frame_info *f)
{
    wsc *w = ud;
    if (f->opcode < WS_OP_CLOSE)
        w->data_frames++;
}

static void on_message_start(void *ud, int opcode)
{
    wsc *w = ud;
    if (w->n_msgs < MAX_MSGS)
        w->msg_opcode[w->n_msgs] = (unsigned)opcode;
}

static void on_message_data(void *ud, const uint8_t *d, size_t n)
{
    wsc *w = ud;
    if (w->n_msgs < MAX_MSGS)
        buf_append(&w->msgs[w->n_msgs], d, n);
}

static void on_message_end(void *ud)
{
    wsc *w = ud;
    if (w->n_msgs < MAX_MSGS)
        w->msg_at[w->n_msgs++] = ev_time();
}

static void on_control(void *ud, int opcode, const uint8_t *payload, size_t n)
{
    wsc *w = ud;
    if (opcode == WS_OP_PONG) {
        w->n_pongs++;
        buf_reset(&w->pong);
        buf_append(&w->pong, payload, n);
    } else if (opcode == WS_OP_CLOSE && !w->got_close) {
        w->got_close = true;
        buf_append(&w->close_payload, payload, n);
    }
}

static void on_error(void *ud, const ws_error *e)
{
    wsc *w = ud;
    w->err = *e;
}

/* Splits the head off c.in once it is whole, then parses whatever follows it. */
static void wsc_absorb(wsc *w)
{
    if (!w->head.len) {
        const char *end = w->c.in.data ? strstr(w->c.in.data, "\r\n\r\n") : NULL;
        if (!end)
            return;
        w->fed = (size_t)(end + 4 - w->c.in.data);
        buf_append(&w->head, w->c.in.data, w->fed);
    }
    if (w->fed < w->c.in.len && !w->p.stopped)
        ws_parse(&w->p, (const uint8_t *)w->c.in.data + w->fed, w->c.in.len - w->fed);
    w->fed = w->c.in.len;
}

typedef bool (*wsc_cond)(const wsc *w, int arg);

/* Runs the loop until cond holds, the connection ends or seconds pass; returns cond. */
static bool wsc_run(wsc *w, wsc_cond cond, int arg, double seconds)
{
    double end = ev_time() + seconds;
    wsc_absorb(w);
    while (!cond(w, arg)) {
        double left = end - ev_time();
        if (left <= 0 || w->c.eof || w->c.failed)
            return false;
        w->c.done = false;
        w->c.stop_after = w->c.in.len + 1; /* any byte, EOF or error */
        run_until(w->e->loop, &w->c.done, left);
        wsc_absorb(w);
    }
    return true;
}

static bool has_head(const wsc *w, int arg)
{
    return w->head.len > 0;
}

static bool has_msgs(const wsc *w, int n)
{
    return w->n_msgs >= n;
}

static bool has_pongs(const wsc *w, int n)
{
    return w->n_pongs >= n;
}

static bool has_close(const wsc *w, int arg)
{
    return w->got_close;
}

static bool has_parse_error(const wsc *w, int arg)
{
    return w->p.failed;
}

static bool has_ended(const wsc *w, int arg)
{
    return w->c.eof || w->c.failed;
}

/* Connects, sends the handshake for target (extra: more header lines) and then early (the
 * same write), and waits for the response head. */
static bool wsc_open_with(wsc *w, env *e, const char *target, const char *extra,
                          const buf *early)
{
    static const ws_parser_callbacks cb = {on_frame_header, on_message_start, on_message_data,
                                           on_message_end,  on_control,       on_error};
    memset(w, 0, sizeof *w);
    w->e = e;
    ws_parser_init(&w->p, WS_ROLE_CLIENT, &cb, w);
    buf req = {0};
    buf_printf(&req,
               "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"
               "Sec-WebSocket-Version: 13\r\n%s\r\n",
               target, extra ? extra : "");
    if (early)
        buf_append(&req, early->data, early->len);
    client_start(&w->c, e->loop, "127.0.0.1", e->port, NULL, NULL);
    bool ok = w->c.t && transport_write(w->c.t, req.data, req.len) == 0;
    buf_free(&req);
    return ok && wsc_run(w, has_head, 0, RUN_CAP);
}

static bool wsc_open(wsc *w, env *e, const char *target)
{
    bool ok = wsc_open_with(w, e, target, NULL, NULL) &&
              strncmp(w->head.data, "HTTP/1.1 101 ", 13) == 0;
    CU_ASSERT(ok);
    return ok;
}

static void wsc_close(wsc *w)
{
    client_end(&w->c);
    buf_free(&w->head);
    for (int i = 0; i < MAX_MSGS; i++)
        buf_free(&w->msgs[i]);
    buf_free(&w->pong);
    buf_free(&w->close_payload);
}

static const uint8_t client_key[4] = {0x0a, 0xb1, 0xc2, 0xd3};

static void append_frame(buf *out, bool fin, unsigned rsv, unsigned opcode, bool mask,
                         const void *payload, size_t len)
{
    CU_ASSERT_FATAL(ws_write_frame(out, fin, rsv, opcode, mask, client_key, payload, len) == 0);
}

static void wsc_write(wsc *w, const buf *bytes)
{
    CU_ASSERT(transport_write(w->c.t, bytes->data, bytes->len) == 0);
}

/* Any frame, masked. */
static void wsc_frame(wsc *w, bool fin, unsigned rsv, unsigned opcode, const void *p, size_t n)
{
    buf out = {0};
    append_frame(&out, fin, rsv, opcode, true, p, n);
    wsc_write(w, &out);
    buf_free(&out);
}

static void wsc_text(wsc *w, const char *s)
{
    wsc_frame(w, true, 0, WS_OP_TEXT, s, strlen(s));
}

static void wsc_close_frame(wsc *w, int code, const char *reason)
{
    uint8_t p[WS_MAX_CONTROL_PAYLOAD];
    int n = ws_close_payload(p, code, reason, reason ? strlen(reason) : 0);
    CU_ASSERT_FATAL(n >= 0);
    wsc_frame(w, true, 0, WS_OP_CLOSE, p, (size_t)n);
}

/* The code of the server's close frame; -1 for an empty payload or none. */
static int close_code(const wsc *w)
{
    if (!w->got_close || w->close_payload.len < 2)
        return -1;
    const uint8_t *p = (const uint8_t *)w->close_payload.data;
    return p[0] << 8 | p[1];
}

static bool msg_is(const wsc *w, int i, unsigned opcode, const char *text)
{
    return i < w->n_msgs && w->msg_opcode[i] == opcode && w->msgs[i].len == strlen(text) &&
           memcmp(w->msgs[i].data, text, w->msgs[i].len) == 0;
}

/* The server's close arrives with that code, then the server closes TCP. */
static void expect_close_then_eof(wsc *w, int code)
{
    CU_ASSERT(wsc_run(w, has_close, 0, RUN_CAP));
    CU_ASSERT_EQUAL(close_code(w), code);
    CU_ASSERT(wsc_run(w, has_ended, 0, RUN_CAP) && w->c.eof);
}

/* ---- the handshake ------------------------------------------------------------------------ */

/* "Name: value" lines of a head as header fields (the status line skipped). */
static size_t head_fields(const char *head, header_field *out, size_t cap)
{
    size_t n = 0;
    const char *line = strstr(head, "\r\n");
    while (line && n < cap) {
        line += 2;
        const char *eol = strstr(line, "\r\n");
        const char *colon = eol ? memchr(line, ':', (size_t)(eol - line)) : NULL;
        if (!colon)
            break;
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        out[n].name = strndup(line, (size_t)(colon - line));
        out[n].value = strndup(v, (size_t)(eol - v));
        n++;
        line = eol;
    }
    return n;
}

/* Whether comet's own handshake check (Chromium's) accepts the response head. */
static bool head_accepted(const wsc *w, const char *const *protocols, size_t n_protocols)
{
    header_field f[32];
    size_t n = head_fields(w->head.data, f, 32);
    ws_handshake_result res;
    ws_check_response(atoi(w->head.data + 9), f, n, ACCEPT, protocols, n_protocols, &res);
    for (size_t i = 0; i < n; i++) {
        free(f[i].name);
        free(f[i].value);
    }
    return res.ok;
}

static bool head_has(const wsc *w, const char *line)
{
    return strstr(w->head.data, line) != NULL;
}

static void test_ws_handshake(void)
{
    char accept[WS_ACCEPT_LEN + 1];
    CU_ASSERT(ws_accept_for_key(KEY, accept) == 0 && strcmp(accept, ACCEPT) == 0);
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    wsc w;
    CU_ASSERT(wsc_open_with(&w, &e, "/ws/echo", "Sec-WebSocket-Extensions: permessage-deflate\r\n",
                            NULL));
    CU_ASSERT_STRING_EQUAL(w.head.data, "HTTP/1.1 101 Switching Protocols\r\n"
                                        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                        "Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n");
    CU_ASSERT(head_accepted(&w, NULL, 0));
    wsc_close(&w);
    /* a subprotocol is selected only when offered */
    static const char *const offered[] = {"superchat", "chat"};
    CU_ASSERT(wsc_open_with(&w, &e, "/ws/echo?protocol=chat",
                            "Sec-WebSocket-Protocol: superchat, chat\r\n", NULL));
    CU_ASSERT(head_has(&w, "\r\nSec-WebSocket-Protocol: chat\r\n"));
    CU_ASSERT(head_accepted(&w, offered, 2));
    wsc_close(&w);
    CU_ASSERT(wsc_open_with(&w, &e, "/ws/echo?protocol=chat", "Sec-WebSocket-Protocol: superchat\r\n",
                            NULL));
    CU_ASSERT(head_has(&w, " 101 ") && !head_has(&w, "Sec-WebSocket-Protocol"));
    wsc_close(&w);
    env_stop(&e);
}

static void test_ws_handshake_refused(void)
{
    static const struct {
        const char *req;
        const char *status_line;
    } cases[] = {
        {"GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Version: 13\r\n\r\n",
         "HTTP/1.1 400 "}, /* no key */
        {"GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: short==\r\nSec-WebSocket-Version: 13\r\n\r\n",
         "HTTP/1.1 400 "},
        {"GET /ws/echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
         "HTTP/1.1 400 "}, /* no Upgrade */
        {"GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
         "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
         "HTTP/1.1 400 "},
        {"POST /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
         "HTTP/1.1 400 "},
        {"GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 8\r\n\r\n",
         "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n"},
        {"GET /ws/echo?broken=nope HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
         "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
         "HTTP/1.1 400 "},
        {"GET /ws/nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "HTTP/1.1 404 "},
    };
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        client c;
        fixture_fetch(&e, &c, cases[i].req, 0);
        if (!starts_with(&c.in, cases[i].status_line))
            fprintf(stderr, "case %zu: %s\n", i, c.in.data ? c.in.data : "(nothing)");
        CU_ASSERT(starts_with(&c.in, cases[i].status_line));
        client_end(&c);
    }
    env_stop(&e);
}

/* Frames that arrive with the request head, in the same write, belong to the WebSocket. */
static void test_ws_bytes_after_head(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    buf early = {0};
    append_frame(&early, true, 0, WS_OP_TEXT, true, "early", 5);
    append_frame(&early, true, 0, WS_OP_BINARY, true, "bird", 4);
    wsc w;
    CU_ASSERT_FATAL(wsc_open_with(&w, &e, "/ws/echo", NULL, &early));
    CU_ASSERT(wsc_run(&w, has_msgs, 2, RUN_CAP));
    CU_ASSERT(msg_is(&w, 0, WS_OP_TEXT, "early"));
    CU_ASSERT(msg_is(&w, 1, WS_OP_BINARY, "bird"));
    buf_free(&early);
    wsc_close(&w);
    env_stop(&e);
}

/* ---- the correct echo --------------------------------------------------------------------- */

static void test_ws_echo_sizes(void)
{
    static const size_t sizes[] = {0, 125, 126, 65535, 65536};
    enum { N = sizeof sizes / sizeof sizes[0] };
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    wsc w;
    CU_ASSERT_FATAL(wsc_open(&w, &e, "/ws/echo"));
    uint8_t *data = malloc(65536);
    for (int k = 0; k < 2 * N; k++) {
        unsigned opcode = k < N ? WS_OP_TEXT : WS_OP_BINARY;
        size_t n = sizes[k % N];
        for (size_t i = 0; i < n; i++)
            data[i] = opcode == WS_OP_TEXT ? (uint8_t)('a' + i % 26) : (uint8_t)(i * 7 + k);
        wsc_frame(&w, true, 0, opcode, data, n);
        CU_ASSERT_FATAL(wsc_run(&w, has_msgs, k + 1, RUN_CAP));
        CU_ASSERT_EQUAL(w.msg_opcode[k], opcode);
        CU_ASSERT_EQUAL(w.msgs[k].len, n);
        CU_ASSERT(n == 0 || memcmp(w.msgs[k].data, data, n) == 0);
    }
    CU_ASSERT_EQUAL(w.data_frames, 2 * N); /* each echo is one frame */
    CU_ASSERT(!w.p.failed && !w.got_close);
    free(data);
    wsc_close(&w);
    env_stop(&e);
}

static void test_ws_fragments_and_ping(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    wsc w;
    CU_ASSERT_FATAL(wsc_open(&w, &e, "/ws/echo"));
    wsc_frame(&w, false, 0, WS_OP_TEXT, "Hel", 3);
    wsc_frame(&w, true, 0, WS_OP_PING, "p1", 2); /* a control frame between fragments */
    wsc_frame(&w, false, 0, WS_OP_CONTINUATION, "lo", 2);
    wsc_frame(&w, true, 0, WS_OP_CONTINUATION, "!", 1);
    CU_ASSERT(wsc_run(&w, has_msgs, 1, RUN_CAP));
    CU_ASSERT(msg_is(&w, 0, WS_OP_TEXT, "Hello!"));
    CU_ASSERT_EQUAL(w.data_frames, 1);
    CU_ASSERT_EQUAL(w.n_pongs, 1);
    CU_ASSERT(w.pong.len == 2 && memcmp(w.pong.data, "p1", 2) == 0);
    /* a 125-byte ping, then an unsolicited pong (ignored) and a message */
    char big[125];
    memset(big, 'q', sizeof big);
    wsc_frame(&w, true, 0, WS_OP_PING, big, sizeof big);
    CU_ASSERT(wsc_run(&w, has_pongs, 2, RUN_CAP));
    wsc_frame(&w, true, 0, WS_OP_PONG, "u", 1);
    wsc_text(&w, "after");
    CU_ASSERT(wsc_run(&w, has_msgs, 2, RUN_CAP));
    CU_ASSERT_EQUAL(w.n_pongs, 2);
    CU_ASSERT(w.pong.len == 125 && memcmp(w.pong.data, big, 125) == 0);
    CU_ASSERT(msg_is(&w, 1, WS_OP_TEXT, "after"));
    CU_ASSERT_EQUAL(w.data_frames, 2);
    wsc_close(&w);
    env_stop(&e);
}

static void test_ws_close_handshake(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    wsc w;
    CU_ASSERT_FATAL(wsc_open(&w, &e, "/ws/echo"));
    wsc_close_frame(&w, 1000, "bye");
    expect_close_then_eof(&w, 1000); /* the server closes TCP first */
    CU_ASSERT_EQUAL(w.close_payload.len, 2);
    wsc_close(&w);
    CU_ASSERT_FATAL(wsc_open(&w, &e, "/ws/echo"));
    wsc_close_frame(&w, 3000, NULL);
    expect_close_then_eof(&w, 3000);
    wsc_close(&w);
    CU_ASSERT_FATAL(wsc_open(&w, &e, "/ws/echo"));
    wsc_frame(&w, true, 0, WS_OP_CLOSE, NULL, 0);
    CU_ASSERT(wsc_run(&w, has_close, 0, RUN_CAP));
    CU_ASSERT_EQUAL(w.close_payload.len, 0); /* empty close, empty reply */
    CU_ASSERT(wsc_run(&w, has_ended, 0, RUN_CAP) && w.c.eof);
    wsc_close(&w);
    env_stop(&e);
}

/* Frames that break one rule, and the close code the server must answer with. */
typedef struct bad_case {
    const char *name;
    ws_frame_spec frames[2]; /* the second is used when its opcode or FIN is set */
    int code;
} bad_case;

static const uint8_t one_byte[] = {0x03};
static const uint8_t code_1005[] = {0x03, 0xed};
static const uint8_t code_2999[] = {0x0b, 0xb7};
static const uint8_t bad_reason[] = {0x03, 0xe8, 0xff};
static const char ping126[126] = {0};

#define MASKED .mask = true, .key = {1, 2, 3, 4}

static const bad_case bad_cases[] = {
    {"close 1 byte", {{.fin = true, .opcode = WS_OP_CLOSE, MASKED, .payload = one_byte, .len = 1}},
     1002},
    {"close 1005", {{.fin = true, .opcode = WS_OP_CLOSE, MASKED, .payload = code_1005, .len = 2}},
     1002},
    {"close 2999", {{.fin = true, .opcode = WS_OP_CLOSE, MASKED, .payload = code_2999, .len = 2}},
     1002},
    {"close reason not UTF-8",
     {{.fin = true, .opcode = WS_OP_CLOSE, MASKED, .payload = bad_reason, .len = 3}}, 1007},
    {"text not UTF-8", {{.fin = true, .opcode = WS_OP_TEXT, MASKED, .payload = "a\xff", .len = 2}},
     1007},
    {"fragment not UTF-8",
     {{.fin = false, .opcode = WS_OP_TEXT, MASKED, .payload = "ok", .len = 2},
      {.fin = true, .opcode = WS_OP_CONTINUATION, MASKED, .payload = "\xed\xa0\x80", .len = 3}},
     1007},
    {"opcode 3", {{.fin = true, .opcode = 3, MASKED, .payload = "x", .len = 1}}, 1002},
    {"opcode 11", {{.fin = true, .opcode = 11, MASKED}}, 1002},
    {"RSV1", {{.fin = true, .rsv = 4, .opcode = WS_OP_TEXT, MASKED, .payload = "x", .len = 1}},
     1002},
    {"unmasked", {{.fin = true, .opcode = WS_OP_TEXT, .payload = "x", .len = 1}}, 1002},
    {"continuation of nothing",
     {{.fin = true, .opcode = WS_OP_CONTINUATION, MASKED, .payload = "x", .len = 1}}, 1002},
    {"text inside a message",
     {{.fin = false, .opcode = WS_OP_TEXT, MASKED, .payload = "a", .len = 1},
      {.fin = true, .opcode = WS_OP_TEXT, MASKED, .payload = "b", .len = 1}},
     1002},
    {"fragmented ping", {{.fin = false, .opcode = WS_OP_PING, MASKED}}, 1002},
    {"126-byte ping", {{.fin = true, .opcode = WS_OP_PING, MASKED, .payload = ping126, .len = 126}},
     1002},
    {"17 MiB message",
     {{.fin = true, .opcode = WS_OP_BINARY, MASKED, .declare_length = true,
       .declared_length = 17u << 20}},
     1009},
};

/* Each violation, on its own connection: the server's close with the RFC's code, then TCP. */
static void test_ws_protocol_errors(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *bc = &bad_cases[i];
        wsc w;
        CU_ASSERT_FATAL(wsc_open(&w, &e, "/ws/echo"));
        buf out = {0};
        for (int k = 0; k < 2 && (k == 0 || bc->frames[k].opcode || bc->frames[k].fin); k++)
            CU_ASSERT(ws_write_frame_spec(&out, &bc->frames[k]) == 0);
        wsc_write(&w, &out);
        buf_free(&out);
        CU_ASSERT(wsc_run(&w, has_close, 0, RUN_CAP));
        if (close_code(&w) != bc->code)
            fprintf(stderr, "%s: close %d, want %d\n", bc->name, close_code(&w), bc->code);
        CU_ASSERT_EQUAL(close_code(&w), bc->code);
        CU_ASSERT(w.n_msgs == 0 && !w.p.failed);
        CU_ASSERT(wsc_run(&w, has_ended, 0, RUN_CAP) && w.c.eof);
        wsc_close(&w);
    }
    env_stop(&e);
}

/* ---- the flawed echoes -------------------------------------------------------------------- */

static void test_ws_broken_closing(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    wsc w;
    /* no-close-reply: silence, TCP stays open until the client closes it */
    CU_ASSERT_FATAL(wsc_open(&w, &e, "/ws/echo?broken=no-close-reply"));
    wsc_close_frame(&w, 1000, NULL);
    CU_ASSERT(!wsc_run(&w, has_close, 0, QUIET));
    CU_ASSERT(!w.c.eof && !w.c.failed);
    transport_shutdown(w.c.t);
    CU_ASSERT(wsc_run(&w, has_ended, 0, RUN_CAP) && w.c.eof && !w.got_close);
    wsc_close(&w);
    /* close-1000: a reserved opcode is answered with 1000, not 1002 */
    CU_ASSERT_FATAL(wsc_open(&w, &e, "/ws/echo?broken=close-1000"));
    wsc_frame(&w, true, 0, 3, "x", 1);
    expect_close_then_eof(&w, 1000);
    wsc_close(&w);
    CU_ASSERT_FATAL(wsc_open(&w, &e, "/ws/echo?broken=close-1000"));
    wsc_frame(&w, true, 0, WS_OP_CLOSE, NULL, 0);
    expect_close_then_eof(&w, 1000); /* an empty close deserves an empty one */
    wsc_close(&w);
    /* hold-tcp: the close is echoed, but TCP stays open until the client closes it */
    CU_ASSERT_FATAL(wsc_open(&w, &e, "/ws/echo?broken=hold-tcp"));
    wsc_close_frame(&w, 1000, NULL);
    CU_ASSERT(wsc_run(&w, has_close, 0, RUN_CAP));
    CU_ASSERT_EQUAL(close_code(&w), 1000);
    CU_ASSERT(!wsc_run(&w, has_ended, 0, QUIET));
    transport_shutdown(w.c.t);
    CU_ASSERT(wsc_run(&w, has_ended, 0, RUN_CAP) && w.c.eof);
    wsc_close(&w);
    env_stop(&e);
}

static void test_ws_broken_validation(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    wsc w;
    /* lenient: unmasked frames, RSV bits and reserved opcodes pass; a bad close code too */
    CU_ASSERT_FATAL(wsc_open(&w, &e, "/ws/echo?broken=lenient"));
    buf out = {0};
    append_frame(&out, true, 0, WS_OP_TEXT, false, "hi", 2);
    append_frame(&out, true, 4, WS_OP_TEXT, true, "rsv", 3);
    append_frame(&out, true, 0, 3, true, "x", 1);
    append_frame(&out, true, 0, WS_OP_BINARY, true, "after", 5);
    append_frame(&out, true, 0, WS_OP_CLOSE, true, code_1005, 2);
    wsc_write(&w, &out);
    buf_free(&out);
    CU_ASSERT(wsc_run(&w, has_close, 0, RUN_CAP));
    CU_ASSERT_EQUAL(w.n_msgs, 3);
    CU_ASSERT(msg_is(&w, 0, WS_OP_TEXT, "hi") && msg_is(&w, 1, WS_OP_TEXT, "rsv") &&
              msg_is(&w, 2, WS_OP_BINARY, "after"));
    CU_ASSERT_EQUAL(close_code(&w), 1005);
    wsc_close(&w);
    /* lenient echoes text that is not UTF-8: our parser fails on the echo */
    CU_ASSERT_FATAL(wsc_open(&w, &e, "/ws/echo?broken=lenient"));
    wsc_frame(&w, true, 0, WS_OP_TEXT, "a\xff", 2);
    CU_ASSERT(wsc_run(&w, has_parse_error, 0, RUN_CAP));
    CU_ASSERT(w.err.kind == WS_ERR_INVALID_UTF8 && !w.got_close);
    wsc_close(&w);
    /* no-utf8-check: the same, fragmented ... */
    CU_ASSERT_FATAL(wsc_open(&w, &e, "/ws/echo?broken=no-utf8-check"));
    wsc_frame(&w, false, 0, WS_OP_TEXT, "ok", 2);
    wsc_frame(&w, true, 0, WS_OP_CONTINUATION, "\xed\xa0\x80", 3);
    CU_ASSERT(wsc_run(&w, has_parse_error, 0, RUN_CAP));
    CU_ASSERT(w.err.kind == WS_ERR_INVALID_UTF8 && !w.got_close);
    CU_ASSERT_EQUAL(w.data_frames, 1);
    wsc_close(&w);
    /* ... but every other rule still holds, and valid text is still text */
    CU_ASSERT_FATAL(wsc_open(&w, &e, "/ws/echo?broken=no-utf8-check"));
    wsc_frame(&w, false, 0, WS_OP_TEXT, "Hel", 3);
    wsc_frame(&w, true, 0, WS_OP_CONTINUATION, "lo", 2);
    CU_ASSERT(wsc_run(&w, has_msgs, 1, RUN_CAP) && msg_is(&w, 0, WS_OP_TEXT, "Hello"));
    wsc_frame(&w, true, 4, WS_OP_TEXT, "x", 1);
    expect_close_then_eof(&w, 1002);
    wsc_close(&w);
    env_stop(&e);
}

static void test_ws_broken_echo(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    wsc w;
    /* masked: the server's frames are masked, which a client must refuse */
    CU_ASSERT_FATAL(wsc_open(&w, &e, "/ws/echo?broken=masked"));
    wsc_text(&w, "m");
    CU_ASSERT(wsc_run(&w, has_parse_error, 0, RUN_CAP));
    CU_ASSERT_EQUAL(w.err.kind, WS_ERR_MASKED);
    wsc_close(&w);
    /* no-pong: the echo that follows the ping comes, the pong never does */
    CU_ASSERT_FATAL(wsc_open(&w, &e, "/ws/echo?broken=no-pong"));
    wsc_frame(&w, true, 0, WS_OP_PING, "p", 1);
    wsc_text(&w, "after ping");
    CU_ASSERT(wsc_run(&w, has_msgs, 1, RUN_CAP) && msg_is(&w, 0, WS_OP_TEXT, "after ping"));
    CU_ASSERT_EQUAL(w.n_pongs, 0);
    wsc_close(&w);
    /* truncate: 1000 bytes of a 2000-byte message */
    CU_ASSERT_FATAL(wsc_open(&w, &e, "/ws/echo?broken=truncate"));
    char data[2000];
    memset(data, 't', sizeof data);
    wsc_frame(&w, true, 0, WS_OP_BINARY, data, sizeof data);
    wsc_text(&w, "short");
    CU_ASSERT(wsc_run(&w, has_msgs, 2, RUN_CAP));
    CU_ASSERT_EQUAL(w.msgs[0].len, 1000);
    CU_ASSERT(msg_is(&w, 1, WS_OP_TEXT, "short"));
    wsc_close(&w);
    /* fragment-drop: only the first fragment comes back */
    CU_ASSERT_FATAL(wsc_open(&w, &e, "/ws/echo?broken=fragment-drop"));
    wsc_frame(&w, false, 0, WS_OP_TEXT, "Hel", 3);
    wsc_frame(&w, true, 0, WS_OP_CONTINUATION, "lo", 2);
    wsc_text(&w, "whole");
    CU_ASSERT(wsc_run(&w, has_msgs, 2, RUN_CAP));
    CU_ASSERT(msg_is(&w, 0, WS_OP_TEXT, "Hel") && msg_is(&w, 1, WS_OP_TEXT, "whole"));
    wsc_close(&w);
    /* slow: the echo, the pong and the close come 200 ms late at least, in order */
    CU_ASSERT_FATAL(wsc_open(&w, &e, "/ws/echo?broken=slow"));
    double sent = ev_time();
    wsc_text(&w, "s");
    wsc_frame(&w, true, 0, WS_OP_PING, "p", 1);
    wsc_close_frame(&w, 1000, NULL);
    CU_ASSERT(wsc_run(&w, has_msgs, 1, RUN_CAP) && msg_is(&w, 0, WS_OP_TEXT, "s"));
    CU_ASSERT(w.msg_at[0] - sent >= 0.19);
    expect_close_then_eof(&w, 1000);
    CU_ASSERT_EQUAL(w.n_pongs, 1);
    wsc_close(&w);
    env_stop(&e);
}

/* ---- ticker, server close, drop, handshake faults ------------------------------------------ */

static void test_ws_ticker(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    wsc w;
    double t0 = ev_time();
    CU_ASSERT_FATAL(wsc_open(&w, &e, "/ws/ticker?n=3&gap=20ms&size=10"));
    wsc_text(&w, "ignored");
    CU_ASSERT(wsc_run(&w, has_close, 0, RUN_CAP));
    CU_ASSERT(ev_time() - t0 >= 0.040);
    CU_ASSERT_EQUAL(w.n_msgs, 3);
    CU_ASSERT(msg_is(&w, 0, WS_OP_TEXT, "tick 1    ") && msg_is(&w, 1, WS_OP_TEXT, "tick 2    ") &&
              msg_is(&w, 2, WS_OP_TEXT, "tick 3    "));
    CU_ASSERT_EQUAL(close_code(&w), 1000);
    CU_ASSERT(!w.c.eof);
    wsc_close_frame(&w, 1000, NULL); /* the reply completes the handshake: the server closes */
    CU_ASSERT(wsc_run(&w, has_ended, 0, RUN_CAP) && w.c.eof);
    wsc_close(&w);
    CU_ASSERT_FATAL(wsc_open(&w, &e, "/ws/ticker?n=0"));
    CU_ASSERT(wsc_run(&w, has_close, 0, RUN_CAP) && w.n_msgs == 0 && close_code(&w) == 1000);
    wsc_close(&w);
    env_stop(&e);
}

static void test_ws_server_close(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    wsc w;
    CU_ASSERT_FATAL(wsc_open(&w, &e, "/ws/close?code=4001&reason=bye%21"));
    CU_ASSERT(wsc_run(&w, has_close, 0, RUN_CAP));
    CU_ASSERT(w.close_payload.len == 6 && memcmp(w.close_payload.data, "\x0f\xa1" "bye!", 6) == 0);
    wsc_close_frame(&w, 4001, NULL);
    CU_ASSERT(wsc_run(&w, has_ended, 0, RUN_CAP) && w.c.eof);
    wsc_close(&w);
    CU_ASSERT_FATAL(wsc_open(&w, &e, "/ws/close?code=none"));
    CU_ASSERT(wsc_run(&w, has_close, 0, RUN_CAP) && w.close_payload.len == 0);
    wsc_close(&w);
    CU_ASSERT_FATAL(wsc_open(&w, &e, "/ws/close?payload=03"));
    CU_ASSERT(wsc_run(&w, has_close, 0, RUN_CAP));
    CU_ASSERT(w.close_payload.len == 1 && w.close_payload.data[0] == 3);
    wsc_close(&w);
    CU_ASSERT_FATAL(wsc_open(&w, &e, "/ws/close?code=1005"));
    CU_ASSERT(wsc_run(&w, has_close, 0, RUN_CAP) && close_code(&w) == 1005);
    wsc_close(&w);
    /* tcp=hold: the handshake completes and TCP stays open until the client closes it */
    CU_ASSERT_FATAL(wsc_open(&w, &e, "/ws/close?tcp=hold"));
    CU_ASSERT(wsc_run(&w, has_close, 0, RUN_CAP) && close_code(&w) == 1000);
    wsc_close_frame(&w, 1000, NULL);
    CU_ASSERT(!wsc_run(&w, has_ended, 0, QUIET));
    transport_shutdown(w.c.t);
    CU_ASSERT(wsc_run(&w, has_ended, 0, RUN_CAP) && w.c.eof);
    wsc_close(&w);
    CU_ASSERT(wsc_open_with(&w, &e, "/ws/close?code=none&reason=x", NULL, NULL));
    CU_ASSERT(strncmp(w.head.data, "HTTP/1.1 400 ", 13) == 0);
    wsc_close(&w);
    env_stop(&e);
}

static void test_ws_drop(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    wsc w;
    CU_ASSERT_FATAL(wsc_open(&w, &e, "/ws/drop?after=2"));
    wsc_text(&w, "1");
    wsc_text(&w, "2");
    wsc_text(&w, "3");
    CU_ASSERT(wsc_run(&w, has_ended, 0, RUN_CAP) && w.c.eof);
    CU_ASSERT(w.n_msgs == 2 && msg_is(&w, 1, WS_OP_TEXT, "2"));
    CU_ASSERT(!w.got_close);
    wsc_close(&w);
    CU_ASSERT_FATAL(wsc_open(&w, &e, "/ws/drop?after=1&mode=reset"));
    wsc_text(&w, "1");
    CU_ASSERT(wsc_run(&w, has_ended, 0, RUN_CAP));
    CU_ASSERT(w.c.failed && w.c.err == TE_RESET);
    CU_ASSERT(!w.got_close);
    wsc_close(&w);
    env_stop(&e);
}

static void test_ws_handshake_faults(void)
{
    static const struct {
        const char *fail;
        const char *status_line;
        const char *present; /* a line the fault puts in the head */
        const char *absent;  /* a line it takes away */
    } cases[] = {
        {"status", "HTTP/1.1 403 Forbidden\r\n", NULL, "Sec-WebSocket-Accept"},
        {"200", "HTTP/1.1 200 OK\r\n", NULL, "Sec-WebSocket-Accept"},
        {"bad-accept", "HTTP/1.1 101 ", "\r\nSec-WebSocket-Accept: ", ACCEPT},
        {"no-upgrade", "HTTP/1.1 101 ", ACCEPT, "\r\nUpgrade:"},
        {"no-connection", "HTTP/1.1 101 ", ACCEPT, "\r\nConnection:"},
        {"protocol", "HTTP/1.1 101 ", "\r\nSec-WebSocket-Protocol: comet-unoffered\r\n", NULL},
        {"extension", "HTTP/1.1 101 ", "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n",
         NULL},
    };
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char target[64];
        snprintf(target, sizeof target, "/ws/handshake?fail=%s", cases[i].fail);
        wsc w;
        CU_ASSERT_FATAL(wsc_open_with(&w, &e, target, NULL, NULL));
        CU_ASSERT(strncmp(w.head.data, cases[i].status_line, strlen(cases[i].status_line)) == 0);
        CU_ASSERT(!cases[i].present || head_has(&w, cases[i].present));
        CU_ASSERT(!cases[i].absent || !head_has(&w, cases[i].absent));
        if (head_accepted(&w, NULL, 0))
            fprintf(stderr, "fail=%s: the handshake check accepts it\n", cases[i].fail);
        CU_ASSERT(!head_accepted(&w, NULL, 0));
        wsc_close(&w);
    }
    env_stop(&e);
}

static int suite_init(void)
{
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

CU_ErrorCode register_fixture_ws_tests(void)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"/ws/ handshake: accept, subprotocol, no extension", test_ws_handshake},
        {"/ws/ handshake refused: 400, 426, 404", test_ws_handshake_refused},
        {"/ws/echo: frames in the same write as the head", test_ws_bytes_after_head},
        {"/ws/echo: text and binary, 0 to 65536 bytes", test_ws_echo_sizes},
        {"/ws/echo: fragments, ping, pong", test_ws_fragments_and_ping},
        {"/ws/echo: close handshake, server closes TCP", test_ws_close_handshake},
        {"/ws/echo: protocol errors get 1002, 1007, 1009", test_ws_protocol_errors},
        {"/ws/echo?broken=: no-close-reply, close-1000, hold-tcp", test_ws_broken_closing},
        {"/ws/echo?broken=: lenient, no-utf8-check", test_ws_broken_validation},
        {"/ws/echo?broken=: masked, no-pong, truncate, fragment-drop, slow", test_ws_broken_echo},
        {"/ws/ticker", test_ws_ticker},
        {"/ws/close", test_ws_server_close},
        {"/ws/drop", test_ws_drop},
        {"/ws/handshake?fail=", test_ws_handshake_faults},
    };
    CU_pSuite s = CU_add_suite("fixture WebSocket routes", suite_init, NULL);
    if (!s)
        return CU_get_error();
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn))
            return CU_get_error();
    return CUE_SUCCESS;
}
