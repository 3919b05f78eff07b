#include "proto/ws_handshake.h"

#include "browser/request_headers.h"
#include "util/buf.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define HANDSHAKE_ERROR "Error during WebSocket handshake: "

int ws_random_bytes(void *ud, uint8_t *out, size_t n)
{
    (void)ud;
    return n <= (size_t)0x7fffffff && RAND_bytes(out, (int)n) == 1 ? 0 : -1;
}

void ws_key_from_nonce(const uint8_t nonce[16], char key[WS_KEY_LEN + 1])
{
    EVP_EncodeBlock((unsigned char *)key, nonce, 16);
}

int ws_accept_for_key(const char *key, char accept[WS_ACCEPT_LEN + 1])
{
    char in[128];
    int n = snprintf(in, sizeof in, "%s%s", key, WS_GUID);
    if (n < 0 || (size_t)n >= sizeof in)
        return -1;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (EVP_Digest(in, (size_t)n, md, &md_len, EVP_sha1(), NULL) != 1 || md_len != 20)
        return -1;
    EVP_EncodeBlock((unsigned char *)accept, md, (int)md_len);
    return 0;
}

/* ---- request -------------------------------------------------------------------------- */

static bool safe_value(const char *s)
{
    return s && !strpbrk(s, "\r\n");
}

static int add_line(buf *out, const char *name, const char *value)
{
    if (!safe_value(name) || !safe_value(value))
        return -1;
    return buf_printf(out, "%s: %s\r\n", name, value);
}

int ws_write_handshake(buf *out, const ws_handshake_request *r, const char *key)
{
    size_t start = out->len;
    buf protocols = {0};
    int rc = 0;
    for (size_t i = 0; i < r->n_protocols; i++)
        rc |= buf_printf(&protocols, "%s%s", i ? ", " : "", r->protocols[i]);
    if (!safe_value(r->target) || strchr(r->target, ' '))
        rc = -1;
    else
        rc |= buf_printf(out, "GET %s HTTP/1.1\r\n", r->target);
    /* Chromium 156's order, as recorded in ../shared/browser-truth */
    rc |= add_line(out, "Host", r->host);
    rc |= add_line(out, "Connection", "Upgrade");
    rc |= add_line(out, "Pragma", "no-cache");
    rc |= add_line(out, "Cache-Control", "no-cache");
    rc |= add_line(out, "User-Agent", r->user_agent ? r->user_agent : BROWSER_USER_AGENT);
    rc |= add_line(out, "Upgrade", "websocket");
    if (r->origin)
        rc |= add_line(out, "Origin", r->origin);
    rc |= add_line(out, "Sec-WebSocket-Version", "13");
    rc |= add_line(out, "Accept-Encoding", "gzip, deflate, br, zstd");
    rc |= add_line(out, "Accept-Language", "en-US,en;q=0.9");
    if (r->cookie)
        rc |= add_line(out, "Cookie", r->cookie);
    rc |= add_line(out, "Sec-WebSocket-Key", key);
    /* no Sec-WebSocket-Extensions: comet does not implement permessage-deflate */
    if (r->n_protocols)
        rc |= add_line(out, "Sec-WebSocket-Protocol", protocols.data);
    for (size_t i = 0; i < r->n_extra; i++)
        rc |= add_line(out, r->extra[i].name, r->extra[i].value);
    rc |= buf_append(out, "\r\n", 2);
    buf_free(&protocols);
    if (rc) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        return -1;
    }
    return 0;
}

/* RFC 6455 section 4.1: a subprotocol is an RFC 2616 token. */
static bool is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x21 || c > 0x7e || strchr("()<>@,;:\\\"/[]?={}", c))
            return false;
    }
    return true;
}

bool ws_protocols_valid(const char *const *protocols, size_t n, char *message, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (!is_token(protocols[i])) {
            snprintf(message, len,
                     "Failed to construct 'WebSocket': The subprotocol '%s' is invalid.",
                     protocols[i]);
            return false;
        }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(protocols[i], protocols[j])) {
                snprintf(message, len,
                         "Failed to construct 'WebSocket': The subprotocol '%s' is duplicated.",
                         protocols[i]);
                return false;
            }
    return true;
}

/* ---- response ------------------------------------------------------------------------- */

/* One value of a header as Chromium's HttpResponseHeaders enumerates them: each line's value
 * split at commas, trimmed, empty pieces skipped (an empty line gives one empty value). */
typedef struct header_value {
    const char *s;
    size_t len;
} header_value;

typedef struct value_iter {
    const header_field *h;
    size_t n;
    const char *name;
    size_t line;      /* next line to look at */
    const char *pos;  /* inside the current line's value, or NULL */
} value_iter;

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static header_value trimmed(const char *s, size_t len)
{
    while (len && is_space(*s)) {
        s++;
        len--;
    }
    while (len && is_space(s[len - 1]))
        len--;
    return (header_value){s, len};
}

static bool next_value(value_iter *it, header_value *v)
{
    for (;;) {
        if (!it->pos) {
            while (it->line < it->n && strcasecmp(it->h[it->line].name, it->name))
                it->line++;
            if (it->line >= it->n)
                return false;
            const char *value = it->h[it->line++].value;
            header_value all = trimmed(value, strlen(value));
            if (!all.len || !memchr(all.s, ',', all.len)) {
                *v = all;
                return true;
            }
            it->pos = value;
        }
        const char *comma = strchr(it->pos, ',');
        size_t len = comma ? (size_t)(comma - it->pos) : strlen(it->pos);
        *v = trimmed(it->pos, len);
        it->pos = comma ? comma + 1 : NULL;
        if (v->len)
            return true;
    }
}

static value_iter values_of(const header_field *h, size_t n, const char *name)
{
    return (value_iter){h, n, name, 0, NULL};
}

static bool value_is(header_value v, const char *s, bool ignore_case)
{
    size_t n = strlen(s);
    return v.len == n && !(ignore_case ? strncasecmp(v.s, s, n) : strncmp(v.s, s, n));
}

static void failf(ws_handshake_result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void failf(ws_handshake_result *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(res->message, sizeof res->message, "%s", HANDSHAKE_ERROR);
    vsnprintf(res->message + n, sizeof res->message - (size_t)n, fmt, ap);
    va_end(ap);
    res->ok = false;
}

/* The single value of a header that must appear once; false with the failure set. */
static bool single_value(const header_field *h, size_t n, const char *name, header_value *v,
                         ws_handshake_result *res)
{
    value_iter it = values_of(h, n, name);
    if (!next_value(&it, v)) {
        failf(res, "'%s' header is missing", name);
        return false;
    }
    header_value extra;
    if (next_value(&it, &extra)) {
        failf(res, "'%s' header must not appear more than once in a response", name);
        return false;
    }
    return true;
}

static bool check_upgrade(const header_field *h, size_t n, ws_handshake_result *res)
{
    header_value v;
    if (!single_value(h, n, "Upgrade", &v, res))
        return false;
    if (!value_is(v, "websocket", true)) {
        failf(res, "'Upgrade' header value is not 'WebSocket': %.*s", (int)v.len, v.s);
        return false;
    }
    return true;
}

static bool check_accept(const header_field *h, size_t n, const char *expected,
                         ws_handshake_result *res)
{
    header_value v;
    if (!single_value(h, n, "Sec-WebSocket-Accept", &v, res))
        return false;
    if (!value_is(v, expected, false)) {
        failf(res, "Incorrect 'Sec-WebSocket-Accept' header value");
        return false;
    }
    return true;
}

static bool check_connection(const header_field *h, size_t n, ws_handshake_result *res)
{
    value_iter it = values_of(h, n, "Connection");
    header_value v;
    bool any = false;
    while (next_value(&it, &v)) {
        any = true;
        if (value_is(v, "upgrade", true))
            return true;
    }
    if (!any)
        failf(res, "'Connection' header is missing");
    else
        failf(res, "'Connection' header value must contain 'Upgrade'");
    return false;
}

static const char *offered(header_value v, const char *const *protocols, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (value_is(v, protocols[i], false))
            return protocols[i];
    return NULL;
}

/* Chromium's ValidateSubProtocol, its precedence of messages included. */
static bool check_protocol(const header_field *h, size_t n, const char *const *protocols,
                           size_t n_protocols, ws_handshake_result *res)
{
    value_iter it = values_of(h, n, "Sec-WebSocket-Protocol");
    header_value v = {"", 0};
    const char *chosen = NULL;
    size_t count = 0;
    bool invalid = false;
    while (!(invalid && count > 1) && next_value(&it, &v)) {
        chosen = offered(v, protocols, n_protocols);
        invalid |= !chosen;
        count++;
    }
    if (count > 1)
        failf(res, "'Sec-WebSocket-Protocol' header must not appear more than once in a response");
    else if (count && !n_protocols)
        failf(res, "Response must not include 'Sec-WebSocket-Protocol' header if not present in "
                   "request: %.*s", (int)v.len, v.s);
    else if (invalid)
        failf(res, "'Sec-WebSocket-Protocol' header value '%.*s' in response does not match any "
                   "of sent values", (int)v.len, v.s);
    else if (n_protocols && !count)
        failf(res, "Sent non-empty 'Sec-WebSocket-Protocol' header but no response was received");
    else {
        res->protocol = chosen ? chosen : "";
        return true;
    }
    return false;
}

/* comet offered no extension, so any extension is one it does not support. */
static bool check_extensions(const header_field *h, size_t n, ws_handshake_result *res)
{
    value_iter it = values_of(h, n, "Sec-WebSocket-Extensions");
    header_value v;
    if (!next_value(&it, &v))
        return true;
    size_t name = 0;
    while (name < v.len && !is_space(v.s[name]) && v.s[name] != ';' && v.s[name] != '=' &&
           v.s[name] != '"')
        name++;
    if (!name)
        failf(res, "'Sec-WebSocket-Extensions' header value is rejected by the parser: %.*s",
              (int)v.len, v.s);
    else
        failf(res, "Found an unsupported extension '%.*s' in 'Sec-WebSocket-Extensions' header",
              (int)name, v.s);
    return false;
}

void ws_check_response(int status, const header_field *headers, size_t n_headers,
                       const char *expected_accept, const char *const *protocols,
                       size_t n_protocols, ws_handshake_result *res)
{
    memset(res, 0, sizeof *res);
    res->protocol = "";
    if (status != 101) {
        failf(res, "Unexpected response code: %d", status);
        return;
    }
    res->ok = check_upgrade(headers, n_headers, res) &&
              check_accept(headers, n_headers, expected_accept, res) &&
              check_connection(headers, n_headers, res) &&
              check_protocol(headers, n_headers, protocols, n_protocols, res) &&
              check_extensions(headers, n_headers, res);
}
