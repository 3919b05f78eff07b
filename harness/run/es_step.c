#include "run/es_step.h"

#include "browser/eventsource.h"
#include "util/clock.h"

#include <ev.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct es_run {
    step_env env;
    const es_step *step;
    step_done done;
    void *ud;
    es_model m;           /* must not move: the parser points back at it */
    fetch *f;
    url request_url;      /* where the next (re)connection goes: the last final URL */
    size_t trace_from;
    int status;           /* of the last response */
    int64_t requests;     /* requests opened (the first one and every reconnection) */
    int64_t messages;     /* messages the page saw */
    int64_t on_connection; /* ... on the current connection */
    int64_t drops;        /* connections comet dropped on purpose */
    bool drop_pending;
    bool page_closed;
    bool connect_failed;
    bool reported;
    char *error;
    ev_timer reconnect_timer;
    ev_timer stop_timer;  /* stop.after */
    ev_timer settle_timer;
};
/* the shared fetch callbacks (step.h) find the step_env at the start of the run */
_Static_assert(offsetof(es_run, env) == 0, "step_env first");

static int64_t now(const es_run *r)
{
    return step_now(&r->env);
}

static void cancel_fetch(es_run *r)
{
    fetch *f = r->f;
    r->f = NULL;
    fetch_cancel(f);
}

static void settle_soon(es_run *r)
{
    step_timer_at(&r->env, &r->settle_timer, 0);
}

static void arm_reconnect(es_run *r)
{
    step_timer_at(&r->env, &r->reconnect_timer, r->reported ? -1 : es_next_timer(&r->m));
}

/* The page script calls close(): no more events, nothing in flight. */
static void page_close(es_run *r)
{
    if (!r->page_closed)
        es_close(&r->m, now(r));
    r->page_closed = true;
    cancel_fetch(r);
    settle_soon(r);
}

/* ---- page script: listeners -------------------------------------------------------------- */

static bool listened(const es_run *r, const trace_event *e)
{
    const es_step *s = r->step;
    if (!s->listen || !strcmp(e->ev, "message"))
        return true;
    for (size_t i = 0; i < s->n_listen; i++)
        if (!strcmp(s->listen[i], e->ev))
            return true;
    return false;
}

static void on_page_event(void *ud, es_model *m, const trace_event *e)
{
    es_run *r = ud;
    const es_step *s = r->step;
    if (e->fields & TF_LAST_EVENT_ID) {
        if (!listened(r, e)) { /* no listener for this type: the page never sees it */
            if (e == &r->env.trace->events[r->env.trace->n - 1])
                trace_pop(r->env.trace);
            return;
        }
        r->messages++;
        r->on_connection++;
        if (s->stop_events && r->messages >= s->stop_events) {
            page_close(r);
            return;
        }
        if (s->drop_after_events && r->drops < s->drop_times &&
            r->on_connection >= s->drop_after_events) {
            /* the network fails right after this event: the rest of the read is lost */
            r->drop_pending = true;
            sse_parser_stop(&r->m.parser);
        }
        return;
    }
    bool outcome = !strcmp(e->ev, "open") || !strcmp(e->ev, "error");
    if (outcome && s->stop_reconnects && r->requests - 1 >= s->stop_reconnects) {
        page_close(r);
        return;
    }
    if (!strcmp(e->ev, "error") && e->rs == ES_CLOSED)
        settle_soon(r); /* the connection failed for good */
}

/* ---- fetch ---------------------------------------------------------------------------------- */

static void open_request(es_run *r);

static void on_request_sent(void *ud)
{
}

static void on_response(void *ud, const fetch_response *fr)
{
    es_run *r = ud;
    r->status = fr->status;
    r->on_connection = 0;
    url final;
    char err[256];
    char *origin = NULL;
    if (url_parse(&final, fr->url, err, sizeof err) == 0) {
        origin = url_origin(&final);
        url_free(&r->request_url);
        r->request_url = final; /* reconnections go where the redirects led */
    }
    const char *type = header_list_get(fr->internal, "content-type");
    if (!es_response(&r->m, now(r), fr->status, type, origin))
        cancel_fetch(r);
    free(origin);
}

/* comet's drop: as if the network failed between two reads */
static void drop_connection(es_run *r)
{
    r->drop_pending = false;
    r->drops++;
    cancel_fetch(r);
    char why[96];
    snprintf(why, sizeof why, "comet dropped the connection after %lld events (drop)",
             (long long)r->on_connection);
    es_network_error(&r->m, now(r), why);
    arm_reconnect(r);
}

static void on_body(void *ud, const char *data, size_t len)
{
    es_run *r = ud;
    es_body(&r->m, now(r), data, len);
    if (r->drop_pending && es_request_active(&r->m))
        drop_connection(r);
}

static void on_done(void *ud)
{
    es_run *r = ud;
    r->f = NULL;
    es_end(&r->m, now(r));
    arm_reconnect(r);
}

static void on_error(void *ud, const char *detail, fetch_error kind)
{
    es_run *r = ud;
    r->f = NULL;
    if (kind == FETCH_ERR_CONNECT && r->requests == 1)
        r->connect_failed = true;
    if (kind == FETCH_ERR_POLICY)
        es_fail(&r->m, now(r), detail);
    else
        es_network_error(&r->m, now(r), detail);
    arm_reconnect(r);
}

static const fetch_callbacks fetch_cbs = {
    .on_request = step_on_request,
    .on_request_sent = on_request_sent,
    .on_redirect = step_on_redirect,
    .on_response_head = step_on_response_head,
    .on_response = on_response,
    .on_body = on_body,
    .on_done = on_done,
    .on_error = on_error,
    .on_finding = step_on_finding,
    .on_console = step_on_console,
    .on_leniency = step_on_leniency,
};

static void open_request(es_run *r)
{
    size_t id_len = 0;
    const char *id = sse_parser_last_event_id(&r->m.parser, &id_len);
    char *last_id = id_len ? strndup(id, id_len) : NULL;
    fetch_request req = {
        .destination = FETCH_EVENTSOURCE,
        .method = "GET",
        .url = &r->request_url,
        .page_origin = r->env.page_origin,
        .page_url = r->env.page_url,
        .with_credentials = r->step->with_credentials,
        .last_event_id = last_id,
        .cookies = r->env.cookies,
    };
    r->requests++;
    r->on_connection = 0;
    r->f = fetch_start(r->env.fetch, &req, &fetch_cbs, r);
    free(last_id);
}

/* ---- timers and the report -------------------------------------------------------------------- */

static void reconnect_fired(struct ev_loop *loop, ev_timer *w, int revents)
{
    es_run *r = w->data;
    if (es_timer(&r->m, now(r)))
        open_request(r);
    else
        arm_reconnect(r);
}

static void stop_fired(struct ev_loop *loop, ev_timer *w, int revents)
{
    page_close(w->data);
}

static void report(es_run *r)
{
    if (r->reported)
        return;
    r->reported = true;
    ev_timer_stop(r->env.loop, &r->reconnect_timer);
    ev_timer_stop(r->env.loop, &r->stop_timer);
    ev_timer_stop(r->env.loop, &r->settle_timer);
    cancel_fetch(r);
    stream_final f = {.ready_state = es_ready_state(&r->m), .status = r->status};
    trace_event *e = trace_push(r->env.trace, now(r), "final");
    if (e) {
        e->fields |= TF_RS | TF_STATUS;
        e->rs = f.ready_state;
        e->status = f.status;
        char *u = url_serialize(&r->request_url);
        trace_set_cstr(e, &e->url, TF_URL, u ? u : "");
        free(u);
    }
    step_outcome o = {
        .stream = &f,
        .trace_from = r->trace_from,
        .trace_to = r->env.trace->n,
        .connect_failed = r->connect_failed,
        .error = r->error,
    };
    r->done(r->ud, &o);
}

static void settle_fired(struct ev_loop *loop, ev_timer *w, int revents)
{
    report(w->data);
}

void es_run_deadline(es_run *r)
{
    record_detail(r->env.trace, now(r), "deadline", "the case deadline was reached");
    report(r);
}

es_run *es_run_start(const step_env *env, const es_step *s, step_done done, void *ud)
{
    es_run *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->env = *env;
    r->step = s;
    r->done = done;
    r->ud = ud;
    r->trace_from = env->trace->n;
    step_timer_init(&r->reconnect_timer, reconnect_fired, r);
    step_timer_init(&r->stop_timer, stop_fired, r);
    step_timer_init(&r->settle_timer, settle_fired, r);
    es_init(&r->m, env->trace, on_page_event, r);
    char err[256];
    if (url_resolve(&r->request_url, env->target, s->url, err, sizeof err) < 0 ||
        (strcmp(r->request_url.scheme, "http") && strcmp(r->request_url.scheme, "https"))) {
        r->error = strdup(err[0] ? err : "an EventSource URL is http or https");
        settle_soon(r);
        return r;
    }
    if (s->last_event_id)
        sse_parser_set_last_event_id(&r->m.parser, s->last_event_id, strlen(s->last_event_id));
    char *u = url_serialize(&r->request_url);
    trace_event *e = trace_push(env->trace, now(r), "constructed");
    if (e) {
        e->fields |= TF_RS;
        e->rs = ES_CONNECTING;
        trace_set_cstr(e, &e->url, TF_URL, u ? u : "");
    }
    free(u);
    ev_now_update(env->loop);
    if (s->stop_after_us > 0) {
        ev_timer_set(&r->stop_timer, (double)s->stop_after_us / 1e6, 0.0);
        ev_timer_start(env->loop, &r->stop_timer);
    }
    if (es_start(&r->m, now(r)))
        open_request(r);
    return r;
}

void es_run_free(es_run *r)
{
    if (!r)
        return;
    ev_timer_stop(r->env.loop, &r->reconnect_timer);
    ev_timer_stop(r->env.loop, &r->stop_timer);
    ev_timer_stop(r->env.loop, &r->settle_timer);
    cancel_fetch(r);
    es_free(&r->m);
    url_free(&r->request_url);
    free(r->error);
    free(r);
}
