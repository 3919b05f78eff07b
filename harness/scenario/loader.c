/* Loads YAML scenario files into the scenario model (scenario.h).
 *
 * Two passes. libyaml's event parser feeds a small tree of nodes (ynode): ${VAR}
 * substitution, anchors/aliases and the size and nesting limits are applied there, so the
 * second pass, a walk of the schema that fills the suite, only sees sane input. Every
 * error names file:line:column of the offending node; the first error wins. */
#include "scenario/loader.h"
#include "scenario/loader_internal.h"
#include "scenario/loader_stream.h"

#include "browser/request_headers.h"
#include "scenario/cors_policy.h"
#include "util/buf.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

/* ---- errors ------------------------------------------------------------------------- */

int fail_at(loader *L, int line, int col, const char *fmt, ...)
{
    if (L->failed)
        return -1; /* the first error is the one to show */
    L->failed = true;
    char *m = L->err->message;
    size_t cap = sizeof L->err->message;
    int n = snprintf(m, cap, "%s:%d:%d: ", L->file, line, col);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m + n, cap - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}


/* User text inside an error message: quoted, escaped, cut at 40 bytes. */
static void snippet(char *out, size_t cap, const char *s, size_t len)
{
    buf b = {.limit = cap - 1};
    buf_append_str(&b, "\"");
    for (size_t i = 0; i < len && b.len + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i == 40) {
            buf_append_str(&b, "...");
            break;
        }
        if (c == '"' || c == '\\')
            buf_printf(&b, "\\%c", c);
        else if (c == '\n')
            buf_append_str(&b, "\\n");
        else if (c < 0x20 || c == 0x7f)
            buf_printf(&b, "\\x%02x", c);
        else
            buf_append(&b, &s[i], 1);
    }
    buf_append_str(&b, "\"");
    snprintf(out, cap, "%s", b.data ? b.data : "\"\"");
    buf_free(&b);
}

bool is_null(const ynode *n)
{
    if (n->kind != Y_SCALAR || !n->plain)
        return false;
    return n->len == 0 || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
           strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0;
}

/* What a node is, for "expected X, got Y". */
void describe(const ynode *n, char *out, size_t cap)
{
    if (n->kind == Y_SEQ)
        snprintf(out, cap, "a list");
    else if (n->kind == Y_MAP)
        snprintf(out, cap, "a mapping");
    else if (is_null(n))
        snprintf(out, cap, "nothing (null)");
    else
        snippet(out, cap, n->text, n->len);
}

/* A scalar's text when it can be read as a number, a word or a duration: not null and
 * without NUL bytes (a "\0" escape would hide the rest from C string functions). */
const char *word(const ynode *n)
{
    if (n->kind != Y_SCALAR || is_null(n) || strlen(n->text) != n->len)
        return NULL;
    return n->text;
}

int fail_type(loader *L, const ynode *n, const char *expected, const char *key)
{
    char got[96];
    describe(n, got, sizeof got);
    return fail(L, n, "expected %s for `%s`, got %s", expected, key, got);
}

/* ---- ${VAR} substitution ------------------------------------------------------------ */

static bool is_var_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static int too_long(loader *L, int line, int col)
{
    return fail_at(L, line, col, "value longer than %u MiB after ${...} substitution",
                   MAX_FILE_BYTES >> 20);
}

/* Appends the value of the reference at s[0..len) (s starts with "${") and sets *used to
 * its length. */
static int expand_reference(loader *L, int line, int col, const char *s, size_t len, buf *out,
                            size_t *used)
{
    size_t end = 2;
    while (end < len && is_var_char(s[end]))
        end++;
    size_t name_len = end - 2;
    const char *dflt = NULL;
    size_t dflt_len = 0;
    if (end + 1 < len && s[end] == ':' && s[end + 1] == '-') {
        dflt = s + end + 2;
        const char *close = memchr(dflt, '}', len - (end + 2));
        if (!close)
            return fail_at(L, line, col, "unterminated ${ (missing `}`)");
        dflt_len = (size_t)(close - dflt);
        end = (size_t)(close - s);
    }
    if (end >= len && !memchr(s, '}', len))
        return fail_at(L, line, col, "unterminated ${ (missing `}`)");
    if (name_len == 0 || isdigit((unsigned char)s[2]) || name_len >= MAX_VAR_NAME ||
        s[end] != '}')
        return fail_at(L, line, col,
                       "bad variable reference: write ${NAME} or ${NAME:-default} "
                       "(NAME: letters, digits, _), or $$ for a literal $");
    char name[MAX_VAR_NAME];
    memcpy(name, s + 2, name_len);
    name[name_len] = '\0';
    const char *val = getenv(name);
    int rc;
    if (val && (*val || !dflt))
        rc = buf_append_str(out, val);
    else if (dflt)
        rc = buf_append(out, dflt, dflt_len);
    else
        return fail_at(L, line, col,
                       "environment variable %s is not set (use ${%s:-default} "
                       "to give a default)", name, name);
    *used = end + 1;
    return rc < 0 ? too_long(L, line, col) : 0;
}

/* Replaces ${NAME} and ${NAME:-default}; `$$` is a literal `$`, any other `$` stays. */
static int substitute(loader *L, int line, int col, const char *s, size_t len, buf *out)
{
    size_t i = 0;
    while (i < len) {
        const char *dollar = memchr(s + i, '$', len - i);
        size_t plain = dollar ? (size_t)(dollar - (s + i)) : len - i;
        if (buf_append(out, s + i, plain) < 0)
            return too_long(L, line, col);
        i += plain;
        if (i == len)
            break;
        size_t used = 1;
        int rc;
        if (i + 1 < len && s[i + 1] == '$') {
            rc = buf_append(out, "$", 1);
            used = 2;
        } else if (i + 1 < len && s[i + 1] == '{') {
            if (expand_reference(L, line, col, s + i, len - i, out, &used) < 0)
                return -1;
            rc = 0;
        } else {
            rc = buf_append(out, "$", 1);
        }
        if (rc < 0)
            return too_long(L, line, col);
        i += used;
    }
    return 0;
}

/* ---- building the tree from libyaml events ------------------------------------------ */

static ynode *node_new(loader *L, ykind kind, const yaml_mark_t *mark)
{
    if (L->n_nodes == L->cap_nodes) {
        size_t cap = L->cap_nodes ? L->cap_nodes * 2 : 64;
        ynode **p = realloc(L->nodes, cap * sizeof *p);
        if (!p)
            return NULL;
        L->nodes = p;
        L->cap_nodes = cap;
    }
    ynode *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->kind = kind;
    n->line = (int)mark->line + 1;
    n->col = (int)mark->column + 1;
    n->weight = 1;
    L->nodes[L->n_nodes++] = n;
    return n;
}

static void tree_free(loader *L)
{
    for (size_t i = 0; i < L->n_nodes; i++) {
        free(L->nodes[i]->text);
        free(L->nodes[i]->kids);
        free(L->nodes[i]);
    }
    free(L->nodes);
    for (size_t i = 0; i < L->cap_anchors; i++)
        free(L->anchors[i].name);
    free(L->anchors);
    for (size_t i = 0; i < L->depth; i++)
        free(L->stack[i].anchor);
}

static uint64_t hash_name(const char *s)
{
    uint64_t h = 14695981039346656037u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static anchor *anchor_slot(anchor *table, size_t cap, const char *name)
{
    size_t i = (size_t)(hash_name(name) & (cap - 1));
    while (table[i].name && strcmp(table[i].name, name) != 0)
        i = (i + 1) & (cap - 1);
    return &table[i];
}

static int anchor_grow(loader *L)
{
    size_t cap = L->cap_anchors ? L->cap_anchors * 2 : 64;
    anchor *t = calloc(cap, sizeof *t);
    if (!t)
        return -1;
    for (size_t i = 0; i < L->cap_anchors; i++)
        if (L->anchors[i].name)
            *anchor_slot(t, cap, L->anchors[i].name) = L->anchors[i];
    free(L->anchors);
    L->anchors = t;
    L->cap_anchors = cap;
    return 0;
}

/* Takes ownership of name. A redefined anchor replaces the earlier one, as YAML says. */
static int anchor_define(loader *L, char *name, ynode *n)
{
    if ((L->n_anchors + 1) * 2 > L->cap_anchors && anchor_grow(L) < 0) {
        free(name);
        return fail(L, n, "out of memory");
    }
    anchor *a = anchor_slot(L->anchors, L->cap_anchors, name);
    if (a->name) {
        free(name);
    } else {
        a->name = name;
        L->n_anchors++;
    }
    a->node = n;
    return 0;
}

static int attach(loader *L, ynode *n)
{
    if (L->depth == 0) {
        L->root = n;
        return 0;
    }
    ynode *parent = L->stack[L->depth - 1].node;
    if (parent->n_kids == parent->cap_kids) {
        size_t cap = parent->cap_kids ? parent->cap_kids * 2 : 8;
        ynode **p = realloc(parent->kids, cap * sizeof *p);
        if (!p)
            return fail(L, n, "out of memory");
        parent->kids = p;
        parent->cap_kids = cap;
    }
    parent->kids[parent->n_kids++] = n;
    return 0;
}

static char *dup_anchor(const yaml_char_t *a)
{
    return a ? strdup((const char *)a) : NULL;
}

static int on_scalar(loader *L, const yaml_event_t *ev)
{
    ynode *n = node_new(L, Y_SCALAR, &ev->start_mark);
    if (!n)
        return fail_at(L, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                       "out of memory");
    n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    buf b = {.limit = MAX_FILE_BYTES};
    const char *v = (const char *)ev->data.scalar.value;
    if (substitute(L, n->line, n->col, v, ev->data.scalar.length, &b) < 0) {
        buf_free(&b);
        return -1;
    }
    n->len = b.len;
    n->text = buf_take(&b);
    if (!n->text)
        return fail(L, n, "out of memory");
    if (attach(L, n) < 0)
        return -1;
    if (ev->data.scalar.anchor)
        return anchor_define(L, dup_anchor(ev->data.scalar.anchor), n);
    return 0;
}

static int on_alias(loader *L, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    anchor *a = L->cap_anchors ? anchor_slot(L->anchors, L->cap_anchors, name) : NULL;
    if (!a || !a->name)
        return fail_at(L, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                       "unknown anchor `*%s` (define it first with `&%s`)", name, name);
    return attach(L, a->node);
}

static int on_collection_start(loader *L, const yaml_event_t *ev, ykind kind)
{
    const yaml_char_t *a = kind == Y_SEQ ? ev->data.sequence_start.anchor
                                         : ev->data.mapping_start.anchor;
    if (L->depth == MAX_DEPTH)
        return fail_at(L, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                       "nested more than %d levels deep", MAX_DEPTH);
    ynode *n = node_new(L, kind, &ev->start_mark);
    if (!n || attach(L, n) < 0)
        return fail_at(L, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                       "out of memory");
    L->stack[L->depth].node = n;
    L->stack[L->depth].anchor = dup_anchor(a);
    L->depth++;
    return 0;
}

/* Aliases let a small file stand for a huge suite ("billion laughs"): weigh every
 * collection with its aliases expanded and refuse past the limit. */
static int on_collection_end(loader *L)
{
    frame f = L->stack[--L->depth];
    uint64_t w = 1;
    for (size_t i = 0; i < f.node->n_kids; i++) {
        w += f.node->kids[i]->weight;
        if (w > MAX_EXPANDED_NODES)
            break;
    }
    f.node->weight = w;
    if (w > MAX_EXPANDED_NODES) {
        free(f.anchor);
        return fail(L, f.node, "more than %u nodes once aliases are expanded",
                    MAX_EXPANDED_NODES);
    }
    return f.anchor ? anchor_define(L, f.anchor, f.node) : 0;
}

/* Reader errors carry a byte offset, not a mark: count lines and characters up to it. */
static void offset_to_mark(const loader *L, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < L->src_len; i++) {
        unsigned char c = (unsigned char)L->src[i];
        if (c == '\n') {
            (*line)++;
            *col = 1;
        } else if ((c & 0xc0) != 0x80) {
            (*col)++;
        }
    }
}

static int syntax_error(loader *L, const yaml_parser_t *p)
{
    int line = (int)p->problem_mark.line + 1, col = (int)p->problem_mark.column + 1;
    const char *problem = p->problem ? p->problem : "unknown problem";
    switch (p->error) {
    case YAML_MEMORY_ERROR:
        return fail_at(L, line, col, "out of memory while parsing YAML");
    case YAML_READER_ERROR:
        offset_to_mark(L, p->problem_offset, &line, &col);
        if (p->problem_value >= 0)
            return fail_at(L, line, col, "invalid input: %s (byte 0x%02x)", problem,
                           (unsigned)p->problem_value & 0xff);
        return fail_at(L, line, col, "invalid input: %s", problem);
    default:
        if (p->context)
            return fail_at(L, line, col, "YAML syntax error: %s (%s that starts at %d:%d)",
                           problem, p->context, (int)p->context_mark.line + 1,
                           (int)p->context_mark.column + 1);
        return fail_at(L, line, col, "YAML syntax error: %s", problem);
    }
}

static int on_event(loader *L, const yaml_event_t *ev, bool *done)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++L->documents > 1)
            return fail_at(L, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                           "a scenario file holds one YAML document; a second one starts here");
        return 0;
    case YAML_SCALAR_EVENT:
        return on_scalar(L, ev);
    case YAML_ALIAS_EVENT:
        return on_alias(L, ev);
    case YAML_SEQUENCE_START_EVENT:
        return on_collection_start(L, ev, Y_SEQ);
    case YAML_MAPPING_START_EVENT:
        return on_collection_start(L, ev, Y_MAP);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return on_collection_end(L);
    case YAML_STREAM_END_EVENT:
        *done = true;
        return 0;
    default:
        return 0;
    }
}

static int build_tree(loader *L)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return fail_at(L, 1, 1, "out of memory");
    yaml_parser_set_input_string(&p, (const unsigned char *)L->src, L->src_len);
    int rc = 0;
    bool done = false;
    while (!done && rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            rc = syntax_error(L, &p);
            break;
        }
        rc = on_event(L, &ev, &done);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    return rc;
}

/* ---- schema helpers ----------------------------------------------------------------- */

src_pos pos_of(const loader *L, const ynode *n)
{
    return (src_pos){.file = L->file, .line = n->line, .col = n->col};
}

bool key_is(const ynode *k, const char *name)
{
    return k->kind == Y_SCALAR && k->len == strlen(name) && memcmp(k->text, name, k->len) == 0;
}

static void join_names(char *out, size_t cap, const char *const *names)
{
    buf b = {.limit = cap - 1};
    for (size_t i = 0; names[i]; i++)
        buf_printf(&b, "%s%s", i ? ", " : "", names[i]);
    snprintf(out, cap, "%s", b.data ? b.data : "");
    buf_free(&b);
}

static bool is_allowed(const ynode *k, const char *const *allowed)
{
    for (size_t a = 0; allowed[a]; a++)
        if (key_is(k, allowed[a]))
            return true;
    return false;
}

/* The first scalar key not in allowed, or NULL. */
static const ynode *first_unknown_key(const ynode *map, const char *const *allowed)
{
    for (size_t i = 0; i < map->n_kids; i += 2)
        if (map->kids[i]->kind == Y_SCALAR && !is_allowed(map->kids[i], allowed))
            return map->kids[i];
    return NULL;
}

/* Every key a scalar, known, and given once. */
int check_keys(loader *L, const ynode *map, const char *const *allowed, const char *where)
{
    for (size_t i = 0; i < map->n_kids; i += 2) {
        const ynode *k = map->kids[i];
        if (k->kind != Y_SCALAR)
            return fail(L, k, "expected a key name in %s, got %s", where,
                        k->kind == Y_SEQ ? "a list" : "a mapping");
        char name[64];
        snippet(name, sizeof name, k->text, k->len);
        if (!is_allowed(k, allowed)) {
            char list[400];
            join_names(list, sizeof list, allowed);
            return fail(L, k, "unknown key %s in %s; allowed: %s", name, where, list);
        }
        for (size_t j = 0; j < i; j += 2)
            if (key_is(map->kids[j], k->text))
                return fail(L, k, "duplicate key %s in %s (first at %d:%d)", name, where,
                            map->kids[j]->line, map->kids[j]->col);
    }
    return 0;
}

/* The value of key `name`, or NULL; *key_pos gets the key's position (expectations cite
 * the line where the user wrote the key). */
const ynode *field(const loader *L, const ynode *map, const char *name, src_pos *key_pos)
{
    for (size_t i = 0; i < map->n_kids; i += 2)
        if (key_is(map->kids[i], name)) {
            if (key_pos)
                *key_pos = pos_of(L, map->kids[i]);
            return map->kids[i + 1];
        }
    return NULL;
}

int require_map(loader *L, const ynode *n, const char *key)
{
    return n->kind == Y_MAP ? 0 : fail_type(L, n, "a mapping", key);
}

int require_seq(loader *L, const ynode *n, const char *key)
{
    return n->kind == Y_SEQ ? 0 : fail_type(L, n, "a list", key);
}

/* Copies a scalar into the suite, within the suite's byte budget. NUL bytes (from "\0"
 * escapes) would silently cut C strings: only bodies, which keep a length, may hold them. */
int copy_text(loader *L, const ynode *n, const char *key, bool allow_nul, char **out)
{
    if (!allow_nul && memchr(n->text, '\0', n->len))
        return fail(L, n, "`%s` must not contain a NUL byte", key);
    if (n->len >= L->bytes_left)
        return fail(L, n, "scenario too large: more than %u MiB of text once aliases are "
                    "expanded", MAX_MODEL_BYTES >> 20);
    L->bytes_left -= n->len + 1;
    char *p = malloc(n->len + 1);
    if (!p)
        return fail(L, n, "out of memory");
    memcpy(p, n->text, n->len + 1);
    free(*out);
    *out = p;
    return 0;
}

int get_string(loader *L, const ynode *n, const char *key, char **out)
{
    if (n->kind != Y_SCALAR || is_null(n))
        return fail_type(L, n, "a string", key);
    return copy_text(L, n, key, false, out);
}

/* Optional strings: null or "" mean not set (NULL), so `target: ${COMET_TARGET:-}` works. */
int get_opt_string(loader *L, const ynode *n, const char *key, char **out)
{
    if (is_null(n) || (n->kind == Y_SCALAR && n->len == 0))
        return 0;
    return get_string(L, n, key, out);
}

static int parse_int_text(const char *s, int64_t *out)
{
    const char *p = s;
    if (*p == '-')
        p++;
    if (!isdigit((unsigned char)*p))
        return -1;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q))
            return -1;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE)
        return -1;
    *out = v;
    return 0;
}

int get_int(loader *L, const ynode *n, const char *key, int64_t lo, int64_t hi,
                   int64_t *out)
{
    int64_t v;
    if (!word(n) || parse_int_text(n->text, &v) < 0)
        return fail_type(L, n, "an integer", key);
    if (v < lo || v > hi)
        return fail(L, n, "`%s` must be between %lld and %lld, got %lld", key, (long long)lo,
                    (long long)hi, (long long)v);
    *out = v;
    return 0;
}

int get_bool(loader *L, const ynode *n, const char *key, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    if (word(n))
        for (size_t i = 0; i < 3; i++) {
            if (strcasecmp(n->text, yes[i]) == 0) {
                *out = true;
                return 0;
            }
            if (strcasecmp(n->text, no[i]) == 0) {
                *out = false;
                return 0;
            }
        }
    return fail_type(L, n, "true or false", key);
}

int get_duration(loader *L, const ynode *n, const char *key, bool allow_zero,
                        int64_t *out)
{
    int64_t v = word(n) ? parse_duration_us(n->text) : -1;
    if (v < 0) {
        char got[96];
        describe(n, got, sizeof got);
        return fail(L, n, "bad duration %s for `%s`: write e.g. 500ms, 2s, 1.5s, 250us, 1m, "
                    "or a number of milliseconds", got, key);
    }
    if (v == 0 && !allow_zero)
        return fail(L, n, "`%s` must be greater than 0", key);
    *out = v;
    return 0;
}

void set_opt_int(opt_int *o, int64_t v, src_pos pos)
{
    o->present = true;
    o->value = v;
    o->pos = pos;
}

char *lower_dup(const char *s)
{
    char *p = strdup(s);
    for (char *q = p; q && *q; q++)
        *q = (char)tolower((unsigned char)*q);
    return p;
}

/* ---- durations ---------------------------------------------------------------------- */

int64_t parse_duration_us(const char *s)
{
    static const struct {
        const char *suffix;
        int64_t us;
    } units[] = {{"us", 1}, {"ms", 1000}, {"s", 1000000}, {"m", 60000000}, {"", 1000}};
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    int64_t whole = 0, frac = 0, frac_scale = 1;
    const char *p = s;
    for (; isdigit((unsigned char)*p); p++) {
        if (whole > (INT64_MAX - 9) / 10)
            return -1;
        whole = whole * 10 + (*p - '0');
    }
    bool has_frac = *p == '.';
    if (has_frac) {
        p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        for (; isdigit((unsigned char)*p); p++) {
            if (frac_scale >= 1000000000) /* sub-nanosecond digits: nobody means that */
                return -1;
            frac = frac * 10 + (*p - '0');
            frac_scale *= 10;
        }
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(p, units[i].suffix) != 0)
            continue;
        if (has_frac && !*p)
            return -1; /* "1.5" alone: seconds or milliseconds? make the user say */
        int64_t u = units[i].us;
        if (whole > INT64_MAX / u)
            return -1;
        int64_t v = whole * u, f = frac * u / frac_scale; /* frac * u < 1e9 * 6e7 fits */
        if (v > INT64_MAX - f)
            return -1;
        return v + f;
    }
    return -1;
}

/* ---- expectations ------------------------------------------------------------------- */

static const char *const event_names[] = {
    "loadstart", "progress", "load", "error", "abort", "timeout", "loadend", NULL,
};

static bool is_event_name(const char *s)
{
    if (strncmp(s, "upload.", 7) == 0)
        s += 7;
    for (size_t i = 0; event_names[i]; i++)
        if (strcmp(s, event_names[i]) == 0)
            return true;
    return false;
}

int parse_quant(const char *s, pattern_quant *q)
{
    if (!*s)
        *q = Q_ONE;
    else if (strcmp(s, "+") == 0)
        *q = Q_PLUS;
    else if (strcmp(s, "*") == 0)
        *q = Q_STAR;
    else if (strcmp(s, "?") == 0)
        *q = Q_OPT;
    else
        return -1;
    return 0;
}

int parse_ready_state_item(loader *L, const ynode *n, pattern_item *it)
{
    char got[96];
    describe(n, got, sizeof got);
    if (!word(n))
        return fail(L, n, "expected a readyState (0-4, optionally followed by +, * or ?) in "
                    "`ready_states`, got %s", got);
    const char *s = n->text;
    if (*s < '0' || *s > '4' || parse_quant(s + 1, &it->quant) < 0)
        return fail(L, n, "bad item %s in `ready_states`: write a readyState 0-4, optionally "
                    "followed by a quantifier + (one or more), * (any) or ? (optional)", got);
    it->value = *s - '0';
    return 0;
}

/* Event names a page can see per step kind; an EventSource also sees custom types. */
static const char *const es_event_names[] = {"open", "message", "error", NULL};
static const char *const ws_event_names[] = {"open", "message", "error", "close", NULL};

static bool in_list(const char *const *list, const char *s)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

static int check_event_name(loader *L, const ynode *n, pattern_kind kind, const char *name,
                            const char *got)
{
    if (kind == PAT_XHR_EVENTS) {
        if (strcmp(name, "readystatechange") == 0)
            return fail(L, n, "`events` leaves out readystatechange: check those with "
                        "`ready_states`");
        if (!is_event_name(name))
            return fail(L, n, "unknown event %s in `events`; known: loadstart, progress, load, "
                        "error, abort, timeout, loadend, and upload.<each of those>", got);
    }
    if (kind == PAT_WS_EVENTS && !in_list(ws_event_names, name))
        return fail(L, n, "unknown event %s in `events`; a WebSocket fires open, message, "
                    "error and close", got);
    if (kind == PAT_ES_EVENTS && !in_list(es_event_names, name) && strchr(name, '.'))
        return fail(L, n, "bad event type %s in `events`: open, message, error, or a custom "
                    "event type", got);
    return 0;
}

static int parse_event_item(loader *L, const ynode *n, pattern_kind kind, pattern_item *it)
{
    char got[96];
    describe(n, got, sizeof got);
    if (!word(n))
        return fail(L, n, "expected an event name in `events`, got %s", got);
    size_t name_len = 0;
    while (isalnum((unsigned char)n->text[name_len]) ||
           (n->text[name_len] && strchr("._-", n->text[name_len])))
        name_len++;
    if (parse_quant(n->text + name_len, &it->quant) < 0)
        return fail(L, n, "bad quantifier in %s in `events`: write the event name, optionally "
                    "followed by + (one or more), * (any) or ? (optional)", got);
    char *name = strndup(n->text, name_len);
    if (!name)
        return fail(L, n, "out of memory");
    it->name = name;
    if (name_len == 0)
        return fail(L, n, "expected an event name in `events`, got %s", got);
    return check_event_name(L, n, kind, name, got);
}

int parse_pattern(loader *L, const ynode *n, const char *key, src_pos pos, pattern_kind kind,
                  pattern *p)
{
    if (require_seq(L, n, key) < 0)
        return -1;
    p->present = true;
    p->pos = pos;
    if (n->n_kids == 0)
        return 0;
    p->items = calloc(n->n_kids, sizeof *p->items);
    if (!p->items)
        return fail(L, n, "out of memory");
    p->n = n->n_kids;
    for (size_t i = 0; i < n->n_kids; i++) {
        int rc = kind == PAT_READY_STATES ? parse_ready_state_item(L, n->kids[i], &p->items[i])
                                          : parse_event_item(L, n->kids[i], kind, &p->items[i]);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static const char *const text_match_keys[] = {
    "equals", "contains", "not_contains", "regex", "not_equals", "list_item", "present", NULL,
};
static const text_match_kind text_match_kinds[] = {
    TM_EQUALS, TM_CONTAINS, TM_NOT_CONTAINS, TM_REGEX, TM_NOT_EQUALS, TM_LIST_ITEM, TM_PRESENT,
};

static int validate_regex(loader *L, const ynode *n, const char *key)
{
    regex_t re;
    int rc = regcomp(&re, n->text, REG_EXTENDED | REG_NOSUB);
    if (rc == 0) {
        regfree(&re);
        return 0;
    }
    char why[160], got[96];
    regerror(rc, &re, why, sizeof why);
    snippet(got, sizeof got, n->text, n->len);
    return fail(L, n, "bad regex %s for `%s`: %s", got, key, why);
}

/* { present: true } or { present: false }: only where a value can be missing. */
static int parse_presence(loader *L, const ynode *v, const char *key, bool allow_absent,
                          text_match *m)
{
    bool there;
    if (!allow_absent)
        return fail(L, v, "`present` applies only where a value can be missing (headers, "
                    "wire_headers, console), not to `%s`", key);
    if (get_bool(L, v, "present", &there) < 0)
        return -1;
    m->kind = there ? TM_PRESENT : TM_ABSENT;
    return 0;
}

/* A list_item is one element of a comma-separated list: no comma, not empty. */
static int validate_list_item(loader *L, const ynode *v, const char *key)
{
    if (v->len == 0 || memchr(v->text, ',', v->len))
        return fail(L, v, "`list_item` for `%s` is one item of a comma-separated list: "
                    "not empty and without a comma", key);
    return 0;
}

/* A plain scalar means equals; a mapping names one kind. Null means "absent" where
 * allow_absent (response headers, wire headers, console) and is an error elsewhere. */
int parse_text_match(loader *L, const ynode *n, const char *key, src_pos pos,
                            bool allow_absent, text_match *m)
{
    m->pos = pos;
    if (allow_absent && is_null(n)) {
        m->kind = TM_ABSENT;
        return 0;
    }
    if (n->kind == Y_SCALAR && !is_null(n)) {
        m->kind = TM_EQUALS;
        return copy_text(L, n, key, false, &m->value);
    }
    if (n->kind != Y_MAP)
        return fail_type(L, n, "a string or a mapping with one of equals, contains, "
                         "not_contains, regex, not_equals, list_item, present", key);
    char where[96];
    snprintf(where, sizeof where, "the text match of `%s`", key);
    if (check_keys(L, n, text_match_keys, where) < 0)
        return -1;
    if (n->n_kids != 2)
        return fail(L, n->n_kids ? n->kids[2] : n, "a text match for `%s` takes exactly one "
                    "of equals, contains, not_contains, regex, not_equals, list_item, present",
                    key);
    const ynode *k = n->kids[0], *v = n->kids[1];
    for (size_t i = 0; text_match_keys[i]; i++)
        if (key_is(k, text_match_keys[i]))
            m->kind = text_match_kinds[i];
    if (m->kind == TM_PRESENT)
        return parse_presence(L, v, key, allow_absent, m);
    if (v->kind != Y_SCALAR || is_null(v))
        return fail_type(L, v, "a string", key);
    if (m->kind == TM_REGEX && validate_regex(L, v, key) < 0)
        return -1;
    if (m->kind == TM_LIST_ITEM && validate_list_item(L, v, key) < 0)
        return -1;
    return copy_text(L, v, key, false, &m->value);
}

int new_text_match(loader *L, const ynode *n, const char *key, src_pos pos,
                          text_match **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return fail(L, n, "out of memory");
    return parse_text_match(L, n, key, pos, false, *out);
}

static int parse_response_text(loader *L, const ynode *n, src_pos pos, expect *e)
{
    if (n->kind != Y_SEQ) {
        e->n_response_text = 1;
        return new_text_match(L, n, "response_text", pos, &e->response_text);
    }
    if (n->n_kids == 0)
        return fail(L, n, "`response_text` is an empty list");
    e->response_text = calloc(n->n_kids, sizeof *e->response_text);
    if (!e->response_text)
        return fail(L, n, "out of memory");
    e->n_response_text = n->n_kids;
    for (size_t i = 0; i < n->n_kids; i++)
        if (parse_text_match(L, n->kids[i], "response_text", pos_of(L, n->kids[i]), false,
                             &e->response_text[i]) < 0)
            return -1;
    return 0;
}

static int parse_header_expects(loader *L, const ynode *n, expect *e)
{
    if (require_map(L, n, "headers") < 0)
        return -1;
    size_t count = n->n_kids / 2;
    if (count > MAX_HEADERS)
        return fail(L, n, "more than %d headers", MAX_HEADERS);
    if (count == 0)
        return 0;
    e->headers = calloc(count, sizeof *e->headers);
    if (!e->headers)
        return fail(L, n, "out of memory");
    e->n_headers = count;
    for (size_t i = 0; i < count; i++) {
        const ynode *k = n->kids[2 * i], *v = n->kids[2 * i + 1];
        header_expect *h = &e->headers[i];
        if (k->kind != Y_SCALAR || is_null(k) || k->len == 0 || memchr(k->text, '\0', k->len))
            return fail_type(L, k, "a header name", "headers");
        if (!(h->name = lower_dup(k->text)))
            return fail(L, k, "out of memory");
        for (size_t j = 0; j < i; j++)
            if (strcmp(e->headers[j].name, h->name) == 0)
                return fail(L, k, "header `%s` is expected twice (first at %d:%d)", h->name,
                            e->headers[j].match.pos.line, e->headers[j].match.pos.col);
        if (parse_text_match(L, v, h->name, pos_of(L, k), true, &h->match) < 0)
            return -1;
    }
    return 0;
}

/* The mapping form of elapsed and progress_count: { min: X, max: Y }, either optional. */
int parse_bounds(loader *L, const ynode *n, const char *key, bool durations,
                        opt_int *lo, opt_int *hi)
{
    static const char *const keys[] = {"min", "max", NULL};
    char where[64];
    snprintf(where, sizeof where, "`%s`", key);
    if (check_keys(L, n, keys, where) < 0)
        return -1;
    opt_int *bound[2] = {lo, hi};
    for (int i = 0; i < 2; i++) {
        src_pos kp;
        const ynode *v = field(L, n, keys[i], &kp);
        char label[64];
        int64_t x;
        if (!v)
            continue;
        snprintf(label, sizeof label, "%s.%s", key, keys[i]);
        if (durations ? get_duration(L, v, label, true, &x) < 0
                      : get_int(L, v, label, 0, INT32_MAX, &x) < 0)
            return -1;
        set_opt_int(bound[i], x, kp);
    }
    if (!lo->present && !hi->present)
        return fail(L, n, "`%s` needs min and/or max", key);
    if (lo->present && hi->present && lo->value > hi->value)
        return fail_at(L, hi->pos.line, hi->pos.col, "`%s`: max is smaller than min", key);
    return 0;
}

/* elapsed: 2s (at most), or { min: 100ms, max: 2s } */
static int parse_elapsed(loader *L, const ynode *n, src_pos pos, expect *e)
{
    int64_t v;
    if (n->kind == Y_MAP)
        return parse_bounds(L, n, "elapsed", true, &e->elapsed_min_us, &e->elapsed_max_us);
    if (get_duration(L, n, "elapsed", true, &v) < 0)
        return -1;
    set_opt_int(&e->elapsed_max_us, v, pos);
    return 0;
}

/* progress_count: 3 (exactly), or { min: 2, max: 10 } */
static int parse_progress_count(loader *L, const ynode *n, src_pos pos, expect *e)
{
    int64_t v;
    if (n->kind == Y_MAP)
        return parse_bounds(L, n, "progress_count", false, &e->progress_min, &e->progress_max);
    if (get_int(L, n, "progress_count", 0, INT32_MAX, &v) < 0)
        return -1;
    set_opt_int(&e->progress_min, v, pos);
    set_opt_int(&e->progress_max, v, pos);
    return 0;
}

int parse_opt_int(loader *L, const ynode *map, const char *key, int64_t lo, int64_t hi,
                         opt_int *o)
{
    src_pos kp;
    const ynode *v = field(L, map, key, &kp);
    int64_t x;
    if (!v)
        return 0;
    if (get_int(L, v, key, lo, hi, &x) < 0)
        return -1;
    set_opt_int(o, x, kp);
    return 0;
}

/* HTTP's token: methods and header names. */
static bool is_token(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && !(c && strchr("!#$%&'*+-.^_`|~", c)))
            return false;
    }
    return true;
}

/* The outer keys of wire_headers and requests: a request method, or `any` (*out = NULL). */
static int parse_method_key(loader *L, const ynode *map, size_t i, const char *key, char **out)
{
    const ynode *k = map->kids[2 * i];
    if (k->kind != Y_SCALAR || is_null(k) || !is_token(k->text, k->len))
        return fail_type(L, k, "a request method (GET, OPTIONS, ...) or `any`", key);
    for (size_t j = 0; j < i; j++)
        if (strcasecmp(map->kids[2 * j]->text, k->text) == 0)
            return fail(L, k, "method `%s` appears twice in `%s` (first at %d:%d)", k->text, key,
                        map->kids[2 * j]->line, map->kids[2 * j]->col);
    *out = NULL;
    return key_is(k, "any") ? 0 : copy_text(L, k, key, false, out);
}

static int parse_wire_header(loader *L, const ynode *k, const ynode *v, const char *method,
                             wire_header_expect *w, const wire_header_expect *seen, size_t n_seen)
{
    if (k->kind != Y_SCALAR || !is_token(k->text, k->len))
        return fail_type(L, k, "a header name", "wire_headers");
    if (!(w->name = lower_dup(k->text)) || (method && !(w->method = strdup(method))))
        return fail(L, k, "out of memory");
    for (size_t j = 0; j < n_seen; j++)
        if (strcmp(seen[j].name, w->name) == 0 &&
            (method ? seen[j].method && strcasecmp(seen[j].method, method) == 0 : !seen[j].method))
            return fail(L, k, "header `%s` is expected twice for %s (first at %d:%d)", w->name,
                        method ? method : "any", seen[j].match.pos.line, seen[j].match.pos.col);
    return parse_text_match(L, v, w->name, pos_of(L, k), true, &w->match);
}

/* wire_headers: { OPTIONS: { access-control-max-age: "600" }, any: { vary: ... } } */
/* wire_headers / request_headers: { METHOD or any: { name: <text match>, ... }, ... } */
static int parse_head_expects(loader *L, const ynode *n, const char *key,
                              wire_header_expect **out, size_t *count)
{
    size_t total = 0;
    char *method = NULL;
    if (require_map(L, n, key) < 0)
        return -1;
    for (size_t i = 0; i < n->n_kids / 2; i++) {
        if (parse_method_key(L, n, i, key, &method) < 0)
            return -1;
        free(method);
        if (require_map(L, n->kids[2 * i + 1], key) < 0)
            return -1;
        total += n->kids[2 * i + 1]->n_kids / 2;
    }
    if (total > MAX_HEADERS)
        return fail(L, n, "more than %d headers", MAX_HEADERS);
    if (total == 0)
        return 0;
    if (!(*out = calloc(total, sizeof **out)))
        return fail(L, n, "out of memory");
    for (size_t i = 0; i < n->n_kids / 2; i++) {
        const ynode *hs = n->kids[2 * i + 1];
        int rc = parse_method_key(L, n, i, key, &method);
        for (size_t j = 0; rc == 0 && j < hs->n_kids; j += 2) {
            wire_header_expect *w = &(*out)[(*count)++];
            rc = parse_wire_header(L, hs->kids[j], hs->kids[j + 1], method, w, *out,
                                   *count - 1);
        }
        free(method);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int parse_wire_headers(loader *L, const ynode *n, expect *e)
{
    return parse_head_expects(L, n, "wire_headers", &e->wire_headers, &e->n_wire_headers);
}

int parse_request_header_expects(loader *L, const ynode *n, expect *e)
{
    return parse_head_expects(L, n, "request_headers", &e->request_headers,
                              &e->n_request_headers);
}

/* requests: { OPTIONS: 1, PUT: { min: 1, max: 2 }, any: 3 }, or requests: 3 (any method) */
int parse_request_counts(loader *L, const ynode *n, expect *e)
{
    if (n->kind == Y_SCALAR) { /* requests: 3 counts requests of any method */
        int64_t x;
        if (get_int(L, n, "requests", 0, INT32_MAX, &x) < 0)
            return -1;
        if (!(e->requests = calloc(1, sizeof *e->requests)))
            return fail(L, n, "out of memory");
        e->n_requests = 1;
        set_opt_int(&e->requests[0].min, x, pos_of(L, n));
        set_opt_int(&e->requests[0].max, x, pos_of(L, n));
        return 0;
    }
    if (require_map(L, n, "requests") < 0)
        return -1;
    size_t count = n->n_kids / 2;
    if (count == 0)
        return 0;
    if (!(e->requests = calloc(count, sizeof *e->requests)))
        return fail(L, n, "out of memory");
    e->n_requests = count;
    for (size_t i = 0; i < count; i++) {
        request_count_expect *r = &e->requests[i];
        const ynode *v = n->kids[2 * i + 1];
        int64_t x;
        if (parse_method_key(L, n, i, "requests", &r->method) < 0)
            return -1;
        if (v->kind == Y_MAP) {
            if (parse_bounds(L, v, "requests", false, &r->min, &r->max) < 0)
                return -1;
            continue;
        }
        if (get_int(L, v, "requests", 0, INT32_MAX, &x) < 0)
            return -1;
        set_opt_int(&r->min, x, pos_of(L, n->kids[2 * i]));
        set_opt_int(&r->max, x, pos_of(L, n->kids[2 * i]));
    }
    return 0;
}

int parse_console(loader *L, const ynode *n, src_pos pos, expect *e)
{
    if (!(e->console = calloc(1, sizeof *e->console)))
        return fail(L, n, "out of memory");
    return parse_text_match(L, n, "console", pos, true, e->console);
}

static int parse_xhr_expect(loader *L, const ynode *n, expect *e)
{
    static const char *const keys[] = {
        "ready_states", "events", "status", "status_text", "ready_state", "headers",
        "all_headers", "response_text", "response_url", "loaded", "total",
        "length_computable", "elapsed", "progress_count", "wire_headers", "request_headers",
        "requests", "console", NULL,
    };
    if (is_null(n))
        return 0;
    if (require_map(L, n, "expect") < 0 || check_keys(L, n, keys, "expect") < 0)
        return -1;
    src_pos kp;
    const ynode *v;
    if ((v = field(L, n, "ready_states", &kp)) &&
        parse_pattern(L, v, "ready_states", kp, PAT_READY_STATES, &e->ready_states) < 0)
        return -1;
    if ((v = field(L, n, "events", &kp)) && parse_pattern(L, v, "events", kp, PAT_XHR_EVENTS, &e->events) < 0)
        return -1;
    if (parse_opt_int(L, n, "status", 0, 999, &e->status) < 0 ||
        parse_opt_int(L, n, "ready_state", 0, 4, &e->ready_state) < 0 ||
        parse_opt_int(L, n, "loaded", 0, INT64_MAX, &e->loaded) < 0 ||
        parse_opt_int(L, n, "total", 0, INT64_MAX, &e->total) < 0)
        return -1;
    if ((v = field(L, n, "status_text", &kp)) &&
        new_text_match(L, v, "status_text", kp, &e->status_text) < 0)
        return -1;
    if ((v = field(L, n, "headers", NULL)) && parse_header_expects(L, v, e) < 0)
        return -1;
    if ((v = field(L, n, "all_headers", &kp)) &&
        new_text_match(L, v, "all_headers", kp, &e->all_headers) < 0)
        return -1;
    if ((v = field(L, n, "response_text", &kp)) && parse_response_text(L, v, kp, e) < 0)
        return -1;
    if ((v = field(L, n, "response_url", &kp)) &&
        new_text_match(L, v, "response_url", kp, &e->response_url) < 0)
        return -1;
    if ((v = field(L, n, "length_computable", &kp))) {
        if (get_bool(L, v, "length_computable", &e->length_computable.value) < 0)
            return -1;
        e->length_computable.present = true;
        e->length_computable.pos = kp;
    }
    if ((v = field(L, n, "elapsed", &kp)) && parse_elapsed(L, v, kp, e) < 0)
        return -1;
    if ((v = field(L, n, "progress_count", &kp)) && parse_progress_count(L, v, kp, e) < 0)
        return -1;
    if ((v = field(L, n, "wire_headers", NULL)) && parse_wire_headers(L, v, e) < 0)
        return -1;
    if ((v = field(L, n, "request_headers", NULL)) && parse_request_header_expects(L, v, e) < 0)
        return -1;
    if ((v = field(L, n, "requests", NULL)) && parse_request_counts(L, v, e) < 0)
        return -1;
    if ((v = field(L, n, "console", &kp)) && parse_console(L, v, kp, e) < 0)
        return -1;
    return 0;
}

/* ---- xhr steps ---------------------------------------------------------------------- */

static int add_request_header(loader *L, const ynode *k, const ynode *v, kv *out)
{
    if (k->kind != Y_SCALAR || is_null(k) || k->len == 0)
        return fail_type(L, k, "a header name", "headers");
    if (v->kind != Y_SCALAR || is_null(v))
        return fail_type(L, v, "a header value (a string)", "headers");
    if (copy_text(L, k, "headers", false, &out->name) < 0)
        return -1;
    return copy_text(L, v, "headers", false, &out->value);
}

/* One request header given as a list item: [name, value] or {name: N, value: V}. */
static int parse_header_item(loader *L, const ynode *it, kv *out)
{
    static const char *const keys[] = {"name", "value", NULL};
    if (it->kind == Y_SEQ && it->n_kids == 2)
        return add_request_header(L, it->kids[0], it->kids[1], out);
    if (it->kind == Y_MAP) {
        if (check_keys(L, it, keys, "a header") < 0)
            return -1;
        const ynode *k = field(L, it, "name", NULL), *v = field(L, it, "value", NULL);
        if (!k || !v)
            return fail(L, it, "a header needs both `name` and `value`");
        return add_request_header(L, k, v, out);
    }
    return fail_type(L, it, "[name, value] or {name: ..., value: ...}", "headers");
}

/* A mapping (order kept) or a list of pairs; the list form allows repeated names, which
 * setRequestHeader combines. */
static int parse_request_headers(loader *L, const ynode *n, xhr_step *x)
{
    bool is_map = n->kind == Y_MAP;
    if (!is_map && n->kind != Y_SEQ)
        return fail_type(L, n, "a mapping or a list of [name, value] pairs", "headers");
    size_t count = is_map ? n->n_kids / 2 : n->n_kids;
    if (count > MAX_HEADERS)
        return fail(L, n, "more than %d headers", MAX_HEADERS);
    if (count == 0)
        return 0;
    x->headers = calloc(count, sizeof *x->headers);
    if (!x->headers)
        return fail(L, n, "out of memory");
    x->n_headers = count;
    for (size_t i = 0; i < count; i++) {
        if (!is_map) {
            if (parse_header_item(L, n->kids[i], &x->headers[i]) < 0)
                return -1;
            continue;
        }
        const ynode *k = n->kids[2 * i];
        if (add_request_header(L, k, n->kids[2 * i + 1], &x->headers[i]) < 0)
            return -1;
        for (size_t j = 0; j < i; j++)
            if (strcasecmp(x->headers[j].name, x->headers[i].name) == 0)
                return fail(L, k, "header `%s` given twice in a mapping; use the list form "
                            "[[name, value], ...] to send it twice", x->headers[i].name);
    }
    return 0;
}

static int parse_body(loader *L, const ynode *map, xhr_step *x)
{
    src_pos kp;
    const ynode *body = field(L, map, "body", NULL), *size = field(L, map, "body_size", &kp);
    if (body && size)
        return fail(L, size, "give either `body` or `body_size`, not both");
    if (body) {
        if (body->kind != Y_SCALAR)
            return fail_type(L, body, "a string", "body");
        x->body_len = body->len;
        return copy_text(L, body, "body", true, &x->body);
    }
    if (!size)
        return 0;
    int64_t n;
    if (get_int(L, size, "body_size", 0, MAX_BODY_BYTES, &n) < 0)
        return -1;
    if ((uint64_t)n >= L->bytes_left)
        return fail(L, size, "scenario too large: more than %u MiB of text once aliases are "
                    "expanded", MAX_MODEL_BYTES >> 20);
    L->bytes_left -= (uint64_t)n + 1;
    if (!(x->body = malloc((size_t)n + 1)))
        return fail(L, size, "out of memory");
    memset(x->body, 'a', (size_t)n);
    x->body[n] = '\0';
    x->body_len = (size_t)n;
    return 0;
}

/* abort_after: 300ms | abort_on: 2 | { ready_state: 2 } | progress | done */
static int parse_abort(loader *L, const ynode *map, xhr_step *x)
{
    const ynode *after = field(L, map, "abort_after", NULL), *on = field(L, map, "abort_on", NULL);
    if (after && on)
        return fail(L, on, "give either `abort_after` or `abort_on`, not both");
    if (after) {
        x->abort = ABORT_AFTER_TIME;
        return get_duration(L, after, "abort_after", true, &x->abort_after_us);
    }
    if (!on)
        return 0;
    const ynode *rs = on;
    if (on->kind == Y_MAP) {
        static const char *const keys[] = {"ready_state", NULL};
        if (check_keys(L, on, keys, "`abort_on`") < 0)
            return -1;
        if (!(rs = field(L, on, "ready_state", NULL)))
            return fail(L, on, "`abort_on` mapping needs `ready_state`");
    } else if (word(on) && strcmp(on->text, "progress") == 0) {
        x->abort = ABORT_ON_FIRST_PROGRESS;
        return 0;
    } else if (word(on) && strcmp(on->text, "done") == 0) {
        x->abort = ABORT_AFTER_DONE;
        return 0;
    }
    int64_t v;
    if (!word(rs) || parse_int_text(rs->text, &v) < 0 || v < 1 || v > 4)
        return fail_type(L, rs, "a readyState 1-4, `progress` or `done`", "abort_on");
    x->abort = ABORT_ON_READY_STATE;
    x->abort_ready_state = (int)v;
    return 0;
}

static int parse_xhr(loader *L, const ynode *n, step *st)
{
    static const char *const keys[] = {
        "method", "url", "headers", "body", "body_size", "timeout", "with_credentials",
        "upload_listeners", "abort_after", "abort_on", "repeat", "gap", NULL,
    };
    xhr_step *x = &st->u.xhr;
    st->kind = STEP_XHR;
    x->repeat = 1;
    if (!is_null(n) && (require_map(L, n, "xhr") < 0 || check_keys(L, n, keys, "xhr") < 0))
        return -1;
    const ynode *v;
    if ((v = n->kind == Y_MAP ? field(L, n, "url", NULL) : NULL) == NULL)
        return fail(L, n, "missing `url` in xhr");
    if (get_string(L, v, "url", &x->url) < 0)
        return -1;
    if ((v = field(L, n, "method", NULL))) {
        if (get_string(L, v, "method", &x->method) < 0)
            return -1;
        if (!*x->method)
            return fail(L, v, "`method` is empty");
    } else if (!(x->method = strdup("GET"))) {
        return fail(L, n, "out of memory");
    }
    if ((v = field(L, n, "headers", NULL)) && parse_request_headers(L, v, x) < 0)
        return -1;
    if (parse_body(L, n, x) < 0 || parse_abort(L, n, x) < 0)
        return -1;
    if ((v = field(L, n, "timeout", NULL)) &&
        get_duration(L, v, "timeout", true, &x->timeout_us) < 0)
        return -1;
    if ((v = field(L, n, "with_credentials", NULL)) &&
        get_bool(L, v, "with_credentials", &x->with_credentials) < 0)
        return -1;
    if ((v = field(L, n, "upload_listeners", NULL)) &&
        get_bool(L, v, "upload_listeners", &x->upload_listeners) < 0)
        return -1;
    int64_t repeat;
    if ((v = field(L, n, "repeat", NULL))) {
        if (get_int(L, v, "repeat", 1, MAX_REPEAT, &repeat) < 0)
            return -1;
        x->repeat = (int)repeat;
    }
    if ((v = field(L, n, "gap", NULL)) && get_duration(L, v, "gap", true, &x->gap_us) < 0)
        return -1;
    return 0;
}

/* ---- steps and cases ---------------------------------------------------------------- */

/* The step kinds. Adding `eventsource:` or `websocket:` is one row here, a parser for the
 * step, one for its expectations, and a case in step_free. */
typedef struct step_kind_spec {
    const char *key;
    int (*parse)(loader *L, const ynode *n, step *st);
    int (*parse_expect)(loader *L, const ynode *n, expect *e);
} step_kind_spec;

static const step_kind_spec step_kinds[] = {
    {"xhr", parse_xhr, parse_xhr_expect},
    {"eventsource", parse_eventsource, parse_es_expect},
    {"websocket", parse_websocket, parse_ws_expect},
};
#define N_STEP_KINDS (sizeof step_kinds / sizeof step_kinds[0])

/* Finds the one step-kind key of a mapping (a case or a steps item). */
static int find_step_kind(loader *L, const ynode *map, const step_kind_spec **spec,
                          const ynode **value, src_pos *pos)
{
    *spec = NULL;
    for (size_t i = 0; i < N_STEP_KINDS; i++) {
        src_pos kp;
        const ynode *v = field(L, map, step_kinds[i].key, &kp);
        if (!v)
            continue;
        if (*spec)
            return fail_at(L, kp.line, kp.col, "a step has one kind: `%s` and `%s` given",
                           (*spec)->key, step_kinds[i].key);
        *spec = &step_kinds[i];
        *value = v;
        *pos = kp;
    }
    return 0;
}

static int parse_step(loader *L, const step_kind_spec *spec, const ynode *v, src_pos pos,
                      const ynode *expect_node, step *st)
{
    st->pos = pos;
    if (spec->parse(L, v, st) < 0)
        return -1;
    return expect_node ? spec->parse_expect(L, expect_node, &st->expect) : 0;
}

static void step_keys(const char **keys, const char *const *fixed)
{
    size_t n = 0;
    for (size_t i = 0; fixed[i]; i++)
        keys[n++] = fixed[i];
    for (size_t i = 0; i < N_STEP_KINDS; i++)
        keys[n++] = step_kinds[i].key;
    keys[n] = NULL;
}

static int parse_steps_item(loader *L, const ynode *n, step *st)
{
    static const char *const fixed[] = {"expect", NULL};
    const char *keys[N_STEP_KINDS + 2];
    char kinds[200];
    step_keys(keys, fixed);
    join_names(kinds, sizeof kinds, keys + 1);
    if (require_map(L, n, "steps") < 0)
        return -1;
    const ynode *unknown = first_unknown_key(n, keys);
    if (unknown) {
        char name[64];
        snippet(name, sizeof name, unknown->text, unknown->len);
        return fail(L, unknown, "unknown step kind %s; a step is one of: %s (with an optional "
                    "`expect:` beside it)", name, kinds);
    }
    if (check_keys(L, n, keys, "a step") < 0)
        return -1;
    const step_kind_spec *spec;
    const ynode *v = NULL;
    src_pos kp = {0};
    if (find_step_kind(L, n, &spec, &v, &kp) < 0)
        return -1;
    if (!spec)
        return fail(L, n, "a step needs a kind: one of %s", kinds);
    return parse_step(L, spec, v, kp, field(L, n, "expect", NULL), st);
}

static int parse_case_steps(loader *L, const ynode *n, scenario_case *c)
{
    const step_kind_spec *spec;
    const ynode *inline_step = NULL;
    src_pos kind_pos = {0}, steps_pos, expect_pos;
    if (find_step_kind(L, n, &spec, &inline_step, &kind_pos) < 0)
        return -1;
    const ynode *steps = field(L, n, "steps", &steps_pos);
    const ynode *ex = field(L, n, "expect", &expect_pos);
    if (steps && spec)
        return fail_at(L, steps_pos.line, steps_pos.col,
                       "a case has either `%s:` or `steps:`, not both", spec->key);
    if (steps && ex)
        return fail_at(L, expect_pos.line, expect_pos.col,
                       "with `steps:`, put each `expect:` inside its step");
    if (!steps && !spec)
        return fail(L, n, "case has no step: add `xhr:`, `eventsource:` or `websocket:` (with "
                    "its `expect:`) or `steps:`");
    if (spec) {
        if (!(c->steps = calloc(1, sizeof *c->steps)))
            return fail(L, n, "out of memory");
        c->n_steps = 1;
        return parse_step(L, spec, inline_step, kind_pos, ex, &c->steps[0]);
    }
    if (require_seq(L, steps, "steps") < 0)
        return -1;
    if (steps->n_kids == 0)
        return fail(L, steps, "`steps` is empty");
    if (!(c->steps = calloc(steps->n_kids, sizeof *c->steps)))
        return fail(L, steps, "out of memory");
    c->n_steps = steps->n_kids;
    for (size_t i = 0; i < steps->n_kids; i++)
        if (parse_steps_item(L, steps->kids[i], &c->steps[i]) < 0)
            return -1;
    return 0;
}

static int parse_severity(loader *L, const ynode *n, severity *sev)
{
    static const char *const names[] = {"must", "should", "may"};
    for (int i = 0; i < 3; i++)
        if (word(n) && strcmp(n->text, names[i]) == 0) {
            *sev = (severity)i;
            return 0;
        }
    return fail_type(L, n, "must, should or may", "severity");
}

/* unimplemented_if_status: [404, 501], or one status */
static int parse_unimplemented(loader *L, const ynode *n, scenario_case *c)
{
    const ynode *const *items = n->kind == Y_SEQ ? (const ynode *const *)n->kids : &n;
    size_t count = n->kind == Y_SEQ ? n->n_kids : 1;
    if (count == 0)
        return 0;
    if (!(c->unimplemented_status = calloc(count, sizeof *c->unimplemented_status)))
        return fail(L, n, "out of memory");
    c->n_unimplemented_status = count;
    for (size_t i = 0; i < count; i++) {
        int64_t v;
        if (get_int(L, items[i], "unimplemented_if_status", 0, 999, &v) < 0)
            return -1;
        c->unimplemented_status[i] = (int)v;
    }
    return 0;
}

static int parse_case(loader *L, const ynode *n, scenario_case *c)
{
    static const char *const fixed[] = {
        "name", "description", "timeout", "page_origin", "severity", "unimplemented_if_status",
        "steps", "expect", NULL,
    };
    const char *keys[sizeof fixed / sizeof fixed[0] + N_STEP_KINDS];
    step_keys(keys, fixed);
    if (require_map(L, n, "cases") < 0 || check_keys(L, n, keys, "a case") < 0)
        return -1;
    c->pos = pos_of(L, n);
    const ynode *v = field(L, n, "name", NULL);
    if (!v)
        return fail(L, n, "missing `name` in a case");
    if (get_string(L, v, "name", &c->name) < 0)
        return -1;
    if (!*c->name)
        return fail(L, v, "`name` is empty");
    if ((v = field(L, n, "description", NULL)) && get_opt_string(L, v, "description",
                                                                 &c->description) < 0)
        return -1;
    if ((v = field(L, n, "timeout", NULL)) && get_duration(L, v, "timeout", false,
                                                           &c->timeout_us) < 0)
        return -1;
    if ((v = field(L, n, "page_origin", NULL)) && get_opt_string(L, v, "page_origin",
                                                                 &c->page_origin) < 0)
        return -1;
    if ((v = field(L, n, "severity", NULL)) && parse_severity(L, v, &c->severity) < 0)
        return -1;
    if ((v = field(L, n, "unimplemented_if_status", NULL)) && parse_unimplemented(L, v, c) < 0)
        return -1;
    return parse_case_steps(L, n, c);
}

static int compare_case_names(const void *a, const void *b)
{
    const scenario_case *x = *(const scenario_case *const *)a;
    const scenario_case *y = *(const scenario_case *const *)b;
    int d = strcmp(x->name, y->name);
    return d ? d : (x < y ? -1 : x > y);
}

/* Reports and filters address cases by name: names must be unique. */
static int check_unique_names(loader *L, suite *s)
{
    scenario_case **v = malloc(s->n_cases * sizeof *v);
    if (!v)
        return fail_at(L, 1, 1, "out of memory");
    for (size_t i = 0; i < s->n_cases; i++)
        v[i] = &s->cases[i];
    qsort(v, s->n_cases, sizeof *v, compare_case_names);
    int rc = 0;
    for (size_t i = 1; i < s->n_cases && rc == 0; i++)
        if (strcmp(v[i - 1]->name, v[i]->name) == 0) {
            char name[64];
            snippet(name, sizeof name, v[i]->name, strlen(v[i]->name));
            rc = fail_at(L, v[i]->pos.line, v[i]->pos.col, "duplicate case name %s (first at "
                         "%d:%d)", name, v[i - 1]->pos.line, v[i - 1]->pos.col);
        }
    free(v);
    return rc;
}

static int parse_cases(loader *L, const ynode *n, suite *s)
{
    if (require_seq(L, n, "cases") < 0)
        return -1;
    if (n->n_kids == 0)
        return fail(L, n, "`cases` is empty");
    if (n->n_kids > MAX_CASES)
        return fail(L, n, "more than %d cases", MAX_CASES);
    if (!(s->cases = calloc(n->n_kids, sizeof *s->cases)))
        return fail(L, n, "out of memory");
    s->n_cases = n->n_kids;
    for (size_t i = 0; i < n->n_kids; i++)
        if (parse_case(L, n->kids[i], &s->cases[i]) < 0)
            return -1;
    return 0;
}

/* ---- cors_policy ---------------------------------------------------------------------- */

typedef int (*policy_item_check)(loader *L, const ynode *n, const char *key);

static int check_policy_origin(loader *L, const ynode *n, const char *key)
{
    char why[300], got[64];
    if (cors_policy_origin_valid(n->text, why, sizeof why))
        return 0;
    snippet(got, sizeof got, n->text, n->len);
    return fail(L, n, "bad origin %s in `%s`: %s", got, key, why);
}

static int check_policy_method(loader *L, const ynode *n, const char *key)
{
    static const char *const forbidden[] = {"CONNECT", "TRACE", "TRACK", NULL};
    if (!is_token(n->text, n->len))
        return fail_type(L, n, "a method name", key);
    for (size_t i = 0; forbidden[i]; i++)
        if (strcasecmp(n->text, forbidden[i]) == 0)
            return fail(L, n, "%s is a forbidden method: XMLHttpRequest.open() throws, so no "
                        "page can send it", n->text);
    return 0;
}

static int check_policy_header(loader *L, const ynode *n, const char *key)
{
    if (!is_token(n->text, n->len))
        return fail_type(L, n, "a header name", key);
    if (is_forbidden_request_header(n->text, "comet-probe"))
        return fail(L, n, "%s is a forbidden request header: a page cannot set it, so it "
                    "needs no CORS permission and cannot be probed", n->text);
    return 0;
}

static int check_policy_exposed(loader *L, const ynode *n, const char *key)
{
    if (strcmp(n->text, "*") != 0 && !is_token(n->text, n->len))
        return fail_type(L, n, "a header name or *", key);
    return 0;
}

/* A list of non-empty strings, each checked, none given twice (names ignore case); a plain
 * string stands for a list of one where one_ok. */
static int parse_policy_list(loader *L, const ynode *n, const char *key, src_pos pos,
                             bool one_ok, size_t max, policy_item_check check,
                             cors_policy_list *l)
{
    const ynode *const *items = (const ynode *const *)n->kids;
    size_t count = n->n_kids;
    l->pos = pos;
    if (one_ok && n->kind == Y_SCALAR) {
        items = &n;
        count = 1;
    } else if (require_seq(L, n, key) < 0) {
        return -1;
    }
    if (count > max)
        return fail(L, n, "more than %zu entries in `%s`", max, key);
    if (count && !(l->items = calloc(count, sizeof *l->items)))
        return fail(L, n, "out of memory");
    for (size_t i = 0; i < count; i++) {
        const ynode *it = items[i];
        if (get_string(L, it, key, &l->items[i].text) < 0)
            return -1;
        l->items[i].pos = pos_of(L, it);
        l->n++;
        if (!*l->items[i].text)
            return fail(L, it, "empty entry in `%s`", key);
        if (check && check(L, it, key) < 0)
            return -1;
        for (size_t j = 0; j < i; j++)
            if (strcasecmp(l->items[j].text, l->items[i].text) == 0)
                return fail(L, it, "`%s` lists %s twice (first at %d:%d)", key,
                            l->items[i].text, l->items[j].pos.line, l->items[j].pos.col);
    }
    return 0;
}

static int parse_policy_urls(loader *L, const ynode *n, cors_policy *p)
{
    src_pos kp, kp2;
    const ynode *one = field(L, n, "url", &kp), *many = field(L, n, "urls", &kp2);
    if (one && many)
        return fail_at(L, kp2.line, kp2.col, "give either `url` or `urls`, not both");
    if (!one && !many)
        return fail(L, n, "missing `url` (or `urls`) in cors_policy: the resource to probe");
    if (one && one->kind != Y_SCALAR)
        return fail_type(L, one, "a string", "url");
    if (many && many->kind == Y_SEQ && many->n_kids == 0)
        return fail(L, many, "`urls` is empty");
    return one ? parse_policy_list(L, one, "url", kp, true, 1, NULL, &p->urls)
               : parse_policy_list(L, many, "urls", kp2, false, MAX_POLICY_URLS, NULL, &p->urls);
}

static int parse_max_age(loader *L, const ynode *n, src_pos pos, cors_policy *p)
{
    int64_t us;
    if (get_duration(L, n, "max_age", true, &us) < 0)
        return -1;
    if (us % 1000000 != 0)
        return fail(L, n, "`max_age` is announced in whole seconds: write e.g. 600s (a bare "
                    "number means milliseconds)");
    p->has_max_age = true;
    p->max_age_s = us / 1000000;
    p->max_age_pos = pos;
    return 0;
}

/* What only makes sense together: `*` alone and without credentials; methods, headers and
 * the rest need an allowed origin to send them from. */
static int check_policy_consistency(loader *L, const cors_policy *p)
{
    const cors_policy_list *o = &p->origins;
    for (size_t i = 0; i < o->n; i++) {
        if (strcmp(o->items[i].text, "*") != 0)
            continue;
        if (o->n > 1)
            return fail_at(L, o->items[i].pos.line, o->items[i].pos.col,
                           "`*` allows every origin: list it alone in `allowed_origins`");
        if (p->credentials)
            return fail_at(L, p->credentials_pos.line, p->credentials_pos.col,
                           "`credentials: true` cannot go with the origin `*`: browsers refuse "
                           "Access-Control-Allow-Origin: * on credentialed requests");
    }
    if (o->n)
        return 0;
    const cors_policy_list *lists[] = {&p->methods, &p->headers, &p->exposed};
    const char *names[] = {"methods", "headers", "exposed_headers"};
    for (size_t i = 0; i < 3; i++)
        if (lists[i]->n)
            return fail_at(L, lists[i]->pos.line, lists[i]->pos.col, "`%s` needs an allowed "
                           "origin to probe from, and `allowed_origins` is empty", names[i]);
    if (p->credentials || p->has_max_age) {
        src_pos at = p->credentials ? p->credentials_pos : p->max_age_pos;
        return fail_at(L, at.line, at.col, "`%s` needs an allowed origin to probe from, and "
                       "`allowed_origins` is empty", p->credentials ? "credentials" : "max_age");
    }
    return 0;
}

static int parse_cors_policy(loader *L, const ynode *n, src_pos pos, cors_policy *p)
{
    static const char *const keys[] = {
        "url", "urls", "allowed_origins", "methods", "headers", "exposed_headers",
        "credentials", "max_age", NULL,
    };
    static const struct {
        const char *key;
        size_t offset;
        policy_item_check check;
    } lists[] = {
        {"methods", offsetof(cors_policy, methods), check_policy_method},
        {"headers", offsetof(cors_policy, headers), check_policy_header},
        {"exposed_headers", offsetof(cors_policy, exposed), check_policy_exposed},
    };
    p->pos = pos;
    if (require_map(L, n, "cors_policy") < 0 || check_keys(L, n, keys, "cors_policy") < 0 ||
        parse_policy_urls(L, n, p) < 0)
        return -1;
    src_pos kp;
    const ynode *v = field(L, n, "allowed_origins", &kp);
    if (!v)
        return fail(L, n, "missing `allowed_origins` in cors_policy (`[]` means no origin may "
                    "read the resource)");
    if (parse_policy_list(L, v, "allowed_origins", kp, false, MAX_POLICY_ITEMS,
                          check_policy_origin, &p->origins) < 0)
        return -1;
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        cors_policy_list *l = (cors_policy_list *)((char *)p + lists[i].offset);
        if ((v = field(L, n, lists[i].key, &kp)) &&
            parse_policy_list(L, v, lists[i].key, kp, false, MAX_POLICY_ITEMS, lists[i].check,
                              l) < 0)
            return -1;
    }
    if ((v = field(L, n, "credentials", &kp))) {
        if (get_bool(L, v, "credentials", &p->credentials) < 0)
            return -1;
        p->credentials_pos = kp;
    }
    if ((v = field(L, n, "max_age", &kp)) && parse_max_age(L, v, kp, p) < 0)
        return -1;
    return check_policy_consistency(L, p);
}

/* The policy's cases go after the written ones, like any case. */
static int add_policy_cases(loader *L, const ynode *n, src_pos pos, suite *s)
{
    cors_policy p = {0};
    int rc = parse_cors_policy(L, n, pos, &p);
    if (rc == 0 && cors_policy_generate(&p, s) < 0)
        rc = fail(L, n, "out of memory");
    if (rc == 0 && s->n_cases > MAX_CASES)
        rc = fail(L, n, "more than %d cases with those of the cors_policy", MAX_CASES);
    cors_policy_free(&p);
    return rc;
}

static int parse_suite(loader *L, const ynode *root, suite *s)
{
    static const char *const keys[] = {
        "suite", "target", "fixture_path", "page_origin", "timeout", "cases", "cors_policy", NULL,
    };
    if (!root)
        return fail_at(L, 1, 1, "empty scenario file: expected a mapping with `cases`");
    if (root->kind != Y_MAP) {
        char got[96];
        describe(root, got, sizeof got);
        return fail(L, root, "expected a mapping with `cases` at the top of the file, got %s",
                    got);
    }
    if (check_keys(L, root, keys, "the suite") < 0)
        return -1;
    const ynode *v;
    if ((v = field(L, root, "suite", NULL)) && get_opt_string(L, v, "suite", &s->name) < 0)
        return -1;
    if ((v = field(L, root, "target", NULL)) && get_opt_string(L, v, "target", &s->target) < 0)
        return -1;
    if ((v = field(L, root, "fixture_path", NULL)) &&
        get_opt_string(L, v, "fixture_path", &s->fixture_path) < 0)
        return -1;
    if (s->fixture_path && s->fixture_path[0] != '/')
        return fail(L, v, "`fixture_path` is a path on the embedded fixture: it starts with /");
    if ((v = field(L, root, "page_origin", NULL)) &&
        get_opt_string(L, v, "page_origin", &s->page_origin) < 0)
        return -1;
    s->timeout_us = SUITE_DEFAULT_CASE_TIMEOUT_US;
    if ((v = field(L, root, "timeout", NULL)) && get_duration(L, v, "timeout", false,
                                                              &s->timeout_us) < 0)
        return -1;
    src_pos policy_pos;
    const ynode *policy = field(L, root, "cors_policy", &policy_pos);
    if (!(v = field(L, root, "cases", NULL)) && !policy)
        return fail(L, root, "missing `cases`");
    if (v && parse_cases(L, v, s) < 0)
        return -1;
    if (policy && add_policy_cases(L, policy, policy_pos, s) < 0)
        return -1;
    return check_unique_names(L, s);
}

/* "dir/xhr-basic.yaml" -> "xhr-basic" */
static char *default_suite_name(const char *file)
{
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    size_t n = strlen(base);
    if (n > 5 && strcmp(base + n - 5, ".yaml") == 0)
        n -= 5;
    else if (n > 4 && strcmp(base + n - 4, ".yml") == 0)
        n -= 4;
    return n ? strndup(base, n) : strdup("suite");
}

/* ---- public entry points ------------------------------------------------------------ */

static void xhr_step_free(xhr_step *x)
{
    free(x->method);
    free(x->url);
    for (size_t i = 0; i < x->n_headers; i++) {
        free(x->headers[i].name);
        free(x->headers[i].value);
    }
    free(x->headers);
    free(x->body);
}

void text_match_free(text_match *m)
{
    if (m)
        free(m->value);
}

static void wire_headers_free(wire_header_expect *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(w[i].method);
        free(w[i].name);
        text_match_free(&w[i].match);
    }
    free(w);
}

static void expect_free(expect *e)
{
    for (size_t i = 0; i < e->ready_states.n; i++)
        free(e->ready_states.items[i].name);
    free(e->ready_states.items);
    for (size_t i = 0; i < e->events.n; i++)
        free(e->events.items[i].name);
    free(e->events.items);
    text_match_free(e->status_text);
    free(e->status_text);
    for (size_t i = 0; i < e->n_headers; i++) {
        free(e->headers[i].name);
        text_match_free(&e->headers[i].match);
    }
    free(e->headers);
    text_match_free(e->all_headers);
    free(e->all_headers);
    for (size_t i = 0; i < e->n_response_text; i++)
        text_match_free(&e->response_text[i]);
    free(e->response_text);
    text_match_free(e->response_url);
    free(e->response_url);
    wire_headers_free(e->wire_headers, e->n_wire_headers);
    wire_headers_free(e->request_headers, e->n_request_headers);
    for (size_t i = 0; i < e->n_requests; i++)
        free(e->requests[i].method);
    free(e->requests);
    text_match_free(e->console);
    free(e->console);
    stream_expect_free(e);
}

static void step_free(step *st)
{
    switch (st->kind) {
    case STEP_XHR:
        xhr_step_free(&st->u.xhr);
        break;
    case STEP_EVENTSOURCE:
    case STEP_WEBSOCKET:
        stream_step_free(st);
        break;
    }
    expect_free(&st->expect);
}

static void case_free(scenario_case *c)
{
    free(c->name);
    for (size_t i = 0; i < c->n_steps; i++)
        step_free(&c->steps[i]);
    free(c->steps);
    free(c->page_origin);
    free(c->unimplemented_status);
    free(c->description);
}

void suite_free(suite *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_cases; i++)
        case_free(&s->cases[i]);
    free(s->cases);
    free(s->name);
    free(s->target);
    free(s->fixture_path);
    free(s->page_origin);
    free(s->file);
    free(s);
}

suite *suite_load_string(const char *name, const char *yaml, size_t len, load_error *err)
{
    load_error scratch;
    if (!err)
        err = &scratch;
    err->message[0] = '\0';
    if (!name)
        name = "<string>";
    if (len > MAX_FILE_BYTES) {
        snprintf(err->message, sizeof err->message, "%s: larger than %u MiB", name,
                 MAX_FILE_BYTES >> 20);
        return NULL;
    }
    suite *s = calloc(1, sizeof *s);
    if (s && !(s->file = strdup(name))) {
        free(s);
        s = NULL;
    }
    if (!s) {
        snprintf(err->message, sizeof err->message, "%s: out of memory", name);
        return NULL;
    }
    loader L = {.file = s->file, .src = yaml, .src_len = len, .err = err,
                .bytes_left = MAX_MODEL_BYTES};
    int rc = build_tree(&L);
    if (rc == 0)
        rc = parse_suite(&L, L.root, s);
    if (rc == 0 && !s->name && !(s->name = default_suite_name(s->file)))
        rc = fail_at(&L, 1, 1, "out of memory");
    tree_free(&L);
    if (rc < 0) {
        suite_free(s);
        return NULL;
    }
    return s;
}

static int read_file(int fd, buf *b)
{
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        if (buf_append(b, chunk, (size_t)n) < 0) {
            errno = EFBIG;
            return -1;
        }
    }
}

suite *suite_load_file(const char *path, load_error *err)
{
    load_error scratch;
    if (!err)
        err = &scratch;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        snprintf(err->message, sizeof err->message, "%s: cannot open: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(err->message, sizeof err->message, "%s: is a directory", path);
        close(fd);
        return NULL;
    }
    buf b = {.limit = MAX_FILE_BYTES};
    int rc = read_file(fd, &b);
    int saved = errno;
    close(fd);
    if (rc < 0) {
        if (saved == EFBIG)
            snprintf(err->message, sizeof err->message, "%s: larger than %u MiB", path,
                     MAX_FILE_BYTES >> 20);
        else
            snprintf(err->message, sizeof err->message, "%s: cannot read: %s", path,
                     strerror(saved));
        buf_free(&b);
        return NULL;
    }
    suite *s = suite_load_string(path, b.data ? b.data : "", b.len, err);
    buf_free(&b);
    return s;
}
