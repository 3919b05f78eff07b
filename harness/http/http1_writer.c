/* HTTP/1.1 request writer (RFC 9112 3): refuses anything that could split the request. */
#include "http/http1.h"
#include "util/buf.h"

#include <string.h>
#include <strings.h>

/* tchar (RFC 9110 5.6.2) */
static bool is_token_char(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_token(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (!is_token_char((unsigned char)*s))
            return false;
    return true;
}

/* No controls (CR, LF, TAB, ...), no space: either would end the request-target early. */
static bool is_valid_target(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == 0x7f)
            return false;
    return true;
}

/* A C string cannot hold NUL; CR or LF would start a new header line. */
static bool is_valid_value(const char *s)
{
    return s && s[strcspn(s, "\r\n")] == '\0';
}

static bool name_is(const char *name, const char *lower)
{
    return strcasecmp(name, lower) == 0;
}

static bool method_implies_body(const char *method)
{
    return !strcmp(method, "POST") || !strcmp(method, "PUT") || !strcmp(method, "PATCH");
}

/* Validates every header; tells whether the caller framed the body itself. */
static bool check_headers(const http1_header *headers, size_t n, bool *framed)
{
    *framed = false;
    for (size_t i = 0; i < n; i++) {
        if (!is_token(headers[i].name) || !is_valid_value(headers[i].value))
            return false;
        /* Content-Length next to Transfer-Encoding is forbidden (RFC 9112 6.2). */
        if (name_is(headers[i].name, "content-length") ||
            name_is(headers[i].name, "transfer-encoding"))
            *framed = true;
    }
    return true;
}

static int append_request(buf *out, const char *method, const char *target,
                          const http1_header *headers, size_t n, bool add_length,
                          size_t body_len)
{
    if (buf_printf(out, "%s %s HTTP/1.1\r\n", method, target) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (buf_printf(out, "%s: %s\r\n", headers[i].name, headers[i].value) < 0)
            return -1;
    if (add_length && buf_printf(out, "Content-Length: %zu\r\n", body_len) < 0)
        return -1;
    return buf_append(out, "\r\n", 2);
}

int http1_write_request(struct buf *out, const char *method, const char *target,
                        const http1_header *headers, size_t n_headers, size_t body_len)
{
    bool framed;
    if (!is_token(method) || !is_valid_target(target) || (n_headers && !headers) ||
        !check_headers(headers, n_headers, &framed))
        return -1;
    bool add_length = !framed && (body_len > 0 || method_implies_body(method));
    size_t saved = out->len;
    if (append_request(out, method, target, headers, n_headers, add_length, body_len) < 0) {
        out->len = saved; /* all or nothing */
        if (out->data)
            out->data[saved] = '\0';
        return -1;
    }
    return 0;
}
