/* What every step kind shares: the case's environment it runs in, how it reports, the
 * dispatch over the kinds, and the recorders that put fetch's observations in the trace. */
#ifndef COMET_STEP_H
#define COMET_STEP_H

#include "browser/trace.h"
#include "run/fetch.h"
#include "scenario/expect_check.h"
#include "scenario/scenario.h"
#include "util/url.h"

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

struct ws_close_registry;

typedef struct step_env {
    struct ev_loop *loop;
    const fetch_config *fetch;
    const url *target;        /* base for relative step URLs */
    const url *page_url;      /* the emulated page's URL */
    const char *page_origin;
    int64_t t0;               /* the case's start (clock_now_us) */
    trace *trace;             /* the case's trace: the step appends to it */
    struct cors_cache *preflight_cache; /* the page's preflight cache */
    struct cookie_jar *cookies;         /* the page's cookie jar */
    size_t max_response_text;
    const struct ws_close_registry *ws_registry; /* grades servers' close codes */
} step_env;

typedef struct step_outcome {
    const xhr_final *final;   /* xhr steps */
    const stream_final *stream; /* eventsource and websocket steps */
    size_t trace_from;        /* the step's events in env->trace: [from, to) */
    size_t trace_to;
    bool connect_failed;      /* the target could not be reached at all */
    const char *error;        /* a harness problem (bad URL, ...), or NULL */
} step_outcome;

typedef void (*step_done)(void *ud, const step_outcome *o);

typedef struct step_run step_run;

/* Starts any step; `done` is called once, from the loop, never from inside this call.
 * NULL when memory runs out. */
step_run *step_run_start(const step_env *env, const step *st, step_done done, void *ud);
/* The case deadline: ends the step where it stands and reports it (done is called). */
void step_run_deadline(step_run *r);
/* Frees a run whose done callback has been called, or stops one silently. */
void step_run_free(step_run *r);

/* Trace recorders for fetch's observations (comet's own events: request, redirect,
 * response, finding, leniency, console). */
void record_request(trace *t, int64_t now, const char *method, const char *url,
                    const char *head);
void record_redirect(trace *t, int64_t now, int status, const char *url);
void record_response_head(trace *t, int64_t now, const char *method, int status,
                          const char *url, const header_list *h);
void record_finding(trace *t, int64_t now, const http1_finding *f, const char *url);
void record_detail(trace *t, int64_t now, const char *ev, const char *detail);

/* fetch callbacks that only record, shared by the step runs that fetch: `ud` points at a run
 * whose first member is its step_env. */
void step_on_request(void *ud, const char *method, const char *url, const char *head);
void step_on_redirect(void *ud, int status, const char *url);
void step_on_response_head(void *ud, const char *method, int status, const char *url,
                           const header_list *h);
void step_on_finding(void *ud, const http1_finding *f, const char *url);
void step_on_console(void *ud, const char *text);
void step_on_leniency(void *ud, const char *text);

/* Microseconds since the case started. */
int64_t step_now(const step_env *env);
/* A one-shot timer of a step run, not started. */
void step_timer_init(ev_timer *w, void (*cb)(struct ev_loop *, ev_timer *, int), void *run);
/* (Re)arms w to fire at at_us (case time; at once when that has passed), or stops it when
 * at_us < 0: how the models' "next timer" answers become libev timers. */
void step_timer_at(const step_env *env, ev_timer *w, int64_t at_us);

#endif
