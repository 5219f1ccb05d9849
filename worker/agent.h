/**
 * @file agent.h
 * @brief The rollout agent: asks the reducer what this worker should do for
 *        each model (fleet_plan_worker) and does it — prepare a version on a
 *        job thread while serving, claim a slot, swap when the claim is
 *        granted (in place, or by a hand-off that leaves the request group),
 *        report done or failed, bake a canary, and keep the fleet's upkeep
 *        (expired leases, blue/green cutover, departed workers).
 *
 * It sits on top of the other parts: it reads the control log (control.h),
 * swaps versions in the model set (models.h), tells the intake when to leave
 * and rejoin the group (serve.h), and none of them calls it.
 *
 * @locality main thread only. Every blocking step (fetch, verify, load,
 *           warm-up, golden check) runs on a job thread; agent_step never
 *           waits for one (docs/worker.md "Main loop").
 */
#ifndef KF_WORKER_AGENT_H
#define KF_WORKER_AGENT_H

#include "kernels/kern_backend.h"
#include "schema/ctl_event.h"
#include "worker/control.h"
#include "worker/group_probe.h"
#include "worker/models.h"
#include "worker/serve.h"
#include "worker/store.h"
#include "worker/worker_conf.h"
#include "worker/worker_metrics.h"

#include <stdatomic.h>
#include <stdbool.h>

/** What the agent works with (all borrowed; probe may be NULL). */
struct agent_deps {
    const struct worker_config *cfg;
    struct kern_backend *backend;
    model_store *store;
    control *control;
    model_set *models;
    serve *serve;
    struct worker_metrics *metrics;
    group_probe *probe; /**< the request group's membership; NULL: checks skip */
};

typedef struct agent agent;

agent *agent_new(const struct agent_deps *deps);
/** @brief Wait for running jobs, free what they and the agent prepared. NULL is a no-op. */
void agent_free(agent *a);

/**
 * @brief Start-up, before the worker joins the group: load each served
 *        model's target (the local cache first, then the store), or the
 *        newest verified cached version when the store cannot be reached.
 *        Blocks until every load ended or @p stop is set.
 */
void agent_load_initial(agent *a, const atomic_bool *stop);
/** @brief One main-loop turn: collect finished jobs, act on every model's plan, upkeep. */
void agent_step(agent *a);
/** @brief Whether the worker may (re)join the request group: every model can serve and no hand-off
 * holds it out. */
bool agent_may_join(agent *a);

/** What /status shows of a model's rollout here. */
struct agent_model_status {
    char preparing[CTL_NAME_CAP]; /**< version being fetched/loaded, or "" */
    char claim_id[CTL_NAME_CAP];  /**< claim appended and not finished, or "" */
};

void agent_model_status(agent *a, const struct served_model *sm, struct agent_model_status *out);

#endif
