#include "run/step.h"

#include "run/es_step.h"
#include "run/ws_step.h"
#include "run/xhr_step.h"
#include "util/buf.h"
#include "util/clock.h"

#include <ev.h>
#include <stdlib.h>

struct step_run {
    step_kind kind;
    void *run;
};

step_run *step_run_start(const step_env *env, const step *st, step_done done, void *ud)
{
    step_run *r = malloc(sizeof *r);
    if (!r)
        return NULL;
    r->kind = st->kind;
    r->run = NULL;
    switch (st->kind) {
    case STEP_XHR:
        r->run = xhr_run_start(env, &st->u.xhr, done, ud);
        break;
    case STEP_EVENTSOURCE:
        r->run = es_run_start(env, &st->u.es, done, ud);
        break;
    case STEP_WEBSOCKET:
        r->run = ws_run_start(env, &st->u.ws, done, ud);
        break;
    }
    if (!r->run) {
        free(r);
        return NULL;
    }
    return r;
}

void step_run_deadline(step_run *r)
{
    switch (r->kind) {
    case STEP_XHR:
        xhr_run_deadline(r->run);
        break;
    case STEP_EVENTSOURCE:
        es_run_deadline(r->run);
        break;
    case STEP_WEBSOCKET:
        ws_run_deadline(r->run);
        break;
    }
}

void step_run_free(step_run *r)
{
    if (!r)
        return;
    switch (r->kind) {
    case STEP_XHR:
        xhr_run_free(r->run);
        break;
    case STEP_EVENTSOURCE:
        es_run_free(r->run);
        break;
    case STEP_WEBSOCKET:
        ws_run_free(r->run);
        break;
    }
    free(r);
}

/* ---- trace recorders ------------------------------------------------------------------ */

void record_request(trace *t, int64_t now, const char *method, const char *u, const char *head)
{
    trace_event *e = trace_push(t, now, "request");
    if (!e)
        return;
    trace_set_cstr(e, &e->method, TF_METHOD, method);
    trace_set_cstr(e, &e->url, TF_URL, u);
    trace_set_cstr(e, &e->detail, TF_DETAIL, head);
}

void record_redirect(trace *t, int64_t now, int status, const char *u)
{
    trace_event *e = trace_push(t, now, "redirect");
    if (!e)
        return;
    e->fields |= TF_STATUS;
    e->status = status;
    trace_set_cstr(e, &e->url, TF_URL, u);
}

void record_response_head(trace *t, int64_t now, const char *method, int status, const char *u,
                          const header_list *h)
{
    trace_event *e = trace_push(t, now, "response");
    if (!e)
        return;
    e->fields |= TF_STATUS;
    e->status = status;
    trace_set_cstr(e, &e->method, TF_METHOD, method);
    trace_set_cstr(e, &e->url, TF_URL, u);
    buf b = {0};
    for (size_t i = 0; i < h->n; i++)
        buf_printf(&b, "%s: %s\r\n", h->items[i].name, h->items[i].value);
    trace_set_cstr(e, &e->detail, TF_DETAIL, b.data ? b.data : "");
    buf_free(&b);
}

void record_finding(trace *t, int64_t now, const http1_finding *f, const char *u)
{
    trace_event *e = trace_push(t, now, "finding");
    if (!e)
        return;
    e->fields |= TF_OFFSET;
    e->offset = f->offset;
    trace_set_cstr(e, &e->detail, TF_DETAIL, f->message);
    trace_set_cstr(e, &e->url, TF_URL, u);
}

void record_detail(trace *t, int64_t now, const char *ev, const char *detail)
{
    trace_event *e = trace_push(t, now, ev);
    if (e)
        trace_set_cstr(e, &e->detail, TF_DETAIL, detail);
}

/* ---- shared fetch callbacks ----------------------------------------------------------- */

int64_t step_now(const step_env *env)
{
    return clock_now_us() - env->t0;
}

void step_timer_init(ev_timer *w, void (*cb)(struct ev_loop *, ev_timer *, int), void *run)
{
    ev_timer_init(w, cb, 0.0, 0.0);
    w->data = run;
}

void step_timer_at(const step_env *env, ev_timer *w, int64_t at_us)
{
    ev_timer_stop(env->loop, w);
    if (at_us < 0)
        return;
    int64_t wait = at_us - step_now(env);
    ev_timer_set(w, wait > 0 ? (double)wait / 1e6 : 0.0, 0.0);
    ev_timer_start(env->loop, w);
}

void step_on_request(void *ud, const char *method, const char *u, const char *head)
{
    const step_env *env = ud;
    record_request(env->trace, step_now(env), method, u, head);
}

void step_on_redirect(void *ud, int status, const char *u)
{
    const step_env *env = ud;
    record_redirect(env->trace, step_now(env), status, u);
}

void step_on_response_head(void *ud, const char *method, int status, const char *u,
                           const header_list *h)
{
    const step_env *env = ud;
    record_response_head(env->trace, step_now(env), method, status, u, h);
}

void step_on_finding(void *ud, const http1_finding *f, const char *u)
{
    const step_env *env = ud;
    record_finding(env->trace, step_now(env), f, u);
}

void step_on_console(void *ud, const char *text)
{
    const step_env *env = ud;
    record_detail(env->trace, step_now(env), "console", text);
}

void step_on_leniency(void *ud, const char *text)
{
    const step_env *env = ud;
    record_detail(env->trace, step_now(env), "leniency", text);
}
