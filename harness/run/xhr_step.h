/* Runs one `xhr:` step: the page script's calls (open, setRequestHeader, send, abort, the
 * timeout attribute) against the XHR model, fed by a fetch over real sockets. */
#ifndef COMET_XHR_STEP_H
#define COMET_XHR_STEP_H

#include "browser/trace.h"
#include "run/fetch.h"
#include "run/step.h"
#include "scenario/expect_check.h"
#include "scenario/scenario.h"
#include "util/url.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct xhr_run xhr_run;


/* Starts the step; `done` is called once, from the loop, never from inside this call. */
xhr_run *xhr_run_start(const step_env *env, const xhr_step *s, step_done done, void *ud);
/* The case deadline: ends the step where it stands and reports it (done is called). */
void xhr_run_deadline(xhr_run *r);
/* Frees a run whose done callback has been called, or stops one silently. */
void xhr_run_free(xhr_run *r);

#endif
