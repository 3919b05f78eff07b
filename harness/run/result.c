#include "run/result.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A misbehaving server can make a check fail on every byte: keep reports readable. */
#define REASONS_MAX 64
#define REASON_MAX_BYTES 4096
#define REASON_ELLIPSIS "..."
#define REASONS_OMITTED "... more reasons omitted"

const char *verdict_name(verdict v)
{
    switch (v) {
    case V_PASS:
        return "pass";
    case V_NON_STRICT:
        return "non-strict";
    case V_INFORMATIONAL:
        return "informational";
    case V_UNIMPLEMENTED:
        return "unimplemented";
    case V_FAIL:
        return "fail";
    case V_ERROR:
        return "error";
    }
    return "unknown";
}

static void reasons_push(reasons *r, char *line)
{
    char **items = realloc(r->items, (r->n + 1) * sizeof *items);
    if (!items) {
        free(line); /* out of memory: the reason is lost, the report still renders */
        return;
    }
    r->items = items;
    r->items[r->n++] = line;
}

/* Cuts s to at most max bytes, ending in "...", without splitting a UTF-8 sequence. */
static void truncate_reason(char *s, size_t max)
{
    size_t cut = max - strlen(REASON_ELLIPSIS);
    while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
        cut--;
    memcpy(s + cut, REASON_ELLIPSIS, sizeof REASON_ELLIPSIS);
}

void reasons_add(reasons *r, const char *fmt, ...)
{
    if (r->n > REASONS_MAX)
        return; /* the "omitted" line is already there */
    if (r->n == REASONS_MAX) {
        char *omitted = strdup(REASONS_OMITTED);
        if (omitted)
            reasons_push(r, omitted);
        return;
    }
    char tmp[REASON_MAX_BYTES + 1];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > REASON_MAX_BYTES)
        truncate_reason(tmp, REASON_MAX_BYTES);
    char *line = strdup(tmp);
    if (line)
        reasons_push(r, line);
}

void reasons_free(reasons *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->items[i]);
    free(r->items);
    r->items = NULL;
    r->n = 0;
}

void case_result_free(case_result *c)
{
    if (!c)
        return;
    free(c->suite);
    free(c->name);
    free(c->file);
    reasons_free(&c->reasons);
    trace_free(&c->trace);
    free(c->attempt_verdicts);
    c->suite = c->name = c->file = NULL;
    c->attempt_verdicts = NULL;
}

/* Frees r itself too: results come from calloc (runner) or report_json_read. */
void run_result_free(run_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_cases; i++)
        case_result_free(&r->cases[i]);
    free(r->cases);
    free(r->target);
    free(r->started_at);
    free(r);
}
