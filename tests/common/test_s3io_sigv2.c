/* The signature fallback (issue 18): the same build against a SigV2-only
 * S3Proxy (`ops/devstack up --sigv2`) works with s3.signature=v2, and with
 * the default (SigV4) fails with one line that names the setting to change;
 * a SigV2 client against the SigV4-only main S3Proxy says the opposite.
 * Suite `sigv2`: ops/test runs it under `ops/devstack env --sigv2`, which
 * also names the main endpoint in KFLEET_S3_V4_ENDPOINT. */
#include "common/kf_clock.h"
#include "common/kf_err.h"
#include "common/s3io.h"
#include "tests/lib/kf_test.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char prefix[96];

static s3io *client(const char *endpoint, enum s3io_signature sig)
{
    char err[512];
    struct s3io_opts o = {.endpoint = endpoint,
                          .bucket = kt_service_env("KFLEET_S3_BUCKET"),
                          .access_key = kt_service_env("KFLEET_S3_ACCESS_KEY"),
                          .secret_key = kt_service_env("KFLEET_S3_SECRET_KEY"),
                          .signature = sig,
                          .timeout_ms = 10000};
    s3io *s3 = s3io_new(&o, err, sizeof(err));
    KT_ASSERT_MSG(s3, "%s", err);
    return s3;
}

static int count_key(void *opaque, const char *key, uint64_t size)
{
    (void)key;
    KT_ASSERT_INT_EQ(size, 5);
    (*(int *)opaque)++;
    return 0;
}

/* s3.signature=v2 against the SigV2-only store: every kind of request. */
static void test_v2_works(const char *ep)
{
    s3io *s3 = client(ep, S3IO_SIGV2);
    KT_ASSERT_STR_EQ(s3io_signing(s3), "SigV2");
    char err[512] = "", key[160];
    uint64_t size = 0;
    snprintf(key, sizeof(key), "%sobj", prefix);
    KT_ASSERT_MSG(s3io_put(s3, key, "hello", 5, 0, err, sizeof(err)) == 0, "%s", err);
    KT_ASSERT_MSG(s3io_head(s3, key, &size, 0, err, sizeof(err)) == 0, "%s", err);
    KT_ASSERT_INT_EQ(size, 5);
    kf_buf b;
    kf_buf_init(&b);
    KT_ASSERT_MSG(s3io_get(s3, key, &b, 0, 0, err, sizeof(err)) == 0, "%s", err);
    KT_ASSERT(b.len == 5 && !memcmp(b.ptr, "hello", 5));
    kf_buf_fini(&b);
    int n = 0;
    KT_ASSERT_MSG(s3io_list(s3, prefix, count_key, &n, 0, err, sizeof(err)) == 0, "%s", err);
    KT_ASSERT_INT_EQ(n, 1);
    KT_ASSERT_MSG(s3io_delete(s3, key, 0, err, sizeof(err)) == 0, "%s", err);
    s3io_free(s3);
}

/* The default, SigV4, against the SigV2-only store: refused at once (403 is
 * not retried), and the reason says which setting to change. */
static void test_v4_refused_names_setting(const char *ep)
{
    s3io *s3 = client(ep, S3IO_SIGV4);
    KT_ASSERT_STR_EQ(s3io_signing(s3), "SigV4");
    char err[512] = "", key[160];
    snprintf(key, sizeof(key), "%sv4", prefix);
    KT_ASSERT_INT_EQ(s3io_put(s3, key, "x", 1, 0, err, sizeof(err)), -EACCES);
    printf("# SigV4 against SigV2-only: %s\n", err);
    KT_ASSERT_MSG(strstr(err, "s3.signature=v2") && strstr(err, ep) && !strchr(err, '\n'), "%s",
                  err);
    uint64_t size;
    KT_ASSERT_INT_EQ(s3io_head(s3, key, &size, 0, err, sizeof(err)), -EACCES); /* no body */
    KT_ASSERT_MSG(strstr(err, "s3.signature=v2"), "%s", err);
    s3io_free(s3);
}

/* SigV2 against the SigV4-only main store: the opposite advice. */
static void test_v2_refused_names_setting(const char *v4_ep)
{
    s3io *s3 = client(v4_ep, S3IO_SIGV2);
    char err[512] = "", key[160];
    snprintf(key, sizeof(key), "%sv2", prefix);
    int rc = s3io_put(s3, key, "x", 1, 0, err, sizeof(err));
    if (!rc)
        s3io_delete(s3, key, 0, NULL, 0);
    KT_ASSERT_MSG(rc != 0,
                  "the S3Proxy at %s accepted SigV2: it must run aws-v4 (an older "
                  "devstack: ops/devstack stop-s3 && ops/devstack start-s3)",
                  v4_ep);
    KT_ASSERT_INT_EQ(rc, -EACCES);
    printf("# SigV2 against SigV4-only: %s\n", err);
    KT_ASSERT_MSG(strstr(err, "s3.signature=v4") && strstr(err, v4_ep), "%s", err);
    s3io_free(s3);
}

int main(void)
{
    const char *ep = kt_service_env("KFLEET_S3_ENDPOINT");
    const char *v4_ep = kt_service_env("KFLEET_S3_V4_ENDPOINT");
    KT_ASSERT_MSG(kt_s3_sigv2(), "run under `ops/devstack env --sigv2` (KFLEET_S3_SIGNATURE=v2)");
    snprintf(prefix, sizeof(prefix), "kfleet-test/sigv2-%ld-%lld/", (long)getpid(),
             (long long)kf_clock_wall_ms());
    printf("# SigV2-only %s, SigV4-only %s\n", ep, v4_ep);
    test_v2_works(ep);
    printf("ok test_v2_works\n");
    test_v4_refused_names_setting(ep);
    printf("ok test_v4_refused_names_setting\n");
    test_v2_refused_names_setting(v4_ep);
    printf("ok test_v2_refused_names_setting\n");
    return 0;
}
