/* The object store behaves the same over file:// and s3:// (the real
 * S3Proxy): put/get/range/head/list/delete, missing keys, unsafe keys. */
#include "common/objstore.h"
#include "tests/lib/kf_test.h"

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

struct listed {
    char keys[16][256];
    uint64_t sizes[16];
    int n;
};

static int collect(void *opaque, const char *key, uint64_t size)
{
    struct listed *l = opaque;
    if (l->n < 16) {
        snprintf(l->keys[l->n], sizeof(l->keys[0]), "%s", key);
        l->sizes[l->n++] = size;
    }
    return 0;
}

static void exercise(objstore *os, const char *prefix)
{
    char err[512], k1[256], k2[256], k3[256], lp[256];
    snprintf(k1, sizeof(k1), "%s/blobs/sha256/aa", prefix);
    snprintf(k2, sizeof(k2), "%s/blobs/sha256/bb", prefix);
    snprintf(k3, sizeof(k3), "%s/models/m/v1/manifest.json", prefix);
    uint8_t data[10000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 31 + 7);
    KT_ASSERT_INT_EQ(objstore_put(os, k1, data, sizeof(data), err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(objstore_put(os, k2, data, 10, err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(objstore_put(os, k3, "{}", 2, err, sizeof(err)), 0);

    /* The ETag: S3Proxy's for a single PUT is the MD5 of the bytes (md5sum of
     * "{}"); file:// has none. A missing object is -ENOENT either way. */
    char etag[OBJSTORE_ETAG_CAP];
    uint64_t esize = 0;
    KT_ASSERT_INT_EQ(objstore_head_etag(os, k3, &esize, etag, err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(esize, 2);
    KT_ASSERT_STR_EQ(etag, objstore_s3(os) ? "99914b932bd37a50b983c5e7c90ae93b" : "");
    char gone[300];
    snprintf(gone, sizeof(gone), "%s/no/such/object", prefix);
    KT_ASSERT_INT_EQ(objstore_head_etag(os, gone, &esize, etag, err, sizeof(err)), -ENOENT);

    uint64_t size = 0;
    KT_ASSERT_INT_EQ(objstore_head(os, k1, &size, err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(size, sizeof(data));
    kf_buf b;
    kf_buf_init(&b);
    KT_ASSERT_INT_EQ(objstore_get(os, k1, &b, 0, err, sizeof(err)), 0);
    KT_ASSERT(b.len == sizeof(data) && !memcmp(b.ptr, data, sizeof(data)));
    kf_buf_reset(&b);
    KT_ASSERT_INT_EQ(objstore_get(os, k1, &b, 100, err, sizeof(err)), -EFBIG);
    kf_buf_fini(&b);

    uint8_t part[100];
    KT_ASSERT_INT_EQ(objstore_get_range(os, k1, 5000, sizeof(part), part, err, sizeof(err)), 0);
    KT_ASSERT(!memcmp(part, data + 5000, sizeof(part)));
    KT_ASSERT(objstore_get_range(os, k2, 5, 100, part, err, sizeof(err)) < 0);

    struct listed l = {0};
    snprintf(lp, sizeof(lp), "%s/blobs/", prefix);
    KT_ASSERT_INT_EQ(objstore_list(os, lp, collect, &l, err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(l.n, 2);
    KT_ASSERT_STR_EQ(l.keys[0], k1);
    KT_ASSERT_STR_EQ(l.keys[1], k2);
    KT_ASSERT_INT_EQ(l.sizes[1], 10);

    char missing[300];
    snprintf(missing, sizeof(missing), "%s/nothing/here", prefix);
    KT_ASSERT_INT_EQ(objstore_head(os, missing, NULL, err, sizeof(err)), -ENOENT);
    kf_buf_init(&b);
    KT_ASSERT_INT_EQ(objstore_get(os, missing, &b, 0, err, sizeof(err)), -ENOENT);
    KT_ASSERT_INT_EQ(b.len, 0);

    KT_ASSERT_INT_EQ(objstore_delete(os, k1, err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(objstore_delete(os, k1, err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(objstore_head(os, k1, NULL, err, sizeof(err)), -ENOENT);
    objstore_delete(os, k2, err, sizeof(err));
    objstore_delete(os, k3, err, sizeof(err));

    struct objstore_counts c;
    objstore_counts(os, &c);
    KT_ASSERT(c.puts >= 3);
}

static void test_file_store(void)
{
    char dir[] = "/tmp/kfleet-objstore-XXXXXX", url[300], err[512];
    KT_ASSERT(mkdtemp(dir));
    snprintf(url, sizeof(url), "file://%s/store", dir);
    objstore *os = objstore_new(url, NULL, err, sizeof(err));
    KT_ASSERT_MSG(os, "%s", err);
    exercise(os, "t");
    /* Keys from the wire never leave the store's directory. */
    KT_ASSERT_INT_EQ(objstore_put(os, "../escape", "x", 1, err, sizeof(err)), -EINVAL);
    KT_ASSERT_INT_EQ(objstore_put(os, "/abs", "x", 1, err, sizeof(err)), -EINVAL);
    KT_ASSERT_INT_EQ(objstore_head(os, "a/../../b", NULL, err, sizeof(err)), -EINVAL);
    objstore_free(os);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    KT_ASSERT_INT_EQ(system(cmd), 0);
}

static void test_bad_urls(void)
{
    char err[512];
    KT_ASSERT(!objstore_new("ftp://x", NULL, err, sizeof(err)));
    KT_ASSERT(strstr(err, "s3://BUCKET or file:///DIR"));
    KT_ASSERT(!objstore_new("s3://", NULL, err, sizeof(err)));
    KT_ASSERT(!objstore_new("s3://bucket", NULL, err, sizeof(err)));
    KT_ASSERT(strstr(err, "endpoint"));
    KT_ASSERT(!objstore_new("file://relative", NULL, err, sizeof(err)));
    objstore_free(NULL);
}

static void test_s3_store(void)
{
    struct objstore_s3_opts o = {
        .endpoint = kt_service_env("KFLEET_S3_ENDPOINT"),
        .access_key = kt_service_env("KFLEET_S3_ACCESS_KEY"),
        .secret_key = kt_service_env("KFLEET_S3_SECRET_KEY"),
        .https = kt_s3_https(),
        .signature_v2 = kt_s3_sigv2(),
        .ca_file = kt_s3_ca_file(),
    };
    char url[300], err[512], prefix[64];
    snprintf(url, sizeof(url), "s3://%s", kt_service_env("KFLEET_S3_BUCKET"));
    objstore *os = objstore_new(url, &o, err, sizeof(err));
    KT_ASSERT_MSG(os, "%s", err);
    KT_ASSERT(objstore_s3(os) != NULL);
    snprintf(prefix, sizeof(prefix), "test-objstore-%d", (int)getpid());
    exercise(os, prefix);
    objstore_free(os);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "s3")) {
        KT_RUN(test_s3_store);
        return 0;
    }
    KT_RUN(test_file_store);
    KT_RUN(test_bad_urls);
    return 0;
}
