#include "scenario/loader.h"
#include "tests/test_registry.h"

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static suite *load(const char *yaml, load_error *err)
{
    return suite_load_string("t.yaml", yaml, strlen(yaml), err);
}

/* Loads yaml expecting failure; returns 1 when the message is exactly `want`. */
static int fails_with(const char *yaml, const char *want)
{
    load_error err;
    suite *s = load(yaml, &err);
    if (s) {
        fprintf(stderr, "\nloaded, expected error: %s\n", want);
        suite_free(s);
        return 0;
    }
    if (strcmp(err.message, want) != 0) {
        fprintf(stderr, "\nexpected: %s\n     got: %s\n", want, err.message);
        return 0;
    }
    return 1;
}

#define ASSERT_POS(p, l, c)                                                                    \
    do {                                                                                       \
        CU_ASSERT_EQUAL((p).line, (l));                                                        \
        CU_ASSERT_EQUAL((p).col, (c));                                                         \
    } while (0)

static const char every_key_yaml[] =
    "suite: full\n"                                                            /* 1 */
    "target: http://t.test:8080\n"                                             /* 2 */
    "page_origin: http://app.test\n"                                           /* 3 */
    "timeout: 3s\n"                                                            /* 4 */
    "cases:\n"                                                                 /* 5 */
    "  - name: every key\n"                                                    /* 6 */
    "    description: free text\n"                                             /* 7 */
    "    timeout: 5s\n"                                                        /* 8 */
    "    page_origin: http://other.test\n"                                     /* 9 */
    "    severity: should\n"                                                   /* 10 */
    "    unimplemented_if_status: [404, 501]\n"                                /* 11 */
    "    xhr:\n"                                                               /* 12 */
    "      method: post\n"                                                     /* 13 */
    "      url: /stream/chunks?n=5&gap=50ms\n"                                 /* 14 */
    "      headers: { X-A: b, X-B: \"2\" }\n"                                  /* 15 */
    "      body: \"text\"\n"                                                   /* 16 */
    "      timeout: 2s\n"                                                      /* 17 */
    "      with_credentials: true\n"                                           /* 18 */
    "      upload_listeners: true\n"                                           /* 19 */
    "      abort_after: 300ms\n"                                               /* 20 */
    "      repeat: 3\n"                                                        /* 21 */
    "      gap: 100ms\n"                                                       /* 22 */
    "    expect:\n"                                                            /* 23 */
    "      ready_states: [1, 2, \"3+\", 4, 3*, 0?]\n"                          /* 24 */
    "      events: [loadstart, progress+, upload.progress*, load, loadend]\n"  /* 25 */
    "      status: 200\n"                                                      /* 26 */
    "      status_text: OK\n"                                                  /* 27 */
    "      ready_state: 4\n"                                                   /* 28 */
    "      headers: { Content-Type: text/plain, x-missing: null, x-re: { regex: \"^a+$\" } }\n"
    "      all_headers: { contains: \"x-dup: a, b\" }\n"                       /* 30 */
    "      response_text: [ { contains: \"chunk 5\" }, { not_contains: error }, exact ]\n"
    "      response_url: { contains: /dst }\n"                                 /* 32 */
    "      loaded: 12\n"                                                       /* 33 */
    "      total: 13\n"                                                        /* 34 */
    "      length_computable: true\n"                                          /* 35 */
    "      elapsed: { min: 100ms, max: 2s }\n"                                 /* 36 */
    "      progress_count: { min: 2 }\n";                                      /* 37 */

static void test_every_key(void)
{
    load_error err;
    suite *s = load(every_key_yaml, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_STRING_EQUAL(s->name, "full");
    CU_ASSERT_STRING_EQUAL(s->file, "t.yaml");
    CU_ASSERT_STRING_EQUAL(s->target, "http://t.test:8080");
    CU_ASSERT_STRING_EQUAL(s->page_origin, "http://app.test");
    CU_ASSERT_EQUAL(s->timeout_us, 3000000);
    CU_ASSERT_EQUAL_FATAL(s->n_cases, 1);

    const scenario_case *c = &s->cases[0];
    CU_ASSERT_STRING_EQUAL(c->name, "every key");
    ASSERT_POS(c->pos, 6, 5);
    CU_ASSERT_PTR_EQUAL(c->pos.file, s->file);
    CU_ASSERT_STRING_EQUAL(c->description, "free text");
    CU_ASSERT_EQUAL(c->timeout_us, 5000000);
    CU_ASSERT_STRING_EQUAL(c->page_origin, "http://other.test");
    CU_ASSERT_EQUAL(c->severity, SEV_SHOULD);
    CU_ASSERT_EQUAL_FATAL(c->n_unimplemented_status, 2);
    CU_ASSERT_EQUAL(c->unimplemented_status[0], 404);
    CU_ASSERT_EQUAL(c->unimplemented_status[1], 501);
    CU_ASSERT_EQUAL_FATAL(c->n_steps, 1);

    const step *st = &c->steps[0];
    CU_ASSERT_EQUAL(st->kind, STEP_XHR);
    ASSERT_POS(st->pos, 12, 5);
    const xhr_step *x = &st->u.xhr;
    CU_ASSERT_STRING_EQUAL(x->method, "post"); /* kept as written */
    CU_ASSERT_STRING_EQUAL(x->url, "/stream/chunks?n=5&gap=50ms");
    CU_ASSERT_EQUAL_FATAL(x->n_headers, 2);
    CU_ASSERT_STRING_EQUAL(x->headers[0].name, "X-A");
    CU_ASSERT_STRING_EQUAL(x->headers[0].value, "b");
    CU_ASSERT_STRING_EQUAL(x->headers[1].name, "X-B");
    CU_ASSERT_STRING_EQUAL(x->headers[1].value, "2");
    CU_ASSERT_STRING_EQUAL(x->body, "text");
    CU_ASSERT_EQUAL(x->body_len, 4);
    CU_ASSERT_EQUAL(x->timeout_us, 2000000);
    CU_ASSERT_TRUE(x->with_credentials);
    CU_ASSERT_TRUE(x->upload_listeners);
    CU_ASSERT_EQUAL(x->abort, ABORT_AFTER_TIME);
    CU_ASSERT_EQUAL(x->abort_after_us, 300000);
    CU_ASSERT_EQUAL(x->repeat, 3);
    CU_ASSERT_EQUAL(x->gap_us, 100000);

    const expect *e = &st->expect;
    CU_ASSERT_TRUE(e->ready_states.present);
    ASSERT_POS(e->ready_states.pos, 24, 7);
    CU_ASSERT_PTR_EQUAL(e->ready_states.pos.file, s->file);
    CU_ASSERT_EQUAL_FATAL(e->ready_states.n, 6);
    static const int rs_values[] = {1, 2, 3, 4, 3, 0};
    static const pattern_quant rs_quants[] = {Q_ONE, Q_ONE, Q_PLUS, Q_ONE, Q_STAR, Q_OPT};
    for (size_t i = 0; i < 6; i++) {
        CU_ASSERT_EQUAL(e->ready_states.items[i].value, rs_values[i]);
        CU_ASSERT_EQUAL(e->ready_states.items[i].quant, rs_quants[i]);
        CU_ASSERT_PTR_NULL(e->ready_states.items[i].name);
    }
    CU_ASSERT_EQUAL_FATAL(e->events.n, 5);
    ASSERT_POS(e->events.pos, 25, 7);
    CU_ASSERT_STRING_EQUAL(e->events.items[1].name, "progress");
    CU_ASSERT_EQUAL(e->events.items[1].quant, Q_PLUS);
    CU_ASSERT_STRING_EQUAL(e->events.items[2].name, "upload.progress");
    CU_ASSERT_EQUAL(e->events.items[2].quant, Q_STAR);
    CU_ASSERT_EQUAL(e->events.items[4].quant, Q_ONE);
    CU_ASSERT_TRUE(e->status.present);
    CU_ASSERT_EQUAL(e->status.value, 200);
    ASSERT_POS(e->status.pos, 26, 7);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e->status_text);
    CU_ASSERT_EQUAL(e->status_text->kind, TM_EQUALS);
    CU_ASSERT_STRING_EQUAL(e->status_text->value, "OK");
    ASSERT_POS(e->status_text->pos, 27, 7);
    CU_ASSERT_EQUAL(e->ready_state.value, 4);
    CU_ASSERT_EQUAL_FATAL(e->n_headers, 3);
    CU_ASSERT_STRING_EQUAL(e->headers[0].name, "content-type");
    CU_ASSERT_EQUAL(e->headers[0].match.kind, TM_EQUALS);
    CU_ASSERT_STRING_EQUAL(e->headers[0].match.value, "text/plain");
    ASSERT_POS(e->headers[0].match.pos, 29, 18);
    CU_ASSERT_EQUAL(e->headers[1].match.kind, TM_ABSENT);
    CU_ASSERT_PTR_NULL(e->headers[1].match.value);
    CU_ASSERT_EQUAL(e->headers[2].match.kind, TM_REGEX);
    CU_ASSERT_STRING_EQUAL(e->headers[2].match.value, "^a+$");
    CU_ASSERT_PTR_NOT_NULL_FATAL(e->all_headers);
    CU_ASSERT_EQUAL(e->all_headers->kind, TM_CONTAINS);
    CU_ASSERT_STRING_EQUAL(e->all_headers->value, "x-dup: a, b");
    CU_ASSERT_EQUAL_FATAL(e->n_response_text, 3);
    CU_ASSERT_EQUAL(e->response_text[0].kind, TM_CONTAINS);
    CU_ASSERT_EQUAL(e->response_text[1].kind, TM_NOT_CONTAINS);
    CU_ASSERT_STRING_EQUAL(e->response_text[1].value, "error");
    CU_ASSERT_EQUAL(e->response_text[2].kind, TM_EQUALS);
    CU_ASSERT_STRING_EQUAL(e->response_text[2].value, "exact");
    ASSERT_POS(e->response_text[1].pos, 31, 49);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e->response_url);
    CU_ASSERT_STRING_EQUAL(e->response_url->value, "/dst");
    CU_ASSERT_EQUAL(e->loaded.value, 12);
    CU_ASSERT_EQUAL(e->total.value, 13);
    CU_ASSERT_TRUE(e->length_computable.present && e->length_computable.value);
    CU_ASSERT_EQUAL(e->elapsed_min_us.value, 100000);
    CU_ASSERT_EQUAL(e->elapsed_max_us.value, 2000000);
    ASSERT_POS(e->elapsed_min_us.pos, 36, 18);
    CU_ASSERT_TRUE(e->progress_min.present);
    CU_ASSERT_EQUAL(e->progress_min.value, 2);
    CU_ASSERT_FALSE(e->progress_max.present);
    suite_free(s);
}

static void test_defaults(void)
{
    load_error err;
    suite *s = suite_load_string("dir/xhr-basic.yaml",
                                 "cases:\n  - name: a\n    xhr: { url: /x }\n", 40, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_STRING_EQUAL(s->name, "xhr-basic");
    CU_ASSERT_PTR_NULL(s->target);
    CU_ASSERT_PTR_NULL(s->page_origin);
    CU_ASSERT_EQUAL(s->timeout_us, SUITE_DEFAULT_CASE_TIMEOUT_US);
    const scenario_case *c = &s->cases[0];
    CU_ASSERT_EQUAL(c->timeout_us, 0);
    CU_ASSERT_PTR_NULL(c->page_origin);
    CU_ASSERT_PTR_NULL(c->description);
    CU_ASSERT_EQUAL(c->severity, SEV_MUST);
    CU_ASSERT_EQUAL(c->n_unimplemented_status, 0);
    const xhr_step *x = &c->steps[0].u.xhr;
    CU_ASSERT_STRING_EQUAL(x->method, "GET");
    CU_ASSERT_PTR_NULL(x->body);
    CU_ASSERT_EQUAL(x->n_headers, 0);
    CU_ASSERT_EQUAL(x->timeout_us, 0);
    CU_ASSERT_FALSE(x->with_credentials);
    CU_ASSERT_FALSE(x->upload_listeners);
    CU_ASSERT_EQUAL(x->abort, ABORT_NONE);
    CU_ASSERT_EQUAL(x->repeat, 1);
    CU_ASSERT_EQUAL(x->gap_us, 0);
    const expect *e = &c->steps[0].expect;
    CU_ASSERT_FALSE(e->ready_states.present || e->events.present || e->status.present ||
                    e->ready_state.present || e->loaded.present || e->elapsed_max_us.present);
    CU_ASSERT_PTR_NULL(e->status_text);
    CU_ASSERT_PTR_NULL(e->response_text);
    suite_free(s);
}

static void test_multi_step(void)
{
    load_error err;
    suite *s = load("suite: lp\n"
                    "cases:\n"
                    "  - name: long-poll loop\n"
                    "    steps:\n"
                    "      - xhr: { url: /poll?round=1 }\n"
                    "        expect: { status: 200 }\n"
                    "      - xhr: { url: /poll?round=2, method: PUT }\n"
                    "      - expect: { status: 204, events: [] }\n"
                    "        xhr: { url: /poll?round=3 }\n"
                    "  - name: second\n"
                    "    xhr: { url: /b }\n",
                    &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL_FATAL(s->n_cases, 2);
    const scenario_case *c = &s->cases[0];
    CU_ASSERT_EQUAL_FATAL(c->n_steps, 3);
    CU_ASSERT_STRING_EQUAL(c->steps[0].u.xhr.url, "/poll?round=1");
    CU_ASSERT_EQUAL(c->steps[0].expect.status.value, 200);
    ASSERT_POS(c->steps[0].pos, 5, 9);
    CU_ASSERT_STRING_EQUAL(c->steps[1].u.xhr.method, "PUT");
    CU_ASSERT_FALSE(c->steps[1].expect.status.present);
    CU_ASSERT_STRING_EQUAL(c->steps[2].u.xhr.url, "/poll?round=3");
    CU_ASSERT_EQUAL(c->steps[2].expect.status.value, 204);
    CU_ASSERT_TRUE(c->steps[2].expect.events.present);
    CU_ASSERT_EQUAL(c->steps[2].expect.events.n, 0);
    CU_ASSERT_STRING_EQUAL(s->cases[1].name, "second");
    CU_ASSERT_EQUAL(s->cases[1].n_steps, 1);
    suite_free(s);
}

static void test_forms(void)
{
    load_error err;
    suite *s = load("cases:\n"
                    "  - name: pairs\n"
                    "    unimplemented_if_status: 501\n"
                    "    xhr:\n"
                    "      url: /a\n"
                    "      headers: [[X-Dup, a], [x-dup, b], {name: X-C, value: 3}]\n"
                    "      body_size: 5\n"
                    "      abort_on: 2\n"
                    "    expect:\n"
                    "      elapsed: 2s\n"
                    "      progress_count: 3\n"
                    "      response_text: { equals: \"\" }\n"
                    "      status_text: { regex: \"^O\" }\n"
                    "  - name: abort on mapping\n"
                    "    xhr: { url: /b, abort_on: { ready_state: 3 }, timeout: 0 }\n"
                    "  - name: abort on progress\n"
                    "    xhr: { url: /c, abort_on: progress, body: \"a\\0b\" }\n"
                    "  - name: abort when done\n"
                    "    xhr: { url: /d, abort_on: done }\n",
                    &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    if (!s) {
        fprintf(stderr, "%s\n", err.message);
        return;
    }
    const scenario_case *c = &s->cases[0];
    CU_ASSERT_EQUAL(c->n_unimplemented_status, 1);
    CU_ASSERT_EQUAL(c->unimplemented_status[0], 501);
    const xhr_step *x = &c->steps[0].u.xhr;
    CU_ASSERT_EQUAL_FATAL(x->n_headers, 3);
    CU_ASSERT_STRING_EQUAL(x->headers[0].name, "X-Dup");
    CU_ASSERT_STRING_EQUAL(x->headers[1].name, "x-dup");
    CU_ASSERT_STRING_EQUAL(x->headers[1].value, "b");
    CU_ASSERT_STRING_EQUAL(x->headers[2].name, "X-C");
    CU_ASSERT_STRING_EQUAL(x->headers[2].value, "3");
    CU_ASSERT_EQUAL(x->body_len, 5);
    CU_ASSERT_STRING_EQUAL(x->body, "aaaaa");
    CU_ASSERT_EQUAL(x->abort, ABORT_ON_READY_STATE);
    CU_ASSERT_EQUAL(x->abort_ready_state, 2);
    const expect *e = &c->steps[0].expect;
    CU_ASSERT_FALSE(e->elapsed_min_us.present);
    CU_ASSERT_EQUAL(e->elapsed_max_us.value, 2000000);
    ASSERT_POS(e->elapsed_max_us.pos, 10, 7);
    CU_ASSERT_EQUAL(e->progress_min.value, 3);
    CU_ASSERT_EQUAL(e->progress_max.value, 3);
    CU_ASSERT_EQUAL_FATAL(e->n_response_text, 1);
    CU_ASSERT_EQUAL(e->response_text[0].kind, TM_EQUALS);
    CU_ASSERT_STRING_EQUAL(e->response_text[0].value, "");
    CU_ASSERT_EQUAL(e->status_text->kind, TM_REGEX);
    CU_ASSERT_EQUAL(s->cases[1].steps[0].u.xhr.abort, ABORT_ON_READY_STATE);
    CU_ASSERT_EQUAL(s->cases[1].steps[0].u.xhr.abort_ready_state, 3);
    const xhr_step *x2 = &s->cases[2].steps[0].u.xhr;
    CU_ASSERT_EQUAL(x2->abort, ABORT_ON_FIRST_PROGRESS);
    CU_ASSERT_EQUAL(x2->body_len, 3); /* a NUL byte in a body is kept */
    CU_ASSERT_EQUAL(memcmp(x2->body, "a\0b", 3), 0);
    CU_ASSERT_EQUAL(s->cases[3].steps[0].u.xhr.abort, ABORT_AFTER_DONE);
    suite_free(s);
}

static void test_env(void)
{
    setenv("COMET_TEST_LOADER_URL", "/from-env", 1);
    setenv("COMET_TEST_LOADER_EMPTY", "", 1);
    unsetenv("COMET_TEST_LOADER_UNSET");
    load_error err;
    suite *s = load("target: ${COMET_TEST_LOADER_UNSET:-}\n"
                    "page_origin: ${COMET_TEST_LOADER_EMPTY:-http://d.test}\n"
                    "cases:\n"
                    "  - name: env $$HOME ${COMET_TEST_LOADER_EMPTY}x\n"
                    "    xhr:\n"
                    "      url: \"${COMET_TEST_LOADER_URL}?a=${COMET_TEST_LOADER_UNSET:-1}\"\n"
                    "    expect: { response_text: { regex: \"end$\" } }\n",
                    &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_PTR_NULL(s->target);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s->page_origin);
    CU_ASSERT_STRING_EQUAL(s->page_origin, "http://d.test"); /* :- also covers empty */
    CU_ASSERT_STRING_EQUAL(s->cases[0].name, "env $HOME x");
    CU_ASSERT_STRING_EQUAL(s->cases[0].steps[0].u.xhr.url, "/from-env?a=1");
    CU_ASSERT_STRING_EQUAL(s->cases[0].steps[0].expect.response_text[0].value, "end$");
    suite_free(s);

    CU_ASSERT(fails_with("cases:\n  - name: a\n    xhr: { url: \"${COMET_TEST_LOADER_UNSET}\" }\n",
                         "t.yaml:3:17: environment variable COMET_TEST_LOADER_UNSET is not set "
                         "(use ${COMET_TEST_LOADER_UNSET:-default} to give a default)"));
    CU_ASSERT(fails_with("cases:\n  - name: a\n    xhr: { url: \"${COMET_TEST\" }\n",
                         "t.yaml:3:17: unterminated ${ (missing `}`)"));
    CU_ASSERT(fails_with("cases:\n  - name: ${X:y}\n",
                         "t.yaml:2:11: bad variable reference: write ${NAME} or "
                         "${NAME:-default} (NAME: letters, digits, _), or $$ for a literal $"));
    CU_ASSERT(fails_with("cases:\n  - name: ${X:-y\n",
                         "t.yaml:2:11: unterminated ${ (missing `}`)"));
    CU_ASSERT(fails_with("cases:\n  - name: ${9X}\n",
                         "t.yaml:2:11: bad variable reference: write ${NAME} or "
                         "${NAME:-default} (NAME: letters, digits, _), or $$ for a literal $"));
    unsetenv("COMET_TEST_LOADER_URL");
    unsetenv("COMET_TEST_LOADER_EMPTY");
}

static void test_errors(void)
{
    static const char one_case[] = "cases:\n  - name: a\n    xhr: { url: /x }\n";
    static const struct {
        const char *yaml;
        const char *message;
    } table[] = {
        {"cases:\n  - name: a\n   xhr: 1\n",
         "t.yaml:3:4: YAML syntax error: did not find expected '-' indicator (while parsing a "
         "block collection that starts at 2:3)"},
        {"cases: [ { name: a }\n",
         "t.yaml:2:1: YAML syntax error: did not find expected ',' or ']' (while parsing a flow "
         "sequence that starts at 1:8)"},
        {"cases:\n  - name: a\n    xhr: { url: /x, bogus: 1 }\n",
         "t.yaml:3:21: unknown key \"bogus\" in xhr; allowed: method, url, headers, body, "
         "body_size, timeout, with_credentials, upload_listeners, abort_after, abort_on, "
         "repeat, gap"},
        {"suites: x\ncases: []\n",
         "t.yaml:1:1: unknown key \"suites\" in the suite; allowed: suite, target, fixture_path, page_origin, "
         "timeout, cases, cors_policy"},
        {"cases:\n  - name: a\n    xhr: { url: /x }\n    expect:\n      status: abc\n",
         "t.yaml:5:15: expected an integer for `status`, got \"abc\""},
        {"cases:\n  - name: a\n    xhr: { url: /x }\n    expect: { status: 1000 }\n",
         "t.yaml:4:23: `status` must be between 0 and 999, got 1000"},
        {"cases:\n  - name: a\n    xhr: { url: [/x] }\n",
         "t.yaml:3:17: expected a string for `url`, got a list"},
        {"timeout: 10x\ncases: []\n",
         "t.yaml:1:10: bad duration \"10x\" for `timeout`: write e.g. 500ms, 2s, 1.5s, 250us, "
         "1m, or a number of milliseconds"},
        {"cases:\n  - name: a\n    xhr: { url: /x, gap: -5ms }\n",
         "t.yaml:3:26: bad duration \"-5ms\" for `gap`: write e.g. 500ms, 2s, 1.5s, 250us, 1m, "
         "or a number of milliseconds"},
        {"cases:\n  - name: a\n    timeout: 0\n    xhr: { url: /x }\n",
         "t.yaml:3:14: `timeout` must be greater than 0"},
        {"cases:\n  - name: a\n    xhr: { url: /x }\n    expect: { ready_states: [1, 3x] }\n",
         "t.yaml:4:33: bad item \"3x\" in `ready_states`: write a readyState 0-4, optionally "
         "followed by a quantifier + (one or more), * (any) or ? (optional)"},
        {"cases:\n  - name: a\n    xhr: { url: /x }\n    expect: { ready_states: [5] }\n",
         "t.yaml:4:30: bad item \"5\" in `ready_states`: write a readyState 0-4, optionally "
         "followed by a quantifier + (one or more), * (any) or ? (optional)"},
        {"cases:\n  - name: a\n    xhr: { url: /x }\n    expect: { events: [load!] }\n",
         "t.yaml:4:24: bad quantifier in \"load!\" in `events`: write the event name, optionally "
         "followed by + (one or more), * (any) or ? (optional)"},
        {"cases:\n  - name: a\n    xhr: { url: /x }\n    expect: { events: [progres] }\n",
         "t.yaml:4:24: unknown event \"progres\" in `events`; known: loadstart, progress, load, "
         "error, abort, timeout, loadend, and upload.<each of those>"},
        {"cases:\n  - name: a\n    xhr: { url: /x }\n    expect: { events: [readystatechange] }\n",
         "t.yaml:4:24: `events` leaves out readystatechange: check those with `ready_states`"},
        {"suite: x\n", "t.yaml:1:1: missing `cases`"},
        {"cases: []\n", "t.yaml:1:8: `cases` is empty"},
        {"", "t.yaml:1:1: empty scenario file: expected a mapping with `cases`"},
        {"- a\n", "t.yaml:1:1: expected a mapping with `cases` at the top of the file, got a list"},
        {"cases:\n  - name: a\n    xhr: { url: /x }\n    steps: []\n",
         "t.yaml:4:5: a case has either `xhr:` or `steps:`, not both"},
        {"cases:\n  - name: a\n    steps: [ { xhr: { url: /x } } ]\n    expect: {}\n",
         "t.yaml:4:5: with `steps:`, put each `expect:` inside its step"},
        {"cases:\n  - name: a\n    description: no step\n",
         "t.yaml:2:5: case has no step: add `xhr:`, `eventsource:` or `websocket:` (with its "
         "`expect:`) or `steps:`"},
        {"cases:\n  - name: a\n    steps: []\n", "t.yaml:3:12: `steps` is empty"},
        {"cases:\n  - name: a\n    steps:\n      - sse: { url: /x }\n",
         "t.yaml:4:9: unknown step kind \"sse\"; a step is one of: xhr, eventsource, websocket "
         "(with an optional `expect:` beside it)"},
        {"cases:\n  - name: a\n    steps:\n      - expect: {}\n",
         "t.yaml:4:9: a step needs a kind: one of xhr, eventsource, websocket"},
        {"cases:\n  - name: a\n    eventsource: { url: /s, stop: { events: 0 } }\n",
         "t.yaml:3:45: `stop.events` must be between 1 and 2147483647, got 0"},
        {"cases:\n  - name: a\n    eventsource: /s\n    expect: { events: [open, upload.load] }\n",
         "t.yaml:4:30: bad event type \"upload.load\" in `events`: open, message, error, or a "
         "custom event type"},
        {"cases:\n  - name: a\n    eventsource: /s\n    expect: { sequence: ids }\n",
         "t.yaml:4:25: `sequence` counts from `id` (the last event ID) or `data` (the first "
         "integer in the data)"},
        {"cases:\n  - name: a\n    websocket: { url: /w, actions: [ { shout: x } ] }\n",
         "t.yaml:3:40: unknown action \"shout\"; one of send_text, send_binary, send_raw, ping, "
         "close, wait, wait_messages, wait_close"},
        {"cases:\n  - name: a\n    websocket: { url: /w, actions: [ { send_binary: { hex: 0g } } ] }\n",
         "t.yaml:3:60: `send_binary` holds hex digits (spaces allowed), not `g`"},
        {"cases:\n  - name: a\n    websocket: { url: /w, actions: [ { send_raw: { opcode: 16 } } ] }\n",
         "t.yaml:3:60: `opcode` must be between 0 and 15, got 16"},
        {"cases:\n  - name: a\n    websocket: /w\n    expect: { events: [open, load] }\n",
         "t.yaml:4:30: unknown event \"load\" in `events`; a WebSocket fires open, message, "
         "error and close"},
        {"cases:\n  - name: a\n    websocket: /w\n    expect: { close: { code: [] } }\n",
         "t.yaml:4:30: `close.code` lists 1 to 1000 codes"},
        {"cases:\n  - xhr: { url: /x }\n", "t.yaml:2:5: missing `name` in a case"},
        {"cases:\n  - name: a\n    xhr: { method: GET }\n", "t.yaml:3:10: missing `url` in xhr"},
        {"cases:\n  - name: a\n    xhr: { url: /x }\n"
         "    expect: { response_text: { regex: \"a(\" } }\n",
         "t.yaml:4:39: bad regex \"a(\" for `response_text`: Unmatched ( or \\("},
        {"cases:\n  - name: a\n    xhr: { url: /x }\n"
         "    expect: { status_text: { contains: a, equals: b } }\n",
         "t.yaml:4:43: a text match for `status_text` takes exactly one of equals, contains, "
         "not_contains, regex, not_equals, list_item, present"},
        {"cases:\n  - name: a\n    xhr: { url: /x }\n    expect: { status_text: { has: a } }\n",
         "t.yaml:4:30: unknown key \"has\" in the text match of `status_text`; allowed: equals, "
         "contains, not_contains, regex, not_equals, list_item, present"},
        {"cases:\n  - name: a\n    xhr: { url: /x }\n    expect: { status_text: ~ }\n",
         "t.yaml:4:28: expected a string or a mapping with one of equals, contains, "
         "not_contains, regex, not_equals, list_item, present for `status_text`, got nothing "
         "(null)"},
        {"cases:\n  - name: a\n    name: b\n    xhr: { url: /x }\n",
         "t.yaml:3:5: duplicate key \"name\" in a case (first at 2:5)"},
        {"cases:\n  - name: a\n    xhr: { url: /x }\n  - name: b\n    xhr: { url: /x }\n"
         "  - name: a\n    xhr: { url: /x }\n",
         "t.yaml:6:5: duplicate case name \"a\" (first at 2:5)"},
        {"cases:\n  - name: a\n    xhr: { url: /x, body: x, body_size: 3 }\n",
         "t.yaml:3:41: give either `body` or `body_size`, not both"},
        {"cases:\n  - name: a\n    xhr: { url: /x, abort_after: 1s, abort_on: done }\n",
         "t.yaml:3:48: give either `abort_after` or `abort_on`, not both"},
        {"cases:\n  - name: a\n    xhr: { url: /x, abort_on: 0 }\n",
         "t.yaml:3:31: expected a readyState 1-4, `progress` or `done` for `abort_on`, got \"0\""},
        {"cases:\n  - name: a\n    xhr: { url: /x, with_credentials: maybe }\n",
         "t.yaml:3:39: expected true or false for `with_credentials`, got \"maybe\""},
        {"cases:\n  - name: a\n    severity: critical\n    xhr: { url: /x }\n",
         "t.yaml:3:15: expected must, should or may for `severity`, got \"critical\""},
        {"cases:\n  - name: a\n    xhr: { url: /x, repeat: 0 }\n",
         "t.yaml:3:29: `repeat` must be between 1 and 100000, got 0"},
        {"cases:\n  - name: a\n    xhr: { url: \"/x\\0y\" }\n",
         "t.yaml:3:17: `url` must not contain a NUL byte"},
        {"cases:\n  - name: a\n    xhr: { url: /x }\n"
         "    expect: { elapsed: { min: 2s, max: 1s } }\n",
         "t.yaml:4:35: `elapsed`: max is smaller than min"},
        {"cases:\n  - name: a\n    xhr: { url: /x }\n    expect: { progress_count: {} }\n",
         "t.yaml:4:31: `progress_count` needs min and/or max"},
        {"cases:\n  - name: a\n    xhr: { url: /x, headers: { A: 1, a: 2 } }\n",
         "t.yaml:3:38: header `a` given twice in a mapping; use the list form [[name, value], "
         "...] to send it twice"},
        {"cases:\n  - name: a\n    xhr: { url: /x, headers: [[A]] }\n",
         "t.yaml:3:31: expected [name, value] or {name: ..., value: ...} for `headers`, got a "
         "list"},
        {"cases:\n  - *nope\n",
         "t.yaml:2:5: unknown anchor `*nope` (define it first with `&nope`)"},
        {"cases:\n  - name: \xff\n", "t.yaml:2:11: invalid input: invalid leading UTF-8 octet "
                                      "(byte 0xff)"},
        {"cases: []\n---\ncases: []\n",
         "t.yaml:2:1: a scenario file holds one YAML document; a second one starts here"},
        {"cases:\n  - name: a\n    xhr: { url: /x }\n    expect: { status: 200, statuss: 1 }\n",
         "t.yaml:4:28: unknown key \"statuss\" in expect; allowed: ready_states, events, status, "
         "status_text, ready_state, headers, all_headers, response_text, response_url, loaded, "
         "total, length_computable, elapsed, progress_count, wire_headers, request_headers, "
         "requests, console"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        CU_ASSERT(fails_with(table[i].yaml, table[i].message));
    load_error err;
    suite *s = load(one_case, &err); /* the base the table varies loads */
    CU_ASSERT_PTR_NOT_NULL(s);
    suite_free(s);
}

static void test_header_expect_duplicates(void)
{
    CU_ASSERT(fails_with("cases:\n  - name: a\n    xhr: { url: /x }\n"
                         "    expect: { headers: { X-A: a, x-a: b } }\n",
                         "t.yaml:4:34: header `x-a` is expected twice (first at 4:26)"));
}

static void test_limits(void)
{
    /* nesting: the suite, `cases` and the case use 3 of the 64 levels */
    size_t depth = 70;
    char *deep = malloc(64 + 2 * depth);
    CU_ASSERT_PTR_NOT_NULL_FATAL(deep);
    char *p = deep + sprintf(deep, "cases:\n  - name: a\n    description: ");
    for (size_t i = 0; i < depth; i++)
        *p++ = '[';
    for (size_t i = 0; i < depth; i++)
        *p++ = ']';
    *p = '\0';
    CU_ASSERT(fails_with(deep, "t.yaml:3:79: nested more than 64 levels deep"));
    free(deep);

    /* aliases that expand exponentially ("billion laughs") */
    CU_ASSERT(fails_with("a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                         "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                         "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                         "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                         "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                         "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                         "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
                         "cases: *g\n",
                         "t.yaml:7:4: more than 4000000 nodes once aliases are expanded"));

    /* too many cases: aliases keep the text small */
    size_t n = 100001;
    char *many = malloc(128 + 4 * n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(many);
    p = many + sprintf(many, "suite: s\ncases: [&c { name: x, xhr: { url: / } }");
    for (size_t i = 1; i < n; i++)
        p += sprintf(p, ",*c");
    strcpy(p, "]\n");
    CU_ASSERT(fails_with(many, "t.yaml:2:8: more than 100000 cases"));
    free(many);

    /* aliases are fine within limits; shared expectations are copied per step */
    load_error err;
    suite *s = load("common: &ok { status: 200, events: [loadstart, loadend] }\n"
                    "cases:\n"
                    "  - { name: a, xhr: { url: /a }, expect: *ok }\n"
                    "  - { name: b, xhr: { url: /b }, expect: *ok }\n",
                    &err);
    CU_ASSERT_PTR_NULL(s); /* `common` is not a suite key */
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "unknown key \"common\""));
    s = load("cases:\n"
             "  - { name: a, xhr: { url: /a }, expect: &ok { status: 200, events: [load] } }\n"
             "  - { name: b, xhr: { url: /b }, expect: *ok }\n",
             &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->cases[1].steps[0].expect.status.value, 200);
    CU_ASSERT_STRING_EQUAL(s->cases[1].steps[0].expect.events.items[0].name, "load");
    CU_ASSERT_PTR_NOT_EQUAL(s->cases[0].steps[0].expect.events.items,
                            s->cases[1].steps[0].expect.events.items);
    suite_free(s);

    /* size: refused before reading a byte */
    size_t big = (16u << 20) + 1;
    char *huge = malloc(big);
    CU_ASSERT_PTR_NOT_NULL_FATAL(huge);
    CU_ASSERT_PTR_NULL(suite_load_string("big.yaml", huge, big, &err));
    CU_ASSERT_STRING_EQUAL(err.message, "big.yaml: larger than 16 MiB");
    free(huge);
}

static void test_durations(void)
{
    static const struct {
        const char *text;
        int64_t us;
    } table[] = {
        {"2s", 2000000},    {"500ms", 500000},  {"1.5s", 1500000}, {"250us", 250},
        {"1m", 60000000},   {"0", 0},           {"10", 10000},     {"0.5ms", 500},
        {"1.25m", 75000000}, {"007ms", 7000},   {"0s", 0},         {"1.000001s", 1000001},
        {"", -1},           {"-1s", -1},        {"+1s", -1},       {"1", 1000},
        {"1.5", -1},        {"s", -1},          {"1x", -1},        {"1 s", -1},
        {" 1s", -1},        {"1s ", -1},        {".5s", -1},       {"1.s", -1},
        {"1h", -1},         {"1sec", -1},       {"1e3ms", -1},     {"1.0000000001s", -1},
        {"99999999999999999999", -1}, {"9223372036854775807m", -1},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        int64_t got = parse_duration_us(table[i].text);
        if (got != table[i].us)
            fprintf(stderr, "\nparse_duration_us(\"%s\") = %lld, want %lld\n", table[i].text,
                    (long long)got, (long long)table[i].us);
        CU_ASSERT_EQUAL(got, table[i].us);
    }
    CU_ASSERT_EQUAL(parse_duration_us(NULL), -1);
}

static void test_load_file(void)
{
    char dir[] = "/tmp/comet-loader-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/xhr-basic.yaml", dir);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("cases:\n  - name: a\n    xhr: { url: /x }\n    expect: { status: 200 }\n", f);
    fclose(f);
    load_error err;
    suite *s = suite_load_file(path, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_STRING_EQUAL(s->name, "xhr-basic");
    CU_ASSERT_STRING_EQUAL(s->file, path);
    CU_ASSERT_PTR_EQUAL(s->cases[0].steps[0].expect.status.pos.file, s->file);
    suite_free(s);

    f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("cases:\n  - name: a\n    xhr: { url: /x }\n    expect: { status: x }\n", f);
    fclose(f);
    CU_ASSERT_PTR_NULL(suite_load_file(path, &err));
    char want[256];
    snprintf(want, sizeof want, "%s:4:23: expected an integer for `status`, got \"x\"", path);
    CU_ASSERT_STRING_EQUAL(err.message, want);
    unlink(path);

    CU_ASSERT_PTR_NULL(suite_load_file(path, &err));
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    CU_ASSERT_STRING_EQUAL(err.message, want);
    CU_ASSERT_PTR_NULL(suite_load_file(dir, &err));
    snprintf(want, sizeof want, "%s: is a directory", dir);
    CU_ASSERT_STRING_EQUAL(err.message, want);
    rmdir(dir);
    suite_free(NULL);
}

CU_ErrorCode register_loader_tests(void)
{
    CU_pSuite s = CU_add_suite("loader", NULL, NULL);
    if (!s || !CU_add_test(s, "every key into its field", test_every_key) ||
        !CU_add_test(s, "defaults", test_defaults) ||
        !CU_add_test(s, "several steps", test_multi_step) ||
        !CU_add_test(s, "alternative forms", test_forms) ||
        !CU_add_test(s, "${VAR} substitution", test_env) ||
        !CU_add_test(s, "errors name file:line:column", test_errors) ||
        !CU_add_test(s, "expected header given twice", test_header_expect_duplicates) ||
        !CU_add_test(s, "limits", test_limits) ||
        !CU_add_test(s, "durations", test_durations) ||
        !CU_add_test(s, "loading a file", test_load_file))
        return CU_get_error();
    return CUE_SUCCESS;
}
