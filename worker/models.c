/* The set of served models. Entries are added, never removed, and published
 * with a release store of the count, so readers on other threads (the HTTP
 * thread's readiness check) see only complete entries. */
#include "worker/models.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct model_set {
    const struct worker_config *cfg;
    struct batcher_conf batching;
    struct served_model *models[WORKER_MAX_MODELS];
    atomic_size_t count;
};

model_set *model_set_new(const struct worker_config *cfg)
{
    model_set *ms = calloc(1, sizeof(*ms));
    if (ms)
        ms->cfg = cfg;
    return ms;
}

void model_set_set_batching(model_set *ms, const struct batcher_conf *bc)
{
    ms->batching = *bc;
}

void model_set_free(model_set *ms)
{
    if (!ms)
        return;
    size_t n = atomic_load(&ms->count);
    for (size_t i = 0; i < n; i++)
        batcher_free(ms->models[i]->batcher);
    for (size_t i = 0; i < n; i++) {
        slot_free(ms->models[i]->slot);
        health_fini(&ms->models[i]->health);
        free(ms->models[i]);
    }
    free(ms);
}

struct served_model *model_set_find(model_set *ms, const char *name)
{
    size_t n = atomic_load_explicit(&ms->count, memory_order_acquire);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(ms->models[i]->name, name))
            return ms->models[i];
    return NULL;
}

struct served_model *model_set_add(model_set *ms, const char *name)
{
    struct served_model *sm = model_set_find(ms, name);
    size_t n = atomic_load(&ms->count);
    if (sm || n == WORKER_MAX_MODELS || !worker_config_wants(ms->cfg, name))
        return sm;
    sm = calloc(1, sizeof(*sm));
    if (!sm)
        return NULL;
    snprintf(sm->name, sizeof(sm->name), "%s", name);
    sm->index = n;
    health_init(&sm->health);
    sm->slot = slot_new(name);
    sm->batcher = sm->slot ? batcher_new(sm->slot, &ms->batching) : NULL;
    if (!sm->batcher) {
        slot_free(sm->slot);
        health_fini(&sm->health);
        free(sm);
        return NULL;
    }
    ms->models[n] = sm;
    atomic_store_explicit(&ms->count, n + 1, memory_order_release);
    return sm;
}

size_t model_set_count(const model_set *ms)
{
    return atomic_load_explicit(&ms->count, memory_order_acquire);
}

struct served_model *model_set_at(model_set *ms, size_t i)
{
    return i < model_set_count(ms) ? ms->models[i] : NULL;
}

bool model_set_can_serve(model_set *ms)
{
    size_t n = model_set_count(ms);
    for (size_t i = 0; i < n; i++) {
        char active[SCHEMA_NAME_CAP], standby[SCHEMA_NAME_CAP];
        slot_versions(ms->models[i]->slot, active, standby);
        if (!active[0])
            return false;
    }
    return true;
}

uint64_t model_set_resident_bytes(model_set *ms)
{
    uint64_t total = 0;
    size_t n = model_set_count(ms);
    for (size_t i = 0; i < n; i++)
        total += slot_resident_bytes(ms->models[i]->slot);
    return total;
}

void model_set_drain(model_set *ms)
{
    size_t n = model_set_count(ms);
    for (size_t i = 0; i < n; i++)
        batcher_drain(ms->models[i]->batcher);
}
