#include "util/url.h"

#include "util/buf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *msg, const char *s)
{
    if (err && errlen)
        snprintf(err, errlen, "%s: \"%.200s\"", msg, s);
    return -1;
}

int url_default_port(const char *scheme)
{
    if (!strcmp(scheme, "http") || !strcmp(scheme, "ws"))
        return 80;
    if (!strcmp(scheme, "https") || !strcmp(scheme, "wss"))
        return 443;
    return -1;
}

bool url_is_tls(const url *u)
{
    return !strcmp(u->scheme, "https") || !strcmp(u->scheme, "wss");
}

/* Splits "host[:port]" (host may be "[v6]") into u. */
static int parse_authority(url *u, const char *a, size_t n, const char *whole, char *err,
                           size_t errlen)
{
    const char *port_at = NULL;
    size_t host_len;
    if (n && a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (!close)
            return fail(err, errlen, "unterminated IPv6 address in URL", whole);
        host_len = (size_t)(close - a - 1);
        if (host_len >= sizeof u->host)
            return fail(err, errlen, "host too long in URL", whole);
        memcpy(u->host, a + 1, host_len);
        u->host[host_len] = '\0';
        u->ipv6 = true;
        if ((size_t)(close - a + 1) < n) {
            if (close[1] != ':')
                return fail(err, errlen, "bad character after IPv6 address in URL", whole);
            port_at = close + 2;
        }
    } else {
        if (memchr(a, '@', n))
            return fail(err, errlen, "credentials in URLs are not supported", whole);
        const char *colon = memchr(a, ':', n);
        host_len = colon ? (size_t)(colon - a) : n;
        if (host_len == 0 || host_len >= sizeof u->host)
            return fail(err, errlen, "missing or overlong host in URL", whole);
        for (size_t i = 0; i < host_len; i++)
            u->host[i] = (char)tolower((unsigned char)a[i]);
        u->host[host_len] = '\0';
        if (colon)
            port_at = colon + 1;
    }
    u->port = url_default_port(u->scheme);
    if (port_at && port_at < a + n) {
        long port = 0;
        for (const char *p = port_at; p < a + n; p++) {
            if (!isdigit((unsigned char)*p) || (port = port * 10 + (*p - '0')) > 65535)
                return fail(err, errlen, "bad port in URL", whole);
        }
        u->port = (int)port;
    }
    return 0;
}

int url_parse(url *u, const char *s, char *err, size_t errlen)
{
    memset(u, 0, sizeof *u);
    const char *sep = strstr(s, "://");
    if (!sep || sep == s || (size_t)(sep - s) >= sizeof u->scheme)
        return fail(err, errlen, "not an absolute URL", s);
    for (size_t i = 0; s + i < sep; i++)
        u->scheme[i] = (char)tolower((unsigned char)s[i]);
    if (url_default_port(u->scheme) < 0)
        return fail(err, errlen, "unsupported URL scheme (http, https, ws, wss)", s);
    const char *auth = sep + 3;
    size_t auth_len = strcspn(auth, "/?#");
    if (parse_authority(u, auth, auth_len, s, err, errlen) < 0)
        return -1;
    const char *rest = auth + auth_len;
    size_t rest_len = strcspn(rest, "#");
    for (size_t i = 0; i < rest_len; i++)
        if ((unsigned char)rest[i] <= ' ' || rest[i] == 0x7f)
            return fail(err, errlen, "space or control character in URL", s);
    buf b = {0};
    if (rest_len == 0 || rest[0] == '?')
        buf_append(&b, "/", 1);
    buf_append(&b, rest, rest_len);
    u->path_query = buf_take(&b);
    return 0;
}

void url_free(url *u)
{
    free(u->path_query);
    u->path_query = NULL;
}

int url_copy(url *dst, const url *src)
{
    *dst = *src;
    dst->path_query = strdup(src->path_query ? src->path_query : "/");
    return dst->path_query ? 0 : -1;
}

/* RFC 3986 5.2.4: removes "." and ".." segments from an absolute path. */
static char *remove_dot_segments(const char *path, size_t len)
{
    buf out = {0};
    size_t i = 0;
    while (i < len) {
        const char *seg = path + i;
        size_t rest = len - i;
        if (rest >= 3 && !strncmp(seg, "/./", 3)) {
            i += 2;
        } else if (rest == 2 && !strncmp(seg, "/.", 2)) {
            buf_append(&out, "/", 1);
            break;
        } else if ((rest >= 4 && !strncmp(seg, "/../", 4)) || (rest == 3 && !strncmp(seg, "/..", 3))) {
            while (out.len && out.data[out.len - 1] != '/')
                out.len--;
            if (out.len)
                out.len--;
            if (rest == 3) {
                buf_append(&out, "/", 1);
                break;
            }
            i += 3;
        } else {
            size_t end = 1;
            while (end < rest && seg[end] != '/')
                end++;
            buf_append(&out, seg, end);
            i += end;
        }
    }
    if (out.len == 0)
        buf_append(&out, "/", 1);
    else
        out.data[out.len] = '\0';
    return buf_take(&out);
}

int url_resolve(url *out, const url *base, const char *ref, char *err, size_t errlen)
{
    if (strstr(ref, "://") && strcspn(ref, ":") < strcspn(ref, "/?#"))
        return url_parse(out, ref, err, errlen);
    if (ref[0] == '/' && ref[1] == '/') {
        buf b = {0};
        buf_printf(&b, "%s:%s", base->scheme, ref);
        int rc = url_parse(out, b.data, err, errlen);
        buf_free(&b);
        return rc;
    }
    if (url_copy(out, base) < 0)
        return fail(err, errlen, "out of memory", ref);
    size_t ref_len = strcspn(ref, "#");
    const char *base_pq = base->path_query;
    size_t base_path_len = strcspn(base_pq, "?");
    buf merged = {0};
    if (ref_len == 0) {
        buf_append(&merged, base_pq, strlen(base_pq));
    } else if (ref[0] == '?') {
        buf_append(&merged, base_pq, base_path_len);
        buf_append(&merged, ref, ref_len);
    } else {
        if (ref[0] != '/') {
            const char *slash = base_pq;
            for (size_t i = 0; i < base_path_len; i++)
                if (base_pq[i] == '/')
                    slash = base_pq + i;
            buf_append(&merged, base_pq, (size_t)(slash - base_pq) + 1);
        }
        buf_append(&merged, ref, ref_len);
    }
    size_t path_len = merged.data ? strcspn(merged.data, "?") : 0;
    char *path = remove_dot_segments(merged.data ? merged.data : "/", path_len);
    buf pq = {0};
    buf_append_str(&pq, path);
    if (merged.data)
        buf_append_str(&pq, merged.data + path_len);
    free(path);
    buf_free(&merged);
    for (size_t i = 0; i < pq.len; i++)
        if ((unsigned char)pq.data[i] <= ' ' || pq.data[i] == 0x7f) {
            buf_free(&pq);
            url_free(out);
            return fail(err, errlen, "space or control character in URL", ref);
        }
    free(out->path_query);
    out->path_query = buf_take(&pq);
    return 0;
}

static void append_host_port(buf *b, const url *u)
{
    if (u->ipv6)
        buf_printf(b, "[%s]", u->host);
    else
        buf_append_str(b, u->host);
    if (u->port != url_default_port(u->scheme))
        buf_printf(b, ":%d", u->port);
}

char *url_serialize(const url *u)
{
    buf b = {0};
    buf_printf(&b, "%s://", u->scheme);
    append_host_port(&b, u);
    buf_append_str(&b, u->path_query ? u->path_query : "/");
    return buf_take(&b);
}

char *url_origin(const url *u)
{
    buf b = {0};
    /* ws/wss requests carry the http/https origin of their page; a URL's own origin keeps
     * its scheme. */
    buf_printf(&b, "%s://", u->scheme);
    append_host_port(&b, u);
    return buf_take(&b);
}

char *url_host_header(const url *u)
{
    buf b = {0};
    append_host_port(&b, u);
    return buf_take(&b);
}

bool url_same_origin(const url *a, const url *b)
{
    return !strcmp(a->scheme, b->scheme) && !strcmp(a->host, b->host) && a->port == b->port;
}
