/* Transport event core: one ev_io per connection, a write queue, callback dispatch with a
 * deferred free so that any callback may close the transport it belongs to. */
#include "net/transport_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK (64 * 1024)
#define READ_ROUNDS 4 /* reads per readiness event before other watchers get a turn */
#define DEFAULT_MAX_WRITE_QUEUE ((size_t)64 << 20)

const char *transport_error_name(transport_error e)
{
    switch (e) {
    case TE_NONE:
        return "no error";
    case TE_RESOLVE:
        return "name not resolved";
    case TE_CONNECT_REFUSED:
        return "connection refused";
    case TE_CONNECT_TIMEOUT:
        return "connection timed out";
    case TE_CONNECT:
        return "connection failed";
    case TE_TLS_HANDSHAKE:
        return "TLS handshake failed";
    case TE_TLS_VERIFY:
        return "certificate verification failed";
    case TE_RESET:
        return "connection reset";
    case TE_IO:
        return "I/O error";
    case TE_WRITE_LIMIT:
        return "write queue limit exceeded";
    }
    return "unknown error";
}

/* ---- callback bracketing -------------------------------------------------------------- */

static void enter(transport *t)
{
    t->depth++;
}

/* Frees a transport closed during the callback once the outermost one returns. */
static void leave(transport *t)
{
    if (--t->depth == 0 && t->closed)
        free(t);
}

static bool alive(const transport *t)
{
    return !t->closed && t->state != TS_FAILED;
}

/* ---- watcher -------------------------------------------------------------------------- */

static size_t queued(const transport *t)
{
    return t->wq.len - t->wq_off;
}

static bool reading_wanted(const transport *t)
{
    return !t->paused && !t->eof;
}

static bool writing_wanted(const transport *t)
{
    return queued(t) > 0 || t->shut == SHUT_REQUESTED;
}

static int wanted_events(const transport *t)
{
    if (!alive(t) || t->fd < 0)
        return 0;
    switch (t->state) {
    case TS_CONNECTING:
        return EV_WRITE;
    case TS_HANDSHAKING:
        return t->hs_want;
    case TS_OPEN:
        break;
    case TS_FAILED:
        return 0;
    }
    int ev = 0;
    if (reading_wanted(t))
        ev |= t->read_wants_write ? EV_WRITE : EV_READ;
    if (writing_wanted(t))
        ev |= t->write_wants_read ? EV_READ : EV_WRITE;
    return ev;
}

/* Restarts the watcher only when the interest changes (stopping drops pending events).
 * Decrypted bytes waiting inside OpenSSL do not make the fd readable, so a read event is
 * fed for them; feeding here, after every change, also replaces one a restart dropped. */
void transport_update_watcher(transport *t)
{
    int ev = wanted_events(t);
    int cur = ev_is_active(&t->io) ? (t->io.events & (EV_READ | EV_WRITE)) : 0;
    if (ev != cur) {
        ev_io_stop(t->loop, &t->io);
        if (ev) {
            ev_io_set(&t->io, t->fd, ev);
            ev_io_start(t->loop, &t->io);
        }
    }
    if ((ev & EV_READ) && t->state == TS_OPEN && !t->read_wants_write && reading_wanted(t) &&
        t->ops->pending(t))
        ev_feed_event(t->loop, &t->io, EV_READ);
}

/* ---- failures ------------------------------------------------------------------------- */

static void stop_everything(transport *t)
{
    ev_io_stop(t->loop, &t->io);
    ev_timer_stop(t->loop, &t->timer);
}

void transport_fail(transport *t, transport_error err, const char *detail)
{
    if (!alive(t))
        return;
    t->state = TS_FAILED;
    stop_everything(t);
    if (t->cb.on_error)
        t->cb.on_error(t->ud, err, detail ? detail : transport_error_name(err));
}

void transport_fail_later(transport *t, transport_error err, const char *detail)
{
    if (!alive(t))
        return;
    t->state = TS_FAILED;
    stop_everything(t);
    t->deferred_err = err;
    free(t->deferred_detail);
    t->deferred_detail = strdup(detail ? detail : transport_error_name(err));
    t->report_pending = true;
    ev_timer_set(&t->timer, 0., 0.);
    ev_timer_start(t->loop, &t->timer);
}

static void report_deferred(transport *t)
{
    t->report_pending = false;
    if (t->cb.on_error)
        t->cb.on_error(t->ud, t->deferred_err,
                       t->deferred_detail ? t->deferred_detail
                                          : transport_error_name(t->deferred_err));
}

/* ---- reading -------------------------------------------------------------------------- */

/* Reads until the socket would block (bounded by READ_ROUNDS buffers of READ_CHUNK). */
static void read_ready(transport *t)
{
    char data[READ_CHUNK];
    for (int round = 0; round < READ_ROUNDS; round++) {
        size_t len = 0;
        io_result r = IO_OK;
        io_failure f = {0};
        while (len < sizeof data) {
            size_t n = 0;
            r = t->ops->read(t, data + len, sizeof data - len, &n, &f);
            len += n;
            if (r != IO_OK)
                break;
        }
        t->read_wants_write = r == IO_WANT_WRITE;
        if (len) {
            if (t->cb.on_data)
                t->cb.on_data(t->ud, data, len);
            if (!alive(t))
                return;
        }
        if (r == IO_EOF) {
            t->eof = true;
            if (t->cb.on_eof)
                t->cb.on_eof(t->ud);
            return;
        }
        if (r == IO_FAIL) {
            transport_fail(t, f.err, f.detail);
            return;
        }
        if (r != IO_OK || !reading_wanted(t))
            return;
    }
    /* budget used up: the fd stays readable, or transport_update_watcher() feeds an event */
}

/* ---- writing -------------------------------------------------------------------------- */

/* Writes from src until done or blocked; returns the result of the last attempt. */
static io_result write_some(transport *t, const char *src, size_t len, size_t *written,
                            io_failure *f)
{
    io_result r = IO_OK;
    *written = 0;
    while (*written < len) {
        size_t n = 0;
        r = t->ops->write(t, src + *written, len - *written, &n, f);
        *written += n;
        if (r != IO_OK)
            break;
    }
    return r;
}

static void queue_release_if_empty(transport *t)
{
    if (queued(t) == 0) {
        buf_free(&t->wq);
        t->wq_off = 0;
    }
}

static void shutdown_now(transport *t)
{
    io_failure f = {0};
    io_result r = t->ops->shutdown(t, &f);
    t->write_wants_read = r == IO_WANT_READ;
    if (r == IO_FAIL)
        transport_fail(t, f.err, f.detail);
    else if (r == IO_OK || r == IO_EOF)
        t->shut = SHUT_DONE;
}

static void flush(transport *t)
{
    bool had = queued(t) > 0;
    if (had) {
        size_t n = 0;
        io_failure f = {0};
        io_result r = write_some(t, t->wq.data + t->wq_off, queued(t), &n, &f);
        t->wq_off += n;
        t->write_wants_read = r == IO_WANT_READ;
        if (r == IO_FAIL || r == IO_EOF) {
            transport_fail(t, r == IO_FAIL ? f.err : TE_RESET, r == IO_FAIL ? f.detail : NULL);
            return;
        }
        queue_release_if_empty(t);
        if (queued(t))
            return;
        if (t->cb.on_drained)
            t->cb.on_drained(t->ud);
        if (!alive(t))
            return;
    }
    if (queued(t) == 0 && t->shut == SHUT_REQUESTED)
        shutdown_now(t);
}

/* ---- events --------------------------------------------------------------------------- */

static void connected(transport *t)
{
    ev_timer_stop(t->loop, &t->timer);
    transport_free_addrs(t);
    t->state = TS_OPEN;
    if (t->cb.on_connected)
        t->cb.on_connected(t->ud);
    if (alive(t) && writing_wanted(t) && !t->write_wants_read)
        flush(t);
}

static void handshake_step(transport *t)
{
    io_failure f = {0};
    switch (t->ops->handshake(t, &f)) {
    case IO_OK:
        connected(t);
        break;
    case IO_WANT_READ:
        t->hs_want = EV_READ;
        break;
    case IO_WANT_WRITE:
        t->hs_want = EV_WRITE;
        break;
    case IO_EOF:
        transport_fail(t, TE_TLS_HANDSHAKE, "connection closed during the TLS handshake");
        break;
    case IO_FAIL:
        transport_fail(t, f.err, f.detail);
        break;
    }
}

void transport_begin_handshake(transport *t)
{
    t->state = TS_HANDSHAKING;
    handshake_step(t);
}

static void open_ready(transport *t, int revents)
{
    bool can_read = revents & EV_READ, can_write = revents & EV_WRITE;
    if (writing_wanted(t) && (t->write_wants_read ? can_read : can_write))
        flush(t);
    if (alive(t) && reading_wanted(t) && (t->read_wants_write ? can_write : can_read)) {
        read_ready(t);
        /* a read may have completed what a blocked TLS write was waiting for */
        if (alive(t) && t->write_wants_read && writing_wanted(t))
            flush(t);
    }
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    transport *t = w->data;
    enter(t);
    switch (t->state) {
    case TS_CONNECTING:
        transport_connect_finished(t);
        break;
    case TS_HANDSHAKING:
        handshake_step(t);
        break;
    case TS_OPEN:
        open_ready(t, revents);
        break;
    case TS_FAILED:
        break;
    }
    if (alive(t))
        transport_update_watcher(t);
    leave(t);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    transport *t = w->data;
    enter(t);
    if (t->report_pending)
        report_deferred(t);
    else if (t->state == TS_CONNECTING)
        transport_fail(t, TE_CONNECT_TIMEOUT, "TCP connect timed out");
    else if (t->state == TS_HANDSHAKING)
        transport_fail(t, TE_CONNECT_TIMEOUT, "TLS handshake timed out");
    leave(t);
}

transport *transport_new(struct ev_loop *loop, const transport_ops *ops,
                         const transport_callbacks *cb, void *ud)
{
    transport *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->loop = loop;
    t->ops = ops;
    if (cb)
        t->cb = *cb;
    t->ud = ud;
    t->fd = -1;
    t->max_write_queue = DEFAULT_MAX_WRITE_QUEUE;
    t->timeout = 10.;
    ev_init(&t->io, on_io);
    t->io.data = t;
    ev_init(&t->timer, on_timer);
    t->timer.data = t;
    return t;
}

void transport_start_timeout(transport *t)
{
    ev_timer_stop(t->loop, &t->timer);
    ev_now_update(t->loop); /* the timeout counts from this call, not from a stale loop time */
    ev_timer_set(&t->timer, t->timeout, 0.);
    ev_timer_start(t->loop, &t->timer);
}

/* ---- public API ----------------------------------------------------------------------- */

static int enqueue(transport *t, const char *data, size_t len)
{
    /* compact when the written prefix dominates, so a long-lived queue does not creep */
    if (t->wq_off && t->wq_off >= t->wq.len / 2) {
        buf_consume(&t->wq, t->wq_off);
        t->wq_off = 0;
    }
    if (buf_append(&t->wq, data, len) < 0) {
        transport_fail_later(t, TE_IO, "out of memory for the write queue");
        return -1;
    }
    return 0;
}

int transport_write(transport *t, const void *data, size_t len)
{
    if (!t || !alive(t) || t->shut != SHUT_NONE)
        return -1;
    if (len == 0)
        return 0;
    if (len > t->max_write_queue || queued(t) > t->max_write_queue - len) {
        transport_fail_later(t, TE_WRITE_LIMIT, "write queue limit exceeded");
        return -1;
    }
    const char *src = data;
    if (t->state == TS_OPEN && queued(t) == 0) {
        size_t n = 0;
        io_failure f = {0};
        io_result r = write_some(t, src, len, &n, &f);
        if (r == IO_FAIL || r == IO_EOF) {
            transport_fail_later(t, r == IO_FAIL ? f.err : TE_RESET,
                                 r == IO_FAIL ? f.detail : NULL);
            return 0;
        }
        t->write_wants_read = r == IO_WANT_READ;
        src += n;
        len -= n;
    }
    if (len && enqueue(t, src, len) < 0)
        return -1;
    transport_update_watcher(t);
    return 0;
}

size_t transport_queued(const transport *t)
{
    return t ? queued(t) : 0;
}

void transport_pause(transport *t, bool paused)
{
    if (!t || !alive(t) || t->paused == paused)
        return;
    t->paused = paused;
    transport_update_watcher(t);
}

void transport_shutdown(transport *t)
{
    if (!t || !alive(t) || t->shut != SHUT_NONE)
        return;
    /* performed from the loop once the queue is empty (an fd is writable at once) */
    t->shut = SHUT_REQUESTED;
    transport_update_watcher(t);
}

void transport_close(transport *t, bool rst)
{
    if (!t || t->closed)
        return;
    t->closed = true;
    stop_everything(t);
    if (t->fd >= 0) {
        if (rst)
            tcp_set_linger_reset(t->fd);
        close(t->fd);
        t->fd = -1;
    }
    t->ops->release(t);
    buf_free(&t->wq);
    transport_free_addrs(t);
    free(t->sni);
    free(t->deferred_detail);
    t->sni = t->deferred_detail = NULL;
    if (t->depth == 0)
        free(t);
}

int transport_fd(const transport *t)
{
    return t ? t->fd : -1;
}
