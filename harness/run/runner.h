/* The conformance runner: one libev loop; cases sequential by default or N at once, each
 * bounded by its deadline; a trace per case; verdicts graded from the expectations. */
#ifndef COMET_RUNNER_H
#define COMET_RUNNER_H

#include "report/report.h"
#include "run/result.h"
#include "scenario/scenario.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct runner_config {
    const char *target;          /* --target; NULL = the suite's, else the embedded fixture */
    int jobs;                    /* cases at once (-j); default 1 */
    int repeat;                  /* attempts per case (--repeat); default 1 */
    int64_t case_timeout_us;     /* --timeout: overrides every case deadline (0 = scenario's) */
    int64_t suite_timeout_us;    /* --suite-timeout: no case of a suite starts after this */
    int64_t connect_timeout_us;
    bool insecure;               /* --insecure: no certificate verification */
    const char *ca_file;         /* --cacert */
    size_t trace_text_cap;       /* --trace-text-cap; 0 = default */
    const char *filter;          /* --filter: substring (or glob) of "suite/case" */
    FILE *console;               /* per-case lines; NULL = quiet */
    console_opts console_opts;
    FILE *progress;              /* a TTY for the live progress line; NULL = none */
    const char *fixture_dir;     /* where fixtures/certs lives */
    const struct ws_close_registry *ws_registry; /* grades servers' close codes; may be NULL */
} runner_config;

/* Runs the cases and fills out. Returns 0 when it ran (verdicts say the rest), 3 when a
 * target could not be reached, 2 on a configuration error (message on stderr). */
int runner_run(suite *const *suites, size_t n_suites, const runner_config *c, run_result *out);

#endif
