/* The `eventsource:` and `websocket:` step kinds of the schema and their expectations. */
#ifndef COMET_LOADER_STREAM_H
#define COMET_LOADER_STREAM_H

#include "scenario/loader_internal.h"

int parse_eventsource(loader *L, const ynode *n, step *st);
int parse_es_expect(loader *L, const ynode *n, expect *e);
int parse_websocket(loader *L, const ynode *n, step *st);
int parse_ws_expect(loader *L, const ynode *n, expect *e);
/* Free what the parsers above allocated (the step kinds' own fields). */
void stream_step_free(step *st);
void stream_expect_free(expect *e);

#endif
