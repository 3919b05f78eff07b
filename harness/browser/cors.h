/* CORS as the Fetch standard defines it and Chromium enforces it: which requests are
 * preflighted, the preflight's verdict and cache, the CORS check on responses, and which
 * response headers a cross-origin page may read. Pure functions over header lists; the
 * failure texts are Chromium's console messages (after "...blocked by CORS policy: "). */
#ifndef COMET_CORS_H
#define COMET_CORS_H

#include "util/buf.h"
#include "util/headers.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CORS_PREFLIGHT_DEFAULT_MAX_AGE_US (5 * 1000000LL)   /* Chromium: 5 s */
#define CORS_PREFLIGHT_MAX_MAX_AGE_US (7200 * 1000000LL)    /* Chromium caps at 2 h */

bool cors_safelisted_method(const char *method);
bool cors_safelisted_request_header(const char *name, const char *value);
/* The request's CORS-unsafe header names: lower-cased, sorted, unique, comma-joined into
 * out (the Access-Control-Request-Headers value). Returns how many. */
size_t cors_unsafe_header_names(const header_list *request_headers, buf *out);
/* Fetch's "use-CORS-preflight" decision for a cross-origin request. */
bool cors_needs_preflight(const char *method, const header_list *request_headers,
                          bool upload_listeners_with_body);

/* The CORS check on a response (also a redirect or a preflight response). Returns true
 * when it passes; otherwise msg holds Chromium's reason. */
bool cors_check(const header_list *response, const char *origin, bool credentials, char *msg,
                size_t msg_len);

typedef enum cors_verdict {
    CORS_ALLOWED,
    CORS_ALLOWED_LENIENT, /* Chromium allows what the spec forbids; msg says what */
    CORS_BLOCKED,
} cors_verdict;

typedef struct preflight_result {
    char *methods;     /* Access-Control-Allow-Methods as received (NULL: none) */
    char *headers;     /* Access-Control-Allow-Headers as received */
    int64_t max_age_us;
} preflight_result;

/* Evaluates a preflight response for (method, request headers). Fills result for the
 * cache when allowed. */
cors_verdict cors_preflight_check(int status, const header_list *response, const char *origin,
                                  bool credentials, const char *method,
                                  const header_list *request_headers, preflight_result *result,
                                  char *msg, size_t msg_len);
void preflight_result_free(preflight_result *r);

/* The preflight cache of one page (a case): entries keyed by origin, URL and credentials,
 * for a method or a header name, each until its max-age. */
typedef struct cors_cache_entry {
    char *key;          /* origin \n url \n credentials */
    char *name;         /* method (as given) or header name (lower-case) */
    bool is_method;
    int64_t expires_us;
} cors_cache_entry;

typedef struct cors_cache {
    cors_cache_entry *items;
    size_t n;
} cors_cache;

/* True when every method/header of the request is covered by an unexpired entry. */
bool cors_cache_covers(const cors_cache *c, const char *origin, const char *url, bool credentials,
                       const char *method, const header_list *request_headers, int64_t now_us);
void cors_cache_store(cors_cache *c, const char *origin, const char *url, bool credentials,
                      const char *method, const header_list *request_headers,
                      const preflight_result *r, int64_t now_us);
void cors_cache_free(cors_cache *c);

/* Whether a cross-origin page can read this response header (CORS-safelisted response
 * header names plus Access-Control-Expose-Headers; `*` only without credentials). */
bool cors_header_exposed(const char *name, const header_list *response, bool credentials);

#endif
