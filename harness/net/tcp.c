/* Plain TCP: socket helpers and the byte-stream ops used when there is no TLS. */
#include "net/transport_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

bool errno_is_reset(int err)
{
    return err == ECONNRESET || err == EPIPE || err == ECONNABORTED;
}

transport_error tcp_connect_error(int err)
{
    switch (err) {
    case ECONNREFUSED:
        return TE_CONNECT_REFUSED;
    case ETIMEDOUT:
        return TE_CONNECT_TIMEOUT;
    default:
        return TE_CONNECT;
    }
}

void tcp_set_nodelay(int fd)
{
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int tcp_set_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return 0;
}

void tcp_set_linger_reset(int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

/* Starts a non-blocking connect; returns the fd (connected or in progress) or -1 with *err. */
int tcp_socket_connect(const struct addrinfo *ai, int *err)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    tcp_set_nodelay(fd);
    int rc;
    do
        rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    while (rc < 0 && errno == EINTR);
    if (rc < 0 && errno != EINPROGRESS) {
        *err = errno;
        close(fd);
        return -1;
    }
    return fd;
}

/* The outcome of a finished non-blocking connect: 0 or an errno value. */
int tcp_pending_error(int fd)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return errno;
    return err;
}

static void fail_errno(io_failure *f, int err)
{
    f->err = errno_is_reset(err) ? TE_RESET : TE_IO;
    snprintf(f->detail, sizeof f->detail, "%s", strerror(err));
}

static io_result tcp_handshake(transport *t, io_failure *f)
{
    return IO_OK;
}

/* A short read means the kernel had no more: report IO_WANT_READ so the caller stops. */
static io_result tcp_read(transport *t, char *dst, size_t cap, size_t *n, io_failure *f)
{
    ssize_t r;
    do
        r = recv(t->fd, dst, cap, 0);
    while (r < 0 && errno == EINTR);
    if (r > 0) {
        *n = (size_t)r;
        return (size_t)r < cap ? IO_WANT_READ : IO_OK;
    }
    if (r == 0)
        return IO_EOF;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return IO_WANT_READ;
    fail_errno(f, errno);
    return IO_FAIL;
}

static io_result tcp_write(transport *t, const char *src, size_t len, size_t *n, io_failure *f)
{
    ssize_t r;
    do
        r = send(t->fd, src, len, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    if (r >= 0) {
        *n = (size_t)r;
        return (size_t)r < len ? IO_WANT_WRITE : IO_OK;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return IO_WANT_WRITE;
    fail_errno(f, errno);
    return IO_FAIL;
}

static io_result tcp_shutdown(transport *t, io_failure *f)
{
    /* ENOTCONN: the peer is already gone, which is what a half-close wanted anyway */
    if (shutdown(t->fd, SHUT_WR) < 0 && errno != ENOTCONN) {
        fail_errno(f, errno);
        return IO_FAIL;
    }
    return IO_OK;
}

static bool tcp_pending(const transport *t)
{
    return false;
}

static void tcp_release(transport *t)
{
}

const transport_ops tcp_ops = {
    .handshake = tcp_handshake,
    .read = tcp_read,
    .write = tcp_write,
    .shutdown = tcp_shutdown,
    .pending = tcp_pending,
    .release = tcp_release,
};
