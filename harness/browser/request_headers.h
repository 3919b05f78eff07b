/* The request a browser puts on the wire for an XMLHttpRequest: which author headers
 * setRequestHeader() accepts (the Fetch standard's forbidden request headers are refused,
 * with Chromium's console message), and the headers Chromium adds itself. */
#ifndef COMET_REQUEST_HEADERS_H
#define COMET_REQUEST_HEADERS_H

#include "util/headers.h"

#include <stdbool.h>
#include <stddef.h>

#define BROWSER_USER_AGENT                                                                     \
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "                  \
    "Chrome/156.0.0.0 Safari/537.36"

bool is_forbidden_request_header(const char *name, const char *value);
/* setRequestHeader(): combines repeated names with ", " as the spec says. Returns false,
 * with Chromium's console text in `console`, when the browser refuses the header. */
bool author_header_set(header_list *author, const char *name, const char *value, char *console,
                       size_t console_len);

typedef struct browser_request {
    const char *method;
    const char *host;          /* Host header value */
    const char *origin;        /* the Origin header's value: the page's origin, or "null"
                                  once a redirect tainted it */
    const char *referrer;      /* the page's URL */
    bool same_origin;          /* request URL's origin equals the page's */
    bool same_site;            /* same scheme and host (ports may differ) */
    bool has_body;
    size_t body_len;
    const char *body_type;     /* Content-Type of send(string) when the author set none */
    const header_list *author; /* headers accepted by setRequestHeader */
    const char *user_agent;    /* NULL = BROWSER_USER_AGENT */
    const char *accept_encoding;
    const char *cookie;        /* the Cookie header value, NULL or "" = none */
    bool eventsource;          /* EventSource's request: its headers, in Chromium's order */
    const char *last_event_id; /* EventSource: Last-Event-ID (NULL or "" = not sent) */
} browser_request;

/* Fills out with every header of the request, in Chromium's order. */
int browser_request_headers(header_list *out, const browser_request *r);
/* The headers of a CORS preflight (OPTIONS) for the request r describes; acrh is the
 * Access-Control-Request-Headers value ("" = none). */
int browser_preflight_headers(header_list *out, const browser_request *r, const char *acrh);

#endif
