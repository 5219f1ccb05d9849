/**
 * @file models.h
 * @brief The models this worker serves: per model its slot (the versions
 *        resident, slot.h), its batcher (the inference thread, batcher.h)
 *        and its health window (health.h). The intake (serve.h) looks models
 *        up by name to queue requests; the rollout agent (agent.h) adds them
 *        as the control log announces them and swaps their versions.
 *
 * @locality model_set_add from the main thread only; find/at/count and the
 *           slot, batcher and health calls from any thread (an entry, once
 *           added, stays until model_set_free).
 */
#ifndef KF_WORKER_MODELS_H
#define KF_WORKER_MODELS_H

#include "schema/ctl_event.h"
#include "worker/batcher.h"
#include "worker/health.h"
#include "worker/slot.h"
#include "worker/worker_conf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct served_model {
    char name[CTL_NAME_CAP];
    size_t index; /**< its place in the set, for per-model state kept elsewhere */
    model_slot *slot;
    batcher *batcher;
    struct health_window health;
};

typedef struct model_set model_set;

/** @brief An empty set for the models @p cfg (borrowed) asks for. NULL on OOM. */
model_set *model_set_new(const struct worker_config *cfg);
/** @brief How each model's batcher runs and answers (set once, before the first add). */
void model_set_set_batching(model_set *ms, const struct batcher_conf *bc);
/** @brief Drain and stop every batcher, then free the slots. NULL is a no-op. */
void model_set_free(model_set *ms);

/** @brief The model named @p name, or NULL. */
struct served_model *model_set_find(model_set *ms, const char *name);
/**
 * @brief The model named @p name, added (slot and inference thread started)
 *        if the configuration wants it. NULL: not wanted, WORKER_MAX_MODELS
 *        reached, or out of resources.
 */
struct served_model *model_set_add(model_set *ms, const char *name);
size_t model_set_count(const model_set *ms);
struct served_model *model_set_at(model_set *ms, size_t i);

/** @brief Whether every model has an active version (the worker may take partitions). */
bool model_set_can_serve(model_set *ms);
/** @brief Bytes of weights resident over every model. */
uint64_t model_set_resident_bytes(model_set *ms);
/** @brief Block until no batch is queued or running in any model. */
void model_set_drain(model_set *ms);

#endif
