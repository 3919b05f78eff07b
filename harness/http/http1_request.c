/* HTTP/1.1 request head parser: see http1_request.h. Lenient only where servers commonly
 * are (bare LF line ends, leading empty lines); strict where leniency enables request
 * smuggling (whitespace before a colon, obs-fold, Content-Length conflicts, TE + CL). */
#include "http/http1_request.h"

#include <string.h>
#include <strings.h>

#define DEFAULT_MAX_HEAD (64 * 1024)

static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Header value bytes: visible ASCII, obs-text, SP and HTAB. */
static bool is_value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool ieq(const char *a, size_t alen, const char *b)
{
    return alen == strlen(b) && strncasecmp(a, b, alen) == 0;
}

static http1_req_status fail(http1_request *r, http1_req_status s, const char *why)
{
    r->error = why;
    return s;
}

/* Skips CRLF / LF before the request line (RFC 9112 section 2.2). */
static size_t skip_leading_empty_lines(const char *d, size_t len)
{
    size_t i = 0;
    while (i < len && (d[i] == '\n' || (d[i] == '\r' && i + 1 < len && d[i + 1] == '\n')))
        i += d[i] == '\r' ? 2 : 1;
    return i;
}

/* Position just past the empty line ending the head, or 0 when not there yet. */
static size_t find_head_end(const char *d, size_t len, size_t start, size_t *scan_from)
{
    size_t i = *scan_from > start ? *scan_from : start;
    for (; i < len; i++) {
        if (d[i] != '\n')
            continue;
        if (i + 1 < len && d[i + 1] == '\n')
            return i + 2;
        if (i + 2 < len && d[i + 1] == '\r' && d[i + 2] == '\n')
            return i + 3;
        if (i + 2 >= len)
            break; /* the terminator may be split: resume here next time */
    }
    *scan_from = i < len ? i : len;
    return 0;
}

/* One line in [p, end): returns the end of its content (before CR LF / LF) and sets *next. */
static const char *line_end(const char *p, const char *end, const char **next)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl)
        nl = end;
    *next = nl < end ? nl + 1 : end;
    return nl > p && nl[-1] == '\r' ? nl - 1 : nl;
}

static http1_req_status parse_request_line(http1_request *r, const char *p, const char *e)
{
    const char *s = p;
    while (p < e && is_tchar((unsigned char)*p))
        p++;
    if (p == s || p == e || *p != ' ')
        return fail(r, H1R_BAD_REQUEST_LINE, "bad method");
    r->method = s;
    r->method_len = (size_t)(p - s);
    s = ++p;
    while (p < e && (unsigned char)*p > 0x20 && *p != 0x7f)
        p++;
    if (p == s || p == e || *p != ' ')
        return fail(r, H1R_BAD_REQUEST_LINE, "bad request target");
    r->target = s;
    r->target_len = (size_t)(p - s);
    p++;
    if (e - p != 8 || memcmp(p, "HTTP/", 5) != 0 || p[6] != '.' || p[5] < '0' || p[5] > '9' ||
        p[7] < '0' || p[7] > '9')
        return fail(r, H1R_BAD_REQUEST_LINE, "bad HTTP version");
    if (p[5] != '1')
        return fail(r, H1R_BAD_VERSION, "HTTP version not supported");
    r->version_minor = p[7] - '0';
    return H1R_OK;
}

static http1_req_status parse_content_length(http1_request *r, const char *v, size_t n)
{
    if (n == 0)
        return fail(r, H1R_BAD_CONTENT_LENGTH, "empty Content-Length");
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return fail(r, H1R_BAD_CONTENT_LENGTH, "Content-Length is not a number");
        if (x > (UINT64_MAX / 2 - 9) / 10)
            return fail(r, H1R_BAD_CONTENT_LENGTH, "Content-Length overflows");
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    if (r->has_content_length && r->content_length != x)
        return fail(r, H1R_BAD_CONTENT_LENGTH, "conflicting Content-Length values");
    r->has_content_length = true;
    r->content_length = x;
    return H1R_OK;
}

/* Whether a comma-separated list holds token (last_only: as its last non-empty element). */
static bool list_has(const char *v, size_t n, const char *token, bool last_only)
{
    bool found = false;
    const char *p = v, *end = v + n;
    while (p <= end) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        const char *te = c ? c : end;
        const char *s = p;
        while (s < te && (*s == ' ' || *s == '\t'))
            s++;
        const char *q = te;
        while (q > s && (q[-1] == ' ' || q[-1] == '\t'))
            q--;
        bool match = ieq(s, (size_t)(q - s), token);
        if (last_only)
            found = match || (q == s && found); /* empty elements are ignored */
        else if (match)
            return true;
        if (!c)
            break;
        p = c + 1;
    }
    return found;
}

static http1_req_status apply_header(http1_request *r, const http1_req_header *h, bool *conn_close,
                                     bool *conn_keep)
{
    if (ieq(h->name, h->name_len, "content-length"))
        return parse_content_length(r, h->value, h->value_len);
    if (ieq(h->name, h->name_len, "transfer-encoding")) {
        if (!list_has(h->value, h->value_len, "chunked", true))
            return fail(r, H1R_BAD_TRANSFER_ENCODING, "unsupported Transfer-Encoding");
        r->chunked = true;
    } else if (ieq(h->name, h->name_len, "connection")) {
        *conn_close |= list_has(h->value, h->value_len, "close", false);
        *conn_keep |= list_has(h->value, h->value_len, "keep-alive", false);
    } else if (ieq(h->name, h->name_len, "expect")) {
        r->expect_continue = ieq(h->value, h->value_len, "100-continue");
    }
    return H1R_OK;
}

static http1_req_status parse_header_line(http1_request *r, const char *p, const char *e,
                                          http1_req_header *h)
{
    if (*p == ' ' || *p == '\t')
        return fail(r, H1R_BAD_HEADER, "obsolete line folding");
    const char *s = p;
    while (p < e && is_tchar((unsigned char)*p))
        p++;
    if (p == s)
        return fail(r, H1R_BAD_HEADER, "bad header name");
    if (p == e || *p != ':')
        return fail(r, H1R_BAD_HEADER,
                    p < e && (*p == ' ' || *p == '\t') ? "whitespace before colon"
                                                       : "header line without colon");
    h->name = s;
    h->name_len = (size_t)(p - s);
    p++;
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    const char *v = p;
    for (const char *q = v; q < e; q++)
        if (!is_value_char((unsigned char)*q))
            return fail(r, H1R_BAD_HEADER, "control character in a header value");
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    h->value = v;
    h->value_len = (size_t)(e - v);
    return H1R_OK;
}

static http1_req_status parse_headers(http1_request *r, const char *p, const char *end)
{
    bool conn_close = false, conn_keep = false;
    while (p < end) {
        const char *next;
        const char *e = line_end(p, end, &next);
        if (e == p)
            break; /* the empty line */
        if (r->n_headers == HTTP1_REQ_MAX_HEADERS)
            return fail(r, H1R_TOO_MANY_HEADERS, "too many header lines");
        http1_req_header *h = &r->headers[r->n_headers];
        http1_req_status s = parse_header_line(r, p, e, h);
        if (s == H1R_OK)
            s = apply_header(r, h, &conn_close, &conn_keep);
        if (s != H1R_OK)
            return s;
        r->n_headers++;
        p = next;
    }
    if (r->chunked && r->has_content_length)
        return fail(r, H1R_BAD_TRANSFER_ENCODING, "both Transfer-Encoding and Content-Length");
    r->keep_alive = r->version_minor >= 1 ? !conn_close : conn_keep && !conn_close;
    return H1R_OK;
}

http1_req_status http1_request_parse(http1_request *r, const char *data, size_t len,
                                     size_t max_head, size_t *scan_from)
{
    /* everything but the header array, which is filled as far as n_headers says */
    memset(r, 0, offsetof(http1_request, headers));
    memset(&r->head_len, 0, sizeof *r - offsetof(http1_request, head_len));
    if (!max_head)
        max_head = DEFAULT_MAX_HEAD;
    size_t start = skip_leading_empty_lines(data, len);
    size_t end = find_head_end(data, len, start, scan_from);
    if (!end)
        return len > max_head ? fail(r, H1R_HEAD_TOO_LARGE, "request head too large")
                              : H1R_INCOMPLETE;
    if (end > max_head)
        return fail(r, H1R_HEAD_TOO_LARGE, "request head too large");
    const char *next;
    const char *e = line_end(data + start, data + end, &next);
    http1_req_status s = parse_request_line(r, data + start, e);
    if (s == H1R_OK)
        s = parse_headers(r, next, data + end);
    if (s == H1R_OK)
        r->head_len = end;
    return s;
}

int http1_req_status_code(http1_req_status s)
{
    switch (s) {
    case H1R_HEAD_TOO_LARGE:
    case H1R_TOO_MANY_HEADERS:
        return 431;
    case H1R_BAD_VERSION:
        return 505;
    case H1R_OK:
    case H1R_INCOMPLETE:
        return 200;
    default:
        return 400;
    }
}

const http1_req_header *http1_request_header(const http1_request *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (ieq(r->headers[i].name, r->headers[i].name_len, name))
            return &r->headers[i];
    return NULL;
}
