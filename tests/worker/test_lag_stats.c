/* kfleet_consumer_lag's source: librdkafka's statistics, read for the
 * partitions this member owns only (worker/lag_stats.h). The JSON is cut down
 * from what librdkafka 2.0.2 wrote for a 3-partition topic on the devstack. */
#include "tests/lib/kf_test.h"
#include "worker/lag_stats.h"

#include <errno.h>

static const char stats[] =
    "{\"name\":\"w1#consumer-2\",\"type\":\"consumer\",\"topics\":{"
    "\"other\":{\"topic\":\"other\",\"partitions\":{\"0\":{\"partition\":0,\"consumer_lag\":99}}},"
    "\"req\":{\"topic\":\"req\",\"partitions\":{"
    /* committed 5 of 15 */
    "\"1\":{\"partition\":1,\"committed_offset\":5,\"hi_offset\":15,\"consumer_lag\":10},"
    /* nothing committed yet */
    "\"0\":{\"partition\":0,\"committed_offset\":-1001,\"hi_offset\":15,\"consumer_lag\":-1},"
    /* all caught up */
    "\"2\":{\"partition\":2,\"committed_offset\":7,\"hi_offset\":7,\"consumer_lag\":0},"
    /* owned before, not now: librdkafka still has numbers for it */
    "\"3\":{\"partition\":3,\"committed_offset\":1,\"hi_offset\":40,\"consumer_lag\":39},"
    /* librdkafka's unassigned-partition placeholder */
    "\"-1\":{\"partition\":-1,\"consumer_lag\":-1}}}}}";

static kio_tplist *assigned(const char *topic, const int *parts, size_t n)
{
    kio_tplist *l = kio_tplist_new(n);
    for (size_t i = 0; i < n; i++)
        KT_ASSERT_INT_EQ(kio_tplist_add(l, topic, parts[i], KIO_OFFSET_INVALID), 0);
    return l;
}

static void test_owned_partitions_only(void)
{
    /* owned: 2, 0, 1 and 5 (5: no statistics yet) */
    kio_tplist *mine = assigned("req", (const int[]){2, 0, 1, 5}, 4);
    kio_tplist *lag = NULL;
    KT_ASSERT_INT_EQ(lag_stats_parse(stats, sizeof(stats) - 1, "req", mine, &lag), 0);
    KT_ASSERT_INT_EQ(lag->count, 2); /* 0 has no committed offset, 3 is not ours, 5 unknown */
    KT_ASSERT_INT_EQ(lag->elems[0].partition, 1);
    KT_ASSERT_INT_EQ(lag->elems[0].offset, 10);
    KT_ASSERT_INT_EQ(lag->elems[1].partition, 2);
    KT_ASSERT_INT_EQ(lag->elems[1].offset, 0);
    KT_ASSERT_STR_EQ(lag->elems[0].topic, "req");
    kio_tplist_free(lag);
    kio_tplist_free(mine);
}

static void test_nothing_owned(void)
{
    kio_tplist *lag = NULL;
    KT_ASSERT_INT_EQ(lag_stats_parse(stats, sizeof(stats) - 1, "req", NULL, &lag), 0);
    KT_ASSERT_INT_EQ(lag->count, 0);
    kio_tplist_free(lag);
    kio_tplist *none = kio_tplist_new(0);
    KT_ASSERT_INT_EQ(lag_stats_parse(stats, sizeof(stats) - 1, "req", none, &lag), 0);
    KT_ASSERT_INT_EQ(lag->count, 0);
    kio_tplist_free(lag);
    kio_tplist_free(none);
    /* a topic the statistics do not list (yet) */
    kio_tplist *mine = assigned("fresh", (const int[]){0}, 1);
    KT_ASSERT_INT_EQ(lag_stats_parse(stats, sizeof(stats) - 1, "fresh", mine, &lag), 0);
    KT_ASSERT_INT_EQ(lag->count, 0);
    kio_tplist_free(lag);
    kio_tplist_free(mine);
}

static void test_bad_input(void)
{
    kio_tplist *mine = assigned("req", (const int[]){1}, 1);
    kio_tplist *lag = (kio_tplist *)1;
    KT_ASSERT_INT_EQ(lag_stats_parse("not json", 8, "req", mine, &lag), -EPROTO);
    KT_ASSERT(lag == NULL);
    KT_ASSERT_INT_EQ(lag_stats_parse("[1,2]", 5, "req", mine, &lag), -EPROTO);
    KT_ASSERT_INT_EQ(lag_stats_parse(stats, sizeof(stats) - 10, "req", mine, &lag), -EPROTO);
    /* wrong types inside: nothing known, no error */
    const char odd[] = "{\"topics\":{\"req\":{\"partitions\":{\"1\":{\"consumer_lag\":\"10\"}}}}}";
    KT_ASSERT_INT_EQ(lag_stats_parse(odd, sizeof(odd) - 1, "req", mine, &lag), 0);
    KT_ASSERT_INT_EQ(lag->count, 0);
    kio_tplist_free(lag);
    KT_ASSERT_INT_EQ(lag_stats_parse(NULL, 0, "req", mine, &lag), -EINVAL);
    kio_tplist_free(mine);
}

int main(void)
{
    KT_RUN(test_owned_partitions_only);
    KT_RUN(test_nothing_owned);
    KT_RUN(test_bad_input);
    return 0;
}
