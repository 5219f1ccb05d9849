/* s3io against a scripted fake server: retries and back-off, deadlines,
 * error classes and their text, truncated bodies, ranges, paging, batches. */
#include "common/kf_clock.h"
#include "common/s3io.h"
#include "fake_http.h"
#include "tests/lib/kf_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XML_ERR(code, msg) \
    "<?xml version=\"1.0\"?><Error><Code>" code "</Code><Message>" msg "</Message></Error>"

/* Every test runs twice: SigV4 (libcurl transport) and SigV2 (libs3). */
static enum s3io_signature sig;

static s3io *client(const char *endpoint, int timeout_ms)
{
    char err[256];
    struct s3io_opts o = {.endpoint = endpoint,
                          .bucket = "unit-bucket",
                          .access_key = "ak",
                          .secret_key = "sk",
                          .signature = sig,
                          .timeout_ms = timeout_ms,
                          .retry_backoff_ms = 20,
                          .retry_backoff_max_ms = 200};
    s3io *s3 = s3io_new(&o, err, sizeof(err));
    KT_ASSERT_MSG(s3, "s3io_new: %s", err);
    return s3;
}

static void test_options(void)
{
    char err[256] = "";
    struct s3io_opts o = {.bucket = "b-1", .access_key = "a", .secret_key = "s"};
    KT_ASSERT(s3io_new(&o, err, sizeof(err)) == NULL);
    KT_ASSERT_MSG(strstr(err, "endpoint"), "%s", err);
    o.endpoint = "127.0.0.1:1";
    o.bucket = "ab"; /* too short for S3 */
    KT_ASSERT(s3io_new(&o, err, sizeof(err)) == NULL);
    KT_ASSERT_MSG(strstr(err, "bucket"), "%s", err);
    KT_ASSERT(s3io_new(NULL, err, sizeof(err)) == NULL);
    s3io_free(NULL);
    s3io_batch_free(NULL);
    KT_ASSERT_INT_EQ(s3io_global_init(), 0);

    s3io *s3 = client("127.0.0.1:1", 1000);
    kf_buf b;
    kf_buf_init(&b);
    KT_ASSERT_INT_EQ(s3io_put(s3, "", "x", 1, 0, NULL, 0), -EINVAL);
    KT_ASSERT_INT_EQ(s3io_put(s3, "k", NULL, 1, 0, NULL, 0), -EINVAL);
    KT_ASSERT_INT_EQ(s3io_get(s3, NULL, &b, 0, 0, NULL, 0), -EINVAL);
    KT_ASSERT_INT_EQ(s3io_get_range(s3, "k", 0, 0, b.ptr, 0, NULL, 0), -EINVAL);
    KT_ASSERT_INT_EQ(s3io_head(s3, "", NULL, 0, NULL, 0), -EINVAL);
    s3io_free(s3);
}

static void test_retry_then_success(void)
{
    static const struct fake_reply r[] = {
        {.status = 503, .body = XML_ERR("SlowDown", "Please reduce your request rate.")},
        {.status = 500, .body = XML_ERR("InternalError", "We encountered an internal error.")},
        {.status = 200, .body = "hello world"},
    };
    fake_http *fh = fake_http_start(r, 3);
    s3io *s3 = client(fake_http_endpoint(fh), 5000);
    kf_buf b;
    kf_buf_init(&b);
    char err[512] = "";
    KT_ASSERT_MSG(s3io_get(s3, "obj", &b, 0, 0, err, sizeof(err)) == 0, "%s", err);
    KT_ASSERT(b.len == 11 && !memcmp(b.ptr, "hello world", 11));
    struct s3io_stats st;
    s3io_stats_get(s3, &st);
    KT_ASSERT_INT_EQ(st.get_requests, 3);
    KT_ASSERT_INT_EQ(st.retries, 2);
    KT_ASSERT_INT_EQ(st.failures, 0);
    KT_ASSERT_INT_EQ(st.bytes_in, 11);
    struct fake_request rq = fake_http_request(fh, 2);
    KT_ASSERT_STR_EQ(rq.method, "GET");
    KT_ASSERT_STR_EQ(rq.target, "/unit-bucket/obj"); /* path-style */
    kf_buf_fini(&b);
    s3io_free(s3);
    fake_http_stop(fh);
}

static void test_forbidden(void)
{
    static const struct fake_reply r[] = {
        {.status = 403,
         .body = XML_ERR("InvalidAccessKeyId",
                         "The AWS Access Key Id you provided does not exist in our records.")},
        {.status = 403, .body = XML_ERR("SignatureDoesNotMatch", "wrong secret")},
        {.status = 403}, /* HEAD: no body at all */
    };
    fake_http *fh = fake_http_start(r, 3);
    s3io *s3 = client(fake_http_endpoint(fh), 5000);
    char err[512] = "";
    KT_ASSERT_INT_EQ(s3io_put(s3, "k", "data", 4, 0, err, sizeof(err)), -EACCES);
    KT_ASSERT_MSG(strstr(err, "credentials refused") && strstr(err, "InvalidAccessKeyId") &&
                      strstr(err, "s3://unit-bucket/k"),
                  "%s", err);
    /* the setting to change when the store takes only the other signature */
    KT_ASSERT_MSG(strstr(err, sig == S3IO_SIGV4 ? "s3.signature=v2" : "s3.signature=v4"), "%s",
                  err);
    KT_ASSERT_STR_EQ(s3io_signing(s3), sig == S3IO_SIGV4 ? "SigV4" : "SigV2");
    KT_ASSERT_INT_EQ(s3io_delete(s3, "k", 0, err, sizeof(err)), -EACCES);
    KT_ASSERT_INT_EQ(s3io_head(s3, "k", NULL, 0, err, sizeof(err)), -EACCES);
    KT_ASSERT_INT_EQ(fake_http_request_count(fh), 3); /* never retried */
    s3io_free(s3);
    fake_http_stop(fh);
}

static void test_not_found(void)
{
    static const struct fake_reply r[] = {
        {.status = 404, .body = XML_ERR("NoSuchKey", "The specified key does not exist.")},
        {.status = 404}, /* HEAD */
        {.status = 404, .body = XML_ERR("NoSuchBucket", "The specified bucket does not exist")},
        {.status = 404, .body = XML_ERR("NoSuchKey", "gone")}, /* DELETE of a missing key */
        {.status = 200, .headers = "ETag: \"x\"\r\n"},         /* HEAD: exists, 0 bytes */
    };
    fake_http *fh = fake_http_start(r, 5);
    s3io *s3 = client(fake_http_endpoint(fh), 5000);
    char err[512] = "";
    kf_buf b;
    kf_buf_init(&b);
    KT_ASSERT_INT_EQ(s3io_get(s3, "nope", &b, 0, 0, err, sizeof(err)), -ENOENT);
    KT_ASSERT_MSG(strstr(err, "no such object"), "%s", err);
    KT_ASSERT_INT_EQ(b.len, 0);
    uint64_t size = 7;
    KT_ASSERT_INT_EQ(s3io_head(s3, "nope", &size, 0, err, sizeof(err)), -ENOENT);
    KT_ASSERT_INT_EQ(size, 7); /* untouched */
    KT_ASSERT_INT_EQ(s3io_get(s3, "nope", &b, 0, 0, err, sizeof(err)), -ENOENT);
    KT_ASSERT_MSG(strstr(err, "no such bucket"), "%s", err);
    KT_ASSERT_INT_EQ(s3io_delete(s3, "nope", 0, err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(s3io_head(s3, "empty", &size, 0, err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(size, 0);
    kf_buf_fini(&b);
    s3io_free(s3);
    fake_http_stop(fh);
}

static void test_deadline_silent_server(void)
{
    static const struct fake_reply r[] = {{.mode = FAKE_SILENT}};
    fake_http *fh = fake_http_start(r, 1);
    s3io *s3 = client(fake_http_endpoint(fh), 30000);
    char err[512] = "";
    kf_buf b;
    kf_buf_init(&b);
    int64_t t0 = kf_clock_mono_us();
    KT_ASSERT_INT_EQ(s3io_get(s3, "slow", &b, 0, 700, err, sizeof(err)), -ETIMEDOUT);
    int64_t ms = (kf_clock_mono_us() - t0) / 1000;
    printf("#   timed out after %lld ms: %s\n", (long long)ms, err);
    KT_ASSERT_MSG(ms >= 650 && ms <= 700 + 500, "elapsed %lld ms for a 700 ms deadline",
                  (long long)ms);
    KT_ASSERT_MSG(strstr(err, "700 ms deadline"), "%s", err);
    kf_buf_fini(&b);
    s3io_free(s3);
    fake_http_stop(fh);
}

static void test_connection_refused(void)
{
    char ep[32];
    snprintf(ep, sizeof(ep), "127.0.0.1:%d", fake_http_dead_port());
    s3io *s3 = client(ep, 1500);
    char err[512] = "";
    int64_t t0 = kf_clock_mono_us();
    KT_ASSERT_INT_EQ(s3io_put(s3, "k", "x", 1, 0, err, sizeof(err)), -ECONNREFUSED);
    int64_t ms = (kf_clock_mono_us() - t0) / 1000;
    printf("#   refused after %lld ms: %s\n", (long long)ms, err);
    KT_ASSERT_MSG(ms <= 1500 + 500, "elapsed %lld ms", (long long)ms);
    KT_ASSERT_MSG(strstr(err, "connection refused") && strstr(err, "is the S3 server running"),
                  "%s", err);
    struct s3io_stats st;
    s3io_stats_get(s3, &st);
    KT_ASSERT_MSG(st.put_requests > 2, "retried only %llu times",
                  (unsigned long long)st.put_requests);
    KT_ASSERT_INT_EQ(st.failures, 1);
    s3io_free(s3);
}

static void test_truncated_body_resumes(void)
{
    char body[100];
    for (int i = 0; i < 100; i++)
        body[i] = (char)('A' + i % 26);
    struct fake_reply r[] = {
        {.mode = FAKE_TRUNCATE, .status = 200, .body = body, .body_len = 100, .body_sent = 40},
        {.status = 206, .body = body + 40, .body_len = 60},
    };
    fake_http *fh = fake_http_start(r, 2);
    s3io *s3 = client(fake_http_endpoint(fh), 5000);
    char err[512] = "";
    kf_buf b;
    kf_buf_init(&b);
    KT_ASSERT_MSG(s3io_get(s3, "cut", &b, 0, 0, err, sizeof(err)) == 0, "%s", err);
    KT_ASSERT_INT_EQ(b.len, 100);
    KT_ASSERT(!memcmp(b.ptr, body, 100));
    KT_ASSERT_INT_EQ(fake_http_request_count(fh), 2);
    KT_ASSERT_STR_EQ(fake_http_request(fh, 0).range, "");
    KT_ASSERT_STR_EQ(fake_http_request(fh, 1).range, "bytes=40-");
    kf_buf_fini(&b);
    s3io_free(s3);
    fake_http_stop(fh);
}

static void test_ranges(void)
{
    static const struct fake_reply r[] = {
        {.status = 206, .body = "01234"},                /* exact */
        {.status = 200, .body = "0123456789abcdefghij"}, /* Range ignored: too much */
        {.status = 206, .body = "wxyz"},                 /* object shorter than asked */
        {.status = 416, .body = XML_ERR("InvalidRange", "The requested range is not satisfiable")},
    };
    fake_http *fh = fake_http_start(r, 4);
    s3io *s3 = client(fake_http_endpoint(fh), 5000);
    char err[512] = "";
    char dst[16];
    KT_ASSERT_MSG(s3io_get_range(s3, "r", 10, 5, dst, 0, err, sizeof(err)) == 0, "%s", err);
    KT_ASSERT(!memcmp(dst, "01234", 5));
    KT_ASSERT_STR_EQ(fake_http_request(fh, 0).range, "bytes=10-14");
    KT_ASSERT_INT_EQ(s3io_get_range(s3, "r", 10, 5, dst, 0, err, sizeof(err)), -EPROTO);
    KT_ASSERT_INT_EQ(s3io_get_range(s3, "r", 96, 10, dst, 0, err, sizeof(err)), -ERANGE);
    KT_ASSERT_INT_EQ(s3io_get_range(s3, "r", 1000, 10, dst, 0, err, sizeof(err)), -ERANGE);
    KT_ASSERT_INT_EQ(fake_http_request_count(fh), 4);
    s3io_free(s3);
    fake_http_stop(fh);
}

static void test_put_retried_whole(void)
{
    static const struct fake_reply r[] = {
        {.status = 500, .body = XML_ERR("InternalError", "try again")},
        {.status = 200, .headers = "ETag: \"abc\"\r\n"},
    };
    fake_http *fh = fake_http_start(r, 2);
    s3io *s3 = client(fake_http_endpoint(fh), 5000);
    size_t n = 300000;
    char *data = malloc(n);
    memset(data, 'p', n);
    char err[512] = "";
    KT_ASSERT_MSG(s3io_put(s3, "dir/obj", data, n, 0, err, sizeof(err)) == 0, "%s", err);
    KT_ASSERT_INT_EQ(fake_http_request_count(fh), 2);
    for (size_t i = 0; i < 2; i++) {
        struct fake_request rq = fake_http_request(fh, i);
        KT_ASSERT_STR_EQ(rq.method, "PUT");
        KT_ASSERT_STR_EQ(rq.target, "/unit-bucket/dir/obj");
        KT_ASSERT_INT_EQ(rq.body_len, n);
    }
    struct s3io_stats st;
    s3io_stats_get(s3, &st);
    KT_ASSERT_INT_EQ(st.put_requests, 2);
    KT_ASSERT_INT_EQ(st.bytes_out, n);
    free(data);
    s3io_free(s3);
    fake_http_stop(fh);
}

#define LIST_HEAD "<?xml version=\"1.0\"?><ListBucketResult><Name>unit-bucket</Name>"
#define LIST_ITEM(k, n)                                                               \
    "<Contents><Key>" k "</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>" \
    "<ETag>\"e\"</ETag><Size>" #n "</Size></Contents>"

struct listed {
    char keys[8][64];
    uint64_t sizes[8];
    int n;
    int stop_at;
};

static int on_key(void *opaque, const char *key, uint64_t size)
{
    struct listed *l = opaque;
    if (l->n == l->stop_at)
        return -EINTR;
    KT_ASSERT(l->n < 8);
    snprintf(l->keys[l->n], sizeof(l->keys[0]), "%s", key);
    l->sizes[l->n++] = size;
    return 0;
}

static void test_list_pages(void)
{
    static const struct fake_reply r[] = {
        {.status = 200,
         .body = LIST_HEAD "<IsTruncated>true</IsTruncated>" LIST_ITEM("m/a", 1)
             LIST_ITEM("m/b", 22) "</ListBucketResult>"},
        {.status = 503, .body = XML_ERR("SlowDown", "later")},
        {.status = 200,
         .body = LIST_HEAD
         "<IsTruncated>false</IsTruncated>" LIST_ITEM("m/c", 333) "</ListBucketResult>"},
        {.status = 200,
         .body = LIST_HEAD "<IsTruncated>false</IsTruncated>" LIST_ITEM("m/a", 1)
             LIST_ITEM("m/b", 2) "</ListBucketResult>"},
    };
    fake_http *fh = fake_http_start(r, 4);
    s3io *s3 = client(fake_http_endpoint(fh), 5000);
    char err[512] = "";
    struct listed l = {.stop_at = -1};
    KT_ASSERT_MSG(s3io_list(s3, "m/", on_key, &l, 0, err, sizeof(err)) == 0, "%s", err);
    KT_ASSERT_INT_EQ(l.n, 3);
    KT_ASSERT_STR_EQ(l.keys[0], "m/a");
    KT_ASSERT_STR_EQ(l.keys[1], "m/b");
    KT_ASSERT_STR_EQ(l.keys[2], "m/c");
    KT_ASSERT_INT_EQ(l.sizes[2], 333);
    struct fake_request p1 = fake_http_request(fh, 0), p2 = fake_http_request(fh, 2);
    KT_ASSERT_MSG(strstr(p1.target, "prefix=m") && !strstr(p1.target, "marker="), "%s", p1.target);
    KT_ASSERT_MSG(strstr(p2.target, "marker=m") && strstr(p2.target, "b"), "%s", p2.target);
    /* the callback can stop the listing */
    struct listed l2 = {.stop_at = 1};
    KT_ASSERT_INT_EQ(s3io_list(s3, "m/", on_key, &l2, 0, err, sizeof(err)), -EINTR);
    KT_ASSERT_INT_EQ(l2.n, 1);
    s3io_free(s3);
    fake_http_stop(fh);
}

static int stop_cb(void *opaque, const uint8_t *data, size_t len)
{
    (void)opaque;
    (void)data;
    (void)len;
    return -EIO;
}

static void test_callback_abort_and_limits(void)
{
    static const struct fake_reply r[] = {
        {.status = 200, .body = "some bytes"},
        {.status = 200, .body = "0123456789"},
    };
    fake_http *fh = fake_http_start(r, 2);
    s3io *s3 = client(fake_http_endpoint(fh), 5000);
    char err[512] = "";
    KT_ASSERT_INT_EQ(s3io_get_stream(s3, "s", 0, 0, stop_cb, NULL, 0, err, sizeof(err)), -EIO);
    kf_buf b;
    kf_buf_init(&b);
    KT_ASSERT_INT_EQ(kf_buf_append(&b, "keep", 4), 0);
    KT_ASSERT_INT_EQ(s3io_get(s3, "big", &b, 5, 0, err, sizeof(err)), -EFBIG);
    KT_ASSERT_INT_EQ(b.len, 4); /* unchanged on failure */
    KT_ASSERT_INT_EQ(fake_http_request_count(fh), 2);
    kf_buf_fini(&b);
    s3io_free(s3);
    fake_http_stop(fh);
}

static void test_batch(void)
{
    /* Parallel requests reach the server in any order: the GETs of one
     * batch get the same answer; the PUT runs in a batch of its own. */
    static const struct fake_reply r[] = {
        {.status = 206, .body = "abcd"},
        {.status = 206, .body = "abcd"},
        {.status = 206, .body = "abcd"},
        {.status = 200},
        {.status = 404, .body = XML_ERR("NoSuchKey", "no")},
    };
    fake_http *fh = fake_http_start(r, 5);
    s3io *s3 = client(fake_http_endpoint(fh), 5000);
    s3io_batch *b = s3io_batch_new(s3);
    char d[3][4];
    for (int i = 0; i < 3; i++)
        KT_ASSERT_INT_EQ(s3io_batch_get_range(b, "obj", (uint64_t)i * 4, 4, d[i]), i);
    KT_ASSERT_INT_EQ(s3io_batch_get_range(b, "x", 0, 0, d[0]), -EINVAL);
    char err[512] = "";
    KT_ASSERT_MSG(s3io_batch_run(b, 0, err, sizeof(err)) == 0, "%s", err);
    for (int i = 0; i < 3; i++) {
        KT_ASSERT_INT_EQ(s3io_batch_result(b, i), 0);
        KT_ASSERT(!memcmp(d[i], "abcd", 4));
    }
    KT_ASSERT_INT_EQ(s3io_batch_result(b, 9), -EINVAL);
    s3io_batch_free(b);
    b = s3io_batch_new(s3);
    KT_ASSERT_INT_EQ(s3io_batch_put(b, "other", "xy", 2), 0);
    KT_ASSERT_MSG(s3io_batch_run(b, 0, err, sizeof(err)) == 0, "%s", err);
    s3io_batch_free(b);

    /* one failing member fails the batch and keeps its own result */
    b = s3io_batch_new(s3);
    KT_ASSERT_INT_EQ(s3io_batch_get_range(b, "gone", 0, 4, d[0]), 0);
    KT_ASSERT_INT_EQ(s3io_batch_run(b, 0, err, sizeof(err)), -ENOENT);
    KT_ASSERT_INT_EQ(s3io_batch_result(b, 0), -ENOENT);
    s3io_batch_free(b);
    s3io_free(s3);
    fake_http_stop(fh);
}

static void test_bucket_create(void)
{
    static const struct fake_reply r[] = {
        {.status = 200},
        {.status = 409, .body = XML_ERR("BucketAlreadyOwnedByYou", "yours already")},
        {.status = 409, .body = XML_ERR("BucketAlreadyExists", "taken")},
    };
    fake_http *fh = fake_http_start(r, 3);
    s3io *s3 = client(fake_http_endpoint(fh), 5000);
    char err[512] = "";
    KT_ASSERT_MSG(s3io_bucket_create(s3, 0, err, sizeof(err)) == 0, "%s", err);
    KT_ASSERT_STR_EQ(fake_http_request(fh, 0).method, "PUT");
    KT_ASSERT_INT_EQ(s3io_bucket_create(s3, 0, err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(s3io_bucket_create(s3, 0, err, sizeof(err)), -EEXIST);
    s3io_free(s3);
    fake_http_stop(fh);
}

/* What a SigV4 request carries: the signature with region and signed
 * headers, the payload hash, the session token, a canonical URI. */
static void test_v4_request_shape(void)
{
    static const struct fake_reply r[] = {
        {.status = 200},
        {.status = 200, .body = "xy"},
        {.status = 200, .body = LIST_HEAD "<IsTruncated>false</IsTruncated></ListBucketResult>"},
    };
    fake_http *fh = fake_http_start(r, 3);
    char err[512] = "";
    struct s3io_opts o = {.endpoint = fake_http_endpoint(fh),
                          .bucket = "unit-bucket",
                          .access_key = "ak",
                          .secret_key = "sk",
                          .region = "eu-west-3",
                          .session_token = "tok/123+=",
                          .timeout_ms = 5000};
    s3io *s3 = s3io_new(&o, err, sizeof(err));
    KT_ASSERT_MSG(s3, "%s", err);
    KT_ASSERT_MSG(s3io_put(s3, "dir/../a b+c~", "data", 4, 0, err, sizeof(err)) == 0, "%s", err);
    kf_buf b;
    kf_buf_init(&b);
    KT_ASSERT_MSG(s3io_get(s3, "k", &b, 0, 0, err, sizeof(err)) == 0, "%s", err);
    kf_buf_fini(&b);
    struct listed l = {.stop_at = -1};
    KT_ASSERT_MSG(s3io_list(s3, "p q/", on_key, &l, 0, err, sizeof(err)) == 0, "%s", err);
    struct fake_request put = fake_http_request(fh, 0), get = fake_http_request(fh, 1),
                        list = fake_http_request(fh, 2);
    KT_ASSERT_STR_EQ(put.method, "PUT");
    KT_ASSERT_STR_EQ(put.target, "/unit-bucket/dir/../a%20b%2Bc~"); /* keys are opaque */
    KT_ASSERT_INT_EQ(put.body_len, 4);
    KT_ASSERT_STR_EQ(put.content_sha256, "UNSIGNED-PAYLOAD");
    KT_ASSERT_STR_EQ(put.security_token, "tok/123+=");
    KT_ASSERT_MSG(!strncmp(put.authorization, "AWS4-HMAC-SHA256 Credential=ak/", 31) &&
                      strstr(put.authorization, "/eu-west-3/s3/aws4_request") &&
                      strstr(put.authorization, "x-amz-content-sha256") &&
                      strstr(put.authorization, "x-amz-security-token") &&
                      !strstr(put.authorization, "expect"),
                  "%s", put.authorization);
    KT_ASSERT_STR_EQ(get.content_sha256,
                     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    KT_ASSERT_STR_EQ(list.target, "/unit-bucket?max-keys=1000&prefix=p%20q%2F");
    KT_ASSERT_STR_EQ(s3io_signing(s3), "SigV4");
    s3io_free(s3);
    fake_http_stop(fh);

    /* libs3 2.0 cannot send a token nor check a certificate: say so */
    o.endpoint = "127.0.0.1:1"; /* the fake server's name is gone with it */
    o.signature = S3IO_SIGV2;
    KT_ASSERT(s3io_new(&o, err, sizeof(err)) == NULL);
    KT_ASSERT_MSG(strstr(err, "s3.signature=v4"), "%s", err);
    o.session_token = NULL;
    o.ca_file = "/etc/ssl/certs/ca-certificates.crt";
    KT_ASSERT(s3io_new(&o, err, sizeof(err)) == NULL);
    o.ca_file = NULL;
    o.region = "eu west";
    KT_ASSERT(s3io_new(&o, err, sizeof(err)) == NULL);
    KT_ASSERT_MSG(strstr(err, "region"), "%s", err);
}

/* SigV2 requests are signed "AWS <key>:<signature>" (libs3). */
static void test_v2_request_shape(void)
{
    static const struct fake_reply r[] = {{.status = 200}};
    fake_http *fh = fake_http_start(r, 1);
    s3io *s3 = client(fake_http_endpoint(fh), 5000);
    char err[512] = "";
    KT_ASSERT_MSG(s3io_put(s3, "k", "data", 4, 0, err, sizeof(err)) == 0, "%s", err);
    struct fake_request put = fake_http_request(fh, 0);
    KT_ASSERT_MSG(!strncmp(put.authorization, "AWS ak:", 7), "%s", put.authorization);
    KT_ASSERT_STR_EQ(put.security_token, "");
    s3io_free(s3);
    fake_http_stop(fh);
}

/* Virtual-host addressing: the bucket in the host name, not the path.
 * curl resolves *.localhost to the loopback itself (no DNS). */
static void test_v4_virtual_host(void)
{
    static const struct fake_reply r[] = {
        {.status = 200, .headers = "ETag: \"0123abc\"\r\n"},
        {.status = 200, .body = LIST_HEAD "<IsTruncated>false</IsTruncated></ListBucketResult>"},
    };
    fake_http *fh = fake_http_start(r, 2);
    char ep[64], err[512] = "", etag[S3IO_ETAG_CAP];
    snprintf(ep, sizeof(ep), "localhost:%s", strchr(fake_http_endpoint(fh), ':') + 1);
    struct s3io_opts o = {.endpoint = ep,
                          .bucket = "unit-bucket",
                          .access_key = "ak",
                          .secret_key = "sk",
                          .virtual_host = true,
                          .timeout_ms = 5000};
    s3io *s3 = s3io_new(&o, err, sizeof(err));
    KT_ASSERT_MSG(s3, "%s", err);
    KT_ASSERT_MSG(s3io_head_etag(s3, "d/k", NULL, etag, 0, err, sizeof(err)) == 0, "%s", err);
    KT_ASSERT_STR_EQ(etag, "0123abc");
    struct listed l = {.stop_at = -1};
    KT_ASSERT_MSG(s3io_list(s3, NULL, on_key, &l, 0, err, sizeof(err)) == 0, "%s", err);
    struct fake_request head = fake_http_request(fh, 0), list = fake_http_request(fh, 1);
    char host[128];
    snprintf(host, sizeof(host), "unit-bucket.%s", ep);
    KT_ASSERT_STR_EQ(head.host, host);
    KT_ASSERT_STR_EQ(head.target, "/d/k");
    KT_ASSERT_STR_EQ(list.target, "/?max-keys=1000");
    s3io_free(s3);
    fake_http_stop(fh);
}

/* A listing answer s3io cannot trust is -EPROTO with a reason, not a guess
 * and not a loop: garbage, a Contents without Size, a truncated page that
 * does not move on. */
static void test_v4_bad_listing(void)
{
    static const struct fake_reply r[] = {
        {.status = 200, .body = "<html>not s3</html>"},
        {.status = 200, .body = LIST_HEAD "<Contents><Key>a</Key></Contents></ListBucketResult>"},
        {.status = 200, .body = LIST_HEAD "<IsTruncated>true</IsTruncated></ListBucketResult>"},
    };
    fake_http *fh = fake_http_start(r, 3);
    s3io *s3 = client(fake_http_endpoint(fh), 5000);
    char err[512] = "";
    struct listed l = {.stop_at = -1};
    KT_ASSERT_INT_EQ(s3io_list(s3, NULL, on_key, &l, 0, err, sizeof(err)), -EPROTO);
    KT_ASSERT_MSG(strstr(err, "ListBucketResult"), "%s", err);
    KT_ASSERT_INT_EQ(s3io_list(s3, NULL, on_key, &l, 0, err, sizeof(err)), -EPROTO);
    KT_ASSERT_MSG(strstr(err, "Size"), "%s", err);
    KT_ASSERT_INT_EQ(s3io_list(s3, NULL, on_key, &l, 0, err, sizeof(err)), -EPROTO);
    KT_ASSERT_MSG(strstr(err, "does not move"), "%s", err);
    KT_ASSERT_INT_EQ(l.n, 0);
    KT_ASSERT_INT_EQ(fake_http_request_count(fh), 3); /* none of these is retried */
    s3io_free(s3);
    fake_http_stop(fh);
}

static void run_all(void)
{
    KT_RUN(test_options);
    KT_RUN(test_retry_then_success);
    KT_RUN(test_forbidden);
    KT_RUN(test_not_found);
    KT_RUN(test_deadline_silent_server);
    KT_RUN(test_connection_refused);
    KT_RUN(test_truncated_body_resumes);
    KT_RUN(test_ranges);
    KT_RUN(test_put_retried_whole);
    KT_RUN(test_list_pages);
    KT_RUN(test_callback_abort_and_limits);
    KT_RUN(test_batch);
    KT_RUN(test_bucket_create);
}

int main(void)
{
    printf("# SigV4 (libcurl)\n");
    sig = S3IO_SIGV4;
    run_all();
    KT_RUN(test_v4_request_shape);
    KT_RUN(test_v4_virtual_host);
    KT_RUN(test_v4_bad_listing);
    printf("# SigV2 (libs3)\n");
    sig = S3IO_SIGV2;
    run_all();
    KT_RUN(test_v2_request_shape);
    return 0;
}
