/* WebSocket: the RFC 6455 framing engine, the opening handshake, the close-code registry,
 * and the WebSocket API model against what Chromium 156 recorded (../shared/browser-truth,
 * the ws-* cases). */
#include "browser/websocket.h"
#include "proto/ws_close_registry.h"
#include "proto/ws_frame.h"
#include "proto/ws_handshake.h"
#include "tests/test_registry.h"
#include "util/buf.h"

#include <CUnit/CUnit.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEN(a) (sizeof(a) - 1) /* of a string literal holding bytes */

/* ---- a recorder for parser callbacks ------------------------------------------------------ */

/* Message data is logged contiguously, so the log is the same however the input is split. */
typedef struct recorder {
    ws_parser p;
    buf log;
    int errors;
    ws_error last;
} recorder;

static void rec_header(void *ud, const ws_frame_info *f)
{
    recorder *r = ud;
    buf_printf(&r->log, "<%x%s,%llu@%llu>", f->opcode, f->fin ? "F" : "",
               (unsigned long long)f->length, (unsigned long long)f->offset);
}

static void rec_start(void *ud, int opcode)
{
    recorder *r = ud;
    buf_printf(&r->log, "start(%d)[", opcode);
}

static void rec_data(void *ud, const uint8_t *d, size_t n)
{
    recorder *r = ud;
    CU_ASSERT(n > 0);
    buf_append(&r->log, d, n);
}

static void rec_end(void *ud)
{
    recorder *r = ud;
    buf_append_str(&r->log, "]end ");
}

static void rec_control(void *ud, int opcode, const uint8_t *p, size_t n)
{
    recorder *r = ud;
    buf_printf(&r->log, "ctl(%d,", opcode);
    buf_append(&r->log, p, n);
    buf_append_str(&r->log, ") ");
}

static void rec_error(void *ud, const ws_error *e)
{
    recorder *r = ud;
    r->errors++;
    r->last = *e;
    buf_printf(&r->log, "error(%u,%d@%llu) ", e->code, e->kind, (unsigned long long)e->offset);
}

static void rec_init(recorder *r, ws_role role)
{
    static const ws_parser_callbacks cb = {rec_header, rec_start, rec_data, rec_end,
                                           rec_control, rec_error};
    memset(r, 0, sizeof *r);
    ws_parser_init(&r->p, role, &cb, r);
}

static char *rec_take(recorder *r)
{
    return buf_take(&r->log);
}

/* Parses data presented in pieces cut at the given points (sorted, may be empty). */
static char *parse_cuts(ws_role role, uint64_t max_message, const uint8_t *d, size_t n,
                        const size_t *cuts, size_t n_cuts)
{
    recorder r;
    rec_init(&r, role);
    if (max_message)
        r.p.max_message = max_message;
    size_t at = 0;
    for (size_t i = 0; i <= n_cuts; i++) {
        size_t end = i < n_cuts ? cuts[i] : n;
        /* every piece in its own allocation, so ASan catches reads past it */
        uint8_t *piece = malloc(end - at + 1);
        memcpy(piece, d + at, end - at);
        size_t used = ws_parse(&r.p, piece, end - at);
        if (!r.p.stopped)
            CU_ASSERT_EQUAL(used, end - at);
        free(piece);
        at = end;
    }
    if (!r.p.stopped)
        CU_ASSERT_EQUAL(r.p.offset, n);
    return rec_take(&r);
}

static char *parse_all(ws_role role, const uint8_t *d, size_t n)
{
    return parse_cuts(role, 0, d, n, NULL, 0);
}

/* Whole, split at every byte boundary, and byte by byte: the same callbacks every time. */
static void check_splits(ws_role role, uint64_t max_message, const uint8_t *d, size_t n,
                         const char *expected)
{
    char *whole = parse_cuts(role, max_message, d, n, NULL, 0);
    if (expected && strcmp(whole, expected))
        fprintf(stderr, "\n  expected: %s\n  observed: %s\n", expected, whole);
    if (expected)
        CU_ASSERT_STRING_EQUAL(whole, expected);
    int mismatches = 0;
    for (size_t k = 1; k < n; k++) {
        char *got = parse_cuts(role, max_message, d, n, &k, 1);
        if (strcmp(got, whole) && !mismatches)
            fprintf(stderr, "\n  split at %zu: %s\n  whole: %s\n", k, got, whole);
        mismatches += strcmp(got, whole) != 0;
        free(got);
    }
    size_t *every = malloc(n * sizeof *every);
    for (size_t k = 1; k < n; k++)
        every[k - 1] = k;
    char *bytewise = parse_cuts(role, max_message, d, n, every, n ? n - 1 : 0);
    mismatches += strcmp(bytewise, whole) != 0;
    CU_ASSERT_EQUAL(mismatches, 0);
    free(bytewise);
    free(every);
    free(whole);
}

/* Frames built with the writer: unmasked (from a server) or masked with a fixed key. */
static void frame(buf *b, bool fin, unsigned op, const char *payload, size_t len, bool mask)
{
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    CU_ASSERT_EQUAL(ws_write_frame(b, fin, 0, op, mask, mask ? key : NULL, payload, len), 0);
}

/* ---- framing: valid streams ---------------------------------------------------------------- */

static void test_streams_split_everywhere(void)
{
    for (int masked = 0; masked < 2; masked++) {
        ws_role role = masked ? WS_ROLE_SERVER : WS_ROLE_CLIENT;
        buf b = {0};
        frame(&b, true, WS_OP_TEXT, "hello", 5, masked);
        frame(&b, false, WS_OP_TEXT, "he", 2, masked);           /* fragmented, a ping inside */
        frame(&b, true, WS_OP_PING, "ping!", 5, masked);
        frame(&b, false, WS_OP_CONTINUATION, "ll", 2, masked);
        frame(&b, false, WS_OP_CONTINUATION, "", 0, masked);     /* empty fragment */
        frame(&b, true, WS_OP_CONTINUATION, "o", 1, masked);
        frame(&b, true, WS_OP_BINARY, "", 0, masked);            /* empty message */
        frame(&b, true, WS_OP_PONG, "", 0, masked);
        frame(&b, true, WS_OP_TEXT, "h\xc3\xa9llo \xf0\x9f\x99\x82", 11, masked);
        frame(&b, true, WS_OP_CLOSE, "\x03\xe8" "bye", 5, masked);
        const char *expected =
            masked ? NULL
                   : "<1F,5@0>start(1)[hello]end <1,2@7>start(1)[he<9F,5@11>ctl(9,ping!) "
                     "<0,2@18>ll<0,0@22><0F,1@24>o]end <2F,0@27>start(2)[]end <aF,0@29>ctl(10,) "
                     "<1F,11@31>start(1)[h\xc3\xa9llo \xf0\x9f\x99\x82]end "
                     "<8F,5@44>ctl(8,\x03\xe8" "bye) ";
        check_splits(role, 0, (const uint8_t *)b.data, b.len, expected);
        buf_free(&b);
    }
}

/* 126, 65535 and 65536 bytes need the 16- and 64-bit lengths; splits around the headers. */
static void test_long_payloads(void)
{
    static const size_t sizes[] = {125, 126, 65535, 65536, 200000};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        for (int masked = 0; masked < 2; masked++) {
            size_t n = sizes[s];
            char *payload = malloc(n);
            for (size_t i = 0; i < n; i++)
                payload[i] = (char)('a' + i % 26);
            buf b = {0};
            frame(&b, true, WS_OP_TEXT, payload, n, masked);
            frame(&b, true, WS_OP_BINARY, "x", 1, masked);
            ws_role role = masked ? WS_ROLE_SERVER : WS_ROLE_CLIENT;
            char *whole = parse_all(role, (const uint8_t *)b.data, b.len);
            buf exp = {0};
            buf_printf(&exp, "<1F,%zu@0>start(1)[", n);
            buf_append(&exp, payload, n);
            size_t second = b.len - (masked ? 7 : 3);
            buf_printf(&exp, "]end <2F,1@%zu>start(2)[x]end ", second);
            CU_ASSERT_STRING_EQUAL(whole, exp.data);
            size_t cuts[] = {1, 2, 3, 4, 5, 8, 9, 10, 11, 13, 14, 15, 100, 8191, 8192, 8193,
                             n / 2, second - 1, second, second + 1, b.len - 1};
            int mismatches = 0;
            for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
                if (cuts[c] == 0 || cuts[c] >= b.len)
                    continue;
                char *got = parse_cuts(role, 0, (const uint8_t *)b.data, b.len, &cuts[c], 1);
                mismatches += strcmp(got, whole) != 0;
                free(got);
            }
            CU_ASSERT_EQUAL(mismatches, 0);
            free(whole);
            buf_free(&exp);
            buf_free(&b);
            free(payload);
        }
    }
}

/* ---- framing: errors ------------------------------------------------------------------------ */

typedef struct error_case {
    const char *name;
    const char *bytes;
    size_t len;
    ws_role role;
    ws_error_kind kind;
    unsigned code;
    uint64_t offset;
} error_case;

#define ERR(name, bytes, role, kind, code, offset) \
    {name, bytes, LEN(bytes), role, kind, code, offset}

static const error_case ERROR_CASES[] = {
    /* each after a valid 3-byte frame "\x81\x01a", so offsets are absolute */
    ERR("16-bit length < 126", "\x81\x01" "a\x82\x7e\x00\x7d", WS_ROLE_CLIENT,
        WS_ERR_LENGTH_NOT_MINIMAL, 1002, 5),
    ERR("64-bit length < 65536", "\x81\x01" "a\x82\x7f\x00\x00\x00\x00\x00\x00\xff\xff",
        WS_ROLE_CLIENT, WS_ERR_LENGTH_NOT_MINIMAL, 1002, 5),
    ERR("64-bit length, MSB set", "\x81\x01" "a\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00",
        WS_ROLE_CLIENT, WS_ERR_LENGTH_MSB, 1002, 5),
    ERR("masked server frame", "\x81\x01" "a\x81\x81\x01\x02\x03\x04x", WS_ROLE_CLIENT,
        WS_ERR_MASKED, 1002, 4),
    ERR("unmasked client frame", "\x81\x81\x00\x00\x00\x00" "a\x81\x01x", WS_ROLE_SERVER,
        WS_ERR_UNMASKED, 1002, 8),
    ERR("RSV1", "\x81\x01" "a\xc1\x01x", WS_ROLE_CLIENT, WS_ERR_RSV, 1002, 3),
    ERR("RSV3", "\x81\x01" "a\x92\x00", WS_ROLE_CLIENT, WS_ERR_RSV, 1002, 3),
    ERR("opcode 3", "\x81\x01" "a\x83\x00", WS_ROLE_CLIENT, WS_ERR_RESERVED_OPCODE, 1002, 3),
    ERR("opcode 7", "\x81\x01" "a\x87\x00", WS_ROLE_CLIENT, WS_ERR_RESERVED_OPCODE, 1002, 3),
    ERR("opcode 0xB", "\x81\x01" "a\x8b\x01x", WS_ROLE_CLIENT, WS_ERR_RESERVED_OPCODE, 1002, 3),
    ERR("opcode 0xF unfinished", "\x81\x01" "a\x0f\x00", WS_ROLE_CLIENT,
        WS_ERR_RESERVED_OPCODE, 1002, 3),
    ERR("ping of 126 bytes", "\x81\x01" "a\x89\x7e\x00\x7e", WS_ROLE_CLIENT,
        WS_ERR_CONTROL_TOO_LONG, 1002, 4),
    ERR("close without FIN", "\x81\x01" "a\x08\x00", WS_ROLE_CLIENT,
        WS_ERR_CONTROL_FRAGMENTED, 1002, 3),
    ERR("continuation without a message", "\x81\x01" "a\x80\x01x", WS_ROLE_CLIENT,
        WS_ERR_UNEXPECTED_CONTINUATION, 1002, 3),
    ERR("new message while one is unfinished", "\x01\x01" "a\x81\x01" "b", WS_ROLE_CLIENT,
        WS_ERR_UNFINISHED_MESSAGE, 1002, 3),
    ERR("binary while text unfinished, ping between", "\x01\x01" "a\x89\x00\x02\x00",
        WS_ROLE_CLIENT, WS_ERR_UNFINISHED_MESSAGE, 1002, 5),
    /* Chromium's precedence when a header breaks several rules */
    ERR("length beats RSV and opcode", "\xf3\x7e\x00\x01", WS_ROLE_CLIENT,
        WS_ERR_LENGTH_NOT_MINIMAL, 1002, 2),
    ERR("control size beats mask", "\x89\xfe\x00\x7e\x01\x02\x03\x04", WS_ROLE_CLIENT,
        WS_ERR_CONTROL_TOO_LONG, 1002, 1),
    ERR("mask beats RSV", "\xc1\x81\x01\x02\x03\x04x", WS_ROLE_CLIENT, WS_ERR_MASKED, 1002, 1),
    ERR("RSV beats opcode", "\xa3\x00", WS_ROLE_CLIENT, WS_ERR_RSV, 1002, 0),
    ERR("opcode beats sequence", "\x01\x01" "a\x83\x00", WS_ROLE_CLIENT,
        WS_ERR_RESERVED_OPCODE, 1002, 3),
    /* UTF-8, fail fast: the offset of the first invalid byte */
    ERR("lone continuation byte", "\x81\x01" "a\x81\x03" "ab\x80", WS_ROLE_CLIENT,
        WS_ERR_INVALID_UTF8, 1007, 7),
    ERR("overlong 2-byte", "\x81\x02\xc0\xaf", WS_ROLE_CLIENT, WS_ERR_INVALID_UTF8, 1007, 2),
    ERR("overlong 3-byte", "\x81\x03\xe0\x80\xaf", WS_ROLE_CLIENT, WS_ERR_INVALID_UTF8, 1007, 3),
    ERR("overlong 4-byte", "\x81\x04\xf0\x80\x80\xaf", WS_ROLE_CLIENT, WS_ERR_INVALID_UTF8,
        1007, 3),
    ERR("surrogate D800", "\x81\x03\xed\xa0\x80", WS_ROLE_CLIENT, WS_ERR_INVALID_UTF8, 1007, 3),
    ERR("surrogate DFFF", "\x81\x03\xed\xbf\xbf", WS_ROLE_CLIENT, WS_ERR_INVALID_UTF8, 1007, 3),
    ERR("above U+10FFFF", "\x81\x04\xf4\x90\x80\x80", WS_ROLE_CLIENT, WS_ERR_INVALID_UTF8,
        1007, 3),
    ERR("F5 lead", "\x81\x04\xf5\x80\x80\x80", WS_ROLE_CLIENT, WS_ERR_INVALID_UTF8, 1007, 2),
    ERR("FF byte", "\x81\x02" "a\xff", WS_ROLE_CLIENT, WS_ERR_INVALID_UTF8, 1007, 3),
    ERR("sequence cut by ASCII", "\x81\x03\xe2\x82" "a", WS_ROLE_CLIENT, WS_ERR_INVALID_UTF8,
        1007, 4),
    ERR("truncated at the end of the message", "\x81\x03" "a\xe2\x82", WS_ROLE_CLIENT,
        WS_ERR_INVALID_UTF8, 1007, 3),
    ERR("truncated across fragments", "\x01\x02" "a\xf0\x00\x01\x9f\x80\x01\x98",
        WS_ROLE_CLIENT, WS_ERR_INVALID_UTF8, 1007, 3),
    ERR("invalid in the 3rd fragment", "\x01\x02" "a\xf0\x00\x01\x9f\x80\x02\x98(",
        WS_ROLE_CLIENT, WS_ERR_INVALID_UTF8, 1007, 10),
    ERR("invalid after a valid fragment, masked", "\x01\x81\x00\x00\x00\x00" "a\x80\x81\x00\x00"
        "\x00\x00\xff", WS_ROLE_SERVER, WS_ERR_INVALID_UTF8, 1007, 13),
};

static void test_protocol_errors(void)
{
    for (size_t i = 0; i < sizeof ERROR_CASES / sizeof ERROR_CASES[0]; i++) {
        const error_case *c = &ERROR_CASES[i];
        recorder r;
        rec_init(&r, c->role);
        /* trailing bytes must not be consumed once the parser failed */
        uint8_t *in = malloc(c->len + 3);
        memcpy(in, c->bytes, c->len);
        memcpy(in + c->len, "\x81\x00\x81", 3);
        size_t used = ws_parse(&r.p, in, c->len + 3);
        bool ok = r.errors == 1 && r.last.kind == c->kind && r.last.code == c->code &&
                  r.last.offset == c->offset && r.p.failed && used <= c->len;
        if (!ok)
            fprintf(stderr, "\n  %s: errors=%d kind=%d code=%u offset=%llu used=%zu\n", c->name,
                    r.errors, r.last.kind, r.last.code, (unsigned long long)r.last.offset, used);
        CU_ASSERT(ok);
        CU_ASSERT_EQUAL(ws_parse(&r.p, in, 3), 0); /* stopped for good */
        char *log = rec_take(&r);
        free(log);
        /* the same error however the bytes are split */
        char *whole = parse_all(c->role, in, c->len);
        check_splits(c->role, 0, in, c->len, whole);
        free(whole);
        free(in);
    }
}

static void test_error_details(void)
{
    recorder r;
    rec_init(&r, WS_ROLE_CLIENT);
    ws_parse(&r.p, (const uint8_t *)"\xd1\x00", 2); /* RSV1 + RSV3 */
    CU_ASSERT_EQUAL(r.last.rsv, 5);
    CU_ASSERT_EQUAL(r.last.opcode, 1);
    CU_ASSERT_STRING_EQUAL(r.last.message, "RSV bits set without a negotiated extension");
    free(rec_take(&r));

    /* an extension that defines RSV1 makes it legal */
    rec_init(&r, WS_ROLE_CLIENT);
    r.p.rsv_allowed = 4;
    ws_parse(&r.p, (const uint8_t *)"\xc1\x01x\xa1\x00", 5);
    CU_ASSERT_EQUAL(r.errors, 1);
    CU_ASSERT_EQUAL(r.last.kind, WS_ERR_RSV);
    CU_ASSERT_EQUAL(r.last.offset, 3);
    free(rec_take(&r));

    /* the size limit, per message across fragments */
    char *log = parse_cuts(WS_ROLE_CLIENT, 10,
                           (const uint8_t *)"\x81\x0a" "0123456789"
                                            "\x01\x06" "012345\x80\x05" "abcde",
                           27, NULL, 0);
    CU_ASSERT_STRING_EQUAL(log, "<1F,10@0>start(1)[0123456789]end <1,6@12>start(1)[012345"
                                "<0F,5@20>error(1009,12@21) ");
    free(log);
    log = parse_cuts(WS_ROLE_CLIENT, 10, (const uint8_t *)"\x82\x0b" "0123456789a", 13, NULL, 0);
    CU_ASSERT_STRING_EQUAL(log, "<2F,11@0>error(1009,12@1) ");
    free(log);

    /* fail fast: the error comes with the invalid byte, not at the end of the frame */
    rec_init(&r, WS_ROLE_CLIENT);
    ws_parse(&r.p, (const uint8_t *)"\x81\x7e\x01\x00" "ab\xc3(", 8);
    CU_ASSERT_EQUAL(r.errors, 1);
    CU_ASSERT_EQUAL(r.last.offset, 7);
    free(rec_take(&r));
}

/* A callback may stop the parser: nothing after that callback. */
static void stop_on_end(void *ud)
{
    recorder *r = ud;
    buf_append_str(&r->log, "]end ");
    ws_parser_stop(&r->p);
}

static void test_stop_and_discard(void)
{
    recorder r;
    rec_init(&r, WS_ROLE_CLIENT);
    r.p.cb.on_message_end = stop_on_end;
    size_t used = ws_parse(&r.p, (const uint8_t *)"\x81\x01" "a\x81\x01" "b", 6);
    CU_ASSERT_EQUAL(used, 3);
    char *log = rec_take(&r);
    CU_ASSERT_STRING_EQUAL(log, "<1F,1@0>start(1)[a]end ");
    free(log);

    /* discard_data: data frames skipped unchecked (even invalid UTF-8 and sequence errors),
     * control frames and opcode errors still reported */
    rec_init(&r, WS_ROLE_CLIENT);
    r.p.discard_data = true;
    ws_parse(&r.p, (const uint8_t *)"\x81\x01\xff\x80\x01x\x89\x01p\x83\x00", 11);
    log = rec_take(&r);
    CU_ASSERT_STRING_EQUAL(log, "<1F,1@0><0F,1@3><9F,1@6>ctl(9,p) <3F,0@9>error(1002,8@9) ");
    free(log);
}

/* ---- UTF-8 -------------------------------------------------------------------------------- */

/* A validator written from the definition, to check the fast one against. */
static bool reference_utf8(const uint8_t *s, size_t n, size_t *bad)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c < 0xc2 || c > 0xf4) { /* continuation, C0/C1 (only overlong), F5+ (> U+10FFFF) */
            *bad = i;
            return false;
        }
        size_t len = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        uint32_t cp = c & (0x7f >> len);
        for (size_t k = 1; k < len; k++) {
            if (i + k >= n) {
                *bad = i; /* truncated: the sequence's first byte */
                return false;
            }
            if ((s[i + k] & 0xc0) != 0x80) {
                *bad = i + k;
                return false;
            }
            cp = cp << 6 | (s[i + k] & 0x3f);
            if (k == 1 && len > 2) {
                /* lead + first continuation decide overlong, surrogate, too large */
                uint32_t lowest = cp << (6 * (len - 2));
                uint32_t highest = lowest | ((1u << (6 * (len - 2))) - 1);
                uint32_t min = len == 3 ? 0x800 : 0x10000;
                if (highest < min || (lowest >= 0xd800 && lowest <= 0xdfff) ||
                    lowest > 0x10ffff) {
                    *bad = i + 1;
                    return false;
                }
            }
        }
        i += len;
    }
    return true;
}

static void test_utf8_exhaustive(void)
{
    size_t mismatches = 0;
    uint8_t s[4];
    size_t bad_a = 0, bad_b = 0;
    for (unsigned a = 0; a < 256; a++) {
        s[0] = (uint8_t)a;
        for (unsigned b = 0; b < 256; b++) {
            s[1] = (uint8_t)b;
            for (size_t n = 1; n <= 2; n++) {
                bool x = ws_utf8_valid(s, n, &bad_a), y = reference_utf8(s, n, &bad_b);
                mismatches += x != y || (!x && bad_a != bad_b);
            }
            for (unsigned c = 0; c < 256; c++) {
                s[2] = (uint8_t)c;
                bool x = ws_utf8_valid(s, 3, &bad_a), y = reference_utf8(s, 3, &bad_b);
                mismatches += x != y || (!x && bad_a != bad_b);
            }
            if (a < 0xf0 || a > 0xf5)
                continue;
            static const uint8_t lasts[] = {0x41, 0x80, 0xbf, 0xc0};
            for (unsigned c = 0; c < 256; c++)
                for (size_t l = 0; l < 4; l++) {
                    s[2] = (uint8_t)c;
                    s[3] = lasts[l];
                    bool x = ws_utf8_valid(s, 4, &bad_a), y = reference_utf8(s, 4, &bad_b);
                    mismatches += x != y || (!x && bad_a != bad_b);
                }
        }
    }
    CU_ASSERT_EQUAL(mismatches, 0);
    /* boundaries by name */
    CU_ASSERT(ws_utf8_valid((const uint8_t *)"\xf4\x8f\xbf\xbf", 4, NULL));  /* U+10FFFF */
    CU_ASSERT(ws_utf8_valid((const uint8_t *)"\xed\x9f\xbf", 3, NULL));      /* U+D7FF */
    CU_ASSERT(ws_utf8_valid((const uint8_t *)"\xee\x80\x80", 3, NULL));      /* U+E000 */
    CU_ASSERT(ws_utf8_valid((const uint8_t *)"\xef\xbf\xbf", 3, NULL));      /* U+FFFF */
    CU_ASSERT(!ws_utf8_valid((const uint8_t *)"\xc1\xbf", 2, NULL));
    CU_ASSERT(ws_utf8_valid((const uint8_t *)"", 0, NULL));
}

/* Deterministic xorshift for the random tests. */
static uint32_t next_random(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* A random text of ASCII runs and characters of every length, with a rare invalid piece. */
static size_t random_text(uint32_t *rng, uint8_t *out, size_t cap)
{
    static const char *const valid[] = {
        "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x99\x82", "\xf4\x8f\xbf\xbf", "\xed\x9f\xbf",
        "\xee\x80\x80", "\xef\xbf\xbf", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xf0\x90\x80\x80",
    };
    static const char *const invalid[] = {
        "\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xf5\x80\x80\x80", "\xff", "\xe2\x82",
        "\xe0\x80\x80",
        "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf0\x8f\xbf\xbf", "\xc3", "\xf0\x9f\x99",
    };
    size_t n = 0, target = next_random(rng) % cap;
    while (n < target) {
        uint32_t r = next_random(rng);
        const char *piece;
        char ascii[48];
        if (r % 3 == 0) {
            size_t k = (r >> 8) % 47;
            for (size_t i = 0; i < k; i++)
                ascii[i] = (char)(' ' + (r >> (i % 24)) % 90);
            ascii[k] = '\0';
            piece = ascii;
        } else if (r % 97 == 1) {
            piece = invalid[(r >> 8) % (sizeof invalid / sizeof invalid[0])];
        } else {
            piece = valid[(r >> 8) % (sizeof valid / sizeof valid[0])];
        }
        size_t k = strlen(piece);
        if (n + k > cap)
            break;
        memcpy(out + n, piece, k);
        n += k;
    }
    return n;
}

/* The fast validator (word-at-a-time, and 32-byte blocks where the CPU has AVX2) against
 * the reference, each text in an allocation that ends where it ends, and as a message
 * parsed in random pieces. */
static void test_utf8_random_long(void)
{
    uint32_t rng = 2463534242u;
    int mismatches = 0;
    uint8_t text[700];
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = random_text(&rng, text, sizeof text);
        uint8_t *tight = malloc(n ? n : 1);
        memcpy(tight, text, n);
        size_t bad_a = 0, bad_b = 0;
        bool a = ws_utf8_valid(tight, n, &bad_a), b = reference_utf8(text, n, &bad_b);
        if (a != b || (!a && bad_a != bad_b)) {
            if (!mismatches)
                fprintf(stderr, "\n  iteration %d: n=%zu valid %d/%d at %zu/%zu\n", iter, n, a, b,
                        bad_a, bad_b);
            mismatches++;
        }
        free(tight);
        if (iter % 10)
            continue;
        buf frame_bytes = {0};
        frame(&frame_bytes, true, WS_OP_TEXT, (const char *)text, n, false);
        size_t cuts[3];
        for (size_t c = 0; c < 3; c++)
            cuts[c] = frame_bytes.len ? next_random(&rng) % frame_bytes.len : 0;
        for (size_t c = 1; c < 3; c++) /* sorted */
            for (size_t d = c; d > 0 && cuts[d - 1] > cuts[d]; d--) {
                size_t t = cuts[d];
                cuts[d] = cuts[d - 1];
                cuts[d - 1] = t;
            }
        char *log = parse_cuts(WS_ROLE_CLIENT, 0, (const uint8_t *)frame_bytes.data,
                               frame_bytes.len, cuts, 3);
        char expected[64];
        size_t head = frame_bytes.len - n;
        snprintf(expected, sizeof expected, "error(1007,11@%zu) ", bad_b + head);
        if (b ? strstr(log, "error") != NULL : strstr(log, expected) == NULL) {
            if (!mismatches)
                fprintf(stderr, "\n  iteration %d as a message: %s\n", iter, log);
            mismatches++;
        }
        free(log);
        buf_free(&frame_bytes);
    }
    CU_ASSERT_EQUAL(mismatches, 0);
}

/* A mixed text, every way into three fragments, every way into feeds: valid; then each byte
 * broken in turn: the error at the absolute offset of the first invalid byte, wherever the
 * fragment and feed boundaries fall. */
static void test_utf8_across_fragments_and_feeds(void)
{
    static const char text[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x99\x82z"; /* a é € 🙂 z */
    size_t n = LEN(text);
    for (size_t f1 = 0; f1 <= n; f1++)
        for (size_t f2 = f1; f2 <= n; f2++) {
            buf b = {0};
            frame(&b, false, WS_OP_TEXT, text, f1, false);
            frame(&b, false, WS_OP_CONTINUATION, text + f1, f2 - f1, false);
            frame(&b, true, WS_OP_CONTINUATION, text + f2, n - f2, false);
            buf exp = {0};
            buf_printf(&exp, "<1,%zu@0>start(1)[", f1);
            buf_append(&exp, text, f1);
            buf_printf(&exp, "<0,%zu@%zu>", f2 - f1, f1 + 2);
            buf_append(&exp, text + f1, f2 - f1);
            buf_printf(&exp, "<0F,%zu@%zu>", n - f2, f2 + 4);
            buf_append(&exp, text + f2, n - f2);
            buf_append_str(&exp, "]end ");
            check_splits(WS_ROLE_CLIENT, 0, (const uint8_t *)b.data, b.len, exp.data);
            buf_free(&exp);
            buf_free(&b);
        }
    for (size_t bad = 0; bad < n; bad++)
        for (size_t f1 = 0; f1 <= n; f1++) {
            char broken[sizeof text];
            memcpy(broken, text, sizeof text);
            broken[bad] = (char)((uint8_t)text[bad] >= 0x80 ? 'x' : 0xff);
            size_t at = 0;
            CU_ASSERT(!reference_utf8((const uint8_t *)broken, n, &at));
            buf b = {0};
            frame(&b, false, WS_OP_TEXT, broken, f1, false);
            frame(&b, true, WS_OP_CONTINUATION, broken + f1, n - f1, false);
            uint64_t abs = at + 2 + (at >= f1 ? 2 : 0); /* headers before that byte */
            char expected[64];
            snprintf(expected, sizeof expected, "error(1007,11@%llu) ", (unsigned long long)abs);
            char *log = parse_all(WS_ROLE_CLIENT, (const uint8_t *)b.data, b.len);
            CU_ASSERT(strstr(log, expected) != NULL);
            if (!strstr(log, expected))
                fprintf(stderr, "\n  bad=%zu f1=%zu: %s (expected %s)\n", bad, f1, log, expected);
            free(log);
            check_splits(WS_ROLE_CLIENT, 0, (const uint8_t *)b.data, b.len, NULL);
            buf_free(&b);
        }
}

/* ---- masking and the writer ------------------------------------------------------------- */

static void test_mask(void)
{
    static const uint8_t key[4] = {0xde, 0xad, 0xbe, 0xef};
    uint8_t src[100], dst[100], back[100];
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)(i * 7 + 3);
    int bad = 0;
    for (size_t pos = 0; pos < 8; pos++)
        for (size_t n = 0; n <= sizeof src; n++) {
            ws_mask(dst, src, n, key, pos);
            for (size_t i = 0; i < n; i++)
                bad += dst[i] != (src[i] ^ key[(pos + i) % 4]);
            memcpy(back, dst, n);
            ws_mask(back, back, n, key, pos); /* in place */
            bad += memcmp(back, src, n) != 0;
        }
    CU_ASSERT_EQUAL(bad, 0);
}

static void test_writer_exact_bytes(void)
{
    static const struct {
        size_t n;
        const char *head;
        size_t head_len;
    } cases[] = {
        {0, "\x82\x00", 2},
        {125, "\x82\x7d", 2},
        {126, "\x82\x7e\x00\x7e", 4},
        {65535, "\x82\x7e\xff\xff", 4},
        {65536, "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10},
    };
    static const uint8_t key[4] = {1, 2, 3, 4};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t n = cases[c].n;
        uint8_t *payload = malloc(n + 1);
        for (size_t i = 0; i < n; i++)
            payload[i] = (uint8_t)(i & 0xff);
        buf b = {0};
        CU_ASSERT_EQUAL(ws_write_frame(&b, true, 0, WS_OP_BINARY, false, NULL, payload, n), 0);
        CU_ASSERT_EQUAL(b.len, cases[c].head_len + n);
        CU_ASSERT(memcmp(b.data, cases[c].head, cases[c].head_len) == 0);
        CU_ASSERT(n == 0 || memcmp(b.data + cases[c].head_len, payload, n) == 0);
        buf_free(&b);
        /* masked: the mask bit, the key after the length, the payload XORed */
        CU_ASSERT_EQUAL(ws_write_frame(&b, true, 0, WS_OP_BINARY, true, key, payload, n), 0);
        CU_ASSERT_EQUAL(b.len, cases[c].head_len + 4 + n);
        CU_ASSERT_EQUAL((uint8_t)b.data[1], (uint8_t)cases[c].head[1] | 0x80);
        CU_ASSERT(memcmp(b.data + 2, cases[c].head + 2, cases[c].head_len - 2) == 0);
        CU_ASSERT(memcmp(b.data + cases[c].head_len, key, 4) == 0);
        int bad = 0;
        for (size_t i = 0; i < n; i++)
            bad += (uint8_t)b.data[cases[c].head_len + 4 + i] != (payload[i] ^ key[i % 4]);
        CU_ASSERT_EQUAL(bad, 0);
        buf_free(&b);
        free(payload);
    }
    /* invalid frames on purpose: RSV bits, reserved opcode, oversize ping, no FIN */
    buf b = {0};
    char big[200];
    memset(big, 'p', sizeof big);
    CU_ASSERT_EQUAL(ws_write_frame(&b, false, 7, 0xB, false, NULL, big, 126), 0);
    CU_ASSERT(memcmp(b.data, "\x7b\x7e\x00\x7e", 4) == 0);
    buf_reset(&b);
    CU_ASSERT_EQUAL(ws_write_frame(&b, true, 0, WS_OP_PING, true, NULL, "x", 1), -1);
    /* non-minimal lengths and a declared length that is a lie */
    ws_frame_spec f = {.fin = true, .opcode = WS_OP_TEXT, .length_form = WS_LEN_64,
                       .payload = "hi", .len = 2};
    CU_ASSERT_EQUAL(ws_write_frame_spec(&b, &f), 0);
    CU_ASSERT_EQUAL(b.len, 12);
    CU_ASSERT(memcmp(b.data, "\x81\x7f\x00\x00\x00\x00\x00\x00\x00\x02hi", 12) == 0);
    buf_reset(&b);
    f.length_form = WS_LEN_16;
    f.declare_length = true;
    f.declared_length = 5;
    CU_ASSERT_EQUAL(ws_write_frame_spec(&b, &f), 0);
    CU_ASSERT(memcmp(b.data, "\x81\x7e\x00\x05hi", 6) == 0);
    buf_reset(&b);
    f.length_form = WS_LEN_7;
    f.declared_length = 126;
    CU_ASSERT_EQUAL(ws_write_frame_spec(&b, &f), -1); /* does not fit in 7 bits */
    CU_ASSERT_EQUAL(b.len, 0);
    /* a full buffer leaves no half frame behind */
    buf small = {.limit = 8};
    CU_ASSERT_EQUAL(ws_write_frame(&small, true, 0, WS_OP_TEXT, false, NULL, "0123456789", 10),
                    -1);
    CU_ASSERT_EQUAL(small.len, 0);
    buf_free(&small);
    buf_free(&b);
}

static int counting_rng(void *ud, uint8_t *out, size_t n)
{
    unsigned *next = ud;
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(*next)++;
    return 0;
}

static int failing_rng(void *ud, uint8_t *out, size_t n)
{
    (void)ud;
    (void)out;
    (void)n;
    return -1;
}

static void test_client_frames_and_close_payloads(void)
{
    unsigned next = 0x10;
    buf b = {0};
    CU_ASSERT_EQUAL(ws_write_client_frame(&b, counting_rng, &next, true, WS_OP_TEXT, "hi", 2), 0);
    CU_ASSERT(memcmp(b.data, "\x81\x82\x10\x11\x12\x13", 6) == 0);
    CU_ASSERT_EQUAL((uint8_t)b.data[6], 'h' ^ 0x10);
    CU_ASSERT_EQUAL((uint8_t)b.data[7], 'i' ^ 0x11);
    /* fresh key each time */
    CU_ASSERT_EQUAL(ws_write_client_frame(&b, counting_rng, &next, true, WS_OP_TEXT, "", 0), 0);
    CU_ASSERT(memcmp(b.data + 8, "\x81\x80\x14\x15\x16\x17", 6) == 0);
    CU_ASSERT_EQUAL(ws_write_client_frame(&b, failing_rng, NULL, true, WS_OP_TEXT, "", 0), -1);
    char *log = parse_all(WS_ROLE_SERVER, (const uint8_t *)b.data, b.len);
    CU_ASSERT_STRING_EQUAL(log, "<1F,2@0>start(1)[hi]end <1F,0@8>start(1)[]end ");
    free(log);
    buf_free(&b);

    uint8_t p[WS_MAX_CONTROL_PAYLOAD];
    CU_ASSERT_EQUAL(ws_close_payload(p, 1001, "away", 4), 6);
    CU_ASSERT(memcmp(p, "\x03\xe9" "away", 6) == 0);
    CU_ASSERT_EQUAL(ws_close_payload(p, -1, "ignored", 7), 0);
    char reason[124];
    memset(reason, 'r', sizeof reason);
    CU_ASSERT_EQUAL(ws_close_payload(p, 1000, reason, 123), 125);
    CU_ASSERT_EQUAL(ws_close_payload(p, 1000, reason, 124), -1);

    ws_close_info ci;
    ws_error e;
    CU_ASSERT_EQUAL(ws_parse_close((const uint8_t *)"", 0, &ci, &e), 0);
    CU_ASSERT(!ci.has_code);
    CU_ASSERT_EQUAL(ws_parse_close((const uint8_t *)"\x03", 1, &ci, &e), -1);
    CU_ASSERT_EQUAL(e.kind, WS_ERR_CLOSE_ONE_BYTE);
    CU_ASSERT_EQUAL(e.code, 1002);
    CU_ASSERT_EQUAL(ws_parse_close((const uint8_t *)"\x0f\xa0" "ok", 4, &ci, &e), 0);
    CU_ASSERT(ci.has_code && ci.code == 4000 && ci.reason_len == 2 && !memcmp(ci.reason, "ok", 2));
    CU_ASSERT_EQUAL(ws_parse_close((const uint8_t *)"\x03\xe8" "a\xed\xa0\x80", 6, &ci, &e), -1);
    CU_ASSERT_EQUAL(e.kind, WS_ERR_CLOSE_REASON_UTF8);
    CU_ASSERT_EQUAL(e.code, 1007);
    CU_ASSERT_EQUAL(e.offset, 4);

    static const unsigned valid[] = {1000, 1001, 1002, 1003, 1007, 1010, 1011, 1014, 3000, 4999};
    static const unsigned invalid[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535};
    for (size_t i = 0; i < 10; i++) {
        CU_ASSERT(ws_close_code_valid(valid[i]));
        CU_ASSERT(!ws_close_code_valid(invalid[i]));
    }
    CU_ASSERT_STRING_EQUAL(ws_opcode_name(9), "ping");
    CU_ASSERT_STRING_EQUAL(ws_opcode_name(11), "opcode-11");
}

/* ---- handshake --------------------------------------------------------------------------- */

static void test_handshake_key_and_request(void)
{
    /* RFC 6455 section 1.3 */
    char key[WS_KEY_LEN + 1], accept[WS_ACCEPT_LEN + 1];
    ws_key_from_nonce((const uint8_t *)"the sample nonce", key);
    CU_ASSERT_STRING_EQUAL(key, "dGhlIHNhbXBsZSBub25jZQ==");
    CU_ASSERT_EQUAL(ws_accept_for_key(key, accept), 0);
    CU_ASSERT_STRING_EQUAL(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    uint8_t r1[16], r2[16];
    CU_ASSERT_EQUAL(ws_random_bytes(NULL, r1, 16), 0);
    CU_ASSERT_EQUAL(ws_random_bytes(NULL, r2, 16), 0);
    CU_ASSERT(memcmp(r1, r2, 16) != 0);

    static const char *const protocols[] = {"a", "b"};
    static const header_field extra[] = {{"X-Load", "1"}};
    ws_handshake_request req = {
        .host = "127.0.0.1:18080", .target = "/c/ws?x=1", .origin = "http://127.0.0.1:18080",
        .protocols = protocols, .n_protocols = 2, .user_agent = "UA", .cookie = "sid=abc",
        .extra = extra, .n_extra = 1,
    };
    buf b = {0};
    CU_ASSERT_EQUAL(ws_write_handshake(&b, &req, key), 0);
    CU_ASSERT_STRING_EQUAL(b.data,
                           "GET /c/ws?x=1 HTTP/1.1\r\n"
                           "Host: 127.0.0.1:18080\r\n"
                           "Connection: Upgrade\r\n"
                           "Pragma: no-cache\r\n"
                           "Cache-Control: no-cache\r\n"
                           "User-Agent: UA\r\n"
                           "Upgrade: websocket\r\n"
                           "Origin: http://127.0.0.1:18080\r\n"
                           "Sec-WebSocket-Version: 13\r\n"
                           "Accept-Encoding: gzip, deflate, br, zstd\r\n"
                           "Accept-Language: en-US,en;q=0.9\r\n"
                           "Cookie: sid=abc\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Protocol: a, b\r\n"
                           "X-Load: 1\r\n"
                           "\r\n");
    CU_ASSERT(strstr(b.data, "Sec-WebSocket-Extensions") == NULL);
    buf_reset(&b);
    ws_handshake_request bare = {.host = "h", .target = "/"};
    CU_ASSERT_EQUAL(ws_write_handshake(&b, &bare, key), 0);
    CU_ASSERT(strstr(b.data, "User-Agent: Mozilla/5.0 ") != NULL);
    CU_ASSERT(strstr(b.data, "Origin") == NULL && strstr(b.data, "Cookie") == NULL &&
              strstr(b.data, "Protocol") == NULL);
    buf_reset(&b);
    ws_handshake_request evil = {.host = "h", .target = "/", .cookie = "a\r\nX-Evil: 1"};
    CU_ASSERT_EQUAL(ws_write_handshake(&b, &evil, key), -1);
    CU_ASSERT_EQUAL(b.len, 0);
    ws_handshake_request evil_target = {.host = "h", .target = "/ HTTP/1.1\r\n"};
    CU_ASSERT_EQUAL(ws_write_handshake(&b, &evil_target, key), -1);
    buf_free(&b);

    char msg[200];
    static const char *const bad_token[] = {"ok", "a b"};
    static const char *const dup[] = {"a", "b", "a"};
    static const char *const empty[] = {""};
    CU_ASSERT(ws_protocols_valid(protocols, 2, msg, sizeof msg));
    CU_ASSERT(!ws_protocols_valid(bad_token, 2, msg, sizeof msg));
    CU_ASSERT_STRING_EQUAL(msg, "Failed to construct 'WebSocket': The subprotocol 'a b' is "
                                "invalid.");
    CU_ASSERT(!ws_protocols_valid(dup, 3, msg, sizeof msg));
    CU_ASSERT_STRING_EQUAL(msg, "Failed to construct 'WebSocket': The subprotocol 'a' is "
                                "duplicated.");
    CU_ASSERT(!ws_protocols_valid(empty, 1, msg, sizeof msg));
}

#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

typedef struct response_case {
    int status;
    header_field h[5];
    size_t n;
    int n_protocols; /* offers "a", "b" when 2 */
    const char *message; /* NULL = accepted */
    const char *protocol;
} response_case;

static void test_handshake_response_checks(void)
{
    static const response_case cases[] = {
        {101, {{"Upgrade", "websocket"}, {"Connection", "Upgrade"},
               {"Sec-WebSocket-Accept", ACCEPT}}, 3, 0, NULL, ""},
        {101, {{"upgrade", "WebSocket"}, {"CONNECTION", "keep-alive, upgrade"},
               {"sec-websocket-accept", " " ACCEPT " "}}, 3, 0, NULL, ""},
        {101, {{"Upgrade", "websocket"}, {"Connection", "Upgrade"},
               {"Sec-WebSocket-Accept", ACCEPT}, {"Sec-WebSocket-Protocol", "b"}}, 4, 2, NULL,
         "b"},
        {403, {{"Content-Type", "text/plain"}}, 1, 0,
         "Unexpected response code: 403", NULL},
        {200, {{"Upgrade", "websocket"}}, 1, 0, "Unexpected response code: 200", NULL},
        {101, {{"Connection", "Upgrade"}, {"Sec-WebSocket-Accept", ACCEPT}}, 2, 0,
         "'Upgrade' header is missing", NULL},
        {101, {{"Upgrade", "websocket"}, {"Upgrade", "websocket"}, {"Connection", "Upgrade"},
               {"Sec-WebSocket-Accept", ACCEPT}}, 4, 0,
         "'Upgrade' header must not appear more than once in a response", NULL},
        {101, {{"Upgrade", "websocket, h2c"}, {"Connection", "Upgrade"},
               {"Sec-WebSocket-Accept", ACCEPT}}, 3, 0,
         "'Upgrade' header must not appear more than once in a response", NULL},
        {101, {{"Upgrade", "h2c"}, {"Connection", "Upgrade"}, {"Sec-WebSocket-Accept", ACCEPT}},
         3, 0, "'Upgrade' header value is not 'WebSocket': h2c", NULL},
        {101, {{"Upgrade", "websocket"}, {"Connection", "Upgrade"}}, 2, 0,
         "'Sec-WebSocket-Accept' header is missing", NULL},
        {101, {{"Upgrade", "websocket"}, {"Connection", "Upgrade"},
               {"Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo"}}, 3, 0,
         "Incorrect 'Sec-WebSocket-Accept' header value", NULL},
        {101, {{"Upgrade", "websocket"}, {"Connection", "Upgrade"},
               {"Sec-WebSocket-Accept", ACCEPT}, {"Sec-WebSocket-Accept", ACCEPT}}, 4, 0,
         "'Sec-WebSocket-Accept' header must not appear more than once in a response", NULL},
        {101, {{"Upgrade", "websocket"}, {"Sec-WebSocket-Accept", ACCEPT}}, 2, 0,
         "'Connection' header is missing", NULL},
        {101, {{"Upgrade", "websocket"}, {"Connection", "keep-alive"},
               {"Sec-WebSocket-Accept", ACCEPT}}, 3, 0,
         "'Connection' header value must contain 'Upgrade'", NULL},
        {101, {{"Upgrade", "websocket"}, {"Connection", "Upgrade"},
               {"Sec-WebSocket-Accept", ACCEPT}, {"Sec-WebSocket-Protocol", "chat"}}, 4, 0,
         "Response must not include 'Sec-WebSocket-Protocol' header if not present in request: "
         "chat", NULL},
        {101, {{"Upgrade", "websocket"}, {"Connection", "Upgrade"},
               {"Sec-WebSocket-Accept", ACCEPT}, {"Sec-WebSocket-Protocol", "c"}}, 4, 2,
         "'Sec-WebSocket-Protocol' header value 'c' in response does not match any of sent "
         "values", NULL},
        {101, {{"Upgrade", "websocket"}, {"Connection", "Upgrade"},
               {"Sec-WebSocket-Accept", ACCEPT}}, 3, 2,
         "Sent non-empty 'Sec-WebSocket-Protocol' header but no response was received", NULL},
        {101, {{"Upgrade", "websocket"}, {"Connection", "Upgrade"},
               {"Sec-WebSocket-Accept", ACCEPT}, {"Sec-WebSocket-Protocol", "a, b"}}, 4, 2,
         "'Sec-WebSocket-Protocol' header must not appear more than once in a response", NULL},
        {101, {{"Upgrade", "websocket"}, {"Connection", "Upgrade"},
               {"Sec-WebSocket-Accept", ACCEPT},
               {"Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"}}, 4, 0,
         "Found an unsupported extension 'permessage-deflate' in 'Sec-WebSocket-Extensions' "
         "header", NULL},
        {101, {{"Upgrade", "websocket"}, {"Connection", "Upgrade"},
               {"Sec-WebSocket-Accept", ACCEPT}, {"Sec-WebSocket-Extensions", ";"}}, 4, 0,
         "'Sec-WebSocket-Extensions' header value is rejected by the parser: ;", NULL},
        /* Chromium's order: Upgrade before Accept before Connection */
        {101, {{"Upgrade", "x"}, {"Sec-WebSocket-Accept", "wrong"}}, 2, 0,
         "'Upgrade' header value is not 'WebSocket': x", NULL},
        {101, {{"Upgrade", "websocket"}, {"Sec-WebSocket-Accept", "wrong"}}, 2, 0,
         "Incorrect 'Sec-WebSocket-Accept' header value", NULL},
    };
    static const char *const offered[] = {"a", "b"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const response_case *c = &cases[i];
        ws_handshake_result res;
        ws_check_response(c->status, c->h, c->n, ACCEPT, offered, (size_t)c->n_protocols, &res);
        if (!c->message) {
            CU_ASSERT(res.ok);
            if (!res.ok)
                fprintf(stderr, "\n  case %zu rejected: %s\n", i, res.message);
            CU_ASSERT_STRING_EQUAL(res.protocol, c->protocol);
            continue;
        }
        char expected[600];
        snprintf(expected, sizeof expected, "Error during WebSocket handshake: %s", c->message);
        CU_ASSERT(!res.ok);
        if (strcmp(res.message, expected))
            fprintf(stderr, "\n  case %zu: %s\n", i, res.message);
        CU_ASSERT_STRING_EQUAL(res.message, expected);
    }
}

/* ---- close-code registry ------------------------------------------------------------------ */

#define REGISTRY_FILE "harness/proto/ws-close-codes.yaml"

static void test_close_registry_grades(void)
{
    ws_close_registry r;
    char err[512];
    int rc = ws_close_registry_load(&r, REGISTRY_FILE, err, sizeof err);
    if (rc)
        fprintf(stderr, "\n  %s\n", err);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    static const struct {
        unsigned code;
        bool from_server;
        ws_close_grade grade;
    } cases[] = {
        {0, true, WS_GRADE_FAIL}, {999, true, WS_GRADE_FAIL}, {1000, true, WS_GRADE_PASS},
        {1001, false, WS_GRADE_PASS}, {1003, true, WS_GRADE_PASS},
        {1004, true, WS_GRADE_NON_STRICT}, {1005, true, WS_GRADE_FAIL},
        {1006, false, WS_GRADE_FAIL}, {1007, true, WS_GRADE_PASS}, {1009, true, WS_GRADE_PASS},
        {1010, false, WS_GRADE_PASS}, {1010, true, WS_GRADE_NON_STRICT},
        {1011, true, WS_GRADE_PASS}, {1012, true, WS_GRADE_PASS}, {1014, true, WS_GRADE_PASS},
        {1015, true, WS_GRADE_FAIL}, {1016, true, WS_GRADE_FAIL}, {2999, true, WS_GRADE_FAIL},
        {3000, true, WS_GRADE_PASS}, {3999, true, WS_GRADE_PASS}, {4000, true, WS_GRADE_PASS},
        {4999, true, WS_GRADE_PASS}, {5000, true, WS_GRADE_INFORMATIONAL},
        {65535, true, WS_GRADE_INFORMATIONAL},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ws_close_grade g = ws_close_grade_code(&r, cases[i].code, cases[i].from_server, NULL);
        if (g != cases[i].grade) {
            fprintf(stderr, "\n  code %u: %s\n", cases[i].code, ws_close_grade_name(g));
            bad++;
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    /* every code agrees with the RFC's strict rule, except the registry's graded ones */
    for (unsigned code = 0; code <= 65535; code++) {
        const ws_close_entry *e = ws_close_lookup(&r, code);
        CU_ASSERT_FATAL(e != NULL);
        if (e->valid_on_wire != ws_close_code_valid(code))
            bad++;
    }
    CU_ASSERT_EQUAL(bad, 0);
    const ws_close_entry *e = ws_close_lookup(&r, 1012);
    CU_ASSERT_STRING_EQUAL(e->name, "Service Restart");
    CU_ASSERT_PTR_NULL(ws_close_lookup(&r, 65536));
    CU_ASSERT_STRING_EQUAL(ws_close_grade_name(WS_GRADE_NON_STRICT), "non-strict");
    ws_close_registry_free(&r);
}

static void test_close_registry_errors(void)
{
    static const struct {
        const char *yaml;
        const char *error;
    } cases[] = {
        {"codes:\n  - code: 1000\n    name: x\n    valid_on_wire: true\n    strictness: must\n"
         "    role: any\n    colour: red\n",
         "t.yaml:7:5: unknown key 'colour' (allowed: code, range, name, valid_on_wire, "
         "strictness, role, note)"},
        {"codes:\n  - code: 70000\n", "t.yaml:2:11: a close code is an integer from 0 to 65535"},
        {"codes:\n  - range: [10, 5]\n", "t.yaml:2:12: range [10, 5] ends before it starts"},
        {"codes:\n  - code: 1\n    code: 2\n", "t.yaml:3:5: key 'code' appears twice"},
        {"codes:\n  - code: 1\n    range: [1, 2]\n    name: x\n",
         "t.yaml:2:5: an entry has either code or range"},
        {"codes:\n  - code: 1\n    valid_on_wire: true\n",
         "t.yaml:2:5: missing key 'name'"},
        {"codes:\n  - code: 1\n    name: x\n    valid_on_wire: yes\n",
         "t.yaml:4:20: expected true or false"},
        {"codes:\n  - code: 1\n    name: x\n    valid_on_wire: true\n    strictness: may\n",
         "t.yaml:5:17: expected one of: must, should, info"},
        {"codes:\n  - range: [0, 65535]\n    name: x\n    valid_on_wire: true\n"
         "    strictness: must\n    role: everyone\n",
         "t.yaml:6:11: expected one of: any, client-only, server-only"},
        {"codes:\n  - range: [0, 1000]\n    name: a\n    valid_on_wire: true\n"
         "    strictness: must\n    role: any\n"
         "  - range: [1000, 65535]\n    name: b\n    valid_on_wire: true\n"
         "    strictness: must\n    role: any\n",
         "t.yaml:7:5: code 1000 is already covered by the entry at line 2"},
        {"codes:\n  - range: [0, 999]\n    name: a\n    valid_on_wire: true\n"
         "    strictness: must\n    role: any\n"
         "  - range: [3000, 65535]\n    name: b\n    valid_on_wire: true\n"
         "    strictness: must\n    role: any\n",
         "t.yaml:2:3: codes 1000-2999 are not covered by any entry"},
        {"codes:\n  - range: [0, 999]\n    name: a\n    valid_on_wire: true\n"
         "    strictness: must\n    role: any\n",
         "t.yaml:2:3: codes 1000-65535 are not covered by any entry"},
        {"codes: [\n", "t.yaml:2:1: YAML syntax error"},
        {"other: 1\n", "t.yaml:1:1: unknown key 'other' (allowed: codes)"},
        {"", "t.yaml:1:1: empty file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ws_close_registry r;
        char err[512] = "";
        int rc = ws_close_registry_parse(&r, "t.yaml", cases[i].yaml, strlen(cases[i].yaml), err,
                                         sizeof err);
        CU_ASSERT_EQUAL(rc, -1);
        bool ok = !strncmp(err, cases[i].error, strlen(cases[i].error));
        if (!ok)
            fprintf(stderr, "\n  case %zu: %s\n", i, err);
        CU_ASSERT(ok);
        CU_ASSERT_PTR_NULL(r.entries);
    }
    ws_close_registry r;
    char err[512];
    CU_ASSERT_EQUAL(ws_close_registry_load(&r, "/nonexistent/codes.yaml", err, sizeof err), -1);
    CU_ASSERT(strstr(err, "/nonexistent/codes.yaml:1:1: cannot open") == err);
}

/* ---- the WebSocket API model ---------------------------------------------------------------- */

#define URL "ws://127.0.0.1:18080/c/ws"
#define MS 1000

/* Page script, run from the hook: actions on open and on message. */
typedef struct script_action {
    const char *kind;   /* "close", "send", "send_bin" */
    int code;
    const char *data;   /* reason or payload; NULL = not passed */
    size_t len;
} script_action;

typedef struct fixture_ws {
    trace t;
    ws_model w;
    unsigned rng_next;
    const script_action *on_open;
    size_t n_on_open;
    bool close_on_message;
    buf written;        /* frames the browser wrote, decoded */
    recorder server;    /* parses what the browser wrote, as a server would */
} fixture_ws;

static void run_actions(ws_model *w, int64_t now, const script_action *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(a[i].kind, "close"))
            ws_close(w, now, a[i].code, a[i].data, a[i].len);
        else if (!strcmp(a[i].kind, "send"))
            ws_send_text(w, now, a[i].data, a[i].len);
        else
            ws_send_binary(w, now, a[i].data, a[i].len);
    }
}

static void model_hook(void *ud, ws_model *w, const trace_event *e)
{
    fixture_ws *f = ud;
    if (!strcmp(e->ev, "open"))
        run_actions(w, e->t_us, f->on_open, f->n_on_open);
    if (!strcmp(e->ev, "message") && f->close_on_message)
        ws_close(w, e->t_us, 1000, NULL, 0);
}

/* Frames the browser wrote, as the server sees them (masked, decoded by a server parser). */
static void srv_start(void *ud, int opcode)
{
    fixture_ws *f = (fixture_ws *)((char *)ud - offsetof(fixture_ws, server));
    buf_append_str(&f->written, opcode == WS_OP_TEXT ? "text('" : "binary(");
}

static void srv_data(void *ud, const uint8_t *d, size_t n)
{
    fixture_ws *f = (fixture_ws *)((char *)ud - offsetof(fixture_ws, server));
    for (size_t i = 0; i < n; i++)
        buf_printf(&f->written, f->server.p.msg_opcode == WS_OP_TEXT ? "%c" : "%02x", d[i]);
}

static void srv_end(void *ud)
{
    fixture_ws *f = (fixture_ws *)((char *)ud - offsetof(fixture_ws, server));
    buf_append_str(&f->written, f->server.p.msg_opcode == WS_OP_TEXT ? "') " : ") ");
}

static void srv_control(void *ud, int opcode, const uint8_t *p, size_t n)
{
    fixture_ws *f = (fixture_ws *)((char *)ud - offsetof(fixture_ws, server));
    if (opcode == WS_OP_CLOSE && n >= 2) {
        buf_printf(&f->written, "close(%d,'%.*s') ", p[0] << 8 | p[1], (int)n - 2, p + 2);
    } else if (opcode == WS_OP_CLOSE) {
        buf_append_str(&f->written, "close() ");
    } else {
        buf_append_str(&f->written, opcode == WS_OP_PING ? "ping(" : "pong(");
        for (size_t i = 0; i < n; i++)
            buf_printf(&f->written, "%02x", p[i]);
        buf_append_str(&f->written, ") ");
    }
}

static void srv_error(void *ud, const ws_error *e)
{
    fixture_ws *f = (fixture_ws *)((char *)ud - offsetof(fixture_ws, server));
    buf_printf(&f->written, "ERROR(%s) ", e->message);
}

/* Takes what the browser wrote since last time. */
static void drain(fixture_ws *f)
{
    ws_parse(&f->server.p, (const uint8_t *)f->w.out.data, f->w.out.len);
    ws_output_written(&f->w, f->w.out.len);
}

static void ws_setup_opts(fixture_ws *f, const char *const *protocols, size_t n_protocols,
                          const ws_close_registry *registry, uint64_t max_message)
{
    memset(f, 0, sizeof *f);
    trace_init(&f->t);
    f->rng_next = 1;
    ws_options o = {.url = URL, .rng = counting_rng, .rng_ud = &f->rng_next,
                    .registry = registry, .max_message = max_message};
    ws_init(&f->w, &f->t, model_hook, f, &o);
    static const ws_parser_callbacks cb = {NULL, srv_start, srv_data, srv_end, srv_control,
                                           srv_error};
    ws_parser_init(&f->server.p, WS_ROLE_SERVER, &cb, &f->server);
    ws_handshake_request req = {.host = "127.0.0.1:18080", .target = "/c/ws",
                                .origin = "http://127.0.0.1:18080", .protocols = protocols,
                                .n_protocols = n_protocols};
    CU_ASSERT_EQUAL(ws_connect(&f->w, 0, &req), 0);
    CU_ASSERT(f->w.out.len > 0 && !strncmp(f->w.out.data, "GET /c/ws HTTP/1.1\r\n", 20));
    ws_output_written(&f->w, f->w.out.len); /* the request head */
}

static void ws_setup(fixture_ws *f)
{
    ws_setup_opts(f, NULL, 0, NULL, 0);
}

static void ws_teardown(fixture_ws *f)
{
    ws_free(&f->w);
    trace_free(&f->t);
    buf_free(&f->written);
}

/* The server accepts: 101 with the right Sec-WebSocket-Accept. */
static void accept_handshake(fixture_ws *f, int64_t t, const char *protocol)
{
    header_field h[4] = {{"Upgrade", "websocket"}, {"Connection", "Upgrade"},
                         {"Sec-WebSocket-Accept", f->w.accept},
                         {"Sec-WebSocket-Protocol", (char *)protocol}};
    ws_handshake_response(&f->w, t, 101, h, protocol ? 4 : 3);
    drain(f);
}

static void server_sends(fixture_ws *f, int64_t t, const char *bytes, size_t len)
{
    ws_receive(&f->w, t, (const uint8_t *)bytes, len);
    drain(f);
}

/* Renders the page's events as ../shared/browser-truth/summarize.py does. */
static char *render_page(const trace *t)
{
    buf b = {0};
    for (size_t i = 0; i < t->n; i++) {
        const trace_event *e = &t->events[i];
        const char *ev = e->ev;
        if (strcmp(ev, "constructed") && strcmp(ev, "open") && strcmp(ev, "message") &&
            strcmp(ev, "error") && strcmp(ev, "close") && strncmp(ev, "call:", 5))
            continue;
        if (b.len)
            buf_append(&b, " ", 1);
        buf_append_str(&b, ev);
        if (!strcmp(ev, "open") && e->text && *e->text)
            buf_printf(&b, "[%s]", e->text);
        if (!strcmp(ev, "message") && !strcmp(e->type, "text"))
            buf_printf(&b, "('%s',%llu)", e->text, (unsigned long long)e->len);
        else if (!strcmp(ev, "message"))
            buf_printf(&b, "[binary:'%s',%llu]", e->text, (unsigned long long)e->len);
        if (!strcmp(ev, "close"))
            buf_printf(&b, "(%d,'%s',clean=%s)", e->code, e->reason,
                       e->was_clean ? "True" : "False");
        if (!strcmp(ev, "call:send"))
            buf_printf(&b, "(%llu)", (unsigned long long)e->len);
        if (!strncmp(ev, "call:", 5) && (e->fields & TF_DETAIL))
            buf_printf(&b, "!%s", e->type);
        if (e->fields & TF_RS)
            buf_printf(&b, "/rs%d", e->rs);
    }
    return buf_take(&b);
}

static void expect_page(fixture_ws *f, const char *expected)
{
    char *got = render_page(&f->t);
    if (strcmp(got, expected))
        fprintf(stderr, "\n  expected: %s\n  observed: %s\n", expected, got);
    CU_ASSERT_STRING_EQUAL(got, expected);
    free(got);
}

static void expect_written(fixture_ws *f, const char *expected)
{
    const char *got = f->written.data ? f->written.data : "";
    if (strcmp(got, expected))
        fprintf(stderr, "\n  expected frames: %s\n  observed frames: %s\n", expected, got);
    CU_ASSERT_STRING_EQUAL(got, expected);
}

static const trace_event *find_event(const trace *t, const char *ev)
{
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->events[i].ev, ev))
            return &t->events[i];
    return NULL;
}

static void expect_console(fixture_ws *f, const char *why)
{
    const trace_event *e = find_event(&f->t, "console");
    char expected[512];
    snprintf(expected, sizeof expected, "WebSocket connection to '" URL "' failed: %s", why);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    if (strcmp(e->detail, expected))
        fprintf(stderr, "\n  console: %s\n", e->detail);
    CU_ASSERT_STRING_EQUAL(e->detail, expected);
}

/* ws-server-close-1001 / -1012 / -4999: echoed, then clean once the server closes TCP. */
static void test_model_server_close_codes(void)
{
    static const struct {
        const char *frame;
        size_t len;
        const char *page;
        const char *written;
    } cases[] = {
        {"\x88\x06\x03\xe9" "away", 8,
         "constructed/rs0 open/rs1 close(1001,'away',clean=True)/rs3", "close(1001,'away') "},
        {"\x88\x09\x03\xf4" "restart", 11,
         "constructed/rs0 open/rs1 close(1012,'restart',clean=True)/rs3", "close(1012,'restart') "},
        {"\x88\x09\x13\x87" "max app", 11,
         "constructed/rs0 open/rs1 close(4999,'max app',clean=True)/rs3", "close(4999,'max app') "},
        /* invalid by the RFC, passed through by Chromium */
        {"\x88\x03\x03\xe7" "x", 5, "constructed/rs0 open/rs1 close(999,'x',clean=True)/rs3",
         "close(999,'x') "},
        {"\x88\x03\x03\xf8" "x", 5, "constructed/rs0 open/rs1 close(1016,'x',clean=True)/rs3",
         "close(1016,'x') "},
        {"\x88\x03\x03\xec" "x", 5, "constructed/rs0 open/rs1 close(1004,'x',clean=True)/rs3",
         "close(1004,'x') "},
        {"\x88\x03\x0b\xb7" "x", 5, "constructed/rs0 open/rs1 close(2999,'x',clean=True)/rs3",
         "close(2999,'x') "},
        {"\x88\x03\x13\x88" "x", 5, "constructed/rs0 open/rs1 close(5000,'x',clean=True)/rs3",
         "close(5000,'x') "},
        /* no code: an empty echo, and 1005 in the close event */
        {"\x88\x00", 2, "constructed/rs0 open/rs1 close(1005,'',clean=True)/rs3", "close() "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fixture_ws f;
        ws_setup(&f);
        accept_handshake(&f, 5 * MS, NULL);
        CU_ASSERT_EQUAL(f.w.ready_state, WS_OPEN);
        server_sends(&f, 55 * MS, cases[i].frame, cases[i].len);
        CU_ASSERT_EQUAL(f.w.ready_state, WS_CLOSING);
        CU_ASSERT(!f.w.closed && !f.w.want_tcp_close);
        CU_ASSERT_EQUAL(ws_next_timer(&f.w), 55 * MS + WS_TCP_CLOSE_TIMEOUT_US);
        ws_tcp_closed(&f.w, 70 * MS, true);
        CU_ASSERT(f.w.closed);
        CU_ASSERT_EQUAL(ws_next_timer(&f.w), -1);
        expect_page(&f, cases[i].page);
        expect_written(&f, cases[i].written);
        ws_teardown(&f);
    }
}

/* ws-server-close-wire-1005, ws-server-close-1byte and their kin: the connection fails. */
static void test_model_broken_close_frames(void)
{
    static const struct {
        const char *frame;
        size_t len;
        const char *console;
        const char *written;
    } cases[] = {
        {"\x88\x03\x03\xed" "x", 5,
         "Received a broken close frame containing a reserved status code.", "close(1002,'') "},
        {"\x88\x02\x03\xee", 4,
         "Received a broken close frame containing a reserved status code.", "close(1002,'') "},
        {"\x88\x02\x03\xf7", 4,
         "Received a broken close frame containing a reserved status code.", "close(1002,'') "},
        {"\x88\x01\x03", 3, "Received a broken close frame with an invalid size of 1 byte.",
         "close(1002,'') "},
        {"\x88\x04\x03\xe8\xc3\x28", 6, "Received a broken close frame containing invalid UTF-8.",
         "close(1002,'Invalid UTF-8 in Close frame') "},
        /* reserved code wins over a bad reason, as in Chromium's ParseClose */
        {"\x88\x03\x03\xed\xff", 5,
         "Received a broken close frame containing a reserved status code.", "close(1002,'') "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fixture_ws f;
        ws_setup(&f);
        accept_handshake(&f, 5 * MS, NULL);
        server_sends(&f, 55 * MS, cases[i].frame, cases[i].len);
        expect_page(&f, "constructed/rs0 open/rs1 error/rs3 close(1006,'',clean=False)/rs3");
        expect_written(&f, cases[i].written);
        expect_console(&f, cases[i].console);
        CU_ASSERT(f.w.want_tcp_close && f.w.closed);
        CU_ASSERT_PTR_NOT_NULL(find_event(&f.t, "finding"));
        ws_tcp_closed(&f.w, 60 * MS, true); /* nothing more */
        expect_page(&f, "constructed/rs0 open/rs1 error/rs3 close(1006,'',clean=False)/rs3");
        ws_teardown(&f);
    }
}

/* Protocol errors from the server: Chromium's console message and close reason. */
static void test_model_protocol_errors(void)
{
    static const struct {
        const char *bytes;
        size_t len;
        const char *console;
        const char *written;
    } cases[] = {
        /* ws-reserved-opcode-b */
        {"\x8b\x01x", 3, "Unrecognized frame opcode: 11", "close(1002,'Unknown opcode') "},
        /* ws-ping-126-bytes */
        {"\x89\x7e\x00\x7e", 4, "Invalid frame header", "close(1002,'WebSocket Protocol Error') "},
        /* ws-continuation-without-start */
        {"\x80\x01x", 3, "Received unexpected continuation frame.",
         "close(1002,'Unexpected continuation') "},
        /* ws-new-message-mid-fragment */
        {"\x01\x01" "a\x81\x01" "b", 6,
         "Received start of new message but previous message is unfinished.",
         "close(1002,'Previous data frame unfinished') "},
        {"\x81\x02\xc3\x28", 4, "Could not decode a text frame as UTF-8.",
         "close(1002,'Invalid UTF-8 in text frame') "},
        {"\x81\x81\x01\x02\x03\x04x", 7,
         "A server must not mask any frames that it sends to the client.",
         "close(1002,'Masked frame from server') "},
        {"\xc1\x01x", 3, "One or more reserved bits are on: reserved1 = 1, reserved2 = 0, "
                         "reserved3 = 0", "close(1002,'Invalid reserved bit') "},
        {"\x82\x7e\x00\x01x", 5, "Invalid frame header",
         "close(1002,'WebSocket Protocol Error') "},
        {"\x09\x00", 2, "Invalid frame header", "close(1002,'WebSocket Protocol Error') "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fixture_ws f;
        ws_setup(&f);
        accept_handshake(&f, 5 * MS, NULL);
        server_sends(&f, 7 * MS, cases[i].bytes, cases[i].len);
        expect_page(&f, "constructed/rs0 open/rs1 error/rs3 close(1006,'',clean=False)/rs3");
        expect_written(&f, cases[i].written);
        expect_console(&f, cases[i].console);
        CU_ASSERT(f.w.want_tcp_close);
        const trace_event *fd = find_event(&f.t, "finding");
        CU_ASSERT_PTR_NOT_NULL(fd);
        ws_teardown(&f);
    }
}

/* ws-text-message, ws-binary-message, ws-fragmented-text (pong for the ping inside). */
static void test_model_messages(void)
{
    fixture_ws f;
    ws_setup(&f);
    accept_handshake(&f, 13 * MS, NULL);
    server_sends(&f, 14 * MS, "\x81\x06h\xc3\xa9llo", 8);
    server_sends(&f, 17 * MS, "\x82\x04\x00\x01\xfe\xff", 6);
    server_sends(&f, 18 * MS, "\x01\x02he\x89\x05ping!\x00\x02ll\x80\x01o", 18);
    server_sends(&f, 19 * MS, "\x81\x04\xf0\x9f\x99\x82", 6); /* one astral: 2 units */
    server_sends(&f, 63 * MS, "\x88\x02\x03\xe8", 4);
    ws_tcp_closed(&f.w, 80 * MS, true);
    expect_page(&f, "constructed/rs0 open/rs1 message('h\xc3\xa9llo',5)/rs1 "
                    "message[binary:'0001feff',4]/rs1 message('hello',5)/rs1 "
                    "message('\xf0\x9f\x99\x82',2)/rs1 close(1000,'',clean=True)/rs3");
    expect_written(&f, "pong(70696e6721) close(1000,'') ");
    const trace_event *m = find_event(&f.t, "message");
    CU_ASSERT_STRING_EQUAL(m->origin, "ws://127.0.0.1:18080");
    ws_teardown(&f);
}

/* A text message longer than the trace cap: cut at a character, full length counted. */
static void test_model_message_cap(void)
{
    fixture_ws f;
    ws_setup(&f);
    f.t.text_cap = 5;
    accept_handshake(&f, 1, NULL);
    server_sends(&f, 2, "\x81\x08" "abcd\xc3\xa9" "ef", 10);
    server_sends(&f, 3, "\x82\x05\x01\x02\x03\x04\x05", 7);
    const trace_event *m = find_event(&f.t, "message");
    CU_ASSERT_STRING_EQUAL(m->text, "abcd");
    CU_ASSERT(m->text_truncated);
    CU_ASSERT_EQUAL(m->len, 7);
    m = &f.t.events[f.t.n - 1];
    CU_ASSERT_STRING_EQUAL(m->ev, "message");
    CU_ASSERT_STRING_EQUAL(m->text, "0102");
    CU_ASSERT(m->text_truncated);
    CU_ASSERT_EQUAL(m->len, 5);
    ws_teardown(&f);
}

/* ws-server-close-hold-tcp: Chromium closes TCP 2 s after the closing handshake, clean. */
static void test_model_hold_tcp(void)
{
    fixture_ws f;
    ws_setup(&f);
    accept_handshake(&f, 6 * MS, NULL);
    server_sends(&f, 57 * MS, "\x88\x06\x03\xe8hold", 8);
    expect_written(&f, "close(1000,'hold') ");
    int64_t t = ws_next_timer(&f.w);
    CU_ASSERT_EQUAL(t, 57 * MS + 2000 * MS);
    ws_timer(&f.w, t - 1);
    CU_ASSERT(!f.w.closed);
    ws_timer(&f.w, t);
    CU_ASSERT(f.w.closed && f.w.want_tcp_close);
    expect_page(&f, "constructed/rs0 open/rs1 close(1000,'hold',clean=True)/rs3");
    ws_teardown(&f);
}

/* ws-abrupt-fin: no close frame, no error event. */
static void test_model_abrupt_fin(void)
{
    fixture_ws f;
    ws_setup(&f);
    accept_handshake(&f, 9 * MS, NULL);
    server_sends(&f, 10 * MS, "\x81\x02", 2); /* half a frame, then FIN */
    ws_tcp_closed(&f.w, 112 * MS, true);
    expect_page(&f, "constructed/rs0 open/rs1 close(1006,'',clean=False)/rs3");
    expect_written(&f, "");
    CU_ASSERT(!f.w.want_tcp_close);
    ws_teardown(&f);
}

/* ws-client-close-server-fin and ws-client-close-invalid-code. */
static void test_model_client_close(void)
{
    static const script_action bye[] = {{"close", 1000, "bye", 3}};
    fixture_ws f;
    ws_setup(&f);
    f.on_open = bye;
    f.n_on_open = 1;
    accept_handshake(&f, 8 * MS, NULL);
    CU_ASSERT_EQUAL(ws_next_timer(&f.w), 8 * MS + WS_CLOSING_HANDSHAKE_TIMEOUT_US);
    ws_tcp_closed(&f.w, 11 * MS, true);
    expect_page(&f, "constructed/rs0 open/rs1 call:close/rs2 close(1006,'',clean=False)/rs3");
    expect_written(&f, "close(1000,'bye') ");
    ws_teardown(&f);

    static const script_action invalid_then_3000[] = {{"close", 1001, NULL, 0},
                                                      {"close", 3000, NULL, 0}};
    ws_setup(&f);
    f.on_open = invalid_then_3000;
    f.n_on_open = 2;
    accept_handshake(&f, 4 * MS, NULL);
    server_sends(&f, 5 * MS, "\x88\x02\x0b\xb8", 4); /* the server's echo */
    CU_ASSERT_EQUAL(ws_next_timer(&f.w), 5 * MS + WS_TCP_CLOSE_TIMEOUT_US);
    ws_tcp_closed(&f.w, 6 * MS, true);
    expect_page(&f, "constructed/rs0 open/rs1 call:close!InvalidAccessError/rs1 "
                    "call:close/rs2 close(3000,'',clean=True)/rs3");
    expect_written(&f, "close(3000,'') ");
    const trace_event *c = find_event(&f.t, "call:close");
    CU_ASSERT_STRING_EQUAL(c->detail, "Failed to execute 'close' on 'WebSocket': The close code "
                                      "must be either 1000, or between 3000 and 4999. 1001 is "
                                      "neither.");
    CU_ASSERT_EQUAL(c->code, 1001);
    ws_teardown(&f);

    /* no answer within 60 s */
    static const script_action plain[] = {{"close", 1000, NULL, 0}};
    ws_setup(&f);
    f.on_open = plain;
    f.n_on_open = 1;
    accept_handshake(&f, 1 * MS, NULL);
    ws_timer(&f.w, 1 * MS + WS_CLOSING_HANDSHAKE_TIMEOUT_US);
    expect_page(&f, "constructed/rs0 open/rs1 call:close/rs2 close(1006,'',clean=False)/rs3");
    CU_ASSERT(f.w.want_tcp_close);
    ws_teardown(&f);
}

/* ws-client-send and ws-echo-roundtrip: bufferedAmount and the frames on the wire. */
static void test_model_client_send(void)
{
    static const script_action actions[] = {
        {"send", 0, "hi", 2}, {"send_bin", 0, "\x01\x02\xff", 3}, {"close", 1000, "x", 1}};
    fixture_ws f;
    ws_setup(&f);
    f.on_open = actions;
    f.n_on_open = 3;
    accept_handshake(&f, 5 * MS, NULL);
    CU_ASSERT_EQUAL(ws_buffered_amount(&f.w), 0); /* drained: written */
    server_sends(&f, 8 * MS, "\x88\x03\x03\xe8x", 5);
    ws_tcp_closed(&f.w, 9 * MS, true);
    expect_page(&f, "constructed/rs0 open/rs1 call:send(2)/rs1 call:send(5)/rs1 "
                    "call:close/rs2 close(1000,'x',clean=True)/rs3");
    expect_written(&f, "text('hi') binary(0102ff) close(1000,'x') ");
    ws_teardown(&f);

    static const script_action ping[] = {{"send", 0, "ping", 4}};
    ws_setup(&f);
    f.on_open = ping;
    f.n_on_open = 1;
    accept_handshake(&f, 6 * MS, NULL);
    server_sends(&f, 310 * MS, "\x81\x04pong\x88\x02\x03\xe8", 10);
    ws_tcp_closed(&f.w, 311 * MS, true);
    expect_page(&f, "constructed/rs0 open/rs1 call:send(4)/rs1 message('pong',4)/rs1 "
                    "close(1000,'',clean=True)/rs3");
    expect_written(&f, "text('ping') close(1000,'') ");
    ws_teardown(&f);
}

/* ws-subprotocol-ok and ws-handshake-403. */
static void test_model_handshake(void)
{
    static const char *const ab[] = {"a", "b"};
    fixture_ws f;
    ws_setup_opts(&f, ab, 2, NULL, 0);
    accept_handshake(&f, 10 * MS, "b");
    server_sends(&f, 60 * MS, "\x88\x02\x03\xe8", 4);
    ws_tcp_closed(&f.w, 61 * MS, true);
    expect_page(&f, "constructed/rs0 open[b]/rs1 close(1000,'',clean=True)/rs3");
    ws_final(&f.w, 62 * MS);
    CU_ASSERT_STRING_EQUAL(f.t.events[f.t.n - 1].text, "b");
    ws_teardown(&f);

    ws_setup(&f);
    header_field h[] = {{"Content-Type", "text/plain"}};
    ws_handshake_response(&f.w, 6 * MS, 403, h, 1);
    expect_page(&f, "constructed/rs0 error/rs3 close(1006,'',clean=False)/rs3");
    expect_console(&f, "Error during WebSocket handshake: Unexpected response code: 403");
    CU_ASSERT(f.w.want_tcp_close);
    ws_teardown(&f);

    /* the server never answers */
    ws_setup(&f);
    ws_tcp_closed(&f.w, 6 * MS, true);
    expect_page(&f, "constructed/rs0 error/rs3 close(1006,'',clean=False)/rs3");
    expect_console(&f, "Connection closed before receiving a handshake response");
    ws_teardown(&f);

    /* the constructor throws on duplicated subprotocols: nothing on the wire */
    static const char *const dup[] = {"a", "a"};
    memset(&f, 0, sizeof f);
    trace_init(&f.t);
    ws_options o = {.url = URL};
    ws_init(&f.w, &f.t, NULL, NULL, &o);
    ws_handshake_request req = {.host = "h", .target = "/", .protocols = dup, .n_protocols = 2};
    CU_ASSERT_EQUAL(ws_connect(&f.w, 0, &req), -1);
    CU_ASSERT(f.w.closed && f.w.out.len == 0);
    expect_page(&f, "call:constructor!SyntaxError");
    ws_teardown(&f);
}

/* Chromium's state rules after close() and after the closing handshake. */
static void test_model_after_close(void)
{
    /* after close(): messages ignored, pings unanswered, even invalid text goes unnoticed */
    static const script_action close_now[] = {{"close", 1000, NULL, 0}};
    fixture_ws f;
    ws_setup(&f);
    f.on_open = close_now;
    f.n_on_open = 1;
    accept_handshake(&f, 1 * MS, NULL);
    server_sends(&f, 2 * MS, "\x81\x01" "a\x89\x01p\x81\x01\xff\x88\x02\x03\xe8", 13);
    ws_tcp_closed(&f.w, 3 * MS, true);
    expect_page(&f, "constructed/rs0 open/rs1 call:close/rs2 close(1000,'',clean=True)/rs3");
    expect_written(&f, "close(1000,'') ");
    ws_teardown(&f);

    /* close() from a message listener: the next message is not delivered */
    ws_setup(&f);
    f.close_on_message = true;
    accept_handshake(&f, 1 * MS, NULL);
    server_sends(&f, 2 * MS, "\x81\x01" "a\x81\x01" "b", 6);
    expect_page(&f, "constructed/rs0 open/rs1 message('a',1)/rs1 call:close/rs2");
    CU_ASSERT_EQUAL(f.w.ready_state, WS_CLOSING);
    expect_written(&f, "close(1000,'') ");
    ws_teardown(&f);

    /* any frame after the server's close fails the connection, with no second close */
    ws_setup(&f);
    accept_handshake(&f, 1 * MS, NULL);
    server_sends(&f, 2 * MS, "\x88\x02\x03\xe8\x81\x01z", 7);
    expect_page(&f, "constructed/rs0 open/rs1 error/rs3 close(1006,'',clean=False)/rs3");
    expect_written(&f, "close(1000,'') ");
    expect_console(&f, "Data frame received after close");
    ws_teardown(&f);

    /* a reset after the closing handshake: the server's code, not clean */
    ws_setup(&f);
    accept_handshake(&f, 1 * MS, NULL);
    server_sends(&f, 2 * MS, "\x88\x02\x0f\xa0", 4);
    ws_tcp_closed(&f.w, 3 * MS, false);
    expect_page(&f, "constructed/rs0 open/rs1 close(4000,'',clean=False)/rs3");
    ws_teardown(&f);
}

static void test_model_api_rules(void)
{
    /* send() while connecting throws; close() while connecting fails the connection */
    fixture_ws f;
    ws_setup(&f);
    ws_send_text(&f.w, 1 * MS, "x", 1);
    ws_close(&f.w, 2 * MS, -1, NULL, 0);
    CU_ASSERT(f.w.want_tcp_close);
    CU_ASSERT_EQUAL(ws_next_timer(&f.w), 2 * MS);
    ws_timer(&f.w, 2 * MS);
    expect_page(&f, "constructed/rs0 call:send(0)!InvalidStateError/rs0 call:close/rs2 "
                    "error/rs3 close(1006,'',clean=False)/rs3");
    expect_console(&f, "WebSocket is closed before the connection is established.");
    /* a late response is ignored */
    accept_handshake(&f, 3 * MS, NULL);
    expect_written(&f, "");
    ws_teardown(&f);

    /* reason over 123 bytes; send() after close() counts in bufferedAmount only */
    char reason[124];
    memset(reason, 'r', sizeof reason);
    ws_setup(&f);
    accept_handshake(&f, 1 * MS, NULL);
    ws_close(&f.w, 2 * MS, 1000, reason, 124);
    ws_close(&f.w, 2 * MS, 4000, "\xc3\xa9", 2);
    ws_send_text(&f.w, 3 * MS, "abc", 3);
    ws_close(&f.w, 4 * MS, 1000, NULL, 0); /* already closing: nothing */
    drain(&f);
    expect_page(&f, "constructed/rs0 open/rs1 call:close!SyntaxError/rs1 call:close/rs2 "
                    "call:send(3)/rs2 call:close/rs2");
    expect_written(&f, "close(4000,'\xc3\xa9') ");
    CU_ASSERT_EQUAL(ws_buffered_amount(&f.w), 3);
    ws_teardown(&f);

    /* close() without a code sends an empty payload, even with a reason (Chromium) */
    ws_setup(&f);
    accept_handshake(&f, 1 * MS, NULL);
    ws_close(&f.w, 2 * MS, -1, "why", 3);
    drain(&f);
    expect_written(&f, "close() ");
    ws_teardown(&f);

    /* invalid UTF-8 given to send(): U+FFFD, as a USVString */
    ws_setup(&f);
    accept_handshake(&f, 1 * MS, NULL);
    ws_send_text(&f.w, 2 * MS, "a\xff", 2);
    drain(&f);
    expect_written(&f, "text('a\xef\xbf\xbd') ");
    ws_teardown(&f);
}

static void test_model_harness_actions(void)
{
    fixture_ws f;
    ws_setup(&f);
    CU_ASSERT_EQUAL(ws_send_ping(&f.w, 0, "x", 1), -1); /* not connected yet */
    accept_handshake(&f, 1 * MS, NULL);
    CU_ASSERT_EQUAL(ws_send_ping(&f.w, 2 * MS, "hb", 2), 0);
    char big[126] = {0};
    CU_ASSERT_EQUAL(ws_send_ping(&f.w, 2 * MS, big, 126), -1);
    ws_frame_spec raw = {.fin = true, .rsv = 4, .opcode = 0xB, .mask = false, .payload = "r",
                         .len = 1};
    CU_ASSERT_EQUAL(ws_send_raw(&f.w, 3 * MS, &raw), 0);
    /* the server parser sees the invalid frame for what it is */
    drain(&f);
    expect_written(&f, "ping(6862) ERROR(unmasked frame from the client) ");
    /* a raw close starts the closing handshake */
    ws_parser_callbacks cb = f.server.p.cb;
    ws_parser_init(&f.server.p, WS_ROLE_SERVER, &cb, &f.server);
    ws_frame_spec close_frame = {.fin = true, .opcode = WS_OP_CLOSE, .mask = true,
                                 .key = {9, 9, 9, 9}, .payload = "\x03\xe8", .len = 2};
    CU_ASSERT_EQUAL(ws_send_raw(&f.w, 4 * MS, &close_frame), 0);
    CU_ASSERT_EQUAL(f.w.ready_state, WS_CLOSING);
    const trace_event *e = &f.t.events[f.t.n - 1];
    CU_ASSERT_STRING_EQUAL(e->ev, "frame-out");
    CU_ASSERT_STRING_EQUAL(e->detail, "raw");
    CU_ASSERT_EQUAL(e->code, 1000);
    ws_teardown(&f);
}

/* The registry grades what Chromium lets through; comet's size limit drops the connection. */
static void test_model_findings_and_limit(void)
{
    ws_close_registry r;
    char err[512];
    CU_ASSERT_EQUAL_FATAL(ws_close_registry_load(&r, REGISTRY_FILE, err, sizeof err), 0);
    fixture_ws f;
    ws_setup_opts(&f, NULL, 0, &r, 0);
    accept_handshake(&f, 1 * MS, NULL);
    server_sends(&f, 2 * MS, "\x81\x01" "a\x88\x03\x03\xe7x", 8);
    const trace_event *e = find_event(&f.t, "finding");
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(e->code, 999);
    CU_ASSERT_EQUAL(e->offset, 5);
    CU_ASSERT(strstr(e->detail, "not valid on the wire") != NULL);
    CU_ASSERT(strstr(e->detail, "[fail]") != NULL);
    ws_teardown(&f);

    ws_setup_opts(&f, NULL, 0, &r, 4);
    accept_handshake(&f, 1 * MS, NULL);
    server_sends(&f, 2 * MS, "\x81\x05" "abcde", 7);
    expect_page(&f, "constructed/rs0 open/rs1 close(1006,'',clean=False)/rs3");
    expect_written(&f, "");
    CU_ASSERT(f.w.want_tcp_close);
    e = find_event(&f.t, "finding");
    CU_ASSERT_EQUAL(e->code, 1009);
    ws_teardown(&f);
    ws_close_registry_free(&r);
}

CU_ErrorCode register_ws_tests(void)
{
    CU_pSuite s = CU_add_suite("websocket", NULL, NULL);
    if (!s || !CU_add_test(s, "frame streams split at every byte", test_streams_split_everywhere) ||
        !CU_add_test(s, "7/16/64-bit payload lengths", test_long_payloads) ||
        !CU_add_test(s, "protocol errors: code and offset", test_protocol_errors) ||
        !CU_add_test(s, "error details, RSV allowed, size limit", test_error_details) ||
        !CU_add_test(s, "stop from a callback, discard mode", test_stop_and_discard) ||
        !CU_add_test(s, "UTF-8 against a reference", test_utf8_exhaustive) ||
        !CU_add_test(s, "UTF-8 across fragments and feeds", test_utf8_across_fragments_and_feeds) ||
        !CU_add_test(s, "UTF-8: long random texts", test_utf8_random_long) ||
        !CU_add_test(s, "masking", test_mask) ||
        !CU_add_test(s, "writer: exact bytes", test_writer_exact_bytes) ||
        !CU_add_test(s, "client frames, close payloads", test_client_frames_and_close_payloads) ||
        !CU_add_test(s, "handshake key and request", test_handshake_key_and_request) ||
        !CU_add_test(s, "handshake response checks", test_handshake_response_checks) ||
        !CU_add_test(s, "close-code registry grades", test_close_registry_grades) ||
        !CU_add_test(s, "close-code registry errors", test_close_registry_errors) ||
        !CU_add_test(s, "model: server close codes", test_model_server_close_codes) ||
        !CU_add_test(s, "model: broken close frames", test_model_broken_close_frames) ||
        !CU_add_test(s, "model: protocol errors", test_model_protocol_errors) ||
        !CU_add_test(s, "model: messages", test_model_messages) ||
        !CU_add_test(s, "model: message text cap", test_model_message_cap) ||
        !CU_add_test(s, "model: server holds TCP", test_model_hold_tcp) ||
        !CU_add_test(s, "model: abrupt FIN", test_model_abrupt_fin) ||
        !CU_add_test(s, "model: client close", test_model_client_close) ||
        !CU_add_test(s, "model: client send", test_model_client_send) ||
        !CU_add_test(s, "model: handshake outcomes", test_model_handshake) ||
        !CU_add_test(s, "model: after close", test_model_after_close) ||
        !CU_add_test(s, "model: API rules", test_model_api_rules) ||
        !CU_add_test(s, "model: harness actions", test_model_harness_actions) ||
        !CU_add_test(s, "model: findings and size limit", test_model_findings_and_limit))
        return CU_get_error();
    return CUE_SUCCESS;
}
