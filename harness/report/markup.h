/* Escaping for XML and HTML output. */
#ifndef COMET_MARKUP_H
#define COMET_MARKUP_H

#include <stdio.h>

/* Writes s escaped for XML/HTML text (attr 0) or a double-quoted attribute value (attr 1).
 * Characters XML cannot carry and invalid UTF-8 bytes are written as the text "\xNN" /
 * "\uXXXX", so the output is always valid UTF-8 and well-formed. */
void markup_put(FILE *f, const char *s, int attr);

#endif
