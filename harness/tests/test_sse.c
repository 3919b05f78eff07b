/* The event-stream parser and the EventSource model. Parser cases are WPT's eventsource
 * format-* streams (../shared/reference/conformance-anchors.md b1) and the browser-truth
 * streams; each is parsed whole, split at every byte boundary, byte by byte and (when short)
 * in three pieces at every pair of boundaries, and every way must give the same callbacks.
 * Model expectations are what Chromium 156 recorded (../shared/browser-truth) or what its
 * event_source.cc does. */
#include "browser/eventsource.h"
#include "proto/sse_parser.h"
#include "tests/test_registry.h"
#include "util/buf.h"

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S(lit) lit, sizeof(lit) - 1

/* ---- parser harness ------------------------------------------------------------------ */

typedef struct rec {
    buf log;
    sse_parser *p;
    int stop_after; /* stop the parser after this many events (0: never) */
    int events;
} rec;

/* Control bytes escaped, UTF-8 kept: E[message|a\nb|id] */
static void put_escaped(buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            buf_append_str(b, "\\n");
        else if (c == '\r')
            buf_append_str(b, "\\r");
        else if (c == '\t')
            buf_append_str(b, "\\t");
        else if (c == 0)
            buf_append_str(b, "\\0");
        else if (c < 0x20 || c == 0x7f)
            buf_printf(b, "\\x%02x", c);
        else
            buf_append(b, &s[i], 1);
    }
}

static void r_event(void *ud, const char *type, size_t type_len, const char *data,
                    size_t data_len, const char *id, size_t id_len)
{
    rec *r = ud;
    buf_append_str(&r->log, "E[");
    put_escaped(&r->log, type, type_len);
    buf_append_str(&r->log, "|");
    put_escaped(&r->log, data, data_len);
    buf_append_str(&r->log, "|");
    put_escaped(&r->log, id, id_len);
    buf_append_str(&r->log, "]");
    if (r->stop_after && ++r->events == r->stop_after)
        sse_parser_stop(r->p);
}

static void r_retry(void *ud, uint64_t ms)
{
    rec *r = ud;
    buf_printf(&r->log, "R[%llu]", (unsigned long long)ms);
}

static void r_comment(void *ud, const char *text, size_t len)
{
    rec *r = ud;
    buf_append_str(&r->log, "C[");
    if (len > 40) { /* long heartbeats: length only */
        buf_printf(&r->log, "%zu bytes", len);
    } else {
        put_escaped(&r->log, text, len);
    }
    buf_append_str(&r->log, "]");
}

static void r_limit(void *ud, sse_limit what, uint64_t offset)
{
    rec *r = ud;
    static const char *const names[] = {"line", "data", "memory"};
    buf_printf(&r->log, "L[%s@%llu]", names[what], (unsigned long long)offset);
}

static const sse_parser_config spec_cfg = {
    .on_event = r_event, .on_retry = r_retry, .on_comment = r_comment, .on_limit = r_limit,
};
static const sse_parser_config chromium_cfg = {
    .on_event = r_event, .on_retry = r_retry, .on_comment = r_comment, .on_limit = r_limit,
    .chromium_retry = true,
};
static const sse_parser_config small_cfg = {
    .on_event = r_event, .on_retry = r_retry, .on_comment = r_comment, .on_limit = r_limit,
    .max_line = 16, .max_data = 10,
};

/* An idle parser keeps no empty buffer. */
static bool holds_no_empty_buffer(const sse_parser *p)
{
    return (!p->line.p || p->line.len) && (!p->data.p || p->data.len) &&
           (!p->type.p || p->type.len);
}

/* Parses stream in pieces ending at cuts[0..ncuts) and the end; each piece is copied to an
 * exactly sized allocation and freed right after its feed (ASan sees overreads and refs
 * kept too long). Returns the log; *clean is cleared when a buffer was kept empty. */
static char *run_cuts(const sse_parser_config *cfg, const char *stream, size_t len,
                      const size_t *cuts, size_t ncuts, bool *clean)
{
    sse_parser p;
    rec r = {.p = &p};
    sse_parser_init(&p, cfg, &r);
    size_t at = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : len;
        char *piece = malloc(to - at + 1);
        memcpy(piece, stream + at, to - at);
        sse_parser_feed(&p, piece, to - at);
        free(piece);
        if (!holds_no_empty_buffer(&p))
            *clean = false;
        at = to;
    }
    if (sse_parser_offset(&p) != len)
        buf_append_str(&r.log, "<offset mismatch>");
    sse_parser_finish(&p);
    sse_parser_free(&p);
    return buf_take(&r.log);
}

static int split_failures;

static void expect_same(const char *how, const char *got, const char *expected)
{
    bool same = !strcmp(got, expected);
    if (!same && split_failures++ < 5)
        fprintf(stderr, "\n  %s:\n    expected: %s\n    observed: %s\n", how, expected, got);
    CU_ASSERT_TRUE(same);
}

/* The stream gives `expected` whole, split at every boundary, byte by byte, and (up to 48
 * bytes) in three pieces at every pair of boundaries. */
static void check_stream(const sse_parser_config *cfg, const char *stream, size_t len,
                         const char *expected)
{
    bool clean = true;
    char how[64];
    split_failures = 0;
    char *got = run_cuts(cfg, stream, len, NULL, 0, &clean);
    expect_same("whole", got, expected);
    free(got);
    for (size_t i = 1; i < len; i++) {
        got = run_cuts(cfg, stream, len, &i, 1, &clean);
        snprintf(how, sizeof how, "split at %zu", i);
        expect_same(how, got, expected);
        free(got);
    }
    size_t *bytes = calloc(len + 1, sizeof *bytes);
    for (size_t i = 0; bytes && i < len; i++)
        bytes[i] = i + 1;
    got = run_cuts(cfg, stream, len, bytes, len ? len - 1 : 0, &clean);
    expect_same("byte by byte", got, expected);
    free(got);
    free(bytes);
    for (size_t i = 1; len <= 48 && i < len; i++)
        for (size_t j = i + 1; j < len; j++) {
            size_t cuts[2] = {i, j};
            got = run_cuts(cfg, stream, len, cuts, 2, &clean);
            snprintf(how, sizeof how, "split at %zu and %zu", i, j);
            expect_same(how, got, expected);
            free(got);
        }
    CU_ASSERT_TRUE(clean);
}

/* ---- parser: WPT eventsource/format-* ------------------------------------------------ */

static void test_bom(void)
{
    /* S1: only the leading BOM is dropped; a later one makes the field "\uFEFFdata". */
    check_stream(&spec_cfg, S("\xEF\xBB\xBF" "data:1\n\n\xEF\xBB\xBF" "data:2\n\ndata:3\n\n\n"),
                 "E[message|1|]E[message|3|]");
    /* S2: exactly one BOM is dropped. */
    check_stream(&spec_cfg, S("\xEF\xBB\xBF\xEF\xBB\xBF" "data:1\n\ndata:2\n\ndata:3\n\n"),
                 "E[message|2|]E[message|3|]");
    /* A BOM then a blank line; a partial BOM is invalid UTF-8 in the field name. */
    check_stream(&spec_cfg, S("\xEF\xBB\xBF\nid: 1\n\ndata:x\n\n"), "E[message|x|1]");
    check_stream(&spec_cfg, S("\xEF\xBB" "data:x\n\ndata:y\n\n"), "E[message|y|]");
}

static void test_comments(void)
{
    /* S3: mixed CR / LF / CRLF, comments with NUL and 2048 bytes. */
    buf s = {0};
    buf_append(&s, S("data:1\r:\0\n:\r\ndata:2\n:"));
    for (int i = 0; i < 2048; i++)
        buf_append(&s, "x", 1);
    buf_append_str(&s, "\rdata:3\n:data:fail\r:");
    for (int i = 0; i < 2048; i++)
        buf_append(&s, "x", 1);
    buf_append_str(&s, "\ndata:4\n\n");
    check_stream(&spec_cfg, s.data, s.len,
                 "C[\\0]C[]C[2048 bytes]C[data:fail]C[2048 bytes]E[message|1\\n2\\n3\\n4|]");
    buf_free(&s);
    /* browser-truth sse-comments */
    check_stream(&spec_cfg, S(": comment\ndata: a\n:another\n\n: tail\n\n"),
                 "C[ comment]C[another]E[message|a|]C[ tail]");
}

static void test_field_data(void)
{
    /* S4: "data" without a colon is an empty value; two of them join with LF. */
    check_stream(&spec_cfg, S("data:\n\ndata\ndata\n\ndata:test\n\n\n"),
                 "E[message||]E[message|\\n|]E[message|test|]");
    /* S5: one U+0020 is dropped, not a tab, not a second space. */
    check_stream(&spec_cfg, S("data:\ttest\rdata: \ndata:test\n\n\n"),
                 "E[message|\\ttest\\n\\ntest|]");
    /* browser-truth sse-multiline-data, sse-field-no-colon */
    check_stream(&spec_cfg, S("data: a\ndata: b\ndata\ndata: c\n\n"),
                 "E[message|a\\nb\\n\\nc|]");
    check_stream(&spec_cfg, S("data\n\ndata\ndata\n\ndata:x\n\n"),
                 "E[message||]E[message|\\n|]E[message|x|]");
}

static void test_newlines(void)
{
    /* S6: CRLF is one terminator, also across feeds; CR alone and LF alone end lines. */
    check_stream(&spec_cfg, S("data:test\r\ndata\ndata:test\r\n\r\n"),
                 "E[message|test\\n\\ntest|]");
    /* browser-truth sse-crlf-split-across-writes: no extra empty line */
    check_stream(&spec_cfg, S("data: a\r\ndata: b\r\n\r\n"), "E[message|a\\nb|]");
    check_stream(&spec_cfg, S("data: a\r\rdata: b\n\ndata: c\r\n\r\ndata: d\n\r\n"),
                 "E[message|a|]E[message|b|]E[message|c|]E[message|d|]");
    /* CR at the end of one feed, LF at the start of the next: explicitly. */
    size_t cut = 8;
    bool clean = true;
    char *got = run_cuts(&spec_cfg, S("data: a\r\ndata: b\r\n\r\n"), &cut, 1, &clean);
    CU_ASSERT_STRING_EQUAL(got, "E[message|a\\nb|]");
    free(got);
    /* a CR then an empty feed, then the LF */
    sse_parser p;
    rec r = {.p = &p};
    sse_parser_init(&p, &spec_cfg, &r);
    sse_parser_feed(&p, S("data: a\r"));
    sse_parser_feed(&p, "", 0);
    sse_parser_feed(&p, S("\n\n"));
    CU_ASSERT_STRING_EQUAL(r.log.data, "E[message|a|]");
    sse_parser_free(&p);
    buf_free(&r.log);
}

static void test_unknown_and_parsing(void)
{
    /* S7: " data" and unknown fields ignored, a colon-less line is a field. */
    check_stream(&spec_cfg,
                 S("data:test\n data\ndata\nfoobar:xxx\njustsometext\n:thisisacommentyay\n"
                   "data:test\n\n\n"),
                 "C[thisisacommentyay]E[message|test\\n\\ntest|]");
    /* S8: names are case-sensitive and exact; NUL in a value is kept. */
    check_stream(&spec_cfg,
                 S("data:\0\ndata:  2\rData:1\ndata\0:2\ndata:1\r\0data:4\nda-ta:3\rdata_5\n"
                   "data:3\rdata:\r\n data:32\ndata:4\n\n"),
                 "E[message|\\0\\n 2\\n1\\n3\\n\\n4|]");
    /* S9 */
    check_stream(&spec_cfg, S("data:\0\n\n\n"), "E[message|\\0|]");
}

static void test_event_type(void)
{
    /* S10, S11, browser-truth sse-event-message-explicit */
    check_stream(&spec_cfg, S("event:test\ndata:x\n\ndata:x\n\n\n"),
                 "E[test|x|]E[message|x|]");
    check_stream(&spec_cfg, S("event: \ndata:data\n\n\n"), "E[message|data|]");
    check_stream(&spec_cfg, S("event: message\ndata: m\n\n"), "E[message|m|]");
    /* the type resets after every blank line, also one that dispatched nothing */
    check_stream(&spec_cfg, S("event: a\n\ndata: 1\n\nevent: b\nevent: c\ndata: 2\n\n"),
                 "E[message|1|]E[c|2|]");
}

static void test_empty_event_and_eof(void)
{
    /* nothing is dispatched for blank lines without data */
    check_stream(&spec_cfg, S("\n\n\r\n\r\r\n:x\n\n"), "C[x]");
    /* S12: the incomplete event at EOF is dropped and its id not committed. */
    check_stream(&spec_cfg, S("retry:1000\ndata:test1\n\nid:test\ndata:test2\n"),
                 "R[1000]E[message|test1|]");
    sse_parser p;
    rec r = {.p = &p};
    sse_parser_init(&p, &spec_cfg, &r);
    sse_parser_feed(&p, S("retry:1000\ndata:test1\n\nid:test\ndata:test2\n"));
    sse_parser_finish(&p);
    size_t n;
    CU_ASSERT_STRING_EQUAL(sse_parser_last_event_id(&p, &n), "");
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_EQUAL(sse_parser_offset(&p), 0);
    /* the reconnection's stream: test1 again, with an empty lastEventId */
    sse_parser_feed(&p, S("\xEF\xBB\xBFretry:1000\ndata:test1\n\n"));
    CU_ASSERT_STRING_EQUAL(r.log.data, "R[1000]E[message|test1|]R[1000]E[message|test1|]");
    /* a line without its end at EOF is not processed */
    sse_parser_feed(&p, S("id: 5"));
    sse_parser_finish(&p);
    sse_parser_feed(&p, S("data: z\n\n"));
    CU_ASSERT_STRING_EQUAL(r.log.data,
                           "R[1000]E[message|test1|]R[1000]E[message|test1|]E[message|z|]");
    /* the committed id survives the end of the stream; the uncommitted one does not */
    buf_reset(&r.log);
    sse_parser_feed(&p, S("id: 1\ndata: a\n\nid: 2\ndata: b\n"));
    sse_parser_finish(&p);
    CU_ASSERT_STRING_EQUAL(sse_parser_last_event_id(&p, &n), "1");
    sse_parser_feed(&p, S("data: c\n\n"));
    CU_ASSERT_STRING_EQUAL(r.log.data, "E[message|a|1]E[message|c|1]");
    sse_parser_free(&p);
    buf_free(&r.log);
}

static void test_retry(void)
{
    /* S13, S14, S15 */
    check_stream(&spec_cfg, S("retry:02000\ndata:x\n\n"), "R[2000]E[message|x|]");
    check_stream(&spec_cfg, S("retry:3000\nretry:1000x\ndata:x\n\n"), "R[3000]E[message|x|]");
    check_stream(&spec_cfg, S("retry\ndata:test\n\n"), "E[message|test|]");
    check_stream(&spec_cfg, S("retry: 0\nretry:  5\nretry:-1\nretry:+1\nretry: 1 \n"), "R[0]");
    /* 2^64-1 fits; beyond it the spec's integer saturates here, Chromium ignores it */
    check_stream(&spec_cfg, S("retry: 18446744073709551615\nretry: 18446744073709551616\n"),
                 "R[18446744073709551615]R[18446744073709551615]");
    check_stream(&chromium_cfg, S("retry: 18446744073709551615\nretry: 99999999999999999999\n"),
                 "R[18446744073709551615]");
    /* Chromium: an empty retry resets the reconnection time to 3000 ms */
    check_stream(&chromium_cfg, S("retry: 200\nretry:\nretry\ndata:test\n\n"),
                 "R[200]R[3000]R[3000]E[message|test|]");
}

static void test_id(void)
{
    /* S17, S18, S19: the id persists, a new one replaces it, an empty one resets it. */
    check_stream(&spec_cfg, S("id: 1\ndata: 1\n\ndata:2\n\n"), "E[message|1|1]E[message|2|1]");
    check_stream(&spec_cfg, S("id: 1\ndata: 1\n\nid: 2\ndata:2\n\ndata:3\n\n"),
                 "E[message|1|1]E[message|2|2]E[message|3|2]");
    check_stream(&spec_cfg, S("id: 1\ndata: 1\n\nid:\ndata:2\n\ndata:3\n\n"),
                 "E[message|1|1]E[message|2|]E[message|3|]");
    /* S20: an id with NUL anywhere is ignored; browser-truth sse-id-null keeps the last id */
    check_stream(&spec_cfg, S("id:\0\0\ndata:a\n\nid:x\0\ndata:b\n\nid:\0x\ndata:c\n\n"
                              "id:x\0x\ndata:d\n\nid: \0\ndata:e\n\n"),
                 "E[message|a|]E[message|b|]E[message|c|]E[message|d|]E[message|e|]");
    check_stream(&spec_cfg, S("id: 5\ndata: a\n\nid: x\0y\ndata: b\n\n"),
                 "E[message|a|5]E[message|b|5]");
    /* S16: a UTF-8 id; an id on its own commits at the blank line */
    check_stream(&spec_cfg, S("id: \xE2\x80\xA6\nretry: 200\ndata: hello\n\nid: 7\n\ndata: x\n\n"),
                 "R[200]E[message|hello|\xE2\x80\xA6]E[message|x|7]");
    /* the last id wins within an event */
    check_stream(&spec_cfg, S("id: a\nid: b\ndata: x\n\n"), "E[message|x|b]");
}

static void test_utf8(void)
{
    /* browser-truth sse-non-utf8 and sse-utf8-split-writes */
    check_stream(&spec_cfg, S("data: \xFF\xFE ok \xC3\n\n"),
                 "E[message|\xEF\xBF\xBD\xEF\xBF\xBD ok \xEF\xBF\xBD|]");
    check_stream(&spec_cfg, S("data: caf\xC3\xA9\n\n"), "E[message|caf\xC3\xA9|]");
    /* maximal subparts; surrogates, overlongs and > U+10FFFF are invalid; a sequence cut by
     * the line end is one U+FFFD */
    check_stream(&spec_cfg, S("data: \xE2\x82\ndata: \xED\xA0\x80|\xC0\xAF|\xF4\x90\x80\x80\n"
                              "data: \xF0\x9F\x98\x80\n\n"),
                 "E[message|\xEF\xBF\xBD\\n\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD|\xEF\xBF\xBD"
                 "\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\\n"
                 "\xF0\x9F\x98\x80|]");
    /* invalid bytes in a name never match; in types, ids and comments they are replaced */
    check_stream(&spec_cfg, S("dat\xE1: x\nevent: \xFF\nid: \xFE\n:\x80\ndata: y\n\n"),
                 "C[\xEF\xBF\xBD]E[\xEF\xBF\xBD|y|\xEF\xBF\xBD]");
}

/* ---- parser: limits, memory, stop ---------------------------------------------------- */

static void test_limits(void)
{
    /* max_line 16: the long line is reported at its start, its event discarded */
    check_stream(&small_cfg,
                 S("data: short\n\ndata: this line is too long\ndata: b\n\ndata: ok\n\n"),
                 "E[message|short|]L[line@13]E[message|ok|]");
    /* any line: a comment too (the event it falls in is discarded); the limit counts the
     * bytes of the line, not its terminator */
    check_stream(&small_cfg, S(":0123456789abcdef\ndata: a\n\n:0123456789abcde\r\ndata: x\n\n"),
                 "L[line@0]C[0123456789abcde]E[message|x|]");
    /* max_data 10: each value counts with its LF */
    check_stream(&small_cfg, S("data: 1234\ndata: 5678\n\ndata: 1234\ndata: 12345\n\ndata: x\n\n"),
                 "E[message|1234\\n5678|]L[data@34]E[message|x|]");
    /* the id and retry of a discarded event still count, as in a browser without limits */
    check_stream(&small_cfg, S("id: 9\ndata: 0123456789\nretry: 5\n\ndata: y\n\n"),
                 "L[data@6]R[5]E[message|y|9]");
    /* split anywhere, the long line is skipped to its end; its event ends at the CR CR */
    check_stream(&small_cfg, S("data: 0123456789abcdefghij\r\rdata: z\n\n"),
                 "L[line@0]E[message|z|]");
    /* without the blank line, the following data belongs to the discarded event */
    check_stream(&small_cfg, S("data: 0123456789abcdefghij\r\ndata: z\n\ndata: w\n\n"),
                 "L[line@0]E[message|w|]");
}

static void test_large_event_and_idle_memory(void)
{
    /* 1 MiB of data lines fed in odd-sized pieces: one event, exact data */
    buf s = {0}, want = {0};
    for (int i = 0; i < 10000; i++) {
        buf_printf(&s, "data: line %06d %s\n", i, "abcdefghijklmnopqrstuvwxyz0123456789");
        buf_printf(&want, "%sline %06d %s", i ? "\n" : "", i,
                   "abcdefghijklmnopqrstuvwxyz0123456789");
    }
    buf_append_str(&s, "\n");
    sse_parser p;
    rec r = {.p = &p};
    sse_parser_init(&p, &spec_cfg, &r);
    for (size_t at = 0; at < s.len; at += 4093)
        sse_parser_feed(&p, s.data + at, s.len - at < 4093 ? s.len - at : 4093);
    buf expect = {0};
    buf_append_str(&expect, "E[message|");
    put_escaped(&expect, want.data, want.len);
    buf_append_str(&expect, "|]");
    CU_ASSERT_STRING_EQUAL(r.log.data, expect.data);
    /* between events, nothing is allocated but the last event ID string */
    CU_ASSERT_PTR_NULL(p.line.p);
    CU_ASSERT_PTR_NULL(p.data.p);
    CU_ASSERT_PTR_NULL(p.type.p);
    CU_ASSERT_PTR_NULL(p.id.p);
    CU_ASSERT_PTR_NULL(p.last_id.p);
    sse_parser_feed(&p, S("id: 42\nevent: t\ndata: x\n\n"));
    CU_ASSERT_PTR_NULL(p.line.p);
    CU_ASSERT_PTR_NULL(p.data.p);
    CU_ASSERT_PTR_NULL(p.type.p);
    CU_ASSERT_PTR_NULL(p.id.p);
    CU_ASSERT_PTR_NOT_NULL(p.last_id.p);
    /* a pending event keeps its buffers; they go when it is dispatched */
    sse_parser_feed(&p, S("event: t\ndata: x\ndata: y\nid: 43\ndata: z"));
    CU_ASSERT_PTR_NOT_NULL(p.line.p);
    CU_ASSERT_PTR_NOT_NULL(p.data.p);
    CU_ASSERT_PTR_NOT_NULL(p.type.p);
    CU_ASSERT_PTR_NOT_NULL(p.id.p);
    sse_parser_feed(&p, S("\n\n"));
    CU_ASSERT_PTR_NULL(p.line.p);
    CU_ASSERT_PTR_NULL(p.data.p);
    CU_ASSERT_PTR_NULL(p.type.p);
    CU_ASSERT_PTR_NULL(p.id.p);
    CU_ASSERT_TRUE(strstr(r.log.data, "E[t|x|42]E[t|x\\ny\\nz|43]") != NULL);
    sse_parser_free(&p);
    buf_free(&r.log);
    buf_free(&s);
    buf_free(&want);
    buf_free(&expect);
}

static void test_stop_and_offsets(void)
{
    sse_parser p;
    rec r = {.p = &p, .stop_after = 1};
    sse_parser_init(&p, &spec_cfg, &r);
    sse_parser_feed(&p, S("data: 1\n\ndata: 2\n\n"));
    sse_parser_feed(&p, S("data: 3\n\n"));
    CU_ASSERT_STRING_EQUAL(r.log.data, "E[message|1|]");
    CU_ASSERT_PTR_NULL(p.data.p);
    sse_parser_finish(&p); /* a new stream parses again */
    r.stop_after = 0;
    sse_parser_feed(&p, S("data: 4\n\n"));
    CU_ASSERT_STRING_EQUAL(r.log.data, "E[message|1|]E[message|4|]");
    CU_ASSERT_EQUAL(sse_parser_offset(&p), 9);
    CU_ASSERT_EQUAL(sse_parser_set_last_event_id(&p, "k", 1), 0);
    sse_parser_feed(&p, S("data: 5\n\n"));
    CU_ASSERT_STRING_EQUAL(r.log.data, "E[message|1|]E[message|4|]E[message|5|k]");
    CU_ASSERT_EQUAL(sse_parser_offset(&p), 18);
    sse_parser_free(&p);
    buf_free(&r.log);
}

/* ---- model ------------------------------------------------------------------------------ */

static void put_field(buf *b, const char *s)
{
    put_escaped(b, s ? s : "", s ? strlen(s) : 0);
}

/* open/rs1 message('a',id=7)/rs1 error/rs0 reconnect(200) close()/rs2 console network-error */
static char *render(const trace *t)
{
    buf b = {0};
    for (size_t i = 0; i < t->n; i++) {
        const trace_event *e = &t->events[i];
        if (b.len)
            buf_append(&b, " ", 1);
        buf_append_str(&b, e->ev);
        if (e->fields & TF_TYPE) {
            buf_append_str(&b, "('");
            put_field(&b, e->text);
            buf_append_str(&b, "',id=");
            put_field(&b, e->last_event_id);
            buf_append_str(&b, ")");
        } else if (!strcmp(e->ev, "reconnect") || !strcmp(e->ev, "comment")) {
            buf_append_str(&b, "(");
            put_field(&b, e->detail ? e->detail : e->text);
            buf_append_str(&b, ")");
        } else if (!strcmp(e->ev, "finding")) {
            buf_printf(&b, "@%llu", (unsigned long long)e->offset);
        }
        if (e->fields & TF_RS)
            buf_printf(&b, "/rs%d", e->rs);
    }
    return buf_take(&b);
}

typedef struct fixture_es {
    trace t;
    es_model m;
    int close_after_messages; /* page script: close() in the n-th message listener */
    bool close_on_open;       /* page script: close() in the open listener */
    int messages;
} fixture_es;

static void hook(void *ud, es_model *m, const trace_event *e)
{
    fixture_es *f = ud;
    if (f->close_on_open && !strcmp(e->ev, "open"))
        es_close(m, e->t_us);
    if ((e->fields & TF_TYPE) && f->close_after_messages &&
        ++f->messages == f->close_after_messages)
        es_close(m, e->t_us);
}

static void setup(fixture_es *f)
{
    memset(f, 0, sizeof *f);
    trace_init(&f->t);
    es_init(&f->m, &f->t, hook, f);
}

static void teardown(fixture_es *f)
{
    es_free(&f->m);
    trace_free(&f->t);
}

static void check(fixture_es *f, const char *expected)
{
    char *got = render(&f->t);
    if (strcmp(got, expected))
        fprintf(stderr, "\n  expected: %s\n  observed: %s\n", expected, got);
    CU_ASSERT_STRING_EQUAL(got, expected);
    free(got);
}

#define ORIGIN "http://127.0.0.1:18080"
#define EVENT_STREAM "text/event-stream"

/* Opens a connection at time t with a good response. */
static bool connect_ok(fixture_es *f, int64_t t)
{
    return es_response(&f->m, t, 200, EVENT_STREAM, ORIGIN);
}

static char *header_value(const es_model *m, const char *name)
{
    header_list h = {0};
    CU_ASSERT_EQUAL(es_request_headers(m, &h), 0);
    const char *v = header_list_get(&h, name);
    char *copy = v ? strdup(v) : NULL;
    header_list_free(&h);
    return copy;
}

static void test_model_open_message_reconnect(void)
{
    /* browser-truth sse-reconnect-last-event-id: retry 200, id 7, then the stream ends */
    fixture_es f;
    setup(&f);
    CU_ASSERT_EQUAL(es_ready_state(&f.m), ES_CONNECTING);
    CU_ASSERT_TRUE(es_start(&f.m, 0));
    CU_ASSERT_FALSE(es_start(&f.m, 0));
    char *lei = header_value(&f.m, "Last-Event-ID");
    CU_ASSERT_PTR_NULL(lei); /* first request: no Last-Event-ID */
    CU_ASSERT_TRUE(connect_ok(&f, 3000));
    CU_ASSERT_EQUAL(es_ready_state(&f.m), ES_OPEN);
    es_body(&f.m, 3100, S("retry: 200\nid: 7\ndata: a\n\n"));
    es_end(&f.m, 4000);
    CU_ASSERT_EQUAL(es_ready_state(&f.m), ES_CONNECTING);
    CU_ASSERT_FALSE(es_request_active(&f.m));
    CU_ASSERT_EQUAL(es_next_timer(&f.m), 204000);
    CU_ASSERT_FALSE(es_timer(&f.m, 203999));
    CU_ASSERT_TRUE(es_timer(&f.m, 204000));
    CU_ASSERT_EQUAL(es_next_timer(&f.m), -1);
    CU_ASSERT_TRUE(es_request_active(&f.m));
    lei = header_value(&f.m, "Last-Event-ID");
    CU_ASSERT_STRING_EQUAL(lei ? lei : "(none)", "7");
    free(lei);
    CU_ASSERT_TRUE(connect_ok(&f, 208000));
    es_body(&f.m, 208500, S("data: b\n\n"));
    check(&f, "open/rs1 message('a',id=7)/rs1 error/rs0 reconnect(200)/rs0 open/rs1 "
              "message('b',id=7)/rs1");
    const trace_event *m = &f.t.events[1];
    CU_ASSERT_STRING_EQUAL(m->origin, ORIGIN);
    CU_ASSERT_STRING_EQUAL(m->type, "message");
    CU_ASSERT_EQUAL(m->t_us, 3100);
    CU_ASSERT_EQUAL(m->len, 1);
    teardown(&f);
}

static void test_model_delay_and_retry(void)
{
    fixture_es f;
    setup(&f);
    es_start(&f.m, 0);
    connect_ok(&f, 0);
    es_end(&f.m, 1000);
    CU_ASSERT_EQUAL(es_next_timer(&f.m), 1000 + 3000000); /* Chromium's 3000 ms */
    CU_ASSERT_TRUE(es_timer(&f.m, 3001000));
    connect_ok(&f, 3002000);
    es_body(&f.m, 3003000, S("retry: 300\ndata: a\n\n"));
    es_network_error(&f.m, 3004000, "connection reset");
    CU_ASSERT_EQUAL(es_next_timer(&f.m), 3304000); /* browser-truth sse-retry-valid: 306 ms */
    CU_ASSERT_TRUE(es_timer(&f.m, 3304000));
    connect_ok(&f, 3305000);
    es_body(&f.m, 3306000, S("retry:\n\n")); /* Chromium: an empty retry is 3000 again */
    es_end(&f.m, 3307000);
    CU_ASSERT_EQUAL(es_next_timer(&f.m), 3307000 + 3000000);
    /* a second 204 fails the connection: browser-truth sse-retry-valid ends error/rs2 */
    CU_ASSERT_TRUE(es_timer(&f.m, 6307000));
    CU_ASSERT_FALSE(es_response(&f.m, 6308000, 204, NULL, ORIGIN));
    check(&f, "open/rs1 error/rs0 reconnect(3000)/rs0 open/rs1 message('a',id=)/rs1 "
              "network-error error/rs0 reconnect(300)/rs0 open/rs1 error/rs0 "
              "reconnect(3000)/rs0 error/rs2");
    CU_ASSERT_EQUAL(es_ready_state(&f.m), ES_CLOSED);
    teardown(&f);
}

static void test_model_fail_connection(void)
{
    /* browser-truth sse-204, sse-ct-missing: error with readyState 2, never a reconnection */
    static const struct {
        int status;
        const char *ct;
        const char *console;
    } cases[] = {
        {204, NULL, NULL},
        {205, EVENT_STREAM, NULL},
        {404, EVENT_STREAM, NULL},
        {500, "text/event-stream", NULL},
        {301, EVENT_STREAM, NULL},
        {200, NULL, "EventSource's response has a MIME type (\"text/plain\") that is not "
                    "\"text/event-stream\". Aborting the connection."},
        {200, "text/x-bogus", "EventSource's response has a MIME type (\"text/x-bogus\") that "
                              "is not \"text/event-stream\". Aborting the connection."},
        {200, "text/event-stream-foobar", "EventSource's response has a MIME type "
              "(\"text/event-stream-foobar\") that is not \"text/event-stream\". Aborting the "
              "connection."},
        {200, "text/event-stream; charset=windows-1252", "EventSource's response has a "
              "charset (\"windows-1252\") that is not UTF-8. Aborting the connection."},
        {200, "text/event-stream;charset=utf8", "EventSource's response has a charset "
              "(\"utf8\") that is not UTF-8. Aborting the connection."},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fixture_es f;
        setup(&f);
        es_start(&f.m, 0);
        CU_ASSERT_FALSE(es_response(&f.m, 10, cases[i].status, cases[i].ct, ORIGIN));
        es_body(&f.m, 20, S("data: x\n\n")); /* ignored */
        es_end(&f.m, 30);
        CU_ASSERT_EQUAL(es_ready_state(&f.m), ES_CLOSED);
        CU_ASSERT_EQUAL(es_next_timer(&f.m), -1);
        CU_ASSERT_FALSE(es_timer(&f.m, INT64_MAX));
        CU_ASSERT_FALSE(es_request_active(&f.m));
        check(&f, cases[i].console ? "console error/rs2" : "error/rs2");
        if (cases[i].console && f.t.n == 2)
            CU_ASSERT_STRING_EQUAL(f.t.events[0].detail, cases[i].console);
        teardown(&f);
    }
}

static void test_model_content_types(void)
{
    static const char *const good[] = {
        "text/event-stream", "Text/Event-Stream", "text/event-stream;",
        "text/event-stream; charset=utf-8", "text/event-stream;charset=UTF-8",
        "text/event-stream; charset=\"utf-8\"", " text/event-stream ; foo=bar",
        "text/event-stream; charset=", "TEXT/EVENT-STREAM(comment)",
    };
    static const char *const bad[] = {
        "", "*/*", "text/plain", "x bogus", "text/event-streams", "text /event-stream",
        "text/event-stream; charset=iso-8859-1", "text/event-stream; charset=\"latin1\"",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CU_ASSERT_TRUE(es_response_ok(200, good[i], NULL));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_FALSE(es_response_ok(200, bad[i], NULL));
    CU_ASSERT_FALSE(es_response_ok(201, "text/event-stream", NULL));
    buf console = {0};
    CU_ASSERT_FALSE(es_response_ok(404, "text/html", &console));
    CU_ASSERT_EQUAL(console.len, 0); /* Chromium logs only 200s with a bad type */
    buf_free(&console);
}

static void test_model_error_before_response(void)
{
    /* refused: Chromium's DidFail reconnects (no response, readyState stays 0) */
    fixture_es f;
    setup(&f);
    es_start(&f.m, 0);
    es_network_error(&f.m, 1000, "connection refused");
    CU_ASSERT_EQUAL(es_ready_state(&f.m), ES_CONNECTING);
    CU_ASSERT_EQUAL(es_next_timer(&f.m), 3001000);
    es_body(&f.m, 2000, S("data: x\n\n")); /* nothing in flight: ignored */
    CU_ASSERT_TRUE(es_timer(&f.m, 3001000));
    es_end(&f.m, 3002000); /* closed without a response: the same */
    CU_ASSERT_TRUE(es_timer(&f.m, 6002000));
    CU_ASSERT_TRUE(connect_ok(&f, 6003000));
    check(&f, "network-error error/rs0 reconnect(3000)/rs0 network-error error/rs0 "
              "reconnect(3000)/rs0 open/rs1");
    teardown(&f);
}

static void test_model_cors_failure(void)
{
    /* browser-truth sse-cors-no-acao: an access check fails the connection */
    fixture_es f;
    setup(&f);
    es_start(&f.m, 0);
    es_fail(&f.m, 5, "CORS: no Access-Control-Allow-Origin");
    check(&f, "network-error error/rs2");
    CU_ASSERT_EQUAL(es_next_timer(&f.m), -1);
    teardown(&f);
}

static void test_model_close(void)
{
    /* browser-truth sse-client-close: close() in the first message listener */
    fixture_es f;
    setup(&f);
    f.close_after_messages = 1;
    es_start(&f.m, 0);
    connect_ok(&f, 10);
    es_body(&f.m, 20, S("data: 1\n\ndata: 2\n\n"));
    es_body(&f.m, 30, S("data: 3\n\n"));
    es_end(&f.m, 40);
    es_network_error(&f.m, 50, "reset");
    check(&f, "open/rs1 message('1',id=)/rs1 close()/rs2");
    CU_ASSERT_EQUAL(es_ready_state(&f.m), ES_CLOSED);
    CU_ASSERT_FALSE(es_request_active(&f.m));
    CU_ASSERT_PTR_NULL(f.m.parser.data.p);
    teardown(&f);

    /* close() while waiting to reconnect cancels the timer */
    setup(&f);
    es_start(&f.m, 0);
    connect_ok(&f, 10);
    es_end(&f.m, 20);
    es_close(&f.m, 30);
    CU_ASSERT_EQUAL(es_next_timer(&f.m), -1);
    CU_ASSERT_FALSE(es_timer(&f.m, 10000000));
    es_close(&f.m, 40);
    check(&f, "open/rs1 error/rs0 reconnect(3000)/rs0 close()/rs2 close()/rs2");
    teardown(&f);
}

static void test_model_events_types_and_text(void)
{
    fixture_es f;
    setup(&f);
    f.t.text_cap = 4;
    es_start(&f.m, 0);
    connect_ok(&f, 0);
    es_body(&f.m, 1, S("\xEF\xBB\xBF: heartbeat\nevent: foo\ndata: abcdef\n\nevent: error\n"
                       "data: e\n\nid: x\ndata: \xFF\n\n"));
    check(&f, "open/rs1 comment( hea) foo('abcd',id=)/rs1 error('e',id=)/rs1 "
              "message('\xEF\xBF\xBD',id=x)/rs1");
    const trace_event *foo = &f.t.events[2];
    CU_ASSERT_STRING_EQUAL(foo->ev, "foo");
    CU_ASSERT_PTR_EQUAL(foo->ev, foo->type); /* named after its type, owned by the event */
    CU_ASSERT_TRUE(foo->text_truncated);
    CU_ASSERT_EQUAL(foo->len, 6);
    CU_ASSERT_STRING_EQUAL(f.t.events[4].ev, "message");
    /* the name survives a splice into another trace */
    trace all;
    trace_init(&all);
    trace_splice(&all, &f.t);
    CU_ASSERT_STRING_EQUAL(all.events[2].ev, "foo");
    trace_free(&all);
    teardown(&f);
}

static void test_model_last_event_id_rules(void)
{
    fixture_es f;
    setup(&f);
    es_start(&f.m, 0);
    connect_ok(&f, 0);
    /* S12: the id of an event cut by the end of the stream is not sent */
    es_body(&f.m, 1, S("retry:1000\ndata:test1\n\nid:test\ndata:test2\n"));
    es_end(&f.m, 2);
    char *lei = header_value(&f.m, "Last-Event-ID");
    CU_ASSERT_PTR_NULL(lei);
    free(lei);
    es_timer(&f.m, 1000002);
    connect_ok(&f, 1000003);
    es_body(&f.m, 1000004, S("id: 5\n\n"));
    es_network_error(&f.m, 1000005, "reset");
    lei = header_value(&f.m, "Last-Event-ID");
    CU_ASSERT_STRING_EQUAL(lei ? lei : "(none)", "5");
    free(lei);
    es_timer(&f.m, 2000005);
    connect_ok(&f, 2000006);
    es_body(&f.m, 2000007, S("id\n\n")); /* an empty id resets: no header */
    es_end(&f.m, 2000008);
    lei = header_value(&f.m, "Last-Event-ID");
    CU_ASSERT_PTR_NULL(lei);
    free(lei);
    char *accept = header_value(&f.m, "Accept");
    char *cc = header_value(&f.m, "Cache-Control");
    char *pragma = header_value(&f.m, "Pragma");
    CU_ASSERT_STRING_EQUAL(accept ? accept : "", "text/event-stream");
    CU_ASSERT_STRING_EQUAL(cc ? cc : "", "no-cache");
    CU_ASSERT_STRING_EQUAL(pragma ? pragma : "", "no-cache");
    free(accept);
    free(cc);
    free(pragma);
    teardown(&f);
}

static void test_model_limits_and_close_on_open(void)
{
    fixture_es f;
    setup(&f);
    es_start(&f.m, 0);
    connect_ok(&f, 0);
    buf big = {0};
    buf_append_str(&big, "data: ");
    for (size_t i = 0; i < SSE_DEFAULT_MAX_LINE; i++)
        buf_append(&big, "x", 1);
    buf_append_str(&big, "\n\ndata: after\n\n");
    es_body(&f.m, 1, S("data: a\n\n"));
    es_body(&f.m, 2, big.data, big.len);
    check(&f, "open/rs1 message('a',id=)/rs1 finding@9 message('after',id=)/rs1");
    CU_ASSERT_PTR_NULL(f.m.parser.line.p);
    buf_free(&big);
    teardown(&f);
    /* a close() in the open listener: the body must not be fed */
    setup(&f);
    f.close_on_open = true;
    es_start(&f.m, 0);
    CU_ASSERT_FALSE(connect_ok(&f, 0));
    es_body(&f.m, 1, S("data: a\n\n"));
    check(&f, "open/rs1 close()/rs2");
    teardown(&f);
}

CU_ErrorCode register_sse_tests(void)
{
    CU_pSuite s = CU_add_suite("sse parser", NULL, NULL);
    if (!s || !CU_add_test(s, "BOM (S1, S2)", test_bom) ||
        !CU_add_test(s, "comments (S3)", test_comments) ||
        !CU_add_test(s, "data fields, leading space (S4, S5)", test_field_data) ||
        !CU_add_test(s, "CR, LF, CRLF across feeds (S6)", test_newlines) ||
        !CU_add_test(s, "unknown fields, field parsing, NUL (S7-S9)", test_unknown_and_parsing) ||
        !CU_add_test(s, "event type (S10, S11)", test_event_type) ||
        !CU_add_test(s, "empty events, EOF (S12)", test_empty_event_and_eof) ||
        !CU_add_test(s, "retry (S13-S15)", test_retry) ||
        !CU_add_test(s, "id persistence, reset, NUL (S16-S20)", test_id) ||
        !CU_add_test(s, "UTF-8 decoding", test_utf8) ||
        !CU_add_test(s, "line and data limits", test_limits) ||
        !CU_add_test(s, "large event, idle memory", test_large_event_and_idle_memory) ||
        !CU_add_test(s, "stop, offsets, last event ID", test_stop_and_offsets))
        return CU_get_error();
    CU_pSuite m = CU_add_suite("eventsource model", NULL, NULL);
    if (!m || !CU_add_test(m, "open, messages, reconnect with Last-Event-ID",
                           test_model_open_message_reconnect) ||
        !CU_add_test(m, "default delay, retry, 204 on reconnect", test_model_delay_and_retry) ||
        !CU_add_test(m, "fail: status, MIME type, charset", test_model_fail_connection) ||
        !CU_add_test(m, "Content-Type parsing", test_model_content_types) ||
        !CU_add_test(m, "network error before the response", test_model_error_before_response) ||
        !CU_add_test(m, "CORS failure", test_model_cors_failure) ||
        !CU_add_test(m, "close()", test_model_close) ||
        !CU_add_test(m, "custom types, comments, text cap", test_model_events_types_and_text) ||
        !CU_add_test(m, "Last-Event-ID and request headers", test_model_last_event_id_rules) ||
        !CU_add_test(m, "limits, close() in open", test_model_limits_and_close_on_open))
        return CU_get_error();
    return CUE_SUCCESS;
}
