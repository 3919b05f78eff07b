/* JUnit XML in the dialect of the Jenkins xUnit plugin's junit-10.xsd (copy in ci/junit.xsd),
 * which Jenkins, GitLab and the common GitHub reporters read. Only attributes that schema
 * allows are written: testsuites has no "skipped" and testcase no "file" there. */
#include "report/report.h"
#include "report/markup.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct tally {
    size_t tests, failures, errors, skipped;
    int64_t duration_us;
} tally;

static void put_attr(FILE *f, const char *name, const char *value)
{
    fprintf(f, " %s=\"", name);
    markup_put(f, value, 1);
    fputc('"', f);
}

static void put_seconds_attr(FILE *f, const char *name, int64_t us)
{
    if (us < 0)
        us = 0;
    fprintf(f, " %s=\"%" PRId64 ".%03" PRId64 "\"", name, us / 1000000, us / 1000 % 1000);
}

static int same_suite(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static void count_case(tally *t, const case_result *c)
{
    t->tests++;
    t->failures += c->verdict == V_FAIL;
    t->errors += c->verdict == V_ERROR;
    t->skipped += c->verdict == V_UNIMPLEMENTED;
    t->duration_us += c->duration_us > 0 ? c->duration_us : 0;
}

/* The reasons, one per line, as element text. */
static void put_reasons(FILE *f, const case_result *c)
{
    for (size_t i = 0; i < c->reasons.n; i++) {
        markup_put(f, c->reasons.items[i], 0);
        fputc('\n', f);
    }
}

static void put_unstable(FILE *f, const case_result *c)
{
    fputs("unstable across attempts:", f);
    for (int i = 0; c->attempt_verdicts && i < c->attempts; i++)
        fprintf(f, "%s %s", i ? "," : "", verdict_name(c->attempt_verdicts[i]));
    fputc('\n', f);
}

/* failure/error/skipped: message = the first reason (or the verdict), body = all reasons. */
static void put_outcome(FILE *f, const char *elem, const case_result *c, int with_body)
{
    const char *first = c->reasons.n ? c->reasons.items[0] : verdict_name(c->verdict);
    fprintf(f, "      <%s", elem);
    put_attr(f, "message", first);
    put_attr(f, "type", verdict_name(c->verdict));
    if (!with_body) {
        fputs("/>\n", f);
        return;
    }
    fputc('>', f);
    put_reasons(f, c);
    fprintf(f, "</%s>\n", elem);
}

static void put_testcase(FILE *f, const case_result *c)
{
    fputs("    <testcase", f);
    put_attr(f, "name", c->name ? c->name : "");
    fputs(" classname=\"comet.", f);
    markup_put(f, c->suite, 1);
    fputc('"', f);
    put_seconds_attr(f, "time", c->duration_us);
    fputs(">\n", f);
    switch (c->verdict) {
    case V_FAIL:
        put_outcome(f, "failure", c, 1);
        break;
    case V_ERROR:
        put_outcome(f, "error", c, 1);
        break;
    case V_UNIMPLEMENTED:
        put_outcome(f, "skipped", c, 0);
        break;
    case V_PASS:
    case V_NON_STRICT:
    case V_INFORMATIONAL:
        break;
    }
    /* A pass in JUnit terms, but a reader must still see why it was not a clean pass. */
    int notes = (c->verdict == V_NON_STRICT || c->verdict == V_INFORMATIONAL ||
                 c->verdict == V_UNIMPLEMENTED) &&
                c->reasons.n;
    if (notes || c->unstable) {
        fputs("      <system-out>", f);
        if (notes) {
            fprintf(f, "%s:\n", verdict_name(c->verdict));
            put_reasons(f, c);
        }
        if (c->unstable)
            put_unstable(f, c);
        fputs("</system-out>\n", f);
    }
    fputs("    </testcase>\n", f);
}

/* Cases [from, to) share a suite name: one <testsuite>. */
static void put_testsuite(FILE *f, const run_result *r, size_t from, size_t to)
{
    tally t = {0};
    for (size_t i = from; i < to; i++)
        count_case(&t, &r->cases[i]);
    fputs("  <testsuite", f);
    put_attr(f, "name", r->cases[from].suite ? r->cases[from].suite : "");
    fprintf(f, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\"", t.tests,
            t.failures, t.errors, t.skipped);
    put_seconds_attr(f, "time", t.duration_us);
    if (r->started_at)
        put_attr(f, "timestamp", r->started_at);
    put_attr(f, "hostname", "localhost");
    if (r->cases[from].file)
        put_attr(f, "file", r->cases[from].file);
    fputs(">\n", f);
    for (size_t i = from; i < to; i++)
        put_testcase(f, &r->cases[i]);
    fputs("  </testsuite>\n", f);
}

static void put_document(FILE *f, const run_result *r)
{
    tally all = {0};
    for (size_t i = 0; i < r->n_cases; i++)
        count_case(&all, &r->cases[i]);
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"comet\"", f);
    fprintf(f, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\"", all.tests, all.failures,
            all.errors);
    put_seconds_attr(f, "time", r->duration_us);
    fputs(">\n", f);
    size_t from = 0;
    for (size_t i = 1; i <= r->n_cases; i++)
        if (i == r->n_cases || !same_suite(r->cases[i].suite, r->cases[from].suite)) {
            put_testsuite(f, r, from, i);
            from = i;
        }
    fputs("</testsuites>\n", f);
}

int report_junit_write(const char *path, const run_result *r)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    errno = 0;
    put_document(f, r);
    int failed = ferror(f);
    int saved = errno ? errno : EIO;
    if (fclose(f) != 0 && !failed) {
        failed = 1;
        saved = errno;
    }
    if (failed) {
        errno = saved;
        return -1;
    }
    return 0;
}
