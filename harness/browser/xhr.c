#include "browser/xhr.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void xhr_init(xhr_model *x, trace *t, xhr_event_hook hook, void *ud, size_t max_response_text)
{
    memset(x, 0, sizeof *x);
    x->trace = t;
    x->hook = hook;
    x->ud = ud;
    x->text.limit = max_response_text;
    x->held.limit = XHR_SNIFF_BYTES * 2 + 65536;
}

static void clear_response(xhr_model *x)
{
    free(x->status_text);
    x->status_text = NULL;
    for (size_t i = 0; i < x->n_headers; i++) {
        free(x->headers[i].name);
        free(x->headers[i].value);
    }
    free(x->headers);
    x->headers = NULL;
    x->n_headers = 0;
    free(x->response_url);
    x->response_url = NULL;
    x->status = 0;
    x->length_computable = false;
    x->total = x->loaded = 0;
    x->sniffing = false;
    buf_free(&x->held);
    buf_free(&x->text);
    text_decoder_init(&x->decoder, ENC_UTF8, true);
    x->throttle_active = x->deferred = x->dispatched_progress = false;
}

void xhr_free(xhr_model *x)
{
    clear_response(x);
}

uint64_t xhr_text_length(const xhr_model *x)
{
    return x->decoder.utf16_len;
}

/* ---- event dispatch ---------------------------------------------------------------- */

static trace_event *push(xhr_model *x, int64_t now, const char *ev)
{
    return trace_push(x->trace, now, ev);
}

/* Delivers a pushed event to the page script (the hook). Returns false when script
 * aborted the request, so the caller's sequence of events must stop. */
static bool deliver(xhr_model *x, trace_event *e, unsigned gen)
{
    if (e && x->hook) {
        size_t idx = (size_t)(e - x->trace->events);
        x->hook(x->ud, x, &x->trace->events[idx]);
    }
    return x->gen == gen;
}

static void set_text_snapshot(xhr_model *x, trace_event *e)
{
    size_t cap = x->trace->text_cap;
    size_t n = utf8_prefix_for_units(x->text.data ? x->text.data : "", x->text.len, cap);
    trace_set_str(e, &e->text, TF_TEXT, x->text.data ? x->text.data : "", n);
    e->text_truncated = n < x->text.len;
}

static bool fire_readystatechange(xhr_model *x, int64_t now)
{
    unsigned gen = x->gen;
    trace_event *e = push(x, now, "readystatechange");
    if (e) {
        e->fields |= TF_RS | TF_STATUS | TF_LEN;
        e->rs = x->state;
        e->status = x->status;
        e->len = xhr_text_length(x);
        trace_set_cstr(e, &e->status_text, TF_STATUS_TEXT, x->status_text ? x->status_text : "");
        set_text_snapshot(x, e);
    }
    return deliver(x, e, gen);
}

static bool fire_progress_event(xhr_model *x, int64_t now, const char *ev, bool computable,
                                uint64_t loaded, uint64_t total)
{
    unsigned gen = x->gen;
    trace_event *e = push(x, now, ev);
    if (e) {
        e->fields |= TF_PROGRESS | TF_RS | TF_STATUS | TF_LEN;
        e->length_computable = computable;
        e->loaded = loaded;
        e->total = total;
        e->rs = x->state;
        e->status = x->status;
        e->len = xhr_text_length(x);
    }
    return deliver(x, e, gen);
}

static bool fire_upload_event(xhr_model *x, int64_t now, const char *ev, bool computable,
                              uint64_t loaded, uint64_t total)
{
    unsigned gen = x->gen;
    trace_event *e = push(x, now, ev);
    if (e) {
        e->fields |= TF_PROGRESS | TF_RS;
        e->length_computable = computable;
        e->loaded = loaded;
        e->total = total;
        e->rs = x->state;
    }
    return deliver(x, e, gen);
}

/* ---- requests ---------------------------------------------------------------------- */

void xhr_open(xhr_model *x, int64_t now)
{
    x->gen++;
    clear_response(x);
    x->error = false;
    x->send_flag = false;
    x->state = XHR_OPENED;
    fire_readystatechange(x, now);
}

void xhr_send(xhr_model *x, int64_t now, bool has_body, uint64_t body_len, bool upload_listener)
{
    unsigned gen = x->gen;
    x->send_flag = true;
    x->upload_listener = upload_listener;
    x->request_body_len = has_body ? body_len : 0;
    x->upload_complete = !has_body;
    if (!fire_progress_event(x, now, "loadstart", false, 0, 0))
        return;
    if (!x->upload_complete && x->upload_listener && x->gen == gen)
        fire_upload_event(x, now, "upload.loadstart", true, 0, x->request_body_len);
}

void xhr_upload_done(xhr_model *x, int64_t now)
{
    if (x->upload_complete || !x->send_flag)
        return;
    x->upload_complete = true;
    if (!x->upload_listener)
        return;
    uint64_t n = x->request_body_len;
    if (fire_upload_event(x, now, "upload.progress", true, n, n) &&
        fire_upload_event(x, now, "upload.load", true, n, n))
        fire_upload_event(x, now, "upload.loadend", true, n, n);
}

/* ---- response head ----------------------------------------------------------------- */

static const char *find_header(const header_field *h, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(h[i].name, name))
            return h[i].value;
    return NULL;
}

/* Copies the essence ("type/subtype", lower-cased) of a Content-Type value. */
static void mime_essence(const char *ct, char *out, size_t outlen)
{
    size_t n = 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    while (*ct && *ct != ';' && n + 1 < outlen)
        out[n++] = (char)tolower((unsigned char)*ct++);
    while (n && (out[n - 1] == ' ' || out[n - 1] == '\t'))
        n--;
    out[n] = '\0';
}

/* The charset parameter of a Content-Type value, copied into out ("" when none). */
static void mime_charset(const char *ct, char *out, size_t outlen)
{
    out[0] = '\0';
    const char *p = ct ? strcasestr(ct, "charset=") : NULL;
    if (!p)
        return;
    p += 8;
    if (*p == '"')
        p++;
    size_t n = 0;
    while (*p && *p != ';' && *p != '"' && *p != ' ' && n + 1 < outlen)
        out[n++] = *p++;
    out[n] = '\0';
}

bool xhr_is_sniffed(const char *content_type, const char *nosniff)
{
    /* net::ShouldSniffMimeType's list, plus the "unknown" types. */
    static const char *const sniffable[] = {
        "text/plain", "application/octet-stream", "text/xml", "application/xml",
        "unknown/unknown", "application/unknown", "*/*",
    };
    if (nosniff) {
        char v[32];
        mime_essence(nosniff, v, sizeof v);
        if (!strcmp(v, "nosniff"))
            return false;
    }
    if (!content_type)
        return true;
    char essence[128];
    mime_essence(content_type, essence, sizeof essence);
    if (!essence[0] || !strchr(essence, '/'))
        return true;
    for (size_t i = 0; i < sizeof sniffable / sizeof sniffable[0]; i++)
        if (!strcmp(essence, sniffable[i]))
            return true;
    return false;
}

static void copy_headers(xhr_model *x, const xhr_response_head *h)
{
    x->headers = calloc(h->n_headers ? h->n_headers : 1, sizeof *x->headers);
    if (!x->headers)
        return;
    for (size_t i = 0; i < h->n_headers; i++) {
        x->headers[i].name = strdup(h->headers[i].name);
        x->headers[i].value = strdup(h->headers[i].value);
        if (!x->headers[i].name || !x->headers[i].value) {
            free(x->headers[i].name);
            free(x->headers[i].value);
            break;
        }
        x->n_headers = i + 1;
    }
}

static void enter_headers_received(xhr_model *x, int64_t now)
{
    x->state = XHR_HEADERS_RECEIVED;
    fire_readystatechange(x, now);
}

void xhr_headers(xhr_model *x, int64_t now, const xhr_response_head *h)
{
    if (x->state != XHR_OPENED || !x->send_flag)
        return;
    unsigned gen = x->gen;
    xhr_upload_done(x, now); /* a response means the upload is over */
    if (x->gen != gen)
        return;
    x->status = h->status;
    x->status_text = strndup(h->reason ? h->reason : "", h->reason_len);
    x->response_url = strdup(h->url ? h->url : "");
    copy_headers(x, h);
    /* The network's own view (all headers) decides sniffing and decoding, not the
     * CORS-filtered one the page reads. */
    const header_field *all = h->internal ? h->internal : h->headers;
    size_t n_all = h->internal ? h->n_internal : h->n_headers;
    const char *ct = find_header(all, n_all, "content-type");
    char charset[64];
    mime_charset(ct, charset, sizeof charset);
    text_decoder_init(&x->decoder, text_encoding_from_label(charset[0] ? charset : NULL), true);
    bool encoded = find_header(all, n_all, "content-encoding") != NULL;
    x->length_computable = h->content_length_known && !encoded;
    x->total = x->length_computable ? h->content_length : 0;
    x->sniffing = xhr_is_sniffed(ct, find_header(all, n_all, "x-content-type-options"));
    if (!x->sniffing)
        enter_headers_received(x, now);
}

/* ---- response body ----------------------------------------------------------------- */

/* Chromium's XMLHttpRequestProgressEventThrottle::DispatchProgressProgressEvent. */
static bool dispatch_progress_progress(xhr_model *x, int64_t now, uint64_t loaded)
{
    int state = x->state;
    unsigned gen = x->gen;
    if (x->state == XHR_LOADING && x->dispatched_progress) {
        if (!fire_readystatechange(x, now))
            return false;
    }
    if (x->state != state || x->gen != gen)
        return false;
    x->dispatched_progress = true;
    return fire_progress_event(x, now, "progress", x->length_computable, loaded, x->total);
}

static void throttle_progress(xhr_model *x, int64_t now)
{
    if (x->throttle_active) {
        x->deferred = true;
        x->deferred_loaded = x->loaded;
        return;
    }
    x->throttle_active = true;
    x->throttle_deadline = now + XHR_PROGRESS_INTERVAL_US;
    dispatch_progress_progress(x, now, x->loaded);
}

static void process_chunk(xhr_model *x, int64_t now, const char *data, size_t len)
{
    unsigned gen = x->gen;
    x->loaded += len;
    text_decoder_feed(&x->decoder, data, len, &x->text);
    if (x->state != XHR_LOADING) {
        x->state = XHR_LOADING;
        if (!fire_readystatechange(x, now) || x->gen != gen)
            return;
    }
    throttle_progress(x, now);
}

/* Releases what MIME sniffing held: the headers, then the body so far in one piece. */
static void release_sniffed(xhr_model *x, int64_t now)
{
    unsigned gen = x->gen;
    x->sniffing = false;
    enter_headers_received(x, now);
    if (x->gen != gen || !x->held.len)
        return;
    buf held = x->held;
    x->held = (buf){.limit = held.limit};
    process_chunk(x, now, held.data, held.len);
    buf_free(&held);
}

void xhr_body(xhr_model *x, int64_t now, const char *data, size_t len)
{
    if (!x->send_flag || x->error || len == 0)
        return;
    if (x->sniffing) {
        size_t room = XHR_SNIFF_BYTES > x->held.len ? XHR_SNIFF_BYTES - x->held.len : 0;
        size_t take = len < room ? len : room;
        buf_append(&x->held, data, take);
        if (x->held.len < XHR_SNIFF_BYTES)
            return;
        unsigned gen = x->gen;
        release_sniffed(x, now);
        if (x->gen != gen || take == len)
            return;
        data += take;
        len -= take;
    }
    if (x->state >= XHR_HEADERS_RECEIVED && x->state < XHR_DONE)
        process_chunk(x, now, data, len);
}

int64_t xhr_next_timer(const xhr_model *x)
{
    return x->throttle_active ? x->throttle_deadline : -1;
}

void xhr_timer(xhr_model *x, int64_t now)
{
    if (!x->throttle_active || now < x->throttle_deadline)
        return;
    if (!x->deferred) {
        x->throttle_active = false;
        return;
    }
    x->deferred = false;
    x->throttle_deadline = now + XHR_PROGRESS_INTERVAL_US;
    dispatch_progress_progress(x, now, x->deferred_loaded);
}

void xhr_end(xhr_model *x, int64_t now)
{
    if (!x->send_flag || x->error)
        return;
    unsigned gen = x->gen;
    if (x->sniffing) {
        release_sniffed(x, now);
        if (x->gen != gen)
            return;
    }
    if (x->state < XHR_HEADERS_RECEIVED) /* no head: not a response */
        return;
    text_decoder_finish(&x->decoder, &x->text);
    x->state = XHR_DONE;
    x->send_flag = false;
    /* ReadyStateChange with kFlush: a deferred progress goes out first, already in DONE. */
    if (x->deferred) {
        x->deferred = false;
        if (!dispatch_progress_progress(x, now, x->deferred_loaded))
            return;
    }
    x->throttle_active = false;
    if (!fire_readystatechange(x, now))
        return;
    if (fire_progress_event(x, now, "load", x->length_computable, x->loaded, x->total))
        fire_progress_event(x, now, "loadend", x->length_computable, x->loaded, x->total);
}

/* ---- errors, timeout, abort ---------------------------------------------------------- */

/* The spec's "request error steps". */
static void request_error_steps(xhr_model *x, int64_t now, const char *ev, const char *upload_ev)
{
    unsigned gen = x->gen;
    x->state = XHR_DONE;
    x->send_flag = false;
    clear_response(x);
    x->error = true;
    if (!fire_readystatechange(x, now))
        return;
    if (!x->upload_complete) {
        x->upload_complete = true;
        if (x->upload_listener) {
            if (!fire_upload_event(x, now, upload_ev, false, 0, 0) ||
                !fire_upload_event(x, now, "upload.loadend", false, 0, 0))
                return;
        }
    }
    if (x->gen == gen && fire_progress_event(x, now, ev, false, 0, 0))
        fire_progress_event(x, now, "loadend", false, 0, 0);
}

void xhr_fail(xhr_model *x, int64_t now, const char *ev, const char *detail)
{
    if (!x->send_flag)
        return;
    trace_event *e = push(x, now, "network-error");
    if (e)
        trace_set_cstr(e, &e->detail, TF_DETAIL, detail ? detail : ev);
    bool timeout = !strcmp(ev, "timeout");
    request_error_steps(x, now, timeout ? "timeout" : "error",
                        timeout ? "upload.timeout" : "upload.error");
}

void xhr_abort(xhr_model *x, int64_t now)
{
    x->gen++;
    unsigned gen = x->gen;
    bool in_flight = (x->state == XHR_OPENED && x->send_flag) ||
                     x->state == XHR_HEADERS_RECEIVED || x->state == XHR_LOADING;
    if (in_flight)
        request_error_steps(x, now, "abort", "upload.abort");
    if (x->gen == gen && x->state == XHR_DONE) {
        x->state = XHR_UNSENT;
        clear_response(x);
        x->error = true;
    }
    trace_event *e = push(x, now, "abort()");
    if (e) {
        e->fields |= TF_RS | TF_STATUS;
        e->rs = x->state;
        e->status = x->status;
    }
}

/* ---- getAllResponseHeaders --------------------------------------------------------- */

typedef struct visible_header {
    char *name; /* lower-cased copy */
    const char *value;
    size_t position;
} visible_header;

/* By name, then by arrival, so repeated names combine in the order they came. */
static int compare_visible(const void *a, const void *b)
{
    const visible_header *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->position > y->position) - (x->position < y->position);
}

static bool is_forbidden_response_header(const char *name)
{
    return !strcasecmp(name, "set-cookie") || !strcasecmp(name, "set-cookie2");
}

void xhr_all_headers(const xhr_model *x, buf *out)
{
    if (x->error || x->state < XHR_HEADERS_RECEIVED || !x->n_headers)
        return;
    visible_header *v = calloc(x->n_headers, sizeof *v);
    if (!v)
        return;
    size_t m = 0;
    for (size_t i = 0; i < x->n_headers; i++) {
        if (is_forbidden_response_header(x->headers[i].name))
            continue;
        char *lower = strdup(x->headers[i].name);
        if (!lower)
            continue;
        for (char *p = lower; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        v[m++] = (visible_header){lower, x->headers[i].value, i};
    }
    qsort(v, m, sizeof *v, compare_visible);
    for (size_t i = 0; i < m;) {
        size_t j = i + 1;
        buf_printf(out, "%s: %s", v[i].name, v[i].value);
        while (j < m && !strcmp(v[j].name, v[i].name))
            buf_printf(out, ", %s", v[j++].value);
        buf_append(out, "\r\n", 2);
        i = j;
    }
    for (size_t i = 0; i < m; i++)
        free(v[i].name);
    free(v);
}
