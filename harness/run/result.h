/* Results of a run: what the reporters (console, JSON, JUnit) render. */
#ifndef COMET_RESULT_H
#define COMET_RESULT_H

#include "browser/trace.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum verdict {
    V_PASS = 0,
    V_NON_STRICT,      /* a SHOULD-level expectation failed, or the server leaned on leniency */
    V_INFORMATIONAL,   /* observed and reported, not graded */
    V_UNIMPLEMENTED,   /* the server does not implement the feature under test */
    V_FAIL,            /* the server's behaviour contradicts the expectation */
    V_ERROR,           /* harness or connection problem: no verdict on the server */
} verdict;

const char *verdict_name(verdict v); /* "pass", "non-strict", ... */

typedef struct reasons {
    char **items;      /* owned, each a line "expected X, observed Y" */
    size_t n;
} reasons;

void reasons_add(reasons *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void reasons_free(reasons *r);

typedef struct case_result {
    char *suite;          /* owned copies, so results outlive the scenario */
    char *name;
    char *file;
    int line;
    verdict verdict;
    reasons reasons;
    trace trace;          /* every step's events, in order */
    int64_t duration_us;
    int attempts;         /* --repeat */
    verdict *attempt_verdicts;
    bool unstable;        /* the verdict changed between attempts */
} case_result;

typedef struct run_result {
    char *target;         /* what was tested ("embedded fixture http://127.0.0.1:PORT" or URL) */
    char *started_at;     /* ISO 8601 UTC */
    int64_t duration_us;
    case_result *cases;   /* in suite order */
    size_t n_cases;
    size_t counts[V_ERROR + 1];
    bool interrupted;     /* SIGINT/SIGTERM: the results are partial */
} run_result;

/* Frees the cases and r itself (results are heap-allocated). */
void run_result_free(run_result *r);
void case_result_free(case_result *c);

#endif
