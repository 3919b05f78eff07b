/* Pieces of the expectation checker shared by the step kinds' checkers: reason lines
 * ("what (file:line:col): expected X, observed Y") and the checks every kind has. */
#ifndef COMET_EXPECT_INTERNAL_H
#define COMET_EXPECT_INTERNAL_H

#include "browser/trace.h"
#include "run/result.h"
#include "scenario/scenario.h"
#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHOW_TEXT_BYTES 200  /* of observed or expected text in a reason line */

/* How a text expectation reads where its value may be missing: a header the page cannot
 * see, a header not on the wire, no console message. */
typedef struct match_words {
    const char *absent;  /* "expected ..." when the value must not be there */
    const char *present; /* "expected ..." when any value will do */
    const char *missing; /* "observed ..." when it is not there */
    size_t show;         /* observed bytes shown */
} match_words;

extern const match_words text_words;

void append_label(buf *b, const char *what, src_pos pos);
/* Adds b as a reason line and frees it. */
void add_reason(reasons *out, buf *b);
void append_ms(buf *b, int64_t us);
/* Server text, quoted, escaped and cut; "null"-style words when it is missing. */
void append_observed_text(buf *b, const char *s, bool with_size, const match_words *w);
void append_expected_text(buf *b, const text_match *m, const match_words *w);
void append_sequence(buf *b, const int *ints, const char *const *names, size_t n);
void note_truncation(buf *b, const trace *t);
bool within(const opt_int *lo, const opt_int *hi, int64_t n, const opt_int **broken);
/* `what` holds n within [lo, hi] (either bound optional), else a reason line
 * "what (pos): expected at least 2, observed 1". */
bool check_count(const char *what, const opt_int *lo, const opt_int *hi, int64_t n,
                 const trace *t, reasons *out);

/* Which events of the trace a pattern talks about. */
typedef bool (*event_filter)(const trace_event *ev);
bool check_ready_states(const expect *e, const trace *t, size_t from, size_t to,
                        event_filter counts, reasons *out);
bool check_events(const expect *e, const trace *t, size_t from, size_t to, event_filter counts,
                  reasons *out);
bool check_int(const char *what, const opt_int *o, int64_t observed, reasons *out);
bool check_text(const char *what, const text_match *m, const char *observed, bool with_size,
                const match_words *w, reasons *out);
bool check_wire_headers(const expect *e, const trace *t, size_t from, size_t to, reasons *out);
bool check_requests(const expect *e, const trace *t, size_t from, size_t to, reasons *out);
bool check_console(const expect *e, const trace *t, size_t from, size_t to, reasons *out);

#endif
