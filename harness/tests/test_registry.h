/* Each test file defines one register_*_tests(); add new ones to both lists. */
#ifndef COMET_TEST_REGISTRY_H
#define COMET_TEST_REGISTRY_H

#include <CUnit/CUnit.h>

typedef CU_ErrorCode (*test_registrar)(void);

CU_ErrorCode register_buf_tests(void);
CU_ErrorCode register_http1_tests(void);
CU_ErrorCode register_loader_tests(void);
CU_ErrorCode register_expect_tests(void);
CU_ErrorCode register_xhr_tests(void);
CU_ErrorCode register_report_tests(void);
CU_ErrorCode register_fixture_tests(void);
CU_ErrorCode register_fixture_sse_tests(void);
CU_ErrorCode register_fixture_ws_tests(void);
CU_ErrorCode register_expect_stream_tests(void);
CU_ErrorCode register_cors_tests(void);
CU_ErrorCode register_sse_tests(void);
CU_ErrorCode register_ws_tests(void);
CU_ErrorCode register_cors_policy_tests(void);

#endif
