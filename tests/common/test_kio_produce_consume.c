/* 10 000 keyed messages with headers through the real broker: produced by an
 * idempotent kio producer, consumed by a kio group member; none missing, none
 * twice, keys, values and headers intact. */
#include "common/kf_clock.h"
#include "kio_test_util.h"
#include "tests/lib/kf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 10000, PARTITIONS = 6 };

int main(void)
{
    char topic[128], group[128], err[512];
    kt_unique_name(topic, sizeof(topic), "pc");
    kt_unique_name(group, sizeof(group), "pc-group");
    kt_topic_create(topic, PARTITIONS, NULL);

    int64_t t0 = kf_clock_mono_us();
    kt_produce_ids(topic, 0, N);
    printf("# produced %d in %lld ms\n", N, (long long)(kf_clock_mono_us() - t0) / 1000);

    struct kio_opts o = kt_opts("kfleet-test-pc");
    struct kio_consumer_opts co = {.group_id = group};
    kio_consumer *kc = kio_consumer_new(&o, &co, err, sizeof(err));
    KT_ASSERT_MSG(kc, "%s", err);
    kt_track_group(group);
    const char *topics[] = {topic};
    KT_ASSERT_INT_EQ(kio_consumer_subscribe(kc, topics, 1), 0);

    unsigned char *seen = calloc(N, 1);
    int got = 0, dups = 0;
    int64_t per_part[PARTITIONS] = {0};
    t0 = kf_clock_mono_us();
    while (got < N && kf_clock_mono_us() - t0 < 45 * 1000000LL) {
        kio_msg *m = NULL;
        int e = kio_consumer_poll(kc, 200, &m);
        KT_ASSERT_MSG(e == 0 || !kio_err_is_fatal(e), "fatal consumer error %d", e);
        if (!m)
            continue;
        KT_ASSERT_STR_EQ(m->topic, topic);
        KT_ASSERT(m->partition >= 0 && m->partition < PARTITIONS);
        KT_ASSERT(m->ts_type == KIO_TS_CREATE_TIME);
        KT_ASSERT_INT_EQ(m->header_count, 2);
        /* offsets are dense per partition for a single idempotent producer */
        KT_ASSERT_INT_EQ(m->offset, per_part[m->partition]);
        per_part[m->partition]++;
        int id = kt_msg_id(m);
        KT_ASSERT(id >= 0 && id < N);
        if (seen[id])
            dups++;
        else
            got++;
        seen[id] = 1;
        KT_ASSERT_INT_EQ(kio_consumer_store_msg(kc, m), 0);
        kio_msg_free(m);
    }
    printf("# consumed %d in %lld ms\n", got, (long long)(kf_clock_mono_us() - t0) / 1000);
    int missing = 0;
    for (int i = 0; i < N; i++)
        if (!seen[i] && missing++ < 5)
            fprintf(stderr, "missing id %d\n", i);
    KT_ASSERT_MSG(missing == 0, "%d of %d messages missing", missing, N);
    KT_ASSERT_INT_EQ(dups, 0);
    int used = 0;
    for (int p = 0; p < PARTITIONS; p++)
        used += per_part[p] > 0;
    KT_ASSERT_MSG(used == PARTITIONS, "keys landed on only %d partitions", used);
    KT_ASSERT_INT_EQ(kio_consumer_commit(kc, false), 0);

    /* the committed offsets are the ends of the partitions */
    kio_tplist *parts = kio_tplist_new(PARTITIONS);
    for (int p = 0; p < PARTITIONS; p++)
        kio_tplist_add(parts, topic, p, KIO_OFFSET_INVALID);
    KT_ASSERT_INT_EQ(kio_consumer_committed(kc, parts, 10000), 0);
    for (int p = 0; p < PARTITIONS; p++)
        KT_ASSERT_INT_EQ(parts->elems[p].offset, per_part[p]);
    kio_tplist_free(parts);
    free(seen);
    KT_ASSERT_INT_EQ(kio_consumer_close(kc, 20000), 0);
    kio_consumer_free(kc);
    return 0;
}
