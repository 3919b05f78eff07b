/* Transport: one non-blocking byte stream over TCP (IPv4/IPv6) or TLS (OpenSSL), driven by
 * libev. TLS is a seam (an ops table chosen at open), not a branch in every caller.
 *
 * The transport owns its fd and SSL session. Callbacks run on the loop; any of them may
 * call transport_close() on the same transport (it is then freed after the callback
 * returns; no further callbacks arrive). After on_error the transport is dead but still owned:
 * its owner calls transport_close() (from inside on_error is fine). Per-connection state is small: buffers are
 * allocated on demand and released when empty.
 */
#ifndef COMET_TRANSPORT_H
#define COMET_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;
typedef struct transport transport;
typedef struct ssl_ctx_st tls_context; /* OpenSSL SSL_CTX */

typedef enum transport_error {
    TE_NONE = 0,
    TE_RESOLVE,          /* host name did not resolve */
    TE_CONNECT_REFUSED,
    TE_CONNECT_TIMEOUT,  /* TCP connect or TLS handshake exceeded its timeout */
    TE_CONNECT,          /* other connect failure (unreachable, ...) */
    TE_TLS_HANDSHAKE,
    TE_TLS_VERIFY,       /* certificate verification failed (detail says why) */
    TE_RESET,            /* ECONNRESET / EPIPE */
    TE_IO,               /* other read/write error */
    TE_WRITE_LIMIT,      /* write queue over its limit */
} transport_error;

const char *transport_error_name(transport_error e); /* "connection refused", ... */

typedef struct transport_callbacks {
    void (*on_connected)(void *ud);  /* TCP connected and, for TLS, handshake done */
    void (*on_data)(void *ud, const char *data, size_t len);
    void (*on_eof)(void *ud);        /* the peer closed its side (FIN, or TLS close) */
    void (*on_drained)(void *ud);    /* every queued byte has been handed to the kernel */
    void (*on_error)(void *ud, transport_error err, const char *detail);
} transport_callbacks;

typedef struct tls_client_opts {
    bool verify;          /* verify the peer certificate chain and host name (default on) */
    const char *ca_file;  /* NULL = system store */
    const char *alpn;     /* e.g. "http/1.1"; NULL = none */
} tls_client_opts;

/* Creates a client SSL_CTX (shared by every connection of a loop/thread). NULL on failure
 * with err filled. */
tls_context *tls_client_context(const tls_client_opts *o, char *err, size_t errlen);
/* Server SSL_CTX from PEM files (the fixture server). */
tls_context *tls_server_context(const char *cert_file, const char *key_file, char *err, size_t errlen);
void tls_context_free(tls_context *ctx);

typedef struct transport_opts {
    int64_t connect_timeout_us;   /* TCP connect + TLS handshake; 0 = 10 s */
    size_t max_write_queue;       /* 0 = 64 MiB */
    tls_context *tls;             /* non-NULL = TLS */
    const char *sni;              /* server name for SNI and host verification (TLS only) */
} transport_opts;

/* Starts connecting to host:port (numeric or a name; resolution is synchronous through
 * getaddrinfo, tried in order). Returns NULL only when out of memory: every failure is
 * reported through on_error, from the loop, never from inside this call. */
transport *transport_connect(struct ev_loop *loop, const char *host, int port,
                             const transport_opts *o, const transport_callbacks *cb, void *ud);
/* Wraps an accepted fd (server side); with tls non-NULL the TLS handshake is run first.
 * on_connected fires when ready. */
transport *transport_accept(struct ev_loop *loop, int fd, tls_context *tls,
                            const transport_callbacks *cb, void *ud);

/* Queues bytes; they are written as the socket allows. Returns 0, or -1 (on_error with
 * TE_WRITE_LIMIT follows) when the queue limit is exceeded. */
int transport_write(transport *t, const void *data, size_t len);
size_t transport_queued(const transport *t);
/* Stops / resumes delivering on_data (back-pressure). */
void transport_pause(transport *t, bool paused);
/* Half-close our side after the queue drains (FIN; TLS close_notify first). */
void transport_shutdown(transport *t);
/* Closes and frees. With rst, the peer sees a TCP reset (SO_LINGER 0). Safe inside callbacks. */
void transport_close(transport *t, bool rst);
/* The fd, for diagnostics and tests. */
int transport_fd(const transport *t);

#endif
