/* CUnit entry point: every test file registers its suite here. */
#include <CUnit/Basic.h>
#include <stdio.h>

#include "tests/test_registry.h"

static const test_registrar test_registrars[] = {
    register_buf_tests, register_http1_tests, register_loader_tests, register_expect_tests,
    register_xhr_tests, register_report_tests, register_fixture_tests, register_cors_tests,
    register_sse_tests, register_ws_tests,  register_cors_policy_tests,
    register_fixture_sse_tests,
    register_fixture_ws_tests,
    register_expect_stream_tests,
};

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    for (size_t i = 0; i < sizeof test_registrars / sizeof test_registrars[0]; i++)
        if (test_registrars[i]() != CUE_SUCCESS) {
            fprintf(stderr, "test registration failed: %s\n", CU_get_error_msg());
            return 2;
        }
    CU_basic_set_mode(CU_BRM_NORMAL);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    printf("%u passed, %u failed\n", CU_get_number_of_tests_run() - CU_get_number_of_tests_failed(),
           CU_get_number_of_tests_failed());
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
