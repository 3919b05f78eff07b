#include "browser/request_headers.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Fetch standard, "forbidden request-header". */
static const char *const forbidden_names[] = {
    "accept-charset", "accept-encoding", "access-control-request-headers",
    "access-control-request-method", "connection", "content-length", "cookie", "cookie2",
    "date", "dnt", "expect", "host", "keep-alive", "origin", "referer", "set-cookie", "te",
    "trailer", "transfer-encoding", "upgrade", "via",
};

static bool value_names_forbidden_method(const char *value)
{
    /* X-HTTP-Method(-Override) / X-Method-Override values are comma-separated methods. */
    const char *p = value;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        size_t n = strcspn(p, ",");
        size_t m = n;
        while (m && (p[m - 1] == ' ' || p[m - 1] == '\t'))
            m--;
        if ((m == 7 && !strncasecmp(p, "CONNECT", 7)) || (m == 5 && !strncasecmp(p, "TRACE", 5)) ||
            (m == 5 && !strncasecmp(p, "TRACK", 5)))
            return true;
        p += n;
    }
    return false;
}

bool is_forbidden_request_header(const char *name, const char *value)
{
    for (size_t i = 0; i < sizeof forbidden_names / sizeof forbidden_names[0]; i++)
        if (!strcasecmp(name, forbidden_names[i]))
            return true;
    if (!strncasecmp(name, "proxy-", 6) || !strncasecmp(name, "sec-", 4))
        return true;
    if (!strcasecmp(name, "x-http-method") || !strcasecmp(name, "x-http-method-override") ||
        !strcasecmp(name, "x-method-override"))
        return value_names_forbidden_method(value);
    return false;
}

static bool is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s <= ' ' || *s >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", *s))
            return false;
    return true;
}

bool author_header_set(header_list *author, const char *name, const char *value, char *console,
                       size_t console_len)
{
    if (!is_token(name) || strpbrk(value, "\r\n")) {
        snprintf(console, console_len, "SyntaxError: '%s' is not a valid HTTP header field", name);
        return false;
    }
    if (is_forbidden_request_header(name, value)) {
        snprintf(console, console_len, "Refused to set unsafe header \"%s\"", name);
        return false;
    }
    return header_list_combine(author, name, value) == 0;
}

static int add_unless_author(header_list *out, const header_list *author, const char *name,
                             const char *value)
{
    return author && header_list_get(author, name) ? 0 : header_list_add(out, name, value);
}

static const char *fetch_site(const browser_request *r)
{
    return r->same_origin ? "same-origin" : r->same_site ? "same-site" : "cross-site";
}

int browser_preflight_headers(header_list *out, const browser_request *r, const char *acrh)
{
    int rc = 0;
    rc |= header_list_add(out, "Host", r->host);
    rc |= header_list_add(out, "Connection", "keep-alive");
    rc |= header_list_add(out, "Accept", "*/*");
    rc |= header_list_add(out, "Access-Control-Request-Method", r->method);
    if (acrh && *acrh)
        rc |= header_list_add(out, "Access-Control-Request-Headers", acrh);
    rc |= header_list_add(out, "Origin", r->origin ? r->origin : "null");
    rc |= header_list_add(out, "User-Agent", r->user_agent ? r->user_agent : BROWSER_USER_AGENT);
    rc |= header_list_add(out, "Sec-Fetch-Mode", "cors");
    rc |= header_list_add(out, "Sec-Fetch-Site", fetch_site(r));
    rc |= header_list_add(out, "Sec-Fetch-Dest", "empty");
    if (r->referrer)
        rc |= header_list_add(out, "Referer", r->referrer);
    rc |= header_list_add(out, "Accept-Encoding", r->accept_encoding ? r->accept_encoding : "gzip, deflate");
    rc |= header_list_add(out, "Accept-Language", "en-US,en;q=0.9");
    return rc ? -1 : 0;
}

/* What Chromium 156 puts on the wire for an EventSource (../shared/browser-truth):
 * Host, Connection, Pragma, Cache-Control, sec-ch-ua-platform, User-Agent, Accept,
 * sec-ch-ua, sec-ch-ua-mobile, Last-Event-ID, Origin (cross-origin), Sec-Fetch-*, Referer,
 * Accept-Encoding, Accept-Language, Cookie. */
static int eventsource_request_headers(header_list *out, const browser_request *r)
{
    int rc = 0;
    rc |= header_list_add(out, "Host", r->host);
    rc |= header_list_add(out, "Connection", "keep-alive");
    rc |= header_list_add(out, "Pragma", "no-cache");
    rc |= header_list_add(out, "Cache-Control", "no-cache");
    rc |= header_list_add(out, "sec-ch-ua-platform", "\"Linux\"");
    rc |= header_list_add(out, "User-Agent", r->user_agent ? r->user_agent : BROWSER_USER_AGENT);
    rc |= header_list_add(out, "Accept", "text/event-stream");
    rc |= header_list_add(out, "sec-ch-ua", "\"Not:A-Brand\";v=\"8\", \"Chromium\";v=\"156\"");
    rc |= header_list_add(out, "sec-ch-ua-mobile", "?0");
    if (r->last_event_id && *r->last_event_id)
        rc |= header_list_add(out, "Last-Event-ID", r->last_event_id);
    if (r->origin && !r->same_origin)
        rc |= header_list_add(out, "Origin", r->origin);
    rc |= header_list_add(out, "Sec-Fetch-Site", fetch_site(r));
    rc |= header_list_add(out, "Sec-Fetch-Mode", "cors");
    rc |= header_list_add(out, "Sec-Fetch-Dest", "empty");
    if (r->referrer)
        rc |= header_list_add(out, "Referer", r->referrer);
    rc |= header_list_add(out, "Accept-Encoding", r->accept_encoding ? r->accept_encoding : "gzip, deflate");
    rc |= header_list_add(out, "Accept-Language", "en-US,en;q=0.9");
    if (r->cookie && *r->cookie)
        rc |= header_list_add(out, "Cookie", r->cookie);
    return rc ? -1 : 0;
}

int browser_request_headers(header_list *out, const browser_request *r)
{
    if (r->eventsource)
        return eventsource_request_headers(out, r);
    bool get_or_head = !strcasecmp(r->method, "GET") || !strcasecmp(r->method, "HEAD");
    char len[32];
    int rc = 0;
    rc |= header_list_add(out, "Host", r->host);
    rc |= header_list_add(out, "Connection", "keep-alive");
    if (r->has_body) {
        snprintf(len, sizeof len, "%zu", r->body_len);
        rc |= header_list_add(out, "Content-Length", len);
    }
    rc |= header_list_add(out, "sec-ch-ua-platform", "\"Linux\"");
    rc |= header_list_add(out, "User-Agent", r->user_agent ? r->user_agent : BROWSER_USER_AGENT);
    rc |= header_list_add(out, "sec-ch-ua", "\"Not:A-Brand\";v=\"8\", \"Chromium\";v=\"156\"");
    if (r->has_body && r->body_type)
        rc |= add_unless_author(out, r->author, "Content-Type", r->body_type);
    rc |= header_list_add(out, "sec-ch-ua-mobile", "?0");
    for (size_t i = 0; r->author && i < r->author->n; i++)
        rc |= header_list_add(out, r->author->items[i].name, r->author->items[i].value);
    rc |= add_unless_author(out, r->author, "Accept", "*/*");
    /* Chromium sends Origin on every cross-origin request and on same-origin ones whose
     * method is neither GET nor HEAD. */
    if (r->origin && (!r->same_origin || !get_or_head))
        rc |= header_list_add(out, "Origin", r->origin);
    rc |= header_list_add(out, "Sec-Fetch-Site", fetch_site(r));
    rc |= header_list_add(out, "Sec-Fetch-Mode", "cors");
    rc |= header_list_add(out, "Sec-Fetch-Dest", "empty");
    if (r->referrer)
        rc |= header_list_add(out, "Referer", r->referrer);
    rc |= header_list_add(out, "Accept-Encoding", r->accept_encoding ? r->accept_encoding : "gzip, deflate");
    rc |= add_unless_author(out, r->author, "Accept-Language", "en-US,en;q=0.9");
    if (r->cookie && *r->cookie)
        rc |= header_list_add(out, "Cookie", r->cookie);
    return rc ? -1 : 0;
}
