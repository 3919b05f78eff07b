/* The EventSource and WebSocket expectation checker over traces built by hand: each check
 * holds on a trace that satisfies it and names the mismatch on one that does not. */
#include "scenario/expect_check.h"
#include "scenario/loader.h"
#include "tests/test_registry.h"

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The expectations of the first step of a one-case suite written as YAML. */
static suite *load_expect(const char *step_yaml, const char *expect_yaml, const expect **e)
{
    char yaml[4096];
    snprintf(yaml, sizeof yaml, "cases:\n  - name: c\n    %s\n    expect: %s\n", step_yaml,
             expect_yaml);
    load_error err;
    suite *s = suite_load_string("t.yaml", yaml, strlen(yaml), &err);
    if (!s) {
        fprintf(stderr, "\n%s\n", err.message);
        return NULL;
    }
    *e = &s->cases[0].steps[0].expect;
    return s;
}

static trace_event *at(trace *t, int64_t ms, const char *ev)
{
    trace_event *e = trace_push(t, ms * 1000, ev);
    CU_ASSERT_FATAL(e != NULL);
    return e;
}

static void es_message(trace *t, int64_t ms, const char *data, const char *id)
{
    trace_event *e = at(t, ms, "message");
    e->fields |= TF_RS;
    e->rs = 1;
    trace_set_cstr(e, &e->text, TF_TEXT, data);
    trace_set_cstr(e, &e->last_event_id, TF_LAST_EVENT_ID, id);
    trace_set_cstr(e, &e->type, TF_TYPE, "message");
    e->len = strlen(data);
    e->fields |= TF_LEN;
}

static void es_simple(trace *t, int64_t ms, const char *ev, int rs)
{
    trace_event *e = at(t, ms, ev);
    e->fields |= TF_RS;
    e->rs = rs;
}

static void request(trace *t, int64_t ms, const char *last_event_id)
{
    char head[256];
    snprintf(head, sizeof head, "GET /s HTTP/1.1\r\nAccept: text/event-stream\r\n%s%s%s\r\n",
             last_event_id ? "Last-Event-ID: " : "", last_event_id ? last_event_id : "",
             last_event_id ? "\r\n" : "");
    trace_event *e = at(t, ms, "request");
    trace_set_cstr(e, &e->detail, TF_DETAIL, head);
}

/* A stream that resumes after a drop: ids 1 2 3, reconnect 500 ms later with "3", 4 5. */
static void resumed_stream(trace *t, const char *resent_id, const char *fourth)
{
    request(t, 0, NULL);
    es_simple(t, 5, "open", 1);
    es_message(t, 10, "tick 1", "1");
    es_message(t, 110, "tick 2", "2");
    es_message(t, 210, "tick 3", "3");
    es_simple(t, 215, "error", 0);
    trace_event *r = at(t, 215, "reconnect");
    trace_set_cstr(r, &r->detail, TF_DETAIL, "500");
    request(t, 716, resent_id);
    es_simple(t, 720, "open", 1);
    es_message(t, 721, fourth, fourth + 5);
    es_message(t, 821, "tick 5", "5");
}

static bool has_reason(const reasons *r, const char *needle)
{
    for (size_t i = 0; i < r->n; i++)
        if (strstr(r->items[i], needle))
            return true;
    return false;
}

static void test_es_resume_holds(void)
{
    const expect *e;
    suite *s = load_expect("eventsource: /s",
                           "{events: [open, message+, error, open, message+], "
                           "ready_states: [1, 1+, 0, 1, 1+], sequence: data, reconnects: 1, "
                           "last_event_ids_sent: [null, \"3\"], "
                           "reconnect_delay: {min: 400ms, max: 600ms}, message_count: 5, "
                           "first_message: 50ms, max_silence: 600ms, "
                           "messages: [\"tick 1\", {data: \"tick 2\", last_event_id: \"2\"}, "
                           "\"tick 3\", \"tick 4\", {data: {contains: \"5\"}}]}",
                           &e);
    CU_ASSERT_FATAL(s != NULL);
    trace t;
    trace_init(&t);
    resumed_stream(&t, "3", "tick 4");
    reasons r = {0};
    stream_final f = {.ready_state = 1, .status = 200};
    CU_ASSERT_TRUE(expect_check_es(e, &t, 0, t.n, &f, &r));
    for (size_t i = 0; i < r.n; i++)
        fprintf(stderr, "\nunexpected: %s", r.items[i]);
    reasons_free(&r);
    trace_free(&t);
    suite_free(s);
}

static void test_es_resume_mismatches(void)
{
    const expect *e;
    suite *s = load_expect("eventsource: /s",
                           "{sequence: data, last_event_ids_sent: [null, \"3\"], "
                           "reconnect_delay: {max: 300ms}, reconnects: 2, comments: 1, "
                           "max_silence: 50ms, first_message: 1ms}",
                           &e);
    CU_ASSERT_FATAL(s != NULL);
    trace t;
    trace_init(&t);
    resumed_stream(&t, "2", "tick 3"); /* the server restarted one event back */
    reasons r = {0};
    stream_final f = {.ready_state = 1, .status = 200};
    CU_ASSERT_FALSE(expect_check_es(e, &t, 0, t.n, &f, &r));
    CU_ASSERT(has_reason(&r, "sequence (t.yaml:4:14): a duplicate or step back at message 4: "
                             "3 followed 3 (expected 4)"));
    CU_ASSERT(has_reason(&r, "last_event_ids_sent (t.yaml:4:30): expected [none, \"3\"], "
                             "observed [none, \"2\"]"));
    CU_ASSERT(has_reason(&r, "expected a reconnection within 300 ms, it came after 501 ms "
                             "(the reconnection time was 500 ms)"));
    CU_ASSERT(has_reason(&r, "reconnects (t.yaml:4:95): expected 2, observed 1"));
    CU_ASSERT(has_reason(&r, "comments (t.yaml:4:110): expected at least 1, observed 0"));
    CU_ASSERT(has_reason(&r, "at least every 50 ms, the stream was silent for 100 ms from 10 ms"));
    CU_ASSERT(has_reason(&r, "expected the first message within 1 ms of open, it came after 5 ms"));
    CU_ASSERT_EQUAL(r.n, 7);
    reasons_free(&r);
    trace_free(&t);
    suite_free(s);
}

static void ws_close(trace *t, int64_t ms, const char *ev, int code, bool has_code)
{
    trace_event *e = at(t, ms, ev);
    e->fields |= TF_RS | (has_code ? TF_CODE : 0) | TF_WAS_CLEAN;
    e->rs = 3;
    e->code = code;
    e->was_clean = true;
    trace_set_cstr(e, &e->reason, TF_REASON, "");
}

static void ws_session(trace *t, int server_code, bool server_closes_tcp)
{
    es_simple(t, 1, "open", 1);
    trace_event *m = at(t, 2, "message");
    m->fields |= TF_RS | TF_LEN;
    m->rs = 1;
    m->len = 3;
    trace_set_cstr(m, &m->type, TF_TYPE, "binary");
    trace_set_cstr(m, &m->text, TF_TEXT, "0102ff");
    trace_event *echo = at(t, 2, "echo");
    trace_set_cstr(echo, &echo->detail, TF_DETAIL, "match");
    trace_event *p = at(t, 3, "pong-in");
    trace_set_cstr(p, &p->text, TF_TEXT, "6869");
    ws_close(t, 4, "close-in", server_code, true);
    trace_event *tc = at(t, 5, "tcp-close");
    trace_set_cstr(tc, &tc->detail, TF_DETAIL,
                   server_closes_tcp ? "the server closed the connection"
                                     : "the browser closes the connection: timeout");
    ws_close(t, 5, "close", server_code, true);
}

static void test_ws_axes(void)
{
    const expect *e;
    suite *s = load_expect("websocket: /w",
                           "{events: [open, message, close], echo: true, pongs: [\"6869\"], "
                           "messages: [{hex: \"0102ff\"}], close: {code: 1002, was_clean: true}, "
                           "server_close: {code: 1002}, server_closed_tcp: true}",
                           &e);
    CU_ASSERT_FATAL(s != NULL);
    stream_final f = {.ready_state = 3, .status = 101};
    close_axis axis;
    reasons r = {0};
    trace t;
    trace_init(&t);
    ws_session(&t, 1002, true);
    CU_ASSERT_TRUE(expect_check_ws(e, &t, 0, t.n, &f, &r, &axis));
    CU_ASSERT_EQUAL(axis, CLOSE_AXIS_OK);
    CU_ASSERT_EQUAL(r.n, 0);
    trace_free(&t);

    /* a wrong code: the behaviour holds apart from the close event, the close axis says
     * "wrong code" */
    trace_init(&t);
    ws_session(&t, 1000, true);
    CU_ASSERT_FALSE(expect_check_ws(e, &t, 0, t.n, &f, &r, &axis));
    CU_ASSERT_EQUAL(axis, CLOSE_AXIS_WRONG_CODE);
    CU_ASSERT(has_reason(&r, "expected close 1002, observed close 1000 [close: wrong code]"));
    CU_ASSERT(has_reason(&r, "close (t.yaml:4:104): expected code 1002, observed 1000"));
    reasons_free(&r);
    trace_free(&t);

    /* TCP left open: unclean */
    trace_init(&t);
    ws_session(&t, 1002, false);
    CU_ASSERT_TRUE(expect_check_ws(e, &t, 0, t.n, &f, &r, &axis));
    CU_ASSERT_EQUAL(axis, CLOSE_AXIS_UNCLEAN);
    CU_ASSERT(has_reason(&r, "it did not [close: unclean]"));
    reasons_free(&r);
    trace_free(&t);
    suite_free(s);
}

static void test_ws_echo_and_pongs(void)
{
    const expect *e;
    suite *s = load_expect("websocket: /w",
                           "{echo: true, pongs: [\"6869\", \"\"], server_close: none, "
                           "message_count: {min: 2}}",
                           &e);
    CU_ASSERT_FATAL(s != NULL);
    stream_final f = {.ready_state = 3, .status = 101};
    close_axis axis;
    reasons r = {0};
    trace t;
    trace_init(&t);
    ws_session(&t, 1000, true);
    trace_event *echo = at(&t, 6, "echo");
    trace_set_cstr(echo, &echo->detail, TF_DETAIL, "message 2: sent text of 5 bytes, received "
                                                   "text of 4 bytes");
    CU_ASSERT_FALSE(expect_check_ws(e, &t, 0, t.n, &f, &r, &axis));
    CU_ASSERT(has_reason(&r, "echo (t.yaml:4:14): message 2: sent text of 5 bytes"));
    CU_ASSERT(has_reason(&r, "pongs (t.yaml:4:26): expected 2 pong(s) with the payloads given, "
                             "observed [\"6869\"]"));
    CU_ASSERT(has_reason(&r, "expected no close frame from the server, observed close 1000"));
    CU_ASSERT(has_reason(&r, "message_count (t.yaml:4:83): expected at least 2, observed 1"));
    CU_ASSERT_EQUAL(axis, CLOSE_AXIS_WRONG_CODE);
    reasons_free(&r);
    trace_free(&t);
    suite_free(s);
}

CU_ErrorCode register_expect_stream_tests(void)
{
    CU_pSuite s = CU_add_suite("expect (eventsource, websocket)", NULL, NULL);
    if (!s || !CU_add_test(s, "a resumed stream meets its expectations", test_es_resume_holds) ||
        !CU_add_test(s, "gaps, ids sent, delays, silence are named", test_es_resume_mismatches) ||
        !CU_add_test(s, "close axis: ok, wrong code, unclean", test_ws_axes) ||
        !CU_add_test(s, "echo, pongs, server_close none", test_ws_echo_and_pongs))
        return CU_get_error();
    return CUE_SUCCESS;
}
