/* HTTP/1.1 parser and writer tests.
 *
 * Most parser tests give a byte string and the exact event log it must produce. The log
 * must come out the same whether the bytes arrive at once, split in two at every
 * possible point, or one byte at a time, each time presented the way a caller would:
 * unconsumed bytes again, with the new ones appended, in a fresh exact-size allocation
 * (so that ASan sees any read past what was presented).
 */
#include "http/http1.h"
#include "tests/test_registry.h"
#include "util/buf.h"

#include <CUnit/CUnit.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- event log ------------------------------------------------------------------------- */

typedef struct recorder {
    buf log;
    bool in_body;
} recorder;

static const char *finding_name(http1_finding_code code)
{
    static const char *const names[] = {
        [H1F_BARE_LF] = "BARE_LF",
        [H1F_OBS_FOLD] = "OBS_FOLD",
        [H1F_BAD_STATUS_LINE] = "BAD_STATUS_LINE",
        [H1F_BAD_HEADER] = "BAD_HEADER",
        [H1F_HEAD_TOO_LARGE] = "HEAD_TOO_LARGE",
        [H1F_TOO_MANY_HEADERS] = "TOO_MANY_HEADERS",
        [H1F_BAD_CONTENT_LENGTH] = "BAD_CONTENT_LENGTH",
        [H1F_CONFLICTING_CONTENT_LENGTH] = "CONFLICTING_CONTENT_LENGTH",
        [H1F_DUPLICATE_CONTENT_LENGTH] = "DUPLICATE_CONTENT_LENGTH",
        [H1F_TE_WITH_CONTENT_LENGTH] = "TE_WITH_CONTENT_LENGTH",
        [H1F_UNSUPPORTED_TRANSFER_CODING] = "UNSUPPORTED_TRANSFER_CODING",
        [H1F_BAD_CHUNK_SIZE] = "BAD_CHUNK_SIZE",
        [H1F_CHUNK_TOO_LARGE] = "CHUNK_TOO_LARGE",
        [H1F_BAD_CHUNK_END] = "BAD_CHUNK_END",
        [H1F_BAD_TRAILER] = "BAD_TRAILER",
        [H1F_TRUNCATED_HEAD] = "TRUNCATED_HEAD",
        [H1F_TRUNCATED_BODY] = "TRUNCATED_BODY",
        [H1F_BODY_ON_NO_BODY_RESPONSE] = "BODY_ON_NO_BODY_RESPONSE",
        [H1F_INTERIM_WITH_BODY] = "INTERIM_WITH_BODY",
        [H1F_HTTP10_RESPONSE] = "HTTP10_RESPONSE",
    };
    if ((size_t)code < sizeof names / sizeof names[0] && names[code])
        return names[code];
    return "?";
}

static const char *state_name(http1_state s)
{
    static const char *const names[] = {"HEAD", "BODY", "DONE", "UPGRADED", "ERROR"};
    return (size_t)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

static const char *framing_name(http1_framing f)
{
    static const char *const names[] = {"none", "cl", "chunked", "close"};
    return (size_t)f < sizeof names / sizeof names[0] ? names[f] : "?";
}

/* Any event other than body ends a run of body bytes. */
static recorder *event(void *ud)
{
    recorder *r = ud;
    if (r->in_body) {
        buf_append(&r->log, "\n", 1);
        r->in_body = false;
    }
    return r;
}

static void rec_status(void *ud, int minor, int status, const char *reason, size_t len)
{
    buf_printf(&event(ud)->log, "status 1.%d %d '%.*s'\n", minor, status, (int)len, reason);
}

static void rec_header(void *ud, const char *n, size_t nl, const char *v, size_t vl)
{
    buf_printf(&event(ud)->log, "header '%.*s' '%.*s'\n", (int)nl, n, (int)vl, v);
}

static void rec_headers_done(void *ud, int status)
{
    buf_printf(&event(ud)->log, "headers-done %d\n", status);
}

static void rec_body(void *ud, const char *data, size_t len)
{
    recorder *r = ud;
    CU_ASSERT(len > 0); /* empty deliveries are noise */
    if (!r->in_body)
        buf_append(&r->log, "body ", 5);
    buf_append(&r->log, data, len);
    r->in_body = true;
}

static void rec_trailer(void *ud, const char *n, size_t nl, const char *v, size_t vl)
{
    buf_printf(&event(ud)->log, "trailer '%.*s' '%.*s'\n", (int)nl, n, (int)vl, v);
}

static void rec_done(void *ud)
{
    buf_append_str(&event(ud)->log, "done\n");
}

static void rec_finding(void *ud, const http1_finding *f)
{
    CU_ASSERT_PTR_NOT_NULL(f->message);
    buf_printf(&event(ud)->log, "%s %s @%" PRIu64 "\n", f->fatal ? "fatal" : "tolerated",
               finding_name(f->code), f->offset);
}

static const http1_callbacks recorder_callbacks = {
    .on_status = rec_status,
    .on_header = rec_header,
    .on_headers_done = rec_headers_done,
    .on_body = rec_body,
    .on_trailer = rec_trailer,
    .on_message_done = rec_done,
    .on_finding = rec_finding,
};

/* ---- feeding at every split ------------------------------------------------------------ */

typedef struct h1_case {
    const char *name;
    const char *input;          /* NUL-free */
    bool head;                  /* the request was HEAD */
    bool chain;                 /* keep-alive: http1_reset() when a response is done */
    bool eof;                   /* the server closes after the input */
    size_t max_head, max_headers;
    uint64_t max_chunk_size;    /* limits; 0 = default */
    const char *expect;
} h1_case;

typedef struct feed {
    const h1_case *c;
    http1_parser p;
    recorder r;
    size_t len, consumed;
} feed;

/* Presents input[consumed, end) as a caller would, in a buffer of exactly that size. */
static void present(feed *f, size_t end)
{
    for (;;) {
        if (f->c->chain && f->p.state == H1_DONE && f->consumed < end) {
            buf_append_str(&event(&f->r)->log, "reset\n");
            http1_reset(&f->p, f->c->head);
        }
        size_t n = end - f->consumed;
        char *copy = malloc(n ? n : 1);
        memcpy(copy, f->c->input + f->consumed, n);
        size_t used = http1_parse(&f->p, copy, n);
        free(copy);
        CU_ASSERT(used <= n);
        f->consumed += used > n ? n : used;
        CU_ASSERT_EQUAL(f->p.offset, f->consumed);
        if (!(f->c->chain && f->p.state == H1_DONE && f->consumed < end))
            return;
    }
}

/* Feeds the case in pieces: [0, split) then the rest, or step bytes at a time. */
static char *run_case(const h1_case *c, size_t split, size_t step)
{
    feed f = {.c = c, .len = strlen(c->input)};
    http1_parser_init(&f.p, &recorder_callbacks, &f.r, c->head);
    if (c->max_head)
        f.p.limits.max_head = c->max_head;
    if (c->max_headers)
        f.p.limits.max_headers = c->max_headers;
    if (c->max_chunk_size)
        f.p.limits.max_chunk_size = c->max_chunk_size;
    for (size_t presented = 0; presented < f.len;) {
        if (step)
            presented = presented + step < f.len ? presented + step : f.len;
        else
            presented = presented < split ? split : f.len;
        present(&f, presented);
    }
    /* A caller that keeps reading offers leftover bytes once more. */
    if (!c->chain && f.p.state == H1_DONE && f.consumed < f.len)
        present(&f, f.len);
    if (c->eof) {
        bool clean = http1_eof(&f.p);
        buf_printf(&event(&f.r)->log, "eof -> %d\n", clean);
    }
    buf_printf(&event(&f.r)->log, "=> %s %zu/%zu framing=%s", state_name(f.p.state), f.consumed,
               f.len, framing_name(f.p.framing));
    if (f.p.has_content_length)
        buf_printf(&f.r.log, " cl=%" PRIu64, f.p.content_length);
    buf_append_str(&f.r.log, f.p.keep_alive ? " keep-alive\n" : "\n");
    return buf_take(&f.r.log);
}

static bool log_matches(const h1_case *c, const char *got, const char *how, size_t at)
{
    if (!strcmp(got, c->expect))
        return true;
    fprintf(stderr, "\n[%s] %s %zu:\n--- expected\n%s--- got\n%s", c->name, how, at, c->expect,
            got);
    return false;
}

/* Whole, every two-piece split, then byte by byte: all must give c->expect. */
static void check_case(const h1_case *c)
{
    size_t len = strlen(c->input);
    bool ok = true;
    for (size_t split = 0; split <= len && ok; split++) {
        char *got = run_case(c, split, 0);
        ok = log_matches(c, got, "split at", split);
        free(got);
    }
    if (ok) {
        char *got = run_case(c, 0, 1);
        ok = log_matches(c, got, "byte by byte", 1);
        free(got);
    }
    CU_ASSERT(ok);
}

#define CHECK(...) check_case(&(h1_case){__VA_ARGS__})

/* ---- framing --------------------------------------------------------------------------- */

static void test_content_length_body(void)
{
    CHECK(.name = "content-length",
          .input = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n"
                   "helloHTTP",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Content-Type' 'text/plain'\n"
                    "header 'Content-Length' '5'\n"
                    "headers-done 200\n"
                    "body hello\n"
                    "done\n"
                    "=> DONE 69/73 framing=cl cl=5 keep-alive\n");
    CHECK(.name = "content-length 0",
          .input = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Content-Length' '0'\n"
                    "headers-done 200\n"
                    "done\n"
                    "=> DONE 38/38 framing=cl cl=0 keep-alive\n");
}

static void test_chunked_extensions_trailers(void)
{
    CHECK(.name = "chunked",
          .input = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "5;name=val\r\nhello\r\nA ; ext\r\n, world!!!\r\na\r\n0123456789\r\n"
                   "0\r\nX-Trailer: yes\r\nX-Other:  two \r\n\r\nNEXT",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Transfer-Encoding' 'chunked'\n"
                    "headers-done 200\n"
                    "body hello, world!!!0123456789\n"
                    "trailer 'X-Trailer' 'yes'\n"
                    "trailer 'X-Other' 'two'\n"
                    "done\n"
                    "=> DONE 139/143 framing=chunked keep-alive\n");
    CHECK(.name = "chunked, codings and case",
          .input = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n"
                   "transfer-encoding: CHUNKED\r\n\r\n"
                   "00002\r\nab\r\n0;last\r\n\r\n",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Transfer-Encoding' 'gzip'\n"
                    "header 'transfer-encoding' 'CHUNKED'\n"
                    "headers-done 200\n"
                    "body ab\n"
                    "done\n"
                    "=> DONE 93/93 framing=chunked keep-alive\n");
}

static void test_close_delimited(void)
{
    CHECK(.name = "close-delimited", .eof = true,
          .input = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nsome body bytes",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Content-Type' 'text/plain'\n"
                    "headers-done 200\n"
                    "body some body bytes\n"
                    "done\n"
                    "eof -> 1\n"
                    "=> DONE 60/60 framing=close\n");
}

static void test_no_body_responses(void)
{
    CHECK(.name = "204",
          .input = "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n",
          .expect = "status 1.1 204 'No Content'\n"
                    "header 'Content-Length' '10'\n"
                    "headers-done 204\n"
                    "done\n"
                    "=> DONE 47/47 framing=none cl=10 keep-alive\n");
    CHECK(.name = "304",
          .input = "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nTransfer-Encoding: chunked\r\n\r\n",
          .expect = "status 1.1 304 'Not Modified'\n"
                    "header 'ETag' '\"x\"'\n"
                    "header 'Transfer-Encoding' 'chunked'\n"
                    "headers-done 304\n"
                    "done\n"
                    "=> DONE 68/68 framing=none keep-alive\n");
    CHECK(.name = "HEAD", .head = true,
          .input = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Content-Length' '100'\n"
                    "headers-done 200\n"
                    "done\n"
                    "=> DONE 40/40 framing=none cl=100 keep-alive\n");
    CHECK(.name = "bytes after 204",
          .input = "HTTP/1.1 204 No Content\r\n\r\njunk",
          .expect = "status 1.1 204 'No Content'\n"
                    "headers-done 204\n"
                    "done\n"
                    "tolerated BODY_ON_NO_BODY_RESPONSE @27\n"
                    "=> DONE 27/31 framing=none\n");
}

static void test_interim_responses(void)
{
    CHECK(.name = "100 then 200",
          .input = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
          .expect = "status 1.1 100 'Continue'\n"
                    "headers-done 100\n"
                    "status 1.1 200 'OK'\n"
                    "header 'Content-Length' '2'\n"
                    "headers-done 200\n"
                    "body ok\n"
                    "done\n"
                    "=> DONE 65/65 framing=cl cl=2 keep-alive\n");
    CHECK(.name = "103 with a body header",
          .input = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\nContent-Length: 5\r\n\r\n"
                   "HTTP/1.1 204 No Content\r\n\r\n",
          .expect = "status 1.1 103 'Early Hints'\n"
                    "header 'Link' '</a.css>'\n"
                    "header 'Content-Length' '5'\n"
                    "tolerated INTERIM_WITH_BODY @42\n"
                    "headers-done 103\n"
                    "status 1.1 204 'No Content'\n"
                    "headers-done 204\n"
                    "done\n"
                    "=> DONE 90/90 framing=none keep-alive\n");
    CHECK(.name = "101 upgrade",
          .input = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\n\r\n\x81\x02hi",
          .expect = "status 1.1 101 'Switching Protocols'\n"
                    "header 'Upgrade' 'websocket'\n"
                    "header 'Connection' 'Upgrade'\n"
                    "headers-done 101\n"
                    "=> UPGRADED 77/81 framing=none\n");
}

static void test_keep_alive_two_responses(void)
{
    CHECK(.name = "keep-alive", .chain = true,
          .input = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
                   "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
                   "3\r\ndef\r\n0\r\n\r\n",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Content-Length' '3'\n"
                    "headers-done 200\n"
                    "body abc\n"
                    "done\n"
                    "reset\n"
                    "tolerated HTTP10_RESPONSE @48\n"
                    "status 1.0 200 'OK'\n"
                    "header 'Transfer-Encoding' 'chunked'\n"
                    "header 'Connection' 'keep-alive'\n"
                    "headers-done 200\n"
                    "body def\n"
                    "done\n"
                    "=> DONE 125/125 framing=chunked keep-alive\n");
}

static void test_connection_and_version(void)
{
    CHECK(.name = "HTTP/1.0 closes by default",
          .input = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi",
          .expect = "tolerated HTTP10_RESPONSE @7\n"
                    "status 1.0 200 'OK'\n"
                    "header 'Content-Length' '2'\n"
                    "headers-done 200\n"
                    "body hi\n"
                    "done\n"
                    "=> DONE 40/40 framing=cl cl=2\n");
    CHECK(.name = "Connection: close in a list",
          .input = "HTTP/1.1 200 OK\r\nConnection: foo, CLOSE\r\nContent-Length: 0\r\n\r\n",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Connection' 'foo, CLOSE'\n"
                    "header 'Content-Length' '0'\n"
                    "headers-done 200\n"
                    "done\n"
                    "=> DONE 62/62 framing=cl cl=0\n");
}

/* ---- status line and fields ------------------------------------------------------------ */

static void test_status_line_variants(void)
{
    CHECK(.name = "no reason, no space",
          .input = "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
          .expect = "status 1.1 200 ''\n"
                    "header 'Content-Length' '0'\n"
                    "headers-done 200\n"
                    "done\n"
                    "=> DONE 35/35 framing=cl cl=0 keep-alive\n");
    CHECK(.name = "empty reason after space",
          .input = "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n",
          .expect = "status 1.1 404 ''\n"
                    "header 'Content-Length' '0'\n"
                    "headers-done 404\n"
                    "done\n"
                    "=> DONE 36/36 framing=cl cl=0 keep-alive\n");
    CHECK(.name = "lower-case name, extra spaces (as Chromium)",
          .input = "http/1.1  201 Created\r\nContent-Length: 0\r\n\r\n",
          .expect = "status 1.1 201 'Created'\n"
                    "header 'Content-Length' '0'\n"
                    "headers-done 201\n"
                    "done\n"
                    "=> DONE 44/44 framing=cl cl=0 keep-alive\n");
    CHECK(.name = "bad status code",
          .input = "HTTP/1.1 20x OK\r\n\r\n",
          .expect = "fatal BAD_STATUS_LINE @11\n"
                    "=> ERROR 0/19 framing=none\n");
    CHECK(.name = "status below 100", .input = "HTTP/1.1 099 Odd\r\n\r\n",
          .expect = "fatal BAD_STATUS_LINE @9\n"
                    "=> ERROR 0/20 framing=none\n");
    CHECK(.name = "four-digit status", .input = "HTTP/1.1 2000 OK\r\n\r\n",
          .expect = "fatal BAD_STATUS_LINE @12\n"
                    "=> ERROR 0/20 framing=none\n");
    /* Bytes past max_head are never judged, so the verdict cannot depend on the split. */
    CHECK(.name = "limit before the prefix ends", .max_head = 5, .input = "HTTP/1.1X\r\n\r\n",
          .expect = "fatal HEAD_TOO_LARGE @5\n"
                    "=> ERROR 0/13 framing=none\n");
    CHECK(.name = "not HTTP, no blank line needed", .input = "SSH-2.0-OpenSSH_9.2\r\n",
          .expect = "fatal BAD_STATUS_LINE @0\n"
                    "=> ERROR 0/21 framing=none\n");
    CHECK(.name = "HTTP/2 status line", .input = "HTTP/2 200\r\n",
          .expect = "fatal BAD_STATUS_LINE @5\n"
                    "=> ERROR 0/12 framing=none\n");
}

static void test_repeated_headers_and_trimming(void)
{
    CHECK(.name = "repeated",
          .input = "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
                   "X-Space: \t spaced  value \t\r\nX-Empty:\r\nContent-Length: 0\r\n\r\n",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Set-Cookie' 'a=1'\n"
                    "header 'Set-Cookie' 'b=2'\n"
                    "header 'X-Space' 'spaced  value'\n"
                    "header 'X-Empty' ''\n"
                    "header 'Content-Length' '0'\n"
                    "headers-done 200\n"
                    "done\n"
                    "=> DONE 110/110 framing=cl cl=0 keep-alive\n");
}

static void test_bare_lf(void)
{
    CHECK(.name = "bare LF head",
          .input = "HTTP/1.1 200 OK\nContent-Length: 2\r\nX: y\n\nhi",
          .expect = "status 1.1 200 'OK'\n"
                    "tolerated BARE_LF @15\n"
                    "header 'Content-Length' '2'\n"
                    "header 'X' 'y'\n"
                    "headers-done 200\n"
                    "body hi\n"
                    "done\n"
                    "=> DONE 43/43 framing=cl cl=2 keep-alive\n");
    CHECK(.name = "bare LF in chunked body",
          .input = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "2\nab\n0\r\n\r\n",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Transfer-Encoding' 'chunked'\n"
                    "headers-done 200\n"
                    "tolerated BARE_LF @48\n"
                    "body ab\n"
                    "done\n"
                    "=> DONE 57/57 framing=chunked keep-alive\n");
}

static void test_obs_fold(void)
{
    CHECK(.name = "obs-fold",
          .input = "HTTP/1.1 200 OK\r\nX-Long: first\r\n  second\r\n\tthird\r\n"
                   "Content-Length: 0\r\n\r\n",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'X-Long' 'first'\n"
                    "tolerated OBS_FOLD @32\n"
                    "header 'Content-Length' '0'\n"
                    "headers-done 200\n"
                    "done\n"
                    "=> DONE 71/71 framing=cl cl=0 keep-alive\n");
}

static void test_bad_headers(void)
{
    CHECK(.name = "space before colon",
          .input = "HTTP/1.1 200 OK\r\nX-A: 1\r\nBad : x\r\n\r\n",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'X-A' '1'\n"
                    "fatal BAD_HEADER @28\n"
                    "=> ERROR 0/36 framing=none\n");
    CHECK(.name = "no colon", .input = "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
          .expect = "status 1.1 200 'OK'\n"
                    "fatal BAD_HEADER @24\n"
                    "=> ERROR 0/28 framing=none\n");
    CHECK(.name = "empty name", .input = "HTTP/1.1 200 OK\r\n: v\r\n\r\n",
          .expect = "status 1.1 200 'OK'\n"
                    "fatal BAD_HEADER @17\n"
                    "=> ERROR 0/24 framing=none\n");
}

/* Every byte value in a field name: BAD_HEADER exactly for non-token bytes. */
static void test_token_bytes_in_name(void)
{
    static const char tchars[] = "!#$%&'*+-.^_`|~0123456789"
                                 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    for (int c = 0; c < 256; c++) {
        if (c == ':')
            continue;
        char in[64];
        int n = snprintf(in, sizeof in, "HTTP/1.1 200 OK\r\nA?B: v\r\nContent-Length: 0\r\n\r\n");
        in[18] = (char)c;
        recorder r = {0};
        http1_parser p;
        http1_parser_init(&p, &recorder_callbacks, &r, false);
        http1_parse(&p, in, (size_t)n);
        bool token = c != 0 && strchr(tchars, c) != NULL;
        bool bad = strstr(r.log.data, "fatal BAD_HEADER @18") != NULL;
        if (token == bad)
            fprintf(stderr, "\nbyte 0x%02x: token=%d bad=%d\n", c, token, bad);
        CU_ASSERT_NOT_EQUAL(token, bad);
        CU_ASSERT_EQUAL(p.state, token ? H1_DONE : H1_ERROR);
        buf_free(&r.log);
    }
}

/* ---- Content-Length and Transfer-Encoding ---------------------------------------------- */

static void test_content_length_conflicts(void)
{
    CHECK(.name = "conflicting",
          .input = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Content-Length' '5'\n"
                    "header 'Content-Length' '6'\n"
                    "fatal CONFLICTING_CONTENT_LENGTH @52\n"
                    "=> ERROR 0/63 framing=none\n");
    CHECK(.name = "conflicting in a list",
          .input = "HTTP/1.1 200 OK\r\nContent-Length: 5 , 7\r\n\r\nhello",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Content-Length' '5 , 7'\n"
                    "fatal CONFLICTING_CONTENT_LENGTH @37\n"
                    "=> ERROR 0/47 framing=none\n");
    CHECK(.name = "duplicate",
          .input = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5, 5\r\n\r\nhello",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Content-Length' '5'\n"
                    "header 'Content-Length' '5, 5'\n"
                    "tolerated DUPLICATE_CONTENT_LENGTH @52\n"
                    "headers-done 200\n"
                    "body hello\n"
                    "done\n"
                    "=> DONE 65/65 framing=cl cl=5 keep-alive\n");
}

static void test_content_length_malformed(void)
{
    CHECK(.name = "non-digit", .input = "HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Content-Length' '12a'\n"
                    "fatal BAD_CONTENT_LENGTH @35\n"
                    "=> ERROR 0/40 framing=none\n");
    CHECK(.name = "sign", .input = "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Content-Length' '+5'\n"
                    "fatal BAD_CONTENT_LENGTH @33\n"
                    "=> ERROR 0/39 framing=none\n");
    CHECK(.name = "empty", .input = "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Content-Length' ''\n"
                    "fatal BAD_CONTENT_LENGTH @32\n"
                    "=> ERROR 0/36 framing=none\n");
    CHECK(.name = "empty list element", .input = "HTTP/1.1 200 OK\r\nContent-Length: 1,\r\n\r\n",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Content-Length' '1,'\n"
                    "fatal BAD_CONTENT_LENGTH @35\n"
                    "=> ERROR 0/39 framing=none\n");
    CHECK(.name = "overflow",
          .input = "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Content-Length' '9223372036854775808'\n"
                    "fatal BAD_CONTENT_LENGTH @51\n"
                    "=> ERROR 0/56 framing=none\n");
    CHECK(.name = "largest",
          .input = "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n\r\n",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Content-Length' '9223372036854775807'\n"
                    "headers-done 200\n"
                    "=> BODY 56/56 framing=cl cl=9223372036854775807 keep-alive\n");
}

static void test_transfer_encoding(void)
{
    CHECK(.name = "TE and CL",
          .input = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "2\r\nok\r\n0\r\n\r\n",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Content-Length' '100'\n"
                    "header 'Transfer-Encoding' 'chunked'\n"
                    "tolerated TE_WITH_CONTENT_LENGTH @17\n"
                    "headers-done 200\n"
                    "body ok\n"
                    "done\n"
                    "=> DONE 80/80 framing=chunked keep-alive\n");
    CHECK(.name = "TE gzip only",
          .input = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxxxx",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Transfer-Encoding' 'gzip'\n"
                    "fatal UNSUPPORTED_TRANSFER_CODING @36\n"
                    "=> ERROR 0/48 framing=none\n");
    CHECK(.name = "chunked not last",
          .input = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip;q=1\r\n\r\n",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Transfer-Encoding' 'chunked, gzip;q=1'\n"
                    "fatal UNSUPPORTED_TRANSFER_CODING @45\n"
                    "=> ERROR 0/57 framing=none\n");
}

/* ---- chunked errors -------------------------------------------------------------------- */

static void test_bad_chunk_size(void)
{
    CHECK(.name = "not hex",
          .input = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Transfer-Encoding' 'chunked'\n"
                    "headers-done 200\n"
                    "body hello\n"
                    "fatal BAD_CHUNK_SIZE @57\n"
                    "=> ERROR 57/61 framing=chunked keep-alive\n");
    CHECK(.name = "0x prefix",
          .input = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\n",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Transfer-Encoding' 'chunked'\n"
                    "headers-done 200\n"
                    "fatal BAD_CHUNK_SIZE @48\n"
                    "=> ERROR 47/52 framing=chunked keep-alive\n");
    CHECK(.name = "empty size line",
          .input = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Transfer-Encoding' 'chunked'\n"
                    "headers-done 200\n"
                    "fatal BAD_CHUNK_SIZE @47\n"
                    "=> ERROR 47/49 framing=chunked keep-alive\n");
    CHECK(.name = "CR without LF",
          .input = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\rhello",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Transfer-Encoding' 'chunked'\n"
                    "headers-done 200\n"
                    "fatal BAD_CHUNK_SIZE @49\n"
                    "=> ERROR 47/54 framing=chunked keep-alive\n");
    CHECK(.name = "over the limit",
          .input = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4000000000000001\r\n",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Transfer-Encoding' 'chunked'\n"
                    "headers-done 200\n"
                    "fatal CHUNK_TOO_LARGE @62\n"
                    "=> ERROR 47/65 framing=chunked keep-alive\n");
    CHECK(.name = "overflow", .max_chunk_size = UINT64_MAX,
          .input = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n00FFFFFFFFFFFFFFFF0\r\n",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Transfer-Encoding' 'chunked'\n"
                    "headers-done 200\n"
                    "fatal BAD_CHUNK_SIZE @65\n"
                    "=> ERROR 47/68 framing=chunked keep-alive\n");
}

static void test_bad_chunk_end(void)
{
    CHECK(.name = "data not followed by CRLF",
          .input = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Transfer-Encoding' 'chunked'\n"
                    "headers-done 200\n"
                    "body hello\n"
                    "fatal BAD_CHUNK_END @55\n"
                    "=> ERROR 55/63 framing=chunked keep-alive\n");
    CHECK(.name = "CR then garbage",
          .input = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\rX",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Transfer-Encoding' 'chunked'\n"
                    "headers-done 200\n"
                    "body hello\n"
                    "fatal BAD_CHUNK_END @56\n"
                    "=> ERROR 55/57 framing=chunked keep-alive\n");
    CHECK(.name = "bad trailer",
          .input = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "0\r\nOK: 1\r\nno colon\r\n\r\n",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Transfer-Encoding' 'chunked'\n"
                    "headers-done 200\n"
                    "trailer 'OK' '1'\n"
                    "fatal BAD_TRAILER @59\n"
                    "=> ERROR 57/69 framing=chunked keep-alive\n");
}

static void test_trailer_variants(void)
{
    CHECK(.name = "trailer fold and bare LF",
          .input = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "1\r\nx\r\n0\r\nA: 1\r\n folded\r\nB: 2\n\r\n",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Transfer-Encoding' 'chunked'\n"
                    "headers-done 200\n"
                    "body x\n"
                    "trailer 'A' '1'\n"
                    "tolerated OBS_FOLD @62\n"
                    "trailer 'B' '2'\n"
                    "tolerated BARE_LF @75\n"
                    "done\n"
                    "=> DONE 78/78 framing=chunked keep-alive\n");
    CHECK(.name = "too many trailers", .max_headers = 1,
          .input = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "0\r\nA: 1\r\nB: 2\r\n\r\n",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Transfer-Encoding' 'chunked'\n"
                    "headers-done 200\n"
                    "trailer 'A' '1'\n"
                    "fatal TOO_MANY_HEADERS @56\n"
                    "=> ERROR 56/64 framing=chunked keep-alive\n");
    CHECK(.name = "trailer line too long", .max_head = 60,
          .input = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "0\r\nX-Long: 0123456789012345678901234567890123456789012345678901234\r\n\r\n",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Transfer-Encoding' 'chunked'\n"
                    "headers-done 200\n"
                    "fatal BAD_TRAILER @110\n"
                    "=> ERROR 50/117 framing=chunked keep-alive\n");
}

/* An endless chunk extension is cut off at 16 KiB, as Chromium does. */
static void test_chunk_line_limit(void)
{
    static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    size_t line_max = 16384, head_len = sizeof head - 1;
    char *in = malloc(head_len + line_max + 1);
    memcpy(in, head, head_len);
    memcpy(in + head_len, "1;", 2);
    memset(in + head_len + 2, 'e', line_max - 1);
    recorder r = {0};
    http1_parser p;
    http1_parser_init(&p, &recorder_callbacks, &r, false);
    CU_ASSERT_EQUAL(http1_parse(&p, in, head_len + line_max - 1), head_len);
    CU_ASSERT_EQUAL(http1_parse(&p, in + head_len, line_max - 1), 0); /* still waiting */
    CU_ASSERT_EQUAL(p.state, H1_BODY);
    CU_ASSERT_EQUAL(http1_parse(&p, in + head_len, line_max), 0);
    CU_ASSERT_EQUAL(p.state, H1_ERROR);
    char expect[64];
    snprintf(expect, sizeof expect, "fatal BAD_CHUNK_SIZE @%zu\n", head_len + line_max);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.log.data, expect));
    free(in);
    buf_free(&r.log);
}

/* More header lines than the parser notes while finding the end of the head. */
static void test_many_header_lines(void)
{
    buf in = {0}, expect = {0};
    buf_append_str(&in, "HTTP/1.1 200 OK\r\n");
    buf_append_str(&expect, "status 1.1 200 'OK'\n");
    for (int i = 0; i < 150; i++) {
        buf_printf(&in, "X-%d: %d\r\n", i, i * 7);
        buf_printf(&expect, "header 'X-%d' '%d'\n", i, i * 7);
    }
    buf_append_str(&in, "Content-Length: 1\r\n\r\nz");
    buf_printf(&expect, "header 'Content-Length' '1'\nheaders-done 200\nbody z\ndone\n"
                        "=> DONE %zu/%zu framing=cl cl=1 keep-alive\n", in.len, in.len);
    check_case(&(h1_case){.name = "150 header lines", .input = in.data, .expect = expect.data});
    buf_free(&in);
    buf_free(&expect);
}

/* ---- limits ---------------------------------------------------------------------------- */

static void test_head_too_large(void)
{
    /* The head below is 64 bytes with its blank line: it fits 64 and not 63. */
    static const char in[] = "HTTP/1.1 200 OK\r\nX-Pad: 01234567890123456\r\n"
                             "Content-Length: 0\r\n\r\n";
    CHECK(.name = "head at the limit", .max_head = 64, .input = in,
          .expect = "status 1.1 200 'OK'\n"
                    "header 'X-Pad' '01234567890123456'\n"
                    "header 'Content-Length' '0'\n"
                    "headers-done 200\n"
                    "done\n"
                    "=> DONE 64/64 framing=cl cl=0 keep-alive\n");
    CHECK(.name = "head over the limit", .max_head = 63, .input = in,
          .expect = "fatal HEAD_TOO_LARGE @63\n"
                    "=> ERROR 0/64 framing=none\n");
    CHECK(.name = "endless head", .max_head = 40,
          .input = "HTTP/1.1 200 OK\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
          .expect = "fatal HEAD_TOO_LARGE @40\n"
                    "=> ERROR 0/71 framing=none\n");
}

static void test_too_many_headers(void)
{
    CHECK(.name = "too many", .max_headers = 2,
          .input = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'A' '1'\n"
                    "header 'B' '2'\n"
                    "fatal TOO_MANY_HEADERS @29\n"
                    "=> ERROR 0/37 framing=none\n");
}

/* ---- end of stream --------------------------------------------------------------------- */

static void test_truncation_at_eof(void)
{
    CHECK(.name = "truncated body", .eof = true,
          .input = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabcd",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Content-Length' '10'\n"
                    "headers-done 200\n"
                    "body abcd\n"
                    "fatal TRUNCATED_BODY @43\n"
                    "eof -> 0\n"
                    "=> ERROR 43/43 framing=cl cl=10 keep-alive\n");
    CHECK(.name = "truncated in a chunk-size line", .eof = true,
          .input = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1f",
          .expect = "status 1.1 200 'OK'\n"
                    "header 'Transfer-Encoding' 'chunked'\n"
                    "headers-done 200\n"
                    "body ab\n"
                    "fatal TRUNCATED_BODY @56\n"
                    "eof -> 0\n"
                    "=> ERROR 54/56 framing=chunked keep-alive\n");
    CHECK(.name = "truncated head", .eof = true,
          .input = "HTTP/1.1 200 OK\r\nContent-Le",
          .expect = "fatal TRUNCATED_HEAD @27\n"
                    "eof -> 0\n"
                    "=> ERROR 0/27 framing=none\n");
    CHECK(.name = "zero-byte response", .eof = true, .input = "",
          .expect = "fatal TRUNCATED_HEAD @0\n"
                    "eof -> 0\n"
                    "=> ERROR 0/0 framing=none\n");
}

/* ---- direct checks of the API ---------------------------------------------------------- */

static void capture_finding(void *ud, const http1_finding *f)
{
    *(http1_finding *)ud = *f;
}

static void test_eof_messages(void)
{
    http1_finding f = {0};
    http1_callbacks cb = {.on_finding = capture_finding};
    http1_parser p;
    http1_parser_init(&p, &cb, &f, false);
    CU_ASSERT_FALSE(http1_eof(&p));
    CU_ASSERT_EQUAL(f.code, H1F_TRUNCATED_HEAD);
    CU_ASSERT_TRUE(f.fatal);
    CU_ASSERT_STRING_EQUAL(f.message, "connection closed before any response byte");

    http1_parser_init(&p, &cb, &f, false);
    CU_ASSERT_EQUAL(http1_parse(&p, "HTTP/1.1 100 Continue\r\n\r\n", 25), 25);
    CU_ASSERT_FALSE(http1_eof(&p));
    CU_ASSERT_EQUAL(f.code, H1F_TRUNCATED_HEAD);
    CU_ASSERT_EQUAL(f.offset, 25);
    CU_ASSERT_STRING_NOT_EQUAL(f.message, "connection closed before any response byte");
}

/* Partial chunks and partial Content-Length bodies are delivered and consumed at once. */
static void test_incremental_delivery(void)
{
    recorder r = {0};
    http1_parser p;
    http1_parser_init(&p, &recorder_callbacks, &r, false);
    const char *head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    size_t head_len = strlen(head);
    CU_ASSERT_EQUAL(http1_parse(&p, head, head_len - 1), 0); /* head incomplete */
    CU_ASSERT_EQUAL(http1_parse(&p, head, head_len), head_len);
    CU_ASSERT_EQUAL(http1_parse(&p, "5\r\nhel", 6), 6);
    CU_ASSERT_EQUAL(p.body_received, 3);
    CU_ASSERT_EQUAL(http1_parse(&p, "lo\r", 3), 2); /* the lone CR waits */
    CU_ASSERT_EQUAL(p.body_received, 5);
    CU_ASSERT_EQUAL(http1_parse(&p, "\r\n1", 3), 2); /* size line without its LF waits */
    CU_ASSERT_EQUAL(p.offset, head_len + 10);
    CU_ASSERT_EQUAL(p.state, H1_BODY);
    buf_free(&r.log);

    r = (recorder){0};
    http1_parser_init(&p, &recorder_callbacks, &r, false);
    const char *cl = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab";
    CU_ASSERT_EQUAL(http1_parse(&p, cl, strlen(cl)), strlen(cl));
    CU_ASSERT_EQUAL(p.body_received, 2);
    CU_ASSERT_EQUAL(http1_parse(&p, "cdef", 4), 2);
    CU_ASSERT_EQUAL(p.state, H1_DONE);
    CU_ASSERT_STRING_EQUAL(r.log.data, "status 1.1 200 'OK'\nheader 'Content-Length' '4'\n"
                                       "headers-done 200\nbody abcd\ndone\n");
    buf_free(&r.log);
}

static void test_after_fatal_nothing_consumed(void)
{
    recorder r = {0};
    http1_parser p;
    http1_parser_init(&p, &recorder_callbacks, &r, false);
    CU_ASSERT_EQUAL(http1_parse(&p, "XTTP/1.1 200 OK\r\n\r\n", 19), 0);
    CU_ASSERT_EQUAL(p.state, H1_ERROR);
    size_t log_len = r.log.len;
    CU_ASSERT_EQUAL(http1_parse(&p, "HTTP/1.1 200 OK\r\n\r\n", 19), 0);
    CU_ASSERT_EQUAL(r.log.len, log_len); /* no further events */
    CU_ASSERT_FALSE(http1_eof(&p));
    CU_ASSERT_EQUAL(r.log.len, log_len);
    buf_free(&r.log);
}

/* Callbacks are optional. */
static void test_null_callbacks(void)
{
    http1_parser p;
    http1_parser_init(&p, NULL, NULL, false);
    const char *in = "HTTP/1.1 200 OK\nContent-Length: 2\r\n\r\nhi";
    CU_ASSERT_EQUAL(http1_parse(&p, in, strlen(in)), strlen(in));
    CU_ASSERT_EQUAL(p.state, H1_DONE);
    CU_ASSERT_EQUAL(p.status, 200);
    CU_ASSERT_EQUAL(p.body_received, 2);
}

/* ---- writer ---------------------------------------------------------------------------- */

static void test_write_get(void)
{
    buf b = {0};
    http1_header h[] = {{"Host", "example.com"}, {"Accept", "*/*"}};
    CU_ASSERT_EQUAL(http1_write_request(&b, "GET", "/x?y=1", h, 2, 0), 0);
    CU_ASSERT_STRING_EQUAL(b.data,
                           "GET /x?y=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n");
    buf_free(&b);
}

static void test_write_content_length(void)
{
    buf b = {0};
    http1_header host[] = {{"Host", "h"}};
    CU_ASSERT_EQUAL(http1_write_request(&b, "POST", "/p", host, 1, 0), 0);
    CU_ASSERT_STRING_EQUAL(b.data, "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
    buf_reset(&b);
    CU_ASSERT_EQUAL(http1_write_request(&b, "GET", "/g", NULL, 0, 3), 0);
    CU_ASSERT_STRING_EQUAL(b.data, "GET /g HTTP/1.1\r\nContent-Length: 3\r\n\r\n");
    buf_reset(&b);
    CU_ASSERT_EQUAL(http1_write_request(&b, "DELETE", "/d", NULL, 0, 0), 0);
    CU_ASSERT_STRING_EQUAL(b.data, "DELETE /d HTTP/1.1\r\n\r\n");
    buf_reset(&b);
    http1_header given[] = {{"content-length", "5"}};
    CU_ASSERT_EQUAL(http1_write_request(&b, "PUT", "/u", given, 1, 5), 0);
    CU_ASSERT_STRING_EQUAL(b.data, "PUT /u HTTP/1.1\r\ncontent-length: 5\r\n\r\n");
    buf_reset(&b);
    http1_header te[] = {{"Transfer-Encoding", "chunked"}};
    CU_ASSERT_EQUAL(http1_write_request(&b, "PATCH", "*", te, 1, 9), 0);
    CU_ASSERT_STRING_EQUAL(b.data, "PATCH * HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    buf_free(&b);
}

static void expect_rejected(const char *method, const char *target, const char *name,
                            const char *value)
{
    buf b = {0};
    buf_append_str(&b, "previous");
    http1_header h[] = {{"Host", "h"}, {name, value}};
    int rc = http1_write_request(&b, method, target, h, 2, 0);
    if (rc != -1)
        fprintf(stderr, "\naccepted: %s %s %s: %s\n", method, target, name, value);
    CU_ASSERT_EQUAL(rc, -1);
    CU_ASSERT_EQUAL(b.len, 8);
    CU_ASSERT_STRING_EQUAL(b.data, "previous");
    buf_free(&b);
}

static void test_write_rejects_injection(void)
{
    expect_rejected("GET", "/", "X", "a\r\nInjected: 1");
    expect_rejected("GET", "/", "X", "a\nb");
    expect_rejected("GET", "/", "X", "a\rb");
    expect_rejected("GET", "/", "X:Y", "v");
    expect_rejected("GET", "/", "X Y", "v");
    expect_rejected("GET", "/", "", "v");
    expect_rejected("GET", "/", "X\r\n", "v");
    expect_rejected("GET", "/", "X", NULL);
    expect_rejected("GET", "/a b", "X", "v");
    expect_rejected("GET", "/a\r\nX: y", "X", "v");
    expect_rejected("GET", "", "X", "v");
    expect_rejected("GET /", "/", "X", "v");
    expect_rejected("GET\r\n", "/", "X", "v");
    expect_rejected("", "/", "X", "v");
}

static void test_write_limit_leaves_buffer(void)
{
    buf b = {.limit = 30};
    buf_append_str(&b, "previous");
    http1_header h[] = {{"Host", "a-rather-long-host-name.example"}};
    CU_ASSERT_EQUAL(http1_write_request(&b, "GET", "/", h, 1, 0), -1);
    CU_ASSERT_EQUAL(b.len, 8);
    CU_ASSERT_STRING_EQUAL(b.data, "previous");
    buf_free(&b);
}

/* ---- registration ---------------------------------------------------------------------- */

CU_ErrorCode register_http1_tests(void)
{
    static const struct {
        const char *name;
        CU_TestFunc fn;
    } tests[] = {
        {"Content-Length body", test_content_length_body},
        {"chunked with extensions and trailers", test_chunked_extensions_trailers},
        {"close-delimited body ends at EOF", test_close_delimited},
        {"HEAD, 204, 304 have no body", test_no_body_responses},
        {"1xx interim and 101 upgrade", test_interim_responses},
        {"two responses on a kept-alive connection", test_keep_alive_two_responses},
        {"keep-alive by version and Connection", test_connection_and_version},
        {"status line variants", test_status_line_variants},
        {"repeated headers and value trimming", test_repeated_headers_and_trimming},
        {"bare LF tolerated", test_bare_lf},
        {"obs-fold tolerated", test_obs_fold},
        {"malformed field lines", test_bad_headers},
        {"every byte in a field name", test_token_bytes_in_name},
        {"conflicting and duplicate Content-Length", test_content_length_conflicts},
        {"malformed Content-Length", test_content_length_malformed},
        {"Transfer-Encoding", test_transfer_encoding},
        {"bad chunk size", test_bad_chunk_size},
        {"bad chunk end and trailer", test_bad_chunk_end},
        {"trailer variants", test_trailer_variants},
        {"chunk-size line limit", test_chunk_line_limit},
        {"more header lines than the line index", test_many_header_lines},
        {"head size limit", test_head_too_large},
        {"header count limit", test_too_many_headers},
        {"truncation at EOF", test_truncation_at_eof},
        {"EOF messages", test_eof_messages},
        {"incremental body delivery", test_incremental_delivery},
        {"nothing after a fatal finding", test_after_fatal_nothing_consumed},
        {"callbacks are optional", test_null_callbacks},
        {"writer: GET bytes", test_write_get},
        {"writer: Content-Length", test_write_content_length},
        {"writer: injection rejected", test_write_rejects_injection},
        {"writer: limit leaves the buffer", test_write_limit_leaves_buffer},
    };
    CU_pSuite s = CU_add_suite("http1", NULL, NULL);
    if (!s)
        return CU_get_error();
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn))
            return CU_get_error();
    return CUE_SUCCESS;
}
