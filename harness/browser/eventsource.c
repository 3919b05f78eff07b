#include "browser/eventsource.h"

#include "browser/text_decoder.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { PH_IDLE, PH_REQUESTING, PH_STREAMING, PH_WAITING, PH_CLOSED };

static void on_event(void *ud, const char *type, size_t type_len, const char *data,
                     size_t data_len, const char *last_event_id, size_t id_len);
static void on_retry(void *ud, uint64_t ms);
static void on_comment(void *ud, const char *text, size_t len);
static void on_limit(void *ud, sse_limit what, uint64_t offset);

/* Shared by every model: Chromium's retry handling, the parser's default limits. */
static const sse_parser_config es_parser_config = {
    .on_event = on_event,
    .on_retry = on_retry,
    .on_comment = on_comment,
    .on_limit = on_limit,
    .chromium_retry = true,
};

void es_init(es_model *m, trace *t, es_event_hook hook, void *ud)
{
    memset(m, 0, sizeof *m);
    m->trace = t;
    m->hook = hook;
    m->ud = ud;
    m->timer_at = -1;
    m->reconnect_ms = ES_DEFAULT_RECONNECT_MS;
    sse_parser_init(&m->parser, &es_parser_config, m);
}

void es_free(es_model *m)
{
    sse_parser_free(&m->parser);
    free(m->origin);
    m->origin = NULL;
}

int es_ready_state(const es_model *m)
{
    switch (m->phase) {
    case PH_STREAMING:
        return ES_OPEN;
    case PH_CLOSED:
        return ES_CLOSED;
    default:
        return ES_CONNECTING;
    }
}

bool es_request_active(const es_model *m)
{
    return m->phase == PH_REQUESTING || m->phase == PH_STREAMING;
}

/* ---- event dispatch ---------------------------------------------------------------- */

/* Delivers a pushed event to the page script (the hook). Returns false when script closed
 * the EventSource, so the caller's sequence of events must stop. */
static bool deliver(es_model *m, trace_event *e, unsigned gen)
{
    if (e && m->hook) {
        size_t idx = (size_t)(e - m->trace->events);
        m->hook(m->ud, m, &m->trace->events[idx]);
    }
    return m->gen == gen;
}

static bool fire_simple(es_model *m, int64_t now, const char *ev)
{
    unsigned gen = m->gen;
    trace_event *e = trace_push(m->trace, now, ev);
    if (e) {
        e->fields |= TF_RS;
        e->rs = es_ready_state(m);
    }
    return deliver(m, e, gen);
}

static void push_detail(es_model *m, int64_t now, const char *ev, const char *detail)
{
    trace_event *e = trace_push(m->trace, now, ev);
    if (e)
        trace_set_cstr(e, &e->detail, TF_DETAIL, detail);
}

/* A text snapshot capped like responseText, with its full length in UTF-16 units. */
static void set_text(const es_model *m, trace_event *e, const char *s, size_t len)
{
    size_t n = utf8_prefix_for_units(s, len, m->trace->text_cap);
    trace_set_str(e, &e->text, TF_TEXT, s, n);
    e->text_truncated = n < len;
    e->len = utf8_utf16_length(s, len);
    e->fields |= TF_LEN;
}

static void on_event(void *ud, const char *type, size_t type_len, const char *data,
                     size_t data_len, const char *last_event_id, size_t id_len)
{
    es_model *m = ud;
    if (m->phase != PH_STREAMING)
        return;
    unsigned gen = m->gen;
    trace_event *e = trace_push(m->trace, m->now, "message");
    if (e) {
        e->fields |= TF_RS;
        e->rs = ES_OPEN;
        set_text(m, e, data, data_len);
        trace_set_str(e, &e->last_event_id, TF_LAST_EVENT_ID, last_event_id, id_len);
        trace_set_cstr(e, &e->origin, TF_ORIGIN, m->origin ? m->origin : "");
        trace_set_str(e, &e->type, TF_TYPE, type, type_len);
        /* Listeners see the event under its type: the name lives as long as the event. */
        if (e->type && strcmp(e->type, "message"))
            e->ev = e->type;
    }
    if (!deliver(m, e, gen))
        sse_parser_stop(&m->parser);
}

static void on_retry(void *ud, uint64_t ms)
{
    es_model *m = ud;
    m->reconnect_ms = ms;
}

static void on_comment(void *ud, const char *text, size_t len)
{
    es_model *m = ud;
    trace_event *e = trace_push(m->trace, m->now, "comment");
    if (e)
        set_text(m, e, text, len);
}

static void on_limit(void *ud, sse_limit what, uint64_t offset)
{
    es_model *m = ud;
    char detail[160];
    uint32_t limit = what == SSE_LIMIT_LINE ? m->parser.max_line : m->parser.max_data;
    if (what == SSE_LIMIT_MEMORY)
        snprintf(detail, sizeof detail, "event stream: out of memory; the event is discarded");
    else
        snprintf(detail, sizeof detail, "event stream: %s (%" PRIu32 " bytes); the event is "
                 "discarded", sse_limit_name(what), limit);
    trace_event *e = trace_push(m->trace, m->now, "finding");
    if (e) {
        e->fields |= TF_OFFSET;
        e->offset = offset;
        trace_set_cstr(e, &e->detail, TF_DETAIL, detail);
    }
}

/* ---- connection ------------------------------------------------------------------------ */

bool es_start(es_model *m, int64_t now)
{
    if (m->phase != PH_IDLE)
        return false;
    m->now = now;
    m->phase = PH_REQUESTING;
    return true;
}

/* The HTML standard's "fail the connection". */
static void fail_connection(es_model *m, int64_t now)
{
    sse_parser_finish(&m->parser);
    m->phase = PH_CLOSED;
    m->timer_at = -1;
    free(m->origin);
    m->origin = NULL;
    fire_simple(m, now, "error");
}

static int64_t add_ms(int64_t now, uint64_t ms)
{
    if (ms > (uint64_t)(INT64_MAX - now) / 1000)
        return INT64_MAX;
    return now + (int64_t)ms * 1000;
}

/* The HTML standard's "reestablish the connection", timed as Chromium's ScheduleReconnect:
 * readyState 0 and the timer first, then the error event. */
static void reestablish(es_model *m, int64_t now)
{
    sse_parser_finish(&m->parser);
    m->phase = PH_WAITING;
    m->timer_at = add_ms(now, m->reconnect_ms);
    if (!fire_simple(m, now, "error"))
        return;
    trace_event *e = trace_push(m->trace, now, "reconnect");
    if (e) {
        char delay[24];
        snprintf(delay, sizeof delay, "%" PRIu64, m->reconnect_ms);
        e->fields |= TF_RS;
        e->rs = ES_CONNECTING;
        trace_set_cstr(e, &e->detail, TF_DETAIL, delay);
    }
}

static int tolower_ascii(char c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* net::HttpUtil::ParseContentType's view of a Content-Type value: the MIME type ends at
 * whitespace, ';' or '('; the last charset parameter wins, unquoted; both lower-cased. */
static size_t lws_skip(const char *s, size_t i, size_t end)
{
    while (i < end && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i;
}

static size_t lws_trim_end(const char *s, size_t start, size_t end)
{
    while (end > start && (s[end - 1] == ' ' || s[end - 1] == '\t'))
        end--;
    return end;
}

/* End of a parameter: the next ';' outside double quotes. */
static size_t param_end(const char *s, size_t i, size_t n)
{
    bool quoted = false;
    for (; i < n; i++) {
        if (s[i] == '"')
            quoted = !quoted;
        else if (s[i] == ';' && !quoted)
            break;
    }
    return i;
}

static void parse_content_type(const char *ct, buf *mime, buf *charset)
{
    size_t n = strlen(ct);
    if (!n || !strcmp(ct, "*/*") || !strchr(ct, '/'))
        return;
    size_t t0 = lws_skip(ct, 0, n);
    size_t t1 = t0 + strcspn(ct + t0, " \t;(");
    for (size_t i = t0; i < t1; i++) {
        char c = (char)tolower_ascii(ct[i]);
        buf_append(mime, &c, 1);
    }
    const char *semi = strchr(ct + t1, ';');
    for (size_t i = semi ? (size_t)(semi - ct) + 1 : n; i < n;) {
        size_t e = param_end(ct, i, n);
        size_t name = lws_skip(ct, i, e);
        const char *eq = memchr(ct + name, '=', e - name);
        if (eq) {
            size_t name_end = lws_trim_end(ct, name, (size_t)(eq - ct));
            size_t v0 = lws_skip(ct, (size_t)(eq - ct) + 1, e);
            size_t v1 = lws_trim_end(ct, v0, e);
            if (name_end - name == 7 && !strncasecmp(ct + name, "charset", 7)) {
                if (v0 < v1 && ct[v0] == '"') {
                    v0++;
                    const char *q = memchr(ct + v0, '"', v1 - v0);
                    v1 = q ? (size_t)(q - ct) : v1;
                }
                buf_reset(charset);
                for (size_t k = v0; k < v1; k++) {
                    char c = (char)tolower_ascii(ct[k]);
                    buf_append(charset, &c, 1);
                }
            }
        }
        i = e + 1;
    }
}

bool es_response_ok(int status, const char *content_type, buf *console)
{
    buf mime = {0}, charset = {0};
    if (content_type)
        parse_content_type(content_type, &mime, &charset);
    bool mime_ok = mime.len == 17 && !memcmp(mime.data, "text/event-stream", 17);
    bool ok = status == 200 && mime_ok;
    if (ok && charset.len && strcmp(charset.data, "utf-8")) {
        ok = false;
        if (console)
            buf_printf(console, "EventSource's response has a charset (\"%s\") that is not "
                       "UTF-8. Aborting the connection.", charset.data);
    } else if (status == 200 && !mime_ok && console) {
        /* Chromium's loader calls an untyped response text/plain. */
        buf_printf(console, "EventSource's response has a MIME type (\"%s\") that is not "
                   "\"text/event-stream\". Aborting the connection.",
                   mime.len ? mime.data : "text/plain");
    }
    buf_free(&mime);
    buf_free(&charset);
    return ok;
}

bool es_response(es_model *m, int64_t now, int status, const char *content_type,
                 const char *origin)
{
    if (m->phase != PH_REQUESTING)
        return false;
    buf console = {0};
    if (!es_response_ok(status, content_type, &console)) {
        if (console.len)
            push_detail(m, now, "console", console.data);
        buf_free(&console);
        fail_connection(m, now);
        return false;
    }
    free(m->origin);
    m->origin = strdup(origin ? origin : "");
    sse_parser_finish(&m->parser); /* a new stream: BOM check, empty buffers */
    m->phase = PH_STREAMING;
    return fire_simple(m, now, "open") && m->phase == PH_STREAMING;
}

void es_body(es_model *m, int64_t now, const char *data, size_t len)
{
    if (m->phase != PH_STREAMING || len == 0)
        return;
    m->now = now;
    m->in_feed = true;
    sse_parser_feed(&m->parser, data, len);
    m->in_feed = false;
    if (m->phase == PH_CLOSED) /* closed by a listener: release what the feed kept */
        sse_parser_finish(&m->parser);
}

void es_end(es_model *m, int64_t now)
{
    if (m->phase == PH_STREAMING)
        reestablish(m, now);
    else if (m->phase == PH_REQUESTING)
        es_network_error(m, now, "the connection closed before a response");
}

void es_network_error(es_model *m, int64_t now, const char *detail)
{
    if (!es_request_active(m))
        return;
    push_detail(m, now, "network-error", detail ? detail : "network error");
    reestablish(m, now);
}

void es_fail(es_model *m, int64_t now, const char *detail)
{
    if (!es_request_active(m))
        return;
    push_detail(m, now, "network-error", detail ? detail : "network error");
    fail_connection(m, now);
}

void es_close(es_model *m, int64_t now)
{
    m->gen++;
    if (m->phase != PH_CLOSED) {
        m->phase = PH_CLOSED;
        m->timer_at = -1;
        free(m->origin);
        m->origin = NULL;
        if (m->in_feed)
            sse_parser_stop(&m->parser); /* the feed in progress releases its buffers */
        else
            sse_parser_finish(&m->parser);
    }
    trace_event *e = trace_push(m->trace, now, "close()");
    if (e) {
        e->fields |= TF_RS;
        e->rs = ES_CLOSED;
    }
}

int64_t es_next_timer(const es_model *m)
{
    return m->phase == PH_WAITING ? m->timer_at : -1;
}

bool es_timer(es_model *m, int64_t now)
{
    if (m->phase != PH_WAITING || now < m->timer_at)
        return false;
    m->phase = PH_REQUESTING;
    m->timer_at = -1;
    return true;
}

int es_request_headers(const es_model *m, header_list *out)
{
    int rc = 0;
    rc |= header_list_add(out, "Pragma", "no-cache");
    rc |= header_list_add(out, "Cache-Control", "no-cache");
    rc |= header_list_add(out, "Accept", "text/event-stream");
    size_t n;
    const char *id = sse_parser_last_event_id(&m->parser, &n);
    if (n) /* UTF-8 bytes; never CR, LF or NUL (the parser excludes them) */
        rc |= header_list_add_n(out, "Last-Event-ID", 13, id, n);
    return rc ? -1 : 0;
}
