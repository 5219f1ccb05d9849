/* s3io against the devstack's S3Proxy: small-object put/head/get/list/delete,
 * a 100 MiB object written and read back byte-identical through parallel
 * ranged GETs, and parallel PUTs read back as hashed streams (what the model
 * store does with chunks). */
#include "common/crypto.h"
#include "common/kf_clock.h"
#include "common/s3io.h"
#include "tests/lib/kf_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char prefix[128];

#define KT_RUN_S3(fn)           \
    do {                        \
        printf("# %s\n", #fn);  \
        fflush(stdout);         \
        fn(s3);                 \
        printf("ok %s\n", #fn); \
    } while (0)

static s3io *devstack_client(int timeout_ms)
{
    char err[512];
    struct s3io_opts o = {
        .endpoint = kt_service_env("KFLEET_S3_ENDPOINT"),
        .bucket = kt_service_env("KFLEET_S3_BUCKET"),
        .access_key = kt_service_env("KFLEET_S3_ACCESS_KEY"),
        .secret_key = kt_service_env("KFLEET_S3_SECRET_KEY"),
        .https = kt_s3_https(),
        .signature = kt_s3_sigv2() ? S3IO_SIGV2 : S3IO_SIGV4,
        .ca_file = kt_s3_ca_file(),
        .timeout_ms = timeout_ms,
        .max_parallel = 8,
    };
    s3io *s3 = s3io_new(&o, err, sizeof(err));
    KT_ASSERT_MSG(s3, "%s", err);
    return s3;
}

static void key_of(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s%s", prefix, name);
}

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t x = seed | 1;
    for (size_t i = 0; i < n; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t k = n - i < 8 ? n - i : 8;
        memcpy(p + i, &x, k);
    }
}

struct listing {
    int n;
    uint64_t total;
};

static int count_key(void *opaque, const char *key, uint64_t size)
{
    struct listing *l = opaque;
    KT_ASSERT_MSG(!strncmp(key, prefix, strlen(prefix)), "listed %s outside %s", key, prefix);
    l->n++;
    l->total += size;
    return 0;
}

static int collect(void *opaque, const uint8_t *data, size_t len)
{
    return kf_buf_append(opaque, data, len);
}

static void test_small_objects(s3io *s3)
{
    char err[512], k[256];
    KT_ASSERT_MSG(s3io_bucket_create(s3, 0, err, sizeof(err)) == 0, "%s", err); /* exists: ours */
    const char *names[] = {"small/a", "small/b", "small/c d+e"}; /* a key that needs escaping */
    for (int i = 0; i < 3; i++) {
        char body[64];
        int n = snprintf(body, sizeof(body), "object %d body", i);
        key_of(k, sizeof(k), names[i]);
        KT_ASSERT_MSG(s3io_put(s3, k, body, (size_t)n, 0, err, sizeof(err)) == 0, "%s", err);
    }
    struct listing l = {0};
    char p[256];
    key_of(p, sizeof(p), "small/");
    KT_ASSERT_MSG(s3io_list(s3, p, count_key, &l, 0, err, sizeof(err)) == 0, "%s", err);
    KT_ASSERT_INT_EQ(l.n, 3);
    KT_ASSERT_INT_EQ(l.total, 3 * strlen("object 0 body"));

    key_of(k, sizeof(k), names[2]);
    uint64_t size = 0;
    KT_ASSERT_INT_EQ(s3io_head(s3, k, &size, 0, err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(size, strlen("object 2 body"));
    kf_buf b;
    kf_buf_init(&b);
    KT_ASSERT_MSG(s3io_get(s3, k, &b, 0, 0, err, sizeof(err)) == 0, "%s", err);
    KT_ASSERT(b.len == 13 && !memcmp(b.ptr, "object 2 body", 13));
    kf_buf_reset(&b);
    KT_ASSERT_INT_EQ(s3io_get_stream(s3, k, 7, 0, collect, &b, 0, err, sizeof(err)), 0);
    KT_ASSERT(b.len == 6 && !memcmp(b.ptr, "2 body", 6));
    char part[4];
    KT_ASSERT_INT_EQ(s3io_get_range(s3, k, 2, 4, part, 0, err, sizeof(err)), 0);
    KT_ASSERT(!memcmp(part, "ject", 4));
    KT_ASSERT_INT_EQ(s3io_get_range(s3, k, 10, 8, part, 0, err, sizeof(err)), -ERANGE);

    for (int i = 0; i < 3; i++) {
        key_of(k, sizeof(k), names[i]);
        KT_ASSERT_MSG(s3io_delete(s3, k, 0, err, sizeof(err)) == 0, "%s", err);
        KT_ASSERT_INT_EQ(s3io_head(s3, k, NULL, 0, err, sizeof(err)), -ENOENT);
    }
    KT_ASSERT_INT_EQ(s3io_delete(s3, k, 0, err, sizeof(err)), 0); /* already gone: fine */
    l = (struct listing){0};
    KT_ASSERT_INT_EQ(s3io_list(s3, p, count_key, &l, 0, err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(l.n, 0);
    kf_buf_fini(&b);
}

static void test_100mib(s3io *s3)
{
    const size_t size = 100u << 20;
    char err[512], k[256];
    uint8_t *src = malloc(size), *dst = malloc(size);
    KT_ASSERT(src && dst);
    fill(src, size, (uint64_t)getpid() * 2654435761u);
    memset(dst, 0, size);
    key_of(k, sizeof(k), "big/100MiB");

    struct s3io_stats before, after;
    s3io_stats_get(s3, &before);
    int64_t t0 = kf_clock_mono_us();
    KT_ASSERT_MSG(s3io_put(s3, k, src, size, 120000, err, sizeof(err)) == 0, "%s", err);
    int64_t put_ms = (kf_clock_mono_us() - t0) / 1000;
    uint64_t got_size = 0;
    KT_ASSERT_INT_EQ(s3io_head(s3, k, &got_size, 0, err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(got_size, size);

    t0 = kf_clock_mono_us();
    KT_ASSERT_MSG(s3io_get_parallel(s3, k, size, 8u << 20, dst, 120000, err, sizeof(err)) == 0,
                  "%s", err);
    int64_t get_ms = (kf_clock_mono_us() - t0) / 1000;
    KT_ASSERT_MSG(!memcmp(src, dst, size), "100 MiB read back differs");
    s3io_stats_get(s3, &after);
    printf("#   100 MiB: PUT %lld ms, 13 parallel ranged GETs %lld ms\n", (long long)put_ms,
           (long long)get_ms);
    KT_ASSERT_INT_EQ(after.put_requests - before.put_requests, 1);
    KT_ASSERT_INT_EQ(after.get_requests - before.get_requests, 13); /* ceil(100 / 8) */
    KT_ASSERT_INT_EQ(after.bytes_in - before.bytes_in, size);
    KT_ASSERT_INT_EQ(after.bytes_out - before.bytes_out, size);
    KT_ASSERT_INT_EQ(s3io_delete(s3, k, 0, err, sizeof(err)), 0);
    free(src);
    free(dst);
}

struct hashing {
    crypto_sha256 *h;
    uint64_t bytes;
};

static int hash_cb(void *opaque, const uint8_t *data, size_t len)
{
    struct hashing *hs = opaque;
    hs->bytes += len;
    return crypto_sha256_update(hs->h, data, len);
}

static void test_parallel_chunks(s3io *s3)
{
    enum { CHUNKS = 6 };
    const size_t chunk = 3u << 20;
    char err[512], keys[CHUNKS][256];
    uint8_t *data = malloc(CHUNKS * chunk);
    KT_ASSERT(data);
    fill(data, CHUNKS * chunk, 42);
    s3io_batch *b = s3io_batch_new(s3);
    for (int i = 0; i < CHUNKS; i++) {
        char name[32];
        snprintf(name, sizeof(name), "chunks/%d", i);
        key_of(keys[i], sizeof(keys[i]), name);
        KT_ASSERT_INT_EQ(s3io_batch_put(b, keys[i], data + i * chunk, chunk), i);
    }
    KT_ASSERT_MSG(s3io_batch_run(b, 60000, err, sizeof(err)) == 0, "%s", err);
    s3io_batch_free(b);

    struct hashing hs[CHUNKS];
    b = s3io_batch_new(s3);
    for (int i = 0; i < CHUNKS; i++) {
        hs[i] = (struct hashing){.h = crypto_sha256_new()};
        KT_ASSERT_INT_EQ(s3io_batch_get_stream(b, keys[i], 0, 0, hash_cb, &hs[i]), i);
    }
    KT_ASSERT_MSG(s3io_batch_run(b, 60000, err, sizeof(err)) == 0, "%s", err);
    s3io_batch_free(b);
    for (int i = 0; i < CHUNKS; i++) {
        uint8_t want[32], got[32];
        KT_ASSERT_INT_EQ(crypto_sha256_digest(data + i * chunk, chunk, want), 0);
        KT_ASSERT_INT_EQ(crypto_sha256_final(hs[i].h, got), 0);
        KT_ASSERT_INT_EQ(hs[i].bytes, chunk);
        KT_ASSERT_MSG(!memcmp(want, got, 32), "chunk %d digest differs", i);
        crypto_sha256_free(hs[i].h);
        KT_ASSERT_INT_EQ(s3io_delete(s3, keys[i], 0, err, sizeof(err)), 0);
    }
    free(data);
}

/* Over HTTPS, SigV4's transport checks the server's certificate: without the
 * devstack's CA (s3.ca_file) nothing is sent, and the reason says what to set. */
static void test_untrusted_certificate(void)
{
    char err[512];
    struct s3io_opts o = {
        .endpoint = kt_service_env("KFLEET_S3_ENDPOINT"),
        .bucket = kt_service_env("KFLEET_S3_BUCKET"),
        .access_key = kt_service_env("KFLEET_S3_ACCESS_KEY"),
        .secret_key = kt_service_env("KFLEET_S3_SECRET_KEY"),
        .https = true,
        .timeout_ms = 5000,
    };
    s3io *s3 = s3io_new(&o, err, sizeof(err));
    KT_ASSERT_MSG(s3, "%s", err);
    printf("# test_untrusted_certificate\n");
    KT_ASSERT_INT_EQ(s3io_head(s3, "kfleet-test/probe", NULL, 0, err, sizeof(err)), -EPROTO);
    KT_ASSERT_MSG(strstr(err, "not trusted") && strstr(err, "s3.ca_file"), "%s", err);
    printf("ok test_untrusted_certificate: %s\n", err);
    s3io_free(s3);
}

int main(void)
{
    snprintf(prefix, sizeof(prefix), "kfleet-test/s3io-%ld-%lld/", (long)getpid(),
             (long long)kf_clock_wall_ms());
    s3io *s3 = devstack_client(20000);
    printf("# signing with %s, prefix %s\n", s3io_signing(s3), prefix);
    /* is S3Proxy there at all? a missing key is the cheapest question */
    char err[512];
    int e = s3io_head(s3, "kfleet-test/probe", NULL, 5000, err, sizeof(err));
    if (e != 0 && e != -ENOENT) {
        fprintf(stderr, "S3 devstack not usable: %s\n", err);
        return KF_TEST_HARD_ERROR;
    }
    KT_RUN_S3(test_small_objects);
    KT_RUN_S3(test_100mib);
    KT_RUN_S3(test_parallel_chunks);
    s3io_free(s3);
    if (kt_s3_https() && kt_s3_ca_file() && !kt_s3_sigv2())
        test_untrusted_certificate();
    return 0;
}
