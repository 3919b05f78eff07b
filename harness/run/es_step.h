/* Runs one `eventsource:` step: new EventSource(url) against the EventSource model, fed by
 * fetches over real sockets, reconnecting as the browser would, until the page's close()
 * (a stop condition), a failed connection or the case deadline. */
#ifndef COMET_ES_STEP_H
#define COMET_ES_STEP_H

#include "run/step.h"

typedef struct es_run es_run;

es_run *es_run_start(const step_env *env, const es_step *s, step_done done, void *ud);
void es_run_deadline(es_run *r);
void es_run_free(es_run *r);

#endif
