/* `comet run`, `comet validate` and `comet report`. */
#include "cli.h"

#include "report/report.h"
#include "proto/ws_close_registry.h"
#include "run/runner.h"
#include "scenario/loader.h"
#include "scenario/paths.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char run_usage[] =
    "usage: comet run [PATH...] [OPTIONS]\n"
    "\n"
    "Runs every case of the scenario files (directories are searched for *.yaml) and\n"
    "prints a line per case and a summary.\n"
    "\n"
    "  -t, --target URL        server to test (http:// or https://); default: the suite's\n"
    "                          `target:`, else the embedded fixture server\n"
    "      --json FILE         write results with every case's full trace\n"
    "      --junit FILE        write JUnit XML (a testsuite per suite)\n"
    "      --html FILE         write one self-contained HTML report\n"
    "  -j, --jobs N            run N cases at once (default 1)\n"
    "      --repeat N          run each case N times; changing verdicts are marked unstable\n"
    "      --timeout D         case deadline for every case (e.g. 5s; overrides scenarios)\n"
    "      --suite-timeout D   start no case of a suite after D\n"
    "      --connect-timeout D TCP connect + TLS handshake bound (default 10s)\n"
    "      --filter PATTERN    only cases whose \"suite/case\" contains PATTERN (or matches\n"
    "                          it as a glob when it has * ? [)\n"
    "  -k, --insecure          do not verify TLS certificates\n"
    "      --cacert FILE       trust the CA certificates in FILE (PEM)\n"
    "      --strict            non-strict verdicts fail the run too\n"
    "      --trace-text-cap N  responseText bytes kept per trace event (default 2048)\n"
    "  -q, --quiet             only the summary\n"
    "      --no-color          no ANSI colours (also: NO_COLOR set in the environment)\n"
    "  -h, --help\n"
    "\n"
    "exit codes: 0 all passed, 1 a case failed, 2 usage or scenario error,\n"
    "            3 target unreachable\n";

static int bad_usage(const char *msg, const char *arg, const char *usage)
{
    fprintf(stderr, "comet: %s%s%s\n\n%s", msg, arg ? ": " : "", arg ? arg : "", usage);
    return EXIT_USAGE;
}

/* The directory holding fixtures/ (for the TLS test certificates): $COMET_HOME, else the
 * binary's parent when it has fixtures/ (build/comet -> .), else the current directory. */
static const char *project_dir(void)
{
    static char dir[4096];
    const char *env = getenv("COMET_HOME");
    if (env && *env)
        return env;
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 32);
    if (n > 0) {
        dir[n] = '\0';
        char *slash = strrchr(dir, '/');
        if (slash) {
            strcpy(slash, "/../fixtures");
            struct stat st;
            if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
                dir[strlen(dir) - strlen("/fixtures")] = '\0';
                return dir;
            }
        }
    }
    return ".";
}

/* The WebSocket close-code registry (data, not code): without it close codes are not
 * graded, which the run says once. */
static const ws_close_registry *load_close_codes(ws_close_registry *r, const char *home)
{
    char path[4200], err[512];
    snprintf(path, sizeof path, "%s/harness/proto/ws-close-codes.yaml", home);
    if (ws_close_registry_load(r, path, err, sizeof err) == 0)
        return r;
    fprintf(stderr, "comet: close codes are not graded: %s\n", err);
    return NULL;
}

typedef struct loaded_suites {
    suite **items;
    size_t n;
} loaded_suites;

static void free_suites(loaded_suites *l)
{
    for (size_t i = 0; i < l->n; i++)
        suite_free(l->items[i]);
    free(l->items);
}

/* Loads every file; prints each error. Returns the number of files that failed. */
static int load_all(char *const *paths, size_t n, loaded_suites *out, bool verbose)
{
    path_list files = {0};
    char err[512];
    if (collect_scenario_files(paths, n, &files, err, sizeof err) < 0) {
        fprintf(stderr, "comet: %s\n", err);
        return 1;
    }
    if (files.n == 0) {
        fprintf(stderr, "comet: no scenario files (*.yaml) found\n");
        path_list_free(&files);
        return 1;
    }
    int failures = 0;
    out->items = calloc(files.n, sizeof *out->items);
    for (size_t i = 0; out->items && i < files.n; i++) {
        load_error le;
        suite *s = suite_load_file(files.items[i], &le);
        if (!s) {
            fprintf(stderr, "%s\n", le.message);
            failures++;
            continue;
        }
        if (verbose)
            printf("ok  %s (%zu cases)\n", files.items[i], s->n_cases);
        out->items[out->n++] = s;
    }
    path_list_free(&files);
    return out->items ? failures : 1;
}

static bool want_color(bool no_color_flag)
{
    const char *nc = getenv("NO_COLOR");
    return !no_color_flag && !(nc && *nc) && isatty(STDOUT_FILENO);
}

static int parse_duration_arg(const char *arg, int64_t *out)
{
    *out = parse_duration_us(arg);
    return *out < 0 ? -1 : 0;
}

static int exit_code_for(const run_result *r, bool strict)
{
    if (r->counts[V_FAIL] || r->counts[V_ERROR] || r->interrupted)
        return EXIT_FAILED;
    if (strict && r->counts[V_NON_STRICT])
        return EXIT_FAILED;
    return EXIT_PASSED;
}

static int write_reports(const run_result *r, const char *json, const char *junit,
                         const char *html)
{
    int rc = 0;
    if (html && report_html_write(html, r) < 0) {
        perror(html);
        rc = -1;
    }
    if (json && report_json_write(json, r) < 0) {
        perror(json);
        rc = -1;
    }
    if (junit && report_junit_write(junit, r) < 0) {
        perror(junit);
        rc = -1;
    }
    return rc;
}

int cmd_run(int argc, char **argv)
{
    enum { O_JSON = 256, O_JUNIT, O_HTML, O_REPEAT, O_TIMEOUT, O_SUITE_TIMEOUT, O_CONNECT_TIMEOUT,
           O_FILTER, O_CACERT, O_STRICT, O_CAP, O_NO_COLOR };
    static const struct option opts[] = {
        {"target", required_argument, 0, 't'},       {"json", required_argument, 0, O_JSON},
        {"junit", required_argument, 0, O_JUNIT},     {"jobs", required_argument, 0, 'j'},
        {"html", required_argument, 0, O_HTML},
        {"repeat", required_argument, 0, O_REPEAT},   {"timeout", required_argument, 0, O_TIMEOUT},
        {"suite-timeout", required_argument, 0, O_SUITE_TIMEOUT},
        {"connect-timeout", required_argument, 0, O_CONNECT_TIMEOUT},
        {"filter", required_argument, 0, O_FILTER},   {"insecure", no_argument, 0, 'k'},
        {"cacert", required_argument, 0, O_CACERT},   {"strict", no_argument, 0, O_STRICT},
        {"trace-text-cap", required_argument, 0, O_CAP},
        {"quiet", no_argument, 0, 'q'},               {"no-color", no_argument, 0, O_NO_COLOR},
        {"help", no_argument, 0, 'h'},                {0, 0, 0, 0},
    };
    runner_config rc = {.jobs = 1, .repeat = 1, .console = stdout};
    const char *json = NULL, *junit = NULL, *html = NULL;
    bool strict = false, no_color = false, quiet = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:j:kqh", opts, NULL)) != -1) {
        switch (c) {
        case 't': rc.target = optarg; break;
        case O_JSON: json = optarg; break;
        case O_JUNIT: junit = optarg; break;
        case O_HTML: html = optarg; break;
        case 'j':
            rc.jobs = atoi(optarg);
            if (rc.jobs < 1 || rc.jobs > 10000)
                return bad_usage("--jobs needs a number from 1 to 10000", optarg, run_usage);
            break;
        case O_REPEAT:
            rc.repeat = atoi(optarg);
            if (rc.repeat < 1 || rc.repeat > 1000)
                return bad_usage("--repeat needs a number from 1 to 1000", optarg, run_usage);
            break;
        case O_TIMEOUT:
            if (parse_duration_arg(optarg, &rc.case_timeout_us) < 0)
                return bad_usage("bad duration", optarg, run_usage);
            break;
        case O_SUITE_TIMEOUT:
            if (parse_duration_arg(optarg, &rc.suite_timeout_us) < 0)
                return bad_usage("bad duration", optarg, run_usage);
            break;
        case O_CONNECT_TIMEOUT:
            if (parse_duration_arg(optarg, &rc.connect_timeout_us) < 0)
                return bad_usage("bad duration", optarg, run_usage);
            break;
        case O_FILTER: rc.filter = optarg; break;
        case 'k': rc.insecure = true; break;
        case O_CACERT: rc.ca_file = optarg; break;
        case O_STRICT: strict = true; break;
        case O_CAP: rc.trace_text_cap = (size_t)strtoul(optarg, NULL, 10); break;
        case 'q': quiet = true; break;
        case O_NO_COLOR: no_color = true; break;
        case 'h': fputs(run_usage, stdout); return EXIT_PASSED;
        default: return bad_usage("bad option", NULL, run_usage);
        }
    }
    if (optind >= argc)
        return bad_usage("no scenario path given", NULL, run_usage);
    loaded_suites suites = {0};
    if (load_all(argv + optind, (size_t)(argc - optind), &suites, false)) {
        free_suites(&suites);
        return EXIT_USAGE;
    }
    rc.console_opts.color = want_color(no_color);
    rc.console = quiet ? NULL : stdout;
    rc.progress = isatty(STDERR_FILENO) && isatty(STDOUT_FILENO) ? stderr : NULL;
    rc.fixture_dir = project_dir();
    ws_close_registry registry = {0};
    rc.ws_registry = load_close_codes(&registry, rc.fixture_dir);
    setvbuf(stdout, NULL, _IOLBF, 0);
    run_result *result = calloc(1, sizeof *result);
    int status = result ? runner_run(suites.items, suites.n, &rc, result) : EXIT_USAGE;
    ws_close_registry_free(&registry);
    if (status == 0) {
        report_console_summary(stdout, result, &rc.console_opts);
        status = exit_code_for(result, strict);
        if (write_reports(result, json, junit, html) < 0)
            status = EXIT_USAGE;
    }
    run_result_free(result);
    free_suites(&suites);
    return status;
}

static const char validate_usage[] =
    "usage: comet validate FILE|DIR...\n"
    "\n"
    "Loads scenario files and reports every error as file:line:column. Exit 0 when all\n"
    "are valid, 2 otherwise.\n";

int cmd_validate(int argc, char **argv)
{
    if (argc < 2)
        return bad_usage("no scenario file given", NULL, validate_usage);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(validate_usage, stdout);
        return EXIT_PASSED;
    }
    loaded_suites suites = {0};
    int failures = load_all(argv + 1, (size_t)(argc - 1), &suites, true);
    free_suites(&suites);
    return failures ? EXIT_USAGE : EXIT_PASSED;
}

static const char report_usage[] =
    "usage: comet report RESULTS.json [--junit FILE] [--html FILE] [--json FILE] [--no-color]\n"
    "\n"
    "Re-renders results saved by `comet run --json`: the console lines and summary, and\n"
    "optionally JUnit XML or HTML. Exits as the original run did (0 passed, 1 failed).\n";

int cmd_report(int argc, char **argv)
{
    enum { O_JSON = 256, O_JUNIT, O_HTML, O_NO_COLOR };
    static const struct option opts[] = {
        {"json", required_argument, 0, O_JSON}, {"junit", required_argument, 0, O_JUNIT},
        {"html", required_argument, 0, O_HTML},
        {"no-color", no_argument, 0, O_NO_COLOR}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0},
    };
    const char *json = NULL, *junit = NULL, *html = NULL;
    bool no_color = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_JSON: json = optarg; break;
        case O_JUNIT: junit = optarg; break;
        case O_HTML: html = optarg; break;
        case O_NO_COLOR: no_color = true; break;
        case 'h': fputs(report_usage, stdout); return EXIT_PASSED;
        default: return bad_usage("bad option", NULL, report_usage);
        }
    }
    if (optind != argc - 1)
        return bad_usage("give exactly one results file", NULL, report_usage);
    char err[512];
    run_result *r = report_json_read(argv[optind], err, sizeof err);
    if (!r) {
        fprintf(stderr, "comet: %s\n", err);
        return EXIT_USAGE;
    }
    console_opts co = {.color = want_color(no_color)};
    for (size_t i = 0; i < r->n_cases; i++)
        report_console_case(stdout, &r->cases[i], &co);
    report_console_summary(stdout, r, &co);
    int status = exit_code_for(r, false);
    if (write_reports(r, json, junit, html) < 0)
        status = EXIT_USAGE;
    run_result_free(r);
    return status;
}
