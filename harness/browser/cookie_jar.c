#include "browser/cookie_jar.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void cookie_free(cookie *c)
{
    free(c->name);
    free(c->value);
    free(c->domain);
    free(c->path);
}

static char *trimmed(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return strndup(s, n);
}

/* RFC 6265 5.1.4: the directory of the request path. */
static char *default_path(const url *u)
{
    const char *p = u->path_query;
    size_t len = strcspn(p, "?");
    const char *last = NULL;
    for (size_t i = 0; i < len; i++)
        if (p[i] == '/')
            last = p + i;
    if (!last || last == p)
        return strdup("/");
    return strndup(p, (size_t)(last - p));
}

static bool domain_matches(const char *host, const char *domain)
{
    size_t h = strlen(host), d = strlen(domain);
    if (!strcasecmp(host, domain))
        return true;
    return h > d && !strcasecmp(host + h - d, domain) && host[h - d - 1] == '.';
}

static bool path_matches(const char *request_path, size_t len, const char *cookie_path)
{
    size_t c = strlen(cookie_path);
    if (len < c || strncmp(request_path, cookie_path, c))
        return false;
    return len == c || cookie_path[c - 1] == '/' || request_path[c] == '/';
}

static void remove_at(cookie_jar *jar, size_t i)
{
    cookie_free(&jar->items[i]);
    memmove(&jar->items[i], &jar->items[i + 1], (jar->n - i - 1) * sizeof *jar->items);
    jar->n--;
}

/* Applies one "Name=value" attribute of a Set-Cookie line. Returns false to drop it. */
static bool apply_attribute(cookie *c, const char *attr, const url *u, bool *expired)
{
    const char *eq = strchr(attr, '=');
    size_t klen = eq ? (size_t)(eq - attr) : strlen(attr);
    char *key = trimmed(attr, klen);
    char *val = eq ? trimmed(eq + 1, strlen(eq + 1)) : strdup("");
    bool keep = true;
    if (!strcasecmp(key, "domain") && *val) {
        const char *d = val[0] == '.' ? val + 1 : val;
        if (!domain_matches(u->host, d)) {
            keep = false; /* a domain the host does not belong to */
        } else {
            free(c->domain);
            c->domain = strdup(d);
            for (char *p = c->domain; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            c->host_only = false;
        }
    } else if (!strcasecmp(key, "path") && val[0] == '/') {
        free(c->path);
        c->path = strdup(val);
    } else if (!strcasecmp(key, "secure")) {
        c->secure = true;
    } else if (!strcasecmp(key, "samesite")) {
        c->same_site_none = !strcasecmp(val, "none");
    } else if (!strcasecmp(key, "max-age")) {
        char *end;
        long long secs = strtoll(val, &end, 10);
        if (end != val && !*end && secs <= 0)
            *expired = true;
    } else if (!strcasecmp(key, "expires")) {
        /* Dates in the past delete the cookie; a jar lives one case, so only the common
         * deletion idiom matters. */
        if (strstr(val, "1970") || strstr(val, "Thu, 01 Jan 1970"))
            *expired = true;
    }
    free(key);
    free(val);
    return keep;
}

void cookie_jar_store(cookie_jar *jar, const url *u, const char *set_cookie)
{
    size_t pair_len = strcspn(set_cookie, ";");
    const char *eq = memchr(set_cookie, '=', pair_len);
    if (!eq)
        return; /* "name" alone: ignored, as Chromium does */
    cookie c = {
        .name = trimmed(set_cookie, (size_t)(eq - set_cookie)),
        .value = trimmed(eq + 1, pair_len - (size_t)(eq - set_cookie) - 1),
        .domain = strdup(u->host),
        .host_only = true,
        .path = default_path(u),
    };
    bool expired = false, keep = c.name && *c.name;
    const char *p = set_cookie + pair_len;
    while (keep && *p == ';') {
        p++;
        size_t n = strcspn(p, ";");
        char *attr = strndup(p, n);
        keep = attr && apply_attribute(&c, attr, u, &expired);
        free(attr);
        p += n;
    }
    if (c.secure && !url_is_tls(u))
        keep = false; /* only a secure origin may set a Secure cookie */
    if (c.same_site_none && !c.secure)
        keep = false; /* Chromium rejects SameSite=None without Secure */
    for (size_t i = 0; i < jar->n; i++) {
        cookie *o = &jar->items[i];
        if (!strcmp(o->name, c.name ? c.name : "") && !strcmp(o->domain, c.domain) &&
            !strcmp(o->path, c.path)) {
            remove_at(jar, i);
            break;
        }
    }
    if (!keep || expired) {
        cookie_free(&c);
        return;
    }
    if (jar->n >= COOKIE_JAR_MAX)
        remove_at(jar, 0);
    cookie *items = realloc(jar->items, (jar->n + 1) * sizeof *items);
    if (!items) {
        cookie_free(&c);
        return;
    }
    jar->items = items;
    jar->items[jar->n++] = c;
}

void cookie_jar_header(const cookie_jar *jar, const url *u, bool cross_site, buf *out)
{
    size_t path_len = strcspn(u->path_query, "?");
    bool first = true;
    for (size_t i = 0; i < jar->n; i++) {
        const cookie *c = &jar->items[i];
        bool host_ok = c->host_only ? !strcasecmp(u->host, c->domain)
                                    : domain_matches(u->host, c->domain);
        if (!host_ok || !path_matches(u->path_query, path_len, c->path))
            continue;
        if ((c->secure && !url_is_tls(u)) || (cross_site && !c->same_site_none))
            continue;
        buf_printf(out, "%s%s=%s", first ? "" : "; ", c->name, c->value);
        first = false;
    }
}

void cookie_jar_free(cookie_jar *jar)
{
    for (size_t i = 0; i < jar->n; i++)
        cookie_free(&jar->items[i]);
    free(jar->items);
    *jar = (cookie_jar){0};
}
