/* URLs as comet needs them: http, https, ws, wss; absolute parsing, relative resolution
 * (RFC 3986 section 5, which agrees with WHATWG URL for these schemes' common forms), and
 * the origin serialization the Fetch standard uses. */
#ifndef COMET_URL_H
#define COMET_URL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct url {
    char scheme[8];   /* lower-case: http, https, ws, wss */
    char host[256];   /* lower-case name, IPv4, or IPv6 without brackets */
    int port;         /* explicit or the scheme's default */
    bool ipv6;
    char *path_query; /* owned: "/path?query" (never empty: at least "/"), no fragment */
} url;

/* Parses an absolute URL; returns 0 or -1 (with err) when malformed or the scheme is not
 * one of http, https, ws, wss. */
int url_parse(url *u, const char *s, char *err, size_t errlen);
/* Resolves ref against base into out (absolute refs are parsed as is). */
int url_resolve(url *out, const url *base, const char *ref, char *err, size_t errlen);
void url_free(url *u);
int url_copy(url *dst, const url *src);
bool url_is_tls(const url *u);
int url_default_port(const char *scheme);
/* "http://host:port/path?query" with the default port omitted; malloc'd. */
char *url_serialize(const url *u);
/* The ASCII serialization of the origin: "http://host[:port]"; malloc'd. */
char *url_origin(const url *u);
/* "host[:port]" for the Host header (default port omitted, IPv6 bracketed); malloc'd. */
char *url_host_header(const url *u);
bool url_same_origin(const url *a, const url *b);

#endif
