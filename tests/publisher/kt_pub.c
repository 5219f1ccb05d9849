#include "tests/publisher/kt_pub.h"

#include "common/kf_clock.h"
#include "common/kf_err.h"
#include "common/kio_admin.h"
#include "publisher/pub_ops.h"
#include "tests/lib/kt_proc.h"
#include "tests/publisher/kt_model.h"

#include <inttypes.h>
#include <sys/stat.h>

/* "Created" means the controller has the topic; the broker learns of it, and
 * elects partition 0's leader, a moment later. Until then a watermark query
 * (kt_pub_events) fails with an unknown topic or no leader: the scenario that
 * counts events first (interrupt) was flaky. Wait until the leader answers one. */
static void wait_for_leader(kio_admin *ka, const char *topic)
{
    int64_t deadline = kf_clock_mono_us() + 30 * 1000000LL;
    int64_t low, high;
    int rc;
    while ((rc = kio_admin_watermarks(ka, topic, 0, &low, &high, 5000))) {
        if (kf_clock_mono_us() > deadline) {
            fprintf(stderr, "%s [0] has no leader 30 s after its creation: %s\n", topic,
                    kf_strerror(rc));
            exit(KF_TEST_HARD_ERROR);
        }
        kf_sleep_ms(50);
    }
    KT_ASSERT_MSG(low == 0 && high == 0, "new topic %s holds records (%" PRId64 "..%" PRId64 ")",
                  topic, low, high);
}

void kt_pub_init(struct kt_pub *t, const char *tag, const char *bin)
{
    memset(t, 0, sizeof(*t));
    t->bin = bin;
    t->brokers = kt_service_env("KFLEET_BROKERS");
    kt_service_env("KFLEET_S3_ENDPOINT");
    t->dir = kt_mkdtemp(tag);
    long long now = (long long)kf_clock_wall_ms();
    snprintf(t->topic, sizeof(t->topic), "kfleet-test.pub.%s.%d.%lld", tag, (int)getpid(), now);
    snprintf(t->model, sizeof(t->model), "pt-%s-%d-%lld", tag, (int)getpid(), now % 100000000);

    char err[512];
    struct kio_opts ko = {.brokers = t->brokers, .client_id = "kt-pub"};
    kio_admin *ka = kio_admin_new(&ko, err, sizeof(err));
    KT_ASSERT_MSG(ka, "%s", err);
    const char *cfg[] = {"retention.ms", "-1", "message.timestamp.type", "LogAppendTime", NULL};
    struct kio_topic_spec spec = {
        .name = t->topic, .partitions = 1, .replication_factor = -1, .configs = cfg};
    if (kio_admin_topics_create(ka, &spec, 1, false, 30000, err, sizeof(err))) {
        fprintf(stderr, "cannot create %s: %s\n", t->topic, err);
        exit(KF_TEST_HARD_ERROR);
    }
    wait_for_leader(ka, t->topic);
    kio_admin_free(ka);

    t->conf = kf_conf_new(pub_props, pub_props_count, err, sizeof(err));
    KT_ASSERT(t->conf);
    KT_ASSERT_MSG(!kf_conf_load_env(t->conf, "KFLEET_", err, sizeof(err)), "%s", err);
    KT_ASSERT(!kf_conf_set(t->conf, "topic.control", t->topic, err, sizeof(err)));
    KT_ASSERT(!kf_conf_set(t->conf, "brokers", t->brokers, err, sizeof(err)));
    pub_ctx_init(&t->pc, t->conf);

    char base[600];
    snprintf(base, sizeof(base), "%s/signer", t->dir);
    FILE *devnull = fopen("/dev/null", "w");
    KT_ASSERT_MSG(!pub_keygen(base, devnull, err, sizeof(err)), "%s", err);
    fclose(devnull);
    snprintf(t->key, sizeof(t->key), "%s.key", base);
    snprintf(t->pub, sizeof(t->pub), "%s.pub", base);
    KT_ASSERT_MSG(!pub_ctx_load_key(&t->pc, t->key, err, sizeof(err)), "%s", err);
    KT_ASSERT_MSG(!pub_store(&t->pc, err, sizeof(err)), "%s", err);
    struct objstore_s3_opts s3 = {
        .endpoint = kt_service_env("KFLEET_S3_ENDPOINT"),
        .access_key = kt_service_env("KFLEET_S3_ACCESS_KEY"),
        .secret_key = kt_service_env("KFLEET_S3_SECRET_KEY"),
        .https = kt_s3_https(),
        .signature_v2 = kt_s3_sigv2(),
        .ca_file = kt_s3_ca_file(),
    };
    char url[128];
    snprintf(url, sizeof(url), "s3://%s", kt_service_env("KFLEET_S3_BUCKET"));
    t->os = objstore_new(url, &s3, err, sizeof(err));
    KT_ASSERT_MSG(t->os, "%s", err);
    printf("# topic %s, model %s, files in %s\n", t->topic, t->model, t->dir);
}

static int delete_key(void *opaque, const char *key, uint64_t size)
{
    char err[256];
    (void)size;
    objstore_delete(opaque, key, err, sizeof(err));
    return 0;
}

void kt_pub_fini(struct kt_pub *t)
{
    char err[512], prefix[128];
    /* The manifests of this test's model; chunks are content-addressed and
     * may be shared, so they stay (S3Proxy's disk is the devstack's). */
    snprintf(prefix, sizeof(prefix), "models/%s/", t->model);
    objstore_list(t->os, prefix, delete_key, t->os, err, sizeof(err));
    struct kio_opts ko = {.brokers = t->brokers, .client_id = "kt-pub"};
    kio_admin *ka = kio_admin_new(&ko, err, sizeof(err));
    const char *names[] = {t->topic};
    if (ka && kio_admin_topics_delete(ka, names, 1, 30000, err, sizeof(err)))
        fprintf(stderr, "could not delete %s: %s\n", t->topic, err);
    kio_admin_free(ka);
    pub_ctx_fini(&t->pc);
    kf_conf_free(t->conf);
    objstore_free(t->os);
    if (!getenv("KT_KEEP"))
        kt_rmtree(t->dir);
    free(t->dir);
}

static void slurp(const char *path, char *buf, size_t size)
{
    if (!buf || !size)
        return;
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

int kt_pub_run(struct kt_pub *t, const char *tag, const char *const *args, char *out,
               size_t out_size, char *err, size_t err_size)
{
    char *argv[64];
    int n = 0;
    bool own_b = false, own_topic = false;
    argv[n++] = (char *)t->bin;
    for (int i = 0; args[i] && n < 58; i++) {
        own_b |= !strcmp(args[i], "-b");
        own_topic |= !strcmp(args[i], "--control-topic");
        argv[n++] = (char *)args[i];
    }
    if (!own_b) {
        argv[n++] = "-b";
        argv[n++] = (char *)t->brokers;
    }
    if (!own_topic) {
        argv[n++] = "--control-topic";
        argv[n++] = t->topic;
    }
    argv[n] = NULL;
    char po[700], pe[700];
    snprintf(po, sizeof(po), "%s/%s.out", t->dir, tag);
    snprintf(pe, sizeof(pe), "%s/%s.err", t->dir, tag);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, po, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, pe, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    KT_ASSERT_MSG(!rc, "cannot start %s: %s", argv[0], strerror(rc));
    rc = kt_wait(pid, 300);
    if (rc == -1) {
        kill(pid, SIGKILL);
        kt_wait(pid, 5);
        KT_FAIL("%s %s did not finish in 300 s", t->bin, args[0]);
    }
    slurp(po, out, out_size);
    slurp(pe, err, err_size);
    return rc;
}

int64_t kt_pub_events(struct kt_pub *t)
{
    char err[256];
    struct kio_opts ko = {.brokers = t->brokers, .client_id = "kt-pub"};
    kio_admin *ka = kio_admin_new(&ko, err, sizeof(err));
    KT_ASSERT(ka);
    int64_t low = 0, high = 0;
    KT_ASSERT(!kio_admin_watermarks(ka, t->topic, 0, &low, &high, 30000));
    kio_admin_free(ka);
    return high;
}

static int count_key(void *opaque, const char *key, uint64_t size)
{
    (void)key;
    (void)size;
    (*(size_t *)opaque)++;
    return 0;
}

size_t kt_pub_objects(struct kt_pub *t, const char *version)
{
    char prefix[400], err[256];
    snprintf(prefix, sizeof(prefix), "models/%s/%s/", t->model, version);
    size_t n = 0;
    KT_ASSERT_MSG(!objstore_list(t->os, prefix, count_key, &n, err, sizeof(err)), "%s", err);
    return n;
}

bool kt_pub_manifest_exists(struct kt_pub *t, const char *version)
{
    char key[400], err[256];
    snprintf(key, sizeof(key), "models/%s/%s/manifest.json", t->model, version);
    int rc = objstore_head(t->os, key, NULL, err, sizeof(err));
    KT_ASSERT_MSG(rc == 0 || rc == -ENOENT, "HEAD %s: %s", key, err);
    return rc == 0;
}

size_t kt_pub_read_log(struct kt_pub *t, const char *trusted_pub, struct kt_record **out)
{
    char err[512];
    crypto_keyring *kr = crypto_keyring_new();
    KT_ASSERT_MSG(!crypto_keyring_load(kr, trusted_pub, err, sizeof(err)), "%s", err);
    int64_t end = kt_pub_events(t);
    struct kio_opts ko = {.brokers = t->brokers, .client_id = "kt-pub-reader"};
    kio_consumer *kc = kio_consumer_new(&ko, NULL, err, sizeof(err));
    KT_ASSERT_MSG(kc, "%s", err);
    kio_tplist *tp = kio_tplist_new(1);
    kio_tplist_add(tp, t->topic, 0, KIO_OFFSET_BEGINNING);
    KT_ASSERT(!kio_consumer_assign(kc, tp));
    kio_tplist_free(tp);
    struct kt_record *r = calloc(end ? (size_t)end : 1, sizeof(*r));
    size_t n = 0;
    int64_t deadline = kf_clock_mono_us() + 30 * 1000000LL;
    while ((int64_t)n < end) {
        KT_ASSERT_MSG(kf_clock_mono_us() < deadline, "read %zu of %" PRId64 " records", n, end);
        kio_msg *m = NULL;
        kio_consumer_poll(kc, 200, &m);
        if (!m)
            continue;
        struct kt_record *x = &r[n++];
        x->offset = m->offset;
        x->ts_ms = m->timestamp_ms;
        x->decoded = !ctl_event_decode(m->value.ptr, m->value.len, &x->ev, err, sizeof(err));
        kf_bytes h = {0};
        bool has = !kio_msg_header(m, CTL_SIG_HEADER, &h);
        x->sig = ctl_sig_verify(has ? h.ptr : NULL, h.len, m->value.ptr, m->value.len, kr, NULL);
        kio_msg_free(m);
    }
    kio_consumer_close(kc, 5000);
    kio_consumer_free(kc);
    crypto_keyring_free(kr);
    *out = r;
    return n;
}

void kt_pub_keygen(struct kt_pub *t, const char *name, char *key, char *pub, size_t size)
{
    char base[600];
    snprintf(base, sizeof(base), "%s/%s", t->dir, name);
    char *argv[] = {(char *)t->bin, "keygen", "-o", base, NULL};
    KT_ASSERT_INT_EQ(kt_run(argv, "/dev/null", 30), 0);
    snprintf(key, size, "%s.key", base);
    snprintf(pub, size, "%s.pub", base);
}
