#include "run/fetch.h"

#include "browser/cookie_jar.h"
#include "browser/cors.h"
#include "browser/request_headers.h"
#include "http/content_decoder.h"
#include "util/buf.h"
#include "util/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_RESPONSE_HEADERS 1000

struct fetch {
    fetch_config config;
    fetch_callbacks cb;
    void *ud;
    fetch_destination destination;
    char *last_event_id;
    /* the request as it stands after redirects */
    char *method;
    url url;
    url page_url;
    bool has_page_url;
    char *page_origin;
    char *user_agent;
    header_list author;
    char *body;
    size_t body_len;
    int redirects;
    /* CORS */
    bool credentials;          /* credentials mode "include" */
    bool upload_listeners;
    cors_cache *preflight_cache;
    cookie_jar *cookies;
    char *origin;              /* the request's origin: the page's, or "null" once tainted */
    bool cors_tainting;        /* response tainting "cors": responses must pass the CORS check */
    bool preflighting;         /* the current attempt is the OPTIONS preflight */
    char *first_url;           /* for "(redirected from ...)" in console messages */
    /* the current attempt */
    transport *t;
    http1_parser parser;
    buf rbuf;
    header_list response_headers;
    char *reason;
    size_t reason_len;
    content_decoder *decoder;
    bool request_sent;
    bool response_started;
    bool is_redirect;
    bool preflight_answered;   /* handled once the parser returns */
    /* lifetime */
    int depth;      /* callbacks in progress: the struct is freed when it returns to 0 */
    bool cancelled;
};

static void fetch_destroy(fetch *f);
static void start_attempt(fetch *f);

/* ---- lifetime ----------------------------------------------------------------------- */

static void enter(fetch *f)
{
    f->depth++;
}

/* Returns false when the fetch was cancelled meanwhile (and frees it at depth 0). */
static bool leave(fetch *f)
{
    bool alive = !f->cancelled;
    if (--f->depth == 0 && f->cancelled)
        fetch_destroy(f);
    return alive;
}

static void reset_attempt(fetch *f)
{
    if (f->t) {
        transport_close(f->t, false);
        f->t = NULL;
    }
    buf_free(&f->rbuf);
    header_list_free(&f->response_headers);
    free(f->reason);
    f->reason = NULL;
    content_decoder_free(f->decoder);
    f->decoder = NULL;
    f->request_sent = f->response_started = f->is_redirect = f->preflight_answered = false;
}

static void fetch_destroy(fetch *f)
{
    reset_attempt(f);
    free(f->method);
    url_free(&f->url);
    if (f->has_page_url)
        url_free(&f->page_url);
    free(f->page_origin);
    free(f->user_agent);
    free(f->last_event_id);
    header_list_free(&f->author);
    free(f->body);
    free(f->origin);
    free(f->first_url);
    free(f);
}

void fetch_cancel(fetch *f)
{
    if (!f || f->cancelled)
        return;
    f->cancelled = true;
    if (f->t) {
        transport_close(f->t, false);
        f->t = NULL;
    }
    if (f->depth == 0)
        fetch_destroy(f);
}

/* Ends the fetch with a network error. */
static void fail(fetch *f, const char *detail, fetch_error kind)
{
    if (f->t) {
        transport_close(f->t, false);
        f->t = NULL;
    }
    enter(f);
    f->cb.on_error(f->ud, detail, kind);
    f->cancelled = true; /* nothing follows an error */
    leave(f);
}

/* A CORS failure: a network error to the page, Chromium's message in the console. */
static void blocked(fetch *f, const char *why)
{
    char *u = url_serialize(&f->url);
    buf b = {0};
    buf_printf(&b, "Access to %s at '%s' ",
               f->destination == FETCH_EVENTSOURCE ? "resource" : "XMLHttpRequest", u);
    if (f->redirects)
        buf_printf(&b, "(redirected from '%s') ", f->first_url);
    buf_printf(&b, "from origin '%s' has been blocked by CORS policy: %s", f->page_origin, why);
    enter(f);
    f->cb.on_console(f->ud, b.data);
    buf_free(&b);
    free(u);
    if (!leave(f))
        return;
    char detail[600];
    snprintf(detail, sizeof detail, "CORS: %s", why);
    fail(f, detail, FETCH_ERR_POLICY);
}

static bool is_cross_origin(const fetch *f)
{
    return f->has_page_url && !url_same_origin(&f->url, &f->page_url);
}

static bool is_cross_site(const fetch *f)
{
    return f->has_page_url && (strcmp(f->url.scheme, f->page_url.scheme) ||
                               strcmp(f->url.host, f->page_url.host));
}

/* Fetch's includeCredentials: credentials mode "include", or "same-origin" while the
 * response tainting is still basic. Preflights never carry credentials. */
static bool include_credentials(const fetch *f)
{
    return !f->preflighting && (f->credentials || !f->cors_tainting);
}

/* Set-Cookie reaches the jar only when credentials are included (and, for a cross-origin
 * response, after it passed the CORS check: callers check first). */
static void store_cookies(fetch *f)
{
    if (!f->cookies || !include_credentials(f))
        return;
    for (size_t i = 0; i < f->response_headers.n; i++)
        if (!strcasecmp(f->response_headers.items[i].name, "set-cookie"))
            cookie_jar_store(f->cookies, &f->url, f->response_headers.items[i].value);
}

/* ---- response parsing callbacks ---------------------------------------------------- */

static void on_status(void *ud, int minor, int status, const char *reason, size_t len)
{
    fetch *f = ud;
    header_list_free(&f->response_headers);
    free(f->reason);
    f->reason = strndup(reason, len);
    f->reason_len = len;
}

static void on_header(void *ud, const char *name, size_t nlen, const char *value, size_t vlen)
{
    fetch *f = ud;
    if (f->response_headers.n < MAX_RESPONSE_HEADERS)
        header_list_add_n(&f->response_headers, name, nlen, value, vlen);
}

static bool is_redirect_status(int status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

static void deliver_body(void *ud, const char *data, size_t len)
{
    fetch *f = ud;
    f->cb.on_body(f->ud, data, len);
}

/* What a page may read of the response headers: CORS-filtered for cross-origin. */
static void visible_headers(const fetch *f, header_list *out)
{
    for (size_t i = 0; i < f->response_headers.n; i++) {
        const header_field *h = &f->response_headers.items[i];
        if (!f->cors_tainting || cors_header_exposed(h->name, &f->response_headers, f->credentials))
            header_list_add(out, h->name, h->value);
    }
}

static void begin_response(fetch *f, int status)
{
    char why[512];
    if (f->cors_tainting && !cors_check(&f->response_headers, f->origin, f->credentials, why,
                                        sizeof why)) {
        blocked(f, why);
        return;
    }
    store_cookies(f);
    bool unsupported = false;
    const char *coding = header_list_get(&f->response_headers, "content-encoding");
    f->decoder = content_decoder_new(coding, deliver_body, f, &unsupported);
    char *u = url_serialize(&f->url);
    header_list visible = {0};
    visible_headers(f, &visible);
    fetch_response r = {
        .status = status,
        .reason = f->reason ? f->reason : "",
        .reason_len = f->reason ? f->reason_len : 0,
        .headers = &visible,
        .internal = &f->response_headers,
        .url = u,
        .content_length_known = f->parser.has_content_length &&
                                f->parser.framing != H1_FRAMING_CHUNKED,
        .content_length = f->parser.content_length,
    };
    f->response_started = true;
    f->cb.on_response(f->ud, &r);
    header_list_free(&visible);
    free(u);
}

/* The preflight's answer: allowed (cached, then the actual request) or blocked. */
static void finish_preflight(fetch *f, int status)
{
    preflight_result pr;
    char why[600];
    cors_verdict v = cors_preflight_check(status, &f->response_headers, f->origin, f->credentials,
                                          f->method, &f->author, &pr, why, sizeof why);
    if (v == CORS_BLOCKED) {
        blocked(f, why);
        return;
    }
    if (v == CORS_ALLOWED_LENIENT) {
        enter(f);
        f->cb.on_leniency(f->ud, why);
        if (!leave(f)) {
            preflight_result_free(&pr);
            return;
        }
    }
    if (f->preflight_cache) {
        char *u = url_serialize(&f->url);
        cors_cache_store(f->preflight_cache, f->origin, u, f->credentials, f->method, &f->author,
                         &pr, clock_now_us());
        free(u);
    }
    preflight_result_free(&pr);
    f->preflighting = false;
    reset_attempt(f);
    start_attempt(f);
}

static void report_head(fetch *f, int status)
{
    char *u = url_serialize(&f->url);
    f->cb.on_response_head(f->ud, f->preflighting ? "OPTIONS" : f->method, status, u,
                           &f->response_headers);
    free(u);
}

static void on_headers_done(void *ud, int status)
{
    fetch *f = ud;
    if (status < 200 || f->cancelled)
        return; /* interim responses are invisible to the page */
    report_head(f, status);
    if (f->preflighting) {
        f->preflight_answered = true;
        return;
    }
    if (is_redirect_status(status) && header_list_get(&f->response_headers, "location")) {
        f->is_redirect = true; /* handled once the parser returns */
        return;
    }
    begin_response(f, status);
}

static void on_body(void *ud, const char *data, size_t len)
{
    fetch *f = ud;
    if (f->cancelled || f->is_redirect || !f->response_started || f->preflighting)
        return;
    if (!f->decoder) {
        f->cb.on_body(f->ud, data, len);
    } else if (content_decoder_feed(f->decoder, data, len) < 0) {
        fail(f, content_decoder_error(f->decoder), FETCH_ERR_NETWORK);
    }
}

static void on_message_done(void *ud)
{
    fetch *f = ud;
    if (f->cancelled || f->is_redirect || f->preflight_answered)
        return;
    if (f->decoder && content_decoder_finish(f->decoder) < 0) {
        fail(f, content_decoder_error(f->decoder), FETCH_ERR_NETWORK);
        return;
    }
    f->cancelled = true; /* done: nothing follows */
    if (f->t) {
        transport_close(f->t, false);
        f->t = NULL;
    }
    f->cb.on_done(f->ud);
}

static void on_finding(void *ud, const http1_finding *finding)
{
    fetch *f = ud;
    if (f->cancelled)
        return;
    if (!finding->fatal) {
        char *u = url_serialize(&f->url);
        f->cb.on_finding(f->ud, finding, u);
        free(u);
        return;
    }
    char detail[256];
    snprintf(detail, sizeof detail, "%s at byte %llu of the response", finding->message,
             (unsigned long long)finding->offset);
    fail(f, detail, FETCH_ERR_NETWORK);
}

static const http1_callbacks parser_callbacks = {
    .on_status = on_status,
    .on_header = on_header,
    .on_headers_done = on_headers_done,
    .on_body = on_body,
    .on_message_done = on_message_done,
    .on_finding = on_finding,
};

/* ---- redirects ------------------------------------------------------------------------ */

static void follow_redirect(fetch *f)
{
    int status = f->parser.status;
    const char *location = header_list_get(&f->response_headers, "location");
    url next;
    char err[512];
    if (f->cors_tainting &&
        !cors_check(&f->response_headers, f->origin, f->credentials, err, sizeof err)) {
        blocked(f, err);
        return;
    }
    store_cookies(f);
    if (url_resolve(&next, &f->url, location, err, sizeof err) < 0 ||
        (strcmp(next.scheme, "http") && strcmp(next.scheme, "https"))) {
        fail(f, "redirect to an invalid URL", FETCH_ERR_POLICY);
        return;
    }
    if (++f->redirects > f->config.max_redirects) {
        url_free(&next);
        fail(f, "too many redirects (net::ERR_TOO_MANY_REDIRECTS)", FETCH_ERR_NETWORK);
        return;
    }
    /* Fetch, HTTP-redirect fetch step 12: POST becomes GET on 301/302; everything but
     * GET/HEAD becomes GET on 303. The body and its headers go with it. */
    bool to_get = ((status == 301 || status == 302) && !strcasecmp(f->method, "POST")) ||
                  (status == 303 && strcasecmp(f->method, "GET") && strcasecmp(f->method, "HEAD"));
    if (to_get) {
        free(f->method);
        f->method = strdup("GET");
        free(f->body);
        f->body = NULL;
        f->body_len = 0;
        header_list kept = {0};
        for (size_t i = 0; i < f->author.n; i++) {
            const char *n = f->author.items[i].name;
            if (strcasecmp(n, "content-type") && strcasecmp(n, "content-encoding") &&
                strcasecmp(n, "content-language") && strcasecmp(n, "content-location"))
                header_list_add(&kept, n, f->author.items[i].value);
        }
        header_list_free(&f->author);
        f->author = kept;
    }
    /* Fetch's tainted origin: a redirect to another origin from a URL that was not the
     * page's own origin makes the request's origin "null". */
    if (f->has_page_url && !url_same_origin(&next, &f->url) &&
        !url_same_origin(&f->page_url, &f->url)) {
        free(f->origin);
        f->origin = strdup("null");
    }
    url_free(&f->url);
    f->url = next;
    if (is_cross_origin(f))
        f->cors_tainting = true;
    char *u = url_serialize(&f->url);
    enter(f);
    f->cb.on_redirect(f->ud, status, u);
    free(u);
    if (!leave(f))
        return;
    reset_attempt(f);
    start_attempt(f);
}

/* ---- transport callbacks ------------------------------------------------------------ */

static void on_connected(void *ud)
{
    (void)ud; /* the request was queued before connecting */
}

static void on_drained(void *ud)
{
    fetch *f = ud;
    if (f->request_sent)
        return;
    f->request_sent = true;
    enter(f);
    f->cb.on_request_sent(f->ud);
    leave(f);
}

static void parse_input(fetch *f)
{
    while (!f->cancelled && f->rbuf.len) {
        size_t used = http1_parse(&f->parser, f->rbuf.data, f->rbuf.len);
        if (f->cancelled)
            return;
        buf_consume(&f->rbuf, used);
        if (f->is_redirect || f->preflight_answered)
            return; /* its body is never read: the browser moves on at once */
        if (f->parser.state == H1_UPGRADED) {
            fail(f, "unexpected 101 Switching Protocols", FETCH_ERR_NETWORK);
            return;
        }
        if (used == 0)
            return;
    }
}

static void on_data(void *ud, const char *data, size_t len)
{
    fetch *f = ud;
    enter(f);
    if (buf_append(&f->rbuf, data, len) < 0)
        fail(f, "response head too large", FETCH_ERR_NETWORK);
    else
        parse_input(f);
    if (!f->cancelled && f->preflight_answered)
        finish_preflight(f, f->parser.status);
    else if (!f->cancelled && f->is_redirect)
        follow_redirect(f);
    leave(f);
}

static void on_eof(void *ud)
{
    fetch *f = ud;
    enter(f);
    if (f->preflight_answered) {
        finish_preflight(f, f->parser.status);
    } else if (f->is_redirect) {
        follow_redirect(f);
    } else if (!f->cancelled) {
        if (f->t) {
            transport_close(f->t, false);
            f->t = NULL;
        }
        http1_eof(&f->parser); /* completes a close-delimited body or reports truncation */
        if (!f->cancelled)
            fail(f, "connection closed before the response ended", FETCH_ERR_NETWORK);
    }
    leave(f);
}

static void on_transport_error(void *ud, transport_error err, const char *detail)
{
    fetch *f = ud;
    char msg[512];
    snprintf(msg, sizeof msg, "%s%s%s", transport_error_name(err), detail && *detail ? ": " : "",
             detail ? detail : "");
    bool connect_failed = err == TE_RESOLVE || err == TE_CONNECT_REFUSED ||
                          err == TE_CONNECT_TIMEOUT || err == TE_CONNECT ||
                          err == TE_TLS_HANDSHAKE || err == TE_TLS_VERIFY;
    fail(f, msg, connect_failed && !f->request_sent ? FETCH_ERR_CONNECT : FETCH_ERR_NETWORK);
}

static const transport_callbacks transport_cbs = {
    .on_connected = on_connected,
    .on_data = on_data,
    .on_eof = on_eof,
    .on_drained = on_drained,
    .on_error = on_transport_error,
};

/* ---- attempts ---------------------------------------------------------------------------- */

static int write_request(fetch *f, buf *out)
{
    char *host = url_host_header(&f->url);
    char *page = f->has_page_url ? url_serialize(&f->page_url) : NULL;
    bool same_origin = !is_cross_origin(f);
    bool same_site = !is_cross_site(f);
    header_list h = {0};
    buf cookies = {0};
    if (f->cookies && include_credentials(f))
        cookie_jar_header(f->cookies, &f->url, is_cross_site(f), &cookies);
    browser_request br = {
        .method = f->method,
        .host = host,
        .origin = f->cors_tainting || !same_origin ? f->origin : f->page_origin,
        .referrer = page,
        .same_origin = same_origin,
        .same_site = same_site,
        .has_body = f->body != NULL,
        .body_len = f->body_len,
        .body_type = "text/plain;charset=UTF-8",
        .author = &f->author,
        .user_agent = f->user_agent,
        .accept_encoding = CONTENT_ACCEPT_ENCODING,
        .cookie = cookies.data,
        .eventsource = f->destination == FETCH_EVENTSOURCE,
        .last_event_id = f->last_event_id,
    };
    int rc;
    const char *method = f->method;
    if (f->preflighting) {
        buf acrh = {0};
        cors_unsafe_header_names(&f->author, &acrh);
        rc = browser_preflight_headers(&h, &br, acrh.data ? acrh.data : "");
        buf_free(&acrh);
        method = "OPTIONS";
    } else {
        rc = browser_request_headers(&h, &br);
    }
    size_t body_len = f->preflighting ? 0 : f->body_len;
    http1_header *fields = calloc(h.n ? h.n : 1, sizeof *fields);
    if (!fields)
        rc = -1;
    for (size_t i = 0; rc == 0 && i < h.n; i++)
        fields[i] = (http1_header){h.items[i].name, h.items[i].value};
    if (rc == 0)
        rc = http1_write_request(out, method, f->url.path_query, fields, h.n, body_len);
    if (rc == 0 && f->body && body_len)
        rc = buf_append(out, f->body, body_len);
    free(fields);
    header_list_free(&h);
    buf_free(&cookies);
    free(host);
    free(page);
    return rc;
}

static void start_attempt(fetch *f)
{
    buf req = {0};
    if (write_request(f, &req) < 0) {
        buf_free(&req);
        fail(f, "the request cannot be written (invalid method, URL or header)", FETCH_ERR_NETWORK);
        return;
    }
    bool tls = url_is_tls(&f->url);
    if (tls && !f->config.tls) {
        buf_free(&req);
        fail(f, "https is not available (no TLS context)", FETCH_ERR_CONNECT);
        return;
    }
    const char *method = f->preflighting ? "OPTIONS" : f->method;
    http1_parser_init(&f->parser, &parser_callbacks, f, !strcasecmp(method, "HEAD"));
    if (f->config.max_response_head)
        f->parser.limits.max_head = f->config.max_response_head;
    f->rbuf.limit = f->parser.limits.max_head + 65536;
    char *u = url_serialize(&f->url);
    size_t head_len = req.len - (f->preflighting ? 0 : f->body_len);
    char *head = strndup(req.data, head_len);
    enter(f);
    f->cb.on_request(f->ud, method, u, head ? head : "");
    free(u);
    free(head);
    if (!leave(f)) {
        buf_free(&req);
        return;
    }
    transport_opts o = {
        .connect_timeout_us = f->config.connect_timeout_us,
        .tls = tls ? f->config.tls : NULL,
        .sni = f->url.host,
    };
    f->t = transport_connect(f->config.loop, f->url.host, f->url.port, &o, &transport_cbs, f);
    if (!f->t) {
        buf_free(&req);
        fail(f, "out of memory", FETCH_ERR_CONNECT);
        return;
    }
    transport_write(f->t, req.data, req.len);
    buf_free(&req);
}

/* The request headers CORS looks at: the author's plus the body's default Content-Type. */
static bool needs_preflight(fetch *f)
{
    header_list h = {0};
    for (size_t i = 0; i < f->author.n; i++)
        header_list_add(&h, f->author.items[i].name, f->author.items[i].value);
    if (f->body && !header_list_get(&h, "content-type"))
        header_list_add(&h, "Content-Type", "text/plain;charset=UTF-8");
    bool needed = cors_needs_preflight(f->method, &h, f->upload_listeners && f->body);
    if (needed && f->preflight_cache) {
        char *u = url_serialize(&f->url);
        needed = !cors_cache_covers(f->preflight_cache, f->origin, u, f->credentials, f->method,
                                    &h, clock_now_us());
        free(u);
    }
    header_list_free(&h);
    return needed;
}

fetch *fetch_start(const fetch_config *c, const fetch_request *r, const fetch_callbacks *cb,
                   void *ud)
{
    fetch *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->config = *c;
    if (f->config.max_redirects <= 0)
        f->config.max_redirects = 20;
    f->cb = *cb;
    f->ud = ud;
    f->method = strdup(r->method);
    url_copy(&f->url, r->url);
    if (r->page_url) {
        url_copy(&f->page_url, r->page_url);
        f->has_page_url = true;
    }
    f->page_origin = r->page_origin ? strdup(r->page_origin) : NULL;
    f->user_agent = r->user_agent ? strdup(r->user_agent) : NULL;
    f->destination = r->destination;
    f->last_event_id = r->last_event_id ? strdup(r->last_event_id) : NULL;
    for (size_t i = 0; r->author && i < r->author->n; i++)
        header_list_add(&f->author, r->author->items[i].name, r->author->items[i].value);
    if (r->body) {
        f->body = malloc(r->body_len ? r->body_len : 1);
        if (f->body && r->body_len)
            memcpy(f->body, r->body, r->body_len);
        f->body_len = r->body_len;
    }
    f->credentials = r->with_credentials;
    f->upload_listeners = r->upload_listeners;
    f->preflight_cache = r->preflight_cache;
    f->cookies = r->cookies;
    f->origin = strdup(r->page_origin ? r->page_origin : "null");
    f->first_url = url_serialize(&f->url);
    f->cors_tainting = is_cross_origin(f);
    if (f->cors_tainting && f->destination == FETCH_XHR)
        f->preflighting = needs_preflight(f);
    enter(f);
    start_attempt(f);
    return leave(f) ? f : NULL;
}
