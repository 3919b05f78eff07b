/* Loads a YAML scenario file into a suite (libyaml). */
#ifndef COMET_LOADER_H
#define COMET_LOADER_H

#include "scenario/scenario.h"

#include <stddef.h>

typedef struct load_error {
    char message[512]; /* "file:line:column: what is wrong" */
} load_error;

/* Returns a suite, or NULL with err filled. ${NAME} and ${NAME:-default} in scalars are
 * replaced from the environment; an unset variable without a default is an error. */
suite *suite_load_file(const char *path, load_error *err);
suite *suite_load_string(const char *name, const char *yaml, size_t len, load_error *err);
void suite_free(suite *s);

/* Parses "2s", "500ms", "1.5s", "250us", "1m" or a bare integer (milliseconds) into
 * microseconds; returns -1 when malformed. */
int64_t parse_duration_us(const char *s);

#endif
