/* Fixture server and transport over real sockets: the fixture runs on an ev loop, clients
 * are our own transports on the same loop, sending raw requests and checking raw bytes.
 * Also the request head parser (pure). */
#include "fixture.h"
#include "tests/fixture_env.h"
#include "http/http1_request.h"
#include "net/transport.h"
#include "tests/test_registry.h"
#include "util/buf.h"

#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <ev.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#define CA_FILE "fixtures/certs/ca.pem"

/* ---- plain routes ------------------------------------------------------------------------ */

static void test_hello(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    client c;
    fixture_fetch(&e, &c, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 0);
    CU_ASSERT(c.eof);
    CU_ASSERT_STRING_EQUAL(c.in.data, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                      "Content-Length: 6\r\nConnection: close\r\n\r\nhello\n");
    client_end(&c);
    fixture_fetch(&e, &c, "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 0);
    CU_ASSERT(starts_with(&c.in, "HTTP/1.1 404 Not Found\r\n"));
    CU_ASSERT_STRING_EQUAL(body_of(&c.in), "not found\n");
    client_end(&c);
    env_stop(&e);
}

static void test_status(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    client c;
    fixture_fetch(&e, &c, "GET /status/404 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 0);
    CU_ASSERT(starts_with(&c.in, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"));
    CU_ASSERT_STRING_EQUAL(body_of(&c.in), "404 Not Found\n");
    client_end(&c);
    fixture_fetch(&e, &c,
          "GET /status/299?reason=Fine%20Thanks&body=yo&type=text/x-a HTTP/1.1\r\n"
          "Host: x\r\nConnection: close\r\n\r\n",
          0);
    CU_ASSERT_STRING_EQUAL(c.in.data, "HTTP/1.1 299 Fine Thanks\r\nContent-Type: text/x-a\r\n"
                                      "Content-Length: 2\r\nConnection: close\r\n\r\nyo");
    client_end(&c);
    fixture_fetch(&e, &c, "GET /status/204 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 0);
    CU_ASSERT_STRING_EQUAL(c.in.data, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
    client_end(&c);
    fixture_fetch(&e, &c, "GET /status/103 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 0);
    CU_ASSERT(starts_with(&c.in, "HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK\r\n"));
    CU_ASSERT_STRING_EQUAL(body_of(&c.in) + strlen(body_of(&c.in)) - 2, "ok");
    client_end(&c);
    fixture_fetch(&e, &c, "GET /interim HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 0);
    CU_ASSERT(starts_with(&c.in, "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; "
                                 "as=style\r\n\r\nHTTP/1.1 200 OK\r\n"));
    client_end(&c);
    env_stop(&e);
}

static void test_body_framings(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    client c;
    /* close-delimited: no Content-Length, and the server closes even on a keep-alive request */
    fixture_fetch(&e, &c, "GET /body?size=1000&cl=0&byte=z HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    CU_ASSERT(c.eof);
    CU_ASSERT(starts_with(&c.in, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                                 "Connection: close\r\n\r\n"));
    CU_ASSERT(!contains(&c.in, "Content-Length"));
    CU_ASSERT_EQUAL(body_len_of(&c.in), 1000);
    CU_ASSERT(body_of(&c.in)[0] == 'z' && body_of(&c.in)[999] == 'z');
    client_end(&c);
    fixture_fetch(&e, &c,
          "GET /body?size=70000&chunked=1&nosniff=1 HTTP/1.1\r\nHost: x\r\n"
          "Connection: close\r\n\r\n",
          0);
    CU_ASSERT(contains(&c.in, "Transfer-Encoding: chunked\r\n"));
    CU_ASSERT(contains(&c.in, "X-Content-Type-Options: nosniff\r\n"));
    CU_ASSERT(strncmp(body_of(&c.in), "10000\r\n", 7) == 0);
    CU_ASSERT(c.in.len > 7 && memcmp(c.in.data + c.in.len - 7, "\r\n0\r\n\r\n", 7) == 0);
    CU_ASSERT_EQUAL(body_len_of(&c.in), 7 + 65536 + 2 + 6 + 4464 + 2 + 5);
    client_end(&c);
    fixture_fetch(&e, &c, "GET /body?size=3000000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 0);
    CU_ASSERT(contains(&c.in, "Content-Length: 3000000\r\n"));
    CU_ASSERT_EQUAL(body_len_of(&c.in), 3000000);
    client_end(&c);
    env_stop(&e);
}

static void test_stream_timing(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    client c;
    fixture_fetch(&e, &c,
          "GET /stream/chunks?n=3&gap=50ms HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 0);
    CU_ASSERT(c.eof);
    CU_ASSERT(c.t_done - c.t0 >= 0.100);
    CU_ASSERT_STRING_EQUAL(body_of(&c.in),
                           "8\r\nchunk 1\n\r\n8\r\nchunk 2\n\r\n8\r\nchunk 3\n\r\n0\r\n\r\n");
    client_end(&c);
    fixture_fetch(&e, &c,
          "GET /stream/chunks?n=2&gap=10ms&cl=1&prefix=p HTTP/1.1\r\nHost: x\r\n"
          "Connection: close\r\n\r\n",
          0);
    CU_ASSERT(contains(&c.in, "Content-Length: 8\r\n"));
    CU_ASSERT_STRING_EQUAL(body_of(&c.in), "p 1\np 2\n");
    client_end(&c);
    fixture_fetch(&e, &c,
          "GET /slow-body?delay=20ms&n=2&gap=20ms HTTP/1.1\r\nHost: x\r\n"
          "Connection: close\r\n\r\n",
          0);
    CU_ASSERT(c.t_done - c.t0 >= 0.040);
    CU_ASSERT(contains(&c.in, "Content-Length: 14\r\n"));
    CU_ASSERT_STRING_EQUAL(body_of(&c.in), "part 1\npart 2\n");
    client_end(&c);
    fixture_fetch(&e, &c, "GET /slow?delay=30ms HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 0);
    CU_ASSERT(c.t_done - c.t0 >= 0.030);
    CU_ASSERT_STRING_EQUAL(body_of(&c.in), "slow\n");
    client_end(&c);
    env_stop(&e);
}

static void test_redirect(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    client c;
    fixture_fetch(&e, &c, "GET /redirect/302?to=/hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
          0);
    CU_ASSERT(starts_with(&c.in, "HTTP/1.1 302 Found\r\nLocation: /hello\r\n"));
    client_end(&c);
    fixture_fetch(&e, &c,
          "GET /redirect/307?to=http%3A%2F%2Fa.test%2Fx%3Fy%3D1&n=3 HTTP/1.1\r\nHost: x\r\n"
          "Connection: close\r\n\r\n",
          0);
    CU_ASSERT(starts_with(&c.in, "HTTP/1.1 307 Temporary Redirect\r\n"
                                 "Location: /redirect/307?to=http://a.test/x%3Fy%3D1&n=2\r\n"));
    client_end(&c);
    fixture_fetch(&e, &c, "GET /redirect/200 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 0);
    CU_ASSERT(starts_with(&c.in, "HTTP/1.1 400 "));
    client_end(&c);
    env_stop(&e);
}

static void test_echo(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    client c;
    fixture_fetch(&e, &c,
          "POST /echo?q=1 HTTP/1.1\r\nHost: x\r\nX-Test: yes \r\nContent-Type: text/plain\r\n"
          "Content-Length: 10\r\nConnection: close\r\n\r\nhello\n\"w\"\xff",
          0);
    CU_ASSERT(contains(&c.in, "Content-Type: application/json\r\n"));
    CU_ASSERT(contains(&c.in, "X-Content-Type-Options: nosniff\r\n"));
    json_error_t jerr;
    json_t *j = json_loads(body_of(&c.in), 0, &jerr);
    CU_ASSERT_FATAL(j != NULL);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "method")), "POST");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "target")), "/echo?q=1");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "body")), "hello\n\"w\"\xc3\xbf");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "body_len")), 10);
    json_t *h = json_array_get(json_object_get(j, "headers"), 1);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(h, 0)), "X-Test");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(h, 1)), "yes");
    CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "headers")), 5);
    json_decref(j);
    client_end(&c);
    env_stop(&e);
}

/* A 4 MiB upload and its 4 MiB reflection: write queue, on_drained, back-pressure. */
static void test_echo_large(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    size_t n = 4u << 20;
    buf req = {0};
    buf_printf(&req,
               "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n"
               "Connection: close\r\n\r\n",
               n);
    size_t head = req.len;
    char *body = malloc(n);
    memset(body, 'b', n);
    buf_append(&req, body, n);
    free(body);
    client c;
    client_start(&c, e.loop, "127.0.0.1", e.port, NULL, NULL);
    CU_ASSERT_EQUAL(transport_write(c.t, req.data, req.len), 0); /* before the connect ends */
    CU_ASSERT_EQUAL(transport_queued(c.t), head + n);
    c.pause_first_data = true;
    CU_ASSERT(run_until(e.loop, &c.done, RUN_CAP));
    CU_ASSERT(c.eof);
    CU_ASSERT(c.drained >= 1);
    CU_ASSERT_EQUAL(transport_queued(c.t), 0);
    json_t *j = json_loads(body_of(&c.in), 0, NULL);
    CU_ASSERT_FATAL(j != NULL);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "body_len")), (json_int_t)n);
    CU_ASSERT_EQUAL(strlen(json_string_value(json_object_get(j, "body"))), n);
    json_decref(j);
    buf_free(&req);
    client_end(&c);
    env_stop(&e);
}

static void test_head_and_keep_alive(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    client c;
    /* three pipelined requests on one connection, HEAD first */
    fixture_fetch(&e, &c,
          "HEAD /body?size=100 HTTP/1.1\r\nHost: x\r\n\r\n"
          "HEAD /stream/chunks HTTP/1.1\r\nHost: x\r\n\r\n"
          "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
          0);
    CU_ASSERT(c.eof);
    CU_ASSERT_STRING_EQUAL(c.in.data,
                           "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                           "Content-Length: 100\r\n\r\n"
                           "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n"
                           "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n"
                           "Connection: close\r\n\r\nhello\n");
    client_end(&c);
    /* HTTP/1.0 closes by default and keeps the connection when asked */
    fixture_fetch(&e, &c, "GET /hello HTTP/1.0\r\n\r\n", 0);
    CU_ASSERT(c.eof && contains(&c.in, "Connection: close\r\n"));
    client_end(&c);
    const char *ka = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n"
                     "Connection: keep-alive\r\n\r\nhello\n";
    fixture_fetch(&e, &c, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", strlen(ka));
    CU_ASSERT(!c.eof);
    CU_ASSERT_STRING_EQUAL(c.in.data, ka);
    client_end(&c);
    env_stop(&e);
}

static void test_expect_continue_and_half_close(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    client c;
    fixture_fetch(&e, &c,
          "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
          25);
    CU_ASSERT_STRING_EQUAL(c.in.data, "HTTP/1.1 100 Continue\r\n\r\n");
    c.done = false;
    c.stop_after = 0;
    transport_write(c.t, "hi", 2);
    transport_shutdown(c.t); /* half-close: the response still comes, then the server's FIN */
    CU_ASSERT(run_until(e.loop, &c.done, RUN_CAP));
    CU_ASSERT(c.eof);
    CU_ASSERT(contains(&c.in, "\"body\":\"hi\""));
    client_end(&c);
    env_stop(&e);
}

static void test_headers_gzip(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    client c;
    fixture_fetch(&e, &c,
          "GET /headers?h=X-A:1&h=X-A:%202&h=Set-Cookie:a%3Db&h=Content-Length:9 HTTP/1.1\r\n"
          "Host: x\r\nConnection: close\r\n\r\n",
          0);
    CU_ASSERT_STRING_EQUAL(c.in.data, "HTTP/1.1 200 OK\r\nX-A: 1\r\nX-A: 2\r\nSet-Cookie: a=b\r\n"
                                      "Content-Type: text/plain\r\nContent-Length: 2\r\n"
                                      "Connection: close\r\n\r\nok");
    client_end(&c);
    fixture_fetch(&e, &c, "GET /gzip?size=3000000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 0);
    CU_ASSERT(contains(&c.in, "Content-Encoding: gzip\r\n"));
    const char *cl = strstr(c.in.data, "Content-Length: ");
    CU_ASSERT_FATAL(cl != NULL);
    CU_ASSERT_EQUAL((size_t)strtoul(cl + 16, NULL, 10), body_len_of(&c.in));
    size_t out_len = 3000000;
    char *out = malloc(out_len + 16);
    z_stream z = {0};
    CU_ASSERT_FATAL(inflateInit2(&z, 31) == Z_OK);
    z.next_in = (Bytef *)body_of(&c.in);
    z.avail_in = (uInt)body_len_of(&c.in);
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)out_len + 16;
    CU_ASSERT_EQUAL(inflate(&z, Z_FINISH), Z_STREAM_END);
    CU_ASSERT_EQUAL(z.total_out, out_len);
    CU_ASSERT(memcmp(out, "00000001 the quick brown fox", 28) == 0);
    inflateEnd(&z);
    free(out);
    client_end(&c);
    env_stop(&e);
}

static void test_broken(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    client c;
    fixture_fetch(&e, &c, "GET /broken/bare-lf HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    CU_ASSERT(c.eof);
    CU_ASSERT_STRING_EQUAL(c.in.data,
                           "HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: 3\n\nok\n");
    client_end(&c);
    fixture_fetch(&e, &c, "GET /broken/bad-chunk-size HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    CU_ASSERT(c.eof && strcmp(body_of(&c.in), "zz\r\nhello\r\n0\r\n\r\n") == 0);
    client_end(&c);
    fixture_fetch(&e, &c, "GET /broken/conflicting-cl HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    CU_ASSERT(contains(&c.in, "Content-Length: 3\r\nContent-Length: 5\r\n"));
    client_end(&c);
    fixture_fetch(&e, &c, "GET /broken/huge-header HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    CU_ASSERT(c.eof && c.in.len > 300 * 1024 && strcmp(body_of(&c.in), "ok\n") == 0);
    client_end(&c);
    fixture_fetch(&e, &c, "GET /broken/truncated-chunked HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    CU_ASSERT(c.eof && strcmp(body_of(&c.in), "5\r\nhello\r\n") == 0);
    client_end(&c);
    fixture_fetch(&e, &c, "GET /broken/http10 HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    CU_ASSERT(c.eof && starts_with(&c.in, "HTTP/1.0 200 OK\r\n") &&
              !contains(&c.in, "Content-Length"));
    client_end(&c);
    fixture_fetch(&e, &c, "GET /broken/bad-status-line HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    CU_ASSERT(starts_with(&c.in, "HTTP/1.1 2x0 "));
    client_end(&c);
    fixture_fetch(&e, &c, "GET /broken/no-chunk-crlf HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    CU_ASSERT(strcmp(body_of(&c.in), "5\r\nhello0\r\n\r\n") == 0);
    client_end(&c);
    /* a malformed request: 400 and close */
    fixture_fetch(&e, &c, "GET /hello HTTP/1.1\r\nBad Header: x\r\n\r\n", 0);
    CU_ASSERT(c.eof && starts_with(&c.in, "HTTP/1.1 400 Bad Request\r\n"));
    client_end(&c);
    env_stop(&e);
}

/* ---- connection faults ------------------------------------------------------------------- */

static void test_reset_and_close(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    client c;
    fixture_fetch(&e, &c, "GET /reset HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    CU_ASSERT((c.failed && c.err == TE_RESET) || (c.eof && c.in.len == 0));
    CU_ASSERT_EQUAL(c.in.len, 0);
    client_end(&c);
    fixture_fetch(&e, &c, "GET /close HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    CU_ASSERT(c.eof && c.in.len == 0);
    client_end(&c);
    fixture_fetch(&e, &c, "GET /close-mid-body?cl=100&send=50 HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    CU_ASSERT(c.eof);
    CU_ASSERT(contains(&c.in, "Content-Length: 100\r\n") && !contains(&c.in, "Connection: close"));
    CU_ASSERT_EQUAL(body_len_of(&c.in), 50);
    client_end(&c);
    fixture_fetch(&e, &c, "GET /reset-mid-body?cl=100&send=50 HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    CU_ASSERT(c.failed && c.err == TE_RESET);
    CU_ASSERT(c.in.len == 0 || starts_with(&c.in, "HTTP/1.1 200 OK\r\n"));
    client_end(&c);
    env_stop(&e);
}

static void test_hang(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    client c;
    client_start(&c, e.loop, "127.0.0.1", e.port, NULL, "GET /hang HTTP/1.1\r\nHost: x\r\n\r\n");
    CU_ASSERT(!run_until(e.loop, &c.done, 0.2));
    CU_ASSERT(c.connected);
    CU_ASSERT_EQUAL(c.in.len, 0);
    transport_shutdown(c.t); /* the server sees our FIN and closes too */
    CU_ASSERT(run_until(e.loop, &c.done, RUN_CAP));
    CU_ASSERT(c.eof && c.in.len == 0);
    client_end(&c);
    env_stop(&e);
}

/* Closing a transport inside its own on_data is safe and ends its callbacks. */
static void test_close_inside_callback(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    client c;
    client_start(&c, e.loop, "127.0.0.1", e.port, NULL,
                 "GET /body?size=5000000 HTTP/1.1\r\nHost: x\r\n\r\n");
    c.close_in_data = true;
    CU_ASSERT(run_until(e.loop, &c.done, RUN_CAP));
    CU_ASSERT(c.t == NULL && !c.eof && !c.failed);
    bool never = false;
    run_until(e.loop, &never, 0.05); /* the server notices; nothing may call us back */
    CU_ASSERT(!c.eof && !c.failed);
    client_end(&c);
    env_stop(&e);
}

static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    bind(fd, (struct sockaddr *)&sa, sizeof sa);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    return ntohs(sa.sin_port);
}

static void test_connect_failures(void)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    client c;
    client_start(&c, loop, "127.0.0.1", closed_port(), NULL, NULL);
    CU_ASSERT_FATAL(c.t != NULL);
    CU_ASSERT(!c.done); /* never a callback from inside transport_connect */
    CU_ASSERT(run_until(loop, &c.done, RUN_CAP));
    CU_ASSERT(c.failed && c.err == TE_CONNECT_REFUSED);
    client_end(&c);
    client_start(&c, loop, "nonexistent.invalid", 80, NULL, NULL);
    CU_ASSERT(!c.done);
    CU_ASSERT(run_until(loop, &c.done, RUN_CAP));
    CU_ASSERT(c.failed && c.err == TE_RESOLVE);
    client_end(&c);
    CU_ASSERT_STRING_EQUAL(transport_error_name(TE_CONNECT_REFUSED), "connection refused");
    ev_loop_destroy(loop);
}

/* A TCP listener that never speaks TLS: the handshake times out. */
static void test_handshake_timeout(void)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    CU_ASSERT_FATAL(bind(lfd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(lfd, 8) == 0);
    getsockname(lfd, (struct sockaddr *)&sa, &len);
    tls_client_opts to = {.verify = false};
    char err[256];
    tls_context *ctx = tls_client_context(&to, err, sizeof err);
    CU_ASSERT_FATAL(ctx != NULL);
    transport_opts o = {.connect_timeout_us = 200000, .tls = ctx, .sni = "localhost"};
    client c;
    client_start(&c, loop, "127.0.0.1", ntohs(sa.sin_port), &o, NULL);
    CU_ASSERT(run_until(loop, &c.done, RUN_CAP));
    CU_ASSERT(c.failed && c.err == TE_CONNECT_TIMEOUT);
    CU_ASSERT(c.t_done - c.t0 >= 0.2 &&
              c.t_done - c.t0 < RUN_CAP / 2); /* the timeout, not the cap */
    client_end(&c);
    tls_context_free(ctx);
    close(lfd);
    ev_loop_destroy(loop);
}

static void test_ipv6(void)
{
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool have = probe >= 0 && bind(probe, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (probe >= 0)
        close(probe);
    if (!have) {
        fprintf(stderr, "(no ::1 on this machine: IPv6 test skipped) ");
        return;
    }
    env e;
    CU_ASSERT_FATAL(env_start(&e, "[::1]:0", false));
    CU_ASSERT(strncmp(fixture_url(e.fx), "http://[::1]:", 13) == 0);
    client c;
    client_start(&c, e.loop, "::1", e.port, NULL,
                 "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CU_ASSERT(run_until(e.loop, &c.done, RUN_CAP));
    CU_ASSERT(c.eof && strcmp(body_of(&c.in), "hello\n") == 0);
    client_end(&c);
    client_start(&c, e.loop, "[::1]", e.port, NULL,
                 "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CU_ASSERT(run_until(e.loop, &c.done, RUN_CAP));
    CU_ASSERT(c.eof && strcmp(body_of(&c.in), "hello\n") == 0);
    client_end(&c);
    env_stop(&e);
}

/* By name; where "localhost" resolves to ::1 first (not everywhere), ::1 refuses and the
 * next address is tried. */
static void test_next_address(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", false));
    client c;
    client_start(&c, e.loop, "localhost", e.port, NULL,
                 "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CU_ASSERT(run_until(e.loop, &c.done, RUN_CAP));
    CU_ASSERT(c.eof && strcmp(body_of(&c.in), "hello\n") == 0);
    client_end(&c);
    env_stop(&e);
}

/* ---- TLS --------------------------------------------------------------------------------- */

typedef struct raw_server {
    struct ev_loop *loop;
    int lfd;
    ev_io accept_io;
    tls_context *ctx;
    transport *t;
} raw_server;

/* Says "hi" and closes without close_notify, from inside its own on_connected. */
static void raw_connected(void *ud)
{
    raw_server *s = ud;
    transport_write(s->t, "hi", 2);
    transport_close(s->t, false);
    s->t = NULL;
}

static void raw_error(void *ud, transport_error err, const char *detail)
{
    raw_server *s = ud;
    transport_close(s->t, false);
    s->t = NULL;
}

static void raw_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    static const transport_callbacks cb = {.on_connected = raw_connected, .on_error = raw_error};
    raw_server *s = w->data;
    int fd = accept(s->lfd, NULL, NULL);
    if (fd >= 0)
        s->t = transport_accept(loop, fd, s->ctx, &cb, s);
    ev_io_stop(loop, w);
}

static void test_tls_eof_without_close_notify(void)
{
    raw_server s = {.loop = ev_loop_new(EVFLAG_AUTO)};
    char err[256];
    s.ctx = tls_server_context("fixtures/certs/server.pem", "fixtures/certs/server.key", err,
                               sizeof err);
    CU_ASSERT_FATAL(s.ctx != NULL);
    s.lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    CU_ASSERT_FATAL(bind(s.lfd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(s.lfd, 8) == 0);
    getsockname(s.lfd, (struct sockaddr *)&sa, &len);
    ev_io_init(&s.accept_io, raw_accept, s.lfd, EV_READ);
    s.accept_io.data = &s;
    ev_io_start(s.loop, &s.accept_io);
    tls_client_opts to = {.verify = true, .ca_file = CA_FILE};
    tls_context *ctx = tls_client_context(&to, err, sizeof err);
    CU_ASSERT_FATAL(ctx != NULL);
    transport_opts o = {.tls = ctx, .sni = "127.0.0.1"};
    client c;
    client_start(&c, s.loop, "127.0.0.1", ntohs(sa.sin_port), &o, NULL);
    CU_ASSERT(run_until(s.loop, &c.done, RUN_CAP));
    CU_ASSERT(c.eof && !c.failed);
    CU_ASSERT(c.in.len == 2 && memcmp(c.in.data, "hi", 2) == 0);
    client_end(&c);
    if (s.t)
        transport_close(s.t, false);
    ev_io_stop(s.loop, &s.accept_io);
    close(s.lfd);
    tls_context_free(ctx);
    tls_context_free(s.ctx);
    ev_loop_destroy(s.loop);
}

/* Fetches /hello over TLS; returns the client's error (TE_NONE when the body arrived). */
static transport_error tls_fetch(env *e, const tls_client_opts *to, const char *sni, char *detail,
                                 size_t detail_len)
{
    char err[256];
    tls_context *ctx = tls_client_context(to, err, sizeof err);
    CU_ASSERT_FATAL(ctx != NULL);
    transport_opts o = {.tls = ctx, .sni = sni};
    client c;
    client_start(&c, e->loop, "127.0.0.1", e->port, &o,
                 "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CU_ASSERT(run_until(e->loop, &c.done, RUN_CAP));
    transport_error r = c.failed ? c.err : TE_NONE;
    if (!c.failed)
        CU_ASSERT(c.eof && strcmp(body_of(&c.in), "hello\n") == 0);
    snprintf(detail, detail_len, "%s", c.detail);
    client_end(&c);
    tls_context_free(ctx);
    return r;
}

static void test_tls_verify(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", true));
    CU_ASSERT(strncmp(fixture_url(e.fx), "https://127.0.0.1:", 18) == 0);
    char detail[256];
    tls_client_opts with_ca = {.verify = true, .ca_file = CA_FILE, .alpn = "h2,http/1.1"};
    CU_ASSERT_EQUAL(tls_fetch(&e, &with_ca, NULL, detail, sizeof detail), TE_NONE);
    CU_ASSERT_EQUAL(tls_fetch(&e, &with_ca, "127.0.0.1", detail, sizeof detail), TE_NONE);
    CU_ASSERT_EQUAL(tls_fetch(&e, &with_ca, "localhost", detail, sizeof detail), TE_NONE);
    CU_ASSERT_EQUAL(tls_fetch(&e, &with_ca, "example.com", detail, sizeof detail), TE_TLS_VERIFY);
    CU_ASSERT(strstr(detail, "hostname mismatch") != NULL);
    tls_client_opts system = {.verify = true};
    CU_ASSERT_EQUAL(tls_fetch(&e, &system, "localhost", detail, sizeof detail), TE_TLS_VERIFY);
    CU_ASSERT(strstr(detail, "issuer") != NULL);
    tls_client_opts off = {.verify = false};
    CU_ASSERT_EQUAL(tls_fetch(&e, &off, "example.com", detail, sizeof detail), TE_NONE);
    env_stop(&e);
}

/* 2 MiB over TLS with a paused reader, a half-close with close_notify, and a reset. */
static void test_tls_streams(void)
{
    env e;
    CU_ASSERT_FATAL(env_start(&e, "127.0.0.1:0", true));
    tls_client_opts to = {.verify = true, .ca_file = CA_FILE};
    char err[256];
    tls_context *ctx = tls_client_context(&to, err, sizeof err);
    CU_ASSERT_FATAL(ctx != NULL);
    transport_opts o = {.tls = ctx, .sni = "localhost"};
    client c;
    client_start(&c, e.loop, "127.0.0.1", e.port, &o,
                 "GET /body?size=2097152 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    c.pause_first_data = true;
    CU_ASSERT(run_until(e.loop, &c.done, RUN_CAP));
    CU_ASSERT(c.eof);
    CU_ASSERT_EQUAL(body_len_of(&c.in), 2097152);
    client_end(&c);
    client_start(&c, e.loop, "127.0.0.1", e.port, &o, NULL);
    const char *post = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
    CU_ASSERT_EQUAL(transport_write(c.t, post, strlen(post)), 0);
    transport_shutdown(c.t); /* queued behind the request; close_notify, then FIN */
    CU_ASSERT(run_until(e.loop, &c.done, RUN_CAP));
    CU_ASSERT(c.eof && contains(&c.in, "\"body\":\"abc\""));
    client_end(&c);
    client_start(&c, e.loop, "127.0.0.1", e.port, &o,
                 "GET /reset-mid-body HTTP/1.1\r\nHost: x\r\n\r\n");
    CU_ASSERT(run_until(e.loop, &c.done, RUN_CAP));
    CU_ASSERT(c.failed && c.err == TE_RESET);
    client_end(&c);
    tls_context_free(ctx);
    env_stop(&e);
}

/* ---- request head parser ----------------------------------------------------------------- */

static http1_req_status parse(http1_request *r, const char *s)
{
    size_t scan = 0;
    return http1_request_parse(r, s, strlen(s), 0, &scan);
}

static void test_request_parser(void)
{
    http1_request r;
    const char *req =
        "\r\nPOST /a?b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nX-Y:  v w \r\n\r\nhello";
    CU_ASSERT_EQUAL(parse(&r, req), H1R_OK);
    CU_ASSERT(r.method_len == 4 && memcmp(r.method, "POST", 4) == 0);
    CU_ASSERT(r.target_len == 4 && memcmp(r.target, "/a?b", 4) == 0);
    CU_ASSERT(r.version_minor == 1 && r.keep_alive && r.has_content_length &&
              r.content_length == 5);
    CU_ASSERT_EQUAL(r.n_headers, 3);
    CU_ASSERT_EQUAL(r.head_len, strlen(req) - 5);
    const http1_req_header *h = http1_request_header(&r, "x-y");
    CU_ASSERT(h && h->value_len == 3 && memcmp(h->value, "v w", 3) == 0);
    /* fed byte by byte, the head completes exactly at its last byte */
    size_t scan = 0, total = strlen(req) - 5;
    for (size_t i = 1; i < total; i++)
        CU_ASSERT_EQUAL(http1_request_parse(&r, req, i, 0, &scan), H1R_INCOMPLETE);
    CU_ASSERT_EQUAL(http1_request_parse(&r, req, total, 0, &scan), H1R_OK);
    CU_ASSERT_EQUAL(parse(&r, "GET / HTTP/1.1\nHost: x\n\n"), H1R_OK); /* bare LF */
    CU_ASSERT_EQUAL(parse(&r, "GET / HTTP/1.0\r\n\r\n"), H1R_OK);
    CU_ASSERT(!r.keep_alive);
    CU_ASSERT_EQUAL(parse(&r, "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), H1R_OK);
    CU_ASSERT(r.keep_alive);
    CU_ASSERT_EQUAL(parse(&r, "GET / HTTP/1.1\r\nConnection: upgrade, close\r\n\r\n"), H1R_OK);
    CU_ASSERT(!r.keep_alive);
    CU_ASSERT_EQUAL(parse(&r, "GET / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
                    H1R_OK);
    CU_ASSERT(r.chunked);
    CU_ASSERT_EQUAL(parse(&r, "GET / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n"), H1R_OK);
    CU_ASSERT(r.expect_continue);
    CU_ASSERT_EQUAL(parse(&r, "GET / HTTP/1.1\r\nA : b\r\n\r\n"), H1R_BAD_HEADER);
    CU_ASSERT_EQUAL(parse(&r, "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n"), H1R_BAD_HEADER);
    CU_ASSERT_EQUAL(parse(&r, "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n"), H1R_BAD_HEADER);
    CU_ASSERT_EQUAL(parse(&r, "GET / HTTP/1.1\r\nNoColon\r\n\r\n"), H1R_BAD_HEADER);
    CU_ASSERT_EQUAL(parse(&r, "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
                    H1R_BAD_CONTENT_LENGTH);
    CU_ASSERT_EQUAL(parse(&r, "GET / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n"),
                    H1R_OK);
    CU_ASSERT_EQUAL(parse(&r, "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
                    H1R_BAD_CONTENT_LENGTH);
    CU_ASSERT_EQUAL(parse(&r, "GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n"),
                    H1R_BAD_CONTENT_LENGTH);
    CU_ASSERT_EQUAL(
        parse(&r, "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n"),
        H1R_BAD_TRANSFER_ENCODING);
    CU_ASSERT_EQUAL(parse(&r, "GET / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
                    H1R_BAD_TRANSFER_ENCODING);
    CU_ASSERT_EQUAL(parse(&r, "GET / HTTP/2.0\r\n\r\n"), H1R_BAD_VERSION);
    CU_ASSERT_EQUAL(http1_req_status_code(H1R_BAD_VERSION), 505);
    CU_ASSERT_EQUAL(parse(&r, "GET  / HTTP/1.1\r\n\r\n"), H1R_BAD_REQUEST_LINE);
    CU_ASSERT_EQUAL(parse(&r, "GET / HTTP/1.1 \r\n\r\n"), H1R_BAD_REQUEST_LINE);
    CU_ASSERT_EQUAL(parse(&r, "G(T / HTTP/1.1\r\n\r\n"), H1R_BAD_REQUEST_LINE);
    /* limits */
    buf big = {0};
    buf_append_str(&big, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < HTTP1_REQ_MAX_HEADERS + 1; i++)
        buf_printf(&big, "H%d: v\r\n", i);
    buf_append_str(&big, "\r\n");
    CU_ASSERT_EQUAL(parse(&r, big.data), H1R_TOO_MANY_HEADERS);
    buf_reset(&big);
    buf_append_str(&big, "GET / HTTP/1.1\r\nA: ");
    while (big.len < 70000)
        buf_append_str(&big, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    CU_ASSERT_EQUAL(parse(&r, big.data), H1R_HEAD_TOO_LARGE); /* no end in sight */
    buf_append_str(&big, "\r\n\r\n");
    CU_ASSERT_EQUAL(parse(&r, big.data), H1R_HEAD_TOO_LARGE);
    CU_ASSERT_EQUAL(http1_req_status_code(H1R_HEAD_TOO_LARGE), 431);
    buf_free(&big);
}

static int suite_init(void)
{
    signal(SIGPIPE, SIG_IGN);
    return access(CA_FILE, R_OK) == 0 ? 0 : -1; /* run from the repository root */
}

CU_ErrorCode register_fixture_tests(void)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"request head parser", test_request_parser},
        {"/hello and 404", test_hello},
        {"/status, /interim", test_status},
        {"/body framings", test_body_framings},
        {"/stream/chunks, /slow-body, /slow timing", test_stream_timing},
        {"/redirect", test_redirect},
        {"/echo reflects a POST", test_echo},
        {"/echo 4 MiB: write queue and back-pressure", test_echo_large},
        {"HEAD, pipelining, keep-alive", test_head_and_keep_alive},
        {"Expect: 100-continue, half-close", test_expect_continue_and_half_close},
        {"/headers, /gzip", test_headers_gzip},
        {"/broken/*", test_broken},
        {"/reset, /close, mid-body cuts", test_reset_and_close},
        {"/hang", test_hang},
        {"transport_close inside on_data", test_close_inside_callback},
        {"refused, unresolvable: reported from the loop", test_connect_failures},
        {"TLS handshake timeout", test_handshake_timeout},
        {"IPv6 ::1", test_ipv6},
        {"next address after a refusal (localhost)", test_next_address},
        {"TLS EOF without close_notify is EOF", test_tls_eof_without_close_notify},
        {"TLS verification: CA, SNI, host name, verify off", test_tls_verify},
        {"TLS: paused reader, close_notify, reset", test_tls_streams},
    };
    CU_pSuite s = CU_add_suite("fixture and transport", suite_init, NULL);
    if (!s)
        return CU_get_error();
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn))
            return CU_get_error();
    return CUE_SUCCESS;
}
