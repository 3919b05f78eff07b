/* Compares what an EventSource or WebSocket step observed with its expectations: the page's
 * events and messages, reconnections and the Last-Event-ID each request carried, sequence
 * gaps, heartbeats, close codes. One reason line per mismatch, as expect_check.c writes
 * them; server text is escaped and cut before it is shown. */
#include "scenario/expect_check.h"
#include "scenario/expect_internal.h"

#include "util/headers.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- which events the page saw ----------------------------------------------------------- */

static bool is_es_message(const trace_event *ev)
{
    return (ev->fields & TF_LAST_EVENT_ID) != 0; /* only MessageEvents carry lastEventId */
}

static bool is_es_page_event(const trace_event *ev)
{
    return is_es_message(ev) || !strcmp(ev->ev, "open") || !strcmp(ev->ev, "error");
}

static bool is_ws_message(const trace_event *ev)
{
    return !strcmp(ev->ev, "message");
}

static bool is_ws_page_event(const trace_event *ev)
{
    return is_ws_message(ev) || !strcmp(ev->ev, "open") || !strcmp(ev->ev, "error") ||
           !strcmp(ev->ev, "close");
}

static bool named(const trace_event *ev, const char *name)
{
    return strcmp(ev->ev, name) == 0;
}

/* ---- messages ----------------------------------------------------------------------------- */

static const char *message_type(const trace_event *ev)
{
    return ev->type ? ev->type : ev->ev;
}

static bool message_ok(const message_expect *m, const trace_event *ev)
{
    if (m->type && strcmp(m->type, message_type(ev)))
        return false;
    if (m->data && !text_match_ok(m->data, ev->text ? ev->text : ""))
        return false;
    if (m->last_event_id && !text_match_ok(m->last_event_id, ev->last_event_id ? ev->last_event_id : ""))
        return false;
    return !m->size.present || (int64_t)ev->len == m->size.value;
}

static void append_message(buf *b, const trace_event *ev)
{
    buf_printf(b, "%s ", message_type(ev));
    append_observed_text(b, ev->text ? ev->text : "", false, &text_words);
    if (ev->text_truncated)
        buf_append_str(b, " (cut)");
    buf_printf(b, " (size %" PRIu64 ")", ev->len);
    if (ev->fields & TF_LAST_EVENT_ID) {
        buf_append_str(b, " lastEventId ");
        append_observed_text(b, ev->last_event_id ? ev->last_event_id : "", false, &text_words);
    }
}

/* "data expected "x"; lastEventId expected "3"; type foo; size 5" */
static void append_message_expect(buf *b, const message_expect *m)
{
    const char *sep = "";
    if (m->type) {
        buf_printf(b, "type %s", m->type);
        sep = "; ";
    }
    if (m->data) {
        buf_printf(b, "%sdata ", sep);
        append_expected_text(b, m->data, &text_words);
        sep = "; ";
    }
    if (m->last_event_id) {
        buf_printf(b, "%slastEventId ", sep);
        append_expected_text(b, m->last_event_id, &text_words);
        sep = "; ";
    }
    if (m->size.present)
        buf_printf(b, "%ssize %" PRId64, sep, m->size.value);
}

/* Collects pointers to the message events of [from, to). */
static const trace_event **messages_of(const trace *t, size_t from, size_t to, event_filter is_msg,
                                       size_t *n)
{
    const trace_event **v = malloc((to - from + 1) * sizeof *v);
    *n = 0;
    for (size_t i = from; v && i < to; i++)
        if (is_msg(&t->events[i]))
            v[(*n)++] = &t->events[i];
    return v;
}

static bool check_messages(const expect *e, const trace_event **msgs, size_t n, const trace *t,
                           reasons *out)
{
    if (!e->messages_present)
        return true;
    for (size_t i = 0; i < e->n_messages && i < n; i++) {
        if (message_ok(&e->messages[i], msgs[i]))
            continue;
        buf b = {0};
        append_label(&b, "messages", e->messages[i].pos);
        buf_printf(&b, "message %zu (", i + 1);
        append_message_expect(&b, &e->messages[i]);
        buf_append_str(&b, "): observed ");
        append_message(&b, msgs[i]);
        add_reason(out, &b);
        return false;
    }
    if (n == e->n_messages)
        return true;
    buf b = {0};
    append_label(&b, "messages", e->messages_pos);
    buf_printf(&b, "expected %zu messages, observed %zu", e->n_messages, n);
    if (n > e->n_messages) {
        buf_append_str(&b, "; the first one more: ");
        append_message(&b, msgs[e->n_messages]);
    }
    note_truncation(&b, t);
    add_reason(out, &b);
    return false;
}

/* The integer a message carries: its whole id, or the first run of digits in its data. */
static bool sequence_number(const trace_event *ev, bool from_id, int64_t *out)
{
    const char *s = from_id ? ev->last_event_id : ev->text;
    if (!s)
        return false;
    if (!from_id)
        while (*s && !isdigit((unsigned char)*s))
            s++;
    if (!isdigit((unsigned char)*s))
        return false;
    int64_t v = 0;
    for (; isdigit((unsigned char)*s); s++) {
        if (v > (INT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (*s - '0');
    }
    if (from_id && *s)
        return false;
    *out = v;
    return true;
}

static bool check_sequence(const sequence_expect *q, const trace_event **msgs, size_t n,
                           reasons *out)
{
    if (!q->present)
        return true;
    int64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t v;
        buf b = {0};
        if (!sequence_number(msgs[i], q->from_id, &v)) {
            append_label(&b, "sequence", q->pos);
            buf_printf(&b, "message %zu carries no integer in its %s: ", i + 1,
                       q->from_id ? "id" : "data");
            append_message(&b, msgs[i]);
            add_reason(out, &b);
            return false;
        }
        if (i > 0 && v != prev + q->step) {
            append_label(&b, "sequence", q->pos);
            const char *what = v <= prev ? "a duplicate or step back" : "a gap";
            buf_printf(&b, "%s at message %zu: %" PRId64 " followed %" PRId64 " (expected %" PRId64
                       ")", what, i + 1, v, prev, prev + q->step);
            add_reason(out, &b);
            return false;
        }
        prev = v;
    }
    return true;
}

static bool check_first_message(const expect *e, const trace *t, size_t from, size_t to,
                                event_filter is_msg, reasons *out)
{
    if (!e->first_message_max_us.present)
        return true;
    int64_t opened = -1;
    for (size_t i = from; i < to; i++) {
        const trace_event *ev = &t->events[i];
        if (named(ev, "open") && opened < 0)
            opened = ev->t_us;
        if (opened < 0 || !is_msg(ev))
            continue;
        int64_t wait = ev->t_us - opened;
        if (wait <= e->first_message_max_us.value)
            return true;
        buf b = {0};
        append_label(&b, "first_message", e->first_message_max_us.pos);
        buf_append_str(&b, "expected the first message within ");
        append_ms(&b, e->first_message_max_us.value);
        buf_append_str(&b, " of open, it came after ");
        append_ms(&b, wait);
        add_reason(out, &b);
        return false;
    }
    buf b = {0};
    append_label(&b, "first_message", e->first_message_max_us.pos);
    buf_printf(&b, "expected a message within ");
    append_ms(&b, e->first_message_max_us.value);
    buf_append_str(&b, opened < 0 ? " of open; the stream never opened"
                                  : " of open; none came");
    add_reason(out, &b);
    return false;
}

static bool check_common(const expect *e, const trace *t, size_t from, size_t to,
                         const stream_final *f, event_filter page, event_filter is_msg,
                         reasons *out)
{
    bool ok = true;
    if (e->ready_states.present)
        ok &= check_ready_states(e, t, from, to, page, out);
    if (e->events.present)
        ok &= check_events(e, t, from, to, page, out);
    ok &= check_int("status", &e->status, f->status, out);
    ok &= check_int("ready_state", &e->ready_state, f->ready_state, out);
    size_t n = 0;
    const trace_event **msgs = messages_of(t, from, to, is_msg, &n);
    if (!msgs) {
        reasons_add(out, "messages: not checked (out of memory)");
        return false;
    }
    ok &= check_messages(e, msgs, n, t, out);
    ok &= check_count("message_count", &e->message_count_min, &e->message_count_max,
                      (int64_t)n, t, out);
    ok &= check_sequence(&e->sequence, msgs, n, out);
    free(msgs);
    ok &= check_first_message(e, t, from, to, is_msg, out);
    ok &= check_wire_headers(e, t, from, to, out);
    ok &= check_requests(e, t, from, to, out);
    ok &= check_console(e, t, from, to, out);
    return ok;
}

static void clamp(const trace *t, size_t *from, size_t *to)
{
    if (*to > t->n)
        *to = t->n;
    if (*from > *to)
        *from = *to;
}

/* ---- EventSource ---------------------------------------------------------------------------- */

/* The Last-Event-ID header of a request head; NULL when the request had none. */
static char *last_event_id_of(const trace_event *req)
{
    return req->detail ? header_lookup(req->detail, "last-event-id") : NULL;
}

static bool check_ids_sent(const expect *e, const trace *t, size_t from, size_t to, reasons *out)
{
    if (!e->last_event_ids_sent_present)
        return true;
    buf seen = {0};
    size_t n = 0;
    bool ok = true;
    for (size_t i = from; i < to; i++) {
        if (!named(&t->events[i], "request"))
            continue;
        char *id = last_event_id_of(&t->events[i]);
        const char *want = n < e->n_last_event_ids_sent ? e->last_event_ids_sent[n] : NULL;
        if (n >= e->n_last_event_ids_sent || (want == NULL) != (id == NULL) ||
            (want && strcmp(want, id)))
            ok = false;
        buf_printf(&seen, "%s", n++ ? ", " : "");
        if (id)
            append_observed_text(&seen, id, false, &text_words);
        else
            buf_append_str(&seen, "none");
        free(id);
    }
    if (n != e->n_last_event_ids_sent)
        ok = false;
    if (!ok) {
        buf b = {0};
        append_label(&b, "last_event_ids_sent", e->last_event_ids_sent_pos);
        buf_append_str(&b, "expected [");
        for (size_t i = 0; i < e->n_last_event_ids_sent; i++) {
            const char *want = e->last_event_ids_sent[i];
            buf_printf(&b, "%s", i ? ", " : "");
            if (want)
                append_observed_text(&b, want, false, &text_words);
            else
                buf_append_str(&b, "none");
        }
        buf_printf(&b, "], observed [%s]", seen.data ? seen.data : "");
        add_reason(out, &b);
    }
    buf_free(&seen);
    return ok;
}

/* Each wait between an error that starts a reconnection and the next request. */
static bool check_reconnect_delays(const expect *e, const trace *t, size_t from, size_t to,
                                   reasons *out)
{
    if (!e->reconnect_delay_min_us.present && !e->reconnect_delay_max_us.present)
        return true;
    for (size_t i = from; i < to; i++) {
        if (!named(&t->events[i], "reconnect"))
            continue;
        for (size_t j = i + 1; j < to; j++) {
            if (!named(&t->events[j], "request"))
                continue;
            int64_t wait = t->events[j].t_us - t->events[i].t_us;
            const opt_int *broken;
            if (!within(&e->reconnect_delay_min_us, &e->reconnect_delay_max_us, wait, &broken)) {
                buf b = {0};
                append_label(&b, "reconnect_delay", broken->pos);
                buf_printf(&b, "expected a reconnection %s ", broken == &e->reconnect_delay_min_us
                                                                  ? "no sooner than"
                                                                  : "within");
                append_ms(&b, broken->value);
                buf_append_str(&b, ", it came after ");
                append_ms(&b, wait);
                buf_printf(&b, " (the reconnection time was %s ms)",
                           t->events[i].detail ? t->events[i].detail : "?");
                add_reason(out, &b);
                return false;
            }
            break;
        }
    }
    return true;
}

/* The longest quiet spell while the stream was open: between open, messages and comments,
 * and from the last of them to the end of the step while still open. */
static bool check_silence(const expect *e, const trace *t, size_t from, size_t to, reasons *out)
{
    if (!e->max_silence_us.present)
        return true;
    int64_t last = -1, worst = 0, worst_at = 0;
    for (size_t i = from; i < to; i++) {
        const trace_event *ev = &t->events[i];
        bool activity = named(ev, "open") || named(ev, "comment") || is_es_message(ev);
        bool ends = named(ev, "error") || named(ev, "close()") || named(ev, "final");
        if ((activity || ends) && last >= 0 && ev->t_us - last > worst) {
            worst = ev->t_us - last;
            worst_at = last;
        }
        last = activity ? ev->t_us : ends ? -1 : last;
    }
    if (worst <= e->max_silence_us.value)
        return true;
    buf b = {0};
    append_label(&b, "max_silence", e->max_silence_us.pos);
    buf_append_str(&b, "expected an event or comment at least every ");
    append_ms(&b, e->max_silence_us.value);
    buf_append_str(&b, ", the stream was silent for ");
    append_ms(&b, worst);
    buf_append_str(&b, " from ");
    append_ms(&b, worst_at);
    add_reason(out, &b);
    return false;
}

static int64_t count_named(const trace *t, size_t from, size_t to, const char *name)
{
    int64_t n = 0;
    for (size_t i = from; i < to; i++)
        n += named(&t->events[i], name);
    return n;
}

bool expect_check_es(const expect *e, const trace *t, size_t from, size_t to,
                     const stream_final *f, reasons *out)
{
    clamp(t, &from, &to);
    bool ok = check_common(e, t, from, to, f, is_es_page_event, is_es_message, out);
    ok &= check_count("reconnects", &e->reconnects_min, &e->reconnects_max,
                      count_named(t, from, to, "reconnect"), t, out);
    ok &= check_ids_sent(e, t, from, to, out);
    ok &= check_reconnect_delays(e, t, from, to, out);
    opt_int none = {0};
    ok &= check_count("comments", &e->comments_min, &none, count_named(t, from, to, "comment"),
                      t, out);
    ok &= check_silence(e, t, from, to, out);
    return ok;
}

/* ---- WebSocket ------------------------------------------------------------------------------ */

static bool code_listed(const close_expect *c, int code)
{
    for (size_t i = 0; i < c->n_codes; i++)
        if (c->codes[i] == code)
            return true;
    return c->n_codes == 0;
}

static void append_codes(buf *b, const close_expect *c)
{
    for (size_t i = 0; i < c->n_codes; i++)
        buf_printf(b, "%s%d", i == 0 ? "" : i + 1 == c->n_codes ? " or " : ", ", c->codes[i]);
}

static const trace_event *last_named(const trace *t, size_t from, size_t to, const char *name)
{
    for (size_t i = to; i > from; i--)
        if (named(&t->events[i - 1], name))
            return &t->events[i - 1];
    return NULL;
}

static bool check_close_event(const close_expect *c, const trace *t, size_t from, size_t to,
                              reasons *out)
{
    if (!c->present)
        return true;
    const trace_event *ev = last_named(t, from, to, "close");
    buf b = {0};
    append_label(&b, "close", c->pos);
    if (!ev) {
        buf_append_str(&b, "expected a close event, none fired");
        add_reason(out, &b);
        return false;
    }
    bool ok = true;
    if (!code_listed(c, ev->code)) {
        buf_append_str(&b, "expected code ");
        append_codes(&b, c);
        buf_printf(&b, ", observed %d", ev->code);
        ok = false;
    }
    if (c->reason && !text_match_ok(c->reason, ev->reason ? ev->reason : "")) {
        buf_printf(&b, "%sexpected reason ", ok ? "" : "; ");
        append_expected_text(&b, c->reason, &text_words);
        buf_append_str(&b, ", observed ");
        append_observed_text(&b, ev->reason ? ev->reason : "", false, &text_words);
        ok = false;
    }
    if (c->was_clean.present && c->was_clean.value != ev->was_clean) {
        buf_printf(&b, "%sexpected wasClean %s, observed %s", ok ? "" : "; ",
                   c->was_clean.value ? "true" : "false", ev->was_clean ? "true" : "false");
        ok = false;
    }
    if (ok)
        buf_free(&b);
    else
        add_reason(out, &b);
    return ok;
}

static void append_close_frame(buf *b, const trace_event *ev)
{
    if (!(ev->fields & TF_CODE)) {
        buf_printf(b, ev->len == 0 ? "a close frame without a code"
                                   : "a close frame with a %" PRIu64 "-byte payload", ev->len);
        return;
    }
    buf_printf(b, "close %d", ev->code);
    if (ev->reason && *ev->reason) {
        buf_append_str(b, " ");
        append_observed_text(b, ev->reason, false, &text_words);
    }
    if (ev->detail)
        buf_printf(b, " (%s)", ev->detail);
}

static void worsen(close_axis *axis, close_axis a)
{
    if (a > *axis)
        *axis = a;
}

static void check_server_close(const close_expect *c, const trace *t, size_t from, size_t to,
                               reasons *out, close_axis *axis)
{
    if (!c->present)
        return;
    const trace_event *ev = last_named(t, from, to, "close-in");
    buf b = {0};
    append_label(&b, "server_close", c->pos);
    if (c->no_frame) {
        if (!ev) {
            buf_free(&b);
            return;
        }
        buf_append_str(&b, "expected no close frame from the server, observed ");
        append_close_frame(&b, ev);
        buf_append_str(&b, " [close: wrong code]");
        add_reason(out, &b);
        worsen(axis, CLOSE_AXIS_WRONG_CODE);
        return;
    }
    if (!ev) {
        buf_append_str(&b, "expected a close frame");
        if (c->n_codes) {
            buf_append_str(&b, " with code ");
            append_codes(&b, c);
        }
        buf_append_str(&b, " from the server, none came [close: unclean]");
        add_reason(out, &b);
        worsen(axis, CLOSE_AXIS_UNCLEAN);
        return;
    }
    int code = ev->fields & TF_CODE ? ev->code : 1005;
    bool ok = code_listed(c, code) &&
              (!c->reason || text_match_ok(c->reason, ev->reason ? ev->reason : ""));
    if (ok) {
        buf_free(&b);
        return;
    }
    buf_append_str(&b, "expected close ");
    if (c->n_codes)
        append_codes(&b, c);
    else
        buf_append_str(&b, "(any code)");
    if (c->reason) {
        buf_append_str(&b, " with reason ");
        append_expected_text(&b, c->reason, &text_words);
    }
    buf_append_str(&b, ", observed ");
    append_close_frame(&b, ev);
    buf_append_str(&b, " [close: wrong code]");
    add_reason(out, &b);
    worsen(axis, CLOSE_AXIS_WRONG_CODE);
}

static bool check_flag(const char *what, const opt_bool *o, bool observed, const char *yes,
                       const char *no, reasons *out)
{
    if (!o->present || o->value == observed)
        return true;
    buf b = {0};
    append_label(&b, what, o->pos);
    buf_printf(&b, "expected %s, observed %s", o->value ? yes : no, observed ? yes : no);
    add_reason(out, &b);
    return false;
}

static bool server_closed_tcp(const trace *t, size_t from, size_t to)
{
    const trace_event *ev = last_named(t, from, to, "tcp-close");
    return ev && ev->detail && strncmp(ev->detail, "the server closed", 17) == 0;
}

/* echo: each "echo" event the step recorded says "match", or why not. */
static bool check_echo(const expect *e, const trace *t, size_t from, size_t to, reasons *out)
{
    if (!e->echo.present || !e->echo.value)
        return true;
    for (size_t i = from; i < to; i++) {
        const trace_event *ev = &t->events[i];
        if (!named(ev, "echo") || (ev->detail && !strcmp(ev->detail, "match")))
            continue;
        buf b = {0};
        append_label(&b, "echo", e->echo.pos);
        buf_printf(&b, "%s", ev->detail ? ev->detail : "mismatch");
        add_reason(out, &b);
        return false;
    }
    return true;
}

/* pongs: the payloads of the pongs that came, in order, exactly these many */
static bool check_pongs(const expect *e, const trace *t, size_t from, size_t to, reasons *out)
{
    if (!e->pongs_present)
        return true;
    size_t n = 0;
    bool ok = true;
    buf seen = {0};
    for (size_t i = from; i < to; i++) {
        const trace_event *ev = &t->events[i];
        if (!named(ev, "pong-in"))
            continue;
        if (n >= e->n_pongs || !text_match_ok(&e->pongs[n], ev->text ? ev->text : ""))
            ok = false;
        buf_printf(&seen, "%s", n++ ? ", " : "");
        append_observed_text(&seen, ev->text ? ev->text : "", false, &text_words);
    }
    if (ok && n == e->n_pongs) {
        buf_free(&seen);
        return true;
    }
    buf b = {0};
    append_label(&b, "pongs", e->pongs_pos);
    buf_printf(&b, "expected %zu pong(s) with the payloads given, observed [%s]", e->n_pongs,
               seen.data ? seen.data : "");
    add_reason(out, &b);
    buf_free(&seen);
    return false;
}

bool expect_check_ws(const expect *e, const trace *t, size_t from, size_t to,
                     const stream_final *f, reasons *out, close_axis *axis)
{
    clamp(t, &from, &to);
    *axis = CLOSE_AXIS_OK;
    bool ok = check_common(e, t, from, to, f, is_ws_page_event, is_ws_message, out);
    ok &= check_flag("opened", &e->opened, last_named(t, from, to, "open") != NULL,
                     "the connection to open", "no open event", out);
    ok &= check_close_event(&e->close, t, from, to, out);
    ok &= check_echo(e, t, from, to, out);
    ok &= check_pongs(e, t, from, to, out);
    check_server_close(&e->server_close, t, from, to, out, axis);
    bool tcp = server_closed_tcp(t, from, to);
    const opt_bool *want = &e->server_closed_tcp;
    if (want->present && want->value != tcp) {
        buf b = {0};
        append_label(&b, "server_closed_tcp", want->pos);
        buf_printf(&b, "%s [close: unclean]",
                   want->value ? "expected the server to close TCP after the closing handshake; "
                                 "it did not"
                               : "expected the server to keep TCP open; it closed it");
        add_reason(out, &b);
        worsen(axis, CLOSE_AXIS_UNCLEAN);
    }
    return ok;
}
