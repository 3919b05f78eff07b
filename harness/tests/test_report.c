/* Reporters: results built by hand with hostile strings must come out safe and faithful. */
#include "report/report.h"
#include "run/result.h"
#include "tests/test_registry.h"

#include <CUnit/CUnit.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SCHEMA_PATH "ci/junit.xsd"

/* ESC sequences (colour, OSC title), BEL, C0 and DEL, markup, quotes, a CDATA end,
 * invalid UTF-8 (lone FF FE, a truncated 3-byte sequence), a valid é, C1 CSI, a bidi
 * override, CR LF TAB. */
static const char HOSTILE[] =
    "\x1b[31mred\x1b[0m \x1b]0;pwned\x07 \x01\x1f\x7f <script>alert('x')</script> \"q\" & ]]> "
    "\xff\xfe bad \xe2\x82 half caf\xc3\xa9 \xc2\x9b csi \xe2\x80\xae rtl \r\n\tend";

typedef struct tmpdir {
    char path[64];
} tmpdir;

static int tmpdir_make(tmpdir *d)
{
    strcpy(d->path, "/tmp/comet-report-XXXXXX");
    return mkdtemp(d->path) ? 0 : -1;
}

static void tmpdir_file(const tmpdir *d, const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", d->path, name);
}

static void tmpdir_remove(const tmpdir *d)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d->path);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", d->path);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *data = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&data, &len);
    char chunk[4096];
    size_t n;
    while (m && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, n, m);
    fclose(f);
    if (m)
        fclose(m);
    return data;
}

/* Any byte < 0x20 or DEL, except those listed in allowed. */
static int has_control_bytes(const char *s, const char *allowed)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && !strchr(allowed, *p)) || *p == 0x7f)
            return 1;
    return 0;
}

static size_t count_substr(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* ---- a run built by hand ----------------------------------------------------------------- */

static case_result *add_case(run_result *r, const char *suite, const char *name, verdict v,
                             int64_t duration_us)
{
    case_result *cases = realloc(r->cases, (r->n_cases + 1) * sizeof *cases);
    if (!cases)
        return NULL;
    r->cases = cases;
    case_result *c = &r->cases[r->n_cases++];
    memset(c, 0, sizeof *c);
    trace_init(&c->trace);
    c->suite = strdup(suite);
    c->name = strdup(name);
    c->file = strdup("scenarios/xhr/basic.yaml");
    c->line = 7;
    c->verdict = v;
    c->duration_us = duration_us;
    c->attempts = 1;
    r->counts[v]++;
    return c;
}

static void add_trace(case_result *c)
{
    trace_event *e = trace_push(&c->trace, 12345, "readystatechange");
    e->fields |= TF_RS | TF_STATUS | TF_LEN;
    e->rs = 3;
    e->status = 200;
    e->len = 7;
    trace_set_cstr(e, &e->status_text, TF_STATUS_TEXT, "OK \x1b[2J");
    trace_set_cstr(e, &e->text, TF_TEXT, HOSTILE);
    e->text_truncated = true;

    e = trace_push(&c->trace, 12400, "progress");
    e->fields |= TF_PROGRESS | TF_RS | TF_STATUS | TF_LEN;
    e->length_computable = true;
    e->loaded = 7;
    e->total = 5000000000ULL; /* past 32 bits */
    e->rs = 3;
    e->status = 200;
    e->len = 7;

    e = trace_push(&c->trace, 13001, "finding");
    e->fields |= TF_OFFSET;
    e->offset = 42;
    trace_set_cstr(e, &e->detail, TF_DETAIL, "bare LF \xc0\xaf in header");

    e = trace_push(&c->trace, 14000, "final");
    e->fields |= TF_RS | TF_STATUS | TF_LEN | TF_CODE | TF_WAS_CLEAN;
    e->rs = 4;
    e->status = 200;
    e->code = 1006;
    e->was_clean = false;
    trace_set_cstr(e, &e->url, TF_URL, "http://127.0.0.1:18080/c/x?<a>&b");
    trace_set_cstr(e, &e->detail, TF_DETAIL, "content-type: text/plain\r\n");
    trace_set_cstr(e, &e->method, TF_METHOD, "GET");
    trace_set_cstr(e, &e->reason, TF_REASON, "going away");
    trace_set_cstr(e, &e->last_event_id, TF_LAST_EVENT_ID, "5");
    trace_set_cstr(e, &e->origin, TF_ORIGIN, "http://127.0.0.1:18080");
    trace_set_cstr(e, &e->type, TF_TYPE, "text");
}

/* Seven cases over two suites, one of each verdict plus an unstable one. */
static run_result *build_run(void)
{
    run_result *r = calloc(1, sizeof *r);
    r->target = strdup("http://127.0.0.1:18080 \x1b[5m");
    r->started_at = strdup("2026-11-21T16:04:17Z");
    r->duration_us = 3210000;

    add_case(r, "xhr \x1b]0;t\x07", "passes", V_PASS, 12000);
    case_result *c = add_case(r, "xhr \x1b]0;t\x07", "fails <script>", V_FAIL, 1500);
    reasons_add(&c->reasons, "expected status 200, observed %s", HOSTILE);
    reasons_add(&c->reasons, "second reason");
    add_trace(c);
    c = add_case(r, "xhr \x1b]0;t\x07", "errors", V_ERROR, 0);
    reasons_add(&c->reasons, "connection refused");
    c = add_case(r, "xhr \x1b]0;t\x07", "unimplemented", V_UNIMPLEMENTED, 10);
    reasons_add(&c->reasons, "server answered 501");
    c = add_case(r, "xhr \x1b]0;t\x07", "non-strict", V_NON_STRICT, 10);
    reasons_add(&c->reasons, "SHOULD: ]]> \x01 lenient");
    add_case(r, "xhr \x1b]0;t\x07", "informational", V_INFORMATIONAL, 10);
    c = add_case(r, "second suite", "flaky", V_FAIL, 2000000);
    reasons_add(&c->reasons, "flaky reason");
    c->unstable = true;
    c->attempts = 3;
    c->attempt_verdicts = calloc(3, sizeof *c->attempt_verdicts);
    c->attempt_verdicts[0] = V_PASS;
    c->attempt_verdicts[1] = V_FAIL;
    c->attempt_verdicts[2] = V_FAIL;
    return r;
}

/* ---- result.c ---------------------------------------------------------------------------- */

static void test_verdict_names(void)
{
    CU_ASSERT_STRING_EQUAL(verdict_name(V_PASS), "pass");
    CU_ASSERT_STRING_EQUAL(verdict_name(V_NON_STRICT), "non-strict");
    CU_ASSERT_STRING_EQUAL(verdict_name(V_INFORMATIONAL), "informational");
    CU_ASSERT_STRING_EQUAL(verdict_name(V_UNIMPLEMENTED), "unimplemented");
    CU_ASSERT_STRING_EQUAL(verdict_name(V_FAIL), "fail");
    CU_ASSERT_STRING_EQUAL(verdict_name(V_ERROR), "error");
}

static void test_reasons_bounded(void)
{
    reasons r = {0};
    for (int i = 0; i < 70; i++)
        reasons_add(&r, "reason %d", i);
    CU_ASSERT_EQUAL(r.n, 65);
    CU_ASSERT_STRING_EQUAL(r.items[63], "reason 63");
    CU_ASSERT_STRING_EQUAL(r.items[64], "... more reasons omitted");
    reasons_free(&r);
    CU_ASSERT_EQUAL(r.n, 0);

    /* 10000 bytes of "é": cut at 4 KiB, on a character boundary, marked. */
    char *big = malloc(10001);
    for (int i = 0; i < 10000; i += 2)
        memcpy(big + i, "\xc3\xa9", 2);
    big[10000] = '\0';
    reasons_add(&r, "%s", big);
    CU_ASSERT_EQUAL_FATAL(r.n, 1);
    size_t len = strlen(r.items[0]);
    CU_ASSERT(len <= 4096 && len > 4000);
    CU_ASSERT_STRING_EQUAL(r.items[0] + len - 3, "...");
    CU_ASSERT_EQUAL((unsigned char)r.items[0][len - 4], 0xa9); /* a whole é before "..." */
    reasons_free(&r);
    free(big);
}

/* ---- console.c --------------------------------------------------------------------------- */

static void test_escape_terminal(void)
{
    char *e = escape_terminal(HOSTILE, strlen(HOSTILE));
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_FALSE(has_control_bytes(e, ""));
    CU_ASSERT_PTR_NOT_NULL(strstr(e, "\\x1b[31mred\\x1b[0m"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e, "\\x07"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e, "\\x7f"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e, "\\xff\\xfe bad"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e, "\\xe2\\x82 half"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e, "caf\xc3\xa9")); /* valid UTF-8 kept */
    CU_ASSERT_PTR_NOT_NULL(strstr(e, "\\u009b csi"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e, "\\u202e rtl"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e, "\\r\\n\\tend"));
    free(e);

    /* Overlong forms, surrogates and values past U+10FFFF are invalid, byte by byte. */
    e = escape_terminal("\xe0\x80\xaf\xed\xa0\x80\xf4\x90\x80\x80", 10);
    CU_ASSERT_STRING_EQUAL(e, "\\xe0\\x80\\xaf\\xed\\xa0\\x80\\xf4\\x90\\x80\\x80");
    free(e);

    /* Embedded NUL: the length rules, not strlen. */
    e = escape_terminal("a\0b", 3);
    CU_ASSERT_STRING_EQUAL(e, "a\\x00b");
    free(e);
    e = escape_terminal(NULL, 0);
    CU_ASSERT_STRING_EQUAL(e, "");
    free(e);
}

static char *console_output(const run_result *r, size_t i, bool color, bool verbose)
{
    char *data = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&data, &len);
    console_opts o = {.color = color, .verbose = verbose};
    if (i < r->n_cases)
        report_console_case(m, &r->cases[i], &o);
    else
        report_console_summary(m, r, &o);
    fclose(m);
    return data;
}

static void test_console_case_lines(void)
{
    run_result *r = build_run();
    char *out = console_output(r, 0, false, false);
    CU_ASSERT_STRING_EQUAL(out, "PASS  xhr \\x1b]0;t\\x07 \xe2\x80\xba passes  (12 ms)\n");
    free(out);

    out = console_output(r, 1, false, true);
    const char *first = "FAIL  xhr \\x1b]0;t\\x07 \xe2\x80\xba fails <script>  (1 ms)\n";
    CU_ASSERT(strncmp(out, first, strlen(first)) == 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\n      expected status 200, observed \\x1b[31mred"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\n      second reason\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "readystatechange rs=3 status=200"));
    CU_ASSERT_FALSE(has_control_bytes(out, "\n")); /* reasons and trace escaped, verbose too */
    free(out);

    out = console_output(r, 6, false, false);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "(2000 ms)  (unstable: pass, fail)\n      flaky reason\n"));
    free(out);

    /* Colour: our own two sequences around the word, nothing from the strings. */
    out = console_output(r, 0, true, false);
    CU_ASSERT_EQUAL(count_substr(out, "\033"), 2);
    CU_ASSERT(strncmp(out, "\033[32mPASS\033[0m  ", 15) == 0);
    free(out);
    out = console_output(r, 3, true, false);
    CU_ASSERT(strncmp(out, "\033[35mUNIMPL\033[0m  ", 17) == 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\n      server answered 501\n"));
    free(out);
    run_result_free(r);
}

static void test_console_summary(void)
{
    run_result *r = build_run();
    char *out = console_output(r, r->n_cases, false, false);
    CU_ASSERT_STRING_EQUAL(out, "1 passed, 2 failed, 1 errors, 1 non-strict, 1 informational, "
                                "1 unimplemented, 1 unstable (3.21 s)\n");
    free(out);
    r->interrupted = true;
    out = console_output(r, r->n_cases, false, false);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "(3.21 s), interrupted: partial results\n"));
    free(out);
    run_result_free(r);
}

/* ---- json.c ------------------------------------------------------------------------------ */

static void assert_same_event(const trace_event *a, const trace_event *b)
{
    CU_ASSERT_STRING_EQUAL(a->ev, b->ev);
    CU_ASSERT_EQUAL(a->t_us, b->t_us);
    CU_ASSERT_EQUAL(a->fields, b->fields);
    CU_ASSERT_EQUAL(a->rs, b->rs);
    CU_ASSERT_EQUAL(a->status, b->status);
    CU_ASSERT_EQUAL(a->len, b->len);
    CU_ASSERT_EQUAL(a->loaded, b->loaded);
    CU_ASSERT_EQUAL(a->total, b->total);
    CU_ASSERT_EQUAL(a->length_computable, b->length_computable);
    CU_ASSERT_EQUAL(a->offset, b->offset);
    CU_ASSERT_EQUAL(a->code, b->code);
    CU_ASSERT_EQUAL(a->was_clean, b->was_clean);
    CU_ASSERT_EQUAL(a->text_truncated, b->text_truncated);
}

static void test_json_roundtrip(void)
{
    tmpdir d;
    char path[128], err[256];
    CU_ASSERT_EQUAL_FATAL(tmpdir_make(&d), 0);
    tmpdir_file(&d, "results.json", path, sizeof path);
    run_result *r = build_run();
    CU_ASSERT_EQUAL_FATAL(report_json_write(path, r), 0);

    run_result *back = report_json_read(path, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(back);
    CU_ASSERT_EQUAL_FATAL(back->n_cases, r->n_cases);
    CU_ASSERT_EQUAL(back->duration_us, r->duration_us);
    CU_ASSERT_STRING_EQUAL(back->started_at, r->started_at);
    CU_ASSERT_STRING_EQUAL(back->target, r->target); /* ESC is valid UTF-8: kept */
    CU_ASSERT_EQUAL(memcmp(back->counts, r->counts, sizeof r->counts), 0);
    for (size_t i = 0; i < r->n_cases; i++) {
        const case_result *a = &r->cases[i], *b = &back->cases[i];
        CU_ASSERT_STRING_EQUAL(a->suite, b->suite);
        CU_ASSERT_STRING_EQUAL(a->name, b->name);
        CU_ASSERT_STRING_EQUAL(a->file, b->file);
        CU_ASSERT_EQUAL(a->line, b->line);
        CU_ASSERT_EQUAL(a->verdict, b->verdict);
        CU_ASSERT_EQUAL(a->duration_us, b->duration_us);
        CU_ASSERT_EQUAL(a->attempts, b->attempts);
        CU_ASSERT_EQUAL(a->unstable, b->unstable);
        CU_ASSERT_EQUAL_FATAL(a->reasons.n, b->reasons.n);
        CU_ASSERT_EQUAL_FATAL(a->trace.n, b->trace.n);
        for (size_t k = 0; k < a->trace.n; k++)
            assert_same_event(&a->trace.events[k], &b->trace.events[k]);
    }
    const case_result *b = &back->cases[1];
    CU_ASSERT_STRING_EQUAL(b->reasons.items[1], "second reason");
    CU_ASSERT_STRING_EQUAL(b->trace.events[0].status_text, "OK \x1b[2J");
    CU_ASSERT_STRING_EQUAL(b->trace.events[3].url, "http://127.0.0.1:18080/c/x?<a>&b");
    CU_ASSERT_STRING_EQUAL(b->trace.events[3].detail, "content-type: text/plain\r\n");
    CU_ASSERT_STRING_EQUAL(b->trace.events[3].type, "text");
    CU_ASSERT_STRING_EQUAL(b->trace.events[3].reason, "going away");
    CU_ASSERT_STRING_EQUAL(b->trace.events[3].last_event_id, "5");
    /* Invalid UTF-8 became U+FFFD (one per maximal subpart), valid bytes survived. */
    CU_ASSERT_PTR_NOT_NULL(strstr(b->trace.events[0].text,
                                  "\xef\xbf\xbd\xef\xbf\xbd bad \xef\xbf\xbd half caf\xc3\xa9"));
    CU_ASSERT_PTR_NOT_NULL(strstr(b->trace.events[2].detail, "LF \xef\xbf\xbd\xef\xbf\xbd in"));
    CU_ASSERT_EQUAL(back->cases[6].attempt_verdicts[0], V_PASS);
    CU_ASSERT_EQUAL(back->cases[6].attempt_verdicts[2], V_FAIL);
    run_result_free(back);
    run_result_free(r);
    tmpdir_remove(&d);
}

static void test_json_shape(void)
{
    tmpdir d;
    char path[128];
    CU_ASSERT_EQUAL_FATAL(tmpdir_make(&d), 0);
    tmpdir_file(&d, "results.json", path, sizeof path);
    run_result *r = build_run();
    CU_ASSERT_EQUAL_FATAL(report_json_write(path, r), 0);
    run_result_free(r);

    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je); /* jansson rejects invalid UTF-8 */
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(doc, "schema")), "comet-results/1");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(doc, "tool")), "comet");
    json_t *sum = json_object_get(doc, "summary");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(sum, "fail")), 2);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(sum, "non-strict")), 1);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(sum, "total")), 7);
    json_t *c1 = json_array_get(json_object_get(doc, "cases"), 1);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(c1, "verdict")), "fail");
    json_t *ev0 = json_array_get(json_object_get(c1, "trace"), 0);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(ev0, "ev")), "readystatechange");
    CU_ASSERT_PTR_NOT_NULL(json_object_get(ev0, "statusText"));
    CU_ASSERT_PTR_NULL(json_object_get(ev0, "loaded")); /* only the fields present */
    CU_ASSERT_PTR_NULL(json_object_get(ev0, "url"));
    CU_ASSERT(json_is_true(json_object_get(ev0, "textTruncated")));
    json_t *ev1 = json_array_get(json_object_get(c1, "trace"), 1);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(ev1, "total")), 5000000000LL);
    CU_ASSERT(json_is_true(json_object_get(ev1, "lengthComputable")));
    CU_ASSERT_PTR_NULL(json_object_get(ev1, "textTruncated"));
    json_decref(doc);

    char *raw = read_all(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
    CU_ASSERT_PTR_NOT_NULL(strstr(raw, "\"t_ms\": 12.345,")); /* 3 decimals, no float noise */
    CU_ASSERT_PTR_NOT_NULL(strstr(raw, "\"t_ms\": 13.001,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(raw, "\"duration_ms\": 3210.0,"));
    free(raw);
    tmpdir_remove(&d);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_json_read_rejects(void)
{
    tmpdir d;
    char path[128], err[256];
    CU_ASSERT_EQUAL_FATAL(tmpdir_make(&d), 0);
    tmpdir_file(&d, "bad.json", path, sizeof path);

    CU_ASSERT_PTR_NULL(report_json_read("/nonexistent/results.json", err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/results.json"));

    write_text(path, "{\"schema\": \"other/1\", \"cases\": []}");
    CU_ASSERT_PTR_NULL(report_json_read(path, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "comet-results/1"));

    write_text(path, "{\"schema\": \"comet-results/1\", \"cases\": "
                     "[{\"suite\": \"s\", \"name\": \"n\", \"verdict\": \"maybe\"}]}");
    CU_ASSERT_PTR_NULL(report_json_read(path, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "cases[0]"));

    write_text(path,
               "{\"schema\": \"comet-results/1\", \"cases\": [{\"suite\": \"s\", \"name\": "
               "\"n\", \"verdict\": \"pass\", \"trace\": [{\"ev\": \"load\", \"rs\": \"4\"}]}]}");
    CU_ASSERT_PTR_NULL(report_json_read(path, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "trace[0]"));

    /* Minimal valid file: defaults filled, unknown event names kept as "unknown". */
    write_text(path, "{\"schema\": \"comet-results/1\", \"cases\": [{\"suite\": \"s\", \"name\": "
                     "\"n\", \"verdict\": \"error\", \"trace\": [{\"ev\": \"x-new\"}]}]}");
    run_result *r = report_json_read(path, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->counts[V_ERROR], 1);
    CU_ASSERT_EQUAL(r->cases[0].attempts, 1);
    CU_ASSERT_STRING_EQUAL(r->cases[0].trace.events[0].ev, "unknown");
    run_result_free(r);
    tmpdir_remove(&d);
}

/* ---- junit.c ----------------------------------------------------------------------------- */

/* Exit status of xmllint validating file against ci/junit.xsd; -1 when it cannot run. */
static int xmllint_validate(const tmpdir *d, const char *file, bool quiet)
{
    char log[128], cmd[512];
    tmpdir_file(d, "xmllint.log", log, sizeof log);
    snprintf(cmd, sizeof cmd, "xmllint --noout --schema %s '%s' >'%s' 2>&1", SCHEMA_PATH, file,
             log);
    int st = system(cmd);
    if (st == -1 || !WIFEXITED(st))
        return -1;
    if (WEXITSTATUS(st) != 0 && !quiet) {
        char *text = read_all(log);
        fprintf(stderr, "\nxmllint: %s\n", text ? text : "(no output)");
        free(text);
    }
    return WEXITSTATUS(st);
}

static void test_junit_validates(void)
{
    if (access(SCHEMA_PATH, R_OK) != 0) {
        CU_FAIL_FATAL("ci/junit.xsd not found: run the tests from the repository root");
    }
    tmpdir d;
    char path[128];
    CU_ASSERT_EQUAL_FATAL(tmpdir_make(&d), 0);
    tmpdir_file(&d, "junit.xml", path, sizeof path);
    run_result *r = build_run();
    CU_ASSERT_EQUAL_FATAL(report_junit_write(path, r), 0);
    CU_ASSERT_EQUAL(xmllint_validate(&d, path, false), 0);

    /* An empty run is valid too. */
    size_t n = r->n_cases;
    r->n_cases = 0;
    CU_ASSERT_EQUAL_FATAL(report_junit_write(path, r), 0);
    CU_ASSERT_EQUAL(xmllint_validate(&d, path, false), 0);
    r->n_cases = n;
    run_result_free(r);
    tmpdir_remove(&d);
}

/* The validator must be able to say no, or the test above proves nothing. */
static void test_junit_schema_rejects(void)
{
    tmpdir d;
    char path[128];
    CU_ASSERT_EQUAL_FATAL(tmpdir_make(&d), 0);
    tmpdir_file(&d, "bad.xml", path, sizeof path);
    write_text(path, "<?xml version=\"1.0\"?><testsuites><testsuite name=\"s\" tests=\"1\" "
                     "failures=\"0\" errors=\"0\"><testcase classname=\"c\" file=\"f\"/>"
                     "</testsuite></testsuites>");
    CU_ASSERT_NOT_EQUAL(xmllint_validate(&d, path, true), 0);
    tmpdir_remove(&d);
}

static void test_junit_mapping(void)
{
    tmpdir d;
    char path[128];
    CU_ASSERT_EQUAL_FATAL(tmpdir_make(&d), 0);
    tmpdir_file(&d, "junit.xml", path, sizeof path);
    run_result *r = build_run();
    CU_ASSERT_EQUAL_FATAL(report_junit_write(path, r), 0);
    run_result_free(r);
    char *x = read_all(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);

    CU_ASSERT(strncmp(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", 39) == 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(x, "<testsuites name=\"comet\" tests=\"7\" failures=\"2\" "
                                     "errors=\"1\" time=\"3.210\">"));
    CU_ASSERT_PTR_NOT_NULL(strstr(x, "<testsuite name=\"xhr \\x1b]0;t\\x07\" tests=\"6\" "
                                     "failures=\"1\" errors=\"1\" skipped=\"1\" time=\"0.013\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(x, "<testsuite name=\"second suite\" tests=\"1\" failures=\"1\" "
                                     "errors=\"0\" skipped=\"0\" time=\"2.000\""));
    CU_ASSERT_EQUAL(count_substr(x, "<testsuite "), 2);
    CU_ASSERT_EQUAL(count_substr(x, "<testcase "), 7);
    CU_ASSERT_PTR_NOT_NULL(strstr(x, "<testcase name=\"passes\" classname=\"comet.xhr "
                                     "\\x1b]0;t\\x07\" time=\"0.012\">"));
    CU_ASSERT_EQUAL(count_substr(x, "<failure message="), 2);
    CU_ASSERT_EQUAL(count_substr(x, "type=\"fail\">"), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(x, "<error message=\"connection refused\" type=\"error\">"
                                     "connection refused\n</error>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(x, "<skipped message=\"server answered 501\" "
                                     "type=\"unimplemented\"/>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(x, "<system-out>non-strict:\nSHOULD: ]]&gt; \\x01 lenient\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(x, "unstable across attempts: pass, fail, fail"));
    CU_ASSERT_PTR_NOT_NULL(strstr(x, "second reason\n</failure>"));
    /* Escaping: markup, quotes and CDATA ends inert; no raw control bytes; \r kept as a
     * reference; invalid UTF-8 as text. */
    CU_ASSERT_PTR_NULL(strstr(x, "<script>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(x, "&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt; "
                                     "&quot;q&quot; &amp; ]]&gt;"));
    CU_ASSERT_PTR_NULL(strstr(x, "]]>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(x, "\\x01\\x1f\\x7f &lt;"));
    CU_ASSERT_PTR_NOT_NULL(strstr(x, "\\xff\\xfe bad \\xe2\\x82 half caf\xc3\xa9 \\u009b csi"));
    CU_ASSERT_PTR_NOT_NULL(strstr(x, "&#13;&#10;&#9;end\"")); /* in the message attribute */
    CU_ASSERT_FALSE(has_control_bytes(x, "\n\t"));
    free(x);
    tmpdir_remove(&d);
}

static void test_write_errors(void)
{
    run_result *r = build_run();
    errno = 0;
    CU_ASSERT_EQUAL(report_json_write("/nonexistent/dir/results.json", r), -1);
    CU_ASSERT_EQUAL(errno, ENOENT);
    errno = 0;
    CU_ASSERT_EQUAL(report_junit_write("/nonexistent/dir/junit.xml", r), -1);
    CU_ASSERT_EQUAL(errno, ENOENT);
    if (access("/dev/full", W_OK) == 0) { /* a full disk is reported, not ignored */
        CU_ASSERT_EQUAL(report_json_write("/dev/full", r), -1);
        CU_ASSERT_EQUAL(report_junit_write("/dev/full", r), -1);
    }
    run_result_free(r);
}

CU_ErrorCode register_report_tests(void)
{
    CU_pSuite s = CU_add_suite("report", NULL, NULL);
    if (!s || !CU_add_test(s, "verdict names", test_verdict_names) ||
        !CU_add_test(s, "reasons are bounded", test_reasons_bounded) ||
        !CU_add_test(s, "escape_terminal", test_escape_terminal) ||
        !CU_add_test(s, "console case lines", test_console_case_lines) ||
        !CU_add_test(s, "console summary", test_console_summary) ||
        !CU_add_test(s, "JSON round trip", test_json_roundtrip) ||
        !CU_add_test(s, "JSON shape and UTF-8", test_json_shape) ||
        !CU_add_test(s, "JSON read rejects bad files", test_json_read_rejects) ||
        !CU_add_test(s, "JUnit validates against ci/junit.xsd", test_junit_validates) ||
        !CU_add_test(s, "ci/junit.xsd rejects invalid JUnit", test_junit_schema_rejects) ||
        !CU_add_test(s, "JUnit verdict mapping and escaping", test_junit_mapping) ||
        !CU_add_test(s, "write errors are reported", test_write_errors))
        return CU_get_error();
    return CUE_SUCCESS;
}
