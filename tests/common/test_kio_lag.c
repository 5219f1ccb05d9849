/* Lag as kio reports it equals high watermark minus committed offset: produce
 * N, consume everything but commit only M, and compare per partition. The
 * consumer's own watermark query agrees with the admin client's. */
#include "common/kf_clock.h"
#include "kio_test_util.h"
#include "tests/lib/kf_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 900, PARTITIONS = 3 };

int main(void)
{
    char topic[128], group[128], idle_group[128], err[512];
    kt_unique_name(topic, sizeof(topic), "lag");
    kt_unique_name(group, sizeof(group), "lag-group");
    kt_unique_name(idle_group, sizeof(idle_group), "lag-idle");
    kt_topic_create(topic, PARTITIONS, NULL);
    kt_track_group(group);
    kt_produce_ids(topic, 0, N);

    /* Commits under the test's control only: no auto-commit. */
    kio_consumer *kc = kt_group_member(group, topic, "kfleet-test-lag");

    /* Read everything; store only the first half of each partition. */
    int64_t count[PARTITIONS] = {0}, stored[PARTITIONS] = {0};
    int got = 0;
    int64_t t0 = kf_clock_mono_us();
    kio_msg *held[N];
    int nheld = 0;
    while (got < N && kf_clock_mono_us() - t0 < 40 * 1000000LL) {
        kio_msg *m = NULL;
        kio_consumer_poll(kc, 200, &m);
        if (!m)
            continue;
        count[m->partition]++;
        got++;
        held[nheld++] = m;
    }
    KT_ASSERT_INT_EQ(got, N);
    int64_t m_total = 0;
    for (int i = 0; i < nheld; i++) {
        kio_msg *m = held[i];
        if (m->offset < count[m->partition] / 2) {
            KT_ASSERT_INT_EQ(kio_consumer_store_msg(kc, m), 0);
            if (m->offset + 1 > stored[m->partition])
                stored[m->partition] = m->offset + 1;
        }
        kio_msg_free(m);
    }
    for (int p = 0; p < PARTITIONS; p++)
        m_total += stored[p];
    KT_ASSERT_INT_EQ(kio_consumer_commit(kc, false), 0);
    printf("# produced %d, committed %lld\n", N, (long long)m_total);

    /* kio's view through the admin API */
    struct kio_partition_lag *lag = NULL;
    size_t n = 0;
    KT_ASSERT_INT_EQ(
        kio_admin_group_lag(kt_admin(), group, topic, &lag, &n, 10000, err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(n, PARTITIONS);
    int64_t lag_total = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t p = lag[i].partition;
        KT_ASSERT_INT_EQ(p, (int32_t)i);
        int64_t low, high;
        KT_ASSERT_INT_EQ(kio_admin_watermarks(kt_admin(), topic, p, &low, &high, 10000), 0);
        printf("# partition %d: low %lld high %lld committed %lld lag %lld\n", p, (long long)low,
               (long long)high, (long long)lag[i].committed, (long long)lag[i].lag);
        KT_ASSERT_INT_EQ(low, 0);
        KT_ASSERT_INT_EQ(high, count[p]);
        /* the consumer's own query (no admin API) agrees */
        int64_t clow = -5, chigh = -5;
        KT_ASSERT_INT_EQ(kio_consumer_watermarks(kc, topic, p, &clow, &chigh, 10000), 0);
        KT_ASSERT_INT_EQ(clow, low);
        KT_ASSERT_INT_EQ(chigh, high);
        KT_ASSERT_INT_EQ(lag[i].low, low);
        KT_ASSERT_INT_EQ(lag[i].high, high);
        KT_ASSERT_INT_EQ(lag[i].committed, stored[p]);
        KT_ASSERT_INT_EQ(lag[i].lag, high - stored[p]);
        KT_ASSERT_INT_EQ(lag[i].lag, count[p] - stored[p]);
        lag_total += lag[i].lag;
    }
    KT_ASSERT_INT_EQ(lag_total, N - m_total);
    free(lag);

    /* the consumer's own committed() agrees with the admin API */
    kio_tplist *off = NULL;
    KT_ASSERT_INT_EQ(
        kio_admin_group_offsets(kt_admin(), group, topic, &off, 10000, err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(kio_consumer_committed(kc, off, 10000), 0);
    for (size_t i = 0; i < off->count; i++)
        KT_ASSERT_INT_EQ(off->elems[i].offset, stored[off->elems[i].partition]);
    kio_tplist_free(off);

    /* a group that never committed lags by everything retained */
    KT_ASSERT_INT_EQ(
        kio_admin_group_lag(kt_admin(), idle_group, topic, &lag, &n, 10000, err, sizeof(err)), 0);
    for (size_t i = 0; i < n; i++) {
        KT_ASSERT_INT_EQ(lag[i].committed, KIO_OFFSET_INVALID);
        KT_ASSERT_INT_EQ(lag[i].lag, count[lag[i].partition]);
    }
    free(lag);
    /* an unknown topic */
    int64_t low, high;
    KT_ASSERT_INT_EQ(kio_consumer_watermarks(kc, topic, -1, &low, &high, 5000), -EINVAL);
    KT_ASSERT_INT_EQ(kio_admin_group_lag(kt_admin(), group, "kfleet-test-no-such-topic", &lag, &n,
                                         10000, err, sizeof(err)),
                     -ENOENT);

    /* commit the rest: lag 0 everywhere */
    kio_tplist *ends = kio_tplist_new(PARTITIONS);
    for (int p = 0; p < PARTITIONS; p++)
        kio_tplist_add(ends, topic, p, count[p]);
    KT_ASSERT_INT_EQ(kio_consumer_commit_offsets(kc, ends, false), 0);
    kio_tplist_free(ends);
    KT_ASSERT_INT_EQ(
        kio_admin_group_lag(kt_admin(), group, topic, &lag, &n, 10000, err, sizeof(err)), 0);
    for (size_t i = 0; i < n; i++)
        KT_ASSERT_INT_EQ(lag[i].lag, 0);
    free(lag);

    KT_ASSERT_INT_EQ(kio_consumer_close(kc, 20000), 0);
    kio_consumer_free(kc);
    return 0;
}
