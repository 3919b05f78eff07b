#include "util/headers.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int header_list_add_n(header_list *l, const char *name, size_t nlen, const char *value,
                      size_t vlen)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        header_field *p = realloc(l->items, cap * sizeof *p);
        if (!p)
            return -1;
        l->items = p;
        l->cap = cap;
    }
    char *n = strndup(name, nlen), *v = strndup(value, vlen);
    if (!n || !v) {
        free(n);
        free(v);
        return -1;
    }
    l->items[l->n++] = (header_field){n, v};
    return 0;
}

int header_list_add(header_list *l, const char *name, const char *value)
{
    return header_list_add_n(l, name, strlen(name), value, strlen(value));
}

const char *header_list_get(const header_list *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcasecmp(l->items[i].name, name))
            return l->items[i].value;
    return NULL;
}

int header_list_combine(header_list *l, const char *name, const char *value)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcasecmp(l->items[i].name, name))
            continue;
        size_t a = strlen(l->items[i].value), b = strlen(value);
        char *v = realloc(l->items[i].value, a + b + 3);
        if (!v)
            return -1;
        memcpy(v + a, ", ", 2);
        memcpy(v + a + 2, value, b + 1);
        l->items[i].value = v;
        return 0;
    }
    return header_list_add(l, name, value);
}

void header_list_free(header_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].name);
        free(l->items[i].value);
    }
    free(l->items);
    *l = (header_list){0};
}

bool http_list_has(const char *list, const char *item, bool exact)
{
    size_t n = strlen(item);
    if (!list || !n)
        return false;
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        size_t len = strcspn(p, ",");
        size_t trimmed = len;
        while (trimmed && (p[trimmed - 1] == ' ' || p[trimmed - 1] == '\t'))
            trimmed--;
        if (trimmed == n && (exact ? !strncmp(p, item, n) : !strncasecmp(p, item, n)))
            return true;
        p += len;
    }
    return false;
}
