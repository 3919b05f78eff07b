/* Loader internals shared by the files that parse parts of the schema: the node tree,
 * error reporting with file:line:column, and the typed getters every part uses. */
#ifndef COMET_LOADER_INTERNAL_H
#define COMET_LOADER_INTERNAL_H

#include "scenario/loader.h"
#include "scenario/scenario.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_FILE_BYTES (16u << 20)        /* a scenario file, and a scalar after ${VAR} */
#define MAX_CASES 100000
#define MAX_DEPTH 64                       /* nested lists/mappings; the schema needs ~8 */
#define MAX_EXPANDED_NODES 4000000u        /* nodes after expanding aliases */
#define MAX_MODEL_BYTES (256u << 20)       /* strings copied into the suite, bodies included */
#define MAX_BODY_BYTES (64u << 20)         /* one request body (body_size) */
#define MAX_REPEAT 100000
#define MAX_HEADERS 1000                   /* per request, per expectation */
#define MAX_VAR_NAME 128
#define MAX_POLICY_ITEMS 100               /* per list of a cors_policy */
#define MAX_POLICY_URLS 20

/* ---- the node tree ------------------------------------------------------------------ */

typedef enum ykind {
    Y_SCALAR,
    Y_SEQ,
    Y_MAP,
} ykind;

typedef struct ynode ynode;
struct ynode {
    ykind kind;
    bool plain;          /* plain scalar: `~`, `null` and nothing mean null */
    int line, col;       /* 1-based */
    char *text;          /* scalar after ${VAR} substitution, NUL-terminated */
    size_t len;
    ynode **kids;        /* sequence items; mapping keys and values interleaved */
    size_t n_kids, cap_kids;
    uint64_t weight;     /* nodes this one stands for once aliases are expanded */
};

typedef struct anchor {
    char *name;          /* NULL = free slot */
    ynode *node;
} anchor;

typedef struct frame {
    ynode *node;
    char *anchor;        /* registered when the collection closes: no self-reference */
} frame;

typedef struct loader {
    const char *file;          /* the suite's copy of the file name */
    const char *src;           /* YAML text, to place reader errors given as offsets */
    size_t src_len;
    load_error *err;
    bool failed;
    ynode **nodes;             /* every node, for freeing (aliases share nodes) */
    size_t n_nodes, cap_nodes;
    anchor *anchors;           /* open-addressing hash table */
    size_t n_anchors, cap_anchors;
    frame stack[MAX_DEPTH];
    size_t depth;
    ynode *root;
    int documents;
    uint64_t bytes_left;       /* budget for strings copied into the suite */
} loader;

int fail_at(loader *L, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define fail(L, node, ...) fail_at((L), (node)->line, (node)->col, __VA_ARGS__)

bool is_null(const ynode *n);
void describe(const ynode *n, char *out, size_t cap);
const char *word(const ynode *n);
int fail_type(loader *L, const ynode *n, const char *expected, const char *key);
src_pos pos_of(const loader *L, const ynode *n);
bool key_is(const ynode *k, const char *name);
int check_keys(loader *L, const ynode *map, const char *const *allowed, const char *where);
const ynode *field(const loader *L, const ynode *map, const char *name, src_pos *key_pos);
int require_map(loader *L, const ynode *n, const char *key);
int require_seq(loader *L, const ynode *n, const char *key);
int copy_text(loader *L, const ynode *n, const char *key, bool allow_nul, char **out);
int get_string(loader *L, const ynode *n, const char *key, char **out);
int get_opt_string(loader *L, const ynode *n, const char *key, char **out);
int get_int(loader *L, const ynode *n, const char *key, int64_t lo, int64_t hi,
                   int64_t *out);
int get_bool(loader *L, const ynode *n, const char *key, bool *out);
int get_duration(loader *L, const ynode *n, const char *key, bool allow_zero,
                        int64_t *out);
void set_opt_int(opt_int *o, int64_t v, src_pos pos);
int parse_text_match(loader *L, const ynode *n, const char *key, src_pos pos,
                            bool allow_absent, text_match *m);
int new_text_match(loader *L, const ynode *n, const char *key, src_pos pos,
                          text_match **out);
int parse_bounds(loader *L, const ynode *n, const char *key, bool durations,
                        opt_int *lo, opt_int *hi);
int parse_opt_int(loader *L, const ynode *map, const char *key, int64_t lo, int64_t hi,
                         opt_int *o);
typedef enum pattern_kind {
    PAT_READY_STATES,
    PAT_XHR_EVENTS,
    PAT_ES_EVENTS,
    PAT_WS_EVENTS,
} pattern_kind;
int parse_pattern(loader *L, const ynode *n, const char *key, src_pos pos, pattern_kind kind,
                  pattern *p);
int parse_wire_headers(loader *L, const ynode *n, expect *e);
int parse_request_header_expects(loader *L, const ynode *n, expect *e);
int parse_request_counts(loader *L, const ynode *n, expect *e);
int parse_console(loader *L, const ynode *n, src_pos pos, expect *e);
void text_match_free(text_match *m);
char *lower_dup(const char *s);
int parse_quant(const char *s, pattern_quant *q);
int parse_ready_state_item(loader *L, const ynode *n, pattern_item *it);

#endif
