/* The streaming step kinds of the schema: `eventsource:` and `websocket:`, with their
 * expectations (messages, sequences, reconnections, close codes). */
#include "scenario/loader_stream.h"

#include "util/buf.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LISTEN 64
#define MAX_ACTIONS 10000
#define MAX_PAYLOAD ((int64_t)64 << 20)
#define MAX_PROTOCOLS 64

/* ---- shared pieces -------------------------------------------------------------------- */

/* Reads `key: N` (exactly) or `key: {min: A, max: B}` into two bounds. */
static int parse_count(loader *L, const ynode *map, const char *key, bool durations,
                       opt_int *lo, opt_int *hi)
{
    src_pos kp;
    const ynode *v = field(L, map, key, &kp);
    int64_t x;
    if (!v)
        return 0;
    if (v->kind == Y_MAP)
        return parse_bounds(L, v, key, durations, lo, hi);
    if (durations ? get_duration(L, v, key, true, &x) < 0
                  : get_int(L, v, key, 0, INT32_MAX, &x) < 0)
        return -1;
    if (!durations) /* a count is exact; a duration alone is the most allowed */
        set_opt_int(lo, x, kp);
    set_opt_int(hi, x, kp);
    return 0;
}

static int parse_string_list(loader *L, const ynode *n, const char *key, size_t max,
                             char ***out, size_t *count)
{
    if (require_seq(L, n, key) < 0)
        return -1;
    if (n->n_kids > max)
        return fail(L, n, "`%s` has more than %zu items", key, max);
    if (n->n_kids == 0)
        return 0;
    if (!(*out = calloc(n->n_kids, sizeof **out)))
        return fail(L, n, "out of memory");
    *count = n->n_kids;
    for (size_t i = 0; i < n->n_kids; i++)
        if (get_string(L, n->kids[i], key, &(*out)[i]) < 0)
            return -1;
    return 0;
}

static void free_string_list(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

/* messages: [ "data", {type: t, data: <text match>, last_event_id: ..., size: N}, ... ] */
static int parse_message_item(loader *L, const ynode *n, bool websocket, message_expect *m)
{
    static const char *const es_keys[] = {"type", "data", "last_event_id", "size", NULL};
    static const char *const ws_keys[] = {"type", "data", "hex", "size", NULL};
    m->pos = pos_of(L, n);
    if (n->kind == Y_SCALAR)
        return new_text_match(L, n, "messages", m->pos, &m->data);
    if (require_map(L, n, "messages") < 0 ||
        check_keys(L, n, websocket ? ws_keys : es_keys, "a message") < 0)
        return -1;
    src_pos kp;
    const ynode *v;
    if ((v = field(L, n, "type", NULL))) {
        if (get_string(L, v, "type", &m->type) < 0)
            return -1;
        if (websocket && strcmp(m->type, "text") && strcmp(m->type, "binary"))
            return fail(L, v, "a WebSocket message's `type` is text or binary");
    }
    if ((v = field(L, n, "data", &kp)) && new_text_match(L, v, "data", kp, &m->data) < 0)
        return -1;
    if ((v = field(L, n, "hex", &kp))) {
        if (m->data)
            return fail(L, v, "give `data` or `hex`, not both");
        if (new_text_match(L, v, "hex", kp, &m->data) < 0)
            return -1;
        if (!m->type && !(m->type = strdup("binary")))
            return fail(L, v, "out of memory");
    }
    if ((v = field(L, n, "last_event_id", &kp)) &&
        new_text_match(L, v, "last_event_id", kp, &m->last_event_id) < 0)
        return -1;
    return parse_opt_int(L, n, "size", 0, INT64_MAX, &m->size);
}

static int parse_messages(loader *L, const ynode *n, src_pos pos, bool websocket, expect *e)
{
    if (require_seq(L, n, "messages") < 0)
        return -1;
    e->messages_present = true;
    e->messages_pos = pos;
    if (n->n_kids == 0)
        return 0;
    if (!(e->messages = calloc(n->n_kids, sizeof *e->messages)))
        return fail(L, n, "out of memory");
    e->n_messages = n->n_kids;
    for (size_t i = 0; i < n->n_kids; i++)
        if (parse_message_item(L, n->kids[i], websocket, &e->messages[i]) < 0)
            return -1;
    return 0;
}

/* sequence: id | data | {from: id|data, step: N} */
static int parse_sequence(loader *L, const ynode *n, src_pos pos, sequence_expect *s)
{
    static const char *const keys[] = {"from", "step", NULL};
    const ynode *from = n;
    s->present = true;
    s->pos = pos;
    s->step = 1;
    if (n->kind == Y_MAP) {
        if (check_keys(L, n, keys, "`sequence`") < 0)
            return -1;
        const ynode *st = field(L, n, "step", NULL);
        if (st && get_int(L, st, "sequence.step", 1, INT32_MAX, &s->step) < 0)
            return -1;
        if (!(from = field(L, n, "from", NULL)))
            return fail(L, n, "`sequence` needs `from: id` or `from: data`");
    }
    const char *w = word(from);
    if (w && strcmp(w, "id") == 0)
        s->from_id = true;
    else if (!w || strcmp(w, "data") != 0)
        return fail(L, from, "`sequence` counts from `id` (the last event ID) or `data` "
                    "(the first integer in the data)");
    return 0;
}

/* The expectations every streaming step shares. */
static int parse_stream_expect(loader *L, const ynode *n, pattern_kind kind, expect *e)
{
    src_pos kp;
    const ynode *v;
    if ((v = field(L, n, "ready_states", &kp)) &&
        parse_pattern(L, v, "ready_states", kp, PAT_READY_STATES, &e->ready_states) < 0)
        return -1;
    if ((v = field(L, n, "events", &kp)) && parse_pattern(L, v, "events", kp, kind, &e->events) < 0)
        return -1;
    if (parse_opt_int(L, n, "status", 0, 999, &e->status) < 0 ||
        parse_opt_int(L, n, "ready_state", 0, 3, &e->ready_state) < 0)
        return -1;
    if ((v = field(L, n, "messages", &kp)) &&
        parse_messages(L, v, kp, kind == PAT_WS_EVENTS, e) < 0)
        return -1;
    if (parse_count(L, n, "message_count", false, &e->message_count_min,
                    &e->message_count_max) < 0)
        return -1;
    if ((v = field(L, n, "sequence", &kp)) && parse_sequence(L, v, kp, &e->sequence) < 0)
        return -1;
    if ((v = field(L, n, "first_message", &kp))) {
        int64_t x;
        if (get_duration(L, v, "first_message", true, &x) < 0)
            return -1;
        set_opt_int(&e->first_message_max_us, x, kp);
    }
    if ((v = field(L, n, "wire_headers", NULL)) && parse_wire_headers(L, v, e) < 0)
        return -1;
    if ((v = field(L, n, "request_headers", NULL)) && parse_request_header_expects(L, v, e) < 0)
        return -1;
    if ((v = field(L, n, "requests", NULL)) && parse_request_counts(L, v, e) < 0)
        return -1;
    if ((v = field(L, n, "console", &kp)) && parse_console(L, v, kp, e) < 0)
        return -1;
    return 0;
}

/* ---- eventsource ---------------------------------------------------------------------- */

/* last_event_ids_sent: [null, "3", "7"]: null = no Last-Event-ID header on that request */
static int parse_ids_sent(loader *L, const ynode *n, src_pos pos, expect *e)
{
    if (require_seq(L, n, "last_event_ids_sent") < 0)
        return -1;
    e->last_event_ids_sent_present = true;
    e->last_event_ids_sent_pos = pos;
    if (n->n_kids == 0)
        return 0;
    if (!(e->last_event_ids_sent = calloc(n->n_kids, sizeof *e->last_event_ids_sent)))
        return fail(L, n, "out of memory");
    e->n_last_event_ids_sent = n->n_kids;
    for (size_t i = 0; i < n->n_kids; i++)
        if (!is_null(n->kids[i]) &&
            get_string(L, n->kids[i], "last_event_ids_sent", &e->last_event_ids_sent[i]) < 0)
            return -1;
    return 0;
}

int parse_es_expect(loader *L, const ynode *n, expect *e)
{
    static const char *const keys[] = {
        "ready_states", "events", "status", "ready_state", "messages", "message_count",
        "sequence", "first_message", "wire_headers", "request_headers", "requests", "console", "reconnects",
        "last_event_ids_sent", "reconnect_delay", "comments", "max_silence", NULL,
    };
    if (is_null(n))
        return 0;
    if (require_map(L, n, "expect") < 0 || check_keys(L, n, keys, "expect") < 0 ||
        parse_stream_expect(L, n, PAT_ES_EVENTS, e) < 0)
        return -1;
    src_pos kp;
    const ynode *v;
    if (parse_count(L, n, "reconnects", false, &e->reconnects_min, &e->reconnects_max) < 0 ||
        parse_count(L, n, "reconnect_delay", true, &e->reconnect_delay_min_us,
                    &e->reconnect_delay_max_us) < 0)
        return -1;
    if ((v = field(L, n, "last_event_ids_sent", &kp)) && parse_ids_sent(L, v, kp, e) < 0)
        return -1;
    opt_int unused = {0};
    if (parse_count(L, n, "comments", false, &e->comments_min, &unused) < 0)
        return -1;
    if ((v = field(L, n, "max_silence", &kp))) {
        int64_t x;
        if (get_duration(L, v, "max_silence", false, &x) < 0)
            return -1;
        set_opt_int(&e->max_silence_us, x, kp);
    }
    return 0;
}

static int parse_es_stop(loader *L, const ynode *n, es_step *s)
{
    static const char *const keys[] = {"events", "after", "reconnects", NULL};
    if (require_map(L, n, "stop") < 0 || check_keys(L, n, keys, "`stop`") < 0)
        return -1;
    const ynode *v;
    if ((v = field(L, n, "events", NULL)) &&
        get_int(L, v, "stop.events", 1, INT32_MAX, &s->stop_events) < 0)
        return -1;
    if ((v = field(L, n, "after", NULL)) &&
        get_duration(L, v, "stop.after", false, &s->stop_after_us) < 0)
        return -1;
    if ((v = field(L, n, "reconnects", NULL)) &&
        get_int(L, v, "stop.reconnects", 1, INT32_MAX, &s->stop_reconnects) < 0)
        return -1;
    return 0;
}

static int parse_es_drop(loader *L, const ynode *n, es_step *s)
{
    static const char *const keys[] = {"after_events", "times", NULL};
    if (require_map(L, n, "drop") < 0 || check_keys(L, n, keys, "`drop`") < 0)
        return -1;
    const ynode *v = field(L, n, "after_events", NULL);
    if (!v)
        return fail(L, n, "`drop` needs `after_events`");
    if (get_int(L, v, "drop.after_events", 1, INT32_MAX, &s->drop_after_events) < 0)
        return -1;
    if ((v = field(L, n, "times", NULL)) &&
        get_int(L, v, "drop.times", 1, INT32_MAX, &s->drop_times) < 0)
        return -1;
    return 0;
}

int parse_eventsource(loader *L, const ynode *n, step *st)
{
    static const char *const keys[] = {
        "url", "with_credentials", "last_event_id", "listen", "stop", "drop", "gap", NULL,
    };
    es_step *s = &st->u.es;
    st->kind = STEP_EVENTSOURCE;
    s->stop_after_us = ES_DEFAULT_STOP_AFTER_US;
    s->drop_times = 1;
    if (n->kind == Y_SCALAR && !is_null(n)) /* eventsource: /path */
        return get_string(L, n, "url", &s->url);
    if (require_map(L, n, "eventsource") < 0 || check_keys(L, n, keys, "eventsource") < 0)
        return -1;
    const ynode *v;
    if (!(v = field(L, n, "url", NULL)))
        return fail(L, n, "missing `url` in eventsource");
    if (get_string(L, v, "url", &s->url) < 0)
        return -1;
    if ((v = field(L, n, "with_credentials", NULL)) &&
        get_bool(L, v, "with_credentials", &s->with_credentials) < 0)
        return -1;
    if ((v = field(L, n, "last_event_id", NULL)) &&
        get_string(L, v, "last_event_id", &s->last_event_id) < 0)
        return -1;
    if ((v = field(L, n, "listen", NULL)) &&
        parse_string_list(L, v, "listen", MAX_LISTEN, &s->listen, &s->n_listen) < 0)
        return -1;
    if ((v = field(L, n, "listen", NULL)) && s->n_listen == 0 && !(s->listen = calloc(1, 1)))
        return fail(L, v, "out of memory"); /* listen: [] = no custom types */
    if ((v = field(L, n, "stop", NULL)) && parse_es_stop(L, v, s) < 0)
        return -1;
    if ((v = field(L, n, "drop", NULL)) && parse_es_drop(L, v, s) < 0)
        return -1;
    if ((v = field(L, n, "gap", NULL)) && get_duration(L, v, "gap", true, &s->gap_us) < 0)
        return -1;
    return 0;
}

/* ---- websocket ------------------------------------------------------------------------ */

static int hex_digit(int c)
{
    return isdigit(c) ? c - '0' : isxdigit(c) ? tolower(c) - 'a' + 10 : -1;
}

static int parse_hex(loader *L, const ynode *n, const char *key, char **out, size_t *len)
{
    if (n->kind != Y_SCALAR)
        return fail_type(L, n, "hex digits", key);
    buf b = {0};
    int hi = -1;
    for (size_t i = 0; i < n->len; i++) {
        int c = (unsigned char)n->text[i];
        if (isspace(c))
            continue;
        int d = hex_digit(c);
        if (d < 0) {
            buf_free(&b);
            return fail(L, n, "`%s` holds hex digits (spaces allowed), not `%c`", key, c);
        }
        if (hi < 0) {
            hi = d;
            continue;
        }
        char byte = (char)(hi << 4 | d);
        hi = -1;
        if (buf_append(&b, &byte, 1) < 0) {
            buf_free(&b);
            return fail(L, n, "out of memory");
        }
    }
    if (hi >= 0) {
        buf_free(&b);
        return fail(L, n, "`%s` has an odd number of hex digits", key);
    }
    *out = b.data ? b.data : calloc(1, 1);
    *len = b.len;
    return *out ? 0 : fail(L, n, "out of memory");
}

/* {size: N, pat_text: "ab"}: the pat_text repeated to N bytes (default "*"). */
static int parse_sized(loader *L, const ynode *n, const ynode *size, const char *key,
                       char **out, size_t *len)
{
    int64_t sz;
    if (get_int(L, size, "size", 0, MAX_PAYLOAD, &sz) < 0)
        return -1;
    const ynode *p = field(L, n, "pattern", NULL);
    char *pat_text = NULL;
    if (p && get_string(L, p, "pattern", &pat_text) < 0)
        return -1;
    const char *pat = pat_text && *pat_text ? pat_text : "*";
    size_t plen = strlen(pat);
    char *data = malloc((size_t)sz + 1);
    if (!data) {
        free(pat_text);
        return fail(L, n, "out of memory");
    }
    for (int64_t i = 0; i < sz; i++)
        data[i] = pat[(size_t)i % plen];
    data[sz] = '\0';
    free(pat_text);
    *out = data;
    *len = (size_t)sz;
    return 0;
}

/* A payload: "text", or {data: "text"} | {hex: "01 02"} | {size: N, pat_text: "ab"}. */
static int parse_payload(loader *L, const ynode *n, const char *key, ws_action *a)
{
    if (is_null(n)) {
        a->data = calloc(1, 1);
        return a->data ? 0 : fail(L, n, "out of memory");
    }
    if (n->kind == Y_SCALAR) {
        if (copy_text(L, n, key, true, &a->data) < 0)
            return -1;
        a->len = n->len;
        return 0;
    }
    if (require_map(L, n, key) < 0)
        return -1;
    const ynode *d = field(L, n, "data", NULL), *h = field(L, n, "hex", NULL),
                *sz = field(L, n, "size", NULL);
    if (!!d + !!h + !!sz != 1)
        return fail(L, n, "`%s` takes one of `data`, `hex` or `size` (with `pattern`)", key);
    if (d) {
        if (copy_text(L, d, key, true, &a->data) < 0)
            return -1;
        a->len = d->len;
        return 0;
    }
    if (h)
        return parse_hex(L, h, key, &a->data, &a->len);
    return parse_sized(L, n, sz, key, &a->data, &a->len);
}

static int parse_fragments(loader *L, const ynode *n, ws_action *a)
{
    const ynode *v = n->kind == Y_MAP ? field(L, n, "fragments", NULL) : NULL;
    int64_t x = 1;
    if (v && get_int(L, v, "fragments", 1, 1000000, &x) < 0)
        return -1;
    a->fragments = (int)x;
    return 0;
}

static int parse_send(loader *L, const ynode *n, const char *key, ws_action *a)
{
    static const char *const keys[] = {"data", "hex", "size", "pattern", "fragments", NULL};
    if (n->kind == Y_MAP && check_keys(L, n, keys, key) < 0)
        return -1;
    return parse_payload(L, n, key, a) < 0 ? -1 : parse_fragments(L, n, a);
}

static int parse_raw(loader *L, const ynode *n, ws_action *a)
{
    static const char *const keys[] = {
        "opcode", "fin", "rsv", "mask", "data", "hex", "size", "pattern", NULL,
    };
    if (require_map(L, n, "send_raw") < 0 || check_keys(L, n, keys, "send_raw") < 0)
        return -1;
    const ynode *v = field(L, n, "opcode", NULL);
    int64_t x;
    if (!v)
        return fail(L, n, "`send_raw` needs `opcode` (0-15)");
    if (get_int(L, v, "opcode", 0, 15, &x) < 0)
        return -1;
    a->opcode = (int)x;
    a->fin = a->mask = true;
    if ((v = field(L, n, "fin", NULL)) && get_bool(L, v, "fin", &a->fin) < 0)
        return -1;
    if ((v = field(L, n, "mask", NULL)) && get_bool(L, v, "mask", &a->mask) < 0)
        return -1;
    if ((v = field(L, n, "rsv", NULL))) {
        if (get_int(L, v, "rsv", 0, 7, &x) < 0)
            return -1;
        a->rsv = (int)x;
    }
    bool has_payload = field(L, n, "data", NULL) || field(L, n, "hex", NULL) ||
                       field(L, n, "size", NULL);
    if (has_payload)
        return parse_payload(L, n, "send_raw", a);
    a->data = calloc(1, 1); /* an empty payload */
    return a->data ? 0 : fail(L, n, "out of memory");
}

/* close: null (no code) | 1000 | {code: 1000, reason: "bye"} */
static int parse_close_action(loader *L, const ynode *n, ws_action *a)
{
    static const char *const keys[] = {"code", "reason", NULL};
    int64_t x;
    a->code = -1;
    if (is_null(n))
        return 0;
    if (n->kind == Y_SCALAR) {
        if (get_int(L, n, "close", 0, 65535, &x) < 0)
            return -1;
        a->code = (int)x;
        return 0;
    }
    if (require_map(L, n, "close") < 0 || check_keys(L, n, keys, "close") < 0)
        return -1;
    const ynode *v;
    if ((v = field(L, n, "code", NULL))) {
        if (get_int(L, v, "code", 0, 65535, &x) < 0)
            return -1;
        a->code = (int)x;
    }
    if ((v = field(L, n, "reason", NULL)) && get_string(L, v, "reason", &a->reason) < 0)
        return -1;
    return 0;
}

static const char *const action_names[] = {
    [WSA_SEND_TEXT] = "send_text", [WSA_SEND_BINARY] = "send_binary",
    [WSA_SEND_RAW] = "send_raw",   [WSA_PING] = "ping",
    [WSA_CLOSE] = "close",         [WSA_WAIT] = "wait",
    [WSA_WAIT_MESSAGES] = "wait_messages", [WSA_WAIT_CLOSE] = "wait_close",
};
#define N_ACTIONS (sizeof action_names / sizeof action_names[0])

static int parse_action(loader *L, const ynode *n, ws_action *a)
{
    a->pos = pos_of(L, n);
    if (require_map(L, n, "actions") < 0)
        return -1;
    if (n->n_kids != 2)
        return fail(L, n, "an action is a mapping with one key: send_text, send_binary, "
                    "send_raw, ping, close, wait, wait_messages or wait_close");
    const ynode *k = n->kids[0], *v = n->kids[1];
    size_t kind = N_ACTIONS;
    for (size_t i = 0; i < N_ACTIONS; i++)
        if (key_is(k, action_names[i]))
            kind = i;
    if (kind == N_ACTIONS) {
        char got[96];
        describe(k, got, sizeof got);
        return fail(L, k, "unknown action %s; one of send_text, send_binary, send_raw, ping, "
                    "close, wait, wait_messages, wait_close", got);
    }
    a->kind = (ws_action_kind)kind;
    a->fragments = 1;
    switch (a->kind) {
    case WSA_SEND_TEXT:
    case WSA_SEND_BINARY:
        return parse_send(L, v, action_names[kind], a);
    case WSA_SEND_RAW:
        return parse_raw(L, v, a);
    case WSA_PING:
        if (parse_payload(L, v, "ping", a) < 0)
            return -1;
        return a->len > 125 ? fail(L, v, "a ping carries at most 125 bytes (send an "
                                   "oversize one with send_raw)") : 0;
    case WSA_CLOSE:
        return parse_close_action(L, v, a);
    case WSA_WAIT:
    case WSA_WAIT_CLOSE:
        return get_duration(L, v, action_names[kind], true, &a->wait_us);
    case WSA_WAIT_MESSAGES:
        return get_int(L, v, "wait_messages", 1, INT32_MAX, &a->count);
    }
    return 0;
}

int parse_websocket(loader *L, const ynode *n, step *st)
{
    static const char *const keys[] = {"url", "protocols", "actions", "stop_after", "gap", NULL};
    ws_step *s = &st->u.ws;
    st->kind = STEP_WEBSOCKET;
    s->stop_after_us = WS_DEFAULT_STOP_AFTER_US;
    if (n->kind == Y_SCALAR && !is_null(n))
        return get_string(L, n, "url", &s->url);
    if (require_map(L, n, "websocket") < 0 || check_keys(L, n, keys, "websocket") < 0)
        return -1;
    const ynode *v;
    if (!(v = field(L, n, "url", NULL)))
        return fail(L, n, "missing `url` in websocket");
    if (get_string(L, v, "url", &s->url) < 0)
        return -1;
    if ((v = field(L, n, "protocols", NULL)) &&
        parse_string_list(L, v, "protocols", MAX_PROTOCOLS, &s->protocols, &s->n_protocols) < 0)
        return -1;
    if ((v = field(L, n, "actions", NULL))) {
        if (require_seq(L, v, "actions") < 0)
            return -1;
        if (v->n_kids > MAX_ACTIONS)
            return fail(L, v, "more than %d actions", MAX_ACTIONS);
        if (v->n_kids && !(s->actions = calloc(v->n_kids, sizeof *s->actions)))
            return fail(L, v, "out of memory");
        for (size_t i = 0; i < v->n_kids; i++) {
            s->n_actions = i + 1;
            if (parse_action(L, v->kids[i], &s->actions[i]) < 0)
                return -1;
        }
    }
    if ((v = field(L, n, "stop_after", NULL)) &&
        get_duration(L, v, "stop_after", true, &s->stop_after_us) < 0)
        return -1;
    if ((v = field(L, n, "gap", NULL)) && get_duration(L, v, "gap", true, &s->gap_us) < 0)
        return -1;
    return 0;
}

/* close: {code: 1000 | [1000, 1001], reason: <text match>, was_clean: true};
 * server_close: the same without was_clean, or `none` (no close frame came). */
static int parse_close_expect(loader *L, const ynode *n, const char *key, src_pos pos,
                              bool server, close_expect *c)
{
    static const char *const keys[] = {"code", "reason", "was_clean", NULL};
    static const char *const server_keys[] = {"code", "reason", NULL};
    c->present = true;
    c->pos = pos;
    const char *w = word(n);
    if (server && w && strcmp(w, "none") == 0) {
        c->no_frame = true;
        return 0;
    }
    const ynode *code = n;
    if (n->kind == Y_MAP) {
        if (check_keys(L, n, server ? server_keys : keys, key) < 0)
            return -1;
        code = field(L, n, "code", NULL);
        src_pos kp;
        const ynode *v;
        if ((v = field(L, n, "reason", &kp)) && new_text_match(L, v, "reason", kp, &c->reason) < 0)
            return -1;
        if ((v = field(L, n, "was_clean", &kp))) {
            if (get_bool(L, v, "was_clean", &c->was_clean.value) < 0)
                return -1;
            c->was_clean.present = true;
            c->was_clean.pos = kp;
        }
    }
    if (!code)
        return 0;
    size_t count = code->kind == Y_SEQ ? code->n_kids : 1;
    if (count == 0 || count > 1000)
        return fail(L, code, "`%s.code` lists 1 to 1000 codes", key);
    if (!(c->codes = calloc(count, sizeof *c->codes)))
        return fail(L, code, "out of memory");
    c->n_codes = count;
    for (size_t i = 0; i < count; i++) {
        int64_t x;
        const ynode *item = code->kind == Y_SEQ ? code->kids[i] : code;
        if (get_int(L, item, "code", 0, 65535, &x) < 0)
            return -1;
        c->codes[i] = (int)x;
    }
    return 0;
}

int parse_ws_expect(loader *L, const ynode *n, expect *e)
{
    static const char *const keys[] = {
        "ready_states", "events", "status", "ready_state", "messages", "message_count",
        "sequence", "first_message", "wire_headers", "request_headers", "requests", "console", "opened", "close",
        "server_close", "server_closed_tcp", "echo", "pongs", NULL,
    };
    if (is_null(n))
        return 0;
    if (require_map(L, n, "expect") < 0 || check_keys(L, n, keys, "expect") < 0 ||
        parse_stream_expect(L, n, PAT_WS_EVENTS, e) < 0)
        return -1;
    src_pos kp;
    const ynode *v;
    if ((v = field(L, n, "opened", &kp))) {
        if (get_bool(L, v, "opened", &e->opened.value) < 0)
            return -1;
        e->opened.present = true;
        e->opened.pos = kp;
    }
    if ((v = field(L, n, "pongs", &kp))) {
        if (require_seq(L, v, "pongs") < 0)
            return -1;
        e->pongs_present = true;
        e->pongs_pos = kp;
        if (v->n_kids && !(e->pongs = calloc(v->n_kids, sizeof *e->pongs)))
            return fail(L, v, "out of memory");
        for (size_t i = 0; i < v->n_kids; i++) {
            e->n_pongs = i + 1;
            if (parse_text_match(L, v->kids[i], "pongs", pos_of(L, v->kids[i]), false,
                                 &e->pongs[i]) < 0)
                return -1;
        }
    }
    if ((v = field(L, n, "echo", &kp))) {
        if (get_bool(L, v, "echo", &e->echo.value) < 0)
            return -1;
        e->echo.present = true;
        e->echo.pos = kp;
    }
    if ((v = field(L, n, "server_closed_tcp", &kp))) {
        if (get_bool(L, v, "server_closed_tcp", &e->server_closed_tcp.value) < 0)
            return -1;
        e->server_closed_tcp.present = true;
        e->server_closed_tcp.pos = kp;
    }
    if ((v = field(L, n, "close", &kp)) && parse_close_expect(L, v, "close", kp, false, &e->close) < 0)
        return -1;
    if ((v = field(L, n, "server_close", &kp)) &&
        parse_close_expect(L, v, "server_close", kp, true, &e->server_close) < 0)
        return -1;
    return 0;
}

/* ---- freeing -------------------------------------------------------------------------- */

void stream_step_free(step *st)
{
    if (st->kind == STEP_EVENTSOURCE) {
        es_step *s = &st->u.es;
        free(s->url);
        free(s->last_event_id);
        free_string_list(s->listen, s->n_listen);
    } else if (st->kind == STEP_WEBSOCKET) {
        ws_step *s = &st->u.ws;
        free(s->url);
        free_string_list(s->protocols, s->n_protocols);
        for (size_t i = 0; i < s->n_actions; i++) {
            free(s->actions[i].data);
            free(s->actions[i].reason);
        }
        free(s->actions);
    }
}

static void close_expect_free(close_expect *c)
{
    free(c->codes);
    text_match_free(c->reason);
    free(c->reason);
}

void stream_expect_free(expect *e)
{
    for (size_t i = 0; i < e->n_messages; i++) {
        message_expect *m = &e->messages[i];
        free(m->type);
        text_match_free(m->data);
        free(m->data);
        text_match_free(m->last_event_id);
        free(m->last_event_id);
    }
    free(e->messages);
    free_string_list(e->last_event_ids_sent, e->n_last_event_ids_sent);
    for (size_t i = 0; i < e->n_pongs; i++)
        text_match_free(&e->pongs[i]);
    free(e->pongs);
    close_expect_free(&e->close);
    close_expect_free(&e->server_close);
}
