/* JSON results ("comet-results/1", documented in docs/results-json.md). jansson only takes
 * valid UTF-8, and server text is arbitrary bytes: every string goes through utf8_sanitize. */
#include "report/report.h"
#include "report/utf8.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHEMA_ID "comet-results/1"
/* %.15g keeps the 3 decimals of a millisecond value up to 10^11 ms. */
#define DUMP_FLAGS (JSON_INDENT(1) | JSON_REAL_PRECISION(15))

/* The trace's string members and their names in truth.json (for reading back). */
typedef struct str_field {
    unsigned flag;
    const char *name;
    size_t offset;
} str_field;

static const str_field STR_FIELDS[] = {
    {TF_STATUS_TEXT, "statusText", offsetof(trace_event, status_text)},
    {TF_TEXT, "text", offsetof(trace_event, text)},
    {TF_URL, "url", offsetof(trace_event, url)},
    {TF_METHOD, "method", offsetof(trace_event, method)},
    {TF_DETAIL, "detail", offsetof(trace_event, detail)},
    {TF_REASON, "reason", offsetof(trace_event, reason)},
    {TF_LAST_EVENT_ID, "lastEventId", offsetof(trace_event, last_event_id)},
    {TF_ORIGIN, "origin", offsetof(trace_event, origin)},
    {TF_TYPE, "type", offsetof(trace_event, type)},
};
#define N_STR_FIELDS (sizeof STR_FIELDS / sizeof STR_FIELDS[0])

/* trace_event.ev must be a static string: names read back are mapped onto this list. */
/* clang-format off */
static const char *const KNOWN_EVENTS[] = {
    "readystatechange", "loadstart", "progress", "load", "error", "abort", "timeout", "loadend",
    "upload.loadstart", "upload.progress", "upload.load", "upload.error", "upload.abort",
    "upload.timeout", "upload.loadend", "abort()", "request", "redirect", "finding",
    "network-error", "deadline", "console", "final", "open", "message", "close", "constructed",
    "response", "leniency", "close()", "reconnect", "comment", "call:close", "call:send",
    "call:constructor", "frame-out", "tcp-close", "close-in", "echo", "pong-in", "lag",
};
/* clang-format on */
#define UNKNOWN_EVENT "unknown"

static char **str_member(trace_event *e, const str_field *f)
{
    return (char **)(void *)((char *)e + f->offset);
}

/* ---- writing ----------------------------------------------------------------------------- */

/* A JSON string for arbitrary bytes (invalid UTF-8 becomes U+FFFD); JSON null for NULL. */
static json_t *jstr(const char *s)
{
    if (!s)
        return json_null();
    size_t n;
    char *clean = utf8_sanitize(s, strlen(s), &n);
    if (!clean)
        return NULL;
    json_t *j = json_stringn_nocheck(clean, n);
    free(clean);
    return j;
}

static json_t *jms(int64_t us)
{
    return json_real((double)us / 1000.0);
}

static json_t *juint(uint64_t v)
{
    return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* Sets obj[key] = value, consuming value; any failure (NULL value included) marks *ok false. */
static void put(json_t *obj, const char *key, json_t *value, int *ok)
{
    if (!value || json_object_set_new(obj, key, value) < 0)
        *ok = 0;
}

static void append(json_t *arr, json_t *value, int *ok)
{
    if (!value || json_array_append_new(arr, value) < 0)
        *ok = 0;
}

/* A string field, when flagged present (a failed copy leaves it NULL: then it is absent). */
static void put_str_if(json_t *o, const trace_event *e, unsigned flag, const char *name,
                       const char *s, int *ok)
{
    if (e->fields & flag && s)
        put(o, name, jstr(s), ok);
}

static json_t *event_to_json(const trace_event *e, int *ok)
{
    json_t *o = json_object();
    if (!o) {
        *ok = 0;
        return NULL;
    }
    put(o, "t_ms", jms(e->t_us), ok);
    put(o, "ev", jstr(e->ev ? e->ev : UNKNOWN_EVENT), ok);
    if (e->fields & TF_RS)
        put(o, "rs", json_integer(e->rs), ok);
    if (e->fields & TF_STATUS)
        put(o, "status", json_integer(e->status), ok);
    put_str_if(o, e, TF_STATUS_TEXT, "statusText", e->status_text, ok);
    if (e->fields & TF_LEN)
        put(o, "len", juint(e->len), ok);
    put_str_if(o, e, TF_TEXT, "text", e->text, ok);
    if (e->fields & TF_PROGRESS) {
        put(o, "lengthComputable", json_boolean(e->length_computable), ok);
        put(o, "loaded", juint(e->loaded), ok);
        put(o, "total", juint(e->total), ok);
    }
    put_str_if(o, e, TF_URL, "url", e->url, ok);
    put_str_if(o, e, TF_METHOD, "method", e->method, ok);
    if (e->fields & TF_OFFSET)
        put(o, "offset", juint(e->offset), ok);
    put_str_if(o, e, TF_DETAIL, "detail", e->detail, ok);
    if (e->fields & TF_CODE)
        put(o, "code", json_integer(e->code), ok);
    put_str_if(o, e, TF_REASON, "reason", e->reason, ok);
    if (e->fields & TF_WAS_CLEAN)
        put(o, "wasClean", json_boolean(e->was_clean), ok);
    put_str_if(o, e, TF_LAST_EVENT_ID, "lastEventId", e->last_event_id, ok);
    put_str_if(o, e, TF_ORIGIN, "origin", e->origin, ok);
    put_str_if(o, e, TF_TYPE, "type", e->type, ok);
    if (e->text_truncated)
        put(o, "textTruncated", json_true(), ok);
    return o;
}

static json_t *case_to_json(const case_result *c, int *ok)
{
    json_t *o = json_object();
    json_t *rs = json_array();
    json_t *attempts = json_array();
    json_t *tr = json_array();
    if (!o || !rs || !attempts || !tr) {
        json_decref(o);
        json_decref(rs);
        json_decref(attempts);
        json_decref(tr);
        *ok = 0;
        return NULL;
    }
    put(o, "suite", jstr(c->suite), ok);
    put(o, "name", jstr(c->name), ok);
    put(o, "file", jstr(c->file), ok);
    put(o, "line", json_integer(c->line), ok);
    put(o, "verdict", json_string(verdict_name(c->verdict)), ok);
    for (size_t i = 0; i < c->reasons.n; i++)
        append(rs, jstr(c->reasons.items[i]), ok);
    put(o, "reasons", rs, ok);
    put(o, "duration_ms", jms(c->duration_us), ok);
    put(o, "attempts", json_integer(c->attempts), ok);
    for (int i = 0; c->attempt_verdicts && i < c->attempts; i++)
        append(attempts, json_string(verdict_name(c->attempt_verdicts[i])), ok);
    put(o, "attempt_verdicts", attempts, ok);
    put(o, "unstable", json_boolean(c->unstable), ok);
    put(o, "trace_truncated", json_boolean(c->trace.truncated), ok);
    for (size_t i = 0; i < c->trace.n && *ok; i++)
        append(tr, event_to_json(&c->trace.events[i], ok), ok);
    put(o, "trace", tr, ok);
    return o;
}

static json_t *summary_to_json(const run_result *r, int *ok)
{
    json_t *o = json_object();
    if (!o) {
        *ok = 0;
        return NULL;
    }
    for (int v = V_PASS; v <= V_ERROR; v++)
        put(o, verdict_name((verdict)v), json_integer((json_int_t)r->counts[v]), ok);
    put(o, "total", json_integer((json_int_t)r->n_cases), ok);
    return o;
}

static json_t *run_to_json(const run_result *r)
{
    int ok = 1;
    json_t *o = json_object();
    json_t *cases = json_array();
    if (!o || !cases) {
        json_decref(o);
        json_decref(cases);
        return NULL;
    }
    put(o, "schema", json_string(SCHEMA_ID), &ok);
    put(o, "tool", json_string("comet"), &ok);
    put(o, "target", jstr(r->target), &ok);
    put(o, "started_at", jstr(r->started_at), &ok);
    put(o, "duration_ms", jms(r->duration_us), &ok);
    put(o, "interrupted", json_boolean(r->interrupted), &ok);
    put(o, "summary", summary_to_json(r, &ok), &ok);
    for (size_t i = 0; i < r->n_cases && ok; i++)
        append(cases, case_to_json(&r->cases[i], &ok), &ok);
    put(o, "cases", cases, &ok);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int report_json_write(const char *path, const run_result *r)
{
    json_t *doc = run_to_json(r);
    if (!doc) {
        errno = ENOMEM;
        return -1;
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        int saved = errno;
        json_decref(doc);
        errno = saved;
        return -1;
    }
    errno = 0;
    int rc = json_dumpf(doc, f, DUMP_FLAGS);
    if (rc == 0 && fputc('\n', f) == EOF)
        rc = -1;
    int saved = errno ? errno : EIO;
    if (fclose(f) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    json_decref(doc);
    if (rc != 0)
        errno = saved;
    return rc == 0 ? 0 : -1;
}

/* ---- reading ----------------------------------------------------------------------------- */

typedef struct reader {
    const char *path;
    char *err;
    size_t errlen;
    int failed;
} reader;

static void fail(reader *rd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Keeps the first error: it is the one that explains the others. */
static void fail(reader *rd, const char *fmt, ...)
{
    if (rd->failed)
        return;
    rd->failed = 1;
    if (!rd->err || !rd->errlen)
        return;
    int n = snprintf(rd->err, rd->errlen, "%s: ", rd->path);
    if (n < 0 || (size_t)n >= rd->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rd->err + n, rd->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

static int verdict_from_name(const char *s, verdict *v)
{
    for (int i = V_PASS; i <= V_ERROR; i++)
        if (s && strcmp(s, verdict_name((verdict)i)) == 0) {
            *v = (verdict)i;
            return 0;
        }
    return -1;
}

static const char *static_event_name(const char *s)
{
    for (size_t i = 0; i < sizeof KNOWN_EVENTS / sizeof KNOWN_EVENTS[0]; i++)
        if (strcmp(s, KNOWN_EVENTS[i]) == 0)
            return KNOWN_EVENTS[i];
    return UNKNOWN_EVENT;
}

/* Optional string member: NULL when absent or null; an owned copy otherwise. */
static char *get_str(reader *rd, json_t *obj, const char *key, const char *where)
{
    json_t *j = json_object_get(obj, key);
    if (!j || json_is_null(j))
        return NULL;
    if (!json_is_string(j)) {
        fail(rd, "%s: \"%s\" is not a string", where, key);
        return NULL;
    }
    char *s = strdup(json_string_value(j));
    if (!s)
        fail(rd, "out of memory");
    return s;
}

static int64_t get_int(reader *rd, json_t *obj, const char *key, int64_t dflt, const char *where)
{
    json_t *j = json_object_get(obj, key);
    if (!j)
        return dflt;
    if (!json_is_integer(j)) {
        fail(rd, "%s: \"%s\" is not an integer", where, key);
        return dflt;
    }
    return json_integer_value(j);
}

static bool get_bool(reader *rd, json_t *obj, const char *key, const char *where)
{
    json_t *j = json_object_get(obj, key);
    if (!j)
        return false;
    if (!json_is_boolean(j)) {
        fail(rd, "%s: \"%s\" is not a boolean", where, key);
        return false;
    }
    return json_is_true(j);
}

static int64_t get_ms_as_us(reader *rd, json_t *obj, const char *key, const char *where)
{
    json_t *j = json_object_get(obj, key);
    if (!j)
        return 0;
    double ms = json_number_value(j);
    if (!json_is_number(j) || !isfinite(ms) || fabs(ms) > 9e12) {
        fail(rd, "%s: \"%s\" is not a number of milliseconds", where, key);
        return 0;
    }
    return llround(ms * 1000.0);
}

static uint64_t get_uint(reader *rd, json_t *obj, const char *key, const char *where)
{
    int64_t v = get_int(rd, obj, key, 0, where);
    return v < 0 ? 0 : (uint64_t)v;
}

static void event_from_json(reader *rd, trace *t, json_t *j, const char *where)
{
    json_t *ev = json_object_get(j, "ev");
    if (!json_is_object(j) || !json_is_string(ev)) {
        fail(rd, "%s: not an event object with a string \"ev\"", where);
        return;
    }
    trace_event *e =
        trace_push(t, get_ms_as_us(rd, j, "t_ms", where), static_event_name(json_string_value(ev)));
    if (!e) {
        fail(rd, "%s: cannot store the event", where);
        return;
    }
    if (json_object_get(j, "rs")) {
        e->rs = (int)get_int(rd, j, "rs", 0, where);
        e->fields |= TF_RS;
    }
    if (json_object_get(j, "status")) {
        e->status = (int)get_int(rd, j, "status", 0, where);
        e->fields |= TF_STATUS;
    }
    if (json_object_get(j, "len")) {
        e->len = get_uint(rd, j, "len", where);
        e->fields |= TF_LEN;
    }
    if (json_object_get(j, "lengthComputable") || json_object_get(j, "loaded")) {
        e->length_computable = get_bool(rd, j, "lengthComputable", where);
        e->loaded = get_uint(rd, j, "loaded", where);
        e->total = get_uint(rd, j, "total", where);
        e->fields |= TF_PROGRESS;
    }
    if (json_object_get(j, "offset")) {
        e->offset = get_uint(rd, j, "offset", where);
        e->fields |= TF_OFFSET;
    }
    if (json_object_get(j, "code")) {
        e->code = (int)get_int(rd, j, "code", 0, where);
        e->fields |= TF_CODE;
    }
    if (json_object_get(j, "wasClean")) {
        e->was_clean = get_bool(rd, j, "wasClean", where);
        e->fields |= TF_WAS_CLEAN;
    }
    e->text_truncated = get_bool(rd, j, "textTruncated", where);
    for (size_t i = 0; i < N_STR_FIELDS; i++) {
        json_t *s = json_object_get(j, STR_FIELDS[i].name);
        if (!s || json_is_null(s))
            continue;
        if (!json_is_string(s)) {
            fail(rd, "%s: \"%s\" is not a string", where, STR_FIELDS[i].name);
            continue;
        }
        /* Explicit length: a JSON string may hold U+0000. */
        trace_set_str(e, str_member(e, &STR_FIELDS[i]), STR_FIELDS[i].flag, json_string_value(s),
                      json_string_length(s));
    }
    /* A custom SSE event type names its event, as the model does (eventsource.h). */
    if (!strcmp(e->ev, UNKNOWN_EVENT) && e->type && !strcmp(e->type, json_string_value(ev)))
        e->ev = e->type;
}

static void reasons_from_json(reader *rd, case_result *c, json_t *arr, const char *where)
{
    if (!arr)
        return;
    if (!json_is_array(arr)) {
        fail(rd, "%s: \"reasons\" is not an array", where);
        return;
    }
    size_t n = json_array_size(arr);
    c->reasons.items = calloc(n ? n : 1, sizeof *c->reasons.items);
    if (!c->reasons.items) {
        fail(rd, "out of memory");
        return;
    }
    /* Copied as they are: the writer already bounded them, and `report` must not drop any. */
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        if (!s) {
            fail(rd, "%s: reasons[%zu] is not a string", where, i);
            return;
        }
        if (!(c->reasons.items[c->reasons.n] = strdup(s))) {
            fail(rd, "out of memory");
            return;
        }
        c->reasons.n++;
    }
}

static void attempts_from_json(reader *rd, case_result *c, json_t *j, const char *where)
{
    c->attempts = (int)get_int(rd, j, "attempts", 1, where);
    json_t *av = json_object_get(j, "attempt_verdicts");
    if (av && !json_is_array(av)) {
        fail(rd, "%s: \"attempt_verdicts\" is not an array", where);
        return;
    }
    size_t n = json_array_size(av);
    if (n && !(c->attempt_verdicts = calloc(n, sizeof *c->attempt_verdicts))) {
        fail(rd, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (verdict_from_name(json_string_value(json_array_get(av, i)), &c->attempt_verdicts[i]) <
            0)
            fail(rd, "%s: attempt_verdicts[%zu] is not a verdict", where, i);
    /* The reporters index attempt_verdicts by attempts: never past its end. */
    if (c->attempts < 0)
        c->attempts = 0;
    if (c->attempt_verdicts && (size_t)c->attempts > n)
        c->attempts = (int)n;
}

static void case_from_json(reader *rd, case_result *c, json_t *j, size_t idx)
{
    char where[48];
    snprintf(where, sizeof where, "cases[%zu]", idx);
    if (!json_is_object(j)) {
        fail(rd, "%s: not an object", where);
        return;
    }
    c->suite = get_str(rd, j, "suite", where);
    c->name = get_str(rd, j, "name", where);
    c->file = get_str(rd, j, "file", where);
    if (!c->suite || !c->name)
        fail(rd, "%s: \"suite\" and \"name\" are required", where);
    c->line = (int)get_int(rd, j, "line", 0, where);
    if (verdict_from_name(json_string_value(json_object_get(j, "verdict")), &c->verdict) < 0)
        fail(rd, "%s: missing or unknown \"verdict\"", where);
    reasons_from_json(rd, c, json_object_get(j, "reasons"), where);
    c->duration_us = get_ms_as_us(rd, j, "duration_ms", where);
    attempts_from_json(rd, c, j, where);
    c->unstable = get_bool(rd, j, "unstable", where);

    json_t *tr = json_object_get(j, "trace");
    if (tr && !json_is_array(tr))
        fail(rd, "%s: \"trace\" is not an array", where);
    size_t n = json_array_size(tr);
    if (n > c->trace.max_events)
        c->trace.max_events = n;
    for (size_t i = 0; i < n && !rd->failed; i++) {
        char ewhere[80];
        snprintf(ewhere, sizeof ewhere, "%s.trace[%zu]", where, i);
        event_from_json(rd, &c->trace, json_array_get(tr, i), ewhere);
    }
    c->trace.truncated = get_bool(rd, j, "trace_truncated", where);
}

static run_result *run_from_json(reader *rd, json_t *doc)
{
    json_t *schema = json_object_get(doc, "schema");
    if (!json_is_string(schema) || strcmp(json_string_value(schema), SCHEMA_ID) != 0) {
        fail(rd, "not a comet results file (\"schema\" is not \"%s\")", SCHEMA_ID);
        return NULL;
    }
    json_t *cases = json_object_get(doc, "cases");
    if (!json_is_array(cases)) {
        fail(rd, "\"cases\" is missing or not an array");
        return NULL;
    }
    run_result *r = calloc(1, sizeof *r);
    size_t n = json_array_size(cases);
    if (!r || !(r->cases = calloc(n ? n : 1, sizeof *r->cases))) {
        free(r);
        fail(rd, "out of memory");
        return NULL;
    }
    r->n_cases = n;
    for (size_t i = 0; i < n; i++)
        trace_init(&r->cases[i].trace); /* every case is freeable before it is filled */
    r->target = get_str(rd, doc, "target", "top level");
    r->started_at = get_str(rd, doc, "started_at", "top level");
    r->duration_us = get_ms_as_us(rd, doc, "duration_ms", "top level");
    r->interrupted = get_bool(rd, doc, "interrupted", "top level");
    for (size_t i = 0; i < n && !rd->failed; i++) {
        case_from_json(rd, &r->cases[i], json_array_get(cases, i), i);
        r->counts[r->cases[i].verdict]++; /* the cases are the truth, not "summary" */
    }
    if (rd->failed) {
        run_result_free(r);
        return NULL;
    }
    return r;
}

run_result *report_json_read(const char *path, char *err, size_t errlen)
{
    reader rd = {.path = path, .err = err, .errlen = errlen};
    json_error_t je;
    if (err && errlen)
        err[0] = '\0';
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (!doc) {
        fail(&rd, "line %d column %d: %s", je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(doc)) {
        fail(&rd, "not a JSON object");
        json_decref(doc);
        return NULL;
    }
    run_result *r = run_from_json(&rd, doc);
    json_decref(doc);
    return r;
}
