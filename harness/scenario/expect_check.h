/* Compares what an XMLHttpRequest step observed with the step's expectations. */
#ifndef COMET_EXPECT_CHECK_H
#define COMET_EXPECT_CHECK_H

#include "browser/trace.h"
#include "run/result.h"
#include "scenario/scenario.h"

#include <stdbool.h>

/* The page-visible state after the step ended (loadend, or the deadline). */
typedef struct xhr_final {
    int ready_state;
    int status;
    const char *status_text;
    const char *response_text;   /* whole responseText (UTF-8) */
    const char *response_url;
    const char *all_headers;     /* getAllResponseHeaders(), "name: value\r\n" lines */
    int64_t elapsed_us;          /* send() to loadend, or -1 */
} xhr_final;

/* Checks events [from, to) of t and the final state against e. Adds one line per
 * mismatch to out ("events: expected [...], observed [...]"). Returns true when all hold. */
bool expect_check_xhr(const expect *e, const trace *t, size_t from, size_t to,
                      const xhr_final *f, reasons *out);

/* What an EventSource or WebSocket step leaves besides its trace. */
typedef struct stream_final {
    int ready_state;
    int status;       /* EventSource: the last response's status; WebSocket: the handshake's
                         (0 = no response) */
} stream_final;

/* Checks an eventsource/websocket step's events [from, to) against e. */
bool expect_check_es(const expect *e, const trace *t, size_t from, size_t to,
                     const stream_final *f, reasons *out);
/* The close behaviour, graded apart from the message behaviour (Autobahn's two axes): a
 * close frame with a code other than the expected ones is a wrong code (non-strict); no
 * close frame, or the server not closing TCP, is unclean (a failure). */
typedef enum close_axis {
    CLOSE_AXIS_OK = 0,
    CLOSE_AXIS_WRONG_CODE,
    CLOSE_AXIS_UNCLEAN,
} close_axis;

/* Returns the message behaviour's verdict; *axis gets the close behaviour's (its reasons are
 * in out too, marked "[close: wrong code]" or "[close: unclean]"). */
bool expect_check_ws(const expect *e, const trace *t, size_t from, size_t to,
                     const stream_final *f, reasons *out, close_axis *axis);

/* Pattern matching over sequences, exposed for tests and for other step kinds. */
bool pattern_match_ints(const pattern *p, const int *seq, size_t n);
bool pattern_match_names(const pattern *p, const char *const *seq, size_t n);
/* Renders a pattern as the user wrote it: "[1, 2, 3+, 4]". Returns a malloc'd string. */
char *pattern_format(const pattern *p);

/* getResponseHeader(name) computed from a getAllResponseHeaders() string; NULL = null.
 * Returns a malloc'd string. */
char *header_lookup(const char *all_headers, const char *name);

/* text match helper: true when s satisfies m. */
bool text_match_ok(const text_match *m, const char *s);

#endif
