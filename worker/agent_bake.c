/* The canary bake: after a canary's swap, its error rate and p99 on live
 * traffic over bake_s, against the window before the swap. */
#include "worker/agent_impl.h"

#include "common/kf_clock.h"
#include "common/kf_log.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void agent_bake_start(agent *a, struct served_model *sm, const char *version)
{
    struct fleet_model_info mi;
    if (fleet_model_get(control_fleet(a->d.control), sm->name, &mi) || mi.phase != FLEET_CANARY)
        return;
    struct model_rollout *mr = agent_rollout(a, sm);
    mr->baking = true;
    snprintf(mr->bake_version, sizeof(mr->bake_version), "%s", version);
    mr->baseline_p99_us = health_p99(&sm->health, true);
    mr->bake_start = health_counts(&sm->health);
    mr->bake_until_ms = kf_clock_wall_ms() + (int64_t)mi.strategy->bake_s * 1000;
    KF_LOG_I("agent", "%s %s: canary bake for %u s (baseline p99 %.0f us)", sm->name, version,
             mi.strategy->bake_s, mr->baseline_p99_us);
}

/* After bake_s of serving: healthy, or failed at stage health. Errors
 * include answers with non-finite outputs (NaN/Inf), which golden vectors
 * may not reveal. */
void agent_bake_check(agent *a, struct served_model *sm)
{
    struct model_rollout *mr = agent_rollout(a, sm);
    if (!mr->baking || kf_clock_wall_ms() < mr->bake_until_ms)
        return;
    mr->baking = false;
    struct fleet_model_info mi;
    if (fleet_model_get(control_fleet(a->d.control), sm->name, &mi) ||
        strcmp(mi.target, mr->bake_version))
        return; /* the rollout moved on meanwhile */
    struct health_counts now = health_counts(&sm->health);
    uint64_t req = now.requests - mr->bake_start.requests;
    uint64_t err = now.errors - mr->bake_start.errors;
    if (req == 0) {
        /* No traffic, no verdict: a canary that served nothing is not healthy
         * by default. Bake on until requests arrive (or the rollout moves on). */
        mr->baking = true;
        mr->bake_until_ms = kf_clock_wall_ms() + (int64_t)mi.strategy->bake_s * 1000;
        KF_LOG_I("agent", "%s %s: no requests during the bake yet; baking on", sm->name,
                 mr->bake_version);
        return;
    }
    double p99 = health_p99(&sm->health, false);
    double error_rate = (double)err / (double)req;
    double ratio = mr->baseline_p99_us > 0 ? p99 / mr->baseline_p99_us : 1;
    char why[256];
    snprintf(why, sizeof(why),
             "bake: %" PRIu64 " requests, error rate %.4f (max %.4f), p99 %.0f us = %.2f x "
             "baseline (max %.2f)",
             req, error_rate, mi.strategy->max_error_rate, p99, ratio, mi.strategy->max_p99_ratio);
    if (error_rate > mi.strategy->max_error_rate || ratio > mi.strategy->max_p99_ratio) {
        KF_LOG_W("agent", "%s %s unhealthy: %s", sm->name, mr->bake_version, why);
        agent_emit_failed(a, sm, mr->bake_version, NULL, CTL_STAGE_HEALTH, why);
        return;
    }
    KF_LOG_I("agent", "%s %s healthy: %s", sm->name, mr->bake_version, why);
    struct ctl_event ev;
    ctl_event_init(&ev, CTL_ROLLOUT_HEALTHY);
    snprintf(ev.worker, sizeof(ev.worker), "%s", a->d.cfg->id);
    snprintf(ev.model, sizeof(ev.model), "%s", sm->name);
    snprintf(ev.version, sizeof(ev.version), "%s", mr->bake_version);
    ev.metrics = (struct ctl_metrics){.requests = req,
                                      .errors = err,
                                      .p99_us = (uint64_t)p99,
                                      .baseline_p99_us = (uint64_t)mr->baseline_p99_us};
    control_emit(a->d.control, &ev);
}
