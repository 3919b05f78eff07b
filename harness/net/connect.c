/* Establishing a transport: resolution, trying each address in turn, the connect +
 * handshake timeout, and wrapping accepted sockets. Nothing here calls a callback
 * synchronously: failures found inside transport_connect() are reported from the loop. */
#include "net/transport_internal.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void transport_free_addrs(transport *t)
{
    if (t->addrs)
        freeaddrinfo(t->addrs);
    t->addrs = t->next_addr = NULL;
}

/* Tries the remaining addresses until one connects or is in progress. */
static void connect_next(transport *t, bool from_loop)
{
    int err = ECONNREFUSED;
    while (t->next_addr) {
        const struct addrinfo *ai = t->next_addr;
        t->next_addr = ai->ai_next;
        int fd = tcp_socket_connect(ai, &err);
        if (fd >= 0) {
            t->fd = fd;
            t->state = TS_CONNECTING;
            transport_update_watcher(t); /* writable when connected or failed */
            return;
        }
    }
    transport_error te = tcp_connect_error(err);
    if (from_loop)
        transport_fail(t, te, strerror(err));
    else
        transport_fail_later(t, te, strerror(err));
}

void transport_connect_finished(transport *t)
{
    int err = tcp_pending_error(t->fd);
    if (err == EINPROGRESS || err == EALREADY)
        return;
    if (err == 0) {
        if (t->tls) {
            io_failure f = {0};
            if (tls_attach(t, false, t->sni, &f) < 0) {
                transport_fail(t, f.err, f.detail);
                return;
            }
            free(t->sni);
            t->sni = NULL;
        }
        transport_begin_handshake(t);
        return;
    }
    ev_io_stop(t->loop, &t->io);
    close(t->fd);
    t->fd = -1;
    if (!t->next_addr) {
        transport_fail(t, tcp_connect_error(err), strerror(err));
        return;
    }
    connect_next(t, true);
}

/* "[::1]" -> "::1": URL-style IPv6 literals are accepted too. */
static void copy_host(char *dst, size_t cap, const char *host)
{
    size_t len = strlen(host);
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
        host++;
        len -= 2;
    }
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, host, len);
    dst[len] = '\0';
}

static void apply_opts(transport *t, const transport_opts *o)
{
    if (!o)
        return;
    if (o->connect_timeout_us > 0)
        t->timeout = (double)o->connect_timeout_us / 1e6;
    if (o->max_write_queue)
        t->max_write_queue = o->max_write_queue;
    t->tls = o->tls;
}

static void resolve_and_connect(transport *t, const char *host, int port)
{
    if (port <= 0 || port > 65535) {
        transport_fail_later(t, TE_CONNECT, "invalid port");
        return;
    }
    char port_str[8];
    snprintf(port_str, sizeof port_str, "%d", port);
    /* no AI_ADDRCONFIG: it hides ::1 on hosts whose only IPv6 address is loopback */
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    int rc = getaddrinfo(host, port_str, &hints, &t->addrs);
    if (rc != 0) {
        t->addrs = NULL;
        transport_fail_later(t, TE_RESOLVE, rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return;
    }
    t->next_addr = t->addrs;
    transport_start_timeout(t);
    connect_next(t, false);
}

transport *transport_connect(struct ev_loop *loop, const char *host, int port,
                             const transport_opts *o, const transport_callbacks *cb, void *ud)
{
    transport *t = transport_new(loop, o && o->tls ? &tls_ops : &tcp_ops, cb, ud);
    if (!t)
        return NULL;
    apply_opts(t, o);
    char name[256];
    copy_host(name, sizeof name, host ? host : "");
    if (t->tls) {
        char sni[256];
        copy_host(sni, sizeof sni, o->sni ? o->sni : name);
        t->sni = strdup(sni);
        if (!t->sni) {
            free(t);
            return NULL;
        }
    }
    t->state = TS_CONNECTING;
    resolve_and_connect(t, name, port);
    return t;
}

transport *transport_accept(struct ev_loop *loop, int fd, tls_context *tls,
                            const transport_callbacks *cb, void *ud)
{
    transport *t = transport_new(loop, tls ? &tls_ops : &tcp_ops, cb, ud);
    if (!t)
        return NULL;
    t->fd = fd;
    t->tls = tls;
    t->state = TS_HANDSHAKING;
    if (tcp_set_nonblocking(fd) < 0) {
        transport_fail_later(t, TE_IO, strerror(errno));
        return t;
    }
    tcp_set_nodelay(fd);
    if (tls) {
        io_failure f = {0};
        if (tls_attach(t, true, NULL, &f) < 0) {
            transport_fail_later(t, f.err, f.detail);
            return t;
        }
        t->hs_want = EV_READ; /* the ClientHello */
        transport_start_timeout(t);
    } else {
        t->hs_want = EV_WRITE; /* writable at once: on_connected from the next loop pass */
    }
    transport_update_watcher(t);
    return t;
}
