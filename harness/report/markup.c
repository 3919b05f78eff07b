/* Escaping for XML and HTML output (JUnit, the HTML report): server bytes never become
 * markup. */
#include "report/markup.h"

#include "report/utf8.h"

#include <stdint.h>
#include <string.h>

/* XML 1.0 Char production: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-].
 * DEL and the C1 controls are legal but "discouraged" (XML 1.0 section 2.2): escaped too. */
static int xml_char_ok(uint32_t cp)
{
    if (cp < 0x20)
        return cp == 0x9 || cp == 0xa || cp == 0xd;
    if (cp >= 0x7f && cp <= 0x9f)
        return 0;
    return cp != 0xfffe && cp != 0xffff; /* surrogates never decode */
}

/* The entity or character reference that stands for cp, or NULL to write it as is. In
 * attributes \t and \n are references too: a parser would normalise them to spaces. */
static const char *xml_reference(uint32_t cp, int attr)
{
    switch (cp) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;"; /* also defuses "]]>" */
    case '"':
        return "&quot;";
    case '\'':
        return "&apos;";
    case '\r':
        return "&#13;"; /* parsers turn a raw \r into \n */
    case '\t':
        return attr ? "&#9;" : NULL;
    case '\n':
        return attr ? "&#10;" : NULL;
    }
    return NULL;
}

/* Writes s escaped for XML text or attribute values. Characters XML cannot carry (control
 * characters, U+FFFE/U+FFFF) and invalid UTF-8 bytes are written as the text "\xNN" / "\uXXXX",
 * so the file is always valid UTF-8 and well-formed. */
void markup_put(FILE *f, const char *s, int attr)
{
    if (!s)
        return;
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i = 0;
    while (i < n) {
        uint32_t cp;
        size_t bad;
        size_t k = utf8_decode(p + i, n - i, &cp, &bad);
        if (!k) {
            for (size_t j = 0; j < bad; j++)
                fprintf(f, "\\x%02x", p[i + j]);
            i += bad;
            continue;
        }
        i += k;
        if (!xml_char_ok(cp)) {
            fprintf(f, cp < 0x80 ? "\\x%02x" : "\\u%04x", (unsigned)cp);
            continue;
        }
        const char *ref = xml_reference(cp, attr);
        if (ref)
            fputs(ref, f);
        else
            fwrite(p + i - k, 1, k, f);
    }
}

