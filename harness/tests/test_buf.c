#include "tests/test_registry.h"
#include "util/buf.h"

#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>

static void test_append_and_limit(void)
{
    buf b = {.limit = 8};
    CU_ASSERT_EQUAL(buf_append(&b, "abcd", 4), 0);
    CU_ASSERT_EQUAL(buf_append(&b, "efgh", 4), 0);
    CU_ASSERT_EQUAL(buf_append(&b, "i", 1), -1); /* over the limit: refused, unchanged */
    CU_ASSERT_EQUAL(b.len, 8);
    CU_ASSERT_STRING_EQUAL(b.data, "abcdefgh");
    buf_consume(&b, 3);
    CU_ASSERT_STRING_EQUAL(b.data, "defgh");
    CU_ASSERT_EQUAL(buf_printf(&b, "%d", 123), 0);
    CU_ASSERT_STRING_EQUAL(b.data, "defgh123");
    CU_ASSERT_EQUAL(buf_printf(&b, "%d", 4), -1);
    char *s = buf_take(&b);
    CU_ASSERT_STRING_EQUAL(s, "defgh123");
    CU_ASSERT_PTR_NULL(b.data);
    free(s);
    buf_free(&b);
}

CU_ErrorCode register_buf_tests(void)
{
    CU_pSuite s = CU_add_suite("buf", NULL, NULL);
    if (!s || !CU_add_test(s, "append, limit, consume, take", test_append_and_limit))
        return CU_get_error();
    return CUE_SUCCESS;
}
