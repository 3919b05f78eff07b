/* The fixture's Server-Sent Events routes over real sockets: /sse/ticker and /sse/raw/NAME.
 * Exact bytes where the stream is deterministic; the event-stream parser (proto/sse_parser)
 * says what a client would dispatch; timing is checked by lower bounds only (a busy machine
 * delays, it never hurries). */
#include "fixture.h"
#include "net/transport.h"
#include "proto/sse_parser.h"
#include "tests/fixture_env.h"
#include "tests/test_registry.h"
#include "util/buf.h"

#include <CUnit/CUnit.h>
#include <ctype.h>
#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SSE_HEAD                                                                                   \
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"           \
    "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
#define SLACK 0.005 /* timers round; lower bounds allow this much */

/* ---- helpers ------------------------------------------------------------------------------ */

/* GET target on a fresh connection (extra: more header lines), until EOF, error or
 * stop_after bytes. */
static void fetch_sse(env *e, client *c, const char *target, const char *extra,
                      size_t stop_after)
{
    char req[1024];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n", target, extra ? extra : "");
    fixture_fetch(e, c, req, stop_after); /* the request is written before this returns */
}

/* Runs the loop on: until EOF, error or stop_after bytes. */
static bool run_on(env *e, client *c, size_t stop_after)
{
    c->done = false;
    c->stop_after = stop_after;
    return run_until(e->loop, &c->done, RUN_CAP);
}

static int occurrences(const buf *b, const char *needle)
{
    int n = 0;
    for (const char *p = b->data; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Runs the loop until the client holds count copies of needle (or ends, or RUN_CAP). */
static bool wait_for(env *e, client *c, const char *needle, int count)
{
    double until = ev_time() + RUN_CAP;
    c->done = false;
    c->stop_after = 0;
    while (occurrences(&c->in, needle) < count && !c->done && ev_time() < until)
        run_until(e->loop, &c->done, 0.02);
    return occurrences(&c->in, needle) >= count;
}

/* The chunk at *p: 1 and its payload, 0 at the last chunk, -1 when framing is bad or cut. */
static int next_chunk(const char **p, const char *end, const char **data, size_t *len)
{
    char *stop;
    if (*p >= end || !isxdigit((unsigned char)**p))
        return -1;
    size_t n = strtoul(*p, &stop, 16); /* buf data is NUL-terminated: strtoul stops in time */
    if (end - stop < 2 || memcmp(stop, "\r\n", 2) != 0)
        return -1;
    const char *payload = stop + 2;
    if (n == 0)
        return end - payload >= 2 && memcmp(payload, "\r\n", 2) == 0 ? 0 : -1;
    if ((size_t)(end - payload) < n + 2 || memcmp(payload + n, "\r\n", 2) != 0)
        return -1;
    *data = payload;
    *len = n;
    *p = payload + n + 2;
    return 1;
}

typedef enum body_end { BODY_ENDED, BODY_CUT, BODY_BAD } body_end;

typedef struct chunked {
    buf payload; /* the chunks' data joined */
    int chunks;
    body_end end;
} chunked;

/* Decodes the chunked body of a whole response. */
static void dechunk(const buf *in, chunked *out)
{
    memset(out, 0, sizeof *out);
    const char *p = body_of(in), *end = p + body_len_of(in), *data;
    size_t len;
    for (;;) {
        if (p == end) {
            out->end = BODY_CUT;
            return;
        }
        int rc = next_chunk(&p, end, &data, &len);
        if (rc <= 0) {
            out->end = rc == 0 ? BODY_ENDED : BODY_BAD;
            return;
        }
        buf_append(&out->payload, data, len);
        out->chunks++;
    }
}

static bool payload_is(const chunked *ch, const char *s, size_t len)
{
    return ch->payload.len == len && memcmp(ch->payload.data, s, len) == 0;
}

#define PAYLOAD_IS(ch, lit) payload_is(ch, lit, sizeof(lit) - 1)

/* What a client dispatches: "[type|data|last event id]" per event. */
typedef struct seen {
    buf log;
    int events;
    int retries;
    uint64_t retry_ms;
} seen;

static void seen_event(void *ud, const char *type, size_t type_len, const char *data,
                       size_t data_len, const char *id, size_t id_len)
{
    seen *s = ud;
    buf_append_str(&s->log, "[");
    buf_append(&s->log, type, type_len);
    buf_append_str(&s->log, "|");
    buf_append(&s->log, data, data_len);
    buf_append_str(&s->log, "|");
    buf_append(&s->log, id, id_len);
    buf_append_str(&s->log, "]");
    s->events++;
}

static void seen_retry(void *ud, uint64_t ms)
{
    seen *s = ud;
    s->retries++;
    s->retry_ms = ms;
}

/* Feeds every chunk of the response to an event-stream parser, one feed per chunk, as a
 * client gets them; then the end of the stream. */
static void parse_events(const buf *in, seen *s)
{
    static const sse_parser_config cfg = {.on_event = seen_event, .on_retry = seen_retry};
    sse_parser p;
    memset(s, 0, sizeof *s);
    sse_parser_init(&p, &cfg, s);
    const char *pos = body_of(in), *end = pos + body_len_of(in), *data;
    size_t len;
    while (next_chunk(&pos, end, &data, &len) == 1)
        sse_parser_feed(&p, data, len);
    sse_parser_finish(&p);
    sse_parser_free(&p);
    buf_append_str(&s->log, ""); /* a log with no events is "" rather than NULL */
}

/* ---- /sse/ticker ------------------------------------------------------------------------ */

static void test_ticker_default_bytes(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    client c;
    fetch_sse(&e, &c, "/sse/ticker?n=3&gap=10ms&end=close", NULL, 0);
    CU_ASSERT(c.eof && !c.failed);
    CU_ASSERT_STRING_EQUAL(c.in.data, SSE_HEAD "e\r\ndata: tick 1\n\n\r\n"
                                               "e\r\ndata: tick 2\n\n\r\n"
                                               "e\r\ndata: tick 3\n\n\r\n"
                                               "0\r\n\r\n");
    client_end(&c);
    env_stop(&e);
}

static void test_ticker_fields(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    client c;
    chunked ch;
    seen s;
    fetch_sse(&e, &c,
              "/sse/ticker?n=2&gap=0&id=1&start=41&retry=2500&event=tick&comment=1&lines=2"
              "&pad=3&end=close",
              NULL, 0);
    dechunk(&c.in, &ch);
    CU_ASSERT_EQUAL(ch.end, BODY_ENDED);
    CU_ASSERT_EQUAL(ch.chunks, 3); /* the retry block, then one chunk per event */
    CU_ASSERT(PAYLOAD_IS(&ch, "retry: 2500\n\n"
                              "id: 41\nevent: tick\n: comment\n"
                              "data: tick 41 line 1xxx\ndata: tick 41 line 2\n\n"
                              "id: 42\nevent: tick\n: comment\n"
                              "data: tick 42 line 1xxx\ndata: tick 42 line 2\n\n"));
    parse_events(&c.in, &s);
    CU_ASSERT_EQUAL(s.retries, 1);
    CU_ASSERT_EQUAL(s.retry_ms, 2500);
    CU_ASSERT_STRING_EQUAL(s.log.data, "[tick|tick 41 line 1xxx\ntick 41 line 2|41]"
                                       "[tick|tick 42 line 1xxx\ntick 42 line 2|42]");
    buf_free(&s.log);
    buf_free(&ch.payload);
    client_end(&c);
    env_stop(&e);
}

static void test_ticker_line_endings(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    client c;
    chunked ch;
    seen s;
    fetch_sse(&e, &c, "/sse/ticker?n=1&id=1&eol=crlf&bom=1&end=close", NULL, 0);
    CU_ASSERT_STRING_EQUAL(body_of(&c.in), "3\r\n\xef\xbb\xbf\r\n"
                                           "17\r\nid: 1\r\ndata: tick 1\r\n\r\n\r\n"
                                           "0\r\n\r\n");
    parse_events(&c.in, &s);
    CU_ASSERT_STRING_EQUAL(s.log.data, "[message|tick 1|1]"); /* the BOM is not in the id */
    buf_free(&s.log);
    client_end(&c);

    fetch_sse(&e, &c, "/sse/ticker?n=1&eol=cr&end=close", NULL, 0);
    dechunk(&c.in, &ch);
    CU_ASSERT(PAYLOAD_IS(&ch, "data: tick 1\r\r"));
    buf_free(&ch.payload);
    client_end(&c);

    /* mixed: LF, CR, CRLF in turn over the whole stream */
    fetch_sse(&e, &c, "/sse/ticker?n=2&gap=0&id=1&eol=mixed&end=close", NULL, 0);
    dechunk(&c.in, &ch);
    CU_ASSERT(PAYLOAD_IS(&ch, "id: 1\ndata: tick 1\r\r\nid: 2\ndata: tick 2\r\r\n"));
    parse_events(&c.in, &s);
    CU_ASSERT_STRING_EQUAL(s.log.data, "[message|tick 1|1][message|tick 2|2]");
    buf_free(&s.log);
    buf_free(&ch.payload);
    client_end(&c);

    /* every phase of the cycle meets a blank line: still the events a client should see */
    fetch_sse(&e, &c, "/sse/ticker?n=3&gap=0&id=1&lines=2&comment=1&retry=10&eol=mixed&end=close",
              NULL, 0);
    parse_events(&c.in, &s);
    CU_ASSERT_EQUAL(s.retry_ms, 10);
    CU_ASSERT_STRING_EQUAL(s.log.data, "[message|tick 1 line 1\ntick 1 line 2|1]"
                                       "[message|tick 2 line 1\ntick 2 line 2|2]"
                                       "[message|tick 3 line 1\ntick 3 line 2|3]");
    buf_free(&s.log);
    client_end(&c);

    fetch_sse(&e, &c, "/sse/ticker?eol=crcr", NULL, 0);
    CU_ASSERT(starts_with(&c.in, "HTTP/1.1 400 Bad Request\r\n"));
    CU_ASSERT(contains(&c.in, "eol must be"));
    client_end(&c);
    env_stop(&e);
}

static void test_ticker_resume(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    client c;
    chunked ch;
    fetch_sse(&e, &c, "/sse/ticker?n=2&gap=0&id=1&resume=1&end=close", "Last-Event-ID: 7\r\n", 0);
    dechunk(&c.in, &ch);
    CU_ASSERT(PAYLOAD_IS(&ch, "id: 8\ndata: tick 8\n\nid: 9\ndata: tick 9\n\n"));
    buf_free(&ch.payload);
    client_end(&c);

    /* without resume the header is ignored */
    fetch_sse(&e, &c, "/sse/ticker?n=1&id=1&end=close", "Last-Event-ID: 7\r\n", 0);
    dechunk(&c.in, &ch);
    CU_ASSERT(PAYLOAD_IS(&ch, "id: 1\ndata: tick 1\n\n"));
    buf_free(&ch.payload);
    client_end(&c);

    /* an id that is not a decimal integer: back to start */
    fetch_sse(&e, &c, "/sse/ticker?n=1&id=1&start=5&resume=1&end=close",
              "Last-Event-ID: 7a\r\n", 0);
    dechunk(&c.in, &ch);
    CU_ASSERT(PAYLOAD_IS(&ch, "id: 5\ndata: tick 5\n\n"));
    buf_free(&ch.payload);
    client_end(&c);
    env_stop(&e);
}

static void test_ticker_gaps(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    client c;
    const char first_event[] = SSE_HEAD "e\r\ndata: tick 1\n\n\r\n";
    fetch_sse(&e, &c, "/sse/ticker?n=3&first=100ms&gap=100ms&end=close", NULL,
              sizeof first_event - 1);
    CU_ASSERT_STRING_EQUAL(c.in.data, first_event);
    CU_ASSERT(c.t_done - c.t0 >= 0.1 - SLACK);
    CU_ASSERT(run_on(&e, &c, 0));
    CU_ASSERT(c.eof);
    CU_ASSERT(c.t_done - c.t0 >= 0.3 - SLACK);
    CU_ASSERT(contains(&c.in, "data: tick 3\n\n\r\n0\r\n\r\n"));
    client_end(&c);
    env_stop(&e);
}

static void test_ticker_heartbeat_hang(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    client c;
    fetch_sse(&e, &c, "/sse/ticker?n=1&heartbeat=50ms", NULL, strlen(SSE_HEAD) + 1);
    CU_ASSERT(wait_for(&e, &c, ": heartbeat\n", 2));
    CU_ASSERT(!c.eof && !c.failed); /* end=hang: still open after the last event */
    CU_ASSERT_EQUAL(occurrences(&c.in, "data: tick"), 1);
    const char *event = strstr(c.in.data, "data: tick 1"), *beat = strstr(c.in.data, ": heart");
    CU_ASSERT(event && beat && event < beat);
    CU_ASSERT(ev_time() - c.t0 >= 0.1 - SLACK);
    transport_shutdown(c.t); /* our FIN ends the stream */
    CU_ASSERT(run_on(&e, &c, 0));
    CU_ASSERT(c.eof);
    client_end(&c);
    env_stop(&e);
}

static void test_ticker_unlimited(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    client c;
    fetch_sse(&e, &c, "/sse/ticker?n=0&gap=5ms", NULL, strlen(SSE_HEAD) + 1);
    CU_ASSERT(wait_for(&e, &c, "data: tick 12\n", 1)); /* beyond the default n=5 */
    CU_ASSERT(!c.eof && !c.failed);
    client_end(&c);
    env_stop(&e);
}

static void test_ticker_drop(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    client c;
    chunked ch;
    fetch_sse(&e, &c, "/sse/ticker?n=5&gap=0&drop=2&end=close", NULL, 0);
    CU_ASSERT(c.eof && !c.failed);
    CU_ASSERT_STRING_EQUAL(body_of(&c.in), "e\r\ndata: tick 1\n\n\r\ne\r\ndata: tick 2\n\n\r\n");
    dechunk(&c.in, &ch);
    CU_ASSERT_EQUAL(ch.end, BODY_CUT); /* FIN without the last chunk */
    buf_free(&ch.payload);
    client_end(&c);

    fetch_sse(&e, &c, "/sse/ticker?n=5&gap=0&drop=1&drop_mode=reset", NULL, 0);
    CU_ASSERT(c.failed && c.err == TE_RESET);
    CU_ASSERT(!c.eof);
    client_end(&c);

    fetch_sse(&e, &c, "/sse/ticker?drop=1&drop_mode=fin", NULL, 0);
    CU_ASSERT(starts_with(&c.in, "HTTP/1.1 400 "));
    client_end(&c);
    env_stop(&e);
}

/* Inflates one chunk's worth (sync-flushed) and appends what came out. */
static int inflate_into(z_stream *z, const char *data, size_t len, buf *out)
{
    char block[4096];
    int rc;
    z->next_in = (Bytef *)data;
    z->avail_in = (uInt)len;
    do {
        z->next_out = (Bytef *)block;
        z->avail_out = sizeof block;
        rc = inflate(z, Z_SYNC_FLUSH);
        buf_append(out, block, sizeof block - z->avail_out);
    } while (rc == Z_OK && (z->avail_in > 0 || z->avail_out == 0));
    return rc;
}

static void test_ticker_gzip(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    client c;
    fetch_sse(&e, &c, "/sse/ticker?n=3&gap=0&id=1&gzip=1&end=close", NULL, 0);
    CU_ASSERT(c.eof);
    CU_ASSERT(contains(&c.in, "Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"));
    z_stream z = {0};
    CU_ASSERT_FATAL(inflateInit2(&z, 31) == Z_OK);
    buf text = {0};
    const char *pos = body_of(&c.in), *end = pos + body_len_of(&c.in), *data;
    size_t len;
    int rc = Z_OK, chunks = 0;
    while (next_chunk(&pos, end, &data, &len) == 1) {
        rc = inflate_into(&z, data, len, &text);
        if (++chunks == 1) /* each event decodes from its own chunk: nothing held back */
            CU_ASSERT(text.len == 20 && memcmp(text.data, "id: 1\ndata: tick 1\n\n", 20) == 0);
    }
    CU_ASSERT_EQUAL(chunks, 4); /* three events and the gzip trailer */
    CU_ASSERT_EQUAL(rc, Z_STREAM_END);
    CU_ASSERT_STRING_EQUAL(text.data, "id: 1\ndata: tick 1\n\nid: 2\ndata: tick 2\n\n"
                                      "id: 3\ndata: tick 3\n\n");
    inflateEnd(&z);
    buf_free(&text);
    client_end(&c);
    env_stop(&e);
}

/* buffer=200: events 1-9 are 14 bytes, 10 on 15, so the 14th makes 201 and all go at once. */
static void test_ticker_buffer(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    buf expect = {0};
    buf_append_str(&expect, SSE_HEAD "c9\r\n");
    for (int i = 1; i <= 14; i++)
        buf_printf(&expect, "data: tick %d\n\n", i);
    buf_append_str(&expect, "\r\n");
    client c;
    client_start(&c, e.loop, "127.0.0.1", e.port, NULL,
                 "GET /sse/ticker?n=0&gap=20ms&buffer=200 HTTP/1.1\r\nHost: x\r\n\r\n");
    c.stop_after = strlen(SSE_HEAD) + 1;
    /* 13 gaps (260 ms) must pass before any event byte */
    CU_ASSERT(!run_until(e.loop, &c.done, 0.15));
    CU_ASSERT(c.in.len <= strlen(SSE_HEAD));
    CU_ASSERT(run_on(&e, &c, expect.len));
    CU_ASSERT(!c.eof);
    CU_ASSERT(c.t_done - c.t0 >= 0.26 - SLACK);
    CU_ASSERT(c.in.len == expect.len && memcmp(c.in.data, expect.data, expect.len) == 0);
    client_end(&c);
    buf_free(&expect);
    env_stop(&e);
}

static void test_ticker_head_options(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    client c;
    fetch_sse(&e, &c, "/sse/ticker?n=1&type=text/plain&status=503&end=close", NULL, 0);
    CU_ASSERT(starts_with(&c.in, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                                 "Cache-Control: no-cache\r\n"));
    CU_ASSERT_STRING_EQUAL(body_of(&c.in), "e\r\ndata: tick 1\n\n\r\n0\r\n\r\n");
    client_end(&c);

    static const char *const rejected[] = {
        "/sse/ticker?type=text/event-stream%0D%0AX-Evil:%201",
        "/sse/ticker?event=a%0Ab",
        "/sse/ticker?status=204",
        "/sse/ticker?status=99",
        "/sse/ticker?end=later",
    };
    for (size_t i = 0; i < sizeof rejected / sizeof rejected[0]; i++) {
        fetch_sse(&e, &c, rejected[i], NULL, 0);
        CU_ASSERT(starts_with(&c.in, "HTTP/1.1 400 Bad Request\r\n"));
        CU_ASSERT(!contains(&c.in, "X-Evil"));
        client_end(&c);
    }

    client_start(&c, e.loop, "127.0.0.1", e.port, NULL,
                 "HEAD /sse/ticker?n=3 HTTP/1.1\r\nHost: x\r\n\r\n");
    CU_ASSERT(run_until(e.loop, &c.done, RUN_CAP));
    CU_ASSERT(c.eof);
    CU_ASSERT_STRING_EQUAL(c.in.data, SSE_HEAD);
    client_end(&c);
    env_stop(&e);
}

/* ---- /sse/raw/NAME ------------------------------------------------------------------------ */

#define RAW_HEAD(status, type)                                                                     \
    "HTTP/1.1 " status "\r\n" type "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n"   \
    "Connection: close\r\n\r\n"

static void test_raw_types_and_statuses(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    client c;
    fetch_sse(&e, &c, "/sse/raw/wrong-type", NULL, 0);
    CU_ASSERT(c.eof);
    CU_ASSERT_STRING_EQUAL(c.in.data, RAW_HEAD("200 OK", "Content-Type: text/plain\r\n")
                           "12\r\ndata: wrong-type\n\n\r\n0\r\n\r\n");
    client_end(&c);
    fetch_sse(&e, &c, "/sse/raw/no-type", NULL, 0);
    CU_ASSERT_STRING_EQUAL(c.in.data,
                           RAW_HEAD("200 OK", "") "f\r\ndata: no-type\n\n\r\n0\r\n\r\n");
    client_end(&c);
    fetch_sse(&e, &c, "/sse/raw/204", NULL, 0);
    CU_ASSERT(c.eof);
    CU_ASSERT_STRING_EQUAL(c.in.data, "HTTP/1.1 204 No Content\r\nCache-Control: no-cache\r\n"
                                      "Connection: close\r\n\r\n");
    client_end(&c);
    fetch_sse(&e, &c, "/sse/raw/500", NULL, 0);
    CU_ASSERT_STRING_EQUAL(c.in.data,
                           RAW_HEAD("500 Internal Server Error", "Content-Type: text/event-stream\r\n")
                           "14\r\ndata: server-error\n\n\r\n0\r\n\r\n");
    client_end(&c);
    fetch_sse(&e, &c, "/sse/raw/charset-latin1", NULL, 0);
    CU_ASSERT(contains(&c.in, "Content-Type: text/event-stream; charset=iso-8859-1\r\n"));
    seen s;
    parse_events(&c.in, &s);
    CU_ASSERT_STRING_EQUAL(s.log.data, "[message|caf\xc3\xa9|]");
    buf_free(&s.log);
    client_end(&c);
    fetch_sse(&e, &c, "/sse/raw/nope", "Connection: close\r\n", 0);
    CU_ASSERT(starts_with(&c.in, "HTTP/1.1 404 Not Found\r\n"));
    client_end(&c);
    env_stop(&e);
}

static void test_raw_framing(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    client c;
    chunked ch;
    fetch_sse(&e, &c, "/sse/raw/broken-framing", NULL, 0);
    CU_ASSERT(c.eof);
    CU_ASSERT_STRING_EQUAL(body_of(&c.in),
                           "e\r\ndata: before\n\n\r\nzz\r\ndata: after\n\n\r\n0\r\n\r\n");
    dechunk(&c.in, &ch);
    CU_ASSERT_EQUAL(ch.end, BODY_BAD);
    CU_ASSERT(PAYLOAD_IS(&ch, "data: before\n\n"));
    buf_free(&ch.payload);
    client_end(&c);

    /* every CR ends one chunk and its LF starts the next, 50 ms later */
    fetch_sse(&e, &c, "/sse/raw/split-crlf", NULL, 0);
    CU_ASSERT(c.eof);
    CU_ASSERT(c.t_done - c.t0 >= 0.15 - SLACK);
    CU_ASSERT_STRING_EQUAL(body_of(&c.in), "e\r\ndata: split 1\r\r\n"
                                           "f\r\n\ndata: split 2\r\r\n"
                                           "2\r\n\n\r\r\n"
                                           "1\r\n\n\r\n"
                                           "0\r\n\r\n");
    seen s;
    parse_events(&c.in, &s);
    CU_ASSERT_STRING_EQUAL(s.log.data, "[message|split 1\nsplit 2|]");
    buf_free(&s.log);
    client_end(&c);
    env_stop(&e);
}

static void test_raw_parsing_edges(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    client c;
    chunked ch;
    seen s;
    fetch_sse(&e, &c, "/sse/raw/non-utf8", NULL, 0);
    CU_ASSERT(contains(&c.in, "Content-Type: text/event-stream\r\n"));
    dechunk(&c.in, &ch);
    CU_ASSERT(PAYLOAD_IS(&ch, "data: a\xff" "b\n\n"));
    parse_events(&c.in, &s);
    CU_ASSERT_STRING_EQUAL(s.log.data, "[message|a\xef\xbf\xbd" "b|]"); /* U+FFFD */
    buf_free(&s.log);
    buf_free(&ch.payload);
    client_end(&c);

    fetch_sse(&e, &c, "/sse/raw/no-blank-line", NULL, 0);
    CU_ASSERT(c.eof);
    dechunk(&c.in, &ch);
    CU_ASSERT_EQUAL(ch.end, BODY_ENDED);
    CU_ASSERT(PAYLOAD_IS(&ch, "data: never dispatched\n"));
    parse_events(&c.in, &s);
    CU_ASSERT_EQUAL(s.events, 0);
    buf_free(&s.log);
    buf_free(&ch.payload);
    client_end(&c);

    fetch_sse(&e, &c, "/sse/raw/field-edge", NULL, 0);
    dechunk(&c.in, &ch);
    CU_ASSERT(PAYLOAD_IS(&ch, "data\ndata:  two spaces\nunknown: field\nid: a\0b\nretry: 12a\n\n"));
    parse_events(&c.in, &s);
    CU_ASSERT_STRING_EQUAL(s.log.data, "[message|\n two spaces|]");
    CU_ASSERT_EQUAL(s.retries, 0);
    buf_free(&s.log);
    buf_free(&ch.payload);
    client_end(&c);
    env_stop(&e);
}

static int suite_init(void)
{
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

CU_ErrorCode register_fixture_sse_tests(void)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"/sse/ticker: default bytes, chunk per event", test_ticker_default_bytes},
        {"/sse/ticker: id, start, retry, event, comment, lines, pad", test_ticker_fields},
        {"/sse/ticker: eol crlf/cr/mixed, bom", test_ticker_line_endings},
        {"/sse/ticker: resume from Last-Event-ID", test_ticker_resume},
        {"/sse/ticker: first and gap (lower bounds)", test_ticker_gaps},
        {"/sse/ticker: heartbeats while hanging, client FIN", test_ticker_heartbeat_hang},
        {"/sse/ticker: n=0 goes on", test_ticker_unlimited},
        {"/sse/ticker: drop by FIN and by RST", test_ticker_drop},
        {"/sse/ticker: gzip, sync-flushed per event", test_ticker_gzip},
        {"/sse/ticker: buffer=B holds events back", test_ticker_buffer},
        {"/sse/ticker: type, status, HEAD, rejected parameters", test_ticker_head_options},
        {"/sse/raw: types and statuses", test_raw_types_and_statuses},
        {"/sse/raw: broken framing, split CRLF", test_raw_framing},
        {"/sse/raw: non-UTF-8, no blank line, field edges", test_raw_parsing_edges},
    };
    CU_pSuite s = CU_add_suite("fixture SSE routes", suite_init, NULL);
    if (!s)
        return CU_get_error();
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn))
            return CU_get_error();
    return CUE_SUCCESS;
}
