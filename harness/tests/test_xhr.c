/* The XMLHttpRequest model from event sequences: every expectation here is what Chromium
 * 156 recorded (../shared/browser-truth) or what its throttle code does. */
#include "browser/request_headers.h"
#include "browser/text_decoder.h"
#include "browser/xhr.h"
#include "tests/test_registry.h"
#include "util/buf.h"

#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>

/* Renders events compactly: rs2(200,0) progress[C3/3 rs3] upload.load[C3/3] abort()->rs0 */
static char *render(const trace *t)
{
    buf b = {0};
    for (size_t i = 0; i < t->n; i++) {
        const trace_event *e = &t->events[i];
        if (b.len)
            buf_append(&b, " ", 1);
        if (!strcmp(e->ev, "readystatechange"))
            buf_printf(&b, "rs%d(%d,%llu)", e->rs, e->status, (unsigned long long)e->len);
        else if (!strcmp(e->ev, "abort()"))
            buf_printf(&b, "abort()->rs%d", e->rs);
        else if (e->fields & TF_PROGRESS)
            buf_printf(&b, "%s[%c%llu/%llu rs%d]", e->ev, e->length_computable ? 'C' : 'u',
                       (unsigned long long)e->loaded, (unsigned long long)e->total, e->rs);
        else
            buf_append_str(&b, e->ev);
    }
    return buf_take(&b);
}

typedef struct fixture_xhr {
    trace t;
    xhr_model x;
    int abort_on_rs;      /* page script: abort() inside readystatechange(n) */
    bool abort_on_progress;
} fixture_xhr;

static void hook(void *ud, xhr_model *x, const trace_event *e)
{
    fixture_xhr *f = ud;
    if (f->abort_on_rs && !strcmp(e->ev, "readystatechange") && e->rs == f->abort_on_rs) {
        f->abort_on_rs = 0;
        xhr_abort(x, e->t_us);
    }
    if (f->abort_on_progress && !strcmp(e->ev, "progress")) {
        f->abort_on_progress = false;
        xhr_abort(x, e->t_us);
    }
}

static void setup(fixture_xhr *f)
{
    memset(f, 0, sizeof *f);
    trace_init(&f->t);
    xhr_init(&f->x, &f->t, hook, f, 1 << 20);
}

static void teardown(fixture_xhr *f)
{
    xhr_free(&f->x);
    trace_free(&f->t);
}

static const header_field nosniff_plain[] = {
    {"Content-Type", "text/plain"},
    {"X-Content-Type-Options", "nosniff"},
};

static void head(fixture_xhr *f, int64_t t, int status, const header_field *h, size_t n,
                 bool cl_known, uint64_t cl)
{
    xhr_response_head r = {.status = status, .reason = "OK", .reason_len = 2, .headers = h,
                           .n_headers = n, .url = "http://x/", .content_length_known = cl_known,
                           .content_length = cl};
    xhr_headers(&f->x, t, &r);
}

static void check(fixture_xhr *f, const char *expected)
{
    char *got = render(&f->t);
    if (strcmp(got, expected))
        fprintf(stderr, "\n  expected: %s\n  observed: %s\n", expected, got);
    CU_ASSERT_STRING_EQUAL(got, expected);
    free(got);
}

static void test_chunked_stream_spaced(void)
{
    fixture_xhr f;
    setup(&f);
    xhr_open(&f.x, 0);
    xhr_send(&f.x, 1, false, 0, false);
    head(&f, 10, 200, nosniff_plain, 2, false, 0);
    xhr_body(&f.x, 100000, "aaa", 3);
    xhr_timer(&f.x, 150000);
    xhr_body(&f.x, 250000, "bbbb", 4);
    xhr_timer(&f.x, 300000);
    xhr_body(&f.x, 400000, "ccccc", 5);
    xhr_end(&f.x, 450000);
    check(&f, "rs1(0,0) loadstart[u0/0 rs1] rs2(200,0) rs3(200,3) progress[u3/0 rs3] "
              "rs3(200,7) progress[u7/0 rs3] rs3(200,12) progress[u12/0 rs3] rs4(200,12) "
              "load[u12/0 rs4] loadend[u12/0 rs4]");
    teardown(&f);
}

static void test_throttle_defers_and_flushes_in_done(void)
{
    fixture_xhr f;
    setup(&f);
    xhr_open(&f.x, 0);
    xhr_send(&f.x, 0, false, 0, false);
    head(&f, 0, 200, nosniff_plain, 2, true, 30);
    xhr_body(&f.x, 1000, "0123456789", 10);   /* dispatched at once */
    xhr_body(&f.x, 11000, "0123456789", 10);  /* within 50 ms: deferred */
    CU_ASSERT_EQUAL(xhr_next_timer(&f.x), 51000);
    xhr_timer(&f.x, 51000);                   /* deferred goes out with its readystatechange */
    xhr_body(&f.x, 60000, "0123456789", 10);  /* deferred again */
    xhr_end(&f.x, 61000);                     /* flushed after readyState became 4 */
    check(&f, "rs1(0,0) loadstart[u0/0 rs1] rs2(200,0) rs3(200,10) progress[C10/30 rs3] "
              "rs3(200,20) progress[C20/30 rs3] progress[C30/30 rs4] rs4(200,30) "
              "load[C30/30 rs4] loadend[C30/30 rs4]");
    teardown(&f);
}

static void test_sniffed_text_plain_arrives_in_one_piece(void)
{
    static const header_field plain[] = {{"Content-Type", "text/plain"}};
    fixture_xhr f;
    setup(&f);
    xhr_open(&f.x, 0);
    xhr_send(&f.x, 0, false, 0, false);
    head(&f, 0, 200, plain, 1, false, 0);
    xhr_body(&f.x, 100000, "aaa", 3);
    xhr_body(&f.x, 250000, "bbbb", 4);
    xhr_body(&f.x, 400000, "ccccc", 5);
    xhr_end(&f.x, 450000);
    check(&f, "rs1(0,0) loadstart[u0/0 rs1] rs2(200,0) rs3(200,12) progress[u12/0 rs3] "
              "rs4(200,12) load[u12/0 rs4] loadend[u12/0 rs4]");
    CU_ASSERT_TRUE(xhr_is_sniffed(NULL, NULL));
    CU_ASSERT_TRUE(xhr_is_sniffed("application/octet-stream", NULL));
    CU_ASSERT_FALSE(xhr_is_sniffed("text/plain; charset=utf-8", "NoSniff"));
    CU_ASSERT_FALSE(xhr_is_sniffed("application/json", NULL));
    CU_ASSERT_FALSE(xhr_is_sniffed("text/event-stream", NULL));
    teardown(&f);
}

static void test_sniffing_releases_after_1024_bytes(void)
{
    fixture_xhr f;
    setup(&f);
    char big[1500];
    memset(big, 'x', sizeof big);
    xhr_open(&f.x, 0);
    xhr_send(&f.x, 0, false, 0, false);
    head(&f, 0, 200, NULL, 0, false, 0);
    xhr_body(&f.x, 1000, big, 1000);
    CU_ASSERT_EQUAL(f.x.state, XHR_OPENED); /* still held */
    xhr_body(&f.x, 2000, big, 500);         /* crosses 1024: released, the rest deferred */
    CU_ASSERT_EQUAL(f.x.state, XHR_LOADING);
    xhr_end(&f.x, 3000);
    check(&f, "rs1(0,0) loadstart[u0/0 rs1] rs2(200,0) rs3(200,1024) progress[u1024/0 rs3] "
              "progress[u1500/0 rs4] rs4(200,1500) load[u1500/0 rs4] loadend[u1500/0 rs4]");
    teardown(&f);
}

static void test_short_body_hidden_by_bom_check(void)
{
    static const header_field none[] = {{"Content-Length", "1"}};
    fixture_xhr f;
    setup(&f);
    xhr_open(&f.x, 0);
    xhr_send(&f.x, 0, false, 0, false);
    head(&f, 0, 200, none, 1, true, 1);
    xhr_body(&f.x, 10, "x", 1);
    xhr_end(&f.x, 20);
    /* Chromium: rs3 shows an empty responseText, rs4 shows it (xhr-no-reason) */
    check(&f, "rs1(0,0) loadstart[u0/0 rs1] rs2(200,0) rs3(200,0) progress[C1/1 rs3] "
              "rs4(200,1) load[C1/1 rs4] loadend[C1/1 rs4]");
    teardown(&f);
}

static void test_empty_and_head_responses(void)
{
    fixture_xhr f;
    setup(&f);
    xhr_open(&f.x, 0);
    xhr_send(&f.x, 0, false, 0, false);
    head(&f, 0, 204, NULL, 0, false, 0);
    xhr_end(&f.x, 1);
    check(&f, "rs1(0,0) loadstart[u0/0 rs1] rs2(204,0) rs4(204,0) load[u0/0 rs4] "
              "loadend[u0/0 rs4]");
    teardown(&f);

    setup(&f);
    xhr_open(&f.x, 0);
    xhr_send(&f.x, 0, false, 0, false);
    head(&f, 0, 200, nosniff_plain, 2, true, 100);
    xhr_end(&f.x, 1);
    check(&f, "rs1(0,0) loadstart[u0/0 rs1] rs2(200,0) rs4(200,0) load[C0/100 rs4] "
              "loadend[C0/100 rs4]");
    teardown(&f);
}

static void test_content_encoding_hides_length(void)
{
    static const header_field gz[] = {{"Content-Encoding", "gzip"},
                                      {"X-Content-Type-Options", "nosniff"}};
    fixture_xhr f;
    setup(&f);
    xhr_open(&f.x, 0);
    xhr_send(&f.x, 0, false, 0, false);
    head(&f, 0, 200, gz, 2, true, 52);
    char decoded[2400];
    memset(decoded, 'h', sizeof decoded);
    xhr_body(&f.x, 1, decoded, sizeof decoded);
    xhr_end(&f.x, 2);
    check(&f, "rs1(0,0) loadstart[u0/0 rs1] rs2(200,0) rs3(200,2400) progress[u2400/0 rs3] "
              "rs4(200,2400) load[u2400/0 rs4] loadend[u2400/0 rs4]");
    teardown(&f);
}

static void test_network_error_mid_body(void)
{
    fixture_xhr f;
    setup(&f);
    xhr_open(&f.x, 0);
    xhr_send(&f.x, 0, false, 0, false);
    head(&f, 0, 200, nosniff_plain, 2, true, 1000);
    char half[500];
    memset(half, 'y', sizeof half);
    xhr_body(&f.x, 1, half, sizeof half);
    xhr_fail(&f.x, 2, "error", "connection reset");
    check(&f, "rs1(0,0) loadstart[u0/0 rs1] rs2(200,0) rs3(200,500) progress[C500/1000 rs3] "
              "network-error rs4(0,0) error[u0/0 rs4] loadend[u0/0 rs4]");
    CU_ASSERT_EQUAL(f.x.status, 0);
    buf h = {0};
    xhr_all_headers(&f.x, &h);
    CU_ASSERT_EQUAL(h.len, 0);
    buf_free(&h);
    teardown(&f);
}

static void test_timeout_with_upload(void)
{
    fixture_xhr f;
    setup(&f);
    xhr_open(&f.x, 0);
    xhr_send(&f.x, 0, true, 12, true);
    xhr_fail(&f.x, 5000, "timeout", "xhr.timeout");
    /* WPT event-timeout-order: upload.timeout and upload.loadend before timeout */
    check(&f, "rs1(0,0) loadstart[u0/0 rs1] upload.loadstart[C0/12 rs1] network-error "
              "rs4(0,0) upload.timeout[u0/0 rs4] upload.loadend[u0/0 rs4] timeout[u0/0 rs4] "
              "loadend[u0/0 rs4]");
    teardown(&f);
}

static void test_abort_cases(void)
{
    fixture_xhr f;
    /* abort() with the upload done, before headers (abort-with-upload) */
    setup(&f);
    xhr_open(&f.x, 0);
    xhr_send(&f.x, 0, true, 3, true);
    xhr_upload_done(&f.x, 100);
    xhr_abort(&f.x, 150);
    check(&f, "rs1(0,0) loadstart[u0/0 rs1] upload.loadstart[C0/3 rs1] upload.progress[C3/3 rs1] "
              "upload.load[C3/3 rs1] upload.loadend[C3/3 rs1] rs4(0,0) abort[u0/0 rs4] "
              "loadend[u0/0 rs4] abort()->rs0");
    teardown(&f);
    /* abort() inside readystatechange(2): readyStates 1, 2, 4 and nothing after */
    setup(&f);
    f.abort_on_rs = 2;
    xhr_open(&f.x, 0);
    xhr_send(&f.x, 0, false, 0, false);
    head(&f, 1, 200, nosniff_plain, 2, true, 3);
    xhr_body(&f.x, 2, "abc", 3);
    xhr_end(&f.x, 3);
    check(&f, "rs1(0,0) loadstart[u0/0 rs1] rs2(200,0) rs4(0,0) abort[u0/0 rs4] "
              "loadend[u0/0 rs4] abort()->rs0");
    teardown(&f);
    /* abort() in the first progress listener */
    setup(&f);
    f.abort_on_progress = true;
    xhr_open(&f.x, 0);
    xhr_send(&f.x, 0, false, 0, false);
    head(&f, 1, 200, nosniff_plain, 2, false, 0);
    xhr_body(&f.x, 2, "abc", 3);
    xhr_body(&f.x, 100000, "def", 3);
    check(&f, "rs1(0,0) loadstart[u0/0 rs1] rs2(200,0) rs3(200,3) progress[u3/0 rs3] "
              "rs4(0,0) abort[u0/0 rs4] loadend[u0/0 rs4] abort()->rs0");
    teardown(&f);
    /* abort() after DONE: no event, state back to UNSENT (abort-after-done) */
    setup(&f);
    xhr_open(&f.x, 0);
    xhr_send(&f.x, 0, false, 0, false);
    head(&f, 1, 200, nosniff_plain, 2, true, 4);
    xhr_body(&f.x, 2, "done", 4);
    xhr_end(&f.x, 3);
    xhr_abort(&f.x, 30);
    check(&f, "rs1(0,0) loadstart[u0/0 rs1] rs2(200,0) rs3(200,4) progress[C4/4 rs3] "
              "rs4(200,4) load[C4/4 rs4] loadend[C4/4 rs4] abort()->rs0");
    CU_ASSERT_EQUAL(f.x.status, 0);
    CU_ASSERT_EQUAL(xhr_text_length(&f.x), 0);
    teardown(&f);
}

static void test_all_response_headers_format(void)
{
    static const header_field h[] = {
        {"Content-Type", "text/plain"}, {"X-Dup", "a"}, {"X-Dup", "b"}, {"X-Custom", "spaced"},
        {"Set-Cookie", "k=v"}, {"X-Content-Type-Options", "nosniff"}, {"Content-Length", "1"},
    };
    fixture_xhr f;
    setup(&f);
    xhr_open(&f.x, 0);
    xhr_send(&f.x, 0, false, 0, false);
    head(&f, 1, 200, h, sizeof h / sizeof h[0], true, 1);
    buf b = {0};
    xhr_all_headers(&f.x, &b);
    CU_ASSERT_STRING_EQUAL(b.data, "content-length: 1\r\ncontent-type: text/plain\r\n"
                                   "x-content-type-options: nosniff\r\nx-custom: spaced\r\n"
                                   "x-dup: a, b\r\n");
    buf_free(&b);
    teardown(&f);
}

static void test_text_decoder(void)
{
    text_decoder d;
    buf out = {0};
    /* "é" split across feeds, an invalid byte, a 4-byte char (2 UTF-16 units) */
    text_decoder_init(&d, ENC_UTF8, true);
    text_decoder_feed(&d, "a\xc3", 2, &out);
    CU_ASSERT_EQUAL(out.len, 0); /* fewer than 3 bytes: held for the BOM check */
    text_decoder_feed(&d, "\xa9\xff\xf0\x9f\x98\x80", 6, &out);
    text_decoder_finish(&d, &out);
    CU_ASSERT_STRING_EQUAL(out.data, "a\xc3\xa9\xef\xbf\xbd\xf0\x9f\x98\x80");
    CU_ASSERT_EQUAL(d.utf16_len, 5);
    buf_free(&out);
    /* a UTF-8 BOM is dropped; a truncated sequence at the end is one U+FFFD */
    text_decoder_init(&d, ENC_UTF8, true);
    text_decoder_feed(&d, "\xef\xbb\xbfok\xe2\x82", 7, &out);
    text_decoder_finish(&d, &out);
    CU_ASSERT_STRING_EQUAL(out.data, "ok\xef\xbf\xbd");
    buf_free(&out);
    /* windows-1252 for latin1 labels */
    text_decoder_init(&d, text_encoding_from_label("ISO-8859-1"), true);
    text_decoder_feed(&d, "\x80\xe9!", 3, &out);
    CU_ASSERT_STRING_EQUAL(out.data, "\xe2\x82\xac\xc3\xa9!");
    buf_free(&out);
}

static void test_request_headers(void)
{
    header_list author = {0};
    char msg[128];
    CU_ASSERT_FALSE(author_header_set(&author, "Host", "evil", msg, sizeof msg));
    CU_ASSERT_STRING_EQUAL(msg, "Refused to set unsafe header \"Host\"");
    CU_ASSERT_FALSE(author_header_set(&author, "Sec-Fetch-Mode", "x", msg, sizeof msg));
    CU_ASSERT_FALSE(author_header_set(&author, "Proxy-Foo", "x", msg, sizeof msg));
    CU_ASSERT_FALSE(author_header_set(&author, "X-HTTP-Method-Override", "GET, TRACE", msg,
                                      sizeof msg));
    CU_ASSERT_TRUE(author_header_set(&author, "X-HTTP-Method-Override", "PUT", msg, sizeof msg));
    CU_ASSERT_FALSE(author_header_set(&author, "Bad Name", "x", msg, sizeof msg));
    CU_ASSERT_TRUE(author_header_set(&author, "X-A", "1", msg, sizeof msg));
    CU_ASSERT_TRUE(author_header_set(&author, "x-a", "2", msg, sizeof msg));
    CU_ASSERT_STRING_EQUAL(header_list_get(&author, "X-A"), "1, 2");
    header_list out = {0};
    browser_request r = {.method = "POST", .host = "h:1", .origin = "http://h:1",
                         .referrer = "http://h:1/", .same_origin = true, .has_body = true,
                         .body_len = 3, .body_type = "text/plain;charset=UTF-8",
                         .author = &author};
    CU_ASSERT_EQUAL(browser_request_headers(&out, &r), 0);
    CU_ASSERT_STRING_EQUAL(header_list_get(&out, "Content-Length"), "3");
    CU_ASSERT_STRING_EQUAL(header_list_get(&out, "Origin"), "http://h:1");
    CU_ASSERT_STRING_EQUAL(header_list_get(&out, "Content-Type"), "text/plain;charset=UTF-8");
    CU_ASSERT_STRING_EQUAL(header_list_get(&out, "Sec-Fetch-Site"), "same-origin");
    CU_ASSERT_STRING_EQUAL(header_list_get(&out, "X-A"), "1, 2");
    header_list_free(&out);
    r.method = "GET";
    r.has_body = false;
    CU_ASSERT_EQUAL(browser_request_headers(&out, &r), 0);
    CU_ASSERT_PTR_NULL(header_list_get(&out, "Origin")); /* same-origin GET: no Origin */
    CU_ASSERT_PTR_NULL(header_list_get(&out, "Content-Length"));
    header_list_free(&out);
    header_list_free(&author);
}

CU_ErrorCode register_xhr_tests(void)
{
    CU_pSuite s = CU_add_suite("xhr model", NULL, NULL);
    if (!s || !CU_add_test(s, "chunked stream, spaced chunks", test_chunked_stream_spaced) ||
        !CU_add_test(s, "throttle defers, flushes in DONE", test_throttle_defers_and_flushes_in_done) ||
        !CU_add_test(s, "MIME sniffing holds text/plain", test_sniffed_text_plain_arrives_in_one_piece) ||
        !CU_add_test(s, "sniffing releases at 1024 bytes", test_sniffing_releases_after_1024_bytes) ||
        !CU_add_test(s, "BOM check hides 1-byte body", test_short_body_hidden_by_bom_check) ||
        !CU_add_test(s, "204 and HEAD", test_empty_and_head_responses) ||
        !CU_add_test(s, "Content-Encoding: length not computable", test_content_encoding_hides_length) ||
        !CU_add_test(s, "network error mid-body", test_network_error_mid_body) ||
        !CU_add_test(s, "timeout with upload listeners", test_timeout_with_upload) ||
        !CU_add_test(s, "abort: before headers, in handlers, after done", test_abort_cases) ||
        !CU_add_test(s, "getAllResponseHeaders format", test_all_response_headers_format) ||
        !CU_add_test(s, "text decoder", test_text_decoder) ||
        !CU_add_test(s, "request headers", test_request_headers))
        return CU_get_error();
    return CUE_SUCCESS;
}
