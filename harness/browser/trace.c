#include "browser/trace.h"

#include <stdlib.h>
#include <string.h>

void trace_init(trace *t)
{
    memset(t, 0, sizeof *t);
    t->max_events = TRACE_DEFAULT_MAX_EVENTS;
    t->text_cap = TRACE_DEFAULT_TEXT_CAP;
}

static void event_free(trace_event *e)
{
    free(e->status_text);
    free(e->text);
    free(e->url);
    free(e->method);
    free(e->detail);
    free(e->reason);
    free(e->last_event_id);
    free(e->origin);
    free(e->type);
}

void trace_free(trace *t)
{
    for (size_t i = 0; i < t->n; i++)
        event_free(&t->events[i]);
    free(t->events);
    t->events = NULL;
    t->n = t->cap = 0;
}

trace_event *trace_push(trace *t, int64_t t_us, const char *ev)
{
    if (t->n >= t->max_events) {
        t->truncated = true;
        return NULL;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        trace_event *p = realloc(t->events, cap * sizeof *p);
        if (!p) {
            t->truncated = true;
            return NULL;
        }
        t->events = p;
        t->cap = cap;
    }
    trace_event *e = &t->events[t->n++];
    memset(e, 0, sizeof *e);
    e->t_us = t_us;
    e->ev = ev;
    return e;
}

void trace_set_str(trace_event *e, char **member, unsigned field, const char *s, size_t n)
{
    char *copy = malloc(n + 1);
    if (!copy)
        return;
    if (n)
        memcpy(copy, s, n);
    copy[n] = '\0';
    free(*member);
    *member = copy;
    e->fields |= field;
}

void trace_set_cstr(trace_event *e, char **member, unsigned field, const char *s)
{
    trace_set_str(e, member, field, s, strlen(s));
}

void trace_splice(trace *dst, trace *src)
{
    for (size_t i = 0; i < src->n; i++) {
        trace_event *e = trace_push(dst, src->events[i].t_us, src->events[i].ev);
        if (!e) {
            event_free(&src->events[i]);
            continue;
        }
        *e = src->events[i];
    }
    free(src->events);
    src->events = NULL;
    src->n = src->cap = 0;
}

void trace_pop(trace *t)
{
    if (t->n == 0)
        return;
    event_free(&t->events[--t->n]);
    memset(&t->events[t->n], 0, sizeof t->events[t->n]);
}
