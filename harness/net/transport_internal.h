/* Transport internals shared by transport.c (the event core), connect.c (establishing a
 * connection), tcp.c and tls.c (the two byte-stream implementations behind the ops seam). */
#ifndef COMET_TRANSPORT_INTERNAL_H
#define COMET_TRANSPORT_INTERNAL_H

#include "net/transport.h"
#include "util/buf.h"

#include <ev.h>
#include <openssl/ssl.h>

struct addrinfo;

/* Outcome of one operation on the byte stream. IO_WANT_* come with the bytes moved so far
 * (possibly none) and say what the socket must become before the next attempt. */
typedef enum io_result {
    IO_OK, /* done (or n bytes moved and more may follow) */
    IO_WANT_READ,
    IO_WANT_WRITE,
    IO_EOF,  /* the peer closed its side */
    IO_FAIL, /* see io_failure */
} io_result;

typedef struct io_failure {
    transport_error err;
    char detail[200];
} io_failure;

/* The seam between plain TCP and TLS, chosen once when the transport is made. */
typedef struct transport_ops {
    io_result (*handshake)(transport *t, io_failure *f);
    io_result (*read)(transport *t, char *dst, size_t cap, size_t *n, io_failure *f);
    io_result (*write)(transport *t, const char *src, size_t len, size_t *n, io_failure *f);
    io_result (*shutdown)(transport *t, io_failure *f); /* FIN (TLS: close_notify, then FIN) */
    bool (*pending)(const transport *t); /* decrypted bytes readable without the fd */
    void (*release)(transport *t);
} transport_ops;

extern const transport_ops tcp_ops;
extern const transport_ops tls_ops;

typedef enum transport_state {
    TS_CONNECTING,  /* TCP connect in progress */
    TS_HANDSHAKING, /* TLS handshake (or, for plain accepted sockets, the first loop pass) */
    TS_OPEN,
    TS_FAILED, /* on_error delivered or pending; nothing else will be reported */
} transport_state;

typedef enum shutdown_state { SHUT_NONE, SHUT_REQUESTED, SHUT_DONE } shutdown_state;

struct transport {
    struct ev_loop *loop;
    const transport_ops *ops;
    transport_callbacks cb;
    void *ud;
    int fd;
    SSL *ssl;
    tls_context *tls;
    ev_io io;
    ev_timer timer; /* connect + handshake timeout, or a deferred on_error */
    buf wq;         /* write queue: storage exists only while bytes wait */
    size_t wq_off;  /* bytes at the front of wq already written */
    size_t max_write_queue;
    double timeout;         /* seconds */
    struct addrinfo *addrs; /* while connecting */
    struct addrinfo *next_addr;
    char *sni;             /* while connecting over TLS */
    char *deferred_detail; /* detail of a deferred on_error */
    transport_error deferred_err;
    int depth;   /* callbacks of this transport on the stack */
    int hs_want; /* EV_READ / EV_WRITE the handshake waits for */
    transport_state state;
    shutdown_state shut;
    bool closed;
    bool paused;
    bool eof;
    bool read_wants_write; /* TLS read needs writability */
    bool write_wants_read; /* TLS write or close_notify needs readability */
    bool report_pending;
};

/* transport.c */
transport *transport_new(struct ev_loop *loop, const transport_ops *ops,
                         const transport_callbacks *cb, void *ud);
void transport_update_watcher(transport *t);
void transport_start_timeout(transport *t);
void transport_begin_handshake(transport *t);
/* Reports an error now (only from a watcher callback of t). */
void transport_fail(transport *t, transport_error err, const char *detail);
/* Reports an error from the loop (from API calls: never a callback inside a call). */
void transport_fail_later(transport *t, transport_error err, const char *detail);

/* connect.c */
void transport_connect_finished(transport *t);
void transport_free_addrs(transport *t);

/* tcp.c */
int tcp_socket_connect(const struct addrinfo *ai, int *err);
int tcp_pending_error(int fd);
void tcp_set_nodelay(int fd);
int tcp_set_nonblocking(int fd);
void tcp_set_linger_reset(int fd);
transport_error tcp_connect_error(int err);
bool errno_is_reset(int err);

/* tls.c */
int tls_attach(transport *t, bool server, const char *sni, io_failure *f);

#endif
