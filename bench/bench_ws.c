/* WebSocket frame parsing throughput: comet's ws_parse() beside Debian's wslay (libwslay-dev),
 * on the SAME bytes, each parsing + unmasking + UTF-8-validating text messages.
 *
 * Like for like: wslay's event API is the one that validates UTF-8 (the bare wslay_frame API
 * does not), and its natural side is the server's, reading MASKED client frames; so the main
 * rows run comet's parser in its server role (WS_ROLE_SERVER) on masked frames against a
 * wslay server context. Both deliver message data as it arrives, nothing buffered (wslay:
 * no_buffering, on_frame_recv_chunk_callback; comet: on_message_data), and both see the input
 * in pieces: wslay pulls it through its recv callback (4 KiB at a time, its buffer), comet
 * is fed 16 KiB reads. The client-role rows (unmasked frames, comet's production path) are
 * the same comparison without the unmasking.
 *
 * Text: JSON-like lines, mostly ASCII with Latin-1, CJK and emoji characters mixed in
 * (about 1 byte in 8 is not ASCII). About 1 MiB of frames is parsed over and over, so it is
 * in cache as bytes just read from a socket are. MB = 10^6 bytes of message payload. Rates
 * are the best of 3 runs, alternating comet and wslay, per second of the benchmark thread's
 * CPU time (one core's work, however busy the machine is), wall-clock rates below each row.
 *
 * Build (links -lwslay only here):
 *   cc -D_GNU_SOURCE -Iharness -std=c11 -O2 bench/bench_ws.c harness/proto/ws_frame.c \
 *      harness/util/buf.c -o build/bench_ws -lwslay
 *   nice build/bench_ws [seconds per run, default 1] */
#include "proto/ws_frame.h"
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <wslay/wslay.h>

#define FEED 16384

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void loadavg(const char *when)
{
    char line[128] = "?";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(line, sizeof line, f))
            strcpy(line, "?\n");
        fclose(f);
    }
    printf("load average %s: %s", when, line);
}

/* ---- the input ---------------------------------------------------------------------------- */

static const char SAMPLE[] =
    "{\"user\":\"zo\xc3\xab\",\"text\":\"na\xc3\xafve caf\xc3\xa9 \xe2\x80\x94 see you at 8, "
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e ok \xf0\x9f\x99\x82\",\"seq\":12345,\"ok\":true}\n"
    "{\"user\":\"bob\",\"text\":\"plain ascii message with a number 42 and more words here\"}\n";

/* size bytes of valid UTF-8 text cut from SAMPLE repeated, padded with ASCII at the end. */
static char *make_text(size_t size)
{
    char *t = malloc(size);
    size_t n = sizeof SAMPLE - 1;
    for (size_t i = 0; i < size; i++)
        t[i] = SAMPLE[i % n];
    size_t k = size;
    while (k && ((unsigned char)t[k - 1] & 0x80)) /* never end inside a sequence */
        t[--k] = ' ';
    return t;
}

static buf make_stream(const char *text, size_t size, size_t count, bool masked)
{
    buf b = {0};
    uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
    for (size_t i = 0; i < count; i++) {
        key[i & 3]++;
        if (ws_write_frame(&b, true, 0, WS_OP_TEXT, masked, key, text, size) < 0) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
    }
    return b;
}

/* ---- comet ------------------------------------------------------------------------------- */

typedef struct tally {
    uint64_t bytes;
    uint64_t messages;
    uint64_t check; /* touches the data, so nothing is skipped */
    bool failed;
} tally;

static void comet_data(void *ud, const uint8_t *d, size_t n)
{
    tally *t = ud;
    t->bytes += n;
    t->check += d[0] + d[n - 1];
}

static void comet_end(void *ud)
{
    ((tally *)ud)->messages++;
}

static void comet_error(void *ud, const ws_error *e)
{
    fprintf(stderr, "comet: %s at %llu\n", e->message, (unsigned long long)e->offset);
    ((tally *)ud)->failed = true;
}

static void run_comet(const buf *stream, ws_role role, tally *t)
{
    static const ws_parser_callbacks cb = {.on_message_data = comet_data,
                                           .on_message_end = comet_end,
                                           .on_error = comet_error};
    ws_parser p;
    ws_parser_init(&p, role, &cb, t);
    const uint8_t *d = (const uint8_t *)stream->data;
    for (size_t at = 0; at < stream->len; at += FEED)
        ws_parse(&p, d + at, stream->len - at < FEED ? stream->len - at : FEED);
}

/* ---- wslay --------------------------------------------------------------------------------- */

typedef struct wslay_input {
    const buf *stream;
    size_t at;
    tally *t;
} wslay_input;

static ssize_t wslay_recv(wslay_event_context_ptr ctx, uint8_t *out, size_t len, int flags,
                          void *ud)
{
    (void)flags;
    wslay_input *in = ud;
    size_t left = in->stream->len - in->at;
    if (!left) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < left ? len : left;
    memcpy(out, in->stream->data + in->at, n);
    in->at += n;
    return (ssize_t)n;
}

static ssize_t wslay_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
                          int flags, void *ud)
{
    (void)ctx, (void)data, (void)flags, (void)ud;
    return (ssize_t)len;
}

static int wslay_genmask(wslay_event_context_ptr ctx, uint8_t *out, size_t len, void *ud)
{
    (void)ctx, (void)ud;
    memset(out, 0x5a, len);
    return 0;
}

static void wslay_chunk(wslay_event_context_ptr ctx,
                        const struct wslay_event_on_frame_recv_chunk_arg *arg, void *ud)
{
    (void)ctx;
    tally *t = ((wslay_input *)ud)->t;
    if (arg->data_length) {
        t->bytes += arg->data_length;
        t->check += arg->data[0] + arg->data[arg->data_length - 1];
    }
}

static void wslay_end(wslay_event_context_ptr ctx, void *ud)
{
    (void)ctx;
    ((wslay_input *)ud)->t->messages++; /* one frame per message */
}

static void run_wslay(const buf *stream, ws_role role, tally *t)
{
    struct wslay_event_callbacks cb = {
        .recv_callback = wslay_recv, .send_callback = wslay_send,
        .genmask_callback = wslay_genmask, .on_frame_recv_chunk_callback = wslay_chunk,
        .on_frame_recv_end_callback = wslay_end,
    };
    wslay_input in = {stream, 0, t};
    wslay_event_context_ptr ctx;
    int rc = role == WS_ROLE_SERVER ? wslay_event_context_server_init(&ctx, &cb, &in)
                                    : wslay_event_context_client_init(&ctx, &cb, &in);
    if (rc) {
        fprintf(stderr, "wslay init failed\n");
        exit(1);
    }
    wslay_event_config_set_no_buffering(ctx, 1);
    wslay_event_config_set_max_recv_msg_length(ctx, 1ull << 31);
    if (wslay_event_recv(ctx) != 0 || wslay_event_get_close_sent(ctx))
        t->failed = true;
    wslay_event_context_free(ctx);
}

/* ---- measuring ----------------------------------------------------------------------------- */

typedef void (*runner)(const buf *, ws_role, tally *);

/* Rates per second of CPU time (the thread's: what one core does, whatever else runs on the
 * machine) and per second of wall-clock time. */
typedef struct result {
    double mb_cpu, msg_cpu;
    double mb_wall, msg_wall;
} result;

/* One run of about `seconds` of CPU time; keeps the best rates in *best. */
static void measure(runner run, const buf *stream, ws_role role, size_t size, size_t count,
                    double seconds, result *best)
{
    {
        tally t = {0};
        unsigned reps = 0;
        double cpu0 = clock_s(CLOCK_THREAD_CPUTIME_ID), wall0 = clock_s(CLOCK_MONOTONIC), cpu;
        do {
            run(stream, role, &t);
            reps++;
            cpu = clock_s(CLOCK_THREAD_CPUTIME_ID) - cpu0;
        } while (cpu < seconds);
        double wall = clock_s(CLOCK_MONOTONIC) - wall0;
        if (t.failed || t.messages != (uint64_t)reps * count ||
            t.bytes != (uint64_t)reps * count * size) {
            fprintf(stderr, "wrong result: %llu messages, %llu bytes\n",
                    (unsigned long long)t.messages, (unsigned long long)t.bytes);
            exit(1);
        }
        double mb = (double)t.bytes / 1e6;
        if (mb / cpu > best->mb_cpu)
            *best = (result){mb / cpu, (double)t.messages / cpu, mb / wall,
                             (double)t.messages / wall};
    }
}

static void row(const char *what, size_t size, result comet, result wslay)
{
    printf("%-30s %6zu B  comet %8.0f MB/s %10.0f msg/s  wslay %7.0f MB/s %10.0f msg/s  "
           "x%.1f\n", what, size, comet.mb_cpu, comet.msg_cpu, wslay.mb_cpu, wslay.msg_cpu,
           comet.mb_cpu / wslay.mb_cpu);
    printf("%-30s %6s    wall-clock: %8.0f MB/s %10.0f msg/s         %7.0f MB/s %10.0f msg/s\n",
           "", "", comet.mb_wall, comet.msg_wall, wslay.mb_wall, wslay.msg_wall);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    if (seconds <= 0)
        seconds = 1.0;
    loadavg("before");
    printf("rates per CPU-second of one thread; comet fed %d-byte reads, wslay its own 4 KiB\n",
           FEED);
    static const size_t sizes[] = {32, 65536};
    for (int masked = 1; masked >= 0; masked--) {
        ws_role role = masked ? WS_ROLE_SERVER : WS_ROLE_CLIENT;
        for (size_t s = 0; s < 2; s++) {
            size_t size = sizes[s];
            /* about 1 MiB of frames, parsed over and over: in cache, as bytes just read
             * from a socket are */
            size_t count = size == 32 ? 1u << 15 : 16;
            char *text = make_text(size);
            size_t non_ascii = 0;
            for (size_t i = 0; i < size; i++)
                non_ascii += (unsigned char)text[i] >= 0x80;
            buf stream = make_stream(text, size, count, masked);
            result c = {0}, w = {0};
            for (int round = 0; round < 3; round++) { /* alternate: both see the same noise */
                measure(run_comet, &stream, role, size, count, seconds, &c);
                measure(run_wslay, &stream, role, size, count, seconds, &w);
            }
            char what[64];
            snprintf(what, sizeof what, "%s text (%zu%% non-ASCII)",
                     masked ? "masked" : "unmasked", non_ascii * 100 / size);
            row(what, size, c, w);
            buf_free(&stream);
            free(text);
        }
    }
    loadavg("after");
    return 0;
}
