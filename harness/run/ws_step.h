/* Runs one `websocket:` step: new WebSocket(url, protocols) against the WebSocket model
 * over a real TCP/TLS connection, then the step's actions in order (page calls, and frames
 * no page could send), until the close event, the end of the actions' wait, or the case
 * deadline. Records an "echo" event per message received, comparing it byte for byte
 * (by FNV-1a) with the oldest message sent and not yet echoed. */
#ifndef COMET_WS_STEP_H
#define COMET_WS_STEP_H

#include "run/step.h"

typedef struct ws_run ws_run;

ws_run *ws_run_start(const step_env *env, const ws_step *s, step_done done, void *ud);
void ws_run_deadline(ws_run *r);
void ws_run_free(ws_run *r);

#endif
