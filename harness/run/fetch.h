/* Fetch: one browser request over HTTP/1.1 — connect (TCP or TLS), write the request the
 * browser would write, parse the response, follow redirects with the Fetch standard's
 * method rules, undo Content-Encoding — reporting to the caller through callbacks. It knows
 * nothing of XMLHttpRequest; the XHR step feeds its callbacks into the browser model.
 * Every callback may call fetch_cancel(); no callback follows a cancel. */
#ifndef COMET_FETCH_H
#define COMET_FETCH_H

#include "http/http1.h"
#include "net/transport.h"
#include "util/headers.h"
#include "util/url.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fetch fetch;

/* Who is fetching: the request's headers, its CORS rules and the console text differ. */
typedef enum fetch_destination {
    FETCH_XHR = 0,        /* XMLHttpRequest: may be preflighted */
    FETCH_EVENTSOURCE,    /* EventSource: never preflighted (Fetch's unsafe-request flag is
                             only set by XHR and fetch()); EventSource's own headers */
} fetch_destination;

/* Why a fetch failed: EventSource reconnects after a network error but gives up after a
 * policy failure (Chromium's AbortConnectionAttempt on access-check and redirect-check
 * failures). */
typedef enum fetch_error {
    FETCH_ERR_NETWORK = 0,  /* reset, timeout, bad framing, truncated body, ... */
    FETCH_ERR_CONNECT,      /* no connection could be made at all */
    FETCH_ERR_POLICY,       /* the CORS check or a redirect check refused the response */
} fetch_error;

typedef struct fetch_response {
    int status;
    const char *reason;
    size_t reason_len;
    const header_list *headers;     /* what the page may read (CORS-filtered) */
    const header_list *internal;    /* every header, for the browser's own decisions */
    const char *url;            /* the response URL (after redirects) */
    bool content_length_known;
    uint64_t content_length;
} fetch_response;

typedef struct fetch_callbacks {
    /* A request head went on the wire (one per attempt: redirects make several). */
    void (*on_request)(void *ud, const char *method, const char *url, const char *head);
    void (*on_request_sent)(void *ud); /* the request body was handed to the kernel */
    void (*on_redirect)(void *ud, int status, const char *location_url);
    /* Every response head as it came over the wire (preflight, redirects, final). */
    void (*on_response_head)(void *ud, const char *method, int status, const char *url,
                             const header_list *headers);
    void (*on_response)(void *ud, const fetch_response *r);
    void (*on_body)(void *ud, const char *data, size_t len);
    void (*on_done)(void *ud);
    /* The fetch ended without a response the page can use (status 0 for XHR). */
    void (*on_error)(void *ud, const char *detail, fetch_error kind);
    /* A tolerated protocol violation (the fatal ones arrive through on_error). */
    void (*on_finding)(void *ud, const http1_finding *f, const char *url);
    /* A message Chromium would print in the console (CORS blocks). */
    void (*on_console)(void *ud, const char *text);
    /* Chromium allowed something the standard forbids (graded non-strict). */
    void (*on_leniency)(void *ud, const char *text);
} fetch_callbacks;

typedef struct fetch_config {
    struct ev_loop *loop;
    tls_context *tls;             /* client context for https (NULL: https fails) */
    int64_t connect_timeout_us;
    int max_redirects;            /* 20 in every browser */
    size_t max_response_head;     /* 0 = http1 default */
} fetch_config;

typedef struct fetch_request {
    fetch_destination destination;
    const char *method;
    const url *url;
    const header_list *author;    /* accepted setRequestHeader() headers */
    const char *body;             /* NULL = no body */
    size_t body_len;
    const char *page_origin;
    const url *page_url;          /* NULL = same-origin with the request */
    const char *user_agent;
    bool with_credentials;        /* credentials mode "include" (else "same-origin") */
    bool upload_listeners;        /* makes a cross-origin request with a body preflighted */
    const char *last_event_id;    /* EventSource: the Last-Event-ID header (NULL = none) */
    struct cors_cache *preflight_cache; /* the page's; NULL = no caching */
    struct cookie_jar *cookies;   /* the page's; NULL = no cookies */
} fetch_request;

/* Starts the fetch. Returns NULL when it already ended through a callback (or memory ran
 * out before any callback). */
fetch *fetch_start(const fetch_config *c, const fetch_request *r, const fetch_callbacks *cb,
                   void *ud);
void fetch_cancel(fetch *f);

#endif
