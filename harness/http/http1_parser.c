/* HTTP/1.1 response parser (RFC 9112), sans-I/O and without allocations; see http1.h.
 *
 * A head (status line + fields) is parsed only once it is complete, so every callback
 * and finding is the same however the bytes were split across calls. Bodies are
 * delivered as they arrive. Where Chromium is laxer than RFC 9112 the parser accepts
 * (bare LF, obs-fold, "http/1.1", several spaces, no reason phrase), reporting the
 * protocol violations among these as tolerated findings, once per message each.
 *
 * Bytes offered in H1_DONE after a HEAD, 204 or 304 response are reported once as
 * H1F_BODY_ON_NO_BODY_RESPONSE (and keep_alive becomes false); nothing is consumed.
 */
#include "http/http1.h"

#include <string.h>

/* Where a chunked body is, in the low bits of chunk_state. */
enum chunk_phase { CHUNK_SIZE_LINE, CHUNK_DATA, CHUNK_DATA_END, CHUNK_TRAILERS };
#define CHUNK_PHASE_MASK 0x0f
/* Once-per-message facts, in the high bits of chunk_state (http1_reset clears them). */
#define FLAG_BARE_LF_REPORTED  0x10
#define FLAG_OBS_FOLD_REPORTED 0x20
#define FLAG_INTERIM_SEEN      0x40
#define FLAG_STRAY_REPORTED    0x80

/* Chromium's HttpChunkedDecoder gives up on a chunk-size line longer than this. */
#define CHUNK_LINE_MAX 16384
/* Chromium keeps lengths in int64_t. */
#define CONTENT_LENGTH_MAX ((uint64_t)INT64_MAX)
#define NO_MISMATCH ((size_t)-1)

/* tchar (RFC 9110 5.6.2): ALPHA, DIGIT and !#$%&'*+-.^_`|~ */
static const unsigned char tchar[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0, /* 0x20  !"#$%&'()*+,-./ */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, /* 0x30 0-9 :;<=>? */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 @A-O */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, /* 0x50 P-Z [\]^_ */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 `a-o */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0, /* 0x70 p-z {|}~ DEL */
};

/* What the framing-relevant fields of one head said. */
typedef struct head_scan {
    bool cl_seen;                  /* a Content-Length field was present */
    bool has_cl;                   /* ... and held a valid value, cl */
    bool cl_dup;
    bool has_te;
    bool te_chunked_last;
    bool conn_close;
    bool conn_keep_alive;
    http1_finding_code cl_error;   /* 0, or the first fatal Content-Length problem */
    const char *cl_error_msg;
    uint64_t cl;
    uint64_t cl_error_at, cl_dup_at, cl_field_at, te_at, framing_field_at;
} head_scan;

/* Where the head's lines end, noted while looking for its end so that parsing it does not
 * search again. Holds the first LINE_INDEX_MAX line ends; later ones are searched for. */
#define LINE_INDEX_MAX 64
typedef struct line_index {
    uint32_t lf[LINE_INDEX_MAX];
    unsigned n, next;
    bool recording;
} line_index;

/* A "name: value" line, as offsets into the parsed bytes. */
typedef struct field {
    size_t name, name_len, value, value_len;
} field;

static inline bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static inline bool is_digit(char c)
{
    return (unsigned)(unsigned char)c - '0' < 10u;
}

static inline int hex_value(char ch)
{
    unsigned c = (unsigned char)ch;
    if (c - '0' < 10u)
        return (int)(c - '0');
    c |= 0x20;
    if (c - 'a' < 6u)
        return (int)(c - 'a' + 10);
    return -1;
}

static inline char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

/* Case-insensitive comparison with a lower-case literal of the same length. */
static bool equals_lower(const char *s, size_t n, const char *lit, size_t lit_len)
{
    if (n != lit_len)
        return false;
    for (size_t i = 0; i < n; i++)
        if (ascii_lower(s[i]) != lit[i])
            return false;
    return true;
}

#define EQUALS_LIT(s, n, lit) equals_lower((s), (n), lit, sizeof lit - 1)

static inline size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* ---- events ---------------------------------------------------------------------------- */

static void report(http1_parser *p, http1_finding_code code, bool fatal, uint64_t offset,
                   const char *message)
{
    if (fatal)
        p->state = H1_ERROR;
    if (p->cb.on_finding) {
        http1_finding f = {.code = code, .fatal = fatal, .offset = offset, .message = message};
        p->cb.on_finding(p->ud, &f);
    }
}

/* Bare LF is reported once per message: a server that does it once does it everywhere. */
static void report_bare_lf(http1_parser *p, uint64_t offset)
{
    if (p->chunk_state & FLAG_BARE_LF_REPORTED)
        return;
    p->chunk_state |= FLAG_BARE_LF_REPORTED;
    report(p, H1F_BARE_LF, false, offset, "line ended by LF without CR");
}

/* Folded lines cannot be joined to the previous value without a copy, so the parser
 * delivers the field as it stood before the fold and drops the continuation text. */
static void report_obs_fold(http1_parser *p, uint64_t offset)
{
    if (p->chunk_state & FLAG_OBS_FOLD_REPORTED)
        return;
    p->chunk_state |= FLAG_OBS_FOLD_REPORTED;
    report(p, H1F_OBS_FOLD, false, offset, "obsolete line folding (continuation text dropped)");
}

static void finish_message(http1_parser *p)
{
    p->state = H1_DONE;
    if (p->cb.on_message_done)
        p->cb.on_message_done(p->ud);
}

static void deliver_body(http1_parser *p, const char *data, size_t n)
{
    p->body_received += n;
    p->offset += n;
    if (p->cb.on_body)
        p->cb.on_body(p->ud, data, n);
}

static void set_chunk_phase(http1_parser *p, enum chunk_phase phase)
{
    p->chunk_state = (p->chunk_state & ~CHUNK_PHASE_MASK) | (int)phase;
}

/* ---- lines and fields ------------------------------------------------------------------ */

/* Index of the LF ending the line that starts at from (the caller knows one exists). */
static size_t line_end(const char *d, size_t from, size_t limit)
{
    const char *lf = memchr(d + from, '\n', limit - from);
    return lf ? (size_t)(lf - d) : limit - 1;
}

static size_t next_line_end(const char *d, size_t from, size_t limit, line_index *ix)
{
    if (ix->next < ix->n)
        return ix->lf[ix->next++];
    return line_end(d, from, limit);
}

static void note_line_end(line_index *ix, size_t lf)
{
    if (ix->recording && ix->n < LINE_INDEX_MAX && lf <= UINT32_MAX)
        ix->lf[ix->n++] = (uint32_t)lf;
}

/* End of a line's content: its LF, or the CR before it. */
static size_t content_end(const char *d, size_t start, size_t lf)
{
    return lf > start && d[lf - 1] == '\r' ? lf - 1 : lf;
}

/* Splits "name: value" in [start, cend); returns NO_MISMATCH or the offending index. */
static size_t split_field(const char *d, size_t start, size_t cend, field *f)
{
    size_t i = start;
    while (i < cend && tchar[(unsigned char)d[i]])
        i++;
    if (i == start || i == cend || d[i] != ':')
        return i;
    size_t v = i + 1, e = cend;
    while (v < e && is_ows(d[v]))
        v++;
    while (e > v && is_ows(d[e - 1]))
        e--;
    *f = (field){.name = start, .name_len = i - start, .value = v, .value_len = e - v};
    return NO_MISMATCH;
}

/* Steps through a comma-separated list; [*s, *e) is the next element without OWS. */
static bool next_list_element(const char *v, size_t n, size_t *i, size_t *s, size_t *e)
{
    if (*i > n)
        return false;
    const char *comma = memchr(v + *i, ',', n - *i);
    size_t end = comma ? (size_t)(comma - v) : n;
    size_t a = *i, b = end;
    while (a < b && is_ows(v[a]))
        a++;
    while (b > a && is_ows(v[b - 1]))
        b--;
    *s = a;
    *e = b;
    *i = end + 1;
    return true;
}

/* ---- framing fields -------------------------------------------------------------------- */

static void set_cl_error(head_scan *h, http1_finding_code code, uint64_t at, const char *msg)
{
    h->cl_error = code;
    h->cl_error_at = at;
    h->cl_error_msg = msg;
}

static void note_cl_value(head_scan *h, uint64_t value, uint64_t at)
{
    if (!h->has_cl) {
        h->has_cl = true;
        h->cl = value;
    } else if (value != h->cl) {
        set_cl_error(h, H1F_CONFLICTING_CONTENT_LENGTH, at, "Content-Length values differ");
    } else if (!h->cl_dup) {
        h->cl_dup = true;
        h->cl_dup_at = at;
    }
}

/* Content-Length = 1*DIGIT, or a list of equal values (RFC 9110 8.6). */
static void note_content_length(head_scan *h, const char *v, size_t n, uint64_t at)
{
    size_t i = 0, s, e;
    while (!h->cl_error && next_list_element(v, n, &i, &s, &e)) {
        if (s == e) {
            set_cl_error(h, H1F_BAD_CONTENT_LENGTH, at + s, "Content-Length is empty");
            return;
        }
        uint64_t value = 0;
        for (size_t j = s; j < e; j++) {
            if (!is_digit(v[j])) {
                set_cl_error(h, H1F_BAD_CONTENT_LENGTH, at + j, "Content-Length is not a number");
                return;
            }
            unsigned digit = (unsigned)(v[j] - '0');
            if (value > (CONTENT_LENGTH_MAX - digit) / 10) {
                set_cl_error(h, H1F_BAD_CONTENT_LENGTH, at + j, "Content-Length is too large");
                return;
            }
            value = value * 10 + digit;
        }
        note_cl_value(h, value, at + s);
    }
}

/* Only the last coding matters: it must be chunked for the body length to be known. */
static void note_transfer_encoding(head_scan *h, const char *v, size_t n, uint64_t at)
{
    if (!h->has_te) {
        h->has_te = true;
        h->te_at = at;
    }
    size_t i = 0, s, e;
    while (next_list_element(v, n, &i, &s, &e)) {
        const char *semi = memchr(v + s, ';', e - s);
        size_t end = semi ? (size_t)(semi - v) : e;
        while (end > s && is_ows(v[end - 1]))
            end--;
        if (end == s)
            continue;
        h->te_chunked_last = EQUALS_LIT(v + s, end - s, "chunked");
        h->te_at = at + s;
    }
}

static void note_connection(head_scan *h, const char *v, size_t n)
{
    size_t i = 0, s, e;
    while (next_list_element(v, n, &i, &s, &e)) {
        if (EQUALS_LIT(v + s, e - s, "close"))
            h->conn_close = true;
        else if (EQUALS_LIT(v + s, e - s, "keep-alive"))
            h->conn_keep_alive = true;
    }
}

static void note_framing_field(const http1_parser *p, head_scan *h, const char *d,
                               const field *f)
{
    const char *name = d + f->name, *value = d + f->value;
    uint64_t value_at = p->offset + f->value;
    switch (f->name_len) {
    case 10:
        if (EQUALS_LIT(name, 10, "connection"))
            note_connection(h, value, f->value_len);
        break;
    case 14:
        if (!EQUALS_LIT(name, 14, "content-length"))
            break;
        if (!h->cl_seen)
            h->cl_field_at = p->offset + f->name;
        if (!h->cl_seen && !h->has_te)
            h->framing_field_at = p->offset + f->name;
        h->cl_seen = true;
        note_content_length(h, value, f->value_len, value_at);
        break;
    case 17:
        if (!EQUALS_LIT(name, 17, "transfer-encoding"))
            break;
        if (!h->cl_seen && !h->has_te)
            h->framing_field_at = p->offset + f->name;
        note_transfer_encoding(h, value, f->value_len, value_at);
        break;
    default:
        break;
    }
}

/* ---- head ------------------------------------------------------------------------------ */

/* Checks "HTTP/1.x " (HTTP case-insensitive, as Chromium) on the first n (<= 9) bytes, so
 * that garbage is rejected before a whole head arrives. Returns NO_MISMATCH or the index. */
static size_t status_prefix_mismatch(const char *d, size_t n)
{
    if (n >= 9 && memcmp(d, "HTTP/1.", 7) == 0 && is_digit(d[7]) && d[8] == ' ')
        return NO_MISMATCH; /* the usual case, without the loop */
    n = min_size(n, 9);
    for (size_t i = 0; i < n; i++) {
        char c = d[i];
        bool ok;
        if (i < 4)
            ok = ascii_lower(c) == "http"[i];
        else if (i < 7)
            ok = c == "HTTP/1."[i];
        else if (i == 7)
            ok = is_digit(c);
        else
            ok = c == ' ';
        if (!ok)
            return i;
    }
    return NO_MISMATCH;
}

/* Length of the head through its blank line if it is all present within max_head bytes,
 * else 0. Resumes two bytes before where the previous call stopped (scan_from), so a
 * head presented again and again as it grows is scanned once. */
static size_t find_head_end(const http1_parser *p, const char *d, size_t len, line_index *ix)
{
    size_t lim = min_size(len, p->limits.max_head);
    size_t i = min_size(p->scan_from, lim);
    i = i > 2 ? i - 2 : 0;
    /* Line ends are only worth noting when the search starts at the head's beginning. */
    ix->n = ix->next = 0;
    ix->recording = i == 0;
    while (i < lim) {
        const char *lf = memchr(d + i, '\n', lim - i);
        if (!lf)
            break;
        size_t k = (size_t)(lf - d);
        note_line_end(ix, k);
        if (k + 1 < lim && d[k + 1] == '\n') {
            note_line_end(ix, k + 1);
            return k + 2;
        }
        if (k + 2 < lim && d[k + 1] == '\r' && d[k + 2] == '\n') {
            note_line_end(ix, k + 2);
            return k + 3;
        }
        i = k + 1;
    }
    return 0;
}

static bool bad_status_line(http1_parser *p, size_t at, const char *msg)
{
    report(p, H1F_BAD_STATUS_LINE, true, p->offset + at, msg);
    return false;
}

/* "HTTP/1.x" 1*SP 3DIGIT [SP reason] in [0, cend); the prefix was checked already. */
static bool parse_status_line(http1_parser *p, const char *d, size_t cend)
{
    if (cend < 9)
        return bad_status_line(p, cend, "status line too short");
    size_t i = 9;
    while (i < cend && d[i] == ' ') /* Chromium skips extra spaces */
        i++;
    int status = 0;
    for (size_t j = i; j < i + 3; j++) {
        if (j == cend || !is_digit(d[j]))
            return bad_status_line(p, j, "status code is not three digits");
        status = status * 10 + (d[j] - '0');
    }
    if (status < 100)
        return bad_status_line(p, i, "status code below 100");
    size_t r = i + 3;
    if (r < cend && d[r] != ' ')
        return bad_status_line(p, r, "status code is not three digits");
    size_t reason = r < cend ? r + 1 : cend;
    p->status = status;
    p->version_minor = d[7] - '0';
    if (p->version_minor == 0)
        report(p, H1F_HTTP10_RESPONSE, false, p->offset + 7, "HTTP/1.0 response");
    if (p->cb.on_status)
        p->cb.on_status(p->ud, p->version_minor, status, d + reason, cend - reason);
    return true;
}

static bool parse_field_line(http1_parser *p, const char *d, size_t start, size_t cend,
                             head_scan *h)
{
    field f;
    size_t bad = split_field(d, start, cend, &f);
    if (bad != NO_MISMATCH) {
        report(p, H1F_BAD_HEADER, true, p->offset + bad, "malformed header field line");
        return false;
    }
    note_framing_field(p, h, d, &f);
    if (p->cb.on_header)
        p->cb.on_header(p->ud, d + f.name, f.name_len, d + f.value, f.value_len);
    return true;
}

static void finish_interim_head(http1_parser *p, const head_scan *h)
{
    if (h->cl_seen || h->has_te)
        report(p, H1F_INTERIM_WITH_BODY, false, h->framing_field_at,
               "1xx response with Content-Length or Transfer-Encoding (ignored)");
    if (p->cb.on_headers_done)
        p->cb.on_headers_done(p->ud, p->status);
    if (p->status == 101)
        p->state = H1_UPGRADED;
    else
        p->chunk_state |= FLAG_INTERIM_SEEN;
}

/* RFC 9112 6.3: picks the framing; false after a fatal finding. */
static bool choose_framing(http1_parser *p, const head_scan *h, bool no_body)
{
    if (h->has_te) {
        if (!no_body && !h->te_chunked_last) {
            report(p, H1F_UNSUPPORTED_TRANSFER_CODING, true, h->te_at,
                   "Transfer-Encoding does not end with chunked");
            return false;
        }
        if (h->cl_seen)
            report(p, H1F_TE_WITH_CONTENT_LENGTH, false, h->cl_field_at,
                   "Content-Length ignored: Transfer-Encoding present");
        p->framing = no_body ? H1_FRAMING_NONE : H1_FRAMING_CHUNKED;
        return true;
    }
    if (h->cl_error) {
        report(p, h->cl_error, true, h->cl_error_at, h->cl_error_msg);
        return false;
    }
    if (h->cl_dup)
        report(p, H1F_DUPLICATE_CONTENT_LENGTH, false, h->cl_dup_at,
               "Content-Length repeated with the same value");
    p->has_content_length = h->has_cl;
    p->content_length = h->cl;
    if (no_body)
        p->framing = H1_FRAMING_NONE;
    else
        p->framing = h->has_cl ? H1_FRAMING_CONTENT_LENGTH : H1_FRAMING_CLOSE;
    return true;
}

static bool finish_final_head(http1_parser *p, const head_scan *h)
{
    bool no_body = p->request_was_head || p->status == 204 || p->status == 304;
    if (!choose_framing(p, h, no_body))
        return false;
    if (p->framing == H1_FRAMING_CLOSE)
        p->keep_alive = false;
    else if (p->version_minor >= 1)
        p->keep_alive = !h->conn_close;
    else
        p->keep_alive = h->conn_keep_alive && !h->conn_close;
    if (p->cb.on_headers_done)
        p->cb.on_headers_done(p->ud, p->status);
    if (p->framing == H1_FRAMING_NONE ||
        (p->framing == H1_FRAMING_CONTENT_LENGTH && p->content_length == 0)) {
        finish_message(p);
        return true;
    }
    p->state = H1_BODY;
    set_chunk_phase(p, CHUNK_SIZE_LINE);
    return true;
}

/* Parses a complete head of head_len bytes; false after a fatal finding. */
static bool parse_head(http1_parser *p, const char *d, size_t head_len, line_index *ix)
{
    head_scan h = {0};
    size_t lf = next_line_end(d, 0, head_len, ix);
    size_t cend = content_end(d, 0, lf);
    if (!parse_status_line(p, d, cend))
        return false;
    if (cend == lf)
        report_bare_lf(p, p->offset + lf);
    size_t n_fields = 0;
    for (size_t pos = lf + 1;; pos = lf + 1) {
        lf = next_line_end(d, pos, head_len, ix);
        cend = content_end(d, pos, lf);
        if (cend == pos) { /* the blank line */
            if (cend == lf)
                report_bare_lf(p, p->offset + lf);
            break;
        }
        if (is_ows(d[pos])) {
            report_obs_fold(p, p->offset + pos);
        } else {
            if (++n_fields > p->limits.max_headers) {
                report(p, H1F_TOO_MANY_HEADERS, true, p->offset + pos, "too many header fields");
                return false;
            }
            if (!parse_field_line(p, d, pos, cend, &h))
                return false;
        }
        if (cend == lf)
            report_bare_lf(p, p->offset + lf);
    }
    if (p->status < 200) {
        finish_interim_head(p, &h);
        return true;
    }
    return finish_final_head(p, &h);
}

static size_t parse_head_step(http1_parser *p, const char *d, size_t len)
{
    size_t max = p->limits.max_head;
    size_t bad = status_prefix_mismatch(d, min_size(len, max));
    if (bad != NO_MISMATCH) {
        report(p, H1F_BAD_STATUS_LINE, true, p->offset + bad, "not an HTTP/1.x status line");
        return 0;
    }
    line_index ix;
    size_t head_len = find_head_end(p, d, len, &ix);
    if (head_len == 0) {
        if (len >= max)
            report(p, H1F_HEAD_TOO_LARGE, true, p->offset + max, "response head too large");
        return 0;
    }
    if (!parse_head(p, d, head_len, &ix))
        return 0;
    p->offset += head_len;
    p->scan_from = 0;
    return head_len;
}

/* ---- body ------------------------------------------------------------------------------ */

static size_t parse_sized_body(http1_parser *p, const char *d, size_t len)
{
    size_t n = len;
    if (p->framing == H1_FRAMING_CONTENT_LENGTH) {
        uint64_t left = p->content_length - p->body_received;
        if (n > left)
            n = (size_t)left;
    }
    if (n == 0)
        return 0;
    deliver_body(p, d, n);
    if (p->framing == H1_FRAMING_CONTENT_LENGTH && p->body_received == p->content_length)
        finish_message(p);
    return n;
}

static size_t bad_chunk_size(http1_parser *p, size_t at, const char *msg)
{
    report(p, H1F_BAD_CHUNK_SIZE, true, p->offset + at, msg);
    return 0;
}

/* An incomplete chunk-size line waits for more bytes, up to CHUNK_LINE_MAX. */
static size_t chunk_line_incomplete(http1_parser *p, size_t len)
{
    if (len >= CHUNK_LINE_MAX)
        return bad_chunk_size(p, CHUNK_LINE_MAX, "chunk-size line too long");
    return 0;
}

/* chunk-size [OWS] [; extensions] CRLF. Every check looks only at bytes already present,
 * so a bad byte is reported at the same offset however the input was split. */
static size_t parse_chunk_size_line(http1_parser *p, const char *d, size_t len)
{
    size_t scan = min_size(len, CHUNK_LINE_MAX);
    uint64_t size = 0;
    size_t i = 0;
    for (int v; i < scan && (v = hex_value(d[i])) >= 0; i++) {
        if (size > UINT64_MAX >> 4)
            return bad_chunk_size(p, i, "chunk size overflows");
        size = size << 4 | (uint64_t)v;
        if (size > p->limits.max_chunk_size) {
            report(p, H1F_CHUNK_TOO_LARGE, true, p->offset + i, "chunk larger than the limit");
            return 0;
        }
    }
    if (i == 0 && i < scan)
        return bad_chunk_size(p, 0, "chunk size is not hexadecimal");
    while (i < scan && is_ows(d[i]))
        i++;
    if (i == scan)
        return chunk_line_incomplete(p, len);
    size_t lf;
    if (d[i] == ';') { /* extensions: ignored, as Chromium does */
        const char *x = memchr(d + i, '\n', scan - i);
        if (!x)
            return chunk_line_incomplete(p, len);
        lf = (size_t)(x - d);
    } else if (d[i] == '\r') {
        if (i + 1 == scan)
            return chunk_line_incomplete(p, len);
        if (d[i + 1] != '\n')
            return bad_chunk_size(p, i + 1, "CR not followed by LF after chunk size");
        lf = i + 1;
    } else if (d[i] == '\n') {
        lf = i;
    } else {
        return bad_chunk_size(p, i, "chunk size is not hexadecimal");
    }
    if (d[lf - 1] != '\r')
        report_bare_lf(p, p->offset + lf);
    p->offset += lf + 1;
    p->chunk_left = size; /* for the last chunk: the number of trailer fields so far */
    set_chunk_phase(p, size ? CHUNK_DATA : CHUNK_TRAILERS);
    return lf + 1;
}

/* Whatever part of the chunk is present is delivered now: streams must not stall. */
static size_t parse_chunk_data(http1_parser *p, const char *d, size_t len)
{
    size_t n = len;
    if (n > p->chunk_left)
        n = (size_t)p->chunk_left;
    if (n == 0)
        return 0;
    deliver_body(p, d, n);
    p->chunk_left -= n;
    if (p->chunk_left == 0)
        set_chunk_phase(p, CHUNK_DATA_END);
    return n;
}

static size_t parse_chunk_data_end(http1_parser *p, const char *d, size_t len)
{
    size_t n;
    if (len == 0)
        return 0;
    if (d[0] == '\n') {
        report_bare_lf(p, p->offset);
        n = 1;
    } else if (d[0] != '\r') {
        report(p, H1F_BAD_CHUNK_END, true, p->offset, "chunk data not followed by CRLF");
        return 0;
    } else if (len < 2) {
        return 0;
    } else if (d[1] != '\n') {
        report(p, H1F_BAD_CHUNK_END, true, p->offset + 1, "chunk data not followed by CRLF");
        return 0;
    } else {
        n = 2;
    }
    p->offset += n;
    set_chunk_phase(p, CHUNK_SIZE_LINE);
    return n;
}

static bool parse_trailer_field(http1_parser *p, const char *d, size_t cend)
{
    if (++p->chunk_left > p->limits.max_headers) {
        report(p, H1F_TOO_MANY_HEADERS, true, p->offset, "too many trailer fields");
        return false;
    }
    field f;
    size_t bad = split_field(d, 0, cend, &f);
    if (bad != NO_MISMATCH) {
        report(p, H1F_BAD_TRAILER, true, p->offset + bad, "malformed trailer field line");
        return false;
    }
    if (p->cb.on_trailer)
        p->cb.on_trailer(p->ud, d + f.name, f.name_len, d + f.value, f.value_len);
    return true;
}

/* One trailer line per step, each bounded by max_head; the blank line ends the message. */
static size_t parse_trailer_line(http1_parser *p, const char *d, size_t len)
{
    size_t limit = p->limits.max_head;
    const char *x = memchr(d, '\n', min_size(len, limit));
    if (!x) {
        if (len >= limit)
            report(p, H1F_BAD_TRAILER, true, p->offset + limit, "trailer line too long");
        return 0;
    }
    size_t lf = (size_t)(x - d), cend = content_end(d, 0, lf);
    if (cend != 0 && is_ows(d[0]))
        report_obs_fold(p, p->offset);
    else if (cend != 0 && !parse_trailer_field(p, d, cend))
        return 0;
    if (cend == lf)
        report_bare_lf(p, p->offset + lf);
    p->offset += lf + 1;
    if (cend == 0)
        finish_message(p);
    return lf + 1;
}

static size_t parse_body_step(http1_parser *p, const char *d, size_t len)
{
    if (p->framing != H1_FRAMING_CHUNKED)
        return parse_sized_body(p, d, len);
    switch (p->chunk_state & CHUNK_PHASE_MASK) {
    case CHUNK_SIZE_LINE:
        return parse_chunk_size_line(p, d, len);
    case CHUNK_DATA:
        return parse_chunk_data(p, d, len);
    case CHUNK_DATA_END:
        return parse_chunk_data_end(p, d, len);
    default:
        return parse_trailer_line(p, d, len);
    }
}

/* ---- API ------------------------------------------------------------------------------- */

void http1_limits_default(http1_limits *l)
{
    l->max_head = 256 * 1024;
    l->max_headers = 1000;
    l->max_chunk_size = (uint64_t)1 << 62;
}

void http1_parser_init(http1_parser *p, const http1_callbacks *cb, void *ud, bool request_was_head)
{
    memset(p, 0, sizeof *p);
    if (cb)
        p->cb = *cb;
    p->ud = ud;
    http1_limits_default(&p->limits);
    http1_reset(p, request_was_head);
}

void http1_reset(http1_parser *p, bool request_was_head)
{
    p->request_was_head = request_was_head;
    p->state = H1_HEAD;
    p->framing = H1_FRAMING_NONE;
    p->status = 0;
    p->version_minor = 0;
    p->keep_alive = false;
    p->has_content_length = false;
    p->content_length = 0;
    p->body_received = 0;
    p->chunk_state = 0;
    p->chunk_left = 0;
    p->scan_from = 0;
}

/* Bytes offered after a HEAD/204/304 response: Chromium drops them and the connection. */
static void note_stray_bytes(http1_parser *p, size_t len)
{
    if (len == 0 || p->framing != H1_FRAMING_NONE || (p->chunk_state & FLAG_STRAY_REPORTED))
        return;
    p->chunk_state |= FLAG_STRAY_REPORTED;
    p->keep_alive = false;
    report(p, H1F_BODY_ON_NO_BODY_RESPONSE, false, p->offset,
           "bytes after a response that cannot have a body");
}

size_t http1_parse(http1_parser *p, const char *data, size_t len)
{
    if (p->state == H1_DONE)
        note_stray_bytes(p, len);
    size_t pos = 0;
    while (pos < len && (p->state == H1_HEAD || p->state == H1_BODY)) {
        size_t n = p->state == H1_HEAD ? parse_head_step(p, data + pos, len - pos)
                                       : parse_body_step(p, data + pos, len - pos);
        if (n == 0)
            break;
        pos += n;
    }
    /* Remembered for the next call (head scan) and for http1_eof (truncation offset). */
    p->scan_from = p->state == H1_HEAD || p->state == H1_BODY ? len - pos : 0;
    return pos;
}

static const char *truncated_head_message(const http1_parser *p)
{
    if (p->scan_from > 0)
        return "connection closed inside the response head";
    if (p->chunk_state & FLAG_INTERIM_SEEN)
        return "connection closed after an interim (1xx) response";
    return "connection closed before any response byte";
}

bool http1_eof(http1_parser *p)
{
    switch (p->state) {
    case H1_DONE:
    case H1_UPGRADED:
        return true;
    case H1_HEAD:
        report(p, H1F_TRUNCATED_HEAD, true, p->offset + p->scan_from, truncated_head_message(p));
        return false;
    case H1_BODY:
        if (p->framing == H1_FRAMING_CLOSE) {
            finish_message(p);
            return true;
        }
        report(p, H1F_TRUNCATED_BODY, true, p->offset + p->scan_from,
               "connection closed before the end of the body");
        return false;
    default:
        return false;
    }
}
