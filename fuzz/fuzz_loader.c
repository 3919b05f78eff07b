/* libFuzzer target: the scenario loader turns any bytes into a suite or into one error
 * naming the file, never a crash, a leak or unbounded memory. The sources list sits on a
 * line of its own: `make fuzz` reads everything after the colon, a closing comment too.
 * FUZZ_SOURCES: harness/scenario/loader.c harness/scenario/loader_stream.c harness/scenario/cors_policy.c harness/browser/request_headers.c harness/util/headers.c harness/util/url.c harness/util/buf.c
 */
#include "scenario/loader.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    load_error err;
    memset(err.message, 'x', sizeof err.message);
    suite *s = suite_load_string("fuzz.yaml", (const char *)data, size, &err);
    if (!s) {
        /* an error is one terminated line that starts with the file name */
        if (!memchr(err.message, '\0', sizeof err.message) ||
            strncmp(err.message, "fuzz.yaml:", 10) != 0)
            abort();
        return 0;
    }
    if (!s->name || !s->file || s->n_cases == 0)
        abort();
    for (size_t i = 0; i < s->n_cases; i++)
        if (!s->cases[i].name || s->cases[i].n_steps == 0 || s->cases[i].pos.file != s->file)
            abort();
    suite_free(s);
    return 0;
}
