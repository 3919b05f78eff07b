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

/* One expected message (EventSource or WebSocket), every given part must hold. */
typedef struct message_expect {
    char *type;                 /* event type (EventSource) or "text"/"binary"; NULL = any */
    text_match *data;           /* the data (text), or lower-case hex (binary) */
    text_match *last_event_id;  /* EventSource */
    opt_int size;               /* length: UTF-16 units (text) or bytes (binary) */
    src_pos pos;
} message_expect;

/* sequence: the messages carry consecutive integers (in the id, or the first integer in
 * the data): no gap and no duplicate, across reconnections too. */
typedef struct sequence_expect {
    bool present;
    bool from_id;               /* else from the data */
    int64_t step;               /* default 1 */
    src_pos pos;
} sequence_expect;

/* A WebSocket close, as the page's close event reports it or as the server's close frame
 * carried it. */
typedef struct close_expect {
    bool present;
    int *codes;                 /* any of these; n_codes 0 = any code */
    size_t n_codes;
    bool no_frame;              /* server_close: none (no close frame came) */
    text_match *reason;
    opt_bool was_clean;
    src_pos pos;
} close_expect;

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
    wire_header_expect *request_headers; /* the request heads the step put on the wire */
    size_t n_request_headers;
    request_count_expect *requests;   /* request counts of the step, per method */
    size_t n_requests;
    text_match *console;        /* the step's console messages, joined with "\n" */
    /* EventSource and WebSocket steps */
    message_expect *messages;   /* the page's messages, in order, all of them */
    size_t n_messages;
    bool messages_present;
    src_pos messages_pos;
    opt_int message_count_min;
    opt_int message_count_max;
    sequence_expect sequence;
    opt_int first_message_max_us; /* open to the first message */
    /* EventSource */
    opt_int reconnects_min;
    opt_int reconnects_max;
    char **last_event_ids_sent; /* Last-Event-ID of each request in order; NULL = not sent */
    size_t n_last_event_ids_sent;
    bool last_event_ids_sent_present;
    src_pos last_event_ids_sent_pos;
    opt_int reconnect_delay_min_us; /* each error-to-next-request wait */
    opt_int reconnect_delay_max_us;
    opt_int comments_min;       /* comment lines (heartbeats) */
    opt_int max_silence_us;     /* longest quiet spell while open (events and comments) */
    /* WebSocket */
    opt_bool opened;            /* the open event fired */
    close_expect close;         /* the page's close event */
    close_expect server_close;  /* the close frame the server sent */
    opt_bool server_closed_tcp; /* the server closed TCP first (after the close handshake) */
    opt_bool echo;              /* every message sent came back, byte for byte, in order */
    text_match *pongs;          /* the payloads (hex) of the pongs received, in order */
    size_t n_pongs;
    bool pongs_present;
    src_pos pongs_pos;
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

/* eventsource: new EventSource(url), listeners, and when the page calls close(). */
typedef struct es_step {
    char *url;
    bool with_credentials;
    char *last_event_id;        /* the last event ID to start with (a resumed page); NULL = none */
    char **listen;              /* custom event types with a listener; NULL = every type */
    size_t n_listen;
    int64_t stop_events;        /* close() after this many messages (0 = no such stop) */
    int64_t stop_after_us;      /* close() after this long (default 5 s) */
    int64_t stop_reconnects;    /* close() when this many reconnections have opened or failed */
    int64_t drop_after_events;  /* comet drops the connection after this many messages on it */
    int64_t drop_times;         /* ... this many times (default 1) */
    int64_t gap_us;             /* pause after the step */
} es_step;

/* One websocket action, done in order once the connection is open. */
typedef enum ws_action_kind {
    WSA_SEND_TEXT,
    WSA_SEND_BINARY,
    WSA_SEND_RAW,               /* any frame: opcode, fin, rsv, mask or not, payload */
    WSA_PING,
    WSA_CLOSE,
    WSA_WAIT,                   /* a pause */
    WSA_WAIT_MESSAGES,          /* until this many messages arrived in total */
    WSA_WAIT_CLOSE,             /* until the close event */
} ws_action_kind;

typedef struct ws_action {
    ws_action_kind kind;
    src_pos pos;
    char *data;                 /* payload (text, binary or raw) */
    size_t len;
    int opcode;                 /* raw */
    bool fin;                   /* raw (default true) */
    int rsv;                    /* raw: 0-7 */
    bool mask;                  /* raw (default true) */
    int fragments;              /* send text/binary as this many frames (default 1) */
    int code;                   /* close: -1 = no code */
    char *reason;               /* close: NULL = none */
    int64_t wait_us;
    int64_t count;              /* wait for messages */
} ws_action;

typedef struct ws_step {
    char *url;                  /* ws://, wss://, or relative to the target */
    char **protocols;
    size_t n_protocols;
    ws_action *actions;
    size_t n_actions;
    int64_t stop_after_us;      /* close() when the actions are done and this long passed */
    int64_t gap_us;
} ws_step;

typedef enum step_kind {
    STEP_XHR,
    STEP_EVENTSOURCE,
    STEP_WEBSOCKET,
} step_kind;

typedef struct step {
    step_kind kind;
    src_pos pos;
    union {
        xhr_step xhr;
        es_step es;
        ws_step ws;
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
    char *fixture_path;         /* on the embedded fixture, the target is this path of it */
    char *page_origin;          /* NULL = same-origin with the target */
    int64_t timeout_us;         /* default case deadline; default 10 s */
    scenario_case *cases;
    size_t n_cases;
} suite;

#define SUITE_DEFAULT_CASE_TIMEOUT_US (10 * 1000000LL)
#define ES_DEFAULT_STOP_AFTER_US (5 * 1000000LL)  /* an eventsource step without `stop` */
#define WS_DEFAULT_STOP_AFTER_US (2 * 1000000LL)  /* the wait for a close after the actions */

#endif
