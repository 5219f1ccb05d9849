/* The hand-off swap, for weights that do not fit twice (ARCHITECTURE §4),
 * as a state machine driven by agent_step, one short step per main-loop
 * turn, so the request consumer is polled throughout (docs/worker.md):
 *
 *   IDLE ──begin──> LEAVING: unsubscribed; the revoke (inside serve_poll)
 *                   drains, delivers and commits what was taken in
 *        ──no partitions left──> LOADING: the old weights dropped; a job
 *                   thread loads and checks the new ones while the peers
 *                   take the partitions over (seen at the coordinator
 *                   through the group probe: that is unowned_us)
 *        ──job failed──> IDLE: failed reported (the fallback serves, if any)
 *        ──job done, takeover seen (or 10 s)──> REJOINING: the new version
 *                   flipped in; the main loop rejoins (agent_may_join)
 *        ──partitions assigned again, or the group settled without any
 *                   for this worker (or 10 s)──> IDLE: done reported.
 *
 * Done waits for the rejoin because it frees the rollout's slot: the next
 * worker then leaves a group that has finished taking this one back, so
 * the hand-offs' rebalances follow one another instead of overlapping
 * (overlapping rounds bump the generation under in-flight commits).
 */
#include "worker/agent_impl.h"

#include "common/kf_clock.h"
#include "common/kf_log.h"

#include <stdio.h>
#include <string.h>

/* How long the revoke may take before the hand-off goes on regardless, and
 * how long after it the takeover is looked for (it only measures unowned_us). */
#define HANDOFF_REVOKE_MAX_US (30 * 1000000LL)
#define HANDOFF_OWNED_MAX_US (10 * 1000000LL)
/* The rejoin: how long a round that gave nothing must stay the last one
 * (more workers than partitions), and the most done waits for. */
#define HANDOFF_SETTLED_US (1000 * 1000LL)
#define HANDOFF_REJOIN_MAX_US (10 * 1000000LL)
/* A rebalance no sooner than this after the last: librdkafka's join gap and a margin. */
#define HANDOFF_JOIN_GAP_US (KIO_JOIN_GAP_US + 100 * 1000LL)

bool agent_handoff_active(const agent *a)
{
    return a->handoff.phase != HANDOFF_IDLE;
}

bool agent_handoff_blocks_join(const agent *a)
{
    return a->handoff.phase == HANDOFF_LEAVING || a->handoff.phase == HANDOFF_LOADING;
}

void agent_handoff_begin(agent *a, struct served_model *sm, const char *claim_id)
{
    struct model_rollout *mr = agent_rollout(a, sm);
    struct handoff *h = &a->handoff;
    *h = (struct handoff){.phase = HANDOFF_LEAVING, .sm = sm};
    snprintf(h->claim_id, sizeof(h->claim_id), "%s", claim_id ? claim_id : "");
    h->sv = mr->prepared_sv;
    mr->prepared_sv = NULL;
    h->timings = mr->prepared_timings;
    h->t_begin_us = kf_clock_mono_us();
}

/* Whether a rebalance started now would be noticed by the other members at
 * their next heartbeat: librdkafka holds a member's heartbeat-triggered
 * JoinGroup until a second after its previous one (kio_consumer.h), so a
 * rebalance that follows the last one too closely keeps partitions
 * unowned for the rest of that second. @p since_us: when the members last
 * joined (as far as this worker saw). */
static bool group_ready_for_rebalance(int64_t since_us, int64_t now)
{
    return !since_us || now - since_us >= HANDOFF_JOIN_GAP_US;
}

/* Leave once the group is ready for another rebalance (or after a while
 * regardless): the drain, delivery and commit happen in serve_leave. */
static bool leave_when_ready(agent *a, struct handoff *h, int64_t now)
{
    if (!group_ready_for_rebalance(serve_stats(a->d.serve).last_round_us, now) &&
        now - h->t_begin_us < HANDOFF_JOIN_GAP_US * 2)
        return false;
    serve_assignment(a->d.serve, &h->mine);
    KF_LOG_I("agent", "%s %s: hand-off: leaving the group (%zu partitions)", h->sm->name,
             h->sv->version, h->mine ? h->mine->count : 0);
    h->t_leave_us = kf_clock_mono_us();
    serve_leave(a->d.serve);
    return true;
}

/* Whether the group's coordinator shows every partition handed over owned
 * by some member: the moment the peers took over. Asks the group probe and
 * takes its answer on a later turn; answers to questions asked before the
 * revoke do not count. */
static bool partitions_owned(agent *a, const kio_tplist *parts, int64_t since_us)
{
    if (!a->d.probe)
        return false;
    struct group_probe_group *g = NULL;
    int err = group_probe_poll(a->d.probe, &g);
    group_probe_request(a->d.probe); /* -EBUSY: one is on its way already */
    if (err)
        return false;
    size_t owned = 0;
    for (size_t i = 0; g->asked_us >= since_us && i < parts->count; i++)
        for (size_t m = 0; m < g->member_count; m++)
            if (kio_tplist_find(g->members[m].assignment, parts->elems[i].topic,
                                parts->elems[i].partition)) {
                owned++;
                break;
            }
    bool all = g->asked_us >= since_us && owned == parts->count;
    group_probe_group_free(g);
    return all;
}

static void leaving_step(agent *a, struct handoff *h)
{
    int64_t now = kf_clock_mono_us();
    if (!h->t_leave_us && !leave_when_ready(a, h, now))
        return;
    if (serve_stats(a->d.serve).assigned > 0 && now - h->t_leave_us < HANDOFF_REVOKE_MAX_US)
        return;
    h->t_revoked_us = now;
    struct served_model *sm = h->sm;
    slot_drop_active(sm->slot);
    struct fleet_model_info mi;
    const char *fallback =
        !fleet_model_get(control_fleet(a->d.control), sm->name, &mi) ? mi.previous_good : NULL;
    h->job = agent_job_handoff_load(a, sm, h->sv, fallback);
    if (!h->job) {
        /* No thread for the load: report it, and the fallback path below
         * finds nothing loaded (the main loop waits to rejoin). */
        KF_LOG_E("agent", "%s %s: cannot start the hand-off load", sm->name, h->sv->version);
        agent_emit_failed(a, sm, h->sv->version, h->claim_id, CTL_STAGE_LOAD,
                          "cannot start a load thread");
        store_version_free(h->sv);
        h->sv = NULL;
        kio_tplist_free(h->mine);
        h->mine = NULL;
        h->phase = HANDOFF_IDLE;
        return;
    }
    h->sv = NULL; /* the job's now */
    h->phase = HANDOFF_LOADING;
}

static void finish(agent *a, struct handoff *h, struct agent_job *job)
{
    struct served_model *sm = h->sm;
    /* An upper bound when the takeover was seen after the load: the load is
     * local, the takeover happened no later than we saw it. */
    h->timings.unowned_us = h->t_owned_us ? (uint64_t)(h->t_owned_us - h->t_revoked_us) : 0;
    h->timings.load_us = job->timings.load_us;
    h->timings.warmup_us = job->timings.warmup_us;
    kio_tplist_free(h->mine);
    h->mine = NULL;
    KF_LOG_I("agent", "%s: hand-off load over after %.1f ms (%s)", sm->name,
             (kf_clock_mono_us() - h->t_leave_us) / 1e3, job->err ? "failed" : "rejoining");
    if (job->err) {
        KF_LOG_W("agent", "%s %s: hand-off load failed at %s: %s", sm->name, job->version,
                 ctl_stage2str(job->stage), job->errstr);
        agent_emit_failed(a, sm, job->version, h->claim_id, job->stage, job->errstr);
        if (job->restored) {
            slot_activate(sm->slot, job->restored);
            job->restored = NULL;
            agent_version_info(a, sm);
        }
        agent_job_free(job);
        *h = (struct handoff){.phase = HANDOFF_IDLE};
        return;
    }
    snprintf(h->version, sizeof(h->version), "%s", job->version);
    agent_flip(a, sm, job->loaded, &h->timings, CTL_MODE_HANDOFF);
    job->loaded = NULL;
    agent_job_free(job);
    h->t_flip_us = h->t_round_us = kf_clock_mono_us();
    h->rounds = serve_stats(a->d.serve).assign_rounds;
    h->phase = HANDOFF_REJOINING;
}

static void loading_step(agent *a, struct handoff *h)
{
    int64_t now = kf_clock_mono_us();
    bool want_owned =
        h->mine && h->mine->count && !h->t_owned_us && now - h->t_revoked_us < HANDOFF_OWNED_MAX_US;
    if (want_owned && partitions_owned(a, h->mine, h->t_revoked_us)) {
        h->t_owned_us = now;
        want_owned = false;
    }
    struct agent_job *job = agent_job_take(h->job);
    if (!job)
        return;
    if (want_owned)
        return; /* loaded before the peers took over: rejoining now would move them back */
    /* The peers joined when they took over (or, unseen, soon after the revoke). */
    if (!group_ready_for_rebalance(h->t_owned_us ? h->t_owned_us : h->t_revoked_us, now))
        return;
    h->job = NULL;
    finish(a, h, job);
}

/* Back in the group: done once it assigned this worker partitions, or its
 * last round (one at least) gave none and nothing followed for a while. */
static void rejoining_step(agent *a, struct handoff *h)
{
    int64_t now = kf_clock_mono_us();
    struct serve_stats st = serve_stats(a->d.serve);
    if (st.assign_rounds != h->rounds) {
        h->rounds = st.assign_rounds;
        h->t_round_us = now;
    }
    bool got_rounds = h->t_round_us > h->t_flip_us;
    bool settled =
        st.joined && (st.assigned > 0 || (got_rounds && now - h->t_round_us >= HANDOFF_SETTLED_US));
    if (!settled && now - h->t_flip_us < HANDOFF_REJOIN_MAX_US)
        return;
    struct served_model *sm = h->sm;
    KF_LOG_I("agent", "%s: hand-off over after %.1f ms (rejoined in %.1f ms, %d partition(s)%s)",
             sm->name, (now - h->t_leave_us) / 1e3, (now - h->t_flip_us) / 1e3, st.assigned,
             settled ? "" : "; the group did not settle in time");
    agent_emit_done(a, sm, h->version, h->claim_id, CTL_MODE_HANDOFF, &h->timings);
    agent_health_start(a, sm, h->version, h->claim_id);
    *h = (struct handoff){.phase = HANDOFF_IDLE};
}

void agent_handoff_step(agent *a)
{
    struct handoff *h = &a->handoff;
    if (h->phase == HANDOFF_LEAVING)
        leaving_step(a, h);
    if (h->phase == HANDOFF_LOADING)
        loading_step(a, h);
    if (h->phase == HANDOFF_REJOINING)
        rejoining_step(a, h);
}
