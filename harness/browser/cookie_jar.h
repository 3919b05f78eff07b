/* A page's cookie jar, small but faithful where XHR tests need it (RFC 6265bis as Chromium
 * applies it): host-only and Domain cookies, Path, Secure, Max-Age/Expires deletion, and
 * SameSite (Lax by default), which keeps cookies off cross-site requests. */
#ifndef COMET_COOKIE_JAR_H
#define COMET_COOKIE_JAR_H

#include "util/buf.h"
#include "util/url.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct cookie {
    char *name;
    char *value;
    char *domain;     /* lower-case host, without a leading dot */
    bool host_only;
    char *path;
    bool secure;
    bool same_site_none;
} cookie;

typedef struct cookie_jar {
    cookie *items;
    size_t n;
} cookie_jar;

#define COOKIE_JAR_MAX 300 /* per page; the oldest go first */

/* Processes one Set-Cookie value received for u. */
void cookie_jar_store(cookie_jar *jar, const url *u, const char *set_cookie);
/* Appends the Cookie header value for a request to u ("" when none apply). cross_site:
 * the request's site differs from the page's. */
void cookie_jar_header(const cookie_jar *jar, const url *u, bool cross_site, buf *out);
void cookie_jar_free(cookie_jar *jar);

#endif
