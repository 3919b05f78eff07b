/* libFuzzer target for the HTTP/1.1 response parser.
 *
 * Built by `make fuzz` together with the sources named here:
 * FUZZ_SOURCES: harness/http/http1_parser.c harness/util/buf.c
 *
 * The first two input bytes pick options (HEAD request, small limits, keep-alive
 * chaining, where to split); the rest is the server's byte stream. The stream is parsed whole,
 * split in two, and in small steps, each time presented as a caller would (unconsumed
 * bytes again, with the new ones appended). The presented bytes always end where the
 * allocation ends, so ASan catches any read past them. Every way must give the same
 * events, and the parser's counters must agree with what it delivered.
 */
#include "http/http1.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond) \
    do { \
        if (!(cond)) \
            __builtin_trap(); \
    } while (0)

typedef struct run {
    uint64_t hash;          /* FNV-1a over every event */
    uint64_t body_bytes;
    const char *window;     /* the bytes presented in the current call */
    size_t window_len;
} run;

static void mix(run *r, const void *data, size_t n)
{
    const unsigned char *b = data;
    for (size_t i = 0; i < n; i++)
        r->hash = (r->hash ^ b[i]) * 0x100000001b3ULL;
}

static void mix_tag(run *r, char tag)
{
    mix(r, &tag, 1);
}

static void mix_u64(run *r, uint64_t v)
{
    mix(r, &v, sizeof v);
}

/* Callback pointers must point into what was presented. */
static void check_slice(const run *r, const char *s, size_t n)
{
    CHECK(s >= r->window && n <= r->window_len && s + n <= r->window + r->window_len);
}

static void on_status(void *ud, int minor, int status, const char *reason, size_t len)
{
    run *r = ud;
    check_slice(r, reason, len);
    CHECK(status >= 100 && status <= 999 && minor >= 0 && minor <= 9);
    mix_tag(r, 'S');
    mix_u64(r, (uint64_t)status * 10 + (uint64_t)minor);
    mix_u64(r, len);
    mix(r, reason, len);
}

static void on_field(run *r, char tag, const char *n, size_t nl, const char *v, size_t vl)
{
    check_slice(r, n, nl);
    check_slice(r, v, vl);
    CHECK(nl > 0);
    CHECK(vl == 0 || (v[0] != ' ' && v[0] != '\t' && v[vl - 1] != ' ' && v[vl - 1] != '\t'));
    mix_tag(r, tag);
    mix_u64(r, nl);
    mix(r, n, nl);
    mix_u64(r, vl);
    mix(r, v, vl);
}

static void on_header(void *ud, const char *n, size_t nl, const char *v, size_t vl)
{
    on_field(ud, 'H', n, nl, v, vl);
}

static void on_trailer(void *ud, const char *n, size_t nl, const char *v, size_t vl)
{
    on_field(ud, 'T', n, nl, v, vl);
}

static void on_headers_done(void *ud, int status)
{
    mix_tag(ud, 'D');
    mix_u64(ud, (uint64_t)status);
}

/* Slice boundaries depend on the split, so only the bytes are hashed, not their grouping. */
static void on_body(void *ud, const char *data, size_t len)
{
    run *r = ud;
    check_slice(r, data, len);
    CHECK(len > 0);
    r->body_bytes += len;
    mix(r, data, len);
}

static void on_message_done(void *ud)
{
    mix_tag(ud, 'M');
}

static void on_finding(void *ud, const http1_finding *f)
{
    run *r = ud;
    CHECK(f->message != NULL);
    mix_tag(r, f->fatal ? 'F' : 'f');
    mix_u64(r, (uint64_t)f->code);
    mix_u64(r, f->offset);
}

static const http1_callbacks callbacks = {
    .on_status = on_status,
    .on_header = on_header,
    .on_headers_done = on_headers_done,
    .on_body = on_body,
    .on_trailer = on_trailer,
    .on_message_done = on_message_done,
    .on_finding = on_finding,
};

typedef struct options {
    bool head, small_limits, chain;
} options;

typedef struct input {
    const uint8_t *data;
    size_t len;
    char *arena; /* len bytes: the presented window is copied to its end */
} input;

static void present(http1_parser *p, run *r, const options *o, const input *in,
                    size_t *consumed, size_t end)
{
    for (;;) {
        if (o->chain && p->state == H1_DONE && *consumed < end) {
            mix_tag(r, 'R');
            http1_reset(p, o->head);
        }
        size_t n = end - *consumed;
        char *copy = in->arena + in->len - n;
        memmove(copy, in->data + *consumed, n);
        r->window = copy;
        r->window_len = n;
        bool was_error = p->state == H1_ERROR;
        size_t used = http1_parse(p, copy, n);
        CHECK(used <= n);
        CHECK(!was_error || used == 0);
        *consumed += used;
        CHECK(p->offset == *consumed);
        CHECK(p->framing != H1_FRAMING_CONTENT_LENGTH || p->body_received <= p->content_length);
        if (!(o->chain && p->state == H1_DONE && *consumed < end))
            return;
    }
}

/* Feeds in pieces: [0, split) then the rest, or step bytes at a time. Returns the hash. */
static uint64_t feed(const options *o, const input *in, size_t split, size_t step)
{
    size_t len = in->len;
    run r = {.hash = 0xcbf29ce484222325ULL};
    http1_parser p;
    http1_parser_init(&p, &callbacks, &r, o->head);
    if (o->small_limits) {
        p.limits.max_head = 200;
        p.limits.max_headers = 6;
        p.limits.max_chunk_size = 1000;
    }
    size_t consumed = 0;
    for (size_t presented = 0; presented < len;) {
        if (step)
            presented = presented + step < len ? presented + step : len;
        else
            presented = presented < split ? split : len;
        present(&p, &r, o, in, &consumed, presented);
    }
    if (!o->chain && p.state == H1_DONE && consumed < len)
        present(&p, &r, o, in, &consumed, len);
    bool clean = http1_eof(&p);
    CHECK(!clean || p.state == H1_DONE || p.state == H1_UPGRADED);
    mix_tag(&r, clean ? 'E' : 'e');
    mix_u64(&r, consumed);
    mix_u64(&r, (uint64_t)p.state);
    mix_u64(&r, p.keep_alive);
    if (!o->chain)
        CHECK(p.body_received == r.body_bytes);
    return r.hash;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    options o = {.head = data[0] & 1, .small_limits = data[0] & 2, .chain = data[0] & 4};
    size_t split = (size_t)(data[1] | (data[0] >> 3) << 8);
    input in = {.data = data + 2, .len = size - 2, .arena = malloc(size - 2)};
    CHECK(in.arena != NULL);
    split %= in.len + 1;
    uint64_t whole = feed(&o, &in, in.len, 0);
    CHECK(feed(&o, &in, split, 0) == whole);
    CHECK(feed(&o, &in, 0, 1 + (data[1] & 7)) == whole);
    if (in.len <= 1024) /* byte by byte is quadratic: keep it for shorter inputs */
        CHECK(feed(&o, &in, 0, 1) == whole);
    free(in.arena);
    return 0;
}
