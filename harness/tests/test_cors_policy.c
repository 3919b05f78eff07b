/* The cors_policy block (parsing, errors, the cases it becomes) and the expectations it
 * relies on: wire_headers, requests, console and the text matches not_equals, list_item
 * and present. The end-to-end part (the fixture's policy passes, each broken variant fails
 * for its reason) is ci/cors-policy-selftest.sh. */
#include "scenario/cors_policy.h"
#include "scenario/expect_check.h"
#include "scenario/loader.h"
#include "tests/test_registry.h"

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

CU_ErrorCode register_cors_policy_tests(void);

static suite *load(const char *yaml, load_error *err)
{
    return suite_load_string("t.yaml", yaml, strlen(yaml), err);
}

static suite *load_ok(const char *yaml)
{
    load_error err;
    suite *s = load(yaml, &err);
    if (!s)
        fprintf(stderr, "\nunexpected load error: %s\n", err.message);
    return s;
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

static const scenario_case *lookup_case(const suite *s, const char *name)
{
    for (size_t i = 0; i < s->n_cases; i++)
        if (strcmp(s->cases[i].name, name) == 0)
            return &s->cases[i];
    return NULL;
}

static const scenario_case *find_case(const suite *s, const char *name)
{
    const scenario_case *c = lookup_case(s, name);
    if (!c)
        fprintf(stderr, "\nno case named \"%s\"\n", name);
    return c;
}

static const xhr_step *xhr_of(const scenario_case *c)
{
    return &c->steps[0].u.xhr;
}

static bool events_are(const expect *e, const char *want)
{
    char *got = pattern_format(&e->events);
    bool same = e->events.present && strcmp(got, want) == 0;
    if (!same)
        fprintf(stderr, "\nevents: want %s, got %s\n", want, got);
    free(got);
    return same;
}

/* ---- generation ------------------------------------------------------------------------ */

static const char example_yaml[] =
    "suite: api-cors\n"                                                           /* 1 */
    "cors_policy:\n"                                                              /* 2 */
    "  url: /cors/policy?x=1\n"                                                   /* 3 */
    "  allowed_origins: [https://app.example.test, \"https://*.example.test\"]\n" /* 4 */
    "  methods: [GET, POST, PUT]\n"                                               /* 5 */
    "  headers: [Content-Type, X-Requested-With]\n"                               /* 6 */
    "  exposed_headers: [X-Total-Count]\n"                                        /* 7 */
    "  credentials: true\n"                                                       /* 8 */
    "  max_age: 600s\n";                                                          /* 9 */

static void test_generates_every_probe(void)
{
    static const char *const names[] = {
        "cors policy: https://app.example.test may GET",
        "cors policy: https://*.example.test may GET (as https://comet-probe.example.test)",
        "cors policy: https://app.example.test may PUT",
        "cors policy: https://app.example.test may send Content-Type",
        "cors policy: https://app.example.test may send X-Requested-With",
        "cors policy: https://app.example.test can read X-Total-Count",
        "cors policy: https://app.example.test cannot read undeclared response headers",
        "cors policy: https://app.example.test may send credentials",
        "cors policy: an undeclared origin is refused (https://evil.comet-probe.test)",
        "cors policy: a look-alike of https://app.example.test is refused "
        "(https://app.example.test.comet-probe.test)",
        "cors policy: a look-alike of https://*.example.test is refused "
        "(https://comet-probe-example.test)",
        "cors policy: an undeclared method is refused (DELETE)",
        "cors policy: an undeclared request header is refused (X-Comet-Undeclared)",
        "cors policy: the preflight announces Access-Control-Max-Age: 600",
        "cors policy: an undeclared origin is not echoed back",
        "cors policy: the null origin is not granted",
        "cors policy: responses that echo the origin carry Vary: Origin",
        "cors policy: a credentialed request is not answered with Access-Control-Allow-Origin: *",
    };
    suite *s = load_ok(example_yaml);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->n_cases, sizeof names / sizeof names[0]);
    for (size_t i = 0; i < s->n_cases && i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(s->cases[i].name, names[i]))
            fprintf(stderr, "\ncase %zu: want \"%s\"\n         got \"%s\"\n", i, names[i],
                    s->cases[i].name);
        CU_ASSERT_STRING_EQUAL(s->cases[i].name, names[i]);
        CU_ASSERT_EQUAL(s->cases[i].n_steps, 1);
        CU_ASSERT_EQUAL(s->cases[i].steps[0].kind, STEP_XHR);
        CU_ASSERT_STRING_EQUAL(xhr_of(&s->cases[i])->url, "/cors/policy?x=1");
        CU_ASSERT_PTR_NOT_NULL(s->cases[i].page_origin);
    }
    suite_free(s);
}

static void test_allowed_probes(void)
{
    suite *s = load_ok(example_yaml);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    const scenario_case *c = find_case(s, "cors policy: https://app.example.test may GET");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_STRING_EQUAL(c->page_origin, "https://app.example.test");
    CU_ASSERT_STRING_EQUAL(xhr_of(c)->method, "GET");
    CU_ASSERT_FALSE(xhr_of(c)->with_credentials);
    CU_ASSERT(events_are(&c->steps[0].expect, "[loadstart, progress*, load, loadend]"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(c->steps[0].expect.console);
    CU_ASSERT_EQUAL(c->steps[0].expect.console->kind, TM_ABSENT);
    CU_ASSERT_EQUAL(c->severity, SEV_MUST);
    CU_ASSERT_EQUAL(c->pos.line, 4); /* cites the origin's entry */
    CU_ASSERT_EQUAL(c->pos.col, 21);
    CU_ASSERT_STRING_EQUAL(c->pos.file, "t.yaml");

    c = find_case(s, "cors policy: https://*.example.test may GET (as "
                     "https://comet-probe.example.test)");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_STRING_EQUAL(c->page_origin, "https://comet-probe.example.test");
    CU_ASSERT_EQUAL(c->pos.col, 47);

    c = find_case(s, "cors policy: https://app.example.test may PUT");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    const expect *e = &c->steps[0].expect;
    CU_ASSERT_STRING_EQUAL(xhr_of(c)->method, "PUT");
    CU_ASSERT_PTR_NULL(xhr_of(c)->body);
    CU_ASSERT(events_are(e, "[loadstart, progress*, load, loadend]"));
    CU_ASSERT_EQUAL_FATAL(e->n_requests, 1);
    CU_ASSERT_STRING_EQUAL(e->requests[0].method, "OPTIONS");
    CU_ASSERT(e->requests[0].min.present && e->requests[0].min.value == 1);
    CU_ASSERT(e->requests[0].max.present && e->requests[0].max.value == 1);
    CU_ASSERT_EQUAL(e->requests[0].min.pos.line, 5);
    CU_ASSERT_PTR_NULL(lookup_case(s, "cors policy: https://app.example.test may POST"));

    c = find_case(s, "cors policy: https://app.example.test may send Content-Type");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL_FATAL(xhr_of(c)->n_headers, 1);
    CU_ASSERT_STRING_EQUAL(xhr_of(c)->headers[0].name, "Content-Type");
    CU_ASSERT_STRING_EQUAL(xhr_of(c)->headers[0].value, "application/json"); /* not safelisted */

    c = find_case(s, "cors policy: https://app.example.test can read X-Total-Count");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    e = &c->steps[0].expect;
    CU_ASSERT_EQUAL_FATAL(e->n_headers, 1);
    CU_ASSERT_STRING_EQUAL(e->headers[0].name, "x-total-count");
    CU_ASSERT_EQUAL(e->headers[0].match.kind, TM_PRESENT);

    c = find_case(s, "cors policy: https://app.example.test cannot read undeclared response "
                     "headers");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    const text_match *all = c->steps[0].expect.all_headers;
    CU_ASSERT_PTR_NOT_NULL_FATAL(all);
    CU_ASSERT_EQUAL(all->kind, TM_REGEX);
    CU_ASSERT_TRUE(text_match_ok(all, ""));
    CU_ASSERT_TRUE(text_match_ok(all, "content-length: 15\r\ncontent-type: text/plain\r\n"
                                      "x-total-count: 42\r\n"));
    CU_ASSERT_FALSE(text_match_ok(all, "content-type: text/plain\r\nx-comet-secret: 1\r\n"));
    CU_ASSERT_FALSE(text_match_ok(all, "x-total-count-2: 1\r\n"));

    c = find_case(s, "cors policy: https://app.example.test may send credentials");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_TRUE(xhr_of(c)->with_credentials);
    CU_ASSERT(events_are(&c->steps[0].expect, "[loadstart, progress*, load, loadend]"));
    suite_free(s);
}

static bool refused(const scenario_case *c, const char *origin)
{
    const expect *e = &c->steps[0].expect;
    return c->severity == SEV_MUST && strcmp(c->page_origin, origin) == 0 && e->status.present &&
           e->status.value == 0 && events_are(e, "[loadstart, error, loadend]");
}

static void test_refusal_probes(void)
{
    suite *s = load_ok(example_yaml);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    const scenario_case *c = find_case(s, "cors policy: an undeclared origin is refused "
                                          "(https://evil.comet-probe.test)");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT(refused(c, "https://evil.comet-probe.test"));
    c = find_case(s, "cors policy: a look-alike of https://*.example.test is refused "
                     "(https://comet-probe-example.test)");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT(refused(c, "https://comet-probe-example.test"));
    c = find_case(s, "cors policy: an undeclared method is refused (DELETE)");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT(refused(c, "https://app.example.test"));
    CU_ASSERT_STRING_EQUAL(xhr_of(c)->method, "DELETE");
    c = find_case(s, "cors policy: an undeclared request header is refused "
                     "(X-Comet-Undeclared)");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT(refused(c, "https://app.example.test"));
    CU_ASSERT_EQUAL_FATAL(xhr_of(c)->n_headers, 1);
    CU_ASSERT_STRING_EQUAL(xhr_of(c)->headers[0].name, "X-Comet-Undeclared");
    suite_free(s);
}

static const wire_header_expect *only_wire(const scenario_case *c)
{
    const expect *e = &c->steps[0].expect;
    CU_ASSERT_EQUAL(e->n_wire_headers, 1);
    return e->n_wire_headers == 1 ? &e->wire_headers[0] : NULL;
}

static void test_findings_and_max_age(void)
{
    suite *s = load_ok(example_yaml);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    const scenario_case *c = find_case(s, "cors policy: the preflight announces "
                                          "Access-Control-Max-Age: 600");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    const wire_header_expect *w = only_wire(c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    CU_ASSERT_STRING_EQUAL(xhr_of(c)->method, "PUT"); /* preflighted by a declared method */
    CU_ASSERT_STRING_EQUAL(w->method, "OPTIONS");
    CU_ASSERT_STRING_EQUAL(w->name, "access-control-max-age");
    CU_ASSERT(w->match.kind == TM_EQUALS && strcmp(w->match.value, "600") == 0);
    CU_ASSERT_EQUAL(w->match.pos.line, 9);

    static const struct {
        const char *name, *origin, *header, *value;
        text_match_kind kind;
        severity sev;
        bool credentials;
    } table[] = {
        {"cors policy: an undeclared origin is not echoed back", "https://evil.comet-probe.test",
         "access-control-allow-origin", "https://evil.comet-probe.test", TM_NOT_EQUALS, SEV_MUST,
         false},
        {"cors policy: the null origin is not granted", "https://evil.comet-probe.test",
         "access-control-allow-origin", "null", TM_NOT_EQUALS, SEV_MUST, false},
        {"cors policy: responses that echo the origin carry Vary: Origin",
         "https://app.example.test", "vary", "Origin", TM_LIST_ITEM, SEV_SHOULD, false},
        {"cors policy: a credentialed request is not answered with "
         "Access-Control-Allow-Origin: *",
         "https://app.example.test", "access-control-allow-origin", "*", TM_NOT_EQUALS, SEV_MAY,
         true},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        c = find_case(s, table[i].name);
        CU_ASSERT_PTR_NOT_NULL_FATAL(c);
        CU_ASSERT_STRING_EQUAL(c->page_origin, table[i].origin);
        CU_ASSERT_EQUAL(c->severity, table[i].sev);
        CU_ASSERT_EQUAL(xhr_of(c)->with_credentials, table[i].credentials);
        CU_ASSERT_PTR_NOT_NULL(c->description);
        w = only_wire(c);
        CU_ASSERT_PTR_NOT_NULL_FATAL(w);
        CU_ASSERT_PTR_NULL(w->method); /* every response of the step */
        CU_ASSERT_STRING_EQUAL(w->name, table[i].header);
        CU_ASSERT_EQUAL(w->match.kind, table[i].kind);
        CU_ASSERT_STRING_EQUAL(w->match.value, table[i].value);
    }
    suite_free(s);
}

static void test_policy_variants(void)
{
    /* no credentials: a credentialed request must fail; DELETE declared: PATCH is refused */
    suite *s = load_ok("cors_policy:\n  url: /r\n  allowed_origins: [http://localhost:3000]\n"
                       "  methods: [DELETE]\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    const scenario_case *c = find_case(s, "cors policy: http://localhost:3000 may not send "
                                          "credentials");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT(refused(c, "http://localhost:3000"));
    CU_ASSERT_TRUE(xhr_of(c)->with_credentials);
    CU_ASSERT_PTR_NOT_NULL(find_case(s, "cors policy: an undeclared method is refused (PATCH)"));
    CU_ASSERT_PTR_NOT_NULL(find_case(s, "cors policy: a look-alike of http://localhost:3000 is "
                                        "refused (http://localhost.comet-probe.test:3000)"));
    CU_ASSERT_PTR_NULL(lookup_case(s, "cors policy: the preflight announces "
                                      "Access-Control-Max-Age: 600"));
    suite_free(s);

    /* "*": no refusal of origins, no findings about echoing */
    s = load_ok("cors_policy:\n  url: /r\n  allowed_origins: [\"*\"]\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_PTR_NOT_NULL(find_case(s, "cors policy: any origin may GET (as "
                                        "https://comet-probe.test)"));
    for (size_t i = 0; i < s->n_cases; i++) {
        CU_ASSERT_PTR_NULL(strstr(s->cases[i].name, "undeclared origin"));
        CU_ASSERT_PTR_NULL(strstr(s->cases[i].name, "Vary"));
    }
    suite_free(s);

    /* nobody: only refusals */
    s = load_ok("cors_policy: { url: /r, allowed_origins: [] }\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->n_cases, 3);
    CU_ASSERT_PTR_NOT_NULL(find_case(s, "cors policy: an undeclared origin is refused "
                                        "(https://evil.comet-probe.test)"));
    suite_free(s);

    /* a declared wildcard covering the usual probe: another undeclared origin is used */
    s = load_ok("cors_policy: { url: /r, allowed_origins: [\"https://*.comet-probe.test\"] }\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_PTR_NOT_NULL(find_case(s, "cors policy: an undeclared origin is refused "
                                        "(https://evil.comet-probe.example)"));
    suite_free(s);

    /* max_age with nothing to preflight for: a POST whose upload listeners force one */
    s = load_ok("cors_policy: { url: /r, allowed_origins: [https://a.test], max_age: 1m }\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    c = find_case(s, "cors policy: the preflight announces Access-Control-Max-Age: 60");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_STRING_EQUAL(xhr_of(c)->method, "POST");
    CU_ASSERT_TRUE(xhr_of(c)->upload_listeners);
    CU_ASSERT_PTR_NOT_NULL(xhr_of(c)->body);
    suite_free(s);

    /* several URLs: every probe for each, named by URL; written cases come first */
    s = load_ok("cases:\n  - name: mine\n    xhr: { url: /x }\n"
                "cors_policy: { urls: [/a, /b], allowed_origins: [https://a.test] }\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_STRING_EQUAL(s->cases[0].name, "mine");
    CU_ASSERT_STRING_EQUAL(s->cases[1].name, "cors policy (/a): https://a.test may GET");
    const scenario_case *b = find_case(s, "cors policy (/b): https://a.test may GET");
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_STRING_EQUAL(xhr_of(b)->url, "/b");
    size_t per_url = 0;
    for (size_t i = 1; i < s->n_cases; i++)
        per_url += strncmp(s->cases[i].name, "cors policy (/a): ", 18) == 0;
    CU_ASSERT(per_url > 10 && s->n_cases == 1 + 2 * per_url);
    suite_free(s);
}

static void test_origin_matching(void)
{
    static const struct {
        const char *entry, *origin;
        bool match;
    } table[] = {
        {"https://app.example.test", "https://app.example.test", true},
        {"https://app.example.test", "http://app.example.test", false},
        {"https://app.example.test", "https://app.example.test:8443", false},
        {"https://app.example.test", "https://app.example.test.evil.test", false},
        {"https://*.example.test", "https://a.example.test", true},
        {"https://*.example.test", "https://a.b.example.test", false}, /* one label only */
        {"https://*.example.test", "https://example.test", false},
        {"https://*.example.test", "https://evilexample.test", false},
        {"https://*.example.test", "http://a.example.test", false},
        {"https://*.example.test:8443", "https://a.example.test:8443", true},
        {"https://*.example.test:8443", "https://a.example.test", false},
        {"*", "https://anything.test", true},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        bool got = cors_policy_origin_matches(table[i].entry, table[i].origin);
        if (got != table[i].match)
            fprintf(stderr, "\n%s vs %s: got %d\n", table[i].entry, table[i].origin, got);
        CU_ASSERT_EQUAL(got, table[i].match);
    }
}

static void test_policy_errors(void)
{
#define POLICY(body) "cors_policy:\n  url: /r\n" body
    static const struct {
        const char *yaml, *message;
    } table[] = {
        {"cors_policy:\n  allowed_origins: []\n",
         "t.yaml:2:3: missing `url` (or `urls`) in cors_policy: the resource to probe"},
        {"cors_policy: { url: /a, urls: [/b], allowed_origins: [] }\n",
         "t.yaml:1:25: give either `url` or `urls`, not both"},
        {"cors_policy: { urls: [], allowed_origins: [] }\n", "t.yaml:1:22: `urls` is empty"},
        {"cors_policy: { urls: [/a, /a], allowed_origins: [] }\n",
         "t.yaml:1:27: `urls` lists /a twice (first at 1:23)"},
        {POLICY(""),
         "t.yaml:2:3: missing `allowed_origins` in cors_policy (`[]` means no origin may read "
         "the resource)"},
        {POLICY("  allowed_origins: [https://a.test/]\n"),
         "t.yaml:3:21: bad origin \"https://a.test/\" in `allowed_origins`: not an origin as "
         "browsers send it: write scheme://host[:port] with http or https, the host in lower "
         "case, no default port, no path or trailing slash, e.g. https://a.test"},
        {POLICY("  allowed_origins: [https://App.test]\n"),
         "t.yaml:3:21: bad origin \"https://App.test\" in `allowed_origins`: not an origin as "
         "browsers send it: write scheme://host[:port] with http or https, the host in lower "
         "case, no default port, no path or trailing slash, e.g. https://app.test"},
        {POLICY("  allowed_origins: [\"https://a.test:443\"]\n"),
         "t.yaml:3:21: bad origin \"https://a.test:443\" in `allowed_origins`: not an origin as "
         "browsers send it: write scheme://host[:port] with http or https, the host in lower "
         "case, no default port, no path or trailing slash, e.g. https://a.test"},
        {POLICY("  allowed_origins: [app.test]\n"),
         "t.yaml:3:21: bad origin \"app.test\" in `allowed_origins`: not an origin as browsers "
         "send it: write scheme://host[:port] with http or https, the host in lower case, no "
         "default port, no path or trailing slash"},
        {POLICY("  allowed_origins: [\"https://app.*.test\"]\n"),
         "t.yaml:3:21: bad origin \"https://app.*.test\" in `allowed_origins`: a wildcard "
         "stands for one whole DNS label at the start of the host: write e.g. "
         "https://*.example.test"},
        {POLICY("  allowed_origins: [\"null\"]\n"),
         "t.yaml:3:21: bad origin \"null\" in `allowed_origins`: `null` is the origin of every "
         "sandboxed iframe and file: page; granting it grants them all, so it cannot be "
         "declared"},
        {POLICY("  allowed_origins: [https://a.test, https://a.test]\n"),
         "t.yaml:3:37: `allowed_origins` lists https://a.test twice (first at 3:21)"},
        {POLICY("  allowed_origins: [\"*\", https://a.test]\n"),
         "t.yaml:3:21: `*` allows every origin: list it alone in `allowed_origins`"},
        {POLICY("  allowed_origins: [\"*\"]\n  credentials: true\n"),
         "t.yaml:4:3: `credentials: true` cannot go with the origin `*`: browsers refuse "
         "Access-Control-Allow-Origin: * on credentialed requests"},
        {POLICY("  allowed_origins: []\n  methods: [PUT]\n"),
         "t.yaml:4:3: `methods` needs an allowed origin to probe from, and `allowed_origins` "
         "is empty"},
        {POLICY("  allowed_origins: []\n  max_age: 10s\n"),
         "t.yaml:4:3: `max_age` needs an allowed origin to probe from, and `allowed_origins` "
         "is empty"},
        {POLICY("  allowed_origins: [https://a.test]\n  methods: [TRACE]\n"),
         "t.yaml:4:13: TRACE is a forbidden method: XMLHttpRequest.open() throws, so no page "
         "can send it"},
        {POLICY("  allowed_origins: [https://a.test]\n  methods: PUT\n"),
         "t.yaml:4:12: expected a list for `methods`, got \"PUT\""},
        {POLICY("  allowed_origins: [https://a.test]\n  headers: [X-A, x-a]\n"),
         "t.yaml:4:18: `headers` lists x-a twice (first at 4:13)"},
        {POLICY("  allowed_origins: [https://a.test]\n  headers: [Cookie]\n"),
         "t.yaml:4:13: Cookie is a forbidden request header: a page cannot set it, so it needs "
         "no CORS permission and cannot be probed"},
        {POLICY("  allowed_origins: [https://a.test]\n  headers: [\"X A\"]\n"),
         "t.yaml:4:13: expected a header name for `headers`, got \"X A\""},
        {POLICY("  allowed_origins: [https://a.test]\n  max_age: 600\n"),
         "t.yaml:4:12: `max_age` is announced in whole seconds: write e.g. 600s (a bare number "
         "means milliseconds)"},
        {POLICY("  allowed_origins: [https://a.test]\n  credentials: maybe\n"),
         "t.yaml:4:16: expected true or false for `credentials`, got \"maybe\""},
        {POLICY("  allowed_origins: [https://a.test]\n  expose: [X-A]\n"),
         "t.yaml:4:3: unknown key \"expose\" in cors_policy; allowed: url, urls, "
         "allowed_origins, methods, headers, exposed_headers, credentials, max_age"},
        {"cors_policy: /r\n", "t.yaml:1:14: expected a mapping for `cors_policy`, got \"/r\""},
        {"cases:\n  - name: \"cors policy: https://a.test may GET\"\n    xhr: { url: /x }\n"
         "cors_policy: { url: /r, allowed_origins: [https://a.test] }\n",
         "t.yaml:4:43: duplicate case name \"cors policy: https://a.test may GET\" (first at "
         "2:5)"},
    };
#undef POLICY
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        CU_ASSERT(fails_with(table[i].yaml, table[i].message));
}

/* ---- wire_headers, requests, console ------------------------------------------------- */

static const char wire_yaml[] =
    "cases:\n"                                                                            /* 1 */
    "  - name: a\n"                                                                       /* 2 */
    "    xhr: { url: /x, method: PUT }\n"                                                 /* 3 */
    "    expect:\n"                                                                       /* 4 */
    "      wire_headers:\n"                                                               /* 5 */
    "        OPTIONS: { access-control-max-age: \"600\", vary: { list_item: origin } }\n" /* 6 */
    "        any: { x-secret: null, x-id: { present: true } }\n"                          /* 7 */
    "      requests: { OPTIONS: 1, any: { min: 3 } }\n"                                   /* 8 */
    "      console: null\n";                                                              /* 9 */

static void push_wire(trace *t, const char *ev, const char *method, int status, const char *detail)
{
    trace_event *e = trace_push(t, 0, ev);
    if (method) {
        trace_set_cstr(e, &e->method, TF_METHOD, method);
        trace_set_cstr(e, &e->url, TF_URL, "http://t.test/x");
    }
    trace_set_cstr(e, &e->detail, TF_DETAIL, detail);
    if (status) {
        e->fields |= TF_STATUS;
        e->status = status;
    }
}

static int reasons_are(const expect *e, const trace *t, const char *const *want, size_t n)
{
    reasons r = {0};
    bool ok = expect_check_xhr(e, t, 0, t->n, NULL, &r);
    int good = (n == 0) == ok && r.n == n;
    for (size_t i = 0; good && i < n; i++)
        good = strcmp(r.items[i], want[i]) == 0;
    if (!good) {
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "\nwant: %s", want[i]);
        for (size_t i = 0; i < r.n; i++)
            fprintf(stderr, "\n got: %s", r.items[i]);
        fprintf(stderr, "\n");
    }
    reasons_free(&r);
    return good;
}

static void test_wire_expectations_parse(void)
{
    suite *s = load_ok(wire_yaml);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    const expect *e = &s->cases[0].steps[0].expect;
    CU_ASSERT_EQUAL_FATAL(e->n_wire_headers, 4);
    CU_ASSERT_STRING_EQUAL(e->wire_headers[0].method, "OPTIONS");
    CU_ASSERT_STRING_EQUAL(e->wire_headers[0].name, "access-control-max-age");
    CU_ASSERT_EQUAL(e->wire_headers[0].match.kind, TM_EQUALS);
    CU_ASSERT_EQUAL(e->wire_headers[1].match.kind, TM_LIST_ITEM);
    CU_ASSERT_PTR_NULL(e->wire_headers[2].method);
    CU_ASSERT_EQUAL(e->wire_headers[2].match.kind, TM_ABSENT);
    CU_ASSERT_EQUAL(e->wire_headers[3].match.kind, TM_PRESENT);
    CU_ASSERT_EQUAL(e->wire_headers[0].match.pos.line, 6);
    CU_ASSERT_EQUAL(e->wire_headers[0].match.pos.col, 20);
    CU_ASSERT_EQUAL_FATAL(e->n_requests, 2);
    CU_ASSERT_STRING_EQUAL(e->requests[0].method, "OPTIONS");
    CU_ASSERT(e->requests[0].min.value == 1 && e->requests[0].max.value == 1);
    CU_ASSERT_PTR_NULL(e->requests[1].method);
    CU_ASSERT(e->requests[1].min.present && !e->requests[1].max.present);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e->console);
    CU_ASSERT_EQUAL(e->console->kind, TM_ABSENT);
    suite_free(s);
}

static void test_wire_expectations_check(void)
{
    suite *s = load_ok(wire_yaml);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    const expect *e = &s->cases[0].steps[0].expect;
    trace t;
    trace_init(&t);
    push_wire(&t, "request", "OPTIONS", 0, "OPTIONS /x HTTP/1.1\r\n\r\n");
    push_wire(&t, "response", "OPTIONS", 204,
              "Access-Control-Max-Age: 600\r\nVary: Accept-Encoding,  ORIGIN \r\nX-Id: 1\r\n");
    push_wire(&t, "request", "PUT", 0, "PUT /x HTTP/1.1\r\n\r\n");
    push_wire(&t, "response", "PUT", 200, "X-Id: 2\r\n");
    push_wire(&t, "request", "GET", 0, "GET /x HTTP/1.1\r\n\r\n");
    CU_ASSERT(reasons_are(e, &t, NULL, 0));
    trace_free(&t);

    static const char *const want[] = {
        "wire_headers OPTIONS access-control-max-age (t.yaml:6:20): expected \"600\", "
        "observed \"5\"",
        "wire_headers OPTIONS vary (t.yaml:6:51): expected a list with the item \"origin\", "
        "observed \"Accept-Encoding, Origins\"",
        "wire_headers x-secret (t.yaml:7:16): expected no such header, observed \"1\" "
        "(response 2 of 2: PUT 200 http://t.test/x)",
        "wire_headers x-id (t.yaml:7:32): expected the header, with any value, observed no "
        "such header (response 1 of 2: OPTIONS 204 http://t.test/x)",
        "requests OPTIONS (t.yaml:8:19): expected 1, observed 2",
        "requests (t.yaml:8:38): expected at least 3, observed 2",
        "console (t.yaml:9:7): expected no message, observed \"Access to XMLHttpRequest at "
        "'http://t.test/x' from origin 'https://a.test' has been blocked by CORS policy: "
        "No 'Access-Control-Allow-Origin' header is present on the requested resource.\"",
    };
    trace_init(&t);
    push_wire(&t, "request", "OPTIONS", 0, "OPTIONS /x HTTP/1.1\r\n\r\n");
    push_wire(&t, "response", "OPTIONS", 204,
              "Access-Control-Max-Age: 5\r\nVary: Accept-Encoding, Origins\r\n");
    push_wire(&t, "request", "options", 0, "OPTIONS /x HTTP/1.1\r\n\r\n");
    push_wire(&t, "response", "PUT", 200, "X-Secret: 1\r\nX-Id: 3\r\n");
    push_wire(&t, "console", NULL, 0,
              "Access to XMLHttpRequest at 'http://t.test/x' from origin 'https://a.test' has "
              "been blocked by CORS policy: No 'Access-Control-Allow-Origin' header is present "
              "on the requested resource.");
    CU_ASSERT(reasons_are(e, &t, want, sizeof want / sizeof want[0]));
    trace_free(&t);

    /* nothing on the wire at all */
    static const char *const none[] = {
        "wire_headers OPTIONS access-control-max-age (t.yaml:6:20): expected \"600\", "
        "observed no OPTIONS response",
        "wire_headers OPTIONS vary (t.yaml:6:51): expected a list with the item \"origin\", "
        "observed no OPTIONS response",
        "wire_headers x-secret (t.yaml:7:16): expected no such header, observed no response",
        "wire_headers x-id (t.yaml:7:32): expected the header, with any value, observed no "
        "response",
        "requests OPTIONS (t.yaml:8:19): expected 1, observed 0",
        "requests (t.yaml:8:38): expected at least 3, observed 0",
    };
    trace_init(&t);
    CU_ASSERT(reasons_are(e, &t, none, sizeof none / sizeof none[0]));
    trace_free(&t);
    suite_free(s);
}

/* Console expectations other than "none"; messages of several requests join with "\n". */
static void test_console_text(void)
{
    suite *s = load_ok("cases:\n  - name: a\n    xhr: { url: /x }\n"
                       "    expect: { console: { contains: \"is 'TRUE' which must be\" } }\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    const expect *e = &s->cases[0].steps[0].expect;
    trace t;
    trace_init(&t);
    static const char *const missing[] = {
        "console (t.yaml:4:15): expected to contain \"is 'TRUE' which must be\", observed no "
        "message",
    };
    CU_ASSERT(reasons_are(e, &t, missing, 1));
    push_wire(&t, "console", NULL, 0, "first");
    push_wire(&t, "console", NULL, 0, "... is 'TRUE' which must be 'true' ...");
    CU_ASSERT(reasons_are(e, &t, NULL, 0));
    trace_free(&t);
    suite_free(s);
}

static void test_new_text_matches(void)
{
    text_match ne = {TM_NOT_EQUALS, "null", {0}}, li = {TM_LIST_ITEM, "origin", {0}};
    text_match there = {TM_PRESENT, NULL, {0}};
    CU_ASSERT_TRUE(text_match_ok(&ne, "https://a.test"));
    CU_ASSERT_TRUE(text_match_ok(&ne, NULL)); /* what is not there is not "null" */
    CU_ASSERT_TRUE(text_match_ok(&ne, "null "));
    CU_ASSERT_FALSE(text_match_ok(&ne, "null"));
    CU_ASSERT_TRUE(text_match_ok(&li, "Origin"));
    CU_ASSERT_TRUE(text_match_ok(&li, "Accept-Encoding,origin"));
    CU_ASSERT_TRUE(text_match_ok(&li, " Accept ,\tORIGIN\t, x"));
    CU_ASSERT_FALSE(text_match_ok(&li, "Origins"));
    CU_ASSERT_FALSE(text_match_ok(&li, "Access-Control-Request-Origin"));
    CU_ASSERT_FALSE(text_match_ok(&li, ""));
    CU_ASSERT_FALSE(text_match_ok(&li, NULL));
    CU_ASSERT_TRUE(text_match_ok(&there, ""));
    CU_ASSERT_FALSE(text_match_ok(&there, NULL));

    suite *s = load_ok("cases:\n  - name: a\n    xhr: { url: /x }\n    expect:\n"
                       "      headers: { x-a: { present: true }, x-b: { present: false }, "
                       "x-c: { not_equals: \"1\" } }\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    const expect *e = &s->cases[0].steps[0].expect;
    CU_ASSERT_EQUAL_FATAL(e->n_headers, 3);
    CU_ASSERT_EQUAL(e->headers[0].match.kind, TM_PRESENT);
    CU_ASSERT_EQUAL(e->headers[1].match.kind, TM_ABSENT);
    CU_ASSERT_EQUAL(e->headers[2].match.kind, TM_NOT_EQUALS);
    xhr_final f = {.status = 200, .all_headers = "x-b: 2\r\nx-c: 1\r\n", .elapsed_us = -1};
    trace t;
    trace_init(&t);
    reasons r = {0};
    CU_ASSERT_FALSE(expect_check_xhr(e, &t, 0, 0, &f, &r));
    CU_ASSERT_EQUAL_FATAL(r.n, 3);
    CU_ASSERT_STRING_EQUAL(r.items[0], "header x-a (t.yaml:5:18): expected a visible value, "
                                       "observed null");
    CU_ASSERT_STRING_EQUAL(r.items[1], "header x-b (t.yaml:5:42): expected null (not "
                                       "visible), observed \"2\"");
    CU_ASSERT_STRING_EQUAL(r.items[2], "header x-c (t.yaml:5:67): expected anything but \"1\", "
                                       "observed \"1\"");
    reasons_free(&r);
    trace_free(&t);
    suite_free(s);
}

static void test_expectation_errors(void)
{
#define EXPECT(body) "cases:\n  - name: a\n    xhr: { url: /x }\n    expect: " body "\n"
    static const struct {
        const char *yaml, *message;
    } table[] = {
        {EXPECT("{ wire_headers: { OPTIONS: { \"bad name\": x } } }"),
         "t.yaml:4:42: expected a header name for `wire_headers`, got \"bad name\""},
        {EXPECT("{ wire_headers: { \"G T\": {} } }"),
         "t.yaml:4:31: expected a request method (GET, OPTIONS, ...) or `any` for "
         "`wire_headers`, got \"G T\""},
        {EXPECT("{ wire_headers: { GET: [vary] } }"),
         "t.yaml:4:36: expected a mapping for `wire_headers`, got a list"},
        {EXPECT("{ wire_headers: [vary] }"),
         "t.yaml:4:29: expected a mapping for `wire_headers`, got a list"},
        {EXPECT("{ wire_headers: { GET: { vary: a }, get: { x: b } } }"),
         "t.yaml:4:49: method `get` appears twice in `wire_headers` (first at 4:31)"},
        {EXPECT("{ wire_headers: { any: { Vary: a, vary: b } } }"),
         "t.yaml:4:47: header `vary` is expected twice for any (first at 4:38)"},
        {EXPECT("{ wire_headers: { any: { vary: { list_item: \"a, b\" } } } }"),
         "t.yaml:4:57: `list_item` for `vary` is one item of a comma-separated list: not empty "
         "and without a comma"},
        {EXPECT("{ requests: { OPTIONS: -1 } }"),
         "t.yaml:4:36: `requests` must be between 0 and 2147483647, got -1"},
        {EXPECT("{ requests: { OPTIONS: { most: 1 } } }"),
         "t.yaml:4:38: unknown key \"most\" in `requests`; allowed: min, max"},
        {EXPECT("{ requests: -1 }"), "t.yaml:4:25: `requests` must be between 0 and 2147483647, got -1"},
        {EXPECT("{ console: { present: maybe } }"),
         "t.yaml:4:35: expected true or false for `present`, got \"maybe\""},
        {EXPECT("{ status_text: { present: true } }"),
         "t.yaml:4:39: `present` applies only where a value can be missing (headers, "
         "wire_headers, console), not to `status_text`"},
        {EXPECT("{ console: [a] }"),
         "t.yaml:4:24: expected a string or a mapping with one of equals, contains, "
         "not_contains, regex, not_equals, list_item, present for `console`, got a list"},
    };
#undef EXPECT
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        CU_ASSERT(fails_with(table[i].yaml, table[i].message));
}

CU_ErrorCode register_cors_policy_tests(void)
{
    CU_pSuite s = CU_add_suite("cors_policy", NULL, NULL);
    if (!s || !CU_add_test(s, "a policy becomes every probe", test_generates_every_probe) ||
        !CU_add_test(s, "allowed probes", test_allowed_probes) ||
        !CU_add_test(s, "refusal probes", test_refusal_probes) ||
        !CU_add_test(s, "findings and max_age", test_findings_and_max_age) ||
        !CU_add_test(s, "policy variants", test_policy_variants) ||
        !CU_add_test(s, "origin matching", test_origin_matching) ||
        !CU_add_test(s, "policy errors", test_policy_errors) ||
        !CU_add_test(s, "wire_headers, requests, console parse", test_wire_expectations_parse) ||
        !CU_add_test(s, "wire_headers, requests, console reasons", test_wire_expectations_check) ||
        !CU_add_test(s, "console text", test_console_text) ||
        !CU_add_test(s, "not_equals, list_item, present", test_new_text_matches) ||
        !CU_add_test(s, "expectation errors", test_expectation_errors))
        return CU_get_error();
    return CUE_SUCCESS;
}
