/* Versions are destroyed exactly once, only after their last batch, while
 * readers keep acquiring through swaps, stages and flips. */
#include "tests/lib/kf_test.h"
#include "worker/slot.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

static atomic_int destroyed;
static atomic_int in_use[64];

static void version_destroy(struct slot_version *v)
{
    int id = (int)(intptr_t)v->impl;
    KT_ASSERT_MSG(atomic_load(&in_use[id]) == 0, "version %d destroyed while in use", id);
    atomic_fetch_add(&destroyed, 1);
    free(v);
}

static struct slot_version *version_new(int id)
{
    struct slot_version *v = calloc(1, sizeof(*v));
    snprintf(v->version, sizeof(v->version), "v%d", id);
    v->impl = (void *)(intptr_t)id;
    v->weight_bytes = 100;
    v->destroy = version_destroy;
    return v;
}

static model_slot *shared;
static atomic_bool stop;

static void *reader(void *arg)
{
    while (!atomic_load(&stop)) {
        struct slot_version *v = slot_acquire(shared, NULL);
        if (!v)
            continue;
        int id = (int)(intptr_t)v->impl;
        atomic_fetch_add(&in_use[id], 1);
        KT_ASSERT(v->version[0] == 'v');
        atomic_fetch_sub(&in_use[id], 1);
        slot_release(shared, v);
    }
    return arg;
}

static void test_swap_under_readers(void)
{
    shared = slot_new("mlp");
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, reader, NULL);
    for (int id = 0; id < 40; id++) {
        slot_activate(shared, version_new(id));
        if (id % 5 == 0)
            slot_stage(shared, version_new(40 + id / 5));
        if (id % 7 == 0)
            slot_flip(shared);
    }
    atomic_store(&stop, true);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    int live = 0;
    char a[SCHEMA_NAME_CAP], b[SCHEMA_NAME_CAP];
    slot_versions(shared, a, b);
    live = (a[0] != 0) + (b[0] != 0);
    KT_ASSERT_INT_EQ(slot_resident_bytes(shared), 100 * live);
    KT_ASSERT_INT_EQ(atomic_load(&destroyed), 48 - live);
    slot_free(shared);
    KT_ASSERT_INT_EQ(atomic_load(&destroyed), 48);
}

static void test_pinned_and_retiring(void)
{
    atomic_store(&destroyed, 0);
    model_slot *s = slot_new("m");
    KT_ASSERT(slot_acquire(s, NULL) == NULL);
    slot_activate(s, version_new(1));
    slot_stage(s, version_new(2));
    /* A pin names the live version only: not the staged standby (issue 16). */
    KT_ASSERT(slot_acquire(s, "v2") == NULL);
    KT_ASSERT(slot_acquire(s, "v9") == NULL);
    struct slot_version *old = slot_acquire(s, "v1");
    KT_ASSERT(old && !strcmp(old->version, "v1"));
    KT_ASSERT_INT_EQ(slot_flip(s), 0);
    /* nor the version the flip left in standby */
    KT_ASSERT(slot_acquire(s, "v1") == NULL);
    struct slot_version *pinned = slot_acquire(s, "v2");
    KT_ASSERT(pinned && !strcmp(pinned->version, "v2"));
    slot_unstage(s); /* v1 leaves, but a batch still holds it */
    KT_ASSERT_INT_EQ(atomic_load(&destroyed), 0);
    KT_ASSERT_INT_EQ(slot_resident_bytes(s), 200);
    slot_release(s, old);
    KT_ASSERT_INT_EQ(atomic_load(&destroyed), 1);
    KT_ASSERT_INT_EQ(slot_resident_bytes(s), 100);
    slot_release(s, pinned);
    KT_ASSERT_INT_EQ(slot_flip(s), -ENOENT);
    slot_free(s);
    KT_ASSERT_INT_EQ(atomic_load(&destroyed), 2);
}

int main(void)
{
    KT_RUN(test_swap_under_readers);
    KT_RUN(test_pinned_and_retiring);
    slot_free(NULL);
    return 0;
}
