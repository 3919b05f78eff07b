/* Expands the PATH arguments of `comet run` / `comet validate` into scenario files:
 * files as given, directories searched recursively for *.yaml and *.yml, sorted. */
#ifndef COMET_PATHS_H
#define COMET_PATHS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct path_list {
    char **items;
    size_t n;
} path_list;

/* Returns 0, or -1 with err filled (a path that does not exist). */
int collect_scenario_files(char *const *paths, size_t n, path_list *out, char *err, size_t errlen);
void path_list_free(path_list *l);

#endif
