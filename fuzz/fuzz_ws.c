/* libFuzzer target for the WebSocket engine and model.
 *
 * Built by `make fuzz` together with the sources named here (one line: the Makefile reads it):
 * FUZZ_SOURCES: harness/proto/ws_frame.c harness/util/buf.c harness/proto/ws_handshake.c harness/proto/ws_close_registry.c harness/browser/websocket.c harness/browser/trace.c harness/browser/text_decoder.c
 *
 * The first byte picks options (role, an allowed RSV bit, a small message limit), the
 * second where to split; the rest is the peer's byte stream. It is parsed whole, in two
 * pieces and byte by byte (7 bytes at a time past 512), each piece in an allocation of its
 * own so ASan sees any read past it: every way must give the same callbacks, delivered
 * text must be UTF-8, offsets must add up. The bytes also go through the UTF-8 validator beside a reference one, through the
 * writer and back, and into the WebSocket model, whose every written frame must be a
 * correct masked client frame.
 */
#include "browser/websocket.h"
#include "proto/ws_frame.h"
#include "util/buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond) \
    do { \
        if (!(cond)) \
            __builtin_trap(); \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- parsing the same bytes three ways ---------------------------------------------------- */

typedef struct run {
    ws_parser p;
    uint64_t hash;       /* FNV-1a over every callback and its bytes */
    uint64_t data_bytes;
    bool text;
    buf message;         /* the current text message, to check it is UTF-8 */
    int errors;
    uint64_t presented;  /* bytes handed to ws_parse so far, the current call's included */
} run;

static void mix(run *r, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        r->hash = (r->hash ^ b[i]) * 0x100000001b3ull;
}

static void mix_tag(run *r, char tag, uint64_t v)
{
    mix(r, &tag, 1);
    mix(r, &v, sizeof v);
}

static void on_frame_header(void *ud, const ws_frame_info *f)
{
    run *r = ud;
    mix_tag(r, 'h', (uint64_t)f->opcode << 8 | (uint64_t)f->fin << 4 | f->rsv);
    mix_tag(r, 'l', f->length);
    mix_tag(r, 'o', f->offset);
    CHECK(f->offset < r->p.offset && r->p.offset <= r->presented);
}

static void on_message_start(void *ud, int opcode)
{
    run *r = ud;
    CHECK(opcode == WS_OP_TEXT || opcode == WS_OP_BINARY);
    mix_tag(r, 's', (uint64_t)opcode);
    r->text = opcode == WS_OP_TEXT;
    buf_reset(&r->message);
}

static void on_message_data(void *ud, const uint8_t *d, size_t n)
{
    run *r = ud;
    CHECK(n > 0);
    mix(r, d, n); /* not tagged: pieces differ with the split, the bytes do not */
    r->data_bytes += n;
    if (r->text)
        CHECK(buf_append(&r->message, d, n) == 0);
}

static void on_message_end(void *ud)
{
    run *r = ud;
    mix_tag(r, 'e', 0);
    if (r->text)
        CHECK(ws_utf8_valid((const uint8_t *)r->message.data, r->message.len, NULL));
}

static void on_control(void *ud, int opcode, const uint8_t *p, size_t n)
{
    run *r = ud;
    CHECK(n <= WS_MAX_CONTROL_PAYLOAD);
    CHECK(opcode == WS_OP_CLOSE || opcode == WS_OP_PING || opcode == WS_OP_PONG);
    mix_tag(r, 'c', (uint64_t)opcode << 8 | n);
    mix(r, p, n);
}

static void on_error(void *ud, const ws_error *e)
{
    run *r = ud;
    r->errors++;
    CHECK(r->errors == 1);
    CHECK(e->code == 1002 || e->code == 1007 || e->code == 1009);
    CHECK(e->message && e->offset < r->presented);
    mix_tag(r, 'x', (uint64_t)e->kind << 16 | e->code);
    mix_tag(r, 'X', e->offset);
}

typedef struct options {
    ws_role role;
    uint8_t rsv_allowed;
    uint64_t max_message;
} options;

static uint64_t parse_pieces(const options *o, const uint8_t *d, size_t n, size_t step,
                             size_t first)
{
    static const ws_parser_callbacks cb = {on_frame_header, on_message_start, on_message_data,
                                           on_message_end, on_control, on_error};
    run r;
    memset(&r, 0, sizeof r);
    r.hash = 0xcbf29ce484222325ull;
    r.message.limit = 1 << 20;
    ws_parser_init(&r.p, o->role, &cb, &r);
    r.p.rsv_allowed = o->rsv_allowed;
    if (o->max_message)
        r.p.max_message = o->max_message;
    size_t at = 0, consumed = 0;
    while (at < n) {
        size_t k = at == 0 && first ? first : step;
        if (k > n - at)
            k = n - at;
        uint8_t *piece = malloc(k);
        CHECK(piece != NULL);
        memcpy(piece, d + at, k);
        r.presented += k;
        size_t used = ws_parse(&r.p, piece, k);
        free(piece);
        CHECK(used <= k);
        if (!r.p.stopped)
            CHECK(used == k);
        consumed += used;
        at += k;
    }
    CHECK(r.p.offset == consumed);
    CHECK(r.p.failed == (r.errors == 1));
    buf_free(&r.message);
    return r.hash ^ r.data_bytes;
}

/* ---- UTF-8 beside a reference ------------------------------------------------------------ */

static bool reference_utf8(const uint8_t *s, size_t n, size_t *bad)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c < 0xc2 || c > 0xf4) {
            *bad = i;
            return false;
        }
        size_t len = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        uint8_t lo = 0x80, hi = 0xbf;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
        else if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
        for (size_t k = 1; k < len; k++, lo = 0x80, hi = 0xbf) {
            if (i + k >= n) {
                *bad = i;
                return false;
            }
            if (s[i + k] < lo || s[i + k] > hi) {
                *bad = i + k;
                return false;
            }
        }
        i += len;
    }
    return true;
}

static void check_utf8(const uint8_t *d, size_t n)
{
    uint8_t *tight = malloc(n ? n : 1);
    CHECK(tight != NULL);
    memcpy(tight, d, n);
    size_t a = 0, b = 0;
    bool va = ws_utf8_valid(tight, n, &a), vb = reference_utf8(d, n, &b);
    CHECK(va == vb);
    if (!va)
        CHECK(a == b);
    free(tight);
}

/* ---- writer and parser agree ------------------------------------------------------------ */

static void check_roundtrip(const uint8_t *d, size_t n, uint8_t opt)
{
    bool masked = opt & 1;
    uint8_t key[4] = {opt, (uint8_t)(opt * 3), 0x5a, 0xa5};
    buf b = {0};
    size_t half = n / 2;
    CHECK(ws_write_frame(&b, false, 0, WS_OP_BINARY, masked, key, d, half) == 0);
    CHECK(ws_write_frame(&b, true, 0, WS_OP_PING, masked, key, d + half,
                         n - half > 125 ? 125 : n - half) == 0);
    CHECK(ws_write_frame(&b, true, 0, WS_OP_CONTINUATION, masked, key, d + half, n - half) == 0);
    options o = {masked ? WS_ROLE_SERVER : WS_ROLE_CLIENT, 0, 0};
    uint64_t whole = parse_pieces(&o, (const uint8_t *)b.data, b.len, b.len, 0);
    uint64_t bytewise = parse_pieces(&o, (const uint8_t *)b.data, b.len, 1, 0);
    CHECK(whole == bytewise);
    buf_free(&b);
}

/* ---- the model ------------------------------------------------------------------------- */

typedef struct model_run {
    ws_parser server;   /* reads what the browser wrote */
    int server_errors;
    uint8_t script;     /* what the page does from its listeners */
} model_run;

static void server_error(void *ud, const ws_error *e)
{
    (void)e;
    ((model_run *)ud)->server_errors++;
}

static void page_script(void *ud, ws_model *w, const trace_event *e)
{
    model_run *m = ud;
    if (!strcmp(e->ev, "message") && (m->script & 1))
        ws_send_text(w, e->t_us, "echo", 4);
    if (!strcmp(e->ev, "message") && (m->script & 2))
        ws_close(w, e->t_us, 4000, "bye", 3);
    if (!strcmp(e->ev, "open") && (m->script & 4))
        ws_send_binary(w, e->t_us, "\x00\xff", 2);
}

static int fixed_rng(void *ud, uint8_t *out, size_t n)
{
    (void)ud;
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(i * 37 + 11);
    return 0;
}

static void drain(ws_model *w, model_run *m)
{
    ws_parse(&m->server, (const uint8_t *)w->out.data, w->out.len);
    ws_output_written(w, w->out.len);
}

static void check_model(const uint8_t *d, size_t n, uint8_t opt, size_t step)
{
    trace t;
    trace_init(&t);
    t.text_cap = 64;
    model_run m;
    memset(&m, 0, sizeof m);
    m.script = opt >> 4;
    ws_parser_callbacks scb = {.on_error = server_error};
    ws_parser_init(&m.server, WS_ROLE_SERVER, &scb, &m);
    ws_options o = {.url = "ws://fuzz.test/ws", .rng = fixed_rng,
                    .max_message = opt & 8 ? 100 : 0};
    ws_model w;
    ws_init(&w, &t, page_script, &m, &o);
    ws_handshake_request req = {.host = "fuzz.test", .target = "/ws"};
    CHECK(ws_connect(&w, 0, &req) == 0);
    ws_output_written(&w, w.out.len);
    header_field h[] = {{"Upgrade", "websocket"}, {"Connection", "Upgrade"},
                        {"Sec-WebSocket-Accept", w.accept}};
    ws_handshake_response(&w, 1, 101, h, 3);
    CHECK(w.ready_state == WS_OPEN);
    drain(&w, &m);
    int64_t now = 2;
    for (size_t at = 0; at < n && !w.closed; at += step, now += 1000) {
        ws_receive(&w, now, d + at, n - at < step ? n - at : step);
        drain(&w, &m);
        CHECK(w.ready_state >= WS_OPEN);
    }
    if (opt & 4)
        ws_close(&w, now, 1000, NULL, 0);
    drain(&w, &m);
    int64_t timer = ws_next_timer(&w);
    if (timer >= 0 && (opt & 2))
        ws_timer(&w, timer);
    else
        ws_tcp_closed(&w, now + 1, opt & 1);
    drain(&w, &m);
    CHECK(w.closed && w.ready_state == WS_CLOSED);
    CHECK(ws_next_timer(&w) == -1);
    CHECK(m.server_errors == 0); /* the browser only writes correct frames */
    /* exactly one close event, and error only right before it */
    size_t closes = 0;
    for (size_t i = 0; i < t.n; i++) {
        if (!strcmp(t.events[i].ev, "close"))
            closes++;
        if (!strcmp(t.events[i].ev, "error"))
            CHECK(i + 1 < t.n && !strcmp(t.events[i + 1].ev, "close"));
    }
    CHECK(closes == 1);
    ws_free(&w);
    trace_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t opt = data[0];
    size_t split = data[1];
    const uint8_t *d = data + 2;
    size_t n = size - 2;
    options o = {opt & 1 ? WS_ROLE_SERVER : WS_ROLE_CLIENT, opt & 2 ? 4 : 0,
                 opt & 4 ? 64 : 0};
    uint64_t whole = parse_pieces(&o, d, n, n ? n : 1, 0);
    uint64_t two = parse_pieces(&o, d, n, n ? n : 1, split % (n + 1));
    /* byte by byte while that stays fast (a piece is an allocation), then 7 at a time */
    uint64_t small = parse_pieces(&o, d, n, n <= 512 ? 1 : 7, 0);
    CHECK(whole == two && whole == small);
    check_utf8(d, n);
    check_roundtrip(d, n, opt);
    check_model(d, n, opt, split % 7 + 1);
    return 0;
}
