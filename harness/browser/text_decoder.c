#include "browser/text_decoder.h"

#include <strings.h>

/* windows-1252 bytes 0x80..0x9F; the rest of the range maps to the same code point. */
static const uint16_t cp1252_high[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

text_encoding text_encoding_from_label(const char *label)
{
    static const char *const latin1_labels[] = {
        "windows-1252", "iso-8859-1", "latin1", "l1", "us-ascii", "ascii", "cp1252",
        "iso8859-1", "iso_8859-1", "x-cp1252", "cp819", "ibm819", "iso-ir-100", "csisolatin1",
    };
    if (!label)
        return ENC_UTF8;
    for (size_t i = 0; i < sizeof latin1_labels / sizeof latin1_labels[0]; i++)
        if (!strcasecmp(label, latin1_labels[i]))
            return ENC_WINDOWS_1252;
    return ENC_UTF8;
}

void text_decoder_init(text_decoder *d, text_encoding enc, bool hold_for_bom)
{
    *d = (text_decoder){.enc = enc, .hold_for_bom = hold_for_bom, .lower = 0x80, .upper = 0xBF};
}

static int emit(text_decoder *d, uint32_t cp, buf *out)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    d->utf16_len += cp >= 0x10000 ? 2 : 1;
    return buf_append(out, u, n);
}

static void utf8_reset(text_decoder *d)
{
    d->cp = 0;
    d->needed = d->seen = 0;
    d->lower = 0x80;
    d->upper = 0xBF;
}

/* One byte through the WHATWG UTF-8 decoder. Returns 1 when the byte must be processed
 * again (it ended an invalid sequence without belonging to it). */
static int utf8_byte(text_decoder *d, unsigned char b, buf *out, int *rc)
{
    if (d->needed == 0) {
        if (b < 0x80) {
            *rc |= emit(d, b, out);
        } else if (b >= 0xC2 && b <= 0xDF) {
            d->needed = 1;
            d->cp = b & 0x1F;
        } else if (b >= 0xE0 && b <= 0xEF) {
            if (b == 0xE0)
                d->lower = 0xA0;
            if (b == 0xED)
                d->upper = 0x9F;
            d->needed = 2;
            d->cp = b & 0xF;
        } else if (b >= 0xF0 && b <= 0xF4) {
            if (b == 0xF0)
                d->lower = 0x90;
            if (b == 0xF4)
                d->upper = 0x8F;
            d->needed = 3;
            d->cp = b & 0x7;
        } else {
            *rc |= emit(d, 0xFFFD, out);
        }
        return 0;
    }
    if (b < d->lower || b > d->upper) {
        utf8_reset(d);
        *rc |= emit(d, 0xFFFD, out);
        return 1;
    }
    d->lower = 0x80;
    d->upper = 0xBF;
    d->cp = (d->cp << 6) | (b & 0x3F);
    if (++d->seen == d->needed) {
        uint32_t cp = d->cp;
        utf8_reset(d);
        *rc |= emit(d, cp, out);
    }
    return 0;
}

static int decode_bytes(text_decoder *d, const unsigned char *p, size_t len, buf *out)
{
    int rc = 0;
    if (d->enc == ENC_WINDOWS_1252) {
        for (size_t i = 0; i < len; i++) {
            uint32_t cp = p[i] >= 0x80 && p[i] < 0xA0 ? cp1252_high[p[i] - 0x80] : p[i];
            rc |= emit(d, cp, out);
        }
        return rc;
    }
    for (size_t i = 0; i < len; i++) {
        /* Fast path for ASCII runs between sequences. */
        if (d->needed == 0 && p[i] < 0x80) {
            size_t j = i;
            while (j < len && p[j] < 0x80)
                j++;
            rc |= buf_append(out, p + i, j - i);
            d->utf16_len += j - i;
            i = j - 1;
            continue;
        }
        if (utf8_byte(d, p[i], out, &rc))
            i--;
    }
    return rc;
}

/* A UTF-8 BOM is dropped; UTF-16 BOMs are treated as UTF-8 bytes (not supported). */
static size_t bom_length(const unsigned char *p, size_t n)
{
    return n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF ? 3 : 0;
}

int text_decoder_feed(text_decoder *d, const char *data, size_t len, buf *out)
{
    const unsigned char *p = (const unsigned char *)data;
    if (!d->bom_checked) {
        while (d->n_pending < 3 && len) {
            d->pending[d->n_pending++] = *p++;
            len--;
        }
        if (d->n_pending < 3 && d->hold_for_bom)
            return 0;
        d->bom_checked = true;
        size_t skip = d->n_pending == 3 ? bom_length(d->pending, 3) : 0;
        int n = d->n_pending;
        d->n_pending = 0;
        if (decode_bytes(d, d->pending + skip, (size_t)n - skip, out) < 0)
            return -1;
    }
    return decode_bytes(d, p, len, out);
}

int text_decoder_finish(text_decoder *d, buf *out)
{
    int rc = 0;
    if (!d->bom_checked) {
        d->bom_checked = true;
        int n = d->n_pending;
        d->n_pending = 0;
        rc |= decode_bytes(d, d->pending, (size_t)n, out);
    }
    if (d->needed) {
        utf8_reset(d);
        rc |= emit(d, 0xFFFD, out);
    }
    return rc;
}

uint64_t utf8_utf16_length(const char *s, size_t len)
{
    uint64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c & 0xC0) != 0x80)
            n += c >= 0xF0 ? 2 : 1;
    }
    return n;
}

size_t utf8_prefix_for_units(const char *s, size_t len, uint64_t units)
{
    uint64_t n = 0;
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        size_t w = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        uint64_t u = c >= 0xF0 ? 2 : 1;
        if (n + u > units || i + w > len)
            break;
        n += u;
        i += w;
    }
    return i;
}
