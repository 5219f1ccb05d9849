/* Two members of one group on the real broker: when the second joins, a
 * cooperative rebalance moves some partitions (revoked by the first, assigned
 * to the second) while the rest keep flowing; when it leaves they come back.
 * No message is lost across either move: the union of what both consumed
 * covers every id produced. */
#include "common/kf_clock.h"
#include "kio_test_util.h"
#include "tests/lib/kf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PARTITIONS = 6, PHASE1 = 3000, PHASE2 = 3000, PHASE3 = 500 };
enum { TOTAL = PHASE1 + PHASE2 + PHASE3 };

static unsigned char seen[TOTAL];
static int seen_count;

struct member {
    const char *name;
    kio_consumer *kc;
    kio_tplist *owned;
    kio_tplist *assigned_all, *revoked_all;
    int assigned_events, revoked_events, lost_events;
    int consumed;
};

static void tpl_remove(kio_tplist *l, const char *topic, int32_t p)
{
    for (size_t i = 0; i < l->count; i++) {
        if (l->elems[i].partition == p && !strcmp(l->elems[i].topic, topic)) {
            free(l->elems[i].topic);
            l->elems[i] = l->elems[--l->count];
            return;
        }
    }
    KT_FAIL("revoked partition %d that was not owned", p);
}

static void on_rebalance(void *opaque, kio_consumer *kc, enum kio_rebalance ev,
                         const kio_tplist *parts)
{
    struct member *m = opaque;
    printf("# %s: %s", m->name, kio_rebalance2str(ev));
    for (size_t i = 0; i < parts->count; i++)
        printf(" %d", parts->elems[i].partition);
    printf("\n");
    if (!parts->count) {
        /* A cooperative round that gave this member nothing: only assigns
         * come empty (kio_consumer.h). */
        KT_ASSERT(ev == KIO_REBALANCE_ASSIGNED);
        return;
    }
    if (ev == KIO_REBALANCE_ASSIGNED) {
        m->assigned_events++;
        for (size_t i = 0; i < parts->count; i++) {
            KT_ASSERT_MSG(
                !kio_tplist_find(m->owned, parts->elems[i].topic, parts->elems[i].partition),
                "partition assigned twice");
            kio_tplist_add(m->owned, parts->elems[i].topic, parts->elems[i].partition, 0);
            kio_tplist_add(m->assigned_all, parts->elems[i].topic, parts->elems[i].partition, 0);
        }
        return;
    }
    if (ev == KIO_REBALANCE_LOST)
        m->lost_events++;
    else
        m->revoked_events++;
    for (size_t i = 0; i < parts->count; i++) {
        tpl_remove(m->owned, parts->elems[i].topic, parts->elems[i].partition);
        kio_tplist_add(m->revoked_all, parts->elems[i].topic, parts->elems[i].partition, 0);
    }
    /* What the worker does on revoke: finish, then commit while still owner. */
    if (ev == KIO_REBALANCE_REVOKED)
        KT_ASSERT_INT_EQ(kio_consumer_commit(kc, false), 0);
}

static void member_start(struct member *m, const char *name, const char *group, const char *topic)
{
    char err[512], cid[64];
    memset(m, 0, sizeof(*m));
    m->name = name;
    m->owned = kio_tplist_new(0);
    m->assigned_all = kio_tplist_new(0);
    m->revoked_all = kio_tplist_new(0);
    snprintf(cid, sizeof(cid), "kfleet-test-%s", name);
    struct kio_opts o = kt_opts(cid);
    o.opaque = m;
    struct kio_consumer_opts co = {.group_id = group, .rebalance_cb = on_rebalance};
    m->kc = kio_consumer_new(&o, &co, err, sizeof(err));
    KT_ASSERT_MSG(m->kc, "%s", err);
    const char *topics[] = {topic};
    KT_ASSERT_INT_EQ(kio_consumer_subscribe(m->kc, topics, 1), 0);
}

static void member_poll(struct member *m, int timeout_ms)
{
    for (int i = 0; i < 200; i++) {
        kio_msg *msg = NULL;
        kio_consumer_poll(m->kc, i ? 0 : timeout_ms, &msg);
        if (!msg)
            return;
        KT_ASSERT_MSG(kio_tplist_find(m->owned, msg->topic, msg->partition),
                      "%s got a message of partition %d it does not own", m->name, msg->partition);
        int id = kt_msg_id(msg);
        KT_ASSERT(id >= 0 && id < TOTAL);
        if (!seen[id])
            seen_count++;
        seen[id] = 1;
        m->consumed++;
        int e = kio_consumer_store_msg(m->kc, msg);
        KT_ASSERT_MSG(e == 0, "store: %d", e);
        kio_msg_free(msg);
    }
}

static void member_free(struct member *m)
{
    if (m->kc) {
        KT_ASSERT_INT_EQ(kio_consumer_close(m->kc, 30000), 0);
        kio_consumer_free(m->kc);
        m->kc = NULL;
    }
    kio_tplist_free(m->owned);
    kio_tplist_free(m->assigned_all);
    kio_tplist_free(m->revoked_all);
}

static bool all_seen(int upto)
{
    for (int i = 0; i < upto; i++)
        if (!seen[i])
            return false;
    return true;
}

#define WAIT_UNTIL(cond, secs, ...)                                                              \
    do {                                                                                         \
        int64_t wt0_ = kf_clock_mono_us();                                                       \
        while (!(cond)) {                                                                        \
            KT_ASSERT_MSG(kf_clock_mono_us() - wt0_ < (secs)*1000000LL, "timed out: %s", #cond); \
            __VA_ARGS__;                                                                         \
        }                                                                                        \
    } while (0)

int main(void)
{
    char topic[128], group[128], err[512];
    kt_unique_name(topic, sizeof(topic), "rb");
    kt_unique_name(group, sizeof(group), "rb-group");
    kt_topic_create(topic, PARTITIONS, NULL);
    kt_track_group(group);
    kt_produce_ids(topic, 0, PHASE1);

    struct member a, b;
    member_start(&a, "A", group, topic);
    WAIT_UNTIL(a.owned->count == PARTITIONS && a.consumed >= 1000, 30, member_poll(&a, 50));
    KT_ASSERT(kio_consumer_is_cooperative(a.kc));
    KT_ASSERT_INT_EQ(a.revoked_events, 0);

    /* B joins: A gives up some partitions, keeps the others. */
    member_start(&b, "B", group, topic);
    WAIT_UNTIL(b.owned->count > 0 && a.owned->count + b.owned->count == PARTITIONS, 40,
               member_poll(&a, 20), member_poll(&b, 20));
    printf("# after the join: A owns %zu, B owns %zu\n", a.owned->count, b.owned->count);
    KT_ASSERT_MSG(a.revoked_events >= 1, "A saw no revoke");
    KT_ASSERT(a.revoked_all->count > 0);
    KT_ASSERT_MSG(a.owned->count > 0, "A lost everything: not an incremental rebalance");
    KT_ASSERT_INT_EQ(a.lost_events, 0);
    for (size_t i = 0; i < a.revoked_all->count; i++)
        KT_ASSERT_MSG(kio_tplist_find(b.assigned_all, topic, a.revoked_all->elems[i].partition),
                      "partition %d left A but never reached B", a.revoked_all->elems[i].partition);
    for (size_t i = 0; i < a.owned->count; i++)
        KT_ASSERT_MSG(!kio_tplist_find(b.owned, topic, a.owned->elems[i].partition),
                      "partition %d owned by both", a.owned->elems[i].partition);

    /* The coordinator agrees on who owns what. */
    struct kio_group *g = NULL;
    KT_ASSERT_INT_EQ(kio_admin_group_describe(kt_admin(), group, &g, 10000, err, sizeof(err)), 0);
    printf("# group %s: %s, %s, %zu members\n", g->group_id, g->state, g->assignor,
           g->member_count);
    KT_ASSERT_INT_EQ(g->member_count, 2);
    KT_ASSERT_STR_EQ(g->assignor, "cooperative-sticky");
    char *aid = kio_consumer_member_id(a.kc);
    for (size_t i = 0; i < g->member_count; i++) {
        const struct kio_group_member *gm = &g->members[i];
        bool is_a = !strcmp(gm->member_id, aid);
        const struct member *m = is_a ? &a : &b;
        KT_ASSERT_STR_EQ(gm->client_id, is_a ? "kfleet-test-A" : "kfleet-test-B");
        KT_ASSERT_INT_EQ(gm->assignment->count, m->owned->count);
        for (size_t k = 0; k < gm->assignment->count; k++)
            KT_ASSERT(kio_tplist_find(m->owned, topic, gm->assignment->elems[k].partition));
    }
    free(aid);
    kio_group_free(g);

    /* More work while both members share the topic. */
    kt_produce_ids(topic, PHASE1, PHASE2);
    WAIT_UNTIL(all_seen(PHASE1 + PHASE2), 40, member_poll(&a, 20), member_poll(&b, 20));
    KT_ASSERT_MSG(b.consumed > 0, "B consumed nothing");

    /* B leaves: its partitions return to A, nothing lost. */
    size_t b_had = b.owned->count;
    int a_assigned_before = a.assigned_events;
    KT_ASSERT_INT_EQ(kio_consumer_close(b.kc, 30000), 0);
    KT_ASSERT_INT_EQ(b.owned->count, 0); /* B's revoke callback ran inside close */
    kt_produce_ids(topic, PHASE1 + PHASE2, PHASE3);
    WAIT_UNTIL(a.owned->count == PARTITIONS && all_seen(TOTAL), 40, member_poll(&a, 50));
    KT_ASSERT(a.assigned_events > a_assigned_before);
    printf("# B returned %zu partitions; A consumed %d, B %d; %d distinct of %d\n", b_had,
           a.consumed, b.consumed, seen_count, TOTAL);
    KT_ASSERT_INT_EQ(seen_count, TOTAL);
    member_free(&b);
    member_free(&a);
    return 0;
}
