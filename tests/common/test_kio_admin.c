/* Topic and group administration against the real broker: a control-style
 * topic (1 partition, infinite retention, LogAppendTime), errors for bad
 * requests, group description and deletion, the statistics hook. */
#include "common/kf_clock.h"
#include "kio_test_util.h"
#include "tests/lib/kf_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int stats_seen;

static void on_stats(void *opaque, const char *json, size_t len)
{
    (void)opaque;
    KT_ASSERT(len > 0 && json[0] == '{');
    KT_ASSERT(strstr(json, "\"type\": \"consumer\"") || strstr(json, "\"type\":\"consumer\""));
    stats_seen++;
}

static void test_control_topic(void)
{
    char topic[128], err[512], v[64];
    kt_unique_name(topic, sizeof(topic), "ctl");
    const char *const configs[] = {"retention.ms", "-1", "message.timestamp.type", "LogAppendTime",
                                   NULL};
    kt_topic_create(topic, 1, configs);
    kio_admin *ka = kt_admin();
    KT_ASSERT_INT_EQ(kio_admin_topic_partitions(ka, topic, 10000, err, sizeof(err)), 1);
    KT_ASSERT_INT_EQ(
        kio_admin_topic_config(ka, topic, "retention.ms", v, sizeof(v), 10000, err, sizeof(err)),
        0);
    KT_ASSERT_STR_EQ(v, "-1");
    KT_ASSERT_INT_EQ(kio_admin_topic_config(ka, topic, "message.timestamp.type", v, sizeof(v),
                                            10000, err, sizeof(err)),
                     0);
    KT_ASSERT_STR_EQ(v, "LogAppendTime");
    KT_ASSERT_INT_EQ(
        kio_admin_topic_config(ka, topic, "no.such.entry", v, sizeof(v), 10000, err, sizeof(err)),
        -ENOENT);

    /* again: -EEXIST, or success with exist_ok */
    struct kio_topic_spec spec = {.name = topic, .partitions = 1, .configs = configs};
    KT_ASSERT_INT_EQ(kio_admin_topics_create(ka, &spec, 1, false, 10000, err, sizeof(err)),
                     -EEXIST);
    KT_ASSERT_MSG(strstr(err, topic), "%s", err);
    KT_ASSERT_INT_EQ(kio_admin_topics_create(ka, &spec, 1, true, 10000, err, sizeof(err)), 0);

    /* the broker stamps the time: a producer's old timestamp is replaced */
    struct kio_opts o = kt_opts("kfleet-test-ctl");
    kio_producer *kp = kio_producer_new(&o, NULL, err, sizeof(err));
    KT_ASSERT(kp);
    struct kio_out_msg m = {.topic = topic, .value = "{}", .value_len = 2, .timestamp_ms = 1000};
    KT_ASSERT_INT_EQ(kio_producer_send(kp, &m, KIO_SEND_COPY), 0);
    KT_ASSERT_INT_EQ(kio_producer_flush(kp, 10000), 0);
    kio_producer_free(kp);

    kio_consumer *kc = kio_consumer_new(&o, NULL, err, sizeof(err));
    KT_ASSERT_MSG(kc, "%s", err);
    kio_tplist *parts = kio_tplist_new(1);
    kio_tplist_add(parts, topic, 0, KIO_OFFSET_BEGINNING);
    KT_ASSERT_INT_EQ(kio_consumer_assign(kc, parts), 0);
    kio_tplist_free(parts);
    kio_msg *msg = NULL;
    int64_t t0 = kf_clock_mono_us();
    while (!msg && kf_clock_mono_us() - t0 < 15000000)
        kio_consumer_poll(kc, 200, &msg);
    KT_ASSERT(msg);
    KT_ASSERT_INT_EQ(msg->ts_type, KIO_TS_LOG_APPEND_TIME);
    KT_ASSERT_MSG(msg->timestamp_ms > kf_clock_wall_ms() - 600000, "timestamp %lld",
                  (long long)msg->timestamp_ms);
    kio_msg_free(msg);
    kio_consumer_free(kc);
}

static void test_bad_requests(void)
{
    char topic[128], err[512] = "";
    kio_admin *ka = kt_admin();
    kt_unique_name(topic, sizeof(topic), "bad");
    const char *const bad_cfg[] = {"retention.ms", "forever", NULL};
    struct kio_topic_spec spec = {.name = topic, .partitions = 1, .configs = bad_cfg};
    int e = kio_admin_topics_create(ka, &spec, 1, false, 10000, err, sizeof(err));
    printf("#   bad config: %d %s\n", e, err);
    KT_ASSERT_INT_EQ(e, -EINVAL);
    spec.configs = NULL;
    spec.partitions = 0;
    KT_ASSERT_INT_EQ(kio_admin_topics_create(ka, &spec, 1, false, 10000, err, sizeof(err)),
                     -EINVAL);
    /* looking a topic up never creates it (the devstack auto-creates on metadata) */
    KT_ASSERT_INT_EQ(kio_admin_topic_partitions(ka, topic, 10000, err, sizeof(err)), -ENOENT);
    KT_ASSERT_MSG(strstr(err, "no such topic"), "%s", err);
    KT_ASSERT_INT_EQ(kio_admin_topic_partitions(ka, topic, 10000, err, sizeof(err)), -ENOENT);
    const char *names[] = {topic};
    KT_ASSERT_INT_EQ(kio_admin_topics_delete(ka, names, 1, 10000, err, sizeof(err)), -ENOENT);
    int64_t lo, hi;
    KT_ASSERT(kio_admin_watermarks(ka, topic, 0, &lo, &hi, 3000) < 0);
}

static void test_group_membership(void)
{
    char topic[128], group[128], err[512];
    kt_unique_name(topic, sizeof(topic), "grp");
    kt_unique_name(group, sizeof(group), "grp-group");
    kt_topic_create(topic, 2, NULL);
    kio_admin *ka = kt_admin();

    struct kio_opts o = kt_opts("kfleet-test-member");
    o.stats_cb = on_stats;
    o.stats_interval_ms = 200;
    struct kio_consumer_opts co = {.group_id = group};
    kio_consumer *kc = kio_consumer_new(&o, &co, err, sizeof(err));
    KT_ASSERT_MSG(kc, "%s", err);
    const char *topics[] = {topic};
    KT_ASSERT_INT_EQ(kio_consumer_subscribe(kc, topics, 1), 0);
    int64_t t0 = kf_clock_mono_us();
    kio_tplist *asg = NULL;
    for (;;) {
        kio_msg *m = NULL;
        kio_consumer_poll(kc, 100, &m);
        kio_msg_free(m);
        kio_tplist_free(asg);
        KT_ASSERT_INT_EQ(kio_consumer_assignment(kc, &asg), 0);
        if (asg->count == 2 && stats_seen > 0)
            break;
        KT_ASSERT_MSG(kf_clock_mono_us() - t0 < 30000000, "no assignment / stats in 30 s");
    }
    kio_tplist_free(asg);

    struct kio_group *g = NULL;
    KT_ASSERT_INT_EQ(kio_admin_group_describe(ka, group, &g, 10000, err, sizeof(err)), 0);
    KT_ASSERT_STR_EQ(g->group_id, group);
    KT_ASSERT_STR_EQ(g->state, "Stable");
    KT_ASSERT_STR_EQ(g->assignor, "cooperative-sticky");
    KT_ASSERT_INT_EQ(g->member_count, 1);
    char *mid = kio_consumer_member_id(kc);
    KT_ASSERT_STR_EQ(g->members[0].member_id, mid);
    KT_ASSERT_STR_EQ(g->members[0].client_id, "kfleet-test-member");
    KT_ASSERT(g->members[0].host && *g->members[0].host);
    KT_ASSERT(g->members[0].instance_id == NULL);
    KT_ASSERT_INT_EQ(g->members[0].assignment->count, 2);
    KT_ASSERT_STR_EQ(g->members[0].assignment->elems[0].topic, topic);
    KT_ASSERT_INT_EQ(g->members[0].assignment->elems[1].partition, 1);
    free(mid);
    kio_group_free(g);
    kio_group_free(NULL);

    /* a group with a member cannot be deleted */
    KT_ASSERT_INT_EQ(kio_admin_group_delete(ka, group, 10000, err, sizeof(err)), -EBUSY);
    /* A committed offset keeps the group after its last member leaves: an
     * empty group with none may be dropped by the coordinator on its own,
     * and the delete below would then race it. */
    kio_tplist *offs = kio_tplist_new(1);
    kio_tplist_add(offs, topic, 0, 0);
    KT_ASSERT_INT_EQ(kio_consumer_commit_offsets(kc, offs, false), 0);
    kio_tplist_free(offs);
    KT_ASSERT_INT_EQ(kio_consumer_close(kc, 20000), 0);
    kio_consumer_free(kc);
    KT_ASSERT_INT_EQ(kio_admin_group_delete(ka, group, 10000, err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(kio_admin_group_delete(ka, group, 10000, err, sizeof(err)), -ENOENT);

    /* an unknown group is Dead and empty */
    char nobody[128];
    kt_unique_name(nobody, sizeof(nobody), "nobody");
    KT_ASSERT_INT_EQ(kio_admin_group_describe(ka, nobody, &g, 10000, err, sizeof(err)), 0);
    KT_ASSERT_STR_EQ(g->state, "Dead");
    KT_ASSERT_INT_EQ(g->member_count, 0);
    kio_group_free(g);
}

int main(void)
{
    kt_brokers();
    KT_RUN(test_control_topic);
    KT_RUN(test_bad_requests);
    KT_RUN(test_group_membership);
    return 0;
}
