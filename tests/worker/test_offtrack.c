/* The committable offset never passes an unsettled record, whatever order
 * records settle in. */
#include "tests/lib/kf_test.h"
#include "worker/offtrack.h"

#include <errno.h>

static void test_in_order_and_gaps(void)
{
    offtrack *ot = offtrack_new();
    KT_ASSERT_INT_EQ(offtrack_committable(ot, 0), -1);
    KT_ASSERT_INT_EQ(offtrack_begin(ot, 0, 10), 0);
    KT_ASSERT_INT_EQ(offtrack_begin(ot, 0, 12), 0); /* gap: 11 was compacted away */
    KT_ASSERT_INT_EQ(offtrack_begin(ot, 0, 12), -EINVAL);
    KT_ASSERT_INT_EQ(offtrack_committable(ot, 0), 10);
    offtrack_committed(ot, 0, 10);
    KT_ASSERT_INT_EQ(offtrack_committable(ot, 0), -1);
    KT_ASSERT_INT_EQ(offtrack_settle(ot, 0, 12), 0);
    KT_ASSERT_INT_EQ(offtrack_committable(ot, 0), -1); /* 10 still in flight */
    KT_ASSERT_INT_EQ(offtrack_settle(ot, 0, 10), 0);
    KT_ASSERT_INT_EQ(offtrack_committable(ot, 0), 13);
    KT_ASSERT_INT_EQ(offtrack_settle(ot, 0, 10), -ENOENT);
    KT_ASSERT_INT_EQ(offtrack_settle(ot, 1, 10), -ENOENT);
    KT_ASSERT_INT_EQ(offtrack_inflight(ot, 0), 0);
    offtrack_free(ot);
}

static void test_random_settle_order(void)
{
    enum { N = 5000, PARTS = 3 };
    static int64_t order[PARTS * N];
    offtrack *ot = offtrack_new();
    srand(42);
    for (int p = 0; p < PARTS; p++)
        for (int i = 0; i < N; i++) {
            KT_ASSERT_INT_EQ(offtrack_begin(ot, p, 100 + 2 * i), 0);
            order[p * N + i] = (int64_t)p << 32 | (100 + 2 * i);
        }
    KT_ASSERT_INT_EQ(offtrack_inflight_total(ot), PARTS * N);
    for (int i = PARTS * N - 1; i > 0; i--) {
        int j = rand() % (i + 1);
        int64_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    static char settled[PARTS][N];
    for (int k = 0; k < PARTS * N; k++) {
        int p = (int)(order[k] >> 32);
        int64_t off = order[k] & 0xffffffff;
        KT_ASSERT_INT_EQ(offtrack_settle(ot, p, off), 0);
        settled[p][(off - 100) / 2] = 1;
        /* The committable offset is exactly the first unsettled one. */
        int first = 0;
        while (first < N && settled[p][first])
            first++;
        int64_t want = first < N ? 100 + 2 * first : 100 + 2 * (N - 1) + 1;
        int64_t got = offtrack_committable(ot, p);
        if (got >= 0)
            KT_ASSERT_INT_EQ(got, want);
        offtrack_committed(ot, p, want);
    }
    KT_ASSERT_INT_EQ(offtrack_inflight_total(ot), 0);
    offtrack_forget(ot, 1);
    KT_ASSERT_INT_EQ(offtrack_committable(ot, 1), -1);
    offtrack_free(ot);
}

int main(void)
{
    KT_RUN(test_in_order_and_gaps);
    KT_RUN(test_random_settle_order);
    offtrack_free(NULL);
    return 0;
}
