/* One self-contained HTML file: the summary, a table per suite, the reasons of every case
 * that did not pass, and each case's trace folded under <details>. No scripts, no external
 * resources; every string from a server or a scenario goes through markup_put(). */
#include "report/markup.h"
#include "report/report.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define MAX_TRACE_ROWS 2000 /* per case: the JSON results keep the whole trace */

static const char style[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}"
    "h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em}"
    "table{border-collapse:collapse;width:100%}td,th{padding:3px 8px;text-align:left;"
    "vertical-align:top;border-bottom:1px solid #eee}"
    ".v{font-weight:600;padding:1px 6px;border-radius:3px;color:#fff;white-space:nowrap}"
    ".pass{background:#2a7}.non-strict{background:#b80}.informational{background:#38a}"
    ".unimplemented{background:#888}.fail{background:#c33}.error{background:#826}"
    "ul.r{margin:4px 0;padding-left:1.2em;color:#933}pre,code,.t td{font:12px ui-monospace,"
    "monospace}.t td{border:0;padding:0 6px;white-space:pre-wrap;word-break:break-all}"
    "details summary{cursor:pointer;color:#555}.meta{color:#555}";

static void put_verdict(FILE *f, verdict v)
{
    fprintf(f, "<span class=\"v %s\">%s</span>", verdict_name(v), verdict_name(v));
}

/* The fields an event carries, compactly: "rs=3 status=200 loaded=12/12 ...". */
static void put_event_fields(FILE *f, const trace_event *e)
{
    if (e->fields & TF_RS)
        fprintf(f, "rs=%d ", e->rs);
    if (e->fields & TF_STATUS)
        fprintf(f, "status=%d ", e->status);
    if (e->fields & TF_PROGRESS)
        fprintf(f, "%s %" PRIu64 "/%" PRIu64 " ", e->length_computable ? "computable" : "uncomputable",
                e->loaded, e->total);
    if (e->fields & TF_LEN)
        fprintf(f, "len=%" PRIu64 " ", e->len);
    if (e->fields & TF_CODE)
        fprintf(f, "code=%d ", e->code);
    if (e->fields & TF_WAS_CLEAN)
        fprintf(f, "wasClean=%s ", e->was_clean ? "true" : "false");
    if (e->fields & TF_OFFSET)
        fprintf(f, "offset=%" PRIu64 " ", e->offset);
    const struct {
        unsigned bit;
        const char *name;
        const char *value;
    } strings[] = {
        {TF_METHOD, "method", e->method},    {TF_URL, "url", e->url},
        {TF_STATUS_TEXT, "statusText", e->status_text},
        {TF_TYPE, "type", e->type},          {TF_LAST_EVENT_ID, "lastEventId", e->last_event_id},
        {TF_REASON, "reason", e->reason},    {TF_TEXT, "text", e->text},
        {TF_DETAIL, "detail", e->detail},
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        if (!(e->fields & strings[i].bit) || !strings[i].value)
            continue;
        fprintf(f, "%s=", strings[i].name);
        markup_put(f, strings[i].value, 0);
        fputc(' ', f);
    }
}

static void put_trace(FILE *f, const case_result *c)
{
    const trace *t = &c->trace;
    fprintf(f, "<details><summary>trace: %zu events%s</summary><table class=\"t\">", t->n,
            t->truncated ? " (truncated)" : "");
    for (size_t i = 0; i < t->n && i < MAX_TRACE_ROWS; i++) {
        const trace_event *e = &t->events[i];
        fprintf(f, "<tr><td>%.3f</td><td>", (double)e->t_us / 1000.0);
        markup_put(f, e->ev, 0);
        fputs("</td><td>", f);
        put_event_fields(f, e);
        fputs("</td></tr>\n", f);
    }
    if (t->n > MAX_TRACE_ROWS)
        fprintf(f, "<tr><td colspan=3>... %zu more events in the JSON results</td></tr>",
                t->n - MAX_TRACE_ROWS);
    fputs("</table></details>", f);
}

static void put_case(FILE *f, const case_result *c)
{
    fputs("<tr><td>", f);
    put_verdict(f, c->verdict);
    if (c->unstable)
        fputs(" <span class=\"meta\">unstable</span>", f);
    fputs("</td><td>", f);
    markup_put(f, c->name, 0);
    fputs(" <span class=\"meta\">", f);
    markup_put(f, c->file, 0);
    fprintf(f, ":%d</span>", c->line);
    if (c->reasons.n) {
        fputs("<ul class=\"r\">", f);
        for (size_t i = 0; i < c->reasons.n; i++) {
            fputs("<li>", f);
            markup_put(f, c->reasons.items[i], 0);
            fputs("</li>", f);
        }
        fputs("</ul>", f);
    }
    put_trace(f, c);
    fprintf(f, "</td><td>%.1f&nbsp;ms</td></tr>\n", (double)c->duration_us / 1000.0);
}

static void put_summary(FILE *f, const run_result *r)
{
    fputs("<p>", f);
    for (int v = V_PASS; v <= V_ERROR; v++) {
        put_verdict(f, (verdict)v);
        fprintf(f, " %zu &nbsp; ", r->counts[v]);
    }
    fprintf(f, "</p><p class=\"meta\">target ");
    markup_put(f, r->target, 0);
    fputs(" · started ", f);
    markup_put(f, r->started_at, 0);
    fprintf(f, " · %.2f s%s</p>\n", (double)r->duration_us / 1e6,
            r->interrupted ? " · <b>interrupted: partial results</b>" : "");
}

static void put_document(FILE *f, const run_result *r)
{
    fprintf(f, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
               "<title>comet results</title><style>%s</style></head><body>\n"
               "<h1>comet results</h1>\n",
            style);
    put_summary(f, r);
    const char *suite = NULL;
    for (size_t i = 0; i < r->n_cases; i++) {
        const case_result *c = &r->cases[i];
        if (!suite || strcmp(suite, c->suite ? c->suite : "")) {
            if (suite)
                fputs("</table>\n", f);
            suite = c->suite ? c->suite : "";
            fputs("<h2>", f);
            markup_put(f, suite, 0);
            fputs("</h2>\n<table><tr><th>verdict</th><th>case</th><th>time</th></tr>\n", f);
        }
        put_case(f, c);
    }
    if (suite)
        fputs("</table>\n", f);
    fputs("</body></html>\n", f);
}

int report_html_write(const char *path, const run_result *r)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    put_document(f, r);
    int failed = ferror(f);
    if (fclose(f) != 0 || failed)
        return -1;
    return 0;
}
