#include "scenario/paths.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_SCENARIO_FILES 100000
#define MAX_DEPTH 16

static int add(path_list *l, const char *p)
{
    if (l->n >= MAX_SCENARIO_FILES)
        return -1;
    char **items = realloc(l->items, (l->n + 1) * sizeof *items);
    if (!items)
        return -1;
    l->items = items;
    l->items[l->n] = strdup(p);
    return l->items[l->n++] ? 0 : -1;
}

static int compare_paths(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_yaml_suffix(const char *name)
{
    size_t n = strlen(name);
    return (n > 5 && !strcmp(name + n - 5, ".yaml")) || (n > 4 && !strcmp(name + n - 4, ".yml"));
}

static int walk(const char *dir, path_list *out, int depth)
{
    if (depth > MAX_DEPTH)
        return 0;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    path_list here = {0};
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        size_t n = strlen(dir);
        bool slash = n > 0 && dir[n - 1] == '/'; /* `scenarios/` names no empty component */
        snprintf(path, sizeof path, "%s%s%s", dir, slash ? "" : "/", e->d_name);
        struct stat st;
        if (stat(path, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode) || (S_ISREG(st.st_mode) && has_yaml_suffix(e->d_name)))
            add(&here, path);
    }
    closedir(d);
    qsort(here.items, here.n, sizeof *here.items, compare_paths);
    for (size_t i = 0; i < here.n; i++) {
        struct stat st;
        if (stat(here.items[i], &st) == 0 && S_ISDIR(st.st_mode))
            walk(here.items[i], out, depth + 1);
        else
            add(out, here.items[i]);
    }
    path_list_free(&here);
    return 0;
}

int collect_scenario_files(char *const *paths, size_t n, path_list *out, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(paths[i], &st) < 0) {
            snprintf(err, errlen, "%s: no such file or directory", paths[i]);
            return -1;
        }
        if (S_ISDIR(st.st_mode)) {
            if (walk(paths[i], out, 0) < 0) {
                snprintf(err, errlen, "%s: cannot read the directory", paths[i]);
                return -1;
            }
        } else if (add(out, paths[i]) < 0) {
            snprintf(err, errlen, "too many scenario files");
            return -1;
        }
    }
    return 0;
}

void path_list_free(path_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    *l = (path_list){0};
}
