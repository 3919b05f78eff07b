/* The WebSocket close-code registry as data (harness/proto/ws-close-codes.yaml): which
 * codes may appear on the wire, who may send them, and how misuse is graded. Loaded with
 * libyaml; every error names file:line:column. */
#ifndef COMET_WS_CLOSE_REGISTRY_H
#define COMET_WS_CLOSE_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

typedef enum ws_strictness {
    WS_STRICT_MUST,   /* misuse fails */
    WS_STRICT_SHOULD, /* misuse is non-strict */
    WS_STRICT_INFO,   /* misuse is informational */
} ws_strictness;

typedef enum ws_sender {
    WS_SENDER_ANY,
    WS_SENDER_CLIENT_ONLY,
    WS_SENDER_SERVER_ONLY,
} ws_sender;

typedef struct ws_close_entry {
    unsigned first, last; /* a single code has first == last */
    char *name;
    char *note;           /* NULL when absent */
    bool valid_on_wire;
    ws_strictness strictness;
    ws_sender role;
    int line, column;     /* where the entry starts in the file */
} ws_close_entry;

typedef struct ws_close_registry {
    ws_close_entry *entries; /* sorted, covering 0-65535 exactly once */
    size_t n;
} ws_close_registry;

typedef enum ws_close_grade {
    WS_GRADE_PASS,
    WS_GRADE_FAIL,
    WS_GRADE_NON_STRICT,
    WS_GRADE_INFORMATIONAL,
} ws_close_grade;

/* Returns 0, or -1 with "file:line:column: what is wrong" in err. */
int ws_close_registry_load(ws_close_registry *r, const char *path, char *err, size_t errlen);
int ws_close_registry_parse(ws_close_registry *r, const char *file, const char *yaml, size_t len,
                            char *err, size_t errlen);
void ws_close_registry_free(ws_close_registry *r);

/* The entry covering code (NULL only for code > 65535). */
const ws_close_entry *ws_close_lookup(const ws_close_registry *r, unsigned code);
/* How a close frame carrying code, sent by the server (or the client), is graded; *entry
 * (when entry is non-NULL) is the entry that decided. */
ws_close_grade ws_close_grade_code(const ws_close_registry *r, unsigned code, bool from_server,
                                   const ws_close_entry **entry);
/* "pass", "fail", "non-strict", "informational": the verdict names of the reports. */
const char *ws_close_grade_name(ws_close_grade g);

#endif
