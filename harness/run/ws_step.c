#include "run/ws_step.h"

#include "browser/cookie_jar.h"
#include "browser/websocket.h"
#include "http/http1.h"
#include "net/transport.h"
#include "proto/ws_handshake.h"
#include "util/clock.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_PENDING_ECHOES 100000

typedef struct sent_message {
    bool text;
    uint64_t len;
    uint64_t hash;
} sent_message;

struct ws_run {
    step_env env;
    const ws_step *step;
    step_done done;
    void *ud;
    ws_model w;
    url target;
    transport *t;
    http1_parser parser;
    header_list head;         /* the handshake response's headers */
    bool upgraded;
    bool close_when_drained;
    size_t trace_from;
    int status;               /* of the handshake response */
    size_t action;            /* the next action to run */
    bool waiting;             /* an action waits (time, messages or the close) */
    bool actions_done;
    int64_t messages;
    sent_message *sent;       /* [sent_head, n_sent): sent, not yet echoed */
    size_t n_sent, sent_head, cap_sent;
    bool connect_failed;
    bool reported;
    char *error;
    ev_timer action_timer;    /* runs the next actions, or ends a wait */
    ev_timer model_timer;     /* the model's closing-handshake timeouts */
    ev_timer stop_timer;      /* stop_after, once the actions are done */
    ev_timer settle_timer;
};

static int64_t now(const ws_run *r)
{
    return step_now(&r->env);
}

static void report(ws_run *r);

static void settle_soon(ws_run *r)
{
    step_timer_at(&r->env, &r->settle_timer, 0);
}

static void close_transport(ws_run *r)
{
    transport *t = r->t;
    r->t = NULL;
    if (t)
        transport_close(t, false);
}

/* Writes what the model queued and closes TCP when it asked; re-arms its timer. */
static void flush(ws_run *r)
{
    if (r->t && r->w.out.len) {
        transport_write(r->t, r->w.out.data, r->w.out.len);
        ws_output_written(&r->w, r->w.out.len);
    }
    if (r->w.want_tcp_close && r->t) {
        if (transport_queued(r->t) == 0)
            close_transport(r);
        else
            r->close_when_drained = true;
    }
    step_timer_at(&r->env, &r->model_timer, r->reported ? -1 : ws_next_timer(&r->w));
    if (r->w.closed)
        settle_soon(r);
}

static void continue_actions(ws_run *r)
{
    step_timer_at(&r->env, &r->action_timer, 0);
}

/* ---- echo bookkeeping ----------------------------------------------------------------- */

static void remember_sent(ws_run *r, bool text, const void *data, size_t len)
{
    if (r->n_sent - r->sent_head >= MAX_PENDING_ECHOES)
        return;
    if (r->sent_head == r->n_sent)
        r->sent_head = r->n_sent = 0;
    if (r->n_sent == r->cap_sent) {
        size_t cap = r->cap_sent ? 2 * r->cap_sent : 16;
        sent_message *grown = realloc(r->sent, cap * sizeof *grown);
        if (!grown)
            return;
        r->sent = grown;
        r->cap_sent = cap;
    }
    r->sent[r->n_sent++] = (sent_message){text, len, fnv1a(FNV1A_OFFSET, data, len)};
}

static void check_echo(ws_run *r, const trace_event *e)
{
    if (r->sent_head == r->n_sent)
        return; /* nothing sent is waiting: a message of the server's own */
    sent_message s = r->sent[r->sent_head++];
    bool text = e->type && !strcmp(e->type, "text");
    char detail[200];
    if (s.text != text || s.len != r->w.msg_len || s.hash != r->w.msg_hash)
        snprintf(detail, sizeof detail,
                 "message %lld: sent %s of %llu bytes, received %s of %llu bytes%s",
                 (long long)r->messages, s.text ? "text" : "binary", (unsigned long long)s.len,
                 text ? "text" : "binary", (unsigned long long)r->w.msg_len,
                 s.text == text && s.len == r->w.msg_len ? " with other content" : "");
    else
        snprintf(detail, sizeof detail, "match");
    record_detail(r->env.trace, now(r), "echo", detail);
}

/* ---- page script ---------------------------------------------------------------------- */

static void on_page_event(void *ud, ws_model *w, const trace_event *e)
{
    ws_run *r = ud;
    if (!strcmp(e->ev, "open")) {
        continue_actions(r);
    } else if (!strcmp(e->ev, "message")) {
        r->messages++;
        check_echo(r, e);
        if (r->waiting && r->action > 0 &&
            r->step->actions[r->action - 1].kind == WSA_WAIT_MESSAGES &&
            r->messages >= r->step->actions[r->action - 1].count) {
            r->waiting = false;
            continue_actions(r);
        }
    } else if (!strcmp(e->ev, "close")) {
        settle_soon(r);
    }
}

/* ---- actions -------------------------------------------------------------------------- */

static void send_fragmented(ws_run *r, const ws_action *a, unsigned opcode)
{
    size_t n = (size_t)a->fragments, per = a->len / n;
    for (size_t i = 0; i < n; i++) {
        size_t off = i * per, len = i + 1 == n ? a->len - off : per;
        ws_frame_spec f = {
            .fin = i + 1 == n,
            .opcode = (uint8_t)(i == 0 ? opcode : WS_OP_CONTINUATION),
            .mask = true,
            .payload = a->data + off,
            .len = len,
        };
        ws_random_bytes(NULL, f.key, 4);
        ws_send_raw(&r->w, now(r), &f);
    }
}

static void send_message(ws_run *r, const ws_action *a)
{
    bool text = a->kind == WSA_SEND_TEXT;
    remember_sent(r, text, a->data, a->len);
    if (a->fragments > 1)
        send_fragmented(r, a, text ? WS_OP_TEXT : WS_OP_BINARY);
    else if (text)
        ws_send_text(&r->w, now(r), a->data, a->len);
    else
        ws_send_binary(&r->w, now(r), a->data, a->len);
}

static void send_raw(ws_run *r, const ws_action *a)
{
    ws_frame_spec f = {
        .fin = a->fin,
        .rsv = (uint8_t)a->rsv,
        .opcode = (uint8_t)a->opcode,
        .mask = a->mask,
        .payload = a->data,
        .len = a->len,
    };
    if (f.mask)
        ws_random_bytes(NULL, f.key, 4);
    ws_send_raw(&r->w, now(r), &f);
}

static void wait_for(ws_run *r, int64_t us)
{
    r->waiting = true;
    ev_timer_stop(r->env.loop, &r->action_timer);
    ev_timer_set(&r->action_timer, (double)us / 1e6, 0.0);
    ev_timer_start(r->env.loop, &r->action_timer);
}

/* Runs actions until one waits; returns false when the step is over. */
static void run_actions(ws_run *r)
{
    const ws_step *s = r->step;
    while (!r->w.closed && r->action < s->n_actions && !r->waiting) {
        const ws_action *a = &s->actions[r->action++];
        switch (a->kind) {
        case WSA_SEND_TEXT:
        case WSA_SEND_BINARY:
            send_message(r, a);
            break;
        case WSA_SEND_RAW:
            send_raw(r, a);
            break;
        case WSA_PING:
            ws_send_ping(&r->w, now(r), a->data, a->len);
            break;
        case WSA_CLOSE:
            ws_close(&r->w, now(r), a->code, a->reason, a->reason ? strlen(a->reason) : 0);
            break;
        case WSA_WAIT:
            wait_for(r, a->wait_us);
            break;
        case WSA_WAIT_MESSAGES:
            if (r->messages < a->count)
                r->waiting = true; /* the message hook ends the wait */
            break;
        case WSA_WAIT_CLOSE:
            if (a->wait_us > 0)
                wait_for(r, a->wait_us);
            else
                r->waiting = true;
            break;
        }
    }
    /* One write for the whole batch: bufferedAmount falls only once the page's task ends,
     * so sends made from one handler add up (Chromium, the HTML standard). */
    flush(r);
    if (!r->waiting && r->action >= s->n_actions && !r->actions_done) {
        r->actions_done = true;
        ev_timer_set(&r->stop_timer, (double)s->stop_after_us / 1e6, 0.0);
        ev_timer_start(r->env.loop, &r->stop_timer);
    }
}

static void action_fired(struct ev_loop *loop, ev_timer *w, int revents)
{
    ws_run *r = w->data;
    r->waiting = false;
    run_actions(r);
}

/* ---- the connection ------------------------------------------------------------------- */

static void h_status(void *ud, int version_minor, int status, const char *reason,
                     size_t reason_len)
{
    ws_run *r = ud;
    r->status = status;
    header_list_free(&r->head);
}

static void h_header(void *ud, const char *name, size_t name_len, const char *value,
                     size_t value_len)
{
    ws_run *r = ud;
    header_list_add_n(&r->head, name, name_len, value, value_len);
}

static void h_headers_done(void *ud, int status)
{
    ws_run *r = ud;
    if (status < 200 && status != 101)
        return; /* an interim response: the real answer follows */
    char *u = url_serialize(&r->target);
    record_response_head(r->env.trace, now(r), "GET", status, u ? u : "", &r->head);
    free(u);
    r->upgraded = true; /* whatever the status: the model decides, nothing more is HTTP */
    for (size_t i = 0; r->env.cookies && i < r->head.n; i++)
        if (!strcasecmp(r->head.items[i].name, "set-cookie"))
            cookie_jar_store(r->env.cookies, &r->target, r->head.items[i].value);
    header_field *fields = r->head.items;
    ws_handshake_response(&r->w, now(r), status, fields, r->head.n);
}

static void h_finding(void *ud, const http1_finding *f)
{
    ws_run *r = ud;
    char *u = url_serialize(&r->target);
    record_finding(r->env.trace, now(r), f, u ? u : "");
    free(u);
    if (f->fatal && !r->upgraded) {
        char why[256];
        snprintf(why, sizeof why, "Error during WebSocket handshake: %s (byte %llu)", f->message,
                 (unsigned long long)f->offset);
        r->upgraded = true;
        ws_fail_connect(&r->w, now(r), why);
    }
}

static const http1_callbacks head_callbacks = {
    .on_status = h_status,
    .on_header = h_header,
    .on_headers_done = h_headers_done,
    .on_finding = h_finding,
};

static void t_connected(void *ud)
{
    flush(ud);
}

static void t_data(void *ud, const char *data, size_t len)
{
    ws_run *r = ud;
    if (!r->upgraded) {
        size_t used = http1_parse(&r->parser, data, len);
        data += used;
        len -= used;
        if (!r->upgraded && r->parser.state != H1_ERROR) {
            flush(r);
            return;
        }
    }
    if (len && r->parser.state == H1_UPGRADED)
        ws_receive(&r->w, now(r), (const uint8_t *)data, len);
    flush(r);
    if (r->upgraded && r->parser.state != H1_UPGRADED)
        close_transport(r); /* a failed handshake: nothing more to read */
}

static void t_eof(void *ud)
{
    ws_run *r = ud;
    close_transport(r);
    ws_tcp_closed(&r->w, now(r), true);
    flush(r);
}

static void t_drained(void *ud)
{
    ws_run *r = ud;
    if (r->close_when_drained)
        close_transport(r);
}

static void t_error(void *ud, transport_error err, const char *detail)
{
    ws_run *r = ud;
    bool connecting = r->w.ready_state == WS_CONNECTING && !r->upgraded;
    close_transport(r);
    if (connecting) {
        r->connect_failed = err == TE_RESOLVE || err == TE_CONNECT_REFUSED ||
                            err == TE_CONNECT_TIMEOUT || err == TE_CONNECT;
        char why[300];
        snprintf(why, sizeof why, "%s", detail && *detail ? detail : transport_error_name(err));
        record_detail(r->env.trace, now(r), "network-error", why);
        ws_fail_connect(&r->w, now(r), why);
    } else {
        ws_tcp_closed(&r->w, now(r), false);
    }
    flush(r);
}

static const transport_callbacks transport_cbs = {
    .on_connected = t_connected,
    .on_data = t_data,
    .on_eof = t_eof,
    .on_drained = t_drained,
    .on_error = t_error,
};

/* ---- timers and the report ------------------------------------------------------------ */

static void model_fired(struct ev_loop *loop, ev_timer *w, int revents)
{
    ws_run *r = w->data;
    ws_timer(&r->w, now(r));
    flush(r);
}

static void stop_fired(struct ev_loop *loop, ev_timer *w, int revents)
{
    report(w->data);
}

static void report(ws_run *r)
{
    if (r->reported)
        return;
    r->reported = true;
    ev_timer_stop(r->env.loop, &r->action_timer);
    ev_timer_stop(r->env.loop, &r->model_timer);
    ev_timer_stop(r->env.loop, &r->stop_timer);
    ev_timer_stop(r->env.loop, &r->settle_timer);
    if (r->sent_head < r->n_sent) {
        char detail[96];
        snprintf(detail, sizeof detail, "%zu message(s) sent were never echoed",
                 r->n_sent - r->sent_head);
        record_detail(r->env.trace, now(r), "echo", detail);
    }
    ws_final(&r->w, now(r));
    close_transport(r);
    stream_final f = {.ready_state = r->w.ready_state, .status = r->status};
    step_outcome o = {
        .stream = &f,
        .trace_from = r->trace_from,
        .trace_to = r->env.trace->n,
        .connect_failed = r->connect_failed,
        .error = r->error,
    };
    r->done(r->ud, &o);
}

static void settle_fired(struct ev_loop *loop, ev_timer *w, int revents)
{
    report(w->data);
}

void ws_run_deadline(ws_run *r)
{
    record_detail(r->env.trace, now(r), "deadline", "the case deadline was reached");
    report(r);
}

/* ---- start ---------------------------------------------------------------------------- */

/* A relative URL resolves against the target; http(s) becomes ws(s). */
static int websocket_url(ws_run *r, const char *ref, char *err, size_t errlen)
{
    if (url_resolve(&r->target, r->env.target, ref, err, errlen) < 0)
        return -1;
    if (!strcmp(r->target.scheme, "http"))
        strcpy(r->target.scheme, "ws");
    else if (!strcmp(r->target.scheme, "https"))
        strcpy(r->target.scheme, "wss");
    return 0;
}

static void connect_now(ws_run *r)
{
    const ws_step *s = r->step;
    char *u = url_serialize(&r->target), *host = url_host_header(&r->target);
    ws_options o = {
        .url = u,
        .registry = r->env.ws_registry,
        .hash_messages = true,
    };
    ws_init(&r->w, r->env.trace, on_page_event, r, &o);
    /* the handshake is a request like any other: the page's cookies go with it */
    buf cookies = {0};
    const url *page = r->env.page_url;
    bool cross_site = page && (strcmp(page->host, r->target.host) ||
                               url_is_tls(page) != url_is_tls(&r->target));
    if (r->env.cookies)
        cookie_jar_header(r->env.cookies, &r->target, cross_site, &cookies);
    ws_handshake_request req = {
        .host = host,
        .target = r->target.path_query,
        .origin = r->env.page_origin,
        .protocols = (const char *const *)s->protocols,
        .n_protocols = s->n_protocols,
        .cookie = cookies.len ? cookies.data : NULL,
    };
    int rc = ws_connect(&r->w, now(r), &req);
    buf_free(&cookies);
    free(u);
    free(host);
    if (rc < 0) {
        settle_soon(r); /* the constructor threw: the trace says why */
        return;
    }
    bool tls = url_is_tls(&r->target);
    if (tls && !r->env.fetch->tls) {
        ws_fail_connect(&r->w, now(r), "wss is not available (no TLS context)");
        flush(r);
        return;
    }
    transport_opts to = {
        .connect_timeout_us = r->env.fetch->connect_timeout_us,
        .tls = tls ? r->env.fetch->tls : NULL,
        .sni = r->target.host,
    };
    r->t = transport_connect(r->env.loop, r->target.host, r->target.port, &to, &transport_cbs, r);
    if (!r->t) {
        r->error = strdup("out of memory");
        settle_soon(r);
    }
}

ws_run *ws_run_start(const step_env *env, const ws_step *s, step_done done, void *ud)
{
    ws_run *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->env = *env;
    r->step = s;
    r->done = done;
    r->ud = ud;
    r->trace_from = env->trace->n;
    step_timer_init(&r->action_timer, action_fired, r);
    step_timer_init(&r->model_timer, model_fired, r);
    step_timer_init(&r->stop_timer, stop_fired, r);
    step_timer_init(&r->settle_timer, settle_fired, r);
    http1_parser_init(&r->parser, &head_callbacks, r, false);
    char err[256] = "";
    if (websocket_url(r, s->url, err, sizeof err) < 0) {
        ws_init(&r->w, env->trace, on_page_event, r, &(ws_options){.url = s->url});
        r->error = strdup(err);
        settle_soon(r);
        return r;
    }
    ev_now_update(env->loop);
    connect_now(r);
    return r;
}

void ws_run_free(ws_run *r)
{
    if (!r)
        return;
    ev_timer_stop(r->env.loop, &r->action_timer);
    ev_timer_stop(r->env.loop, &r->model_timer);
    ev_timer_stop(r->env.loop, &r->stop_timer);
    ev_timer_stop(r->env.loop, &r->settle_timer);
    close_transport(r);
    ws_free(&r->w);
    header_list_free(&r->head);
    url_free(&r->target);
    free(r->sent);
    free(r->error);
    free(r);
}
