/* An ordered list of owned (name, value) pairs: request headers being built, response
 * headers as received. */
#ifndef COMET_HEADERS_H
#define COMET_HEADERS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct header_field {
    char *name;
    char *value;
} header_field;

typedef struct header_list {
    header_field *items;
    size_t n;
    size_t cap;
} header_list;

int header_list_add(header_list *l, const char *name, const char *value);
int header_list_add_n(header_list *l, const char *name, size_t nlen, const char *value,
                      size_t vlen);
/* First value whose name matches case-insensitively, or NULL. */
const char *header_list_get(const header_list *l, const char *name);
/* Appends ", value" to an existing field of that name, or adds it. */
int header_list_combine(header_list *l, const char *name, const char *value);
void header_list_free(header_list *l);
/* Whether an HTTP #list value ("a, b,c") holds item (whitespace around items ignored;
 * case-insensitive unless exact). An empty item is never in a list. */
bool http_list_has(const char *list, const char *item, bool exact);

#endif
