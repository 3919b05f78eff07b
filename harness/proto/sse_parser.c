#include "proto/sse_parser.h"

#include "browser/text_decoder.h"
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

enum {
    F_BOM = 1u << 0,       /* at the start of the stream: a BOM may come */
    F_AFTER_CR = 1u << 1,  /* the last feed ended with CR: a leading LF belongs to it */
    F_SKIP_LINE = 1u << 2, /* skipping the rest of an over-long line */
    F_DISCARD = 1u << 3,   /* the current event hit a limit: no data, no dispatch */
    F_ID_SET = 1u << 4,    /* the last event ID buffer differs from the string (in `id`) */
    F_STOPPED = 1u << 5,   /* a callback stopped the stream */
};

/* What one call of sse_parser_feed() knows about its bytes. The refs point into the caller's
 * bytes (or the parser's line buffer) and are copied out before the call returns. */
typedef struct feed {
    sse_parser *p;
    const char *base;
    const char *end;
    const char *lf;   /* next LF at or after the scan position (end: none), NULL: unknown */
    const char *cr;   /* same for CR */
    const char *high; /* same for a byte >= 0x80 */
    const char *data_ref; /* the data buffer when it holds one value, not yet copied */
    size_t data_ref_len;
    const char *type_ref; /* the event type buffer, not yet copied */
    size_t type_ref_len;
    buf fix;          /* a line whose invalid UTF-8 was replaced */
} feed;

/* ---- small strings ------------------------------------------------------------------- */

static int str_reserve(sse_str *s, size_t need)
{
    if (need <= s->cap)
        return 0;
    if (need > (size_t)SSE_MAX_LIMIT * 2)
        return -1;
    size_t cap = s->cap ? s->cap : 32;
    while (cap < need)
        cap *= 2;
    char *q = realloc(s->p, cap);
    if (!q)
        return -1;
    s->p = q;
    s->cap = (uint32_t)cap;
    return 0;
}

/* Strings built here stay NUL-terminated (sse_parser_last_event_id() relies on it). */
static int str_append(sse_str *s, const char *d, size_t n)
{
    if (str_reserve(s, (size_t)s->len + n + 1) < 0)
        return -1;
    if (n)
        memcpy(s->p + s->len, d, n);
    s->len += (uint32_t)n;
    s->p[s->len] = '\0';
    return 0;
}

static int str_set(sse_str *s, const char *d, size_t n)
{
    s->len = 0;
    return str_append(s, d, n);
}

static void str_free(sse_str *s)
{
    free(s->p);
    *s = (sse_str){0};
}

/* ---- setup ---------------------------------------------------------------------------- */

static uint32_t clamp_limit(size_t v, uint32_t dflt)
{
    if (v == 0)
        return dflt;
    return v > SSE_MAX_LIMIT ? SSE_MAX_LIMIT : (uint32_t)v;
}

void sse_parser_init(sse_parser *p, const sse_parser_config *cfg, void *ud)
{
    memset(p, 0, sizeof *p);
    p->cfg = cfg;
    p->ud = ud;
    p->max_line = clamp_limit(cfg->max_line, SSE_DEFAULT_MAX_LINE);
    p->max_data = clamp_limit(cfg->max_data, SSE_DEFAULT_MAX_DATA);
    p->flags = F_BOM;
}

static void free_event_state(sse_parser *p)
{
    str_free(&p->line);
    str_free(&p->data);
    str_free(&p->type);
    str_free(&p->id);
}

void sse_parser_free(sse_parser *p)
{
    free_event_state(p);
    str_free(&p->last_id);
}

void sse_parser_finish(sse_parser *p)
{
    /* The pending id was never committed: the buffer reverts to the string. */
    free_event_state(p);
    p->flags = F_BOM;
    p->offset = 0;
}

void sse_parser_stop(sse_parser *p)
{
    p->flags |= F_STOPPED;
}

const char *sse_parser_last_event_id(const sse_parser *p, size_t *len)
{
    *len = p->last_id.len;
    return p->last_id.len ? p->last_id.p : "";
}

int sse_parser_set_last_event_id(sse_parser *p, const char *id, size_t len)
{
    p->flags &= (uint16_t)~F_ID_SET;
    return str_set(&p->last_id, id, len);
}

uint64_t sse_parser_offset(const sse_parser *p)
{
    return p->offset;
}

const char *sse_limit_name(sse_limit what)
{
    switch (what) {
    case SSE_LIMIT_LINE:
        return "line longer than the limit";
    case SSE_LIMIT_DATA:
        return "event data longer than the limit";
    case SSE_LIMIT_MEMORY:
        return "out of memory";
    }
    return "limit";
}

/* ---- scanning ----------------------------------------------------------------------- */

#define HIGH_BITS 0x8080808080808080ULL

/* The first byte >= 0x80 in [s, end), or end: eight bytes at a time. */
static const char *first_high(const char *s, const char *end)
{
    while (end - s >= 32) {
        uint64_t a, b, c, d;
        memcpy(&a, s, 8);
        memcpy(&b, s + 8, 8);
        memcpy(&c, s + 16, 8);
        memcpy(&d, s + 24, 8);
        if ((a | b | c | d) & HIGH_BITS)
            break;
        s += 32;
    }
    while (end - s >= 8) {
        uint64_t a;
        memcpy(&a, s, 8);
        if (a & HIGH_BITS)
            break;
        s += 8;
    }
    while (s < end && !((unsigned char)*s & 0x80))
        s++;
    return s;
}

/* Whether [s, end) is valid UTF-8 by the WHATWG decoder's rules (no surrogates, no overlong
 * forms, nothing above U+10FFFF). */
static bool utf8_valid(const char *s, const char *end)
{
    while (s < end) {
        const unsigned char *u = (const unsigned char *)s;
        if (u[0] < 0x80) {
            s = first_high(s, end);
            continue;
        }
        size_t need;
        unsigned char lo = 0x80, hi = 0xBF;
        if (u[0] >= 0xC2 && u[0] <= 0xDF) {
            need = 1;
        } else if (u[0] >= 0xE0 && u[0] <= 0xEF) {
            need = 2;
            lo = u[0] == 0xE0 ? 0xA0 : 0x80;
            hi = u[0] == 0xED ? 0x9F : 0xBF;
        } else if (u[0] >= 0xF0 && u[0] <= 0xF4) {
            need = 3;
            lo = u[0] == 0xF0 ? 0x90 : 0x80;
            hi = u[0] == 0xF4 ? 0x8F : 0xBF;
        } else {
            return false;
        }
        if ((size_t)(end - s) <= need || u[1] < lo || u[1] > hi)
            return false;
        for (size_t i = 2; i <= need; i++)
            if ((u[i] & 0xC0) != 0x80)
                return false;
        s += need + 1;
    }
    return true;
}

/* The next line end (CR or LF) at or after s, or NULL. Each terminator is searched once per
 * feed, so CR-only or LF-only streams cost one memchr per line. */
static const char *find_eol(feed *f, const char *s)
{
    size_t n = (size_t)(f->end - s);
    if (!f->lf || f->lf < s) {
        const char *q = memchr(s, '\n', n);
        f->lf = q ? q : f->end;
    }
    if (!f->cr || f->cr < s) {
        const char *q = memchr(s, '\r', n);
        f->cr = q ? q : f->end;
    }
    const char *e = f->lf < f->cr ? f->lf : f->cr;
    return e < f->end ? e : NULL;
}

/* Past the terminator at e; a CR at the very end may pair with the next feed's LF. */
static const char *after_eol(feed *f, const char *e)
{
    if (*e == '\n')
        return e + 1;
    if (e + 1 < f->end)
        return e[1] == '\n' ? e + 2 : e + 1;
    f->p->flags |= F_AFTER_CR;
    return e + 1;
}

/* ---- interpreting lines ------------------------------------------------------------- */

static void report_limit(sse_parser *p, sse_limit what, uint64_t offset)
{
    if (p->cfg->on_limit)
        p->cfg->on_limit(p->ud, what, offset);
}

/* The event's data cannot be kept whole: drop it and dispatch nothing at its blank line. */
static void discard_event(feed *f, sse_limit what, uint64_t offset)
{
    sse_parser *p = f->p;
    p->flags |= F_DISCARD;
    f->data_ref = NULL;
    f->type_ref = NULL;
    str_free(&p->data);
    p->type.len = 0;
    report_limit(p, what, offset);
}

static void dispatch(feed *f)
{
    sse_parser *p = f->p;
    if (p->flags & F_ID_SET) {
        sse_str t = p->id; /* the buffer becomes the string: swap, no copy */
        p->id = p->last_id;
        p->last_id = t;
    }
    bool discarded = p->flags & F_DISCARD;
    p->flags &= (uint16_t)~(F_ID_SET | F_DISCARD);
    bool has_data = f->data_ref || p->data.len;
    if (has_data && !discarded && p->cfg->on_event) {
        const char *data = f->data_ref ? f->data_ref : p->data.p;
        size_t data_len = f->data_ref ? f->data_ref_len : p->data.len - 1; /* final LF */
        const char *type = f->type_ref ? f->type_ref : p->type.p;
        size_t type_len = f->type_ref ? f->type_ref_len : p->type.len;
        if (!type_len) {
            type = "message";
            type_len = 7;
        }
        size_t id_len;
        const char *id = sse_parser_last_event_id(p, &id_len);
        p->cfg->on_event(p->ud, type, type_len, data, data_len, id, id_len);
    }
    f->data_ref = NULL;
    f->type_ref = NULL;
    p->data.len = 0;
    p->type.len = 0;
}

/* Copies the refs into the parser: the caller's bytes are about to go away. */
static void keep_refs(feed *f, uint64_t offset)
{
    sse_parser *p = f->p;
    if (f->data_ref) {
        const char *d = f->data_ref;
        f->data_ref = NULL;
        if (str_set(&p->data, d, f->data_ref_len) < 0 || str_append(&p->data, "\n", 1) < 0)
            discard_event(f, SSE_LIMIT_MEMORY, offset);
    }
    if (f->type_ref) {
        const char *t = f->type_ref;
        f->type_ref = NULL;
        if (str_set(&p->type, t, f->type_ref_len) < 0)
            discard_event(f, SSE_LIMIT_MEMORY, offset);
    }
}

static void field_data(feed *f, const char *v, size_t n, bool borrow, uint64_t offset)
{
    sse_parser *p = f->p;
    if (p->flags & F_DISCARD)
        return;
    size_t have = f->data_ref ? f->data_ref_len + 1 : p->data.len;
    if (have + n + 1 > p->max_data) {
        discard_event(f, SSE_LIMIT_DATA, offset);
        return;
    }
    if (borrow && !have) {
        f->data_ref = v;
        f->data_ref_len = n;
        return;
    }
    keep_refs(f, offset);
    if (p->flags & F_DISCARD)
        return;
    if (str_reserve(&p->data, (size_t)p->data.len + n + 1) < 0) {
        discard_event(f, SSE_LIMIT_MEMORY, offset);
        return;
    }
    memcpy(p->data.p + p->data.len, v, n);
    p->data.p[p->data.len + n] = '\n';
    p->data.len += (uint32_t)(n + 1);
}

static void field_event(feed *f, const char *v, size_t n, bool borrow, uint64_t offset)
{
    sse_parser *p = f->p;
    if (p->flags & F_DISCARD)
        return;
    p->type.len = 0;
    f->type_ref = NULL;
    if (borrow) {
        f->type_ref = v;
        f->type_ref_len = n;
    } else if (str_set(&p->type, v, n) < 0) {
        discard_event(f, SSE_LIMIT_MEMORY, offset);
    }
}

static void field_id(feed *f, const char *v, size_t n)
{
    sse_parser *p = f->p;
    if (memchr(v, '\0', n))
        return;
    if (str_set(&p->id, v, n) < 0) {
        p->flags &= (uint16_t)~F_ID_SET; /* keep the last value rather than a torn one */
        return;
    }
    p->flags |= F_ID_SET;
}

static void field_retry(sse_parser *p, const char *v, size_t n)
{
    if (!p->cfg->on_retry)
        return;
    if (n == 0) {
        if (p->cfg->chromium_retry)
            p->cfg->on_retry(p->ud, SSE_CHROMIUM_DEFAULT_RETRY_MS);
        return;
    }
    uint64_t ms = 0;
    bool overflow = false;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)v[i] - '0';
        if (d > 9)
            return;
        if (ms > (UINT64_MAX - d) / 10)
            overflow = true;
        else
            ms = ms * 10 + d;
    }
    if (overflow) {
        if (p->cfg->chromium_retry) /* ToUInt64Strict() fails: the field is ignored */
            return;
        ms = UINT64_MAX;
    }
    p->cfg->on_retry(p->ud, ms);
}

/* Replaces invalid UTF-8 as the WHATWG decoder does, into f->fix. */
static bool repair_utf8(feed *f, const char *s, size_t len)
{
    text_decoder d;
    text_decoder_init(&d, ENC_UTF8, false);
    d.bom_checked = true; /* the stream's BOM is handled by the caller; a later one stays */
    buf_reset(&f->fix);
    return text_decoder_feed(&d, s, len, &f->fix) == 0 && text_decoder_finish(&d, &f->fix) == 0;
}

/* Whether a line needs no repair; lines from the caller's bytes share one scan for the first
 * non-ASCII byte, so ASCII streams are checked eight bytes at a time, once. */
static bool line_is_utf8(feed *f, const char *s, size_t len, bool in_input)
{
    const char *from = s;
    if (in_input) {
        if (!f->high || f->high < s)
            f->high = first_high(s, f->end);
        if (f->high >= s + len)
            return true;
        from = f->high;
    }
    return utf8_valid(from, s + len);
}

/* One complete line (without its terminator). `borrow`: the bytes stay put until the feed
 * ends, so a value may be referenced instead of copied. */
static void process_line(feed *f, const char *s, size_t len, bool in_input, bool borrow,
                         uint64_t offset)
{
    sse_parser *p = f->p;
    if (p->flags & F_BOM) {
        p->flags &= (uint16_t)~F_BOM;
        if (len >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) {
            s += 3;
            len -= 3;
        }
    }
    if (len == 0) {
        dispatch(f);
        return;
    }
    if (!line_is_utf8(f, s, len, in_input)) {
        if (!repair_utf8(f, s, len)) {
            discard_event(f, SSE_LIMIT_MEMORY, offset);
            return;
        }
        s = f->fix.data;
        len = f->fix.len;
        borrow = false; /* the next repaired line reuses f->fix */
    }
    if (s[0] == ':') {
        if (p->cfg->on_comment)
            p->cfg->on_comment(p->ud, s + 1, len - 1);
        return;
    }
    const char *end = s + len;
    const char *colon;
    /* The usual names need no search for the colon: none of them holds one. */
    if (len >= 5 && !memcmp(s, "data:", 5))
        colon = s + 4;
    else if (len >= 3 && !memcmp(s, "id:", 3))
        colon = s + 2;
    else
        colon = memchr(s, ':', len);
    size_t name_len = colon ? (size_t)(colon - s) : len;
    const char *v = colon ? colon + 1 : end;
    if (v < end && *v == ' ')
        v++;
    size_t n = (size_t)(end - v);
    switch (name_len) {
    case 4:
        if (!memcmp(s, "data", 4))
            field_data(f, v, n, borrow, offset);
        break;
    case 5:
        if (!memcmp(s, "event", 5))
            field_event(f, v, n, borrow, offset);
        else if (!memcmp(s, "retry", 5))
            field_retry(p, v, n);
        break;
    case 2:
        if (!memcmp(s, "id", 2))
            field_id(f, v, n);
        break;
    default:
        break; /* unknown fields are ignored */
    }
}

/* A line over max_line: reported, skipped, and its event discarded. */
static void line_too_long(feed *f, uint64_t offset)
{
    sse_parser *p = f->p;
    p->flags &= (uint16_t)~F_BOM;
    str_free(&p->line);
    discard_event(f, SSE_LIMIT_LINE, offset);
}

/* ---- feeding -------------------------------------------------------------------------- */

static uint64_t offset_of(const feed *f, const char *q)
{
    return f->p->offset + (uint64_t)(q - f->base);
}

/* Continues a line begun in an earlier feed; returns where the next line starts, or NULL
 * when this feed ended inside the line. */
static const char *continue_line(feed *f, const char *s)
{
    sse_parser *p = f->p;
    const char *e = find_eol(f, s);
    const char *stop = e ? e : f->end;
    uint64_t line_offset = p->offset - p->line.len;
    if ((size_t)p->line.len + (size_t)(stop - s) > p->max_line) {
        line_too_long(f, line_offset);
        if (!e) {
            p->flags |= F_SKIP_LINE;
            return NULL;
        }
        return after_eol(f, e);
    }
    if (str_append(&p->line, s, (size_t)(stop - s)) < 0) {
        line_too_long(f, line_offset);
        p->flags |= e ? 0 : F_SKIP_LINE;
        return e ? after_eol(f, e) : NULL;
    }
    if (!e)
        return NULL;
    process_line(f, p->line.p, p->line.len, false, true, line_offset);
    p->line.len = 0; /* the storage stays until the feed ends: refs may point into it */
    return after_eol(f, e);
}

/* Keeps the start of a line that the next feed completes. */
static void keep_partial(feed *f, const char *s)
{
    sse_parser *p = f->p;
    size_t n = (size_t)(f->end - s);
    if (n > p->max_line || str_set(&p->line, s, n) < 0) {
        line_too_long(f, offset_of(f, s));
        p->flags |= F_SKIP_LINE;
    }
}

static void end_feed(feed *f, const char *partial, size_t len)
{
    sse_parser *p = f->p;
    buf_free(&f->fix);
    if (p->flags & F_STOPPED) {
        f->data_ref = f->type_ref = NULL;
        free_event_state(p);
        p->offset += len;
        return;
    }
    keep_refs(f, offset_of(f, f->end));
    if (partial)
        keep_partial(f, partial);
    /* An idle parser holds no heap beyond its last event ID string. */
    if (!p->line.len)
        str_free(&p->line);
    if (!p->data.len)
        str_free(&p->data);
    if (!p->type.len)
        str_free(&p->type);
    if (!(p->flags & F_ID_SET))
        str_free(&p->id);
    p->offset += len;
}

void sse_parser_feed(sse_parser *p, const char *data, size_t len)
{
    if (len == 0)
        return;
    if (p->flags & F_STOPPED) {
        p->offset += len;
        return;
    }
    feed f = {.p = p, .base = data, .end = data + len};
    const char *s = data;
    if (p->flags & F_AFTER_CR) {
        p->flags &= (uint16_t)~F_AFTER_CR;
        if (*s == '\n')
            s++;
    }
    if (p->flags & F_SKIP_LINE) {
        const char *e = find_eol(&f, s);
        if (e)
            p->flags &= (uint16_t)~F_SKIP_LINE;
        s = e ? after_eol(&f, e) : NULL;
    } else if (p->line.len) {
        s = continue_line(&f, s);
    }
    const char *partial = NULL;
    while (s && s < f.end && !(p->flags & F_STOPPED)) {
        const char *e = find_eol(&f, s);
        if (!e) {
            partial = s;
            break;
        }
        size_t n = (size_t)(e - s);
        if (n > p->max_line)
            line_too_long(&f, offset_of(&f, s));
        else
            process_line(&f, s, n, true, true, offset_of(&f, s));
        s = after_eol(&f, e);
    }
    end_feed(&f, partial, len);
}
