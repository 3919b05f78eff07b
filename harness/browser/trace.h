/* The trace: what the page would observe, event by event. The product's core data.
 *
 * Event names and fields follow ../shared/browser-truth/truth.json so a trace compares
 * directly with what Chromium recorded:
 *   readystatechange            rs status statusText len text
 *   loadstart progress load error abort timeout loadend
 *                               lengthComputable loaded total rs status len
 *   upload.<same names>         lengthComputable loaded total rs
 *   abort()                     rs (the readyState after abort() returned) status
 * and comet's own, which never appear in a browser's trace:
 *   request                     method url (what went on the wire), detail = request head
 *   response                    method status url, detail = the head's header lines as
 *                               received (every response: preflight, redirect, final)
 *   redirect                    status url
 *   finding                     offset detail (a protocol violation seen in the server's bytes)
 *   network-error               detail (why the fetch failed: reset, timeout, CORS rule, ...)
 *   console                     detail (what Chromium would print in the console)
 *   deadline                    detail (the case deadline cut the step short)
 *   leniency                    detail (Chromium allowed what the standard forbids: non-strict)
 *   lag                         detail (a page timer fired late: the machine was busy)
 *   final                       rs status statusText len text url, detail = all headers:
 *                               what the page can read when the step ends
 */
#ifndef COMET_TRACE_H
#define COMET_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum trace_field {
    TF_RS = 1u << 0,
    TF_STATUS = 1u << 1,
    TF_STATUS_TEXT = 1u << 2,
    TF_LEN = 1u << 3,        /* responseText length in UTF-16 code units, as JS counts */
    TF_TEXT = 1u << 4,       /* responseText snapshot (capped), or message data */
    TF_PROGRESS = 1u << 5,   /* lengthComputable, loaded, total */
    TF_URL = 1u << 6,
    TF_METHOD = 1u << 7,
    TF_OFFSET = 1u << 8,     /* byte offset into the server's stream */
    TF_DETAIL = 1u << 9,
    TF_CODE = 1u << 10,
    TF_REASON = 1u << 11,
    TF_WAS_CLEAN = 1u << 12,
    TF_LAST_EVENT_ID = 1u << 13,
    TF_ORIGIN = 1u << 14,
    TF_TYPE = 1u << 15,      /* message type: event type, "text"/"binary" */
};

typedef struct trace_event {
    int64_t t_us;     /* microseconds since the case started (monotonic clock) */
    const char *ev;   /* static string */
    unsigned fields;  /* enum trace_field bits: which members below are set */
    int rs;
    int status;
    int code;
    bool length_computable;
    bool was_clean;
    bool text_truncated; /* text holds only the first trace->text_cap bytes */
    uint64_t loaded;
    uint64_t total;
    uint64_t len;
    uint64_t offset;
    char *status_text; /* owned strings, NULL when absent */
    char *text;
    char *url;
    char *method;
    char *detail;
    char *reason;
    char *last_event_id;
    char *origin;
    char *type;
} trace_event;

typedef struct trace {
    trace_event *events;
    size_t n;
    size_t cap;
    size_t max_events; /* limit; further events are dropped and `truncated` set */
    size_t text_cap;   /* bytes of responseText kept per snapshot */
    bool truncated;
} trace;

#define TRACE_DEFAULT_MAX_EVENTS 100000
#define TRACE_DEFAULT_TEXT_CAP 2048

void trace_init(trace *t);
void trace_free(trace *t);
/* Appends an event with no fields set; NULL when the event limit is reached
 * (then t->truncated is set) or memory runs out. */
trace_event *trace_push(trace *t, int64_t t_us, const char *ev);
/* Sets an owned string member (copy of s[0..n)), marking `field` present. */
void trace_set_str(trace_event *e, char **member, unsigned field, const char *s, size_t n);
/* Convenience for NUL-terminated strings. */
void trace_set_cstr(trace_event *e, char **member, unsigned field, const char *s);
/* Drops the last event (a page listener that did not exist after all). */
void trace_pop(trace *t);
/* Moves every event of src to the end of dst (src is left empty). */
void trace_splice(trace *dst, trace *src);

#endif
