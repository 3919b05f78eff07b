/* Turns a suite's `cors_policy:` into ordinary cases. Each case is what a page at a chosen
 * origin would do (an XMLHttpRequest with some method, header or credentials) and what it
 * must observe if the server grants exactly the policy: allowed requests load, undeclared
 * ones end in a network error. A few findings look at the raw response heads for mistakes
 * the browser does not punish at once (echoing any Origin, granting `null`, a missing
 * `Vary: Origin`, `*` beside credentials). */
#include "scenario/cors_policy.h"

#include "util/buf.h"
#include "util/url.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ANY_ORIGIN_PROBE "https://" CORS_PROBE_LABEL ".test"

/* ---- origins -------------------------------------------------------------------------- */

/* Where the host of a wildcard entry starts (at its "*." label), or NULL. */
static const char *wildcard_host(const char *entry)
{
    const char *sep = strstr(entry, "://");
    return sep && strncmp(sep + 3, "*.", 2) == 0 ? sep + 3 : NULL;
}

/* The origin a page takes to stand for an entry: the entry itself, the wildcard label
 * replaced by CORS_PROBE_LABEL, or ANY_ORIGIN_PROBE for "*". malloc'd. */
static char *concrete_origin(const char *entry)
{
    if (strcmp(entry, "*") == 0)
        return strdup(ANY_ORIGIN_PROBE);
    const char *host = wildcard_host(entry);
    if (!host)
        return strdup(entry);
    buf b = {0};
    buf_printf(&b, "%.*s%s%s", (int)(host - entry), entry, CORS_PROBE_LABEL, host + 1);
    return buf_take(&b);
}

static bool host_chars_ok(const url *u)
{
    for (const char *p = u->host; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '.' || (u->ipv6 && *p == ':')))
            return false;
    return u->host[0] != '\0';
}

bool cors_policy_origin_valid(const char *entry, char *why, size_t why_len)
{
    if (strcmp(entry, "*") == 0)
        return true;
    if (strcmp(entry, "null") == 0) {
        snprintf(why, why_len,
                 "`null` is the origin of every sandboxed iframe and file: page; "
                 "granting it grants them all, so it cannot be declared");
        return false;
    }
    const char *star = strchr(entry, '*'), *host = wildcard_host(entry);
    if (star && (star != host || strchr(star + 1, '*'))) {
        snprintf(why, why_len,
                 "a wildcard stands for one whole DNS label at the start of the "
                 "host: write e.g. https://*.example.test");
        return false;
    }
    char *concrete = concrete_origin(entry), *serialized = NULL;
    url u;
    bool ok = concrete && url_parse(&u, concrete, NULL, 0) == 0;
    if (ok) {
        serialized = url_origin(&u);
        ok = serialized && strcmp(serialized, concrete) == 0 && host_chars_ok(&u) &&
             (strcmp(u.scheme, "http") == 0 || strcmp(u.scheme, "https") == 0);
        url_free(&u);
    }
    /* how browsers would write it, when that helps (not for a wildcard's probe origin) */
    const char *hint = serialized && !host && strcmp(serialized, entry) ? serialized : NULL;
    if (!ok)
        snprintf(why, why_len,
                 "not an origin as browsers send it: write scheme://host[:port] "
                 "with http or https, the host in lower case, no default port, no path or "
                 "trailing slash%s%s",
                 hint ? ", e.g. " : "", hint ? hint : "");
    free(concrete);
    free(serialized);
    return ok;
}

bool cors_policy_origin_matches(const char *entry, const char *origin)
{
    if (strcmp(entry, "*") == 0)
        return true;
    const char *host = wildcard_host(entry);
    if (!host)
        return strcmp(entry, origin) == 0;
    size_t head = (size_t)(host - entry), tail = strlen(host + 1), n = strlen(origin);
    if (n < head + 1 + tail || strncmp(origin, entry, head) != 0 ||
        strcmp(origin + n - tail, host + 1) != 0)
        return false;
    size_t label = n - head - tail;
    return strcspn(origin + head, ".:/[]") >= label; /* one label: no dot in what "*" stood for */
}

static bool declared(const cors_policy *p, const char *origin)
{
    for (size_t i = 0; i < p->origins.n; i++)
        if (cors_policy_origin_matches(p->origins.items[i].text, origin))
            return true;
    return false;
}

/* An origin the policy does not declare, for the refusal probes. */
static const char *undeclared_origin(const cors_policy *p)
{
    static const char *const candidates[] = {
        CORS_UNDECLARED_ORIGIN,
        "https://evil.comet-probe.example",
        "http://evil.comet-probe.test",
    };
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++)
        if (!declared(p, candidates[i]))
            return candidates[i];
    return NULL;
}

/* A look-alike a careless matcher lets through: for https://app.example.test,
 * https://app.example.test.comet-probe.test (a prefix match takes it); for the wildcard host
 * "*.example.test", https://comet-probe-example.test (a suffix match without the dot takes
 * it). NULL when there is none (IPv6 hosts, "*"). malloc'd. */
static char *look_alike(const char *entry)
{
    const char *sep = strstr(entry, "://"), *host = wildcard_host(entry);
    if (!sep || strchr(entry, '['))
        return NULL;
    buf b = {0};
    if (host) {
        buf_printf(&b, "%.*s%s-%s", (int)(host - entry), entry, CORS_PROBE_LABEL, host + 2);
        return buf_take(&b);
    }
    const char *port = strchr(sep + 3, ':');
    size_t host_end = port ? (size_t)(port - entry) : strlen(entry);
    buf_printf(&b, "%.*s.%s.test%s", (int)host_end, entry, CORS_PROBE_LABEL, port ? port : "");
    return buf_take(&b);
}

/* ---- building cases ------------------------------------------------------------------- */

typedef struct gen {
    const cors_policy *p;
    suite *s;
    const char *url;
    char *prefix;          /* "cors policy: " or "cors policy (URL): " */
    const char *home;      /* the first declared origin, made concrete; NULL: none */
    const char *home_name; /* how names call it */
    const char *undeclared;
    bool oom;
} gen;

static char *dup_or_oom(gen *g, const char *s)
{
    char *p = s ? strdup(s) : NULL;
    if (s && !p)
        g->oom = true;
    return p;
}

/* Appends a case of one xhr step (method GET, no headers) from page origin `origin`;
 * NULL when memory ran out. The pointer is valid until the next add_case. */
static step *add_case(gen *g, src_pos pos, severity sev, const char *origin, const char *why,
                      const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static step *add_case(gen *g, src_pos pos, severity sev, const char *origin, const char *why,
                      const char *fmt, ...)
{
    suite *s = g->s;
    if (g->oom)
        return NULL;
    scenario_case *cases = realloc(s->cases, (s->n_cases + 1) * sizeof *cases);
    if (!cases) {
        g->oom = true;
        return NULL;
    }
    s->cases = cases;
    scenario_case *c = &s->cases[s->n_cases++];
    memset(c, 0, sizeof *c);
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    buf name = {0};
    buf_printf(&name, "%s%s", g->prefix, what);
    c->name = buf_take(&name);
    c->pos = pos;
    c->severity = sev;
    c->page_origin = dup_or_oom(g, origin);
    c->description = dup_or_oom(g, why);
    c->steps = calloc(1, sizeof *c->steps);
    if (!c->name || !c->steps) {
        g->oom = true;
        return NULL;
    }
    c->n_steps = 1;
    step *st = &c->steps[0];
    st->kind = STEP_XHR;
    st->pos = pos;
    st->u.xhr.method = dup_or_oom(g, "GET");
    st->u.xhr.url = dup_or_oom(g, g->url);
    st->u.xhr.repeat = 1;
    return g->oom ? NULL : st;
}

static void set_method(gen *g, step *st, const char *method)
{
    free(st->u.xhr.method);
    st->u.xhr.method = dup_or_oom(g, method);
}

static void add_request_header(gen *g, step *st, const char *name, const char *value)
{
    xhr_step *x = &st->u.xhr;
    kv *h = realloc(x->headers, (x->n_headers + 1) * sizeof *h);
    if (!h) {
        g->oom = true;
        return;
    }
    x->headers = h;
    h[x->n_headers++] = (kv){dup_or_oom(g, name), dup_or_oom(g, value)};
}

/* events: [names...], each "name" or "name*". */
static void expect_events(gen *g, step *st, src_pos pos, const char *const *names, size_t n)
{
    pattern *p = &st->expect.events;
    p->present = true;
    p->pos = pos;
    if (!(p->items = calloc(n, sizeof *p->items))) {
        g->oom = true;
        return;
    }
    p->n = n;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        bool star = names[i][len - 1] == '*';
        p->items[i].quant = star ? Q_STAR : Q_ONE;
        if (!(p->items[i].name = strndup(names[i], star ? len - 1 : len)))
            g->oom = true;
    }
}

static text_match *new_match(gen *g, text_match_kind kind, const char *value, src_pos pos)
{
    text_match *m = calloc(1, sizeof *m);
    if (!m) {
        g->oom = true;
        return NULL;
    }
    *m = (text_match){kind, dup_or_oom(g, value), pos};
    return m;
}

/* The page loads the response: no CORS error, no console message. */
static void expect_allowed(gen *g, step *st, src_pos pos)
{
    static const char *const events[] = {"loadstart", "progress*", "load", "loadend"};
    expect_events(g, st, pos, events, 4);
    st->expect.console = new_match(g, TM_ABSENT, NULL, pos);
}

/* The page sees a network error. */
static void expect_refused(gen *g, step *st, src_pos pos)
{
    static const char *const events[] = {"loadstart", "error", "loadend"};
    expect_events(g, st, pos, events, 3);
    st->expect.status = (opt_int){true, 0, pos};
}

static void expect_requests(gen *g, step *st, src_pos pos, const char *method, int64_t n)
{
    expect *e = &st->expect;
    request_count_expect *r = realloc(e->requests, (e->n_requests + 1) * sizeof *r);
    if (!r) {
        g->oom = true;
        return;
    }
    e->requests = r;
    r[e->n_requests++] =
        (request_count_expect){dup_or_oom(g, method), {true, n, pos}, {true, n, pos}};
}

/* A check of the raw response heads; method NULL: every response of the step. */
static void expect_wire(gen *g, step *st, src_pos pos, const char *method, const char *name,
                        text_match_kind kind, const char *value)
{
    expect *e = &st->expect;
    wire_header_expect *w = realloc(e->wire_headers, (e->n_wire_headers + 1) * sizeof *w);
    if (!w) {
        g->oom = true;
        return;
    }
    e->wire_headers = w;
    w[e->n_wire_headers++] = (wire_header_expect){
        dup_or_oom(g, method), dup_or_oom(g, name), {kind, dup_or_oom(g, value), pos}};
}

static void expect_header(gen *g, step *st, src_pos pos, const char *name, text_match_kind kind)
{
    expect *e = &st->expect;
    header_expect *h = realloc(e->headers, (e->n_headers + 1) * sizeof *h);
    if (!h) {
        g->oom = true;
        return;
    }
    e->headers = h;
    char *lower = dup_or_oom(g, name);
    for (char *q = lower; q && *q; q++)
        *q = (char)tolower((unsigned char)*q);
    h[e->n_headers++] = (header_expect){lower, {kind, NULL, pos}};
}

/* ---- the probes ------------------------------------------------------------------------- */

/* A value that keeps the header out of the CORS-safelisted set, so the request is
 * preflighted and the preflight must list the header. */
static const char *probe_value(const char *name)
{
    if (!strcasecmp(name, "content-type"))
        return "application/json";
    if (!strcasecmp(name, "accept"))
        return "application/comet-probe(1)"; /* "(" is a CORS-unsafe byte */
    if (!strcasecmp(name, "accept-language") || !strcasecmp(name, "content-language"))
        return "comet_probe"; /* "_" is not allowed in a safelisted language value */
    if (!strcasecmp(name, "range"))
        return "bytes=9-1"; /* only a range with start <= end is safelisted */
    return "comet-probe";
}

static bool safelisted_method(const char *m)
{
    return !strcasecmp(m, "GET") || !strcasecmp(m, "HEAD") || !strcasecmp(m, "POST");
}

static bool in_list(const cors_policy_list *l, const char *text)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcasecmp(l->items[i].text, text))
            return true;
    return false;
}

static void origins_allowed(gen *g)
{
    for (size_t i = 0; i < g->p->origins.n; i++) {
        const cors_policy_item *o = &g->p->origins.items[i];
        char *page = concrete_origin(o->text);
        step *st;
        if (!page) {
            g->oom = true;
            return;
        }
        if (!strcmp(o->text, "*"))
            st = add_case(g, o->pos, SEV_MUST, page, NULL, "any origin may GET (as %s)", page);
        else if (strcmp(page, o->text))
            st = add_case(g, o->pos, SEV_MUST, page, NULL, "%s may GET (as %s)", o->text, page);
        else
            st = add_case(g, o->pos, SEV_MUST, page, NULL, "%s may GET", o->text);
        if (st)
            expect_allowed(g, st, o->pos);
        free(page);
    }
}

static void methods_allowed(gen *g)
{
    for (size_t i = 0; i < g->p->methods.n; i++) {
        const cors_policy_item *m = &g->p->methods.items[i];
        if (safelisted_method(m->text))
            continue; /* GET, HEAD and POST need no permission */
        step *st = add_case(g, m->pos, SEV_MUST, g->home,
                            "The preflight's Access-Control-Allow-Methods must list the method.",
                            "%s may %s", g->home_name, m->text);
        if (!st)
            return;
        set_method(g, st, m->text);
        expect_allowed(g, st, m->pos);
        expect_requests(g, st, m->pos, "OPTIONS", 1);
    }
}

static void headers_allowed(gen *g)
{
    for (size_t i = 0; i < g->p->headers.n; i++) {
        const cors_policy_item *h = &g->p->headers.items[i];
        step *st = add_case(g, h->pos, SEV_MUST, g->home,
                            "The preflight's Access-Control-Allow-Headers must list the header.",
                            "%s may send %s", g->home_name, h->text);
        if (!st)
            return;
        add_request_header(g, st, h->text, probe_value(h->text));
        expect_allowed(g, st, h->pos);
        expect_requests(g, st, h->pos, "OPTIONS", 1);
    }
}

/* getAllResponseHeaders() shows the CORS-safelisted response headers and the declared
 * exposed ones, nothing else: a regex over its "name: value\r\n" lines. */
static char *visible_headers_regex(const cors_policy *p)
{
    static const char *const safelisted[] = {
        "cache-control", "content-language", "content-length", "content-type",
        "expires",       "last-modified",    "pragma",
    };
    buf b = {0};
    buf_append_str(&b, "^((");
    for (size_t i = 0; i < sizeof safelisted / sizeof safelisted[0]; i++)
        buf_printf(&b, "%s%s", i ? "|" : "", safelisted[i]);
    for (size_t i = 0; i < p->exposed.n; i++) {
        buf_append_str(&b, "|");
        for (const char *c = p->exposed.items[i].text; *c; c++) {
            if (strchr(".^$*+?()[]{}|\\", *c))
                buf_append_str(&b, "\\");
            buf_printf(&b, "%c", tolower((unsigned char)*c));
        }
    }
    buf_append_str(&b, "): [^\r\n]*\r\n)*$");
    return buf_take(&b);
}

static void exposed_headers(gen *g)
{
    const cors_policy_list *l = &g->p->exposed;
    bool star = false;
    for (size_t i = 0; i < l->n; i++) {
        const cors_policy_item *h = &l->items[i];
        if (!strcmp(h->text, "*")) {
            star = true;
            continue;
        }
        step *st = add_case(g, h->pos, SEV_MUST, g->home,
                            "Access-Control-Expose-Headers must list the header, and the "
                            "resource must send it.",
                            "%s can read %s", g->home_name, h->text);
        if (st)
            expect_header(g, st, h->pos, h->text, TM_PRESENT);
    }
    if (star)
        return;
    src_pos pos = l->n ? l->pos : g->p->pos;
    step *st = add_case(g, pos, SEV_MUST, g->home,
                        "A cross-origin page may read the CORS-safelisted response headers and "
                        "the declared exposed ones, no others.",
                        "%s cannot read undeclared response headers", g->home_name);
    char *re = visible_headers_regex(g->p);
    if (st && re)
        st->expect.all_headers = new_match(g, TM_REGEX, re, pos);
    else
        g->oom = true;
    free(re);
}

static void credentials(gen *g)
{
    const cors_policy *p = g->p;
    step *st;
    if (p->credentials) {
        st = add_case(g, p->credentials_pos, SEV_MUST, g->home,
                      "A credentialed response needs Access-Control-Allow-Origin equal to the "
                      "page's origin and Access-Control-Allow-Credentials: true.",
                      "%s may send credentials", g->home_name);
        if (st)
            expect_allowed(g, st, p->credentials_pos);
    } else {
        src_pos pos = p->credentials_pos.line ? p->credentials_pos : p->pos;
        st = add_case(g, pos, SEV_MUST, g->home,
                      "Without credentials in the policy, a credentialed request must fail: "
                      "no Access-Control-Allow-Credentials: true.",
                      "%s may not send credentials", g->home_name);
        if (st)
            expect_refused(g, st, pos);
    }
    if (st)
        st->u.xhr.with_credentials = true;
}

static void origins_refused(gen *g)
{
    const cors_policy *p = g->p;
    if (g->undeclared) {
        step *st = add_case(g, p->origins.pos, SEV_MUST, g->undeclared, NULL,
                            "an undeclared origin is refused (%s)", g->undeclared);
        if (st)
            expect_refused(g, st, p->origins.pos);
    }
    for (size_t i = 0; i < p->origins.n; i++) {
        const cors_policy_item *o = &p->origins.items[i];
        char *fake = look_alike(o->text);
        if (fake && !declared(p, fake)) {
            step *st = add_case(g, o->pos, SEV_MUST, fake,
                                "A server that matches origins by prefix or suffix lets other "
                                "sites in.",
                                "a look-alike of %s is refused (%s)", o->text, fake);
            if (st)
                expect_refused(g, st, o->pos);
        }
        free(fake);
    }
}

static void method_refused(gen *g)
{
    static const char *const candidates[] = {"DELETE", "PATCH", "PUT", "PROPFIND"};
    const cors_policy_list *l = &g->p->methods;
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        if (in_list(l, candidates[i]))
            continue;
        src_pos pos = l->n ? l->pos : g->p->pos;
        step *st = add_case(g, pos, SEV_MUST, g->home, NULL, "an undeclared method is refused (%s)",
                            candidates[i]);
        if (st) {
            set_method(g, st, candidates[i]);
            expect_refused(g, st, pos);
        }
        return;
    }
}

static void header_refused(gen *g)
{
    const cors_policy_list *l = &g->p->headers;
    if (in_list(l, CORS_UNDECLARED_HEADER))
        return;
    src_pos pos = l->n ? l->pos : g->p->pos;
    step *st = add_case(g, pos, SEV_MUST, g->home, NULL,
                        "an undeclared request header is refused (" CORS_UNDECLARED_HEADER ")");
    if (st) {
        add_request_header(g, st, CORS_UNDECLARED_HEADER, "1");
        expect_refused(g, st, pos);
    }
}

/* Makes the step preflighted with what the policy allows: a declared method, else a
 * declared header, else a POST whose upload listeners force the preflight. */
static void make_preflighted(gen *g, step *st)
{
    const cors_policy *p = g->p;
    for (size_t i = 0; i < p->methods.n; i++)
        if (!safelisted_method(p->methods.items[i].text)) {
            set_method(g, st, p->methods.items[i].text);
            return;
        }
    if (p->headers.n) {
        add_request_header(g, st, p->headers.items[0].text, probe_value(p->headers.items[0].text));
        return;
    }
    set_method(g, st, "POST");
    st->u.xhr.upload_listeners = true;
    st->u.xhr.body = dup_or_oom(g, "comet-probe");
    st->u.xhr.body_len = strlen("comet-probe");
}

static void max_age(gen *g)
{
    const cors_policy *p = g->p;
    char value[32];
    snprintf(value, sizeof value, "%lld", (long long)p->max_age_s);
    step *st = add_case(g, p->max_age_pos, SEV_MUST, g->home,
                        "Browsers cache a preflight for Access-Control-Max-Age seconds "
                        "(Chromium: 5 s without it, at most 2 h).",
                        "the preflight announces Access-Control-Max-Age: %s", value);
    if (!st)
        return;
    make_preflighted(g, st);
    expect_wire(g, st, p->max_age_pos, "OPTIONS", "access-control-max-age", TM_EQUALS, value);
}

/* Mistakes a browser does not always punish, seen in the raw response heads. */
static void findings(gen *g)
{
    const cors_policy *p = g->p;
    step *st;
    if (g->undeclared) {
        st = add_case(g, p->origins.pos, SEV_MUST, g->undeclared,
                      "Echoing any Origin into Access-Control-Allow-Origin lets every web site "
                      "read the responses (with the user's cookies, when credentials are "
                      "allowed).",
                      "an undeclared origin is not echoed back");
        if (st)
            expect_wire(g, st, p->origins.pos, NULL, "access-control-allow-origin", TM_NOT_EQUALS,
                        g->undeclared);
        st = add_case(g, p->origins.pos, SEV_MUST, g->undeclared,
                      "Access-Control-Allow-Origin: null grants every sandboxed iframe and "
                      "file: page, whose origin is `null`.",
                      "the null origin is not granted");
        if (st)
            expect_wire(g, st, p->origins.pos, NULL, "access-control-allow-origin", TM_NOT_EQUALS,
                        "null");
    }
    if (!g->home || in_list(&p->origins, "*"))
        return;
    st = add_case(g, p->origins.items[0].pos, SEV_SHOULD, g->home,
                  "A response whose Access-Control-Allow-Origin depends on the Origin must say "
                  "`Vary: Origin`, or a cache may serve one origin's answer to another.",
                  "responses that echo the origin carry Vary: Origin");
    if (st)
        expect_wire(g, st, p->origins.items[0].pos, NULL, "vary", TM_LIST_ITEM, "Origin");
    src_pos pos = p->credentials_pos.line ? p->credentials_pos : p->pos;
    st = add_case(g, pos, SEV_MAY, g->home,
                  "Browsers refuse `Access-Control-Allow-Origin: *` on credentialed requests, "
                  "with or without Access-Control-Allow-Credentials: true.",
                  "a credentialed request is not answered with Access-Control-Allow-Origin: *");
    if (st) {
        st->u.xhr.with_credentials = true;
        expect_wire(g, st, pos, NULL, "access-control-allow-origin", TM_NOT_EQUALS, "*");
    }
}

static void generate_for_url(gen *g)
{
    origins_allowed(g);
    if (g->home) {
        methods_allowed(g);
        headers_allowed(g);
        exposed_headers(g);
        credentials(g);
    }
    origins_refused(g);
    if (g->home) {
        method_refused(g);
        header_refused(g);
        if (g->p->has_max_age)
            max_age(g);
    }
    findings(g);
}

int cors_policy_generate(const cors_policy *p, suite *s)
{
    gen g = {.p = p, .s = s};
    char *home = p->origins.n ? concrete_origin(p->origins.items[0].text) : NULL;
    if (p->origins.n && !home)
        return -1;
    g.home = home;
    g.home_name = home;
    g.undeclared = in_list(&p->origins, "*") ? NULL : undeclared_origin(p);
    for (size_t i = 0; i < p->urls.n && !g.oom; i++) {
        buf prefix = {0};
        g.url = p->urls.items[i].text;
        if (p->urls.n > 1)
            buf_printf(&prefix, "cors policy (%s): ", g.url);
        else
            buf_append_str(&prefix, "cors policy: ");
        if (!(g.prefix = buf_take(&prefix)))
            g.oom = true;
        else
            generate_for_url(&g);
        free(g.prefix);
    }
    free(home);
    return g.oom ? -1 : 0;
}

static void list_free(cors_policy_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i].text);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

void cors_policy_free(cors_policy *p)
{
    list_free(&p->urls);
    list_free(&p->origins);
    list_free(&p->methods);
    list_free(&p->headers);
    list_free(&p->exposed);
}
