/* The rollout agent's turn (main thread): for each served model, ask the
 * reducer what to do (fleet_plan_worker) and do the next step of it — start
 * a job, claim a slot, swap, stage, flip — without waiting for anything.
 * Everything it decides comes from the log; what it appends goes back into
 * the log, where every worker sees it. */
#include "worker/agent_impl.h"

#include "common/kf_clock.h"
#include "common/kf_err.h"
#include "common/kf_log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

agent *agent_new(const struct agent_deps *deps)
{
    agent *a = calloc(1, sizeof(*a));
    if (a)
        a->d = *deps;
    return a;
}

static void drop_prepared(struct model_rollout *mr)
{
    if (mr->prepared)
        mr->prepared->destroy(mr->prepared);
    mr->prepared = NULL;
    store_version_free(mr->prepared_sv);
    mr->prepared_sv = NULL;
}

void agent_free(agent *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < WORKER_MAX_MODELS; i++) {
        agent_job_free(a->rollouts[i].job);
        drop_prepared(&a->rollouts[i]);
    }
    agent_job_free(a->handoff.job);
    store_version_free(a->handoff.sv);
    kio_tplist_free(a->handoff.mine);
    free(a);
}

static const char *prepared_version(const struct model_rollout *mr)
{
    if (mr->prepared)
        return mr->prepared->version;
    if (mr->prepared_sv)
        return mr->prepared_sv->version;
    return "";
}

/* A claim is granted or refused once, at its place in the log. A refused
 * one (the slots were full) is asked again once a slot is free and it is
 * this worker's turn in the queue of refused workers (fleet_claim_turn:
 * otherwise every waiting worker would claim at every freed slot); an
 * expired one (this worker was presumed dead) likewise. */
static bool claim_needs_retry(agent *a, struct served_model *sm)
{
    fleet_state *fleet = control_fleet(a->d.control);
    const struct fleet_claim *c = fleet_claim_find(fleet, agent_rollout(a, sm)->claim_id);
    if (!c || c->status == FLEET_CLAIM_ACTIVE || c->status == FLEET_CLAIM_DONE)
        return false; /* not read back yet, holding a slot, or finished */
    struct fleet_model_info mi;
    return !fleet_model_get(fleet, sm->name, &mi) &&
           mi.active_claims < mi.strategy->max_unavailable &&
           fleet_claim_turn(fleet, sm->name, a->d.cfg->id);
}

/* A fetch failed for want of the object store: not the version's fault, so
 * no rollout.failed; the plan asks again after a back-off and the rollout
 * waits for the store. */
static void retry_later(agent *a, struct model_rollout *mr, const struct agent_job *job)
{
    int64_t max = a->d.cfg->load_retry_max_ms;
    mr->retry_backoff_ms = mr->retry_backoff_ms ? mr->retry_backoff_ms * 2 : 1000;
    if (mr->retry_backoff_ms > max)
        mr->retry_backoff_ms = max;
    mr->retry_at_us = kf_clock_mono_us() + mr->retry_backoff_ms * 1000;
    KF_LOG_W("agent", "%s %s: fetch failed (%s); trying again in %" PRId64 " ms", job->model,
             job->version, job->errstr, mr->retry_backoff_ms);
}

/* A job finished: keep its version (prepared, or staged) or report its failure. */
static void job_collect(agent *a, struct served_model *sm)
{
    struct model_rollout *mr = agent_rollout(a, sm);
    struct agent_job *job = agent_job_take(mr->job);
    if (!job)
        return;
    mr->job = NULL;
    if (job->err && job->stage == CTL_STAGE_FETCH && kf_err_is_retriable(job->err)) {
        retry_later(a, mr, job);
    } else if (job->err) {
        mr->retry_backoff_ms = 0;
        KF_LOG_W("agent", "%s %s refused at stage %s: %s", sm->name, job->version,
                 ctl_stage2str(job->stage), job->errstr);
        agent_emit_failed(a, sm, job->version, mr->claim_id[0] ? mr->claim_id : NULL, job->stage,
                          job->errstr);
    } else if (job->action == FLEET_ACT_LOAD) {
        mr->retry_backoff_ms = 0;
        agent_activate(a, sm, job->loaded, NULL, &job->timings, CTL_MODE_INPLACE);
        agent_health_start(a, sm, job->version, NULL);
        job->loaded = NULL;
    } else if (job->action == FLEET_ACT_STAGE) {
        mr->retry_backoff_ms = 0;
        slot_stage(sm->slot, job->loaded);
        job->loaded = NULL;
        snprintf(mr->staged_version, sizeof(mr->staged_version), "%s", job->version);
        agent_emit_simple(a, CTL_ROLLOUT_STAGED, sm->name, job->version, NULL, NULL);
    } else {
        mr->retry_backoff_ms = 0;
        drop_prepared(mr);
        mr->prepared = job->loaded;
        mr->prepared_sv = job->verified;
        mr->prepared_timings = job->timings;
        job->loaded = NULL;
        job->verified = NULL;
    }
    agent_job_free(job);
}

static void activate_prepared(agent *a, struct served_model *sm, const char *claim_id)
{
    struct model_rollout *mr = agent_rollout(a, sm);
    struct slot_version *v = mr->prepared;
    mr->prepared = NULL;
    char version[CTL_NAME_CAP];
    snprintf(version, sizeof(version), "%s", v->version);
    agent_activate(a, sm, v, claim_id, &mr->prepared_timings, CTL_MODE_INPLACE);
    agent_health_start(a, sm, version, claim_id);
}

/* load or claim: prepare the version, then (claim) ask for a slot. */
static void step_prepare(agent *a, struct served_model *sm, const struct fleet_plan *plan,
                         bool failed_here, bool is_prepared)
{
    struct model_rollout *mr = agent_rollout(a, sm);
    if (failed_here || mr->job)
        return;
    if (is_prepared && plan->action == FLEET_ACT_LOAD && mr->prepared) {
        activate_prepared(a, sm, NULL);
    } else if (is_prepared) {
        /* Prefetched and verified while serving: now ask for a slot. */
        if (strcmp(mr->claimed_version, plan->version) || claim_needs_retry(a, sm))
            agent_emit_claim(a, sm, plan->version);
    } else {
        agent_job_prepare(a, sm, plan->version,
                          plan->action == FLEET_ACT_LOAD ? FLEET_ACT_LOAD : FLEET_ACT_CLAIM);
    }
}

/* swap: the claim is granted. */
static void step_swap(agent *a, struct served_model *sm, const struct fleet_plan *plan,
                      bool failed_here, bool is_prepared)
{
    struct model_rollout *mr = agent_rollout(a, sm);
    if (!mr->grant_seen_ms)
        mr->grant_seen_ms = kf_clock_wall_ms();
    if (kf_clock_wall_ms() < mr->grant_seen_ms + a->d.cfg->swap_delay_ms)
        return;
    if (is_prepared && mr->prepared) {
        activate_prepared(a, sm, plan->claim_id);
    } else if (is_prepared && mr->prepared_sv) {
        if (agent_handoff_active(a))
            return; /* one hand-off at a time: another model's is under way */
        agent_handoff_begin(a, sm, plan->claim_id);
    } else {
        if (!mr->job && !failed_here)
            agent_job_prepare(a, sm, plan->version, FLEET_ACT_CLAIM);
        return;
    }
    mr->grant_seen_ms = 0;
    mr->claimed_version[0] = mr->claim_id[0] = '\0';
}

/* stage: blue/green loads the new version beside the active one. */
static void step_stage(agent *a, struct served_model *sm, const struct fleet_plan *plan,
                       bool failed_here, const char *standby)
{
    struct model_rollout *mr = agent_rollout(a, sm);
    if (!failed_here && !mr->job && strcmp(standby, plan->version)) {
        agent_job_prepare(a, sm, plan->version, FLEET_ACT_STAGE);
    } else if (!strcmp(standby, plan->version) && strcmp(mr->staged_version, plan->version)) {
        snprintf(mr->staged_version, sizeof(mr->staged_version), "%s", plan->version);
        agent_emit_simple(a, CTL_ROLLOUT_STAGED, sm->name, plan->version, NULL, NULL);
    }
}

/* flip: the blue/green cutover is in the log. */
static void step_flip(agent *a, struct served_model *sm, const struct fleet_plan *plan,
                      bool failed_here, const char *standby)
{
    struct model_rollout *mr = agent_rollout(a, sm);
    if (!strcmp(standby, plan->version)) {
        struct ctl_timings t = {0};
        int64_t t0 = kf_clock_mono_us();
        slot_flip(sm->slot);
        t.flip_us = (uint64_t)(kf_clock_mono_us() - t0);
        agent_version_info(a, sm);
        KF_LOG_I("agent", "%s: cutover to %s at %" PRId64 " ms", sm->name, plan->version,
                 kf_clock_wall_ms());
        agent_emit_done(a, sm, plan->version, NULL, CTL_MODE_CUTOVER, &t);
        agent_health_start(a, sm, plan->version, NULL);
    } else if (!mr->job && !failed_here) {
        /* Not staged here (joined late, or restarted): load it now. */
        agent_job_prepare(a, sm, plan->version, FLEET_ACT_LOAD);
    }
}

static void model_step(agent *a, struct served_model *sm)
{
    struct model_rollout *mr = agent_rollout(a, sm);
    job_collect(a, sm);
    agent_health_check(a, sm);
    if (a->handoff.phase != HANDOFF_IDLE && a->handoff.sm == sm)
        return; /* its swap is under way */
    if (mr->retry_at_us && kf_clock_mono_us() < mr->retry_at_us)
        return; /* a fetch failed for want of the store: wait out the back-off */
    mr->retry_at_us = 0;
    char active[SCHEMA_NAME_CAP], standby[SCHEMA_NAME_CAP];
    slot_versions(sm->slot, active, standby);
    struct fleet_plan plan;
    if (fleet_plan_worker(control_fleet(a->d.control), a->d.cfg->id, sm->name,
                          active[0] ? active : NULL, &plan))
        return;
    bool failed_here = plan.version && !strcmp(plan.version, mr->failed_version);
    bool is_prepared = plan.version && !strcmp(prepared_version(mr), plan.version);
    switch (plan.action) {
    case FLEET_ACT_LOAD:
    case FLEET_ACT_CLAIM: step_prepare(a, sm, &plan, failed_here, is_prepared); return;
    case FLEET_ACT_SWAP: step_swap(a, sm, &plan, failed_here, is_prepared); return;
    case FLEET_ACT_STAGE: step_stage(a, sm, &plan, failed_here, standby); return;
    case FLEET_ACT_FLIP: step_flip(a, sm, &plan, failed_here, standby); return;
    default:
        /* Nothing to do: a version prepared for a target that moved on goes. */
        if (prepared_version(mr)[0] &&
            (!plan.version || strcmp(prepared_version(mr), plan.version)))
            drop_prepared(mr);
        return;
    }
}

/* A new model on the log: serve it if configured to (models=* or listed). */
static void add_models(agent *a)
{
    fleet_state *fleet = control_fleet(a->d.control);
    size_t n = fleet_model_count(fleet);
    for (size_t i = 0; i < n; i++) {
        struct fleet_model_info mi;
        if (!fleet_model_at(fleet, i, &mi) && mi.target[0])
            model_set_add(a->d.models, mi.model);
    }
}

/* One turn, with the fleet state locked against the fold thread. */
static void step_locked(agent *a)
{
    add_models(a);
    agent_handoff_step(a);
    size_t n = model_set_count(a->d.models);
    for (size_t i = 0; i < n; i++)
        model_step(a, model_set_at(a->d.models, i));
    if (serve_stats(a->d.serve).joined)
        agent_upkeep(a);
}

void agent_step(agent *a)
{
    /* The fold thread holds the state while it folds a batch: this turn's
     * rollout work waits for the next turn, the request consumer does not. */
    if (!control_trylock(a->d.control))
        return;
    step_locked(a);
    control_unlock(a->d.control);
}

bool agent_may_join(agent *a)
{
    return !agent_handoff_blocks_join(a) && model_set_can_serve(a->d.models);
}

void agent_model_status(agent *a, const struct served_model *sm, struct agent_model_status *out)
{
    const struct model_rollout *mr = agent_rollout(a, sm);
    snprintf(out->preparing, sizeof(out->preparing), "%s", mr->job ? mr->job->version : "");
    snprintf(out->claim_id, sizeof(out->claim_id), "%s", mr->claim_id);
}

/* ---- start-up ----------------------------------------------------------- */

/* The target of every served model, loaded before the worker joins the
 * request group. If S3 cannot be reached, the newest verified version in the
 * local cache serves instead (ARCHITECTURE §5). */
static int load_cached(agent *a, struct served_model *sm, const char *version)
{
    struct store_version *sv = NULL;
    enum ctl_stage stage;
    char why[512];
    struct fleet_version_info vi;
    const char *sha =
        version && !fleet_version_get(control_fleet(a->d.control), sm->name, version, &vi)
            ? vi.manifest->sha256
            : NULL;
    agent_count(a->d.metrics->store_reads, sm->name);
    int err = store_fetch_cached(a->d.store, sm->name, version, sha, &sv, &stage, why, sizeof(why));
    struct slot_version *v = NULL;
    if (!err) {
        agent_count(a->d.metrics->loads, sm->name);
        err = loader_load(a->d.backend, sv, a->d.cfg->max_batch_rows, &v, NULL, &stage, why,
                          sizeof(why));
    }
    store_version_free(sv);
    if (err) {
        KF_LOG_D("agent", "%s %s: not in the local cache (%s)", sm->name,
                 version ? version : "newest", why);
        return err;
    }
    KF_LOG_I("agent", "%s: serving %s from the local cache", sm->name, v->version);
    slot_activate(sm->slot, v);
    agent_version_info(a, sm);
    return 0;
}

static bool jobs_running(agent *a)
{
    bool running = false;
    size_t n = model_set_count(a->d.models);
    for (size_t i = 0; i < n; i++) {
        struct served_model *sm = model_set_at(a->d.models, i);
        job_collect(a, sm);
        running = running || agent_rollout(a, sm)->job;
    }
    return running;
}

/* S3 down and the target not cached: a cached version the log still stands
 * behind — the target, else the previous good one — never merely the newest
 * in the cache, which may be a version the fleet rolled back. */
static void load_fallback(agent *a, struct served_model *sm)
{
    struct fleet_model_info mi;
    if (fleet_model_get(control_fleet(a->d.control), sm->name, &mi)) {
        KF_LOG_W("agent", "%s: nothing to serve yet (not on the control log)", sm->name);
        return;
    }
    if (mi.target[0] && !load_cached(a, sm, mi.target))
        return;
    if (mi.previous_good[0] && strcmp(mi.previous_good, mi.target) &&
        !load_cached(a, sm, mi.previous_good)) {
        KF_LOG_W("agent", "%s: serving the previous good version %s until %s can be fetched",
                 sm->name, mi.previous_good, mi.target);
        return;
    }
    KF_LOG_W("agent", "%s: nothing to serve yet (neither %s%s%s is cached)", sm->name, mi.target,
             mi.previous_good[0] ? " nor " : "", mi.previous_good);
}

void agent_load_initial(agent *a, const atomic_bool *stop)
{
    control_lock(a->d.control);
    /* The target from the cache first: a restart with a warm cache needs no S3. */
    add_models(a);
    size_t n = model_set_count(a->d.models);
    for (size_t i = 0; i < n; i++) {
        struct served_model *sm = model_set_at(a->d.models, i);
        struct fleet_plan plan;
        if (!fleet_plan_worker(control_fleet(a->d.control), a->d.cfg->id, sm->name, NULL, &plan) &&
            plan.action == FLEET_ACT_LOAD)
            load_cached(a, sm, plan.version);
    }
    step_locked(a);
    /* Not in the group yet: nothing waits on this thread but the loads. */
    while (jobs_running(a) && !atomic_load(stop)) {
        control_unlock(a->d.control);
        kf_sleep_ms(20);
        control_lock(a->d.control);
    }
    n = model_set_count(a->d.models);
    for (size_t i = 0; i < n; i++) {
        struct served_model *sm = model_set_at(a->d.models, i);
        char active[SCHEMA_NAME_CAP], standby[SCHEMA_NAME_CAP];
        slot_versions(sm->slot, active, standby);
        if (!active[0])
            load_fallback(a, sm);
    }
    control_unlock(a->d.control);
}
