/* Runs one `xhr:` step: the page script's calls (open, setRequestHeader, send, abort, the
 * timeout attribute) against the XHR model, fed by a fetch over real sockets. */
#ifndef COMET_XHR_STEP_H
#define COMET_XHR_STEP_H

#include "browser/trace.h"
#include "run/fetch.h"
#include "scenario/expect_check.h"
#include "scenario/scenario.h"
#include "util/url.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct xhr_run xhr_run;

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
} step_env;

typedef struct step_outcome {
    const xhr_final *final;
    size_t trace_from;        /* the step's events in env->trace: [from, to) */
    size_t trace_to;
    bool connect_failed;      /* the target could not be reached at all */
    const char *error;        /* a harness problem (bad URL, ...), or NULL */
} step_outcome;

typedef void (*step_done)(void *ud, const step_outcome *o);

/* Starts the step; `done` is called once, from the loop, never from inside this call. */
xhr_run *xhr_run_start(const step_env *env, const xhr_step *s, step_done done, void *ud);
/* The case deadline: ends the step where it stands and reports it (done is called). */
void xhr_run_deadline(xhr_run *r);
/* Frees a run whose done callback has been called, or stops one silently. */
void xhr_run_free(xhr_run *r);

#endif
