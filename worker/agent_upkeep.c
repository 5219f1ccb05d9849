/* Fleet upkeep, done by every worker and settled by the log (the first
 * event of each kind wins): claims whose lease ran out, the blue/green
 * cutover once every member staged, and workers the request group dropped. */
#include "worker/agent_impl.h"

#include "common/kf_clock.h"
#include "common/kf_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SENT_RING 32

static bool sent_before(char (*ring)[CTL_NAME_CAP], const char *id)
{
    for (size_t i = 0; i < SENT_RING; i++)
        if (!strcmp(ring[i], id))
            return true;
    return false;
}

static void expire_leases(agent *a)
{
    const struct fleet_claim *expired[16];
    size_t n = fleet_claims_expired(control_fleet(a->d.control), kf_clock_wall_ms(), expired, 16);
    for (size_t i = 0; i < n && i < 16; i++) {
        if (sent_before(a->expire_sent, expired[i]->claim_id))
            continue;
        snprintf(a->expire_sent[a->expire_pos++ % SENT_RING], CTL_NAME_CAP, "%s",
                 expired[i]->claim_id);
        KF_LOG_W("agent", "claim %s of %s: lease over", expired[i]->claim_id, expired[i]->worker);
        struct ctl_event ev;
        ctl_event_init(&ev, CTL_ROLLOUT_EXPIRE);
        snprintf(ev.claim_id, sizeof(ev.claim_id), "%s", expired[i]->claim_id);
        snprintf(ev.worker, sizeof(ev.worker), "%s", expired[i]->worker);
        snprintf(ev.model, sizeof(ev.model), "%s", expired[i]->model);
        snprintf(ev.by, sizeof(ev.by), "%s", a->d.cfg->id);
        snprintf(ev.reason, sizeof(ev.reason), "lease over; seen by %s", a->d.cfg->id);
        control_emit(a->d.control, &ev);
    }
}

static void cutovers(agent *a, const char **members, size_t nm)
{
    fleet_state *fleet = control_fleet(a->d.control);
    size_t n = model_set_count(a->d.models);
    for (size_t i = 0; i < n; i++) {
        struct served_model *sm = model_set_at(a->d.models, i);
        struct model_rollout *mr = agent_rollout(a, sm);
        struct fleet_model_info mi;
        if (fleet_model_get(fleet, sm->name, &mi) || !mi.target[0] ||
            !strcmp(mr->cutover_sent, mi.target))
            continue;
        if (fleet_cutover_due(fleet, sm->name, members, nm)) {
            snprintf(mr->cutover_sent, sizeof(mr->cutover_sent), "%s", mi.target);
            agent_emit_simple(a, CTL_ROLLOUT_CUTOVER, sm->name, mi.target, NULL, NULL);
        }
    }
}

/* A worker the group dropped: say so for it, so rollouts stop waiting. */
static void departed(agent *a, const char **members, size_t nm)
{
    const char *gone[8];
    size_t ng = fleet_workers_departed(control_fleet(a->d.control), members, nm, gone, 8);
    for (size_t i = 0; i < ng && i < 8; i++) {
        if (!strcmp(gone[i], a->d.cfg->id) || sent_before(a->left_sent, gone[i]))
            continue;
        snprintf(a->left_sent[a->left_pos++ % SENT_RING], CTL_NAME_CAP, "%s", gone[i]);
        struct ctl_event ev;
        ctl_event_init(&ev, CTL_WORKER_LEFT);
        snprintf(ev.worker, sizeof(ev.worker), "%s", gone[i]);
        snprintf(ev.by, sizeof(ev.by), "%s", a->d.cfg->id);
        snprintf(ev.reason, sizeof(ev.reason), "left the request group; seen by %s", a->d.cfg->id);
        control_emit(a->d.control, &ev);
    }
}

/* The request group's members (their client ids are worker ids), from the
 * group probe's answer if one arrived: the main loop never waits for it, and
 * while none comes (probe restarting, brokers away) these checks skip. */
static void membership(agent *a)
{
    struct group_probe_group *g = NULL;
    if (!a->d.probe || group_probe_poll(a->d.probe, &g))
        return;
    const char **members = calloc(g->member_count ? g->member_count : 1, sizeof(*members));
    size_t nm = 0;
    for (size_t i = 0; members && i < g->member_count; i++)
        members[nm++] = g->members[i].client_id;
    if (nm) {
        cutovers(a, members, nm);
        if (!strcmp(g->state, "Stable"))
            departed(a, members, nm);
    }
    free(members);
    group_probe_group_free(g);
}

void agent_upkeep(agent *a)
{
    membership(a);
    int64_t now = kf_clock_mono_us();
    if (now < a->next_fleet_check_us)
        return;
    a->next_fleet_check_us = now + 1000000;
    expire_leases(a);
    /* Ask for the request group's members once a second; membership() acts
     * on the answer the turn it arrives (-EBUSY: the last question is still
     * out; -EAGAIN: the probe is being restarted). */
    if (a->d.probe)
        group_probe_request(a->d.probe);
}
