/* The scenario model: plain structs the loader fills from YAML, the runner executes and
 * the checker compares with a trace. Every string is owned by the suite (suite_free). */
#ifndef COMET_SCENARIO_H
#define COMET_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where a thing was written, for error messages: file:line:column (1-based). */
typedef struct src_pos {
    const char *file; /* owned by the suite */
    int line;
    int col;
} src_pos;

/* One element of an ordered expectation such as [1, 2, "3+", 4] or
 * [loadstart, "progress*", load, loadend]. */
typedef enum pattern_quant {
    Q_ONE = 0,   /* exactly once */
    Q_PLUS,      /* one or more  (x+) */
    Q_STAR,      /* zero or more (x*) */
    Q_OPT,       /* zero or one  (x?) */
} pattern_quant;

typedef struct pattern_item {
    int value;        /* for integer patterns (ready_states) */
    char *name;       /* for name patterns (events); NULL for integers */
    pattern_quant quant;
} pattern_item;

typedef struct pattern {
    bool present;
    pattern_item *items;
    size_t n;
    src_pos pos;
} pattern;

typedef enum text_match_kind {
    TM_EQUALS,
    TM_CONTAINS,
    TM_NOT_CONTAINS,
    TM_REGEX,        /* POSIX extended regular expression */
    TM_ABSENT,       /* where a value can be missing (headers, wire_headers, console): it is */
    TM_NOT_EQUALS,   /* anything but this text; a value that is not there at all holds too */
    TM_LIST_ITEM,    /* a comma-separated list (HTTP's #list) with this item, ignoring case */
    TM_PRESENT,      /* there, whatever its value (the opposite of TM_ABSENT) */
} text_match_kind;

typedef struct text_match {
    text_match_kind kind;
    char *value;     /* NULL for TM_ABSENT and TM_PRESENT */
    src_pos pos;
} text_match;

typedef struct header_expect {
    char *name;      /* lower-cased */
    text_match match;
} header_expect;

typedef struct opt_int {
    bool present;
    int64_t value;
    src_pos pos;
} opt_int;

/* wire_headers: a header of the response heads as they came over the wire (the trace's
 * "response" events: preflights and redirects included), before CORS hides anything. */
typedef struct wire_header_expect {
    char *method;    /* the request method whose responses are checked; NULL = every response */
    char *name;      /* lower-cased */
    text_match match;
} wire_header_expect;

/* requests: how many requests (of one method, or of any) went on the wire in the step. */
typedef struct request_count_expect {
    char *method;    /* NULL = any method */
    opt_int min;
    opt_int max;
} request_count_expect;

typedef struct opt_bool {
    bool present;
    bool value;
    src_pos pos;
} opt_bool;

typedef struct expect {
    pattern ready_states;       /* every readystatechange's readyState, in order */
    pattern events;             /* every event name (readystatechange excluded), in order */
    opt_int status;             /* final xhr.status */
    text_match *status_text;    /* NULL when not expected */
    opt_int ready_state;        /* final xhr.readyState */
    header_expect *headers;     /* getResponseHeader(name) as the page sees it */
    size_t n_headers;
    text_match *all_headers;    /* getAllResponseHeaders() */
    text_match *response_text;  /* list: all must hold */
    size_t n_response_text;
    text_match *response_url;
    opt_int loaded;             /* from the last progress-family event (loadend) */
    opt_int total;
    opt_bool length_computable;
    opt_int elapsed_min_us;     /* send() to loadend */
    opt_int elapsed_max_us;
    opt_int progress_min;       /* number of progress events, bounds */
    opt_int progress_max;
    wire_header_expect *wire_headers; /* raw response heads of the step */
    size_t n_wire_headers;
    request_count_expect *requests;   /* request counts of the step, per method */
    size_t n_requests;
    text_match *console;        /* the step's console messages, joined with "\n" */
} expect;

typedef struct kv {
    char *name;
    char *value;
} kv;

typedef enum abort_trigger {
    ABORT_NONE,
    ABORT_AFTER_TIME,           /* abort_after: 300ms (from send) */
    ABORT_ON_READY_STATE,       /* abort_on: { ready_state: 2 } : inside that readystatechange */
    ABORT_ON_FIRST_PROGRESS,    /* abort_on: progress */
    ABORT_AFTER_DONE,           /* abort_on: done : after loadend */
} abort_trigger;

typedef struct xhr_step {
    char *method;               /* default GET */
    char *url;                  /* absolute, or relative to the target */
    kv *headers;                /* setRequestHeader calls, in order */
    size_t n_headers;
    char *body;                 /* NULL = send(null) */
    size_t body_len;
    int64_t timeout_us;         /* the xhr.timeout attribute; 0 = none */
    bool with_credentials;
    bool upload_listeners;      /* listeners on xhr.upload registered before send() */
    abort_trigger abort;
    int64_t abort_after_us;
    int abort_ready_state;
    int repeat;                 /* run the step this many times in a row (long-poll); default 1 */
    int64_t gap_us;             /* pause after the step */
} xhr_step;

typedef enum step_kind {
    STEP_XHR,
} step_kind;

typedef struct step {
    step_kind kind;
    src_pos pos;
    union {
        xhr_step xhr;
    } u;
    expect expect;
} step;

/* How a failed expectation is graded (Autobahn's vocabulary). */
typedef enum severity {
    SEV_MUST = 0,     /* failure -> fail */
    SEV_SHOULD,       /* failure -> non-strict */
    SEV_MAY,          /* failure -> informational */
} severity;

typedef struct scenario_case {
    char *name;
    src_pos pos;
    step *steps;
    size_t n_steps;
    int64_t timeout_us;         /* case deadline; 0 = the suite's */
    char *page_origin;          /* NULL = the suite's */
    severity severity;
    int *unimplemented_status;  /* a final status in this list grades the case unimplemented */
    size_t n_unimplemented_status;
    char *description;
} scenario_case;

typedef struct suite {
    char *name;
    char *file;
    char *target;               /* NULL = not set (use --target or the embedded fixture) */
    char *page_origin;          /* NULL = same-origin with the target */
    int64_t timeout_us;         /* default case deadline; default 10 s */
    scenario_case *cases;
    size_t n_cases;
} suite;

#define SUITE_DEFAULT_CASE_TIMEOUT_US (10 * 1000000LL)

#endif
