#include "browser/cors.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool cors_safelisted_method(const char *m)
{
    return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "POST");
}

static bool is_unsafe_byte(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f || strchr("\"():<>?@[\\]{}", c);
}

static bool value_has_unsafe_byte(const char *v)
{
    for (; *v; v++)
        if (is_unsafe_byte((unsigned char)*v))
            return true;
    return false;
}

static bool is_language_value(const char *v)
{
    for (; *v; v++)
        if (!isalnum((unsigned char)*v) && !strchr(" *,-.;=", *v))
            return false;
    return true;
}

/* "bytes=N-" or "bytes=N-M" with N <= M: the only Range value that stays simple. */
static bool is_simple_range(const char *v)
{
    if (strncmp(v, "bytes=", 6))
        return false;
    v += 6;
    char *end;
    if (!isdigit((unsigned char)*v))
        return false;
    unsigned long long a = strtoull(v, &end, 10);
    if (*end != '-')
        return false;
    v = end + 1;
    if (!*v)
        return true;
    if (!isdigit((unsigned char)*v))
        return false;
    unsigned long long b = strtoull(v, &end, 10);
    return !*end && a <= b;
}

static void mime_essence(const char *v, char *out, size_t len)
{
    size_t n = 0;
    while (*v == ' ' || *v == '\t')
        v++;
    while (*v && *v != ';' && *v != ' ' && *v != '\t' && n + 1 < len)
        out[n++] = (char)tolower((unsigned char)*v++);
    out[n] = '\0';
}

bool cors_safelisted_request_header(const char *name, const char *value)
{
    if (strlen(value) > 128)
        return false;
    if (!strcasecmp(name, "accept"))
        return !value_has_unsafe_byte(value);
    if (!strcasecmp(name, "accept-language") || !strcasecmp(name, "content-language"))
        return is_language_value(value);
    if (!strcasecmp(name, "content-type")) {
        if (value_has_unsafe_byte(value))
            return false;
        char essence[64];
        mime_essence(value, essence, sizeof essence);
        return !strcmp(essence, "application/x-www-form-urlencoded") ||
               !strcmp(essence, "multipart/form-data") || !strcmp(essence, "text/plain");
    }
    if (!strcasecmp(name, "range"))
        return is_simple_range(value);
    return false;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t cors_unsafe_header_names(const header_list *h, buf *out)
{
    char **names = calloc(h->n ? h->n : 1, sizeof *names);
    size_t n = 0, safelisted_bytes = 0;
    if (!names)
        return 0;
    for (size_t i = 0; i < h->n; i++)
        if (cors_safelisted_request_header(h->items[i].name, h->items[i].value))
            safelisted_bytes += strlen(h->items[i].value);
    /* Safelisted values above 1024 bytes in all make every one of them unsafe. */
    bool all_unsafe = safelisted_bytes > 1024;
    for (size_t i = 0; i < h->n; i++) {
        if (!all_unsafe && cors_safelisted_request_header(h->items[i].name, h->items[i].value))
            continue;
        char *lower = strdup(h->items[i].name);
        if (!lower)
            continue;
        for (char *p = lower; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        names[n++] = lower;
    }
    qsort(names, n, sizeof *names, compare_strings);
    size_t unique = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && !strcmp(names[i], names[i - 1]))
            continue;
        buf_printf(out, "%s%s", unique ? "," : "", names[i]);
        unique++;
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return unique;
}

bool cors_needs_preflight(const char *method, const header_list *request_headers,
                          bool upload_listeners_with_body)
{
    if (upload_listeners_with_body || !cors_safelisted_method(method))
        return true;
    buf names = {0};
    size_t n = cors_unsafe_header_names(request_headers, &names);
    buf_free(&names);
    return n > 0;
}

/* Every value of a header, joined with ", " as a combined field value; NULL when absent. */
static char *combined_value(const header_list *h, const char *name)
{
    buf b = {0};
    bool found = false;
    for (size_t i = 0; i < h->n; i++) {
        if (strcasecmp(h->items[i].name, name))
            continue;
        buf_printf(&b, "%s%s", found ? ", " : "", h->items[i].value);
        found = true;
    }
    return found ? buf_take(&b) : NULL;
}

static const char credentials_note[] =
    " The credentials mode of requests initiated by the XMLHttpRequest is controlled by the "
    "withCredentials attribute.";

bool cors_check(const header_list *response, const char *origin, bool credentials, char *msg,
                size_t msg_len)
{
    char *acao = combined_value(response, "access-control-allow-origin");
    bool ok = false;
    if (!acao) {
        snprintf(msg, msg_len,
                 "No 'Access-Control-Allow-Origin' header is present on the requested resource.");
    } else if (strchr(acao, ',')) {
        snprintf(msg, msg_len,
                 "The 'Access-Control-Allow-Origin' header contains multiple values '%s', but "
                 "only one is allowed.",
                 acao);
    } else if (!strcmp(acao, "*") && credentials) {
        snprintf(msg, msg_len,
                 "The value of the 'Access-Control-Allow-Origin' header in the response must not "
                 "be the wildcard '*' when the request's credentials mode is 'include'.%s",
                 credentials_note);
    } else if (strcmp(acao, "*") && strcmp(acao, origin)) {
        snprintf(msg, msg_len,
                 "The 'Access-Control-Allow-Origin' header has a value '%s' that is not equal to "
                 "the supplied origin.",
                 acao);
    } else if (credentials) {
        char *acac = combined_value(response, "access-control-allow-credentials");
        ok = acac && !strcmp(acac, "true");
        if (!ok)
            snprintf(msg, msg_len,
                     "The value of the 'Access-Control-Allow-Credentials' header in the response "
                     "is '%s' which must be 'true' when the request's credentials mode is "
                     "'include'.%s",
                     acac ? acac : "", credentials_note);
        free(acac);
    } else {
        ok = true;
    }
    free(acao);
    return ok;
}

static int64_t parse_max_age(const header_list *h)
{
    const char *v = header_list_get(h, "access-control-max-age");
    if (!v)
        return CORS_PREFLIGHT_DEFAULT_MAX_AGE_US;
    char *end;
    long long secs = strtoll(v, &end, 10);
    if (end == v || *end || secs < 0)
        return CORS_PREFLIGHT_DEFAULT_MAX_AGE_US;
    if (secs > CORS_PREFLIGHT_MAX_MAX_AGE_US / 1000000)
        return CORS_PREFLIGHT_MAX_MAX_AGE_US;
    return secs * 1000000;
}

cors_verdict cors_preflight_check(int status, const header_list *response, const char *origin,
                                  bool credentials, const char *method,
                                  const header_list *request_headers, preflight_result *result,
                                  char *msg, size_t msg_len)
{
    static const char prefix[] = "Response to preflight request doesn't pass access control "
                                 "check: ";
    char why[512];
    memset(result, 0, sizeof *result);
    if (status >= 300 && status < 400) {
        snprintf(msg, msg_len, "%sRedirect is not allowed for a preflight request.", prefix);
        return CORS_BLOCKED;
    }
    if (!cors_check(response, origin, credentials, why, sizeof why)) {
        snprintf(msg, msg_len, "%s%s", prefix, why);
        return CORS_BLOCKED;
    }
    if (status < 200 || status > 299) {
        snprintf(msg, msg_len, "%sIt does not have HTTP ok status.", prefix);
        return CORS_BLOCKED;
    }
    result->methods = combined_value(response, "access-control-allow-methods");
    result->headers = combined_value(response, "access-control-allow-headers");
    result->max_age_us = parse_max_age(response);
    bool method_star = !credentials && http_list_has(result->methods, "*", true);
    if (!cors_safelisted_method(method) && !method_star &&
        !http_list_has(result->methods, method, true)) {
        snprintf(msg, msg_len,
                 "Method %s is not allowed by Access-Control-Allow-Methods in preflight response.",
                 method);
        preflight_result_free(result);
        return CORS_BLOCKED;
    }
    bool header_star = !credentials && http_list_has(result->headers, "*", true);
    buf names = {0};
    cors_unsafe_header_names(request_headers, &names);
    cors_verdict verdict = CORS_ALLOWED;
    char *save = NULL;
    for (char *name = names.data ? strtok_r(names.data, ",", &save) : NULL; name;
         name = strtok_r(NULL, ",", &save)) {
        if (http_list_has(result->headers, name, false))
            continue;
        /* The spec: `*` never covers Authorization. Chromium 156: it does. */
        if (header_star && !strcmp(name, "authorization")) {
            snprintf(msg, msg_len,
                     "Access-Control-Allow-Headers: * covers Authorization in Chromium, but the "
                     "Fetch standard requires it to be listed by name");
            verdict = CORS_ALLOWED_LENIENT;
            continue;
        }
        if (header_star)
            continue;
        snprintf(msg, msg_len,
                 "Request header field %s is not allowed by Access-Control-Allow-Headers in "
                 "preflight response.",
                 name);
        verdict = CORS_BLOCKED;
        break;
    }
    buf_free(&names);
    if (verdict == CORS_BLOCKED)
        preflight_result_free(result);
    return verdict;
}

void preflight_result_free(preflight_result *r)
{
    free(r->methods);
    free(r->headers);
    r->methods = r->headers = NULL;
}

/* ---- preflight cache ------------------------------------------------------------------ */

static char *cache_key(const char *origin, const char *url, bool credentials)
{
    buf b = {0};
    buf_printf(&b, "%s\n%s\n%d", origin, url, credentials);
    return buf_take(&b);
}

static bool cache_has(const cors_cache *c, const char *key, const char *name, bool is_method,
                      int64_t now_us)
{
    for (size_t i = 0; i < c->n; i++) {
        const cors_cache_entry *e = &c->items[i];
        if (e->is_method == is_method && e->expires_us > now_us && !strcmp(e->key, key) &&
            (is_method ? !strcmp(e->name, name) : !strcasecmp(e->name, name)))
            return true;
    }
    return false;
}

bool cors_cache_covers(const cors_cache *c, const char *origin, const char *url, bool credentials,
                       const char *method, const header_list *request_headers, int64_t now_us)
{
    char *key = cache_key(origin, url, credentials);
    bool covered = cors_safelisted_method(method) || cache_has(c, key, method, true, now_us);
    buf names = {0};
    cors_unsafe_header_names(request_headers, &names);
    char *save = NULL;
    for (char *name = names.data ? strtok_r(names.data, ",", &save) : NULL; covered && name;
         name = strtok_r(NULL, ",", &save))
        covered = cache_has(c, key, name, false, now_us);
    buf_free(&names);
    free(key);
    return covered;
}

static void cache_add(cors_cache *c, const char *key, const char *name, bool is_method,
                      int64_t expires)
{
    for (size_t i = 0; i < c->n; i++) {
        cors_cache_entry *e = &c->items[i];
        if (e->is_method == is_method && !strcmp(e->key, key) && !strcasecmp(e->name, name)) {
            e->expires_us = expires;
            return;
        }
    }
    cors_cache_entry *items = realloc(c->items, (c->n + 1) * sizeof *items);
    if (!items)
        return;
    c->items = items;
    c->items[c->n++] = (cors_cache_entry){strdup(key), strdup(name), is_method, expires};
}

void cors_cache_store(cors_cache *c, const char *origin, const char *url, bool credentials,
                      const char *method, const header_list *request_headers,
                      const preflight_result *r, int64_t now_us)
{
    if (r->max_age_us <= 0)
        return;
    char *key = cache_key(origin, url, credentials);
    int64_t expires = now_us + r->max_age_us;
    if (!cors_safelisted_method(method))
        cache_add(c, key, method, true, expires);
    buf names = {0};
    cors_unsafe_header_names(request_headers, &names);
    char *save = NULL;
    for (char *name = names.data ? strtok_r(names.data, ",", &save) : NULL; name;
         name = strtok_r(NULL, ",", &save))
        cache_add(c, key, name, false, expires);
    buf_free(&names);
    free(key);
}

void cors_cache_free(cors_cache *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->items[i].key);
        free(c->items[i].name);
    }
    free(c->items);
    *c = (cors_cache){0};
}

/* ---- exposed response headers ----------------------------------------------------------- */

bool cors_header_exposed(const char *name, const header_list *response, bool credentials)
{
    static const char *const safelisted[] = {
        "cache-control", "content-language", "content-length", "content-type",
        "expires",       "last-modified",    "pragma",
    };
    for (size_t i = 0; i < sizeof safelisted / sizeof safelisted[0]; i++)
        if (!strcasecmp(name, safelisted[i]))
            return true;
    char *expose = combined_value(response, "access-control-expose-headers");
    bool exposed = http_list_has(expose, name, false) ||
                   (!credentials && http_list_has(expose, "*", true) && strcasecmp(name, "set-cookie"));
    free(expose);
    return exposed;
}
