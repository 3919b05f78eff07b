/* The `comet` commands. Each returns the process exit code. */
#ifndef COMET_CLI_H
#define COMET_CLI_H

enum exit_code {
    EXIT_PASSED = 0,
    EXIT_FAILED = 1,      /* a case failed (or errored) */
    EXIT_USAGE = 2,       /* bad usage or a scenario error */
    EXIT_UNREACHABLE = 3, /* the target could not be reached */
};

int cmd_run(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_report(int argc, char **argv);

#endif
