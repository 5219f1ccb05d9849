/**
 * @file kf_test.h
 * @brief The few helpers every kfleet test uses: assertions that fail the
 *        test (exit 1), and the devstack's service addresses.
 *
 * Exit codes follow meson: 0 pass, 77 skip, 99 broken fixture (hard error).
 * A test that needs Kafka or S3 skips (77) when the service is not configured,
 * unless KFLEET_REQUIRE_SERVICES=1 (CI), where a missing service is 99.
 */
#ifndef KF_TEST_H
#define KF_TEST_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KF_TEST_SKIP 77
#define KF_TEST_HARD_ERROR 99

#define KT_FAIL(...)                                          \
    do {                                                      \
        fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__); \
        fprintf(stderr, __VA_ARGS__);                         \
        fputc('\n', stderr);                                  \
        exit(1);                                              \
    } while (0)

#define KT_ASSERT(cond)                             \
    do {                                            \
        if (!(cond))                                \
            KT_FAIL("assertion failed: %s", #cond); \
    } while (0)

#define KT_ASSERT_MSG(cond, ...)  \
    do {                          \
        if (!(cond))              \
            KT_FAIL(__VA_ARGS__); \
    } while (0)

#define KT_ASSERT_INT_EQ(a, b)                                       \
    do {                                                             \
        long long kt_a_ = (long long)(a), kt_b_ = (long long)(b);    \
        if (kt_a_ != kt_b_)                                          \
            KT_FAIL("%s == %s: %lld != %lld", #a, #b, kt_a_, kt_b_); \
    } while (0)

#define KT_ASSERT_STR_EQ(a, b)                                                      \
    do {                                                                            \
        const char *kt_a_ = (a), *kt_b_ = (b);                                      \
        if (!kt_a_ || !kt_b_ || strcmp(kt_a_, kt_b_))                               \
            KT_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, kt_a_ ? kt_a_ : "(null)", \
                    kt_b_ ? kt_b_ : "(null)");                                      \
    } while (0)

/** @brief Run a named sub-test and say so on stdout (a failure exits inside it). */
#define KT_RUN(fn)              \
    do {                        \
        printf("# %s\n", #fn);  \
        fflush(stdout);         \
        fn();                   \
        printf("ok %s\n", #fn); \
    } while (0)

/**
 * @brief The value of a devstack variable (KFLEET_BROKERS, KFLEET_S3_ENDPOINT,
 *        ...), or exit: 77 when unset, 99 when unset under KFLEET_REQUIRE_SERVICES=1.
 */
static inline const char *kt_service_env(const char *name)
{
    const char *v = getenv(name);
    if (v && *v)
        return v;
    const char *req = getenv("KFLEET_REQUIRE_SERVICES");
    bool required = req && !strcmp(req, "1");
    fprintf(stderr, "%s is not set: run `eval \"$(ops/devstack env)\"` after `ops/devstack up`%s\n",
            name, required ? " (required: KFLEET_REQUIRE_SERVICES=1)" : "; skipping");
    exit(required ? KF_TEST_HARD_ERROR : KF_TEST_SKIP);
}

/**
 * @brief Whether the devstack's S3 speaks HTTPS: KFLEET_S3_HTTPS is "true" or "1"
 *        (`ops/devstack env --secure` sets it; the certificate's CA must be
 *        trusted, docs/security.md).
 */
static inline bool kt_s3_https(void)
{
    const char *v = getenv("KFLEET_S3_HTTPS");
    return v && (!strcmp(v, "true") || !strcmp(v, "1"));
}

/**
 * @brief Whether the devstack's S3 takes only SigV2: KFLEET_S3_SIGNATURE is
 *        "v2" (`ops/devstack env --sigv2`); otherwise requests sign SigV4.
 */
static inline bool kt_s3_sigv2(void)
{
    const char *v = getenv("KFLEET_S3_SIGNATURE");
    return v && !strcmp(v, "v2");
}

/**
 * @brief The CA file that s3.https trusts: KFLEET_S3_CA_FILE (`ops/devstack
 *        env --secure` sets it to the devstack's CA); NULL: the system's.
 */
static inline const char *kt_s3_ca_file(void)
{
    const char *v = getenv("KFLEET_S3_CA_FILE");
    return v && *v ? v : NULL;
}

#endif
