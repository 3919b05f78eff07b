#include "proto/ws_close_registry.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_FILE_BYTES (1u << 20)
#define MAX_CODE 65535u
#define ENTRY_KEYS "code, range, name, valid_on_wire, strictness, role, note"

typedef struct reader {
    const char *file;
    yaml_document_t *doc;
    char *err;
    size_t errlen;
} reader;

static int fail_at(reader *rd, const yaml_node_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_at(reader *rd, const yaml_node_t *at, const char *fmt, ...)
{
    int n = snprintf(rd->err, rd->errlen, "%s:%d:%d: ", rd->file,
                     at ? (int)at->start_mark.line + 1 : 1,
                     at ? (int)at->start_mark.column + 1 : 1);
    if (n < 0 || (size_t)n >= rd->errlen)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rd->err + n, rd->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *scalar(const yaml_node_t *node)
{
    return node && node->type == YAML_SCALAR_NODE ? (const char *)node->data.scalar.value : NULL;
}

static yaml_node_t *node_at(reader *rd, int index)
{
    return yaml_document_get_node(rd->doc, index);
}

static int read_code(reader *rd, const yaml_node_t *node, unsigned *out)
{
    const char *s = scalar(node);
    if (!s || !*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 5 ||
        strtoul(s, NULL, 10) > MAX_CODE)
        return fail_at(rd, node, "a close code is an integer from 0 to 65535");
    *out = (unsigned)strtoul(s, NULL, 10);
    return 0;
}

static int read_range(reader *rd, const yaml_node_t *node, ws_close_entry *e)
{
    if (node->type != YAML_SEQUENCE_NODE ||
        node->data.sequence.items.top - node->data.sequence.items.start != 2)
        return fail_at(rd, node, "range is a list of two codes: [first, last]");
    yaml_node_item_t *items = node->data.sequence.items.start;
    if (read_code(rd, node_at(rd, items[0]), &e->first) ||
        read_code(rd, node_at(rd, items[1]), &e->last))
        return -1;
    if (e->first > e->last)
        return fail_at(rd, node, "range [%u, %u] ends before it starts", e->first, e->last);
    return 0;
}

static int read_string(reader *rd, const yaml_node_t *node, char **out)
{
    const char *s = scalar(node);
    if (!s || !*s)
        return fail_at(rd, node, "expected a non-empty string");
    *out = strdup(s);
    return *out ? 0 : fail_at(rd, node, "out of memory");
}

static int read_bool(reader *rd, const yaml_node_t *node, bool *out)
{
    const char *s = scalar(node);
    if (s && !strcmp(s, "true"))
        *out = true;
    else if (s && !strcmp(s, "false"))
        *out = false;
    else
        return fail_at(rd, node, "expected true or false");
    return 0;
}

static int read_choice(reader *rd, const yaml_node_t *node, const char *const *choices,
                       size_t n, const char *list, int *out)
{
    const char *s = scalar(node);
    for (size_t i = 0; s && i < n; i++)
        if (!strcmp(s, choices[i])) {
            *out = (int)i;
            return 0;
        }
    return fail_at(rd, node, "expected one of: %s", list);
}

enum { SEEN_CODE = 1, SEEN_RANGE = 2, SEEN_NAME = 4, SEEN_VALID = 8, SEEN_STRICT = 16,
       SEEN_ROLE = 32, SEEN_NOTE = 64 };

static int read_field(reader *rd, const yaml_node_t *value, ws_close_entry *e, unsigned *seen,
                      unsigned bit)
{
    static const char *const strictness[] = {"must", "should", "info"};
    static const char *const roles[] = {"any", "client-only", "server-only"};
    int choice = 0, rc;
    *seen |= bit;
    switch (bit) {
    case SEEN_CODE:
        rc = read_code(rd, value, &e->first);
        e->last = e->first;
        return rc;
    case SEEN_RANGE:
        return read_range(rd, value, e);
    case SEEN_NAME:
        return read_string(rd, value, &e->name);
    case SEEN_NOTE:
        return read_string(rd, value, &e->note);
    case SEEN_VALID:
        return read_bool(rd, value, &e->valid_on_wire);
    case SEEN_STRICT:
        rc = read_choice(rd, value, strictness, 3, "must, should, info", &choice);
        e->strictness = (ws_strictness)choice;
        return rc;
    default:
        rc = read_choice(rd, value, roles, 3, "any, client-only, server-only", &choice);
        e->role = (ws_sender)choice;
        return rc;
    }
}

static unsigned key_bit(const char *key)
{
    static const char *const keys[] = {"code", "range", "name", "valid_on_wire", "strictness",
                                       "role", "note"};
    for (unsigned i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (key && !strcmp(key, keys[i]))
            return 1u << i;
    return 0;
}

static int read_entry(reader *rd, const yaml_node_t *node, ws_close_entry *e)
{
    e->line = (int)node->start_mark.line + 1;
    e->column = (int)node->start_mark.column + 1;
    if (node->type != YAML_MAPPING_NODE)
        return fail_at(rd, node, "an entry is a mapping with keys: " ENTRY_KEYS);
    unsigned seen = 0;
    for (yaml_node_pair_t *kv = node->data.mapping.pairs.start;
         kv < node->data.mapping.pairs.top; kv++) {
        const yaml_node_t *k = node_at(rd, kv->key);
        const char *key = scalar(k);
        unsigned bit = key_bit(key);
        if (!bit)
            return fail_at(rd, k, "unknown key '%s' (allowed: " ENTRY_KEYS ")", key ? key : "?");
        if (seen & bit)
            return fail_at(rd, k, "key '%s' appears twice", key);
        if (read_field(rd, node_at(rd, kv->value), e, &seen, bit))
            return -1;
    }
    if (!(seen & (SEEN_CODE | SEEN_RANGE)) || (seen & SEEN_CODE && seen & SEEN_RANGE))
        return fail_at(rd, node, "an entry has either code or range");
    static const struct { unsigned bit; const char *name; } required[] = {
        {SEEN_NAME, "name"}, {SEEN_VALID, "valid_on_wire"}, {SEEN_STRICT, "strictness"},
        {SEEN_ROLE, "role"},
    };
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!(seen & required[i].bit))
            return fail_at(rd, node, "missing key '%s'", required[i].name);
    return 0;
}

static int compare_entries(const void *a, const void *b)
{
    const ws_close_entry *x = a, *y = b;
    return (x->first > y->first) - (x->first < y->first);
}

static void describe(char *out, size_t len, unsigned first, unsigned last)
{
    if (first == last)
        snprintf(out, len, "code %u", first);
    else
        snprintf(out, len, "codes %u-%u", first, last);
}

/* Sorted entries must cover 0-65535 with neither gap nor overlap. */
static int check_coverage(reader *rd, ws_close_registry *r, const yaml_node_t *list)
{
    qsort(r->entries, r->n, sizeof *r->entries, compare_entries);
    unsigned next = 0;
    char what[48];
    for (size_t i = 0; i < r->n; i++) {
        const ws_close_entry *e = &r->entries[i];
        if (e->first > next) {
            describe(what, sizeof what, next, e->first - 1);
            return fail_at(rd, list, "%s are not covered by any entry", what);
        }
        if (e->first < next) {
            unsigned last = e->last < next - 1 ? e->last : next - 1;
            describe(what, sizeof what, e->first, last);
            snprintf(rd->err, rd->errlen, "%s:%d:%d: %s %s already covered by the entry at line %d",
                     rd->file, e->line, e->column, what, e->first == last ? "is" : "are",
                     r->entries[i - 1].line);
            return -1;
        }
        next = e->last + 1;
    }
    if (next <= MAX_CODE) {
        describe(what, sizeof what, next, MAX_CODE);
        return fail_at(rd, list, "%s are not covered by any entry", what);
    }
    return 0;
}

static int read_document(reader *rd, ws_close_registry *r)
{
    yaml_node_t *root = yaml_document_get_root_node(rd->doc);
    if (!root)
        return fail_at(rd, NULL, "empty file: expected a mapping with 'codes'");
    if (root->type != YAML_MAPPING_NODE)
        return fail_at(rd, root, "expected a mapping with 'codes'");
    yaml_node_t *list = NULL;
    for (yaml_node_pair_t *kv = root->data.mapping.pairs.start;
         kv < root->data.mapping.pairs.top; kv++) {
        yaml_node_t *k = node_at(rd, kv->key);
        const char *key = scalar(k);
        if (!key || strcmp(key, "codes"))
            return fail_at(rd, k, "unknown key '%s' (allowed: codes)", key ? key : "?");
        if (list)
            return fail_at(rd, k, "key 'codes' appears twice");
        list = node_at(rd, kv->value);
    }
    if (!list || list->type != YAML_SEQUENCE_NODE)
        return fail_at(rd, list ? list : root, "'codes' is a list of entries");
    size_t n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
    r->entries = calloc(n ? n : 1, sizeof *r->entries);
    if (!r->entries)
        return fail_at(rd, list, "out of memory");
    for (size_t i = 0; i < n; i++) {
        r->n = i + 1;
        if (read_entry(rd, node_at(rd, list->data.sequence.items.start[i]), &r->entries[i]))
            return -1;
    }
    return check_coverage(rd, r, list);
}

int ws_close_registry_parse(ws_close_registry *r, const char *file, const char *yaml, size_t len,
                            char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    reader rd = {file, NULL, err, errlen};
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return fail_at(&rd, NULL, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    int rc;
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "%s:%d:%d: YAML syntax error: %s", file,
                 (int)parser.problem_mark.line + 1, (int)parser.problem_mark.column + 1,
                 parser.problem ? parser.problem : "unknown problem");
        rc = -1;
    } else {
        rd.doc = &doc;
        rc = read_document(&rd, r);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    if (rc)
        ws_close_registry_free(r);
    return rc;
}

int ws_close_registry_load(ws_close_registry *r, const char *path, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s:1:1: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char *text = malloc(MAX_FILE_BYTES + 1);
    size_t n = text ? fread(text, 1, MAX_FILE_BYTES + 1, f) : 0;
    bool too_big = n > MAX_FILE_BYTES, bad = !text || ferror(f);
    fclose(f);
    int rc;
    if (bad || too_big) {
        snprintf(err, errlen, "%s:1:1: %s", path,
                 bad ? "cannot read the file" : "larger than 1 MiB");
        rc = -1;
    } else {
        rc = ws_close_registry_parse(r, path, text, n, err, errlen);
    }
    free(text);
    return rc;
}

void ws_close_registry_free(ws_close_registry *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->entries[i].name);
        free(r->entries[i].note);
    }
    free(r->entries);
    r->entries = NULL;
    r->n = 0;
}

const ws_close_entry *ws_close_lookup(const ws_close_registry *r, unsigned code)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const ws_close_entry *e = &r->entries[mid];
        if (code < e->first)
            hi = mid;
        else if (code > e->last)
            lo = mid + 1;
        else
            return e;
    }
    return NULL;
}

ws_close_grade ws_close_grade_code(const ws_close_registry *r, unsigned code, bool from_server,
                                   const ws_close_entry **entry)
{
    const ws_close_entry *e = ws_close_lookup(r, code);
    if (entry)
        *entry = e;
    if (!e)
        return WS_GRADE_FAIL;
    bool role_ok = e->role == WS_SENDER_ANY ||
                   (e->role == WS_SENDER_SERVER_ONLY) == from_server;
    if (e->valid_on_wire && role_ok)
        return WS_GRADE_PASS;
    switch (e->strictness) {
    case WS_STRICT_SHOULD:
        return WS_GRADE_NON_STRICT;
    case WS_STRICT_INFO:
        return WS_GRADE_INFORMATIONAL;
    default:
        return WS_GRADE_FAIL;
    }
}

const char *ws_close_grade_name(ws_close_grade g)
{
    static const char *const names[] = {"pass", "fail", "non-strict", "informational"};
    return (unsigned)g < 4 ? names[g] : "fail";
}
