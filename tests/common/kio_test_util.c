#include "kio_test_util.h"

#include "common/kf_clock.h"
#include "tests/lib/kf_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static kio_admin *admin;
static char topics[8][128];
static int ntopics;
static char groups[8][128];
static int ngroups;

const char *kt_brokers(void)
{
    return kt_service_env("KFLEET_BROKERS");
}

void kt_unique_name(char *buf, size_t size, const char *what)
{
    static int seq;
    snprintf(buf, size, "kfleet-test-%s-%ld-%lld-%d", what, (long)getpid(),
             (long long)kf_clock_wall_ms(), seq++);
}

struct kio_opts kt_opts(const char *client_id)
{
    return (struct kio_opts){.brokers = kt_brokers(), .client_id = client_id};
}

kio_consumer *kt_group_member(const char *group, const char *topic, const char *client_id)
{
    static const char *const props[] = {"enable.auto.commit", "false", NULL};
    struct kio_opts o = kt_opts(client_id);
    o.props = props;
    struct kio_consumer_opts co = {.group_id = group};
    char err[512];
    kio_consumer *kc = kio_consumer_new(&o, &co, err, sizeof(err));
    KT_ASSERT_MSG(kc, "%s", err);
    const char *subscription[] = {topic};
    KT_ASSERT_INT_EQ(kio_consumer_subscribe(kc, subscription, 1), 0);
    return kc;
}

static void cleanup(void)
{
    char err[512];
    if (!admin)
        return;
    for (int i = 0; i < ngroups; i++) {
        int e = kio_admin_group_delete(admin, groups[i], 10000, err, sizeof(err));
        if (e && e != -ENOENT)
            fprintf(stderr, "cleanup: %s\n", err);
    }
    for (int i = 0; i < ntopics; i++) {
        const char *names[1] = {topics[i]};
        if (kio_admin_topics_delete(admin, names, 1, 10000, err, sizeof(err)))
            fprintf(stderr, "cleanup: %s\n", err);
    }
    kio_admin_free(admin);
    admin = NULL;
}

kio_admin *kt_admin(void)
{
    if (admin)
        return admin;
    char err[512];
    struct kio_opts o = kt_opts("kfleet-test-admin");
    admin = kio_admin_new(&o, err, sizeof(err));
    if (!admin) {
        fprintf(stderr, "admin client: %s\n", err);
        exit(KF_TEST_HARD_ERROR);
    }
    atexit(cleanup);
    return admin;
}

void kt_topic_create(const char *topic, int partitions, const char *const *configs)
{
    char err[512];
    struct kio_topic_spec spec = {
        .name = topic, .partitions = partitions, .replication_factor = -1, .configs = configs};
    int e = kio_admin_topics_create(kt_admin(), &spec, 1, false, 30000, err, sizeof(err));
    if (e == -ETIMEDOUT || e == -ECONNREFUSED) {
        fprintf(stderr, "broker not answering: %s\n", err);
        exit(KF_TEST_HARD_ERROR);
    }
    KT_ASSERT_MSG(e == 0, "create topic: %s", err);
    KT_ASSERT(ntopics < 8);
    snprintf(topics[ntopics++], sizeof(topics[0]), "%s", topic);
    /* metadata propagates to the broker's cache a moment after the controller */
    for (int i = 0; i < 50; i++) {
        if (kio_admin_topic_partitions(kt_admin(), topic, 5000, NULL, 0) == partitions)
            return;
        kf_sleep_ms(100);
    }
    KT_FAIL("topic %s never showed %d partitions", topic, partitions);
}

void kt_track_group(const char *group)
{
    KT_ASSERT(ngroups < 8);
    snprintf(groups[ngroups++], sizeof(groups[0]), "%s", group);
}

struct produce_state {
    int delivered, failed;
};

static void on_dr(void *opaque, const struct kio_delivery *dr)
{
    struct produce_state *s = opaque;
    if (dr->err) {
        s->failed++;
        fprintf(stderr, "delivery failed: %s\n", dr->errstr);
    } else {
        s->delivered++;
    }
}

void kt_produce_ids(const char *topic, int first, int count)
{
    char err[512];
    struct produce_state st = {0};
    struct kio_opts o = kt_opts("kfleet-test-producer");
    o.opaque = &st;
    kio_producer *kp = kio_producer_new(&o, on_dr, err, sizeof(err));
    KT_ASSERT_MSG(kp, "%s", err);
    for (int i = first; i < first + count; i++) {
        char key[32], id[16], val[64];
        snprintf(key, sizeof(key), "key-%d", i);
        snprintf(id, sizeof(id), "%d", i);
        int vlen = snprintf(val, sizeof(val), "id-%d", i);
        struct kio_header h[2] = {KIO_HEADER_STR("kfleet-id", id),
                                  KIO_HEADER_STR("kfleet-test", "integration")};
        struct kio_out_msg m = {.topic = topic,
                                .partition = KIO_PARTITION_ANY,
                                .key = {(const uint8_t *)key, strlen(key)},
                                .value = val,
                                .value_len = (size_t)vlen,
                                .headers = h,
                                .header_count = 2};
        KT_ASSERT_INT_EQ(kio_producer_send(kp, &m, KIO_SEND_COPY | KIO_SEND_BLOCK), 0);
        if (i % 1000 == 0)
            kio_producer_poll(kp, 0);
    }
    KT_ASSERT_INT_EQ(kio_producer_flush(kp, 30000), 0);
    KT_ASSERT_INT_EQ(st.failed, 0);
    KT_ASSERT_INT_EQ(st.delivered, count);
    kio_producer_free(kp);
}

int kt_msg_id(const kio_msg *m)
{
    kf_bytes v;
    KT_ASSERT_INT_EQ(kio_msg_header(m, "kfleet-id", &v), 0);
    char num[16] = "";
    KT_ASSERT(v.len > 0 && v.len < sizeof(num));
    memcpy(num, v.ptr, v.len);
    char want[64];
    int id = atoi(num);
    snprintf(want, sizeof(want), "id-%d", id);
    KT_ASSERT_MSG(m->value.len == strlen(want) && !memcmp(m->value.ptr, want, m->value.len),
                  "value of %d is wrong", id);
    snprintf(want, sizeof(want), "key-%d", id);
    KT_ASSERT_MSG(m->key.len == strlen(want) && !memcmp(m->key.ptr, want, m->key.len),
                  "key of %d is wrong", id);
    KT_ASSERT_INT_EQ(kio_msg_header(m, "kfleet-test", &v), 0);
    KT_ASSERT(v.len == 11 && !memcmp(v.ptr, "integration", 11));
    return id;
}
