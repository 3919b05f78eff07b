#include "tests/fixture_env.h"

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

bool env_start(env *e, const char *listen, bool tls)
{
    char err[256] = "";
    e->loop = ev_loop_new(EVFLAG_AUTO);
    fixture_opts o = {.listen = listen, .tls = tls, .base_dir = "."};
    e->fx = fixture_start(e->loop, &o, err, sizeof err);
    if (!e->fx) {
        fprintf(stderr, "fixture_start(%s): %s\n", listen, err);
        ev_loop_destroy(e->loop);
        return false;
    }
    e->port = fixture_port(e->fx);
    return true;
}

void env_stop(env *e)
{
    fixture_stop(e->fx);
    ev_run(e->loop, EVRUN_NOWAIT);
    ev_loop_destroy(e->loop);
}

static void mark_done(client *c)
{
    c->done = true;
    c->t_done = ev_time();
}

static void cl_connected(void *ud)
{
    client *c = ud;
    c->connected = true;
    if (c->req)
        transport_write(c->t, c->req, c->req_len);
}

static void cl_resume(struct ev_loop *loop, ev_timer *w, int revents)
{
    client *c = w->data;
    transport_pause(c->t, false);
}

static void cl_data(void *ud, const char *data, size_t len)
{
    client *c = ud;
    buf_append(&c->in, data, len);
    if (c->close_in_data) {
        transport_close(c->t, false);
        c->t = NULL;
        mark_done(c);
        return;
    }
    if (c->pause_first_data) {
        c->pause_first_data = false;
        transport_pause(c->t, true);
        ev_timer_init(&c->resume, cl_resume, 0.1, 0.);
        c->resume.data = c;
        ev_timer_start(c->loop, &c->resume);
    }
    if (c->stop_after && c->in.len >= c->stop_after)
        mark_done(c);
}

static void cl_eof(void *ud)
{
    client *c = ud;
    c->eof = true;
    mark_done(c);
}

static void cl_drained(void *ud)
{
    client *c = ud;
    c->drained++;
}

static void cl_error(void *ud, transport_error err, const char *detail)
{
    client *c = ud;
    c->failed = true;
    c->err = err;
    snprintf(c->detail, sizeof c->detail, "%s", detail);
    mark_done(c);
}

static const transport_callbacks client_cb = {
    .on_connected = cl_connected,
    .on_data = cl_data,
    .on_eof = cl_eof,
    .on_drained = cl_drained,
    .on_error = cl_error,
};

static void on_guard(struct ev_loop *loop, ev_timer *w, int revents)
{
    *(bool *)w->data = true;
}

/* Runs the loop until *flag or for at most seconds; returns *flag. */
bool run_until(struct ev_loop *loop, const bool *flag, double seconds)
{
    bool expired = false;
    ev_timer guard;
    ev_timer_init(&guard, on_guard, seconds, 0.);
    guard.data = &expired;
    ev_timer_start(loop, &guard);
    while (!*flag && !expired)
        ev_run(loop, EVRUN_ONCE);
    ev_timer_stop(loop, &guard);
    return *flag;
}

void client_start(client *c, struct ev_loop *loop, const char *host, int port,
                         const transport_opts *o, const char *req)
{
    memset(c, 0, sizeof *c);
    c->loop = loop;
    c->req = req;
    c->req_len = req ? strlen(req) : 0;
    c->t0 = ev_time();
    c->t = transport_connect(loop, host, port, o, &client_cb, c);
}

void client_end(client *c)
{
    if (c->t)
        transport_close(c->t, false);
    c->t = NULL;
    ev_timer_stop(c->loop, &c->resume);
    buf_free(&c->in);
}

/* One request on a fresh connection; runs until EOF, error or stop_after bytes. */
void fixture_fetch(env *e, client *c, const char *req, size_t stop_after)
{
    client_start(c, e->loop, "127.0.0.1", e->port, NULL, req);
    c->stop_after = stop_after;
    CU_ASSERT_FATAL(c->t != NULL);
    CU_ASSERT(run_until(e->loop, &c->done, RUN_CAP));
}

bool starts_with(const buf *b, const char *prefix)
{
    return b->len >= strlen(prefix) && memcmp(b->data, prefix, strlen(prefix)) == 0;
}

bool contains(const buf *b, const char *s)
{
    return b->data && strstr(b->data, s) != NULL;
}

/* The body after the head (b must hold a whole head). */
const char *body_of(const buf *b)
{
    const char *p = b->data ? strstr(b->data, "\r\n\r\n") : NULL;
    return p ? p + 4 : "";
}

size_t body_len_of(const buf *b)
{
    return b->len - (size_t)(body_of(b) - b->data);
}

