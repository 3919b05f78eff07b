/* Test harness for talking to the fixture over real sockets: a loop with a fixture on it,
 * and clients (our own transports) that send raw bytes and collect what comes back. */
#ifndef COMET_TEST_FIXTURE_ENV_H
#define COMET_TEST_FIXTURE_ENV_H

#include "fixture.h"
#include "net/transport.h"
#include "util/buf.h"

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

#ifndef RUN_CAP
#define RUN_CAP 30.0 /* only a failing test waits this long (valgrind on a busy machine is slow) */
#endif

typedef struct env {
    struct ev_loop *loop;
    fixture *fx;
    int port;
} env;

bool env_start(env *e, const char *listen, bool tls);
void env_stop(env *e);

typedef struct client {
    struct ev_loop *loop;
    transport *t;
    buf in;
    const char *req;
    size_t req_len;
    size_t stop_after;     /* done once this many bytes arrived (0 = at EOF or error) */
    bool close_in_data;    /* transport_close() from inside on_data */
    bool pause_first_data; /* pause 100 ms on the first data */
    bool connected, eof, failed, done;
    int drained;
    transport_error err;
    char detail[256];
    double t0, t_done;
    ev_timer resume;
} client;

/* Runs the loop until *flag or for at most seconds; returns *flag. */
bool run_until(struct ev_loop *loop, const bool *flag, double seconds);
void client_start(client *c, struct ev_loop *loop, const char *host, int port,
                  const transport_opts *o, const char *req);
void client_end(client *c);
/* One request on a fresh connection; runs until EOF, error or stop_after bytes. */
void fixture_fetch(env *e, client *c, const char *req, size_t stop_after);

bool starts_with(const buf *b, const char *prefix);
bool contains(const buf *b, const char *s);
/* The body after the head (b must hold a whole head). */
const char *body_of(const buf *b);
size_t body_len_of(const buf *b);

#endif
