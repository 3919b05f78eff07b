/* comet: a conformance and load-testing harness for Comet servers. */
#include "cli.h"
#include "fixture.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#define COMET_VERSION "0.1.0"

static const char usage[] =
    "usage: comet COMMAND [OPTIONS]\n"
    "\n"
    "Replays browser scenarios against a Comet server and predicts, byte for byte, what a\n"
    "real browser's XMLHttpRequest would observe.\n"
    "\n"
    "commands:\n"
    "  run [PATH...]        run scenario files or directories (default target: the\n"
    "                       embedded fixture server)\n"
    "  validate FILE...     check scenario files; exit 2 on errors\n"
    "  report RESULTS.json  re-render saved results (console, --junit)\n"
    "  fixture              run the fixture server standalone\n"
    "\n"
    "`comet COMMAND --help` describes each command.\n"
    "exit codes: 0 all passed, 1 a case failed, 2 usage or scenario error,\n"
    "            3 target unreachable\n";

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN); /* a peer that goes away is an event, not a crash */
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_PASSED;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("comet %s\n", COMET_VERSION);
        return EXIT_PASSED;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "run"))
        return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "validate"))
        return cmd_validate(argc - 1, argv + 1);
    if (!strcmp(cmd, "report"))
        return cmd_report(argc - 1, argv + 1);
    if (!strcmp(cmd, "fixture"))
        return fixture_main(argc - 1, argv + 1);
    fprintf(stderr, "comet: unknown command '%s'\n\n%s", cmd, usage);
    return EXIT_USAGE;
}
