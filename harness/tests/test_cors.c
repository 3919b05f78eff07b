/* The CORS algorithm from request and response descriptions (Fetch standard; Chromium's
 * wording and leniencies). */
#include "browser/cookie_jar.h"
#include "browser/cors.h"
#include "tests/test_registry.h"

#include <CUnit/CUnit.h>
#include <string.h>

#define ORIGIN "http://app.test"

static header_list headers(const char *const *pairs)
{
    header_list h = {0};
    for (size_t i = 0; pairs && pairs[i]; i += 2)
        header_list_add(&h, pairs[i], pairs[i + 1]);
    return h;
}

static void test_safelisted_request_headers(void)
{
    CU_ASSERT_TRUE(cors_safelisted_request_header("Accept", "*/*"));
    CU_ASSERT_FALSE(cors_safelisted_request_header("Accept", "a(b)"));
    CU_ASSERT_TRUE(cors_safelisted_request_header("Content-Type", "text/plain;charset=UTF-8"));
    CU_ASSERT_TRUE(cors_safelisted_request_header("content-type", "multipart/form-data; b=x"));
    CU_ASSERT_FALSE(cors_safelisted_request_header("Content-Type", "application/json"));
    CU_ASSERT_TRUE(cors_safelisted_request_header("Accept-Language", "en-US,en;q=0.9"));
    CU_ASSERT_FALSE(cors_safelisted_request_header("Content-Language", "en/us"));
    CU_ASSERT_TRUE(cors_safelisted_request_header("Range", "bytes=0-"));
    CU_ASSERT_TRUE(cors_safelisted_request_header("Range", "bytes=5-10"));
    CU_ASSERT_FALSE(cors_safelisted_request_header("Range", "bytes=10-5"));
    CU_ASSERT_FALSE(cors_safelisted_request_header("Range", "bytes=0-1,3-4"));
    CU_ASSERT_FALSE(cors_safelisted_request_header("X-Requested-With", "XMLHttpRequest"));
    char long_value[200];
    memset(long_value, 'a', sizeof long_value - 1);
    long_value[sizeof long_value - 1] = '\0';
    CU_ASSERT_FALSE(cors_safelisted_request_header("Accept", long_value)); /* > 128 bytes */
}

static void test_unsafe_names_and_preflight_decision(void)
{
    static const char *const req[] = {"X-B", "1", "x-a", "2", "Accept", "*/*", "X-b", "3",
                                      "Content-Type", "application/json", NULL};
    header_list h = headers(req);
    buf names = {0};
    CU_ASSERT_EQUAL(cors_unsafe_header_names(&h, &names), 3);
    CU_ASSERT_STRING_EQUAL(names.data, "content-type,x-a,x-b"); /* lower, sorted, unique */
    buf_free(&names);
    CU_ASSERT_TRUE(cors_needs_preflight("GET", &h, false));
    header_list_free(&h);

    header_list none = {0};
    CU_ASSERT_FALSE(cors_needs_preflight("GET", &none, false));
    CU_ASSERT_FALSE(cors_needs_preflight("POST", &none, false));
    CU_ASSERT_TRUE(cors_needs_preflight("PUT", &none, false));
    CU_ASSERT_TRUE(cors_needs_preflight("get", &none, false)); /* methods are case-sensitive */
    CU_ASSERT_TRUE(cors_needs_preflight("POST", &none, true)); /* upload listeners */
}

static void test_cors_check(void)
{
    char msg[512];
    static const char *const star[] = {"Access-Control-Allow-Origin", "*", NULL};
    static const char *const exact[] = {"Access-Control-Allow-Origin", ORIGIN, NULL};
    static const char *const two[] = {"Access-Control-Allow-Origin", ORIGIN,
                                      "Access-Control-Allow-Origin", ORIGIN, NULL};
    static const char *const other[] = {"Access-Control-Allow-Origin", "http://example.com", NULL};
    static const char *const cred_ok[] = {"Access-Control-Allow-Origin", ORIGIN,
                                          "Access-Control-Allow-Credentials", "true", NULL};
    static const char *const cred_upper[] = {"Access-Control-Allow-Origin", ORIGIN,
                                             "Access-Control-Allow-Credentials", "TRUE", NULL};
    static const char *const null_acao[] = {"Access-Control-Allow-Origin", "null", NULL};
    header_list h = headers(NULL);
    CU_ASSERT_FALSE(cors_check(&h, ORIGIN, false, msg, sizeof msg));
    CU_ASSERT_STRING_EQUAL(msg, "No 'Access-Control-Allow-Origin' header is present on the "
                                "requested resource.");
    h = headers(star);
    CU_ASSERT_TRUE(cors_check(&h, ORIGIN, false, msg, sizeof msg));
    CU_ASSERT_FALSE(cors_check(&h, ORIGIN, true, msg, sizeof msg)); /* * with credentials */
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "must not be the wildcard '*'"));
    header_list_free(&h);
    h = headers(exact);
    CU_ASSERT_TRUE(cors_check(&h, ORIGIN, false, msg, sizeof msg));
    CU_ASSERT_FALSE(cors_check(&h, ORIGIN, true, msg, sizeof msg)); /* no ACAC */
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "is '' which must be 'true'"));
    header_list_free(&h);
    h = headers(two);
    CU_ASSERT_FALSE(cors_check(&h, ORIGIN, false, msg, sizeof msg));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "contains multiple values"));
    header_list_free(&h);
    h = headers(other);
    CU_ASSERT_FALSE(cors_check(&h, ORIGIN, false, msg, sizeof msg));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "has a value 'http://example.com' that is not equal"));
    header_list_free(&h);
    h = headers(cred_ok);
    CU_ASSERT_TRUE(cors_check(&h, ORIGIN, true, msg, sizeof msg));
    header_list_free(&h);
    h = headers(cred_upper);
    CU_ASSERT_FALSE(cors_check(&h, ORIGIN, true, msg, sizeof msg)); /* exactly "true" */
    header_list_free(&h);
    h = headers(null_acao);
    CU_ASSERT_TRUE(cors_check(&h, "null", false, msg, sizeof msg)); /* a tainted origin */
    CU_ASSERT_FALSE(cors_check(&h, ORIGIN, false, msg, sizeof msg));
    header_list_free(&h);
}

static void test_preflight(void)
{
    char msg[512];
    preflight_result pr;
    static const char *const ok[] = {"Access-Control-Allow-Origin", ORIGIN,
                                     "Access-Control-Allow-Methods", "GET, PUT",
                                     "Access-Control-Allow-Headers", "X-Test, Content-Type",
                                     "Access-Control-Max-Age", "600", NULL};
    static const char *const req[] = {"x-test", "1", NULL};
    static const char *const req_auth[] = {"Authorization", "Bearer x", NULL};
    header_list resp = headers(ok), rq = headers(req);
    CU_ASSERT_EQUAL(cors_preflight_check(200, &resp, ORIGIN, false, "PUT", &rq, &pr, msg,
                                         sizeof msg), CORS_ALLOWED);
    CU_ASSERT_EQUAL(pr.max_age_us, 600 * 1000000LL);
    /* the cache covers PUT + x-test for 600 s, and nothing else */
    cors_cache cache = {0};
    cors_cache_store(&cache, ORIGIN, "http://api/x", false, "PUT", &rq, &pr, 0);
    CU_ASSERT_TRUE(cors_cache_covers(&cache, ORIGIN, "http://api/x", false, "PUT", &rq, 1000));
    CU_ASSERT_FALSE(cors_cache_covers(&cache, ORIGIN, "http://api/x", false, "PUT", &rq,
                                      601 * 1000000LL));
    CU_ASSERT_FALSE(cors_cache_covers(&cache, ORIGIN, "http://api/x", true, "PUT", &rq, 1000));
    CU_ASSERT_FALSE(cors_cache_covers(&cache, ORIGIN, "http://api/y", false, "PUT", &rq, 1000));
    CU_ASSERT_FALSE(cors_cache_covers(&cache, ORIGIN, "http://api/x", false, "DELETE", &rq, 1000));
    cors_cache_free(&cache);
    preflight_result_free(&pr);
    CU_ASSERT_EQUAL(cors_preflight_check(200, &resp, ORIGIN, false, "DELETE", &rq, &pr, msg,
                                         sizeof msg), CORS_BLOCKED);
    CU_ASSERT_STRING_EQUAL(msg, "Method DELETE is not allowed by Access-Control-Allow-Methods "
                                "in preflight response.");
    CU_ASSERT_EQUAL(cors_preflight_check(404, &resp, ORIGIN, false, "PUT", &rq, &pr, msg,
                                         sizeof msg), CORS_BLOCKED);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "It does not have HTTP ok status."));
    CU_ASSERT_EQUAL(cors_preflight_check(302, &resp, ORIGIN, false, "PUT", &rq, &pr, msg,
                                         sizeof msg), CORS_BLOCKED);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "Redirect is not allowed for a preflight request."));
    header_list_free(&resp);
    header_list_free(&rq);

    /* Allow-Headers: * — covers custom headers without credentials; Authorization only by
     * Chromium's leniency; nothing with credentials */
    static const char *const star[] = {"Access-Control-Allow-Origin", ORIGIN,
                                       "Access-Control-Allow-Headers", "*",
                                       "Access-Control-Allow-Credentials", "true", NULL};
    resp = headers(star);
    rq = headers(req);
    CU_ASSERT_EQUAL(cors_preflight_check(204, &resp, ORIGIN, false, "GET", &rq, &pr, msg,
                                         sizeof msg), CORS_ALLOWED);
    preflight_result_free(&pr);
    CU_ASSERT_EQUAL(cors_preflight_check(204, &resp, ORIGIN, true, "GET", &rq, &pr, msg,
                                         sizeof msg), CORS_BLOCKED);
    CU_ASSERT_STRING_EQUAL(msg, "Request header field x-test is not allowed by "
                                "Access-Control-Allow-Headers in preflight response.");
    header_list_free(&rq);
    rq = headers(req_auth);
    CU_ASSERT_EQUAL(cors_preflight_check(204, &resp, ORIGIN, false, "GET", &rq, &pr, msg,
                                         sizeof msg), CORS_ALLOWED_LENIENT);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "Authorization"));
    preflight_result_free(&pr);
    header_list_free(&rq);
    header_list_free(&resp);
}

static void test_exposed_headers(void)
{
    static const char *const none[] = {"X-Custom", "v", NULL};
    static const char *const some[] = {"Access-Control-Expose-Headers", "X-Custom, x-other", NULL};
    static const char *const star[] = {"Access-Control-Expose-Headers", "*", NULL};
    header_list h = headers(none);
    CU_ASSERT_TRUE(cors_header_exposed("Content-Length", &h, false));
    CU_ASSERT_TRUE(cors_header_exposed("content-type", &h, true));
    CU_ASSERT_FALSE(cors_header_exposed("X-Custom", &h, false));
    CU_ASSERT_FALSE(cors_header_exposed("Content-Encoding", &h, false));
    header_list_free(&h);
    h = headers(some);
    CU_ASSERT_TRUE(cors_header_exposed("x-custom", &h, false));
    CU_ASSERT_TRUE(cors_header_exposed("X-Other", &h, true));
    CU_ASSERT_FALSE(cors_header_exposed("X-Third", &h, false));
    header_list_free(&h);
    h = headers(star);
    CU_ASSERT_TRUE(cors_header_exposed("X-Third", &h, false));
    CU_ASSERT_FALSE(cors_header_exposed("X-Third", &h, true)); /* `*` is literal with credentials */
    CU_ASSERT_FALSE(cors_header_exposed("Set-Cookie", &h, false));
    header_list_free(&h);
}

static void test_cookie_jar(void)
{
    url u, other, https;
    CU_ASSERT_EQUAL(url_parse(&u, "http://app.test/a/b?x=1", NULL, 0), 0);
    CU_ASSERT_EQUAL(url_parse(&other, "http://api.app.test/a/c", NULL, 0), 0);
    CU_ASSERT_EQUAL(url_parse(&https, "https://app.test/", NULL, 0), 0);
    cookie_jar jar = {0};
    buf b = {0};
    cookie_jar_store(&jar, &u, "host=1");                       /* host-only, path /a */
    cookie_jar_store(&jar, &u, "dom=2; Domain=.app.test; Path=/");
    cookie_jar_store(&jar, &u, "evil=3; Domain=example.com");   /* not the host's domain */
    cookie_jar_store(&jar, &u, "sec=4; Secure");                /* not from http */
    cookie_jar_store(&jar, &https, "none=5; SameSite=None; Secure; Path=/");
    cookie_jar_store(&jar, &u, "novalue");                      /* no '=': ignored */
    cookie_jar_header(&jar, &u, false, &b);
    CU_ASSERT_STRING_EQUAL(b.data, "host=1; dom=2");
    buf_reset(&b);
    cookie_jar_header(&jar, &other, false, &b); /* a subdomain: only the Domain cookie */
    CU_ASSERT_STRING_EQUAL(b.data, "dom=2");
    buf_reset(&b);
    cookie_jar_header(&jar, &https, true, &b); /* cross-site: only SameSite=None */
    CU_ASSERT_STRING_EQUAL(b.data, "none=5");
    buf_reset(&b);
    cookie_jar_store(&jar, &u, "dom=; Max-Age=0; Domain=app.test; Path=/");
    cookie_jar_store(&jar, &u, "host=9");                       /* replaces */
    cookie_jar_header(&jar, &u, false, &b);
    CU_ASSERT_STRING_EQUAL(b.data, "host=9");
    buf_free(&b);
    cookie_jar_free(&jar);
    url_free(&u);
    url_free(&other);
    url_free(&https);
}

CU_ErrorCode register_cors_tests(void)
{
    CU_pSuite s = CU_add_suite("cors", NULL, NULL);
    if (!s || !CU_add_test(s, "safelisted request headers", test_safelisted_request_headers) ||
        !CU_add_test(s, "unsafe names, preflight decision", test_unsafe_names_and_preflight_decision) ||
        !CU_add_test(s, "CORS check", test_cors_check) ||
        !CU_add_test(s, "preflight verdicts and cache", test_preflight) ||
        !CU_add_test(s, "exposed response headers", test_exposed_headers) ||
        !CU_add_test(s, "cookie jar", test_cookie_jar))
        return CU_get_error();
    return CUE_SUCCESS;
}
