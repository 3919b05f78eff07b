/* TLS over OpenSSL: contexts, per-connection setup (SNI, host-name verification) and the
 * byte-stream ops. OpenSSL talks to the fd through its socket BIO, which writes with
 * write(2): SIGPIPE is therefore ignored process-wide when a context is made. */
#include "net/transport_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#define ALPN_MAX 256

static void ignore_sigpipe(void)
{
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
        signal(SIGPIPE, SIG_IGN);
}

/* The oldest queued OpenSSL error as text, or fallback when the queue is empty. */
static void ssl_error_text(char *dst, size_t cap, const char *fallback)
{
    unsigned long e = ERR_peek_last_error();
    if (e)
        ERR_error_string_n(e, dst, cap);
    else
        snprintf(dst, cap, "%s", fallback);
    ERR_clear_error();
}

static void set_err(char *err, size_t errlen, const char *what, const char *arg)
{
    char ssl[160];
    ssl_error_text(ssl, sizeof ssl, "unknown OpenSSL error");
    if (err && errlen)
        snprintf(err, errlen, "%s%s%s: %s", what, arg ? " " : "", arg ? arg : "", ssl);
}

static void set_common_options(SSL_CTX *ctx)
{
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* partial writes let the write queue advance record by record; the queue may move
     * (realloc) between a blocked write and its retry; idle connections keep no buffers */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    long opts = SSL_OP_NO_RENEGOTIATION;
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    opts |= SSL_OP_IGNORE_UNEXPECTED_EOF; /* EOF without close_notify is EOF, as in browsers */
#endif
    SSL_CTX_set_options(ctx, opts);
}

/* "h2,http/1.1" -> wire format (length-prefixed). Returns the length, or 0 if invalid. */
static size_t alpn_wire(const char *list, unsigned char *out, size_t cap)
{
    size_t len = 0;
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 0 || n > 255 || len + 1 + n > cap)
            return 0;
        out[len++] = (unsigned char)n;
        memcpy(out + len, p, n);
        len += n;
        p += n + (end ? 1 : 0);
    }
    return len;
}

tls_context *tls_client_context(const tls_client_opts *o, char *err, size_t errlen)
{
    tls_client_opts defaults = {.verify = true};
    if (!o)
        o = &defaults;
    ignore_sigpipe();
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        set_err(err, errlen, "cannot create a TLS context", NULL);
        return NULL;
    }
    set_common_options(ctx);
    if (o->verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        int ok = o->ca_file ? SSL_CTX_load_verify_locations(ctx, o->ca_file, NULL)
                            : SSL_CTX_set_default_verify_paths(ctx);
        if (ok != 1) {
            set_err(err, errlen, "cannot load CA certificates",
                    o->ca_file ? o->ca_file : "(system)");
            SSL_CTX_free(ctx);
            return NULL;
        }
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    if (o->alpn && *o->alpn) {
        unsigned char wire[ALPN_MAX];
        size_t n = alpn_wire(o->alpn, wire, sizeof wire);
        if (n == 0 || SSL_CTX_set_alpn_protos(ctx, wire, (unsigned)n) != 0) {
            if (err && errlen)
                snprintf(err, errlen, "invalid ALPN list: %s", o->alpn);
            SSL_CTX_free(ctx);
            return NULL;
        }
    }
    return ctx;
}

/* Server side ALPN: HTTP/1.1 when the client offers it, otherwise no ALPN at all. */
static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    static const unsigned char h1[] = "\x08http/1.1";
    unsigned char *sel = NULL;
    if (SSL_select_next_proto(&sel, outlen, h1, sizeof h1 - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

tls_context *tls_server_context(const char *cert_file, const char *key_file, char *err,
                                size_t errlen)
{
    ignore_sigpipe();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        set_err(err, errlen, "cannot create a TLS context", NULL);
        return NULL;
    }
    set_common_options(ctx);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        set_err(err, errlen, "cannot load certificate", cert_file);
    } else if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        set_err(err, errlen, "cannot load private key", key_file);
    } else if (SSL_CTX_check_private_key(ctx) != 1) {
        set_err(err, errlen, "private key does not match the certificate", key_file);
    } else {
        SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
        return ctx;
    }
    SSL_CTX_free(ctx);
    return NULL;
}

void tls_context_free(tls_context *ctx)
{
    SSL_CTX_free(ctx);
}

static bool is_ip_literal(const char *s)
{
    unsigned char addr[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1;
}

/* Client: SNI for names only (RFC 6066 forbids IP literals, browsers send none), and the
 * name or address the certificate must match when verification is on. */
static int setup_client(SSL *ssl, const char *sni)
{
    if (!sni || !*sni)
        return 0;
    bool ip = is_ip_literal(sni);
    if (!ip && SSL_set_tlsext_host_name(ssl, sni) != 1)
        return -1;
    if (!(SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER))
        return 0;
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
    if (ip)
        return X509_VERIFY_PARAM_set1_ip_asc(param, sni) == 1 ? 0 : -1;
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return SSL_set1_host(ssl, sni) == 1 ? 0 : -1;
}

int tls_attach(transport *t, bool server, const char *sni, io_failure *f)
{
    SSL *ssl = SSL_new(t->tls);
    if (!ssl || SSL_set_fd(ssl, t->fd) != 1 || (!server && setup_client(ssl, sni) < 0)) {
        f->err = TE_TLS_HANDSHAKE;
        ssl_error_text(f->detail, sizeof f->detail, "cannot set up the TLS session");
        SSL_free(ssl);
        return -1;
    }
    if (server)
        SSL_set_accept_state(ssl);
    else
        SSL_set_connect_state(ssl);
    t->ssl = ssl;
    return 0;
}

/* ---- error classification --------------------------------------------------------------- */

/* The errno behind a failed call: saved errno, or one recorded in OpenSSL's error queue. */
static int system_error(int saved_errno)
{
    unsigned long e = ERR_peek_error();
    if (e && ERR_GET_LIB(e) == ERR_LIB_SYS)
        return ERR_GET_REASON(e);
    return saved_errno;
}

static bool is_unexpected_eof(int ssl_err, int sys)
{
    if (ssl_err == SSL_ERROR_SYSCALL)
        return sys == 0 && ERR_peek_error() == 0;
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
    if (ssl_err == SSL_ERROR_SSL)
        return ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
#endif
    return false;
}

/* Maps the result of a failed SSL_* call; an EOF (clean or not) is IO_EOF. */
static io_result classify(transport *t, int rc, int saved_errno, transport_error fallback,
                          io_failure *f)
{
    int e = SSL_get_error(t->ssl, rc);
    int sys = system_error(saved_errno);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        return IO_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return IO_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        ERR_clear_error();
        return IO_EOF;
    default:
        break;
    }
    if (is_unexpected_eof(e, sys)) {
        ERR_clear_error();
        return IO_EOF;
    }
    if (sys && errno_is_reset(sys)) {
        f->err = TE_RESET;
        snprintf(f->detail, sizeof f->detail, "%s", strerror(sys));
    } else if (e == SSL_ERROR_SYSCALL && sys) {
        f->err = TE_IO;
        snprintf(f->detail, sizeof f->detail, "%s", strerror(sys));
    } else {
        f->err = fallback;
        ssl_error_text(f->detail, sizeof f->detail, "TLS error");
    }
    ERR_clear_error();
    return IO_FAIL;
}

static io_result tls_handshake(transport *t, io_failure *f)
{
    ERR_clear_error();
    errno = 0;
    int rc = SSL_do_handshake(t->ssl);
    if (rc == 1)
        return IO_OK;
    int saved = errno;
    if (SSL_get_error(t->ssl, rc) == SSL_ERROR_SSL && !SSL_is_server(t->ssl)) {
        long v = SSL_get_verify_result(t->ssl);
        if (v != X509_V_OK) {
            f->err = TE_TLS_VERIFY;
            snprintf(f->detail, sizeof f->detail, "%s", X509_verify_cert_error_string(v));
            ERR_clear_error();
            return IO_FAIL;
        }
    }
    return classify(t, rc, saved, TE_TLS_HANDSHAKE, f);
}

static int clamp_int(size_t n)
{
    return n > INT_MAX ? INT_MAX : (int)n;
}

static io_result tls_read(transport *t, char *dst, size_t cap, size_t *n, io_failure *f)
{
    ERR_clear_error();
    errno = 0;
    int rc = SSL_read(t->ssl, dst, clamp_int(cap));
    if (rc > 0) {
        *n = (size_t)rc;
        return IO_OK;
    }
    return classify(t, rc, errno, TE_IO, f);
}

static io_result tls_write(transport *t, const char *src, size_t len, size_t *n, io_failure *f)
{
    ERR_clear_error();
    errno = 0;
    int rc = SSL_write(t->ssl, src, clamp_int(len));
    if (rc > 0) {
        *n = (size_t)rc;
        return IO_OK;
    }
    io_result r = classify(t, rc, errno, TE_IO, f);
    if (r == IO_EOF) { /* the peer ended the session: nothing more can be written */
        f->err = TE_RESET;
        snprintf(f->detail, sizeof f->detail, "peer closed the TLS session");
        return IO_FAIL;
    }
    return r;
}

static io_result tls_shutdown(transport *t, io_failure *f)
{
    ERR_clear_error();
    errno = 0;
    int rc = SSL_shutdown(t->ssl);
    if (rc < 0) {
        io_result r = classify(t, rc, errno, TE_IO, f);
        if (r != IO_EOF)
            return r;
    }
    /* close_notify is out; the FIN follows so that plain-TCP peers see the end too */
    if (shutdown(t->fd, SHUT_WR) < 0 && errno != ENOTCONN) {
        f->err = errno_is_reset(errno) ? TE_RESET : TE_IO;
        snprintf(f->detail, sizeof f->detail, "%s", strerror(errno));
        return IO_FAIL;
    }
    return IO_OK;
}

/* SSL_pending, not SSL_has_pending: a partial record counts for the latter, and feeding a
 * read for it would spin until the rest arrives. */
static bool tls_pending(const transport *t)
{
    return t->ssl && SSL_pending(t->ssl) > 0;
}

static void tls_release(transport *t)
{
    SSL_free(t->ssl);
    t->ssl = NULL;
}

const transport_ops tls_ops = {
    .handshake = tls_handshake,
    .read = tls_read,
    .write = tls_write,
    .shutdown = tls_shutdown,
    .pending = tls_pending,
    .release = tls_release,
};
