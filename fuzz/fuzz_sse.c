/* libFuzzer target for the text/event-stream parser.
 *
 * Built by `make fuzz` together with the sources named on the next line:
 * FUZZ_SOURCES: harness/proto/sse_parser.c harness/browser/text_decoder.c harness/util/buf.c
 *
 * The first input byte picks options (Chromium's retry rules, small limits, stopping after
 * some events, how to split); the rest is the stream. It is parsed whole, split in two, and
 * in small steps, each piece in its own exactly sized allocation freed right after its feed
 * (ASan catches reads past it and references kept too long). Every way must give the same
 * callbacks, and, without the small limits, the same as a plain reference reading of the
 * spec: decode the whole stream first, then split lines and interpret them. Each callback's
 * strings must be valid UTF-8, and an idle parser must not keep an empty buffer.
 */
#include "browser/text_decoder.h"
#include "proto/sse_parser.h"
#include "util/buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond) \
    do { \
        if (!(cond)) \
            __builtin_trap(); \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct run {
    buf log;
    sse_parser *p;
    int stop_after; /* 0: never */
    int events;
    uint64_t len;   /* stream length: limit offsets lie inside */
} run;

/* Valid UTF-8 as the WHATWG decoder accepts it (RFC 3629: no surrogates, no overlong form,
 * nothing above U+10FFFF), checked independently of the parser. */
static bool valid_utf8(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t need = c < 0x80 ? 0 : c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2
                    : c >= 0xF0 && c <= 0xF4 ? 3 : 9;
        if (need == 9 || n - i <= need)
            return false;
        uint32_t cp = need ? c & (0x3Fu >> need) : c;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3Fu);
        }
        static const uint32_t min[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < min[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += need + 1;
    }
    return true;
}

static void put(run *r, char tag, const char *s, size_t n)
{
    uint32_t len = (uint32_t)n;
    buf_append(&r->log, &tag, 1);
    buf_append(&r->log, &len, sizeof len);
    buf_append(&r->log, s, n);
}

static void on_event(void *ud, const char *type, size_t type_len, const char *data,
                     size_t data_len, const char *id, size_t id_len)
{
    run *r = ud;
    CHECK(type_len > 0 && valid_utf8(type, type_len) && valid_utf8(data, data_len) &&
          valid_utf8(id, id_len));
    CHECK(!memchr(id, '\0', id_len) && !memchr(id, '\n', id_len) && !memchr(id, '\r', id_len));
    CHECK(!memchr(data, '\r', data_len) && !memchr(type, '\n', type_len));
    put(r, 'E', type, type_len);
    put(r, 'D', data, data_len);
    put(r, 'I', id, id_len);
    if (r->stop_after && ++r->events == r->stop_after && r->p)
        sse_parser_stop(r->p);
}

static void on_retry(void *ud, uint64_t ms)
{
    run *r = ud;
    put(r, 'R', (const char *)&ms, sizeof ms);
}

static void on_comment(void *ud, const char *text, size_t len)
{
    run *r = ud;
    CHECK(valid_utf8(text, len));
    put(r, 'C', text, len);
}

static void on_limit(void *ud, sse_limit what, uint64_t offset)
{
    run *r = ud;
    CHECK(offset < r->len);
    put(r, 'L', (const char *)&offset, sizeof offset);
    put(r, 'W', (const char *)&what, sizeof what);
}

/* Feeds the stream in pieces of the given sizes (cycled; 0 = the rest). */
static char *parse(const sse_parser_config *cfg, const char *s, size_t n, const size_t *steps,
                   size_t nsteps, int stop_after, size_t *log_len)
{
    sse_parser p;
    run r = {.p = &p, .stop_after = stop_after, .len = n};
    sse_parser_init(&p, cfg, &r);
    size_t at = 0, k = 0;
    do {
        size_t step = nsteps ? steps[k++ % nsteps] : 0;
        size_t take = step && step < n - at ? step : n - at;
        char *piece = malloc(take ? take : 1);
        CHECK(piece);
        memcpy(piece, s + at, take);
        sse_parser_feed(&p, piece, take);
        free(piece);
        at += take;
        CHECK((!p.line.p || p.line.len) && (!p.data.p || p.data.len) &&
              (!p.type.p || p.type.len));
    } while (at < n);
    CHECK(sse_parser_offset(&p) == n);
    sse_parser_finish(&p);
    CHECK(!p.line.p && !p.data.p && !p.type.p && !p.id.p);
    sse_parser_free(&p);
    *log_len = r.log.len;
    return buf_take(&r.log);
}

/* ---- the reference: the spec's steps over the decoded stream, no shortcuts ---------------- */

typedef struct ref {
    buf data, type, id_buf, last_id;
    bool stopped;
} ref;

static void ref_line(ref *st, const sse_parser_config *cfg, run *r, const char *l, size_t n)
{
    if (n == 0) {
        buf_reset(&st->last_id);
        buf_append(&st->last_id, st->id_buf.data ? st->id_buf.data : "", st->id_buf.len);
        if (st->data.len) {
            const char *type = st->type.len ? st->type.data : "message";
            on_event(r, type, st->type.len ? st->type.len : 7, st->data.data, st->data.len - 1,
                     st->last_id.data ? st->last_id.data : "", st->last_id.len);
            st->stopped = r->stop_after && r->events == r->stop_after;
        }
        buf_reset(&st->data);
        buf_reset(&st->type);
        return;
    }
    if (l[0] == ':') {
        on_comment(r, l + 1, n - 1);
        return;
    }
    const char *colon = memchr(l, ':', n);
    size_t name = colon ? (size_t)(colon - l) : n;
    const char *v = colon ? colon + 1 : l + n;
    if (v < l + n && *v == ' ')
        v++;
    size_t vn = (size_t)(l + n - v);
    if (name == 5 && !memcmp(l, "event", 5)) {
        buf_reset(&st->type);
        buf_append(&st->type, v, vn);
    } else if (name == 4 && !memcmp(l, "data", 4)) {
        buf_append(&st->data, v, vn);
        buf_append(&st->data, "\n", 1);
    } else if (name == 2 && !memcmp(l, "id", 2)) {
        if (!memchr(v, '\0', vn)) {
            buf_reset(&st->id_buf);
            buf_append(&st->id_buf, v, vn);
        }
    } else if (name == 5 && !memcmp(l, "retry", 5)) {
        if (vn == 0) {
            if (cfg->chromium_retry)
                on_retry(r, SSE_CHROMIUM_DEFAULT_RETRY_MS);
            return;
        }
        unsigned __int128 ms = 0;
        for (size_t i = 0; i < vn; i++) {
            if (v[i] < '0' || v[i] > '9')
                return;
            ms = ms * 10 + (unsigned)(v[i] - '0');
            if (ms > UINT64_MAX)
                ms = (unsigned __int128)UINT64_MAX + 1; /* stays "too big" */
        }
        if (ms > UINT64_MAX && cfg->chromium_retry)
            return;
        on_retry(r, ms > UINT64_MAX ? UINT64_MAX : (uint64_t)ms);
    }
}

static char *reference(const sse_parser_config *cfg, const char *s, size_t n, int stop_after,
                       size_t *log_len)
{
    run r = {.stop_after = stop_after, .len = n};
    ref st = {0};
    text_decoder d;
    buf text = {0};
    text_decoder_init(&d, ENC_UTF8, false);
    text_decoder_feed(&d, s, n, &text); /* drops one leading BOM */
    text_decoder_finish(&d, &text);
    const char *t = text.data ? text.data : "";
    size_t i = 0, start = 0;
    while (i < text.len && !st.stopped) {
        if (t[i] != '\r' && t[i] != '\n') {
            i++;
            continue;
        }
        ref_line(&st, cfg, &r, t + start, i - start);
        i += t[i] == '\r' && i + 1 < text.len && t[i + 1] == '\n' ? 2 : 1;
        start = i;
    }
    /* the unterminated last line is discarded, with the pending event */
    buf_free(&text);
    buf_free(&st.data);
    buf_free(&st.type);
    buf_free(&st.id_buf);
    buf_free(&st.last_id);
    *log_len = r.log.len;
    return buf_take(&r.log);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t opt = data[0];
    uint8_t arg = data[1];
    const char *s = (const char *)data + 2;
    size_t n = size - 2;
    bool small = opt & 2;
    sse_parser_config cfg = {
        .on_event = on_event, .on_retry = on_retry, .on_comment = on_comment,
        .on_limit = on_limit, .chromium_retry = opt & 1,
        .max_line = small ? 1 + (arg & 31) : 0, .max_data = small ? 1 + (arg >> 3) : 0,
    };
    int stop_after = (opt >> 2) & 3;
    size_t split = n ? arg % (n + 1) : 0;
    size_t halves[2] = {split ? split : 1, 0};
    size_t small_steps[5] = {1, 2, 3, 1 + (size_t)(opt >> 5), 7};

    size_t la, lb, lc;
    char *a = parse(&cfg, s, n, NULL, 0, stop_after, &la);
    char *b = parse(&cfg, s, n, halves, 2, stop_after, &lb);
    char *c = parse(&cfg, s, n, small_steps, 5, stop_after, &lc);
    CHECK(la == lb && !memcmp(a, b, la));
    CHECK(la == lc && !memcmp(a, c, la));
    if (!small) { /* no limit can trigger: the reference agrees */
        size_t lr;
        char *r = reference(&cfg, s, n, stop_after, &lr);
        CHECK(la == lr && !memcmp(a, r, la));
        free(r);
    }
    free(a);
    free(b);
    free(c);
    return 0;
}
