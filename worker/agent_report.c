/* What the agent appends to the control log, and the in-place flip that a
 * `rollout.done` reports. Everything here goes back into the log, where
 * every worker sees it. */
#include "worker/agent_impl.h"

#include "common/kf_clock.h"
#include "common/kf_log.h"

#include <inttypes.h>
#include <stdio.h>

static void event_init(agent *a, struct ctl_event *ev, enum ctl_type type, const char *model,
                       const char *version, const char *claim_id)
{
    ctl_event_init(ev, type);
    snprintf(ev->worker, sizeof(ev->worker), "%s", a->d.cfg->id);
    snprintf(ev->model, sizeof(ev->model), "%s", model ? model : "");
    snprintf(ev->version, sizeof(ev->version), "%s", version ? version : "");
    snprintf(ev->claim_id, sizeof(ev->claim_id), "%s", claim_id ? claim_id : "");
}

void agent_emit_simple(agent *a, enum ctl_type type, const char *model, const char *version,
                       const char *claim_id, const char *reason)
{
    struct ctl_event ev;
    event_init(a, &ev, type, model, version, claim_id);
    snprintf(ev.reason, sizeof(ev.reason), "%s", reason ? reason : "");
    if (type == CTL_ROLLOUT_CUTOVER) /* about the fleet, not this worker: says who decided */
        snprintf(ev.by, sizeof(ev.by), "%s", a->d.cfg->id);
    control_emit(a->d.control, &ev);
}

void agent_emit_failed(agent *a, struct served_model *sm, const char *version, const char *claim_id,
                       enum ctl_stage stage, const char *reason)
{
    struct ctl_event ev;
    event_init(a, &ev, CTL_ROLLOUT_FAILED, sm->name, version, claim_id);
    snprintf(ev.reason, sizeof(ev.reason), "%s", reason);
    ev.stage = stage;
    control_emit(a->d.control, &ev);
    struct model_rollout *mr = agent_rollout(a, sm);
    snprintf(mr->failed_version, sizeof(mr->failed_version), "%s", version);
    metric_inc(metrics_series(a->d.metrics->swaps, (const char *const[]){sm->name, "failed"}), 1);
}

void agent_emit_claim(agent *a, struct served_model *sm, const char *version)
{
    struct ctl_event ev;
    event_init(a, &ev, CTL_ROLLOUT_CLAIM, sm->name, version, NULL);
    /* Unique and readable: who, what, when (ids are at most 128 bytes). */
    snprintf(ev.claim_id, sizeof(ev.claim_id), "%.40s/%.30s/%.30s/%" PRId64, a->d.cfg->id, sm->name,
             version, kf_clock_wall_ms());
    if (!control_emit(a->d.control, &ev)) {
        struct model_rollout *mr = agent_rollout(a, sm);
        snprintf(mr->claimed_version, sizeof(mr->claimed_version), "%s", version);
        snprintf(mr->claim_id, sizeof(mr->claim_id), "%s", ev.claim_id);
    }
}

void agent_emit_done(agent *a, struct served_model *sm, const char *version, const char *claim_id,
                     enum ctl_mode mode, const struct ctl_timings *t)
{
    struct ctl_event ev;
    event_init(a, &ev, CTL_ROLLOUT_DONE, sm->name, version, claim_id);
    ev.mode = mode;
    ev.timings = *t;
    control_emit(a->d.control, &ev);
    struct worker_metrics *m = a->d.metrics;
    metric_inc(metrics_series(m->swaps, (const char *const[]){sm->name, "done"}), 1);
    static const char *const stages[] = {"fetch", "verify", "load", "warmup", "flip"};
    const uint64_t us[] = {t->fetch_us, t->verify_us, t->load_us, t->warmup_us, t->flip_us};
    for (size_t i = 0; i < 5; i++)
        metric_observe(metrics_series(m->swap_stage, (const char *const[]){sm->name, stages[i]}),
                       (double)us[i] / 1e6);
}

void agent_version_info(agent *a, struct served_model *sm)
{
    struct model_rollout *mr = agent_rollout(a, sm);
    char active[SCHEMA_NAME_CAP], standby[SCHEMA_NAME_CAP];
    slot_versions(sm->slot, active, standby);
    if (mr->m_version_info)
        metric_set(mr->m_version_info, 0);
    mr->m_version_info =
        metrics_series(a->d.metrics->version_info, (const char *const[]){sm->name, active});
    metric_set(mr->m_version_info, 1);
}

void agent_flip(agent *a, struct served_model *sm, struct slot_version *v, struct ctl_timings *t,
                enum ctl_mode mode)
{
    int64_t t0 = kf_clock_mono_us();
    slot_activate(sm->slot, v);
    t->flip_us = (uint64_t)(kf_clock_mono_us() - t0);
    agent_version_info(a, sm);
    char active[SCHEMA_NAME_CAP], standby[SCHEMA_NAME_CAP];
    slot_versions(sm->slot, active, standby);
    KF_LOG_I("agent",
             "%s: now serving %s (%s; fetch %.1f ms, verify %.1f ms, load %.1f ms, "
             "warmup %.1f ms, flip %.3f ms, unowned %.1f ms)",
             sm->name, active, ctl_mode2str(mode), t->fetch_us / 1e3, t->verify_us / 1e3,
             t->load_us / 1e3, t->warmup_us / 1e3, t->flip_us / 1e3, t->unowned_us / 1e3);
}

void agent_activate(agent *a, struct served_model *sm, struct slot_version *v, const char *claim_id,
                    struct ctl_timings *t, enum ctl_mode mode)
{
    char version[CTL_NAME_CAP];
    snprintf(version, sizeof(version), "%s", v->version);
    agent_flip(a, sm, v, t, mode);
    agent_emit_done(a, sm, version, claim_id, mode, t);
}
