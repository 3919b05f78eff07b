/* A suite's `cors_policy:` block: the cross-origin access a server should grant for a
 * resource. The loader reads it; cors_policy_generate() turns it into ordinary cases
 * (xhr steps from chosen page origins, with expectations) that prove the server grants
 * exactly that: every declared origin, method, header and exposed header works, and
 * undeclared ones are refused. */
#ifndef COMET_CORS_POLICY_H
#define COMET_CORS_POLICY_H

#include "scenario/scenario.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One list entry as written, with its place in the file (generated cases cite it). */
typedef struct cors_policy_item {
    char *text;
    src_pos pos;
} cors_policy_item;

typedef struct cors_policy_list {
    cors_policy_item *items;
    size_t n;
    src_pos pos; /* the key */
} cors_policy_list;

typedef struct cors_policy {
    src_pos pos;              /* the `cors_policy` key */
    cors_policy_list urls;    /* `url:` or `urls:`: absolute, or relative to the target */
    cors_policy_list origins; /* exact origins, wildcards (host "*.example.test"), or "*" */
    cors_policy_list methods; /* as written (methods are case-sensitive in CORS) */
    cors_policy_list headers; /* request headers */
    cors_policy_list exposed; /* response headers; "*" allowed */
    bool credentials;
    src_pos credentials_pos;
    bool has_max_age;
    int64_t max_age_s;
    src_pos max_age_pos;
} cors_policy;

/* The probe origins: a wildcard's "*" becomes this label; this origin is declared nowhere. */
#define CORS_PROBE_LABEL "comet-probe"
#define CORS_UNDECLARED_ORIGIN "https://evil.comet-probe.test"
#define CORS_UNDECLARED_HEADER "X-Comet-Undeclared"

/* Whether an allowed_origins entry is well-formed: "*", a serialized origin
 * ("https://app.example.test", "http://127.0.0.1:8080"), or one whose host starts with a
 * wildcard label ("*.example.test"). Otherwise false, with why. */
bool cors_policy_origin_valid(const char *entry, char *why, size_t why_len);
/* Whether a serialized origin matches an allowed_origins entry ("*" matches any; "*." one
 * DNS label, dots excluded). */
bool cors_policy_origin_matches(const char *entry, const char *origin);
/* Appends the cases proving the policy to s->cases. Returns 0, or -1 when memory ran out
 * (s stays consistent: suite_free frees what was added). */
int cors_policy_generate(const cors_policy *p, suite *s);
void cors_policy_free(cors_policy *p);

#endif
