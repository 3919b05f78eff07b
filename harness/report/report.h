/* Reporters: console, JSON (the whole trace of every case), JUnit XML. */
#ifndef COMET_REPORT_H
#define COMET_REPORT_H

#include "run/result.h"

#include <stdbool.h>
#include <stdio.h>

typedef struct console_opts {
    bool color;     /* ANSI colours (a TTY and NO_COLOR unset) */
    bool verbose;   /* print the trace of failed cases too */
} console_opts;

/* One line per case as it finishes: "PASS  suite / case (12 ms)", then the reasons,
 * indented, for anything but a pass. Server-provided text is escaped. */
void report_console_case(FILE *out, const case_result *c, const console_opts *o);
/* "12 passed, 1 failed, 0 errors, ... in 1.23 s" */
void report_console_summary(FILE *out, const run_result *r, const console_opts *o);

/* Schema documented in README.md ("JSON results"). Returns 0 or -1 (errno set). */
int report_json_write(const char *path, const run_result *r);
/* Reads a results file back (for `comet report`); NULL with err filled on failure. */
run_result *report_json_read(const char *path, char *err, size_t errlen);
/* JUnit XML that Jenkins and GitLab read: a testsuite per suite, a testcase per case. */
int report_junit_write(const char *path, const run_result *r);

/* One self-contained HTML file (no scripts, no external resources): summary, a table per
 * suite, reasons, and each case's trace. Returns 0 or -1 (errno set). */
int report_html_write(const char *path, const run_result *r);

/* Escapes a server-provided string for a terminal: control bytes and invalid UTF-8 as
 * \xNN, \r \n \t as escapes. Returns a malloc'd string. */
char *escape_terminal(const char *s, size_t len);

#endif
