#include "proto/ws_frame.h"

#include "util/buf.h"

#include <string.h>

/* -DWS_NO_SIMD builds the portable validator only (the tests run both) */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(WS_NO_SIMD)
#include <immintrin.h>
#define UTF8_SIMD 1
#define UTF8_BLOCK 32
#endif

/* Masked payloads are unmasked into a stack buffer this big before they are validated and
 * delivered: large enough that a 64 KiB message costs a few callbacks, small enough to stay
 * in L1/L2 while it is validated. */
#define UNMASK_CHUNK 8192

enum { STAGE_START, STAGE_LENGTH, STAGE_MASK, STAGE_PAYLOAD };

static const uint64_t HIGH_BITS = 0x8080808080808080ull;

/* ---- UTF-8 -------------------------------------------------------------------------------- */

/* Lead bytes (0x80 and up): continuation bytes that follow (1-3) | range of the first one
 * << 2; 0 = never valid (continuation bytes, C0/C1 overlong leads, F5-FF). */
static const uint8_t UTF8_LEAD[128] = {
    /* 0x80-0xBF: continuation bytes */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0xC0-0xDF: 2-byte sequences; C0 and C1 could only be overlong */
    0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0xE0-0xEF: E0 needs A0-BF (no overlong), ED needs 80-9F (no surrogates) */
    2 | 1 << 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2 | 2 << 2, 2, 2,
    /* 0xF0-0xFF: F0 needs 90-BF (no overlong), F4 needs 80-8F (<= U+10FFFF), F5+ never */
    3 | 3 << 2, 3, 3, 3, 3 | 4 << 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};
static const uint8_t UTF8_RANGE[5][2] = {
    {0x80, 0xBF}, {0xA0, 0xBF}, {0x80, 0x9F}, {0x90, 0xBF}, {0x80, 0x8F},
};

typedef struct utf8_state {
    uint8_t need;   /* continuation bytes still expected */
    uint8_t lo, hi; /* range of the next one */
} utf8_state;

/* Offset of the first byte with its high bit set in d[0..8), or 8. */
static inline size_t first_high_byte(const uint8_t *d)
{
    uint64_t w;
    memcpy(&w, d, 8);
    uint64_t m = w & HIGH_BITS;
    if (!m)
        return 8;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (size_t)__builtin_ctzll(m) >> 3;
#else
    size_t i = 0;
    while (!(d[i] & 0x80))
        i++;
    return i;
#endif
}

#ifdef UTF8_SIMD
/* Keiser and Lemire, "Validating UTF-8 in less than one instruction per byte" (2021), on
 * 32-byte blocks: three 16-entry table lookups classify every pair of adjacent bytes, and the
 * bytes two and three after 3- and 4-byte leads must be continuations. It only says whether
 * the blocks hold an error; the scalar scan finds where. Chosen at run time: comet is built
 * for baseline x86-64. */
enum {
    TOO_SHORT = 1 << 0,      /* a lead followed by ASCII or a lead: 11______ 0_______ */
    TOO_LONG = 1 << 1,       /* ASCII followed by a continuation: 0_______ 10______ */
    OVERLONG_3 = 1 << 2,     /* 11100000 100_____ */
    TOO_LARGE = 1 << 3,      /* 11110100 1001____ and above */
    SURROGATE = 1 << 4,      /* 11101101 101_____ */
    OVERLONG_2 = 1 << 5,     /* 1100000_ 10______ */
    TOO_LARGE_1000 = 1 << 6, /* 11110101 1000____ and above */
    OVERLONG_4 = 1 << 6,     /* 11110000 1000____ */
    TWO_CONTS = 1 << 7,      /* 10______ 10______ */
    CARRY = TOO_SHORT | TOO_LONG | TWO_CONTS,
};

static const uint8_t BYTE_1_HIGH[16] = {
    TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG,
    TWO_CONTS, TWO_CONTS, TWO_CONTS, TWO_CONTS, TOO_SHORT | OVERLONG_2, TOO_SHORT,
    TOO_SHORT | OVERLONG_3 | SURROGATE, TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4,
};
static const uint8_t BYTE_1_LOW[16] = {
    CARRY | OVERLONG_3 | OVERLONG_2 | OVERLONG_4, CARRY | OVERLONG_2, CARRY, CARRY,
    CARRY | TOO_LARGE, CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE, CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
};
static const uint8_t BYTE_2_HIGH[16] = {
    TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
    TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE_1000 | OVERLONG_4,
    TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE,
    TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
    TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
    TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
};
/* a block's last 3 bytes as leads that need more bytes than the block has left */
static const uint8_t MAX_LAST[32] = {
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0xf0 - 1, 0xe0 - 1, 0xc0 - 1,
};

__attribute__((target("avx2"))) static inline __m256i load32(const uint8_t *p)
{
    return _mm256_loadu_si256((const __m256i *)(const void *)p);
}

__attribute__((target("avx2"))) static inline __m256i table16(const uint8_t *t)
{
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)t));
}

/* The block shifted right by k bytes, the previous block's last bytes shifted in. */
__attribute__((target("avx2"))) static inline __m256i prev_bytes(__m256i in, __m256i prev,
                                                                int k)
{
    __m256i joined = _mm256_permute2x128_si256(prev, in, 0x21);
    switch (k) {
    case 1:
        return _mm256_alignr_epi8(in, joined, 15);
    case 2:
        return _mm256_alignr_epi8(in, joined, 14);
    default:
        return _mm256_alignr_epi8(in, joined, 13);
    }
}

__attribute__((target("avx2"))) static inline __m256i block_errors(__m256i in, __m256i prev)
{
    const __m256i nibble = _mm256_set1_epi8(0x0f);
    __m256i prev1 = prev_bytes(in, prev, 1);
    __m256i b1h = _mm256_shuffle_epi8(table16(BYTE_1_HIGH),
                                      _mm256_and_si256(_mm256_srli_epi16(prev1, 4), nibble));
    __m256i b1l = _mm256_shuffle_epi8(table16(BYTE_1_LOW), _mm256_and_si256(prev1, nibble));
    __m256i b2h = _mm256_shuffle_epi8(table16(BYTE_2_HIGH),
                                      _mm256_and_si256(_mm256_srli_epi16(in, 4), nibble));
    __m256i special = _mm256_and_si256(_mm256_and_si256(b1h, b1l), b2h);
    /* 2 after 111_____ and 3 after 1111____ must be continuations */
    __m256i third = _mm256_subs_epu8(prev_bytes(in, prev, 2), _mm256_set1_epi8(0xe0 - 0x80));
    __m256i fourth = _mm256_subs_epu8(prev_bytes(in, prev, 3), _mm256_set1_epi8(0xf0 - 0x80));
    __m256i must23 = _mm256_and_si256(_mm256_or_si256(third, fourth), _mm256_set1_epi8(-128));
    return _mm256_xor_si256(must23, special);
}

/* Checks whole 32-byte blocks of d, which starts at a character; returns how many bytes
 * were checked (a multiple of 32), or SIZE_MAX when they hold an error. A character cut
 * by the last block's end is not judged. */
__attribute__((target("avx2"))) static size_t utf8_check_blocks(const uint8_t *d, size_t n)
{
    const __m256i max_last = load32(MAX_LAST);
    __m256i prev = _mm256_setzero_si256(), err = prev, incomplete = prev;
    size_t i = 0;
    for (; n - i >= UTF8_BLOCK; i += UTF8_BLOCK) {
        __m256i in = load32(d + i);
        if (!_mm256_movemask_epi8(in)) {
            err = _mm256_or_si256(err, incomplete); /* ASCII after a cut sequence */
        } else {
            err = _mm256_or_si256(err, block_errors(in, prev));
            incomplete = _mm256_subs_epu8(in, max_last);
        }
        prev = in;
        if ((i & 1023) == 1024 - UTF8_BLOCK && !_mm256_testz_si256(err, err))
            return SIZE_MAX;
    }
    return _mm256_testz_si256(err, err) ? i : SIZE_MAX;
}

/* Moves end back to the start of a character the end cuts, if any. */
static size_t uncut(const uint8_t *d, size_t start, size_t end)
{
    size_t k = end;
    while (k > start && end - k < 3 && (d[k - 1] & 0xC0) == 0x80)
        k--;
    if (k == start || d[k - 1] < 0xC0)
        return end;
    size_t len = d[k - 1] >= 0xF0 ? 4 : d[k - 1] >= 0xE0 ? 3 : 2;
    return k - 1 + len > end ? k - 1 : end;
}
#endif

/* Continues validation over d[0..n). Returns n, or the index of the first invalid byte.
 * When d ends inside a sequence that starts in d, *lead is set to its first byte. */
static size_t utf8_scan(utf8_state *s, const uint8_t *d, size_t n, size_t *lead)
{
    size_t i = 0;
    for (; s->need && i < n; i++, s->need--) {
        if (d[i] < s->lo || d[i] > s->hi)
            return i;
        s->lo = 0x80;
        s->hi = 0xBF;
    }
#ifdef UTF8_SIMD
    /* blocks first; on an error the scalar scan below starts over to find the byte */
    if (n - i >= UTF8_BLOCK && __builtin_cpu_supports("avx2")) {
        size_t ok = utf8_check_blocks(d + i, n - i);
        if (ok != SIZE_MAX)
            i = uncut(d, i, i + ok);
    }
#endif
    while (i < n) {
        /* ASCII runs a word at a time: most text is mostly ASCII */
        while (n - i >= 16) {
            uint64_t a, b;
            memcpy(&a, d + i, 8);
            memcpy(&b, d + i + 8, 8);
            if ((a | b) & HIGH_BITS)
                break;
            i += 16;
        }
        if (i == n)
            break;
        if (n - i >= 8) {
            size_t k = first_high_byte(d + i);
            i += k;
            if (k == 8)
                continue;
        }
        uint8_t c = d[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        uint8_t t = UTF8_LEAD[c - 0x80];
        if (!t)
            return i;
        size_t len = t & 3;
        const uint8_t *r = UTF8_RANGE[t >> 2];
        if (i + len < n) {
            if (d[i + 1] < r[0] || d[i + 1] > r[1])
                return i + 1;
            if (len >= 2 && (d[i + 2] & 0xC0) != 0x80)
                return i + 2;
            if (len == 3 && (d[i + 3] & 0xC0) != 0x80)
                return i + 3;
            i += len + 1;
            continue;
        }
        /* the sequence continues in the next piece: check what is here, keep the rest */
        *lead = i;
        s->need = (uint8_t)len;
        s->lo = r[0];
        s->hi = r[1];
        for (i++; i < n; i++, s->need--) {
            if (d[i] < s->lo || d[i] > s->hi)
                return i;
            s->lo = 0x80;
            s->hi = 0xBF;
        }
    }
    return n;
}

bool ws_utf8_valid(const uint8_t *s, size_t n, size_t *bad)
{
    utf8_state st = {0, 0x80, 0xBF};
    size_t lead = 0;
    size_t at = utf8_scan(&st, s, n, &lead);
    if (at == n && !st.need)
        return true;
    if (bad)
        *bad = at < n ? at : lead;
    return false;
}

/* ---- masking ----------------------------------------------------------------------------- */

/* The key as a word whose byte j masks byte j of a run starting at key position pos. */
static inline uint64_t mask_word(const uint8_t key[4], size_t pos)
{
    uint32_t k;
    memcpy(&k, key, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    unsigned r = (unsigned)(pos & 3) * 8;
    if (r)
        k = k >> r | k << (32 - r);
#else
    uint8_t b[4];
    for (size_t j = 0; j < 4; j++)
        b[j] = key[(pos + j) & 3];
    memcpy(&k, b, 4);
#endif
    return (uint64_t)k << 32 | k;
}

void ws_mask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4], size_t pos)
{
    uint64_t k64 = mask_word(key, pos);
    uint8_t k[8];
    memcpy(k, &k64, 8);
    size_t i = 0;
    /* a word at a time; the key repeats every 4 bytes, so every word sees the same k64 */
    for (; n - i >= 32; i += 32) {
        uint64_t w[4];
        memcpy(w, src + i, 32);
        w[0] ^= k64;
        w[1] ^= k64;
        w[2] ^= k64;
        w[3] ^= k64;
        memcpy(dst + i, w, 32);
    }
    for (; n - i >= 8; i += 8) {
        uint64_t w;
        memcpy(&w, src + i, 8);
        w ^= k64;
        memcpy(dst + i, &w, 8);
    }
    for (; i < n; i++)
        dst[i] = src[i] ^ k[i & 7];
}

/* ---- parser ------------------------------------------------------------------------------- */

static bool is_control(unsigned opcode)
{
    return opcode >= 0x8;
}

static bool is_known_control(unsigned opcode)
{
    return opcode == WS_OP_CLOSE || opcode == WS_OP_PING || opcode == WS_OP_PONG;
}

static bool is_reserved_opcode(unsigned opcode)
{
    return (opcode >= 0x3 && opcode <= 0x7) || opcode >= 0xB;
}

static const char *error_message(ws_error_kind kind)
{
    switch (kind) {
    case WS_ERR_LENGTH_NOT_MINIMAL:
        return "payload length not in its minimal form";
    case WS_ERR_LENGTH_MSB:
        return "64-bit payload length with the most significant bit set";
    case WS_ERR_CONTROL_FRAGMENTED:
        return "fragmented control frame (FIN not set)";
    case WS_ERR_CONTROL_TOO_LONG:
        return "control frame payload longer than 125 bytes";
    case WS_ERR_MASKED:
        return "masked frame from the server";
    case WS_ERR_UNMASKED:
        return "unmasked frame from the client";
    case WS_ERR_RSV:
        return "RSV bits set without a negotiated extension";
    case WS_ERR_RESERVED_OPCODE:
        return "reserved opcode";
    case WS_ERR_UNEXPECTED_CONTINUATION:
        return "continuation frame without a message to continue";
    case WS_ERR_UNFINISHED_MESSAGE:
        return "new data frame while a fragmented message is unfinished";
    case WS_ERR_INVALID_UTF8:
        return "text message is not valid UTF-8";
    case WS_ERR_TOO_BIG:
        return "message longer than the size limit";
    case WS_ERR_CLOSE_ONE_BYTE:
        return "close frame with a 1-byte payload";
    case WS_ERR_CLOSE_REASON_UTF8:
        return "close reason is not valid UTF-8";
    }
    return "protocol error";
}

static uint16_t error_code(ws_error_kind kind)
{
    switch (kind) {
    case WS_ERR_INVALID_UTF8:
    case WS_ERR_CLOSE_REASON_UTF8:
        return WS_CLOSE_INVALID_PAYLOAD;
    case WS_ERR_TOO_BIG:
        return WS_CLOSE_TOO_BIG;
    default:
        return WS_CLOSE_PROTOCOL_ERROR;
    }
}

static void fail(ws_parser *p, ws_error_kind kind, uint64_t offset)
{
    ws_error e = {
        .kind = kind, .code = error_code(kind), .offset = offset,
        .message = error_message(kind), .opcode = p->opcode, .rsv = p->rsv, .fin = p->fin,
    };
    p->failed = p->stopped = true;
    if (p->cb.on_error)
        p->cb.on_error(p->ud, &e);
}

void ws_parser_init(ws_parser *p, ws_role role, const ws_parser_callbacks *cb, void *ud)
{
    memset(p, 0, sizeof *p);
    if (cb)
        p->cb = *cb;
    p->ud = ud;
    p->role = role;
    p->max_message = WS_DEFAULT_MAX_MESSAGE;
    p->hdr_need = 2;
    p->u8_lo = 0x80;
    p->u8_hi = 0xBF;
}

void ws_parser_stop(ws_parser *p)
{
    p->stopped = true;
}

static void reset_header(ws_parser *p)
{
    p->stage = STAGE_START;
    p->hdr_len = 0;
    p->hdr_need = 2;
}

static void end_message(ws_parser *p)
{
    if (p->msg_opcode == WS_OP_TEXT && p->u8_need) {
        fail(p, WS_ERR_INVALID_UTF8, p->u8_lead);
        return;
    }
    p->in_message = false;
    if (p->cb.on_message_end)
        p->cb.on_message_end(p->ud);
}

static void end_frame(ws_parser *p)
{
    reset_header(p);
    if (is_control(p->opcode)) {
        if (p->cb.on_control)
            p->cb.on_control(p->ud, p->opcode, p->ctrl, p->ctrl_len);
    } else if (!p->discarding && p->fin) {
        end_message(p);
    }
}

/* Decodes the 7/16/64-bit payload length once its bytes are in; false on an error. */
static bool decode_length(ws_parser *p)
{
    uint64_t len = p->hdr[1] & 0x7f;
    if (len == 126) {
        len = (uint64_t)p->hdr[2] << 8 | p->hdr[3];
        if (len < 126) {
            fail(p, WS_ERR_LENGTH_NOT_MINIMAL, p->frame_start + 2);
            return false;
        }
    } else if (len == 127) {
        len = 0;
        for (int i = 2; i < 10; i++)
            len = len << 8 | p->hdr[i];
        if (len >> 63) {
            fail(p, WS_ERR_LENGTH_MSB, p->frame_start + 2);
            return false;
        }
        if (len <= 0xffff) {
            fail(p, WS_ERR_LENGTH_NOT_MINIMAL, p->frame_start + 2);
            return false;
        }
    }
    p->left = len;
    return true;
}

/* Checks that need the whole frame header, in Chromium's order. */
static bool check_header(ws_parser *p)
{
    /* fields from the header bytes, not from the byte-sized members just stored: reading
     * those back as one word stalls store forwarding on every frame */
    uint8_t b0 = p->hdr[0], b1 = p->hdr[1];
    unsigned opcode = b0 & 0x0f, rsv = (b0 >> 4) & 7;
    bool fin = b0 & 0x80, masked = b1 & 0x80;
    uint64_t at = p->frame_start;
    if (is_known_control(opcode)) {
        if (!fin) {
            fail(p, WS_ERR_CONTROL_FRAGMENTED, at);
            return false;
        }
        if (p->left > WS_MAX_CONTROL_PAYLOAD) {
            fail(p, WS_ERR_CONTROL_TOO_LONG, at + 1);
            return false;
        }
    }
    if (masked != (p->role == WS_ROLE_SERVER)) {
        fail(p, masked ? WS_ERR_MASKED : WS_ERR_UNMASKED, at + 1);
        return false;
    }
    if (rsv & ~(unsigned)p->rsv_allowed) {
        fail(p, WS_ERR_RSV, at);
        return false;
    }
    if (p->cb.on_frame_header) {
        ws_frame_info f = {fin, (uint8_t)rsv, (uint8_t)opcode, masked, p->left, at};
        p->cb.on_frame_header(p->ud, &f);
        if (p->stopped)
            return false;
    }
    if (is_reserved_opcode(opcode)) {
        fail(p, WS_ERR_RESERVED_OPCODE, at);
        return false;
    }
    return true;
}

/* A data frame's header: message sequence, size limit, message start. */
static bool start_data_frame(ws_parser *p)
{
    uint64_t at = p->frame_start;
    p->discarding = p->discard_data;
    if (p->discarding)
        return true;
    bool continuation = p->opcode == WS_OP_CONTINUATION;
    if (continuation && !p->in_message) {
        fail(p, WS_ERR_UNEXPECTED_CONTINUATION, at);
        return false;
    }
    if (!continuation && p->in_message) {
        fail(p, WS_ERR_UNFINISHED_MESSAGE, at);
        return false;
    }
    uint64_t so_far = continuation ? p->msg_len : 0;
    if (p->left > p->max_message || so_far > p->max_message - p->left) {
        fail(p, WS_ERR_TOO_BIG, at + 1);
        return false;
    }
    if (!continuation) {
        p->in_message = true;
        p->msg_opcode = p->opcode;
        p->msg_len = 0;
        p->u8_need = 0;
        p->u8_lo = 0x80;
        p->u8_hi = 0xBF;
        if (p->cb.on_message_start)
            p->cb.on_message_start(p->ud, p->opcode);
        if (p->stopped)
            return false;
    }
    p->msg_len += p->left;
    return true;
}

/* The header is complete: check it and get ready for the payload. */
static void header_done(ws_parser *p)
{
    if (p->masked)
        memcpy(p->mask, p->hdr + p->hdr_need - 4, 4);
    p->mask_pos = 0;
    p->ctrl_len = 0;
    if (!check_header(p))
        return;
    if (!is_control(p->opcode) && !start_data_frame(p))
        return;
    p->stage = STAGE_PAYLOAD;
    if (p->left == 0)
        end_frame(p);
}

/* Called whenever hdr_len reaches hdr_need; returns true when more header bytes are due. */
static bool header_step(ws_parser *p)
{
    switch (p->stage) {
    case STAGE_START: {
        uint8_t b0 = p->hdr[0], len7 = p->hdr[1] & 0x7f;
        p->fin = b0 & 0x80;
        p->rsv = (b0 >> 4) & 7;
        p->opcode = b0 & 0x0f;
        p->masked = p->hdr[1] & 0x80;
        p->stage = STAGE_LENGTH;
        p->hdr_need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
        if (p->hdr_need > 2)
            return true;
    }
        /* fall through */
    case STAGE_LENGTH:
        if (!decode_length(p))
            return false;
        p->stage = STAGE_MASK;
        if (p->masked) {
            p->hdr_need += 4;
            return true;
        }
        /* fall through */
    default:
        header_done(p);
        return false;
    }
}

/* Header length from its first two bytes. */
static size_t header_length(const uint8_t *h)
{
    uint8_t len7 = h[1] & 0x7f;
    return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (h[1] & 0x80 ? 4 : 0);
}

static size_t read_header(ws_parser *p, const uint8_t *d, size_t n)
{
    size_t used = 0;
    if (p->hdr_len == 0) {
        p->frame_start = p->offset;
        if (n >= WS_MAX_HEADER) {
            /* the common case, the whole header at hand: one fixed-size copy, every stage */
            memcpy(p->hdr, d, WS_MAX_HEADER);
            used = header_length(d);
            p->hdr_len = (uint8_t)used;
            p->offset += used;
            while (header_step(p) && p->hdr_len >= p->hdr_need)
                ;
            return used;
        }
    }
    for (;;) {
        size_t want = (size_t)(p->hdr_need - p->hdr_len);
        size_t take = want < n - used ? want : n - used;
        memcpy(p->hdr + p->hdr_len, d + used, take);
        p->hdr_len = (uint8_t)(p->hdr_len + take);
        used += take;
        p->offset += take;
        if (p->hdr_len < p->hdr_need || !header_step(p))
            return used;
    }
}

static void read_control(ws_parser *p, const uint8_t *d, size_t n)
{
    if (p->masked)
        ws_mask(p->ctrl + p->ctrl_len, d, n, p->mask, p->mask_pos);
    else
        memcpy(p->ctrl + p->ctrl_len, d, n);
    p->ctrl_len = (uint8_t)(p->ctrl_len + n);
    p->mask_pos = (uint8_t)((p->mask_pos + n) & 3);
}

/* Validates (text) and delivers message data; false when the parser stopped. */
static bool deliver(ws_parser *p, const uint8_t *d, size_t n, uint64_t at)
{
    if (p->msg_opcode == WS_OP_TEXT) {
        utf8_state s = {p->u8_need, p->u8_lo, p->u8_hi};
        size_t lead = SIZE_MAX;
        size_t bad = utf8_scan(&s, d, n, &lead);
        if (bad < n) {
            /* what came before the invalid byte is delivered, so the callbacks do not depend
             * on where the input was split */
            if (bad && p->cb.on_message_data)
                p->cb.on_message_data(p->ud, d, bad);
            if (!p->stopped)
                fail(p, WS_ERR_INVALID_UTF8, at + bad);
            return false;
        }
        p->u8_need = s.need;
        p->u8_lo = s.lo;
        p->u8_hi = s.hi;
        if (lead != SIZE_MAX)
            p->u8_lead = at + lead;
    }
    if (p->cb.on_message_data)
        p->cb.on_message_data(p->ud, d, n);
    return !p->stopped;
}

static void read_data(ws_parser *p, const uint8_t *d, size_t n)
{
    uint64_t at = p->offset;
    if (!p->masked) {
        deliver(p, d, n, at);
        return;
    }
    uint8_t chunk[UNMASK_CHUNK];
    for (size_t done = 0; done < n;) {
        size_t k = n - done < sizeof chunk ? n - done : sizeof chunk;
        ws_mask(chunk, d + done, k, p->mask, p->mask_pos);
        p->mask_pos = (uint8_t)((p->mask_pos + k) & 3);
        if (!deliver(p, chunk, k, at + done))
            return;
        done += k;
    }
}

static size_t read_payload(ws_parser *p, const uint8_t *d, size_t n)
{
    size_t take = p->left < n ? (size_t)p->left : n;
    if (is_control(p->opcode)) {
        if (!p->masked && p->ctrl_len == 0 && take == p->left) {
            /* the whole payload is here: deliver it in place */
            p->offset += take;
            p->left = 0;
            reset_header(p);
            if (p->cb.on_control)
                p->cb.on_control(p->ud, p->opcode, d, take);
            return take;
        }
        read_control(p, d, take);
    } else if (!p->discarding) {
        read_data(p, d, take);
    }
    p->offset += take;
    p->left -= take;
    if (p->left == 0 && !p->stopped)
        end_frame(p);
    return take;
}

size_t ws_parse(ws_parser *p, const uint8_t *data, size_t len)
{
    size_t i = 0;
    while (i < len && !p->stopped) {
        if (p->stage == STAGE_PAYLOAD)
            i += read_payload(p, data + i, len - i);
        else
            i += read_header(p, data + i, len - i);
    }
    return i;
}

/* ---- close frames ----------------------------------------------------------------------- */

int ws_parse_close(const uint8_t *payload, size_t len, ws_close_info *out, ws_error *err)
{
    memset(out, 0, sizeof *out);
    if (len == 0)
        return 0;
    ws_error e = {.opcode = WS_OP_CLOSE, .fin = true};
    if (len == 1) {
        e.kind = WS_ERR_CLOSE_ONE_BYTE;
        e.offset = 0;
    } else {
        out->has_code = true;
        out->code = (uint16_t)(payload[0] << 8 | payload[1]);
        out->reason = payload + 2;
        out->reason_len = len - 2;
        size_t bad;
        if (ws_utf8_valid(out->reason, out->reason_len, &bad))
            return 0;
        e.kind = WS_ERR_CLOSE_REASON_UTF8;
        e.offset = 2 + bad;
    }
    e.code = error_code(e.kind);
    e.message = error_message(e.kind);
    if (err)
        *err = e;
    return -1;
}

bool ws_close_code_valid(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

int ws_close_payload(uint8_t out[WS_MAX_CONTROL_PAYLOAD], int code, const void *reason,
                     size_t reason_len)
{
    if (code < 0)
        return 0;
    if (reason_len > WS_MAX_CONTROL_PAYLOAD - 2)
        return -1;
    out[0] = (uint8_t)((unsigned)code >> 8);
    out[1] = (uint8_t)code;
    if (reason_len)
        memcpy(out + 2, reason, reason_len);
    return (int)(2 + reason_len);
}

/* ---- writer ------------------------------------------------------------------------------- */

int ws_write_frame_spec(buf *out, const ws_frame_spec *f)
{
    uint64_t len = f->declare_length ? f->declared_length : f->len;
    int form = f->length_form;
    if (form == WS_LEN_MINIMAL)
        form = len < 126 ? WS_LEN_7 : len <= 0xffff ? WS_LEN_16 : WS_LEN_64;
    uint8_t h[WS_MAX_HEADER];
    size_t hn;
    h[0] = (uint8_t)((f->fin ? 0x80 : 0) | (f->rsv & 7) << 4 | (f->opcode & 0x0f));
    if (form == WS_LEN_7) {
        if (len > 125)
            return -1;
        h[1] = (uint8_t)len;
        hn = 2;
    } else if (form == WS_LEN_16) {
        if (len > 0xffff)
            return -1;
        h[1] = 126;
        h[2] = (uint8_t)(len >> 8);
        h[3] = (uint8_t)len;
        hn = 4;
    } else if (form == WS_LEN_64) {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (uint8_t)(len >> (56 - 8 * i));
        hn = 10;
    } else {
        return -1;
    }
    if (f->mask) {
        h[1] |= 0x80;
        memcpy(h + hn, f->key, 4);
        hn += 4;
    }
    size_t start = out->len;
    if (buf_append(out, h, hn) < 0)
        return -1;
    if (buf_append(out, f->payload, f->len) < 0) {
        out->len = start; /* no half frame */
        out->data[start] = '\0';
        return -1;
    }
    if (f->mask)
        ws_mask((uint8_t *)out->data + start + hn, (uint8_t *)out->data + start + hn, f->len,
                f->key, 0);
    return 0;
}

int ws_write_frame(buf *out, bool fin, unsigned rsv, unsigned opcode, bool mask,
                   const uint8_t key[4], const void *payload, size_t len)
{
    ws_frame_spec f = {.fin = fin, .rsv = (uint8_t)(rsv & 7), .opcode = (uint8_t)(opcode & 0x0f),
                       .mask = mask, .payload = payload, .len = len};
    if (mask) {
        if (!key)
            return -1;
        memcpy(f.key, key, 4);
    }
    return ws_write_frame_spec(out, &f);
}

int ws_write_client_frame(buf *out, ws_random_fn rng, void *rng_ud, bool fin, unsigned opcode,
                          const void *payload, size_t len)
{
    uint8_t key[4];
    if (!rng || rng(rng_ud, key, sizeof key) < 0)
        return -1;
    return ws_write_frame(out, fin, 0, opcode, true, key, payload, len);
}

const char *ws_opcode_name(unsigned opcode)
{
    static const char *const names[16] = {
        "continuation", "text", "binary", "opcode-3", "opcode-4", "opcode-5",
        "opcode-6", "opcode-7", "close", "ping", "pong", "opcode-11",
        "opcode-12", "opcode-13", "opcode-14", "opcode-15",
    };
    return names[opcode & 0x0f];
}
