/* Closing consumers at the moments librdkafka 2.0.2 handles badly, on the
 * real broker: before the first assignment (a crash, fixed upstream in
 * 2.3.0), in the middle of a cooperative rebalance (a hang, fixed in 2.4.0);
 * plus the worker's handoff: unsubscribe, let a peer take over, subscribe again. */
#include "common/kf_clock.h"
#include "kio_test_util.h"
#include "tests/lib/kf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLOSE_BOUND_US (35 * 1000000LL)

#define RUN_WITH(fn, arg)       \
    do {                        \
        printf("# %s\n", #fn);  \
        fflush(stdout);         \
        fn(arg);                \
        printf("ok %s\n", #fn); \
    } while (0)

static kio_consumer *consumer(const char *group, const char *topic, const char *cid,
                              kio_rebalance_cb *cb, void *opaque)
{
    char err[512];
    struct kio_opts o = kt_opts(cid);
    o.opaque = opaque;
    struct kio_consumer_opts co = {.group_id = group, .rebalance_cb = cb};
    kio_consumer *kc = kio_consumer_new(&o, &co, err, sizeof(err));
    KT_ASSERT_MSG(kc, "%s", err);
    const char *topics[] = {topic};
    KT_ASSERT_INT_EQ(kio_consumer_subscribe(kc, topics, 1), 0);
    return kc;
}

static void poll_for(kio_consumer *kc, int ms)
{
    int64_t end = kf_clock_mono_us() + ms * 1000LL;
    do {
        kio_msg *m = NULL;
        kio_consumer_poll(kc, 10, &m);
        kio_msg_free(m);
    } while (kf_clock_mono_us() < end);
}

static void timed_free(kio_consumer *kc, const char *what)
{
    int64_t t0 = kf_clock_mono_us();
    kio_consumer_free(kc);
    int64_t us = kf_clock_mono_us() - t0;
    printf("#   %s: closed in %lld ms\n", what, (long long)us / 1000);
    KT_ASSERT_MSG(us < CLOSE_BOUND_US, "%s: close took %lld ms", what, (long long)us / 1000);
}

/* With raw librdkafka 2.0.2 a close 5-15 ms after subscribe (between the
 * JoinGroup and SyncGroup responses on the devstack) aborts in
 * rd_kafka_sticky_assignor_state_destroy about one time in four. Sweep that
 * window (and either side of it) in 1 ms steps. */
static void test_close_before_first_assignment(const char *topic)
{
    for (int us = 0; us <= 24000; us += 1000) {
        char group[128], what[64];
        kt_unique_name(group, sizeof(group), "early");
        kio_consumer *kc = consumer(group, topic, "kfleet-test-early", NULL, NULL);
        int64_t end = kf_clock_mono_us() + us;
        while (kf_clock_mono_us() < end) {
            kio_msg *m = NULL;
            kio_consumer_poll(kc, 1, &m);
            kio_msg_free(m);
        }
        snprintf(what, sizeof(what), "after %d ms", us / 1000);
        timed_free(kc, what);
    }
}

struct counts {
    int assigned, revoked;
    size_t owned;
};

static void on_rebalance(void *opaque, kio_consumer *kc, enum kio_rebalance ev,
                         const kio_tplist *parts)
{
    struct counts *c = opaque;
    (void)kc;
    if (ev == KIO_REBALANCE_ASSIGNED) {
        c->assigned++;
        c->owned += parts->count;
    } else {
        c->revoked++;
        c->owned -= parts->count;
    }
}

static void test_close_during_rebalance(const char *topic)
{
    static const int delays[] = {0, 30, 100, 300};
    for (size_t i = 0; i < sizeof(delays) / sizeof(delays[0]); i++) {
        char group[128], what[64];
        kt_unique_name(group, sizeof(group), "midway");
        struct counts ca = {0}, cb = {0};
        kio_consumer *a = consumer(group, topic, "kfleet-test-midA", on_rebalance, &ca);
        int64_t t0 = kf_clock_mono_us();
        while (ca.owned < 4) {
            poll_for(a, 50);
            KT_ASSERT_MSG(kf_clock_mono_us() - t0 < 30000000, "A never got its partitions");
        }
        /* B joins: A must give some partitions up. Close A at varying
         * points of that rebalance, then B while it is still settling. */
        kio_consumer *b = consumer(group, topic, "kfleet-test-midB", on_rebalance, &cb);
        int64_t end = kf_clock_mono_us() + delays[i] * 1000LL;
        do {
            poll_for(a, 5);
            poll_for(b, 5);
        } while (kf_clock_mono_us() < end);
        snprintf(what, sizeof(what), "A, %d ms into the rebalance", delays[i]);
        timed_free(a, what);
        KT_ASSERT_INT_EQ(ca.owned, 0); /* everything was revoked before close returned */
        poll_for(b, delays[i] / 2);
        snprintf(what, sizeof(what), "B, %d ms later", delays[i] / 2);
        timed_free(b, what);
        KT_ASSERT_INT_EQ(cb.owned, 0);
    }
}

static void test_handoff(const char *topic)
{
    char group[128];
    kt_unique_name(group, sizeof(group), "handoff");
    kt_track_group(group);
    struct counts ca = {0}, cb = {0};
    kio_consumer *a = consumer(group, topic, "kfleet-test-hA", on_rebalance, &ca);
    kio_consumer *b = consumer(group, topic, "kfleet-test-hB", on_rebalance, &cb);
    int64_t t0 = kf_clock_mono_us();
    while (!(ca.owned > 0 && cb.owned > 0 && ca.owned + cb.owned == 4)) {
        poll_for(a, 20);
        poll_for(b, 20);
        KT_ASSERT_MSG(kf_clock_mono_us() - t0 < 30000000, "no split: A %zu B %zu", ca.owned,
                      cb.owned);
    }
    /* A leaves the assignment (the worker's handoff swap) but stays alive */
    KT_ASSERT_INT_EQ(kio_consumer_unsubscribe(a), 0);
    t0 = kf_clock_mono_us();
    while (!(ca.owned == 0 && cb.owned == 4)) {
        poll_for(a, 20);
        poll_for(b, 20);
        KT_ASSERT_MSG(kf_clock_mono_us() - t0 < 30000000, "no takeover: A %zu B %zu", ca.owned,
                      cb.owned);
    }
    /* ... and comes back */
    const char *topics[] = {topic};
    KT_ASSERT_INT_EQ(kio_consumer_subscribe(a, topics, 1), 0);
    t0 = kf_clock_mono_us();
    while (!(ca.owned > 0 && ca.owned + cb.owned == 4)) {
        poll_for(a, 20);
        poll_for(b, 20);
        KT_ASSERT_MSG(kf_clock_mono_us() - t0 < 30000000, "no rejoin: A %zu B %zu", ca.owned,
                      cb.owned);
    }
    printf("#   handoff: A %d assigned / %d revoked events, B %d / %d\n", ca.assigned, ca.revoked,
           cb.assigned, cb.revoked);
    timed_free(a, "A");
    timed_free(b, "B");
}

int main(void)
{
    char topic[128];
    kt_unique_name(topic, sizeof(topic), "close");
    kt_topic_create(topic, 4, NULL);
    kt_produce_ids(topic, 0, 200);
    RUN_WITH(test_close_before_first_assignment, topic);
    RUN_WITH(test_close_during_rebalance, topic);
    RUN_WITH(test_handoff, topic);
    return 0;
}
