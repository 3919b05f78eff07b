#include "report/report.h"
#include "report/utf8.h"
#include "util/buf.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ANSI_RESET "\033[0m"

typedef struct verdict_style {
    const char *word;
    const char *color;
} verdict_style;

static verdict_style style_of(verdict v)
{
    switch (v) {
    case V_PASS:
        return (verdict_style){"PASS", "\033[32m"};
    case V_NON_STRICT:
        return (verdict_style){"NON-STRICT", "\033[33m"};
    case V_INFORMATIONAL:
        return (verdict_style){"INFO", "\033[36m"};
    case V_UNIMPLEMENTED:
        return (verdict_style){"UNIMPL", "\033[35m"};
    case V_FAIL:
        return (verdict_style){"FAIL", "\033[31m"};
    case V_ERROR:
        return (verdict_style){"ERROR", "\033[1;31m"};
    }
    return (verdict_style){"?", "\033[31m"};
}

/* Code points that are printable UTF-8 but still act on a terminal or mislead a reader:
 * C1 controls (some terminals honour U+009B as CSI) and bidi overrides ("Trojan Source"). */
static int is_hidden_control(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

char *escape_terminal(const char *s, size_t len)
{
    if (!s)
        len = 0;
    /* Worst case 4 bytes out per byte in ("\xNN"); "\u202e" is 6 for 3. */
    if (len > (SIZE_MAX - 1) / 4)
        return NULL;
    char *out = malloc(4 * len + 1);
    if (!out)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, o = 0;
    while (i < len) {
        uint32_t cp;
        size_t bad;
        size_t k = utf8_decode(p + i, len - i, &cp, &bad);
        if (!k) {
            for (size_t j = 0; j < bad; j++)
                o += (size_t)sprintf(out + o, "\\x%02x", p[i + j]);
            i += bad;
            continue;
        }
        if (cp == '\n' || cp == '\r' || cp == '\t') {
            out[o++] = '\\';
            out[o++] = cp == '\n' ? 'n' : cp == '\r' ? 'r' : 't';
        } else if (cp < 0x20 || cp == 0x7f) {
            o += (size_t)sprintf(out + o, "\\x%02x", (unsigned)cp);
        } else if (is_hidden_control(cp)) {
            o += (size_t)sprintf(out + o, "\\u%04x", (unsigned)cp);
        } else {
            memcpy(out + o, p + i, k);
            o += k;
        }
        i += k;
    }
    out[o] = '\0';
    return out;
}

static void put_escaped(FILE *out, const char *s)
{
    char *e = escape_terminal(s, s ? strlen(s) : 0);
    fputs(e ? e : "(out of memory)", out);
    free(e);
}

static void put_verdict_word(FILE *out, verdict v, const console_opts *o)
{
    verdict_style st = style_of(v);
    if (o->color)
        fprintf(out, "%s%s%s", st.color, st.word, ANSI_RESET);
    else
        fputs(st.word, out);
}

/* "(unstable: pass, fail)": each distinct attempt verdict, in order of first appearance. */
static void put_unstable_note(FILE *out, const case_result *c)
{
    unsigned seen = 0;
    fputs("  (unstable:", out);
    for (int i = 0; c->attempt_verdicts && i < c->attempts; i++) {
        verdict v = c->attempt_verdicts[i];
        unsigned bit = 1u << ((unsigned)v & 15u);
        if (seen & bit)
            continue;
        fprintf(out, "%s %s", seen ? "," : "", verdict_name(v));
        seen |= bit;
    }
    fputs(")", out);
}

static void put_str_field(buf *b, const char *name, const char *s)
{
    char *e = escape_terminal(s, s ? strlen(s) : 0);
    buf_printf(b, " %s=\"%s\"", name, e ? e : "(out of memory)");
    free(e);
}

/* One trace event on one line, strings escaped (verbose mode). */
static void put_event(FILE *out, const trace_event *e)
{
    buf b = {0};
    buf_printf(&b, "%10.3f ms  %s", (double)e->t_us / 1000.0, e->ev ? e->ev : "?");
    if (e->fields & TF_RS)
        buf_printf(&b, " rs=%d", e->rs);
    if (e->fields & TF_STATUS)
        buf_printf(&b, " status=%d", e->status);
    if (e->fields & TF_STATUS_TEXT)
        put_str_field(&b, "statusText", e->status_text);
    if (e->fields & TF_PROGRESS)
        buf_printf(&b, " %s %" PRIu64 "/%" PRIu64,
                   e->length_computable ? "computable" : "uncomputable", e->loaded, e->total);
    if (e->fields & TF_LEN)
        buf_printf(&b, " len=%" PRIu64, e->len);
    if (e->fields & TF_TEXT)
        put_str_field(&b, e->text_truncated ? "text(truncated)" : "text", e->text);
    if (e->fields & TF_METHOD)
        put_str_field(&b, "method", e->method);
    if (e->fields & TF_URL)
        put_str_field(&b, "url", e->url);
    if (e->fields & TF_OFFSET)
        buf_printf(&b, " offset=%" PRIu64, e->offset);
    if (e->fields & TF_CODE)
        buf_printf(&b, " code=%d", e->code);
    if (e->fields & TF_REASON)
        put_str_field(&b, "reason", e->reason);
    if (e->fields & TF_WAS_CLEAN)
        buf_printf(&b, " wasClean=%s", e->was_clean ? "true" : "false");
    if (e->fields & TF_LAST_EVENT_ID)
        put_str_field(&b, "lastEventId", e->last_event_id);
    if (e->fields & TF_ORIGIN)
        put_str_field(&b, "origin", e->origin);
    if (e->fields & TF_TYPE)
        put_str_field(&b, "type", e->type);
    if (e->fields & TF_DETAIL)
        put_str_field(&b, "detail", e->detail);
    fprintf(out, "        %s\n", b.data ? b.data : "(out of memory)");
    buf_free(&b);
}

void report_console_case(FILE *out, const case_result *c, const console_opts *o)
{
    put_verdict_word(out, c->verdict, o);
    fputs("  ", out);
    put_escaped(out, c->suite);
    fputs(" \xe2\x80\xba ", out); /* U+203A › */
    put_escaped(out, c->name);
    fprintf(out, "  (%" PRId64 " ms)", c->duration_us > 0 ? c->duration_us / 1000 : 0);
    if (c->unstable)
        put_unstable_note(out, c);
    fputc('\n', out);
    if (c->verdict == V_PASS)
        return;
    for (size_t i = 0; i < c->reasons.n; i++) {
        fputs("      ", out);
        put_escaped(out, c->reasons.items[i]);
        fputc('\n', out);
    }
    if (o->verbose) {
        for (size_t i = 0; i < c->trace.n; i++)
            put_event(out, &c->trace.events[i]);
        if (c->trace.truncated)
            fputs("        (trace truncated)\n", out);
    }
}

/* "N word", in colour when N > 0 and the count is bad news. */
static void put_count(FILE *out, size_t n, const char *word, const char *color,
                      const console_opts *o, const char *sep)
{
    if (o->color && color && n > 0)
        fprintf(out, "%s%s%zu %s%s", sep, color, n, word, ANSI_RESET);
    else
        fprintf(out, "%s%zu %s", sep, n, word);
}

void report_console_summary(FILE *out, const run_result *r, const console_opts *o)
{
    size_t unstable = 0;
    for (size_t i = 0; i < r->n_cases; i++)
        unstable += r->cases[i].unstable;
    put_count(out, r->counts[V_PASS], "passed", NULL, o, "");
    put_count(out, r->counts[V_FAIL], "failed", style_of(V_FAIL).color, o, ", ");
    put_count(out, r->counts[V_ERROR], "errors", style_of(V_ERROR).color, o, ", ");
    put_count(out, r->counts[V_NON_STRICT], "non-strict", style_of(V_NON_STRICT).color, o, ", ");
    put_count(out, r->counts[V_INFORMATIONAL], "informational", NULL, o, ", ");
    put_count(out, r->counts[V_UNIMPLEMENTED], "unimplemented", NULL, o, ", ");
    put_count(out, unstable, "unstable", style_of(V_NON_STRICT).color, o, ", ");
    fprintf(out, " (%.2f s)", r->duration_us > 0 ? (double)r->duration_us / 1e6 : 0.0);
    if (r->interrupted)
        fputs(", interrupted: partial results", out);
    fputc('\n', out);
}
