/* Compares what an XMLHttpRequest step observed with its expectations, one readable reason
 * line per mismatch: "what (file:line:col): expected X, observed Y". Observed text comes
 * from the server, so it is always escaped and cut before it reaches a reason line. */
#include "scenario/expect_check.h"
#include "scenario/expect_internal.h"

#include "util/buf.h"
#include "util/headers.h"

#include <inttypes.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SHOW_CONSOLE_BYTES 1000 /* console messages carry the reason after a long URL */
#define SHOW_SEQ_ITEMS 50    /* entries of an observed sequence in a reason line */

const match_words text_words = {"null", "a value", "null", SHOW_TEXT_BYTES};
static const match_words header_words = {"null (not visible)", "a visible value", "null",
                                         SHOW_TEXT_BYTES};
static const match_words wire_words = {"no such header", "the header, with any value",
                                       "no such header", SHOW_TEXT_BYTES};
static const match_words console_words = {"no message", "a message", "no message",
                                          SHOW_CONSOLE_BYTES};

/* ---- pattern matching --------------------------------------------------------------- */

typedef bool (*item_eq_fn)(const pattern_item *it, const void *seq, size_t j);

static bool int_item_eq(const pattern_item *it, const void *seq, size_t j)
{
    return ((const int *)seq)[j] == it->value;
}

static bool name_item_eq(const pattern_item *it, const void *seq, size_t j)
{
    const char *s = ((const char *const *)seq)[j];
    return it->name && s && strcmp(it->name, s) == 0;
}

/* Anchored match of items against seq by dynamic programming over (item, position):
 * O(items * n) time, two rows of memory, no backtracking blowup.
 * next[j]: items i+1.. match seq[j..]; cur[j]: items i.. match seq[j..]. */
static bool pattern_match(const pattern *p, const void *seq, size_t n, item_eq_fn eq)
{
    bool *next = calloc(n + 1, sizeof *next), *cur = calloc(n + 1, sizeof *cur);
    bool ok = false;
    if (!next || !cur)
        goto out;
    next[n] = true; /* no items left: only the empty tail matches */
    for (size_t i = p->n; i-- > 0;) {
        const pattern_item *it = &p->items[i];
        for (size_t j = n + 1; j-- > 0;) {
            bool here = j < n && eq(it, seq, j);
            switch (it->quant) {
            case Q_ONE:
                cur[j] = here && next[j + 1];
                break;
            case Q_OPT:
                cur[j] = next[j] || (here && next[j + 1]);
                break;
            case Q_STAR:
                cur[j] = next[j] || (here && cur[j + 1]);
                break;
            case Q_PLUS:
                cur[j] = here && (next[j + 1] || cur[j + 1]);
                break;
            default:
                cur[j] = false;
                break;
            }
        }
        bool *t = next;
        next = cur;
        cur = t;
    }
    ok = next[0];
out:
    free(next);
    free(cur);
    return ok;
}

bool pattern_match_ints(const pattern *p, const int *seq, size_t n)
{
    return pattern_match(p, seq, n, int_item_eq);
}

bool pattern_match_names(const pattern *p, const char *const *seq, size_t n)
{
    return pattern_match(p, seq, n, name_item_eq);
}

static const char *quant_suffix(pattern_quant q)
{
    switch (q) {
    case Q_PLUS:
        return "+";
    case Q_STAR:
        return "*";
    case Q_OPT:
        return "?";
    default:
        return "";
    }
}

char *pattern_format(const pattern *p)
{
    buf b = {0};
    buf_append_str(&b, "[");
    for (size_t i = 0; i < p->n; i++) {
        const pattern_item *it = &p->items[i];
        if (i)
            buf_append_str(&b, ", ");
        if (it->name)
            buf_append_str(&b, it->name);
        else
            buf_printf(&b, "%d", it->value);
        buf_append_str(&b, quant_suffix(it->quant));
    }
    buf_append_str(&b, "]");
    return buf_take(&b);
}

/* ---- rendering ---------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (2-4), or 0. C1 controls (U+0080-U+009F) count
 * as invalid so they get escaped like other control bytes. */
static size_t utf8_seq_len(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        if (c == 0xc2)
            lo = 0xa0;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (avail < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < n; k++)
        if (s[k] < 0x80 || s[k] > 0xbf)
            return 0;
    return n;
}

/* Appends s[0..len) quoted and escaped, at most about max bytes of it (a UTF-8 character
 * is never split). Returns how many bytes of s were shown. */
static size_t append_quoted(buf *b, const char *s, size_t len, size_t max)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    buf_append_str(b, "\"");
    while (i < len && i < max) {
        unsigned char c = u[i];
        size_t n = c >= 0x80 ? utf8_seq_len(u + i, len - i) : 0;
        if (n) {
            buf_append(b, s + i, n);
            i += n;
            continue;
        }
        if (c == '"' || c == '\\')
            buf_printf(b, "\\%c", c);
        else if (c == '\n')
            buf_append_str(b, "\\n");
        else if (c == '\r')
            buf_append_str(b, "\\r");
        else if (c == '\t')
            buf_append_str(b, "\\t");
        else if (c < 0x20 || c >= 0x7f)
            buf_printf(b, "\\x%02x", c);
        else
            buf_append(b, s + i, 1);
        i++;
    }
    buf_append_str(b, "\"");
    return i;
}

/* Observed text: missing, or quoted; the size when asked or when cut. */
void append_observed_text(buf *b, const char *s, bool with_size, const match_words *w)
{
    if (!s) {
        buf_append_str(b, w->missing);
        return;
    }
    size_t len = strlen(s);
    size_t shown = append_quoted(b, s, len, w->show);
    if (shown < len)
        buf_printf(b, " (%zu bytes, first %zu shown)", len, shown);
    else if (with_size)
        buf_printf(b, " (%zu bytes)", len);
}

void append_expected_text(buf *b, const text_match *m, const match_words *w)
{
    const char *v = m->value ? m->value : "";
    switch (m->kind) {
    case TM_EQUALS:
        buf_append_str(b, "expected ");
        break;
    case TM_CONTAINS:
        buf_append_str(b, "expected to contain ");
        break;
    case TM_NOT_CONTAINS:
        buf_append_str(b, "expected not to contain ");
        break;
    case TM_REGEX:
        buf_append_str(b, "expected to match regex ");
        break;
    case TM_NOT_EQUALS:
        buf_append_str(b, "expected anything but ");
        break;
    case TM_LIST_ITEM:
        buf_append_str(b, "expected a list with the item ");
        break;
    case TM_ABSENT:
        buf_printf(b, "expected %s", w->absent);
        return;
    case TM_PRESENT:
        buf_printf(b, "expected %s", w->present);
        return;
    }
    size_t len = strlen(v);
    if (append_quoted(b, v, len, SHOW_TEXT_BYTES) < len)
        buf_append_str(b, "...");
}

/* "what (file:line:col): " */
void append_label(buf *b, const char *what, src_pos pos)
{
    if (pos.line <= 0)
        buf_printf(b, "%s: ", what);
    else
        buf_printf(b, "%s (%s:%d:%d): ", what, pos.file ? pos.file : "?", pos.line, pos.col);
}

void add_reason(reasons *out, buf *b)
{
    if (out)
        reasons_add(out, "%s", b->data ? b->data : "mismatch (out of memory rendering it)");
    buf_free(b);
}

/* Milliseconds, exact: "250 ms", "1.5 ms". */
void append_ms(buf *b, int64_t us)
{
    int64_t ms = us / 1000, frac = us % 1000;
    if (frac == 0) {
        buf_printf(b, "%" PRId64 " ms", ms);
        return;
    }
    int digits = 3;
    while (frac % 10 == 0) {
        frac /= 10;
        digits--;
    }
    buf_printf(b, "%" PRId64 ".%0*" PRId64 " ms", ms, digits, frac);
}

/* An observed sequence, runs of 3+ equal entries folded: [loadstart, progress (40 times)]. */
void append_sequence(buf *b, const int *ints, const char *const *names, size_t n)
{
    buf_append_str(b, "[");
    size_t shown = 0, i = 0;
    while (i < n) {
        size_t run = 1;
        while (i + run < n && (names ? strcmp(names[i + run], names[i]) == 0
                                     : ints[i + run] == ints[i]))
            run++;
        if (shown == SHOW_SEQ_ITEMS) {
            buf_printf(b, ", ... (%zu more)", n - i);
            break;
        }
        if (shown++)
            buf_append_str(b, ", ");
        if (names)
            buf_append_str(b, names[i]);
        else
            buf_printf(b, "%d", ints[i]);
        if (run >= 3) {
            buf_printf(b, " (%zu times)", run);
        } else {
            run = 1;
        }
        i += run;
    }
    buf_append_str(b, "]");
}

/* ---- checks ------------------------------------------------------------------------- */

/* The events `events:` talks about: the XHR and upload event families, nothing of
 * comet's own (request, redirect, finding, ...) and not readystatechange. */
static bool is_progress_family(const char *ev)
{
    static const char *const names[] = {
        "loadstart", "progress", "load", "error", "abort", "timeout", "loadend", NULL,
    };
    if (strncmp(ev, "upload.", 7) == 0)
        return true;
    for (size_t i = 0; names[i]; i++)
        if (strcmp(ev, names[i]) == 0)
            return true;
    return false;
}

static bool is_upload(const char *ev)
{
    return strncmp(ev, "upload.", 7) == 0;
}

void note_truncation(buf *b, const trace *t)
{
    if (t->truncated)
        buf_append_str(b, " (the trace was truncated: later events are missing)");
}

static bool is_readystatechange(const trace_event *ev)
{
    return strcmp(ev->ev, "readystatechange") == 0;
}

static bool is_progress_event(const trace_event *ev)
{
    return is_progress_family(ev->ev);
}

bool check_ready_states(const expect *e, const trace *t, size_t from, size_t to,
                        event_filter counts, reasons *out)
{
    int *seq = malloc((to - from + 1) * sizeof *seq);
    size_t n = 0;
    if (!seq) {
        if (out)
            reasons_add(out, "ready_states: not checked (out of memory)");
        return false;
    }
    for (size_t i = from; i < to; i++)
        if (t->events[i].ev && counts(&t->events[i]))
            seq[n++] = t->events[i].rs;
    bool ok = pattern_match_ints(&e->ready_states, seq, n);
    if (!ok) {
        buf b = {0};
        char *want = pattern_format(&e->ready_states);
        append_label(&b, "ready_states", e->ready_states.pos);
        buf_printf(&b, "expected %s, observed ", want);
        append_sequence(&b, seq, NULL, n);
        note_truncation(&b, t);
        free(want);
        add_reason(out, &b);
    }
    free(seq);
    return ok;
}

bool check_events(const expect *e, const trace *t, size_t from, size_t to, event_filter counts,
                  reasons *out)
{
    const char **seq = malloc((to - from + 1) * sizeof *seq);
    size_t n = 0;
    if (!seq) {
        if (out)
            reasons_add(out, "events: not checked (out of memory)");
        return false;
    }
    for (size_t i = from; i < to; i++)
        if (t->events[i].ev && counts(&t->events[i]))
            seq[n++] = t->events[i].ev;
    bool ok = pattern_match_names(&e->events, seq, n);
    if (!ok) {
        buf b = {0};
        char *want = pattern_format(&e->events);
        append_label(&b, "events", e->events.pos);
        buf_printf(&b, "expected %s, observed ", want);
        append_sequence(&b, NULL, seq, n);
        note_truncation(&b, t);
        free(want);
        add_reason(out, &b);
    }
    free(seq);
    return ok;
}

bool check_int(const char *what, const opt_int *o, int64_t observed, reasons *out)
{
    if (!o->present || o->value == observed)
        return true;
    buf b = {0};
    append_label(&b, what, o->pos);
    buf_printf(&b, "expected %" PRId64 ", observed %" PRId64, o->value, observed);
    add_reason(out, &b);
    return false;
}

bool check_text(const char *what, const text_match *m, const char *observed,
                       bool with_size, const match_words *w, reasons *out)
{
    if (!m || text_match_ok(m, observed))
        return true;
    buf b = {0};
    append_label(&b, what, m->pos);
    append_expected_text(&b, m, w);
    buf_append_str(&b, ", observed ");
    append_observed_text(&b, observed, with_size, w);
    add_reason(out, &b);
    return false;
}

static bool check_headers(const expect *e, const xhr_final *f, reasons *out)
{
    bool ok = true;
    for (size_t i = 0; i < e->n_headers; i++) {
        const header_expect *h = &e->headers[i];
        char *value = header_lookup(f->all_headers, h->name);
        buf what = {0};
        buf_printf(&what, "header %s", h->name);
        ok &= check_text(what.data ? what.data : "header", &h->match, value, false,
                         &header_words, out);
        buf_free(&what);
        free(value);
    }
    return ok;
}

static bool method_matches(const char *want, const trace_event *ev)
{
    return !want || (ev->method && strcasecmp(ev->method, want) == 0);
}

/* What wire_headers and request_headers look at: the heads of one direction. */
typedef struct head_kind {
    const char *ev;    /* the trace events holding the heads */
    const char *label; /* the expectation's name */
    const char *noun;
} head_kind;

static const head_kind response_heads = {"response", "wire_headers", "response"};
static const head_kind request_heads = {"request", "request_headers", "request"};

static size_t count_heads(const head_kind *k, const char *method, const trace *t, size_t from,
                          size_t to)
{
    size_t n = 0;
    for (size_t i = from; i < to; i++)
        if (!strcmp(t->events[i].ev, k->ev) && method_matches(method, &t->events[i]))
            n++;
    return n;
}

/* A header of a head as recorded: response events hold header lines, request events the
 * whole head, request line first. */
static char *head_lookup(const head_kind *k, const trace_event *ev, const char *name)
{
    const char *lines = ev->detail;
    if (lines && k == &request_heads) {
        const char *eol = strstr(lines, "\r\n");
        lines = eol ? eol + 2 : "";
    }
    return header_lookup(lines, name);
}

/* One item against every head of its method; with several, the reason says which one broke
 * it. */
static bool check_head_header(const head_kind *k, const wire_header_expect *w, const trace *t,
                              size_t from, size_t to, reasons *out)
{
    buf what = {0};
    buf_printf(&what, "%s %s%s%s", k->label, w->method ? w->method : "", w->method ? " " : "",
               w->name);
    size_t n = count_heads(k, w->method, t, from, to), seen = 0;
    bool ok = n > 0;
    if (n == 0) {
        buf b = {0};
        append_label(&b, what.data ? what.data : k->label, w->match.pos);
        append_expected_text(&b, &w->match, &wire_words);
        buf_printf(&b, ", observed no %s%s%s", w->method ? w->method : "", w->method ? " " : "",
                   k->noun);
        note_truncation(&b, t);
        add_reason(out, &b);
    }
    for (size_t i = from; i < to && n > 0; i++) {
        const trace_event *ev = &t->events[i];
        if (strcmp(ev->ev, k->ev) || !method_matches(w->method, ev))
            continue;
        seen++;
        char *value = head_lookup(k, ev, w->name);
        if (!text_match_ok(&w->match, value)) {
            buf b = {0};
            append_label(&b, what.data ? what.data : k->label, w->match.pos);
            append_expected_text(&b, &w->match, &wire_words);
            buf_append_str(&b, ", observed ");
            append_observed_text(&b, value, false, &wire_words);
            if (n > 1)
                buf_printf(&b, " (%s %zu of %zu: %s %d %s)", k->noun, seen, n,
                           ev->method ? ev->method : "?", ev->status, ev->url ? ev->url : "");
            add_reason(out, &b);
            ok = false;
        }
        free(value);
    }
    buf_free(&what);
    return ok;
}

bool check_wire_headers(const expect *e, const trace *t, size_t from, size_t to,
                        reasons *out)
{
    bool ok = true;
    for (size_t i = 0; i < e->n_wire_headers; i++)
        ok &= check_head_header(&response_heads, &e->wire_headers[i], t, from, to, out);
    for (size_t i = 0; i < e->n_request_headers; i++)
        ok &= check_head_header(&request_heads, &e->request_headers[i], t, from, to, out);
    return ok;
}

/* Whether n lies within [lo, hi]; *broken is the bound it crossed. */
bool within(const opt_int *lo, const opt_int *hi, int64_t n, const opt_int **broken)
{
    *broken = lo->present && n < lo->value ? lo : hi->present && n > hi->value ? hi : NULL;
    return *broken == NULL;
}

/* "expected 2", "expected at least 1" */
static void append_expected_count(buf *b, const opt_int *lo, const opt_int *hi,
                                  const opt_int *broken)
{
    bool exact = lo->present && hi->present && lo->value == hi->value;
    buf_printf(b, "expected %s%" PRId64, exact ? "" : broken == lo ? "at least " : "at most ",
               broken->value);
}

bool check_count(const char *what, const opt_int *lo, const opt_int *hi, int64_t n,
                 const trace *t, reasons *out)
{
    const opt_int *broken;
    if (within(lo, hi, n, &broken))
        return true;
    buf b = {0};
    append_label(&b, what, broken->pos);
    append_expected_count(&b, lo, hi, broken);
    buf_printf(&b, ", observed %" PRId64, n);
    note_truncation(&b, t);
    add_reason(out, &b);
    return false;
}

bool check_requests(const expect *e, const trace *t, size_t from, size_t to,
                           reasons *out)
{
    bool ok = true;
    for (size_t r = 0; r < e->n_requests; r++) {
        const request_count_expect *q = &e->requests[r];
        int64_t n = 0;
        for (size_t i = from; i < to; i++)
            if (!strcmp(t->events[i].ev, "request") && method_matches(q->method, &t->events[i]))
                n++;
        buf what = {0};
        buf_printf(&what, "requests%s%s", q->method ? " " : "", q->method ? q->method : "");
        ok &= check_count(what.data ? what.data : "requests", &q->min, &q->max, n, t, out);
        buf_free(&what);
    }
    return ok;
}

/* The step's console messages, one a line; NULL when there is none. */
static char *console_text(const trace *t, size_t from, size_t to)
{
    buf b = {0};
    bool any = false;
    for (size_t i = from; i < to; i++) {
        const trace_event *ev = &t->events[i];
        if (strcmp(ev->ev, "console"))
            continue;
        buf_printf(&b, "%s%s", any ? "\n" : "", ev->detail ? ev->detail : "");
        any = true;
    }
    if (!any)
        return NULL;
    return b.data ? buf_take(&b) : strdup("");
}

bool check_console(const expect *e, const trace *t, size_t from, size_t to, reasons *out)
{
    if (!e->console)
        return true;
    char *text = console_text(t, from, to);
    bool ok = check_text("console", e->console, text, false, &console_words, out);
    free(text);
    return ok;
}

/* loaded, total, lengthComputable: from the last download progress-family event. */
static bool check_progress_fields(const expect *e, const trace *t, size_t from, size_t to,
                                  reasons *out)
{
    const trace_event *last = NULL;
    for (size_t i = from; i < to; i++) {
        const trace_event *ev = &t->events[i];
        if ((ev->fields & TF_PROGRESS) && ev->ev && !is_upload(ev->ev))
            last = ev;
    }
    if (last) {
        bool ok = check_int("loaded", &e->loaded, (int64_t)last->loaded, out);
        ok &= check_int("total", &e->total, (int64_t)last->total, out);
        if (e->length_computable.present &&
            e->length_computable.value != last->length_computable) {
            buf b = {0};
            append_label(&b, "length_computable", e->length_computable.pos);
            buf_printf(&b, "expected %s, observed %s",
                       e->length_computable.value ? "true" : "false",
                       last->length_computable ? "true" : "false");
            add_reason(out, &b);
            ok = false;
        }
        return ok;
    }
    const opt_int *want[] = {&e->loaded, &e->total};
    const char *what[] = {"loaded", "total"};
    bool ok = true;
    for (int k = 0; k < 2; k++) {
        if (!want[k]->present)
            continue;
        buf b = {0};
        append_label(&b, what[k], want[k]->pos);
        buf_printf(&b, "expected %" PRId64 ", observed no progress or loadend event",
                   want[k]->value);
        add_reason(out, &b);
        ok = false;
    }
    if (e->length_computable.present) {
        buf b = {0};
        append_label(&b, "length_computable", e->length_computable.pos);
        buf_printf(&b, "expected %s, observed no progress or loadend event",
                   e->length_computable.value ? "true" : "false");
        add_reason(out, &b);
        ok = false;
    }
    return ok;
}

static bool check_elapsed(const expect *e, const xhr_final *f, reasons *out)
{
    const opt_int *lo = &e->elapsed_min_us, *hi = &e->elapsed_max_us;
    int64_t v = f->elapsed_us;
    const opt_int *broken = NULL;
    if (lo->present && (v < 0 || v < lo->value))
        broken = lo;
    else if (hi->present && (v < 0 || v > hi->value))
        broken = hi;
    if (!broken)
        return true;
    buf b = {0};
    append_label(&b, "elapsed", broken->pos);
    buf_append_str(&b, broken == lo ? "expected at least " : "expected at most ");
    append_ms(&b, broken->value);
    buf_append_str(&b, ", observed ");
    if (v < 0)
        buf_append_str(&b, "no loadend (the step did not finish)");
    else
        append_ms(&b, v);
    add_reason(out, &b);
    return false;
}

static bool check_progress_count(const expect *e, const trace *t, size_t from, size_t to,
                                 reasons *out)
{
    if (!e->progress_min.present && !e->progress_max.present)
        return true;
    int64_t n = 0;
    for (size_t i = from; i < to; i++)
        if (t->events[i].ev && strcmp(t->events[i].ev, "progress") == 0)
            n++;
    return check_count("progress_count", &e->progress_min, &e->progress_max, n, t, out);
}

bool expect_check_xhr(const expect *e, const trace *t, size_t from, size_t to,
                      const xhr_final *f, reasons *out)
{
    const xhr_final none = {.elapsed_us = -1};
    if (!f)
        f = &none;
    if (to > t->n)
        to = t->n;
    if (from > to)
        from = to;
    bool ok = true;
    if (e->ready_states.present)
        ok &= check_ready_states(e, t, from, to, is_readystatechange, out);
    if (e->events.present)
        ok &= check_events(e, t, from, to, is_progress_event, out);
    ok &= check_int("status", &e->status, f->status, out);
    ok &= check_text("status_text", e->status_text, f->status_text, false, &text_words, out);
    ok &= check_int("ready_state", &e->ready_state, f->ready_state, out);
    ok &= check_headers(e, f, out);
    ok &= check_text("all_headers", e->all_headers, f->all_headers, true, &text_words, out);
    for (size_t i = 0; i < e->n_response_text; i++)
        ok &= check_text("response_text", &e->response_text[i], f->response_text, true,
                         &text_words, out);
    ok &= check_text("response_url", e->response_url, f->response_url, false, &text_words, out);
    if (e->loaded.present || e->total.present || e->length_computable.present)
        ok &= check_progress_fields(e, t, from, to, out);
    ok &= check_elapsed(e, f, out);
    ok &= check_progress_count(e, t, from, to, out);
    ok &= check_wire_headers(e, t, from, to, out);
    ok &= check_requests(e, t, from, to, out);
    ok &= check_console(e, t, from, to, out);
    return ok;
}

/* ---- helpers ------------------------------------------------------------------------ */

char *header_lookup(const char *all_headers, const char *name)
{
    if (!all_headers || !name)
        return NULL;
    size_t name_len = strlen(name);
    buf value = {0};
    bool found = false;
    const char *p = all_headers;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t line_len = eol ? (size_t)(eol - p) : strlen(p);
        if (line_len && p[line_len - 1] == '\r')
            line_len--;
        const char *colon = memchr(p, ':', line_len);
        if (colon && (size_t)(colon - p) == name_len && strncasecmp(p, name, name_len) == 0) {
            const char *v = colon + 1, *end = p + line_len;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            /* getAllResponseHeaders() has combined duplicates already; combine any left */
            if (found)
                buf_append_str(&value, ", ");
            buf_append(&value, v, (size_t)(end - v));
            found = true;
        }
        if (!eol)
            break;
        p = eol + 1;
    }
    if (!found)
        return NULL;
    return buf_take(&value);
}

bool text_match_ok(const text_match *m, const char *s)
{
    if (m->kind == TM_ABSENT)
        return s == NULL;
    if (m->kind == TM_PRESENT)
        return s != NULL;
    const char *v = m->value ? m->value : "";
    if (m->kind == TM_NOT_EQUALS)
        return !s || strcmp(s, v) != 0; /* what is not there differs from any text */
    if (!s)
        return false;
    switch (m->kind) {
    case TM_EQUALS:
        return strcmp(s, v) == 0;
    case TM_CONTAINS:
        return strstr(s, v) != NULL;
    case TM_NOT_CONTAINS:
        return strstr(s, v) == NULL;
    case TM_LIST_ITEM:
        return http_list_has(s, v, false);
    case TM_REGEX: {
        regex_t re;
        if (regcomp(&re, v, REG_EXTENDED | REG_NOSUB) != 0)
            return false;
        bool ok = regexec(&re, s, 0, NULL, 0) == 0;
        regfree(&re);
        return ok;
    }
    default:
        return false;
    }
}
