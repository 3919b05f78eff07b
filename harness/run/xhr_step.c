#include "run/xhr_step.h"

#include "browser/request_headers.h"
#include "browser/xhr.h"
#include "util/buf.h"
#include "util/clock.h"

#include <ev.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ABORT_AFTER_DONE_DELAY_US 20000 /* the recorder aborts 20 ms after loadend */
#define LATE_TIMER_US 20000             /* a page timer this late is worth a "lag" event */

struct xhr_run {
    step_env env;
    const xhr_step *step;
    step_done done;
    void *ud;
    xhr_model x;
    fetch *f;
    url request_url;
    size_t trace_from;
    int64_t sent_at;
    int64_t loadend_at;
    bool aborted_by_script;
    bool finished;        /* loadend seen (or the deadline): settling */
    bool reported;
    bool connect_failed;
    char *error;
    ev_timer throttle_timer;
    ev_timer timeout_timer;   /* the xhr.timeout attribute */
    ev_timer abort_timer;     /* abort_after / abort_on: done */
    ev_timer settle_timer;    /* reports from the loop, after the last event */
};
/* the shared fetch callbacks (step.h) find the step_env at the start of the run */
_Static_assert(offsetof(xhr_run, env) == 0, "step_env first");

static int64_t now(const xhr_run *r)
{
    return step_now(&r->env);
}

static void stop_timers(xhr_run *r)
{
    ev_timer_stop(r->env.loop, &r->throttle_timer);
    ev_timer_stop(r->env.loop, &r->timeout_timer);
    ev_timer_stop(r->env.loop, &r->abort_timer);
    ev_timer_stop(r->env.loop, &r->settle_timer);
}

static void cancel_fetch(xhr_run *r)
{
    fetch *f = r->f;
    r->f = NULL;
    fetch_cancel(f);
}

static void arm_throttle(xhr_run *r)
{
    step_timer_at(&r->env, &r->throttle_timer, r->finished ? -1 : xhr_next_timer(&r->x));
}

static void settle_soon(xhr_run *r)
{
    step_timer_at(&r->env, &r->settle_timer, 0);
}

static void script_abort(xhr_run *r)
{
    r->aborted_by_script = true;
    cancel_fetch(r);
    xhr_abort(&r->x, now(r));
}

/* ---- page script: event listeners ---------------------------------------------------- */

static void on_page_event(void *ud, xhr_model *x, const trace_event *e)
{
    xhr_run *r = ud;
    const xhr_step *s = r->step;
    if (!r->aborted_by_script) {
        if (s->abort == ABORT_ON_READY_STATE && !strcmp(e->ev, "readystatechange") &&
            e->rs == s->abort_ready_state) {
            script_abort(r);
            return;
        }
        if (s->abort == ABORT_ON_FIRST_PROGRESS && !strcmp(e->ev, "progress")) {
            script_abort(r);
            return;
        }
    }
    if (!strcmp(e->ev, "loadend") && !r->finished) {
        r->finished = true;
        r->loadend_at = e->t_us;
        ev_timer_stop(r->env.loop, &r->timeout_timer);
        ev_timer_stop(r->env.loop, &r->throttle_timer);
        if (s->abort == ABORT_AFTER_DONE && !r->aborted_by_script) {
            ev_timer_stop(r->env.loop, &r->abort_timer);
            ev_timer_set(&r->abort_timer, ABORT_AFTER_DONE_DELAY_US / 1e6, 0.0);
            ev_timer_start(r->env.loop, &r->abort_timer);
        } else {
            settle_soon(r);
        }
    }
}

/* ---- fetch callbacks ------------------------------------------------------------------- */

static void on_request_sent(void *ud)
{
    xhr_run *r = ud;
    xhr_upload_done(&r->x, now(r));
}

static void on_response(void *ud, const fetch_response *fr)
{
    xhr_run *r = ud;
    xhr_response_head h = {
        .status = fr->status,
        .reason = fr->reason,
        .reason_len = fr->reason_len,
        .headers = fr->headers->items,
        .n_headers = fr->headers->n,
        .internal = fr->internal->items,
        .n_internal = fr->internal->n,
        .url = fr->url,
        .content_length_known = fr->content_length_known,
        .content_length = fr->content_length,
    };
    xhr_headers(&r->x, now(r), &h);
    arm_throttle(r);
}

static void on_body(void *ud, const char *data, size_t len)
{
    xhr_run *r = ud;
    xhr_body(&r->x, now(r), data, len);
    arm_throttle(r);
}

static void on_done(void *ud)
{
    xhr_run *r = ud;
    r->f = NULL; /* a finished fetch frees itself */
    xhr_end(&r->x, now(r));
}

static void on_error(void *ud, const char *detail, fetch_error kind)
{
    xhr_run *r = ud;
    r->f = NULL;
    r->connect_failed = kind == FETCH_ERR_CONNECT;
    xhr_fail(&r->x, now(r), "error", detail);
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

/* ---- timers ---------------------------------------------------------------------------------- */

static void throttle_fired(struct ev_loop *loop, ev_timer *w, int revents)
{
    xhr_run *r = w->data;
    xhr_timer(&r->x, now(r));
    arm_throttle(r);
}

/* A page timer that fires late (a busy or descheduled machine) may let it act after data
 * that a browser would have seen first: say so in the trace, so a comparison can discount
 * timing verdicts (libev runs an expired timer before the reads of the same wake-up). */
static void note_lateness(xhr_run *r, const char *timer, int64_t due_us)
{
    int64_t late = now(r) - due_us;
    if (late < LATE_TIMER_US)
        return;
    char detail[128];
    snprintf(detail, sizeof detail, "the %s timer fired %lld ms late", timer,
             (long long)(late / 1000));
    record_detail(r->env.trace, now(r), "lag", detail);
}

static void timeout_fired(struct ev_loop *loop, ev_timer *w, int revents)
{
    xhr_run *r = w->data;
    note_lateness(r, "xhr.timeout", r->sent_at + r->step->timeout_us);
    cancel_fetch(r);
    char detail[64];
    snprintf(detail, sizeof detail, "xhr.timeout of %lld ms elapsed",
             (long long)(r->step->timeout_us / 1000));
    xhr_fail(&r->x, now(r), "timeout", detail);
}

static void abort_fired(struct ev_loop *loop, ev_timer *w, int revents)
{
    xhr_run *r = w->data;
    if (r->step->abort == ABORT_AFTER_TIME)
        note_lateness(r, "abort_after", r->sent_at + r->step->abort_after_us);
    script_abort(r);
    if (r->finished) /* an abort after loadend fires no event: report now */
        settle_soon(r);
}

/* Snapshots what the page can read now, records it as the step's "final" event and
 * reports. */
static void report(xhr_run *r)
{
    if (r->reported)
        return;
    r->reported = true;
    stop_timers(r);
    cancel_fetch(r);
    buf headers = {0};
    xhr_all_headers(&r->x, &headers);
    xhr_final f = {
        .ready_state = r->x.state,
        .status = r->x.status,
        .status_text = r->x.status_text ? r->x.status_text : "",
        .response_text = r->x.text.data ? r->x.text.data : "",
        .response_url = r->x.response_url ? r->x.response_url : "",
        .all_headers = headers.data ? headers.data : "",
        .elapsed_us = r->loadend_at ? r->loadend_at - r->sent_at : -1,
    };
    trace_event *e = trace_push(r->env.trace, now(r), "final");
    if (e) {
        e->fields |= TF_RS | TF_STATUS | TF_LEN;
        e->rs = f.ready_state;
        e->status = f.status;
        e->len = xhr_text_length(&r->x);
        trace_set_cstr(e, &e->status_text, TF_STATUS_TEXT, f.status_text);
        size_t n = utf8_prefix_for_units(f.response_text, r->x.text.len, r->env.trace->text_cap);
        trace_set_str(e, &e->text, TF_TEXT, f.response_text, n);
        e->text_truncated = n < r->x.text.len;
        trace_set_cstr(e, &e->url, TF_URL, f.response_url);
        trace_set_cstr(e, &e->detail, TF_DETAIL, f.all_headers);
    }
    step_outcome o = {
        .final = &f,
        .trace_from = r->trace_from,
        .trace_to = r->env.trace->n,
        .connect_failed = r->connect_failed,
        .error = r->error,
    };
    r->done(r->ud, &o);
    buf_free(&headers);
}

static void settle_fired(struct ev_loop *loop, ev_timer *w, int revents)
{
    report(w->data);
}

void xhr_run_deadline(xhr_run *r)
{
    record_detail(r->env.trace, now(r), "deadline", "the case deadline was reached");
    report(r);
}

/* ---- start ---------------------------------------------------------------------------------------- */

static void console_message(xhr_run *r, const char *text)
{
    record_detail(r->env.trace, now(r), "console", text);
}

xhr_run *xhr_run_start(const step_env *env, const xhr_step *s, step_done done, void *ud)
{
    xhr_run *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->env = *env;
    r->step = s;
    r->done = done;
    r->ud = ud;
    r->trace_from = env->trace->n;
    step_timer_init(&r->throttle_timer, throttle_fired, r);
    step_timer_init(&r->timeout_timer, timeout_fired, r);
    step_timer_init(&r->abort_timer, abort_fired, r);
    step_timer_init(&r->settle_timer, settle_fired, r);
    xhr_init(&r->x, env->trace, on_page_event, r, env->max_response_text);

    char err[256];
    if (url_resolve(&r->request_url, env->target, s->url, err, sizeof err) < 0) {
        r->error = strdup(err);
        settle_soon(r);
        return r;
    }
    xhr_open(&r->x, now(r));
    header_list author = {0};
    for (size_t i = 0; i < s->n_headers; i++) {
        char msg[256];
        if (!author_header_set(&author, s->headers[i].name, s->headers[i].value, msg, sizeof msg))
            console_message(r, msg);
    }
    /* send(): GET and HEAD never carry a body. */
    bool body_allowed = strcasecmp(s->method, "GET") && strcasecmp(s->method, "HEAD");
    bool has_body = body_allowed && s->body != NULL;
    ev_now_update(env->loop); /* the timeout and abort timers count from send() */
    r->sent_at = now(r);
    xhr_send(&r->x, r->sent_at, has_body, has_body ? s->body_len : 0, s->upload_listeners);
    if (s->timeout_us > 0) {
        ev_timer_set(&r->timeout_timer, s->timeout_us / 1e6, 0.0);
        ev_timer_start(env->loop, &r->timeout_timer);
    }
    if (s->abort == ABORT_AFTER_TIME) {
        ev_timer_set(&r->abort_timer, s->abort_after_us / 1e6, 0.0);
        ev_timer_start(env->loop, &r->abort_timer);
    }
    fetch_request req = {
        .method = s->method,
        .url = &r->request_url,
        .author = &author,
        .body = has_body ? s->body : NULL,
        .body_len = has_body ? s->body_len : 0,
        .page_origin = env->page_origin,
        .page_url = env->page_url,
        .with_credentials = s->with_credentials,
        .upload_listeners = s->upload_listeners,
        .preflight_cache = env->preflight_cache,
        .cookies = env->cookies,
    };
    r->f = fetch_start(env->fetch, &req, &fetch_cbs, r);
    header_list_free(&author);
    return r;
}

void xhr_run_free(xhr_run *r)
{
    if (!r)
        return;
    stop_timers(r);
    cancel_fetch(r);
    xhr_free(&r->x);
    url_free(&r->request_url);
    free(r->error);
    free(r);
}
