/* The failures an operator must tell apart, each within the call's deadline:
 * a missing object or bucket (404), wrong credentials (403), a stopped server
 * (connection refused) — against the real S3Proxy — and a server that
 * accepts but never answers (timeout, from a silent local listener). The
 * elapsed times are measured to check the deadline, not as a benchmark. */
#include "common/kf_clock.h"
#include "common/kf_err.h"
#include "common/s3io.h"
#include "fake_http.h"
#include "tests/lib/kf_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEADLINE_MS 2000
#define SLACK_MS 1000

struct outcome {
    const char *what;
    int err;
    int64_t ms;
    char text[512];
};

static s3io *client(const char *endpoint, const char *bucket, const char *ak, const char *sk)
{
    char err[512];
    struct s3io_opts o = {.endpoint = endpoint,
                          .bucket = bucket,
                          .access_key = ak,
                          .secret_key = sk,
                          .timeout_ms = DEADLINE_MS};
    s3io *s3 = s3io_new(&o, err, sizeof(err));
    KT_ASSERT_MSG(s3, "%s", err);
    return s3;
}

static void get_one(s3io *s3, const char *key, struct outcome *o, const char *what)
{
    kf_buf b;
    kf_buf_init(&b);
    o->what = what;
    int64_t t0 = kf_clock_mono_us();
    o->err = s3io_get(s3, key, &b, 0, 0, o->text, sizeof(o->text));
    o->ms = (kf_clock_mono_us() - t0) / 1000;
    kf_buf_fini(&b);
    printf("# %-18s %-14s %5lld ms  %s\n", what, kf_strerror(o->err), (long long)o->ms, o->text);
    KT_ASSERT_MSG(o->ms <= DEADLINE_MS + SLACK_MS, "%s took %lld ms, deadline %d ms", what,
                  (long long)o->ms, DEADLINE_MS);
}

int main(void)
{
    const char *ep = kt_service_env("KFLEET_S3_ENDPOINT");
    const char *bucket = kt_service_env("KFLEET_S3_BUCKET");
    const char *ak = kt_service_env("KFLEET_S3_ACCESS_KEY");
    const char *sk = kt_service_env("KFLEET_S3_SECRET_KEY");
    char key[128];
    snprintf(key, sizeof(key), "kfleet-test/missing-%ld-%lld", (long)getpid(),
             (long long)kf_clock_wall_ms());

    struct outcome missing, no_bucket, bad_secret, bad_key, refused, silent;

    s3io *s3 = client(ep, bucket, ak, sk);
    get_one(s3, key, &missing, "missing object");
    s3io_free(s3);
    KT_ASSERT_INT_EQ(missing.err, -ENOENT);
    KT_ASSERT_MSG(strstr(missing.text, "no such object (404)"), "%s", missing.text);

    char nob[64];
    snprintf(nob, sizeof(nob), "kfleet-nobucket-%ld", (long)getpid());
    s3 = client(ep, nob, ak, sk);
    get_one(s3, "x", &no_bucket, "missing bucket");
    s3io_free(s3);
    KT_ASSERT_INT_EQ(no_bucket.err, -ENOENT);
    KT_ASSERT_MSG(strstr(no_bucket.text, "no such bucket"), "%s", no_bucket.text);

    s3 = client(ep, bucket, ak, "not-the-secret");
    get_one(s3, key, &bad_secret, "wrong secret");
    s3io_free(s3);
    KT_ASSERT_INT_EQ(bad_secret.err, -EACCES);
    KT_ASSERT_MSG(strstr(bad_secret.text, "credentials refused"), "%s", bad_secret.text);

    s3 = client(ep, bucket, "no-such-access-key", sk);
    get_one(s3, key, &bad_key, "wrong access key");
    s3io_free(s3);
    KT_ASSERT_INT_EQ(bad_key.err, -EACCES);

    /* A stopped server: a port nothing listens on. Retried with back-off
     * until the deadline, then refused (not "timed out": the server is down). */
    char dead[32];
    snprintf(dead, sizeof(dead), "127.0.0.1:%d", fake_http_dead_port());
    s3 = client(dead, bucket, ak, sk);
    get_one(s3, key, &refused, "server stopped");
    struct s3io_stats st;
    s3io_stats_get(s3, &st);
    s3io_free(s3);
    KT_ASSERT_INT_EQ(refused.err, -ECONNREFUSED);
    KT_ASSERT_MSG(strstr(refused.text, "connection refused") && strstr(refused.text, dead), "%s",
                  refused.text);
    KT_ASSERT_MSG(st.retries >= 2, "a refused connection was retried %llu times",
                  (unsigned long long)st.retries);

    /* A server that accepts and then says nothing. */
    static const struct fake_reply hang[] = {{.mode = FAKE_SILENT}};
    fake_http *fh = fake_http_start(hang, 1);
    s3 = client(fake_http_endpoint(fh), bucket, ak, sk);
    get_one(s3, key, &silent, "server silent");
    s3io_free(s3);
    fake_http_stop(fh);
    KT_ASSERT_INT_EQ(silent.err, -ETIMEDOUT);
    KT_ASSERT_MSG(silent.ms >= DEADLINE_MS - 100, "gave up after %lld ms", (long long)silent.ms);
    KT_ASSERT_MSG(strstr(silent.text, "deadline"), "%s", silent.text);

    /* four classes, four codes, four texts */
    const struct outcome *all[] = {&missing, &bad_secret, &refused, &silent};
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++) {
            KT_ASSERT_MSG(all[i]->err != all[j]->err, "%s and %s share error %d", all[i]->what,
                          all[j]->what, all[i]->err);
            KT_ASSERT(strcmp(all[i]->text, all[j]->text) != 0);
        }
    return 0;
}
