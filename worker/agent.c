/* The rollout agent (main thread): asks the reducer what this worker should
 * do for each model (fleet_plan_worker) and does it — prepare a version on a
 * job thread while serving, claim a slot, swap when the claim is granted,
 * report done or failed. Everything it decides comes from the log; what it
 * appends goes back into the log, where every worker sees it. */
#include "worker/worker_impl.h"

#include "common/kf_clock.h"
#include "common/kf_err.h"
#include "common/kf_log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool model_wanted(const struct worker *w, const char *model)
{
    if (w->serve_all)
        return true;
    const char *list = kf_conf_str(w->conf, "models");
    size_t n = strlen(model);
    for (const char *p = list; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && !strncmp(p, model, n))
            return true;
        p = comma ? comma + 1 : NULL;
    }
    return false;
}

struct served_model *agent_model_get(struct worker *w, const char *model, bool create)
{
    for (size_t i = 0; i < w->n_models; i++)
        if (!strcmp(w->models[i].name, model))
            return &w->models[i];
    if (!create || w->n_models == WORKER_MAX_MODELS || !model_wanted(w, model))
        return NULL;
    struct served_model *sm = &w->models[w->n_models];
    memset(sm, 0, sizeof(*sm));
    snprintf(sm->name, sizeof(sm->name), "%s", model);
    pthread_mutex_init(&sm->health_lock, NULL);
    sm->slot = slot_new(model);
    if (!sm->slot)
        return NULL;
    sm->batcher = serve_batcher_new(w, sm->slot);
    if (!sm->batcher) {
        slot_free(sm->slot);
        return NULL;
    }
    w->n_models++;
    return sm;
}

/* auto: in place when the new weights fit beside the resident ones (free
 * device memory, or memory_budget on the reference backend), else hand-off. */
static enum ctl_swap_mode resolve_mode(struct agent_job *job, const struct store_version *sv)
{
    struct worker *w = job->w;
    if (job->swap_mode != CTL_SWAP_AUTO)
        return job->swap_mode;
    bool fits = true;
    char why[256];
    uint64_t resident = 0;
    for (size_t i = 0; i < w->n_models; i++)
        resident += slot_resident_bytes(w->models[i].slot);
    if (loader_fits_inplace(w->backend, sv, (uint32_t)kf_conf_int(w->conf, "max_batch_rows"),
                            (uint64_t)kf_conf_int(w->conf, "memory_budget"), resident, &fits, NULL,
                            why, sizeof(why)))
        return CTL_SWAP_INPLACE; /* the load will report what is wrong */
    return fits ? CTL_SWAP_INPLACE : CTL_SWAP_HANDOFF;
}

static void *job_thread(void *arg)
{
    struct agent_job *job = arg;
    struct worker *w = job->w;
    struct store_version *sv = NULL;
    int64_t t0 = kf_clock_mono_us();
    job->err = store_fetch(w->store, job->sm->name, job->version, &job->manifest, &sv, &job->stage,
                           job->errstr, sizeof(job->errstr));
    int64_t t1 = kf_clock_mono_us();
    if (!job->err) {
        job->timings.fetch_us = sv->timings.fetch_us ? sv->timings.fetch_us : (uint64_t)(t1 - t0);
        job->timings.verify_us = sv->timings.verify_us;
        /* Only a claimed swap may leave the group; a first load or a
         * blue/green stage always loads beside what is there. */
        job->swap_mode = job->action == FLEET_ACT_CLAIM ? resolve_mode(job, sv) : CTL_SWAP_INPLACE;
        if (job->swap_mode == CTL_SWAP_HANDOFF) {
            job->verified = sv; /* loaded at the swap, after the old weights are freed */
            sv = NULL;
        } else {
            struct loader_timings lt = {0};
            job->err =
                loader_load(w->backend, sv, (uint32_t)kf_conf_int(w->conf, "max_batch_rows"),
                            &job->loaded, &lt, &job->stage, job->errstr, sizeof(job->errstr));
            job->timings.load_us = lt.load_us;
            job->timings.warmup_us = lt.warmup_us + lt.validate_us;
        }
    }
    store_version_free(sv);
    atomic_store(&job->finished, true);
    return NULL;
}

static int job_start(struct worker *w, struct served_model *sm, const char *version,
                     enum fleet_action action)
{
    struct fleet_version_info vi;
    if (fleet_version_get(w->fleet, sm->name, version, &vi))
        return -ENOENT;
    struct agent_job *job = calloc(1, sizeof(*job));
    if (!job)
        return -ENOMEM;
    job->w = w;
    job->sm = sm;
    job->action = action;
    snprintf(job->version, sizeof(job->version), "%s", version);
    job->manifest = *vi.manifest;
    /* The worker's own swap_mode, when set, wins over the rollout's. */
    static const enum ctl_swap_mode modes[] = {CTL_SWAP_AUTO, CTL_SWAP_INPLACE, CTL_SWAP_HANDOFF};
    const char *conf_mode = kf_conf_str(w->conf, "swap_mode");
    job->swap_mode = vi.strategy ? vi.strategy->swap_mode : CTL_SWAP_AUTO;
    if (kf_conf_is_set(w->conf, "swap_mode"))
        job->swap_mode = modes[!strcmp(conf_mode, "inplace")   ? 1
                               : !strcmp(conf_mode, "handoff") ? 2
                                                               : 0];
    if (pthread_create(&job->thread, NULL, job_thread, job)) {
        free(job);
        return -EAGAIN;
    }
    sm->job = job;
    KF_LOG_I("agent", "%s %s: preparing (fetch, verify, load) for %s", sm->name, version,
             fleet_action2str(action));
    return 0;
}

static void emit_failed(struct worker *w, struct served_model *sm, const char *version,
                        const char *claim_id, enum ctl_stage stage, const char *reason)
{
    struct ctl_event ev;
    ctl_event_init(&ev, CTL_ROLLOUT_FAILED);
    snprintf(ev.worker, sizeof(ev.worker), "%s", w->id);
    snprintf(ev.model, sizeof(ev.model), "%s", sm->name);
    snprintf(ev.version, sizeof(ev.version), "%s", version);
    snprintf(ev.claim_id, sizeof(ev.claim_id), "%s", claim_id ? claim_id : "");
    snprintf(ev.reason, sizeof(ev.reason), "%s", reason);
    ev.stage = stage;
    control_emit(w, &ev);
    snprintf(sm->failed_version, sizeof(sm->failed_version), "%s", version);
    metric_inc(metrics_series(w->m.swaps, (const char *const[]){sm->name, "failed"}), 1);
}

static void emit_done(struct worker *w, struct served_model *sm, const char *version,
                      const char *claim_id, enum ctl_mode mode, const struct ctl_timings *t)
{
    struct ctl_event ev;
    ctl_event_init(&ev, CTL_ROLLOUT_DONE);
    snprintf(ev.worker, sizeof(ev.worker), "%s", w->id);
    snprintf(ev.model, sizeof(ev.model), "%s", sm->name);
    snprintf(ev.version, sizeof(ev.version), "%s", version);
    snprintf(ev.claim_id, sizeof(ev.claim_id), "%s", claim_id ? claim_id : "");
    ev.mode = mode;
    ev.timings = *t;
    control_emit(w, &ev);
    metric_inc(metrics_series(w->m.swaps, (const char *const[]){sm->name, "done"}), 1);
    static const char *const stages[] = {"fetch", "verify", "load", "warmup", "flip"};
    const uint64_t us[] = {t->fetch_us, t->verify_us, t->load_us, t->warmup_us, t->flip_us};
    for (size_t i = 0; i < 5; i++)
        metric_observe(metrics_series(w->m.swap_stage, (const char *const[]){sm->name, stages[i]}),
                       (double)us[i] / 1e6);
}

static void version_info_update(struct worker *w, struct served_model *sm)
{
    char active[64], standby[64];
    slot_versions(sm->slot, active, standby);
    if (sm->m_version_info)
        metric_set(sm->m_version_info, 0);
    sm->m_version_info = metrics_series(w->m.version_info, (const char *const[]){sm->name, active});
    metric_set(sm->m_version_info, 1);
}

static void emit_simple(struct worker *w, enum ctl_type type, const char *model,
                        const char *version, const char *claim_id, const char *reason)
{
    struct ctl_event ev;
    ctl_event_init(&ev, type);
    snprintf(ev.worker, sizeof(ev.worker), "%s", w->id);
    snprintf(ev.model, sizeof(ev.model), "%s", model ? model : "");
    snprintf(ev.version, sizeof(ev.version), "%s", version ? version : "");
    snprintf(ev.claim_id, sizeof(ev.claim_id), "%s", claim_id ? claim_id : "");
    snprintf(ev.reason, sizeof(ev.reason), "%s", reason ? reason : "");
    control_emit(w, &ev);
}

/* ---- canary bake -------------------------------------------------------- */

void agent_health_record(struct served_model *sm, int64_t latency_us, bool error)
{
    pthread_mutex_lock(&sm->health_lock);
    sm->lat_us[sm->lat_pos] = (uint32_t)(latency_us > UINT32_MAX ? UINT32_MAX : latency_us);
    sm->lat_pos = (sm->lat_pos + 1) % (sizeof(sm->lat_us) / sizeof(sm->lat_us[0]));
    if (sm->lat_n < sizeof(sm->lat_us) / sizeof(sm->lat_us[0]))
        sm->lat_n++;
    sm->health_requests++;
    sm->health_errors += error;
    pthread_mutex_unlock(&sm->health_lock);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* p99 of the recent latencies; the window is cleared so that after a swap it
 * holds the new version's requests only. */
static double health_p99(struct served_model *sm, bool clear)
{
    uint32_t copy[sizeof(sm->lat_us) / sizeof(sm->lat_us[0])];
    pthread_mutex_lock(&sm->health_lock);
    size_t n = sm->lat_n;
    memcpy(copy, sm->lat_us, n * sizeof(copy[0]));
    if (clear)
        sm->lat_n = sm->lat_pos = 0;
    pthread_mutex_unlock(&sm->health_lock);
    if (!n)
        return 0;
    qsort(copy, n, sizeof(copy[0]), cmp_u32);
    return copy[(size_t)((double)(n - 1) * 0.99)];
}

static void bake_start(struct worker *w, struct served_model *sm, const char *version)
{
    struct fleet_model_info mi;
    if (fleet_model_get(w->fleet, sm->name, &mi) || mi.phase != FLEET_CANARY)
        return;
    sm->baking = true;
    snprintf(sm->bake_version, sizeof(sm->bake_version), "%s", version);
    sm->baseline_p99_us = health_p99(sm, true);
    pthread_mutex_lock(&sm->health_lock);
    sm->bake_requests0 = sm->health_requests;
    sm->bake_errors0 = sm->health_errors;
    pthread_mutex_unlock(&sm->health_lock);
    sm->bake_until_ms = kf_clock_wall_ms() + (int64_t)mi.strategy->bake_s * 1000;
    KF_LOG_I("agent", "%s %s: canary bake for %u s (baseline p99 %.0f us)", sm->name, version,
             mi.strategy->bake_s, sm->baseline_p99_us);
}

/* After bake_s of serving: healthy, or failed at stage health. Errors
 * include answers with non-finite outputs (NaN/Inf), which golden vectors
 * may not reveal. */
static void bake_check(struct worker *w, struct served_model *sm)
{
    if (!sm->baking || kf_clock_wall_ms() < sm->bake_until_ms)
        return;
    sm->baking = false;
    struct fleet_model_info mi;
    if (fleet_model_get(w->fleet, sm->name, &mi) || strcmp(mi.target, sm->bake_version))
        return; /* the rollout moved on meanwhile */
    pthread_mutex_lock(&sm->health_lock);
    uint64_t req = sm->health_requests - sm->bake_requests0;
    uint64_t err = sm->health_errors - sm->bake_errors0;
    pthread_mutex_unlock(&sm->health_lock);
    if (req == 0) {
        /* No traffic, no verdict: a canary that served nothing is not healthy
         * by default. Bake on until requests arrive (or the rollout moves on). */
        sm->baking = true;
        sm->bake_until_ms = kf_clock_wall_ms() + (int64_t)mi.strategy->bake_s * 1000;
        KF_LOG_I("agent", "%s %s: no requests during the bake yet; baking on", sm->name,
                 sm->bake_version);
        return;
    }
    double p99 = health_p99(sm, false);
    double error_rate = (double)err / (double)req;
    double ratio = sm->baseline_p99_us > 0 ? p99 / sm->baseline_p99_us : 1;
    char why[256];
    snprintf(why, sizeof(why),
             "bake: %" PRIu64 " requests, error rate %.4f (max %.4f), p99 %.0f us = %.2f x "
             "baseline (max %.2f)",
             req, error_rate, mi.strategy->max_error_rate, p99, ratio, mi.strategy->max_p99_ratio);
    if (error_rate > mi.strategy->max_error_rate || ratio > mi.strategy->max_p99_ratio) {
        KF_LOG_W("agent", "%s %s unhealthy: %s", sm->name, sm->bake_version, why);
        emit_failed(w, sm, sm->bake_version, NULL, CTL_STAGE_HEALTH, why);
        return;
    }
    KF_LOG_I("agent", "%s %s healthy: %s", sm->name, sm->bake_version, why);
    struct ctl_event ev;
    ctl_event_init(&ev, CTL_ROLLOUT_HEALTHY);
    snprintf(ev.worker, sizeof(ev.worker), "%s", w->id);
    snprintf(ev.model, sizeof(ev.model), "%s", sm->name);
    snprintf(ev.version, sizeof(ev.version), "%s", sm->bake_version);
    ev.metrics = (struct ctl_metrics){.requests = req,
                                      .errors = err,
                                      .p99_us = (uint64_t)p99,
                                      .baseline_p99_us = (uint64_t)sm->baseline_p99_us};
    control_emit(w, &ev);
}

/* ---- swaps -------------------------------------------------------------- */

/* Flip the slot to a prepared version: one pointer store; the old version
 * goes when its last batch returns. */
static void activate(struct worker *w, struct served_model *sm, struct slot_version *v,
                     const char *claim_id, struct ctl_timings *t, enum ctl_mode mode)
{
    char version[CTL_NAME_CAP];
    snprintf(version, sizeof(version), "%s", v->version);
    int64_t t0 = kf_clock_mono_us();
    slot_activate(sm->slot, v);
    t->flip_us = (uint64_t)(kf_clock_mono_us() - t0);
    version_info_update(w, sm);
    KF_LOG_I("agent",
             "%s: now serving %s (%s; fetch %.1f ms, verify %.1f ms, load %.1f ms, "
             "warmup %.1f ms, flip %.3f ms, unowned %.1f ms)",
             sm->name, version, ctl_mode2str(mode), t->fetch_us / 1e3, t->verify_us / 1e3,
             t->load_us / 1e3, t->warmup_us / 1e3, t->flip_us / 1e3, t->unowned_us / 1e3);
    emit_done(w, sm, version, claim_id, mode, t);
    bake_start(w, sm, version);
}

/* Wait (serving Kafka meanwhile) until no partition is assigned here. */
static void wait_unassigned(struct worker *w, int timeout_ms)
{
    int64_t until = kf_clock_mono_us() + (int64_t)timeout_ms * 1000;
    while (atomic_load(&w->assigned) > 0 && kf_clock_mono_us() < until)
        serve_poll(w, 20);
}

/* Whether the group's coordinator shows every partition of @p parts owned by
 * some member: the moment the peers took over. Asks the group probe and
 * takes its answer on a later call (the caller polls every 20 ms); answers
 * to questions asked before @p since_us (before the revoke) do not count. */
static bool partitions_owned(struct worker *w, const kio_tplist *parts, int64_t since_us)
{
    if (!w->probe)
        return false;
    struct group_probe_group *g = NULL;
    int err = group_probe_poll(w->probe, &g);
    group_probe_request(w->probe); /* -EBUSY: one is on its way already */
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

/* The hand-off swap, for weights that do not fit twice (ARCHITECTURE §4):
 * leave the group so the peers take this worker's partitions in a
 * cooperative rebalance, free the old weights, load and check the new ones,
 * join again. unowned_us is how long the partitions waited for a peer. */
static void handoff_swap(struct worker *w, struct served_model *sm, const char *claim_id)
{
    struct store_version *sv = sm->prepared_sv;
    sm->prepared_sv = NULL;
    struct ctl_timings t = sm->prepared_timings;
    kio_tplist *mine = NULL;
    kio_consumer_assignment(w->requests, &mine);
    KF_LOG_I("agent", "%s %s: hand-off: leaving the group (%zu partitions)", sm->name, sv->version,
             mine ? mine->count : 0);
    int64_t t_leave = kf_clock_mono_us();
    kio_consumer_unsubscribe(w->requests);
    atomic_store(&w->joined, false);
    wait_unassigned(w, 30000); /* the revoke drained, delivered and committed */
    int64_t t_revoked = kf_clock_mono_us();
    /* The peers' takeover, seen at the coordinator, while the load runs. */
    slot_drop_active(sm->slot);
    struct slot_version *v = NULL;
    struct loader_timings lt = {0};
    enum ctl_stage stage;
    char errstr[512];
    int err = loader_load(w->backend, sv, (uint32_t)kf_conf_int(w->conf, "max_batch_rows"), &v, &lt,
                          &stage, errstr, sizeof(errstr));
    t.load_us = lt.load_us;
    t.warmup_us = lt.warmup_us + lt.validate_us;
    int64_t t_owned = 0;
    if (mine && mine->count) {
        int64_t until = kf_clock_mono_us() + 10 * 1000000LL;
        while (!t_owned && kf_clock_mono_us() < until) {
            if (partitions_owned(w, mine, t_revoked))
                t_owned = kf_clock_mono_us();
            else
                kf_sleep_ms(20);
        }
    }
    /* An upper bound when this check came after the load: the load is
     * local, the takeover happened no later than we saw it. */
    t.unowned_us = t_owned ? (uint64_t)(t_owned - t_revoked) : 0;
    char version[CTL_NAME_CAP];
    snprintf(version, sizeof(version), "%s", sv->version);
    store_version_free(sv);
    if (err) {
        /* Nothing is loaded now: reload the previous version from the cache
         * before rejoining, so the worker does not join empty-handed. */
        KF_LOG_W("agent", "%s %s: hand-off load failed at %s: %s", sm->name, version,
                 ctl_stage2str(stage), errstr);
        emit_failed(w, sm, version, claim_id, stage, errstr);
        struct fleet_model_info mi;
        if (!fleet_model_get(w->fleet, sm->name, &mi) && mi.previous_good[0]) {
            struct store_version *old = NULL;
            if (!store_fetch_cached(w->store, sm->name, mi.previous_good, NULL, &old, NULL, errstr,
                                    sizeof(errstr)) &&
                !loader_load(w->backend, old, (uint32_t)kf_conf_int(w->conf, "max_batch_rows"), &v,
                             NULL, NULL, errstr, sizeof(errstr)))
                slot_activate(sm->slot, v);
            store_version_free(old);
        }
    } else {
        activate(w, sm, v, claim_id, &t, CTL_MODE_HANDOFF);
    }
    /* Rejoin only with something to serve; otherwise the main loop joins
     * once a retried load succeeds. */
    if (agent_can_serve(w) && !serve_join(w))
        KF_LOG_I("agent", "%s: rejoined the group after %.1f ms", sm->name,
                 (kf_clock_mono_us() - t_leave) / 1e3);
    else
        KF_LOG_W("agent", "%s: nothing loaded after the hand-off; not rejoining yet", sm->name);
    kio_tplist_free(mine);
}

static void claim(struct worker *w, struct served_model *sm, const char *version)
{
    struct ctl_event ev;
    ctl_event_init(&ev, CTL_ROLLOUT_CLAIM);
    snprintf(ev.worker, sizeof(ev.worker), "%s", w->id);
    snprintf(ev.model, sizeof(ev.model), "%s", sm->name);
    snprintf(ev.version, sizeof(ev.version), "%s", version);
    /* Unique and readable: who, what, when (ids are at most 128 bytes). */
    snprintf(ev.claim_id, sizeof(ev.claim_id), "%.40s/%.30s/%.30s/%" PRId64, w->id, sm->name,
             version, kf_clock_wall_ms());
    if (!control_emit(w, &ev)) {
        snprintf(sm->claimed_version, sizeof(sm->claimed_version), "%s", version);
        snprintf(sm->claim_id, sizeof(sm->claim_id), "%s", ev.claim_id);
    }
}

/* A claim is granted or refused once, at its place in the log. A refused
 * one (the slots were full) is asked again once a slot is free; an expired
 * one (this worker was presumed dead) likewise. */
static bool claim_needs_retry(struct worker *w, struct served_model *sm)
{
    const struct fleet_claim *c = fleet_claim_find(w->fleet, sm->claim_id);
    if (!c || c->status == FLEET_CLAIM_ACTIVE || c->status == FLEET_CLAIM_DONE)
        return false; /* not read back yet, holding a slot, or finished */
    struct fleet_model_info mi;
    return !fleet_model_get(w->fleet, sm->name, &mi) &&
           mi.active_claims < mi.strategy->max_unavailable;
}

static void drop_prepared(struct served_model *sm)
{
    if (sm->prepared)
        sm->prepared->destroy(sm->prepared);
    sm->prepared = NULL;
    store_version_free(sm->prepared_sv);
    sm->prepared_sv = NULL;
}

static const char *prepared_version(const struct served_model *sm)
{
    if (sm->prepared)
        return sm->prepared->version;
    if (sm->prepared_sv)
        return sm->prepared_sv->version;
    return "";
}

/* A job finished: keep its version (prepared, or staged) or report its failure. */
static void job_collect(struct worker *w, struct served_model *sm)
{
    struct agent_job *job = sm->job;
    if (!job || !atomic_load(&job->finished))
        return;
    pthread_join(job->thread, NULL);
    sm->job = NULL;
    if (job->err && job->stage == CTL_STAGE_FETCH && kf_err_is_retriable(job->err)) {
        /* The object store is unreachable or too slow: not the version's
         * fault, so no rollout.failed; the plan asks again after a back-off
         * and the rollout waits for the store. */
        int64_t max = kf_conf_int(w->conf, "load.retry_max_ms");
        sm->retry_backoff_ms = sm->retry_backoff_ms ? sm->retry_backoff_ms * 2 : 1000;
        if (sm->retry_backoff_ms > max)
            sm->retry_backoff_ms = max;
        sm->retry_at_us = kf_clock_mono_us() + sm->retry_backoff_ms * 1000;
        KF_LOG_W("agent", "%s %s: fetch failed (%s); trying again in %" PRId64 " ms", sm->name,
                 job->version, job->errstr, sm->retry_backoff_ms);
        free(job);
        return;
    }
    sm->retry_backoff_ms = 0;
    if (job->err) {
        KF_LOG_W("agent", "%s %s refused at stage %s: %s", sm->name, job->version,
                 ctl_stage2str(job->stage), job->errstr);
        emit_failed(w, sm, job->version, sm->claim_id[0] ? sm->claim_id : NULL, job->stage,
                    job->errstr);
        free(job);
        return;
    }
    if (job->action == FLEET_ACT_LOAD) {
        activate(w, sm, job->loaded, NULL, &job->timings, CTL_MODE_INPLACE);
    } else if (job->action == FLEET_ACT_STAGE) {
        slot_stage(sm->slot, job->loaded);
        snprintf(sm->staged_version, sizeof(sm->staged_version), "%s", job->version);
        emit_simple(w, CTL_ROLLOUT_STAGED, sm->name, job->version, NULL, NULL);
    } else {
        drop_prepared(sm);
        sm->prepared = job->loaded;
        sm->prepared_sv = job->verified;
        sm->prepared_timings = job->timings;
    }
    free(job);
}

static void model_step(struct worker *w, struct served_model *sm)
{
    job_collect(w, sm);
    bake_check(w, sm);
    if (sm->retry_at_us && kf_clock_mono_us() < sm->retry_at_us)
        return; /* a fetch failed for want of the store: wait out the back-off */
    sm->retry_at_us = 0;
    char active[64], standby[64];
    slot_versions(sm->slot, active, standby);
    struct fleet_plan plan;
    if (fleet_plan_worker(w->fleet, w->id, sm->name, active[0] ? active : NULL, &plan))
        return;
    bool failed_here = plan.version && !strcmp(plan.version, sm->failed_version);
    bool is_prepared = plan.version && !strcmp(prepared_version(sm), plan.version);
    switch (plan.action) {
    case FLEET_ACT_LOAD:
    case FLEET_ACT_CLAIM:
        if (failed_here || sm->job)
            return;
        if (is_prepared && plan.action == FLEET_ACT_LOAD && sm->prepared) {
            struct slot_version *v = sm->prepared;
            sm->prepared = NULL;
            activate(w, sm, v, NULL, &sm->prepared_timings, CTL_MODE_INPLACE);
        } else if (is_prepared) {
            /* Prefetched and verified while serving: now ask for a slot. */
            if (strcmp(sm->claimed_version, plan.version) || claim_needs_retry(w, sm))
                claim(w, sm, plan.version);
        } else {
            job_start(w, sm, plan.version,
                      plan.action == FLEET_ACT_LOAD ? FLEET_ACT_LOAD : FLEET_ACT_CLAIM);
        }
        return;
    case FLEET_ACT_SWAP:
        if (!sm->grant_seen_ms)
            sm->grant_seen_ms = kf_clock_wall_ms();
        if (kf_clock_wall_ms() < sm->grant_seen_ms + kf_conf_int(w->conf, "rollout.swap_delay_ms"))
            return;
        sm->grant_seen_ms = 0;
        if (is_prepared && sm->prepared) {
            struct slot_version *v = sm->prepared;
            sm->prepared = NULL;
            activate(w, sm, v, plan.claim_id, &sm->prepared_timings, CTL_MODE_INPLACE);
        } else if (is_prepared && sm->prepared_sv) {
            handoff_swap(w, sm, plan.claim_id);
        } else if (!sm->job && !failed_here) {
            job_start(w, sm, plan.version, FLEET_ACT_CLAIM);
            return;
        } else {
            return;
        }
        sm->claimed_version[0] = sm->claim_id[0] = '\0';
        return;
    case FLEET_ACT_STAGE:
        if (!failed_here && !sm->job && strcmp(standby, plan.version))
            job_start(w, sm, plan.version, FLEET_ACT_STAGE);
        else if (!strcmp(standby, plan.version) && strcmp(sm->staged_version, plan.version)) {
            snprintf(sm->staged_version, sizeof(sm->staged_version), "%s", plan.version);
            emit_simple(w, CTL_ROLLOUT_STAGED, sm->name, plan.version, NULL, NULL);
        }
        return;
    case FLEET_ACT_FLIP:
        if (!strcmp(standby, plan.version)) {
            struct ctl_timings t = {0};
            int64_t t0 = kf_clock_mono_us();
            slot_flip(sm->slot);
            t.flip_us = (uint64_t)(kf_clock_mono_us() - t0);
            version_info_update(w, sm);
            KF_LOG_I("agent", "%s: cutover to %s at %" PRId64 " ms", sm->name, plan.version,
                     kf_clock_wall_ms());
            emit_done(w, sm, plan.version, NULL, CTL_MODE_CUTOVER, &t);
        } else if (!sm->job && !failed_here) {
            /* Not staged here (joined late, or restarted): load it now. */
            job_start(w, sm, plan.version, FLEET_ACT_LOAD);
        }
        return;
    default:
        /* Nothing to do: a version prepared for a target that moved on goes. */
        if (prepared_version(sm)[0] &&
            (!plan.version || strcmp(prepared_version(sm), plan.version)))
            drop_prepared(sm);
        return;
    }
}

/* ---- fleet upkeep: leases, cutover, departed workers --------------------- */

static bool sent_before(char (*ring)[CTL_NAME_CAP], size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(ring[i], id))
            return true;
    return false;
}

static void fleet_upkeep(struct worker *w)
{
    int64_t now = kf_clock_mono_us();
    if (now < w->next_fleet_check_us)
        return;
    w->next_fleet_check_us = now + 1000000;

    /* Claims whose lease ran out: the first expire in the log wins. */
    const struct fleet_claim *expired[16];
    size_t n = fleet_claims_expired(w->fleet, kf_clock_wall_ms(), expired, 16);
    for (size_t i = 0; i < n && i < 16; i++) {
        if (sent_before(w->expire_sent, 32, expired[i]->claim_id))
            continue;
        snprintf(w->expire_sent[w->expire_pos++ % 32], CTL_NAME_CAP, "%s", expired[i]->claim_id);
        KF_LOG_W("agent", "claim %s of %s: lease over", expired[i]->claim_id, expired[i]->worker);
        struct ctl_event ev;
        ctl_event_init(&ev, CTL_ROLLOUT_EXPIRE);
        snprintf(ev.claim_id, sizeof(ev.claim_id), "%s", expired[i]->claim_id);
        snprintf(ev.worker, sizeof(ev.worker), "%s", expired[i]->worker);
        snprintf(ev.model, sizeof(ev.model), "%s", expired[i]->model);
        snprintf(ev.reason, sizeof(ev.reason), "lease over; seen by %s", w->id);
        control_emit(w, &ev);
    }

    /* Ask for the request group's members once a second; fleet_membership
     * acts on the answer the turn it arrives (-EBUSY: the last question is
     * still out; -EAGAIN: the probe is being restarted). */
    if (w->probe)
        group_probe_request(w->probe);
}

/* The request group's members (their client ids are worker ids), from the
 * group probe's answer if one arrived: the main loop never waits for it, and
 * while none comes (probe restarting, brokers away) these checks skip. */
static void fleet_membership(struct worker *w)
{
    struct group_probe_group *g = NULL;
    if (!w->probe || group_probe_poll(w->probe, &g))
        return;
    const char *members[64];
    size_t nm = 0;
    for (size_t i = 0; i < g->member_count && nm < 64; i++)
        members[nm++] = g->members[i].client_id;
    for (size_t i = 0; i < w->n_models && nm; i++) {
        struct served_model *sm = &w->models[i];
        struct fleet_model_info mi;
        if (fleet_model_get(w->fleet, sm->name, &mi) || !mi.target[0] ||
            !strcmp(sm->cutover_sent, mi.target))
            continue;
        if (fleet_cutover_due(w->fleet, sm->name, members, nm)) {
            snprintf(sm->cutover_sent, sizeof(sm->cutover_sent), "%s", mi.target);
            emit_simple(w, CTL_ROLLOUT_CUTOVER, sm->name, mi.target, NULL, NULL);
        }
    }
    /* A worker the group dropped: say so for it, so rollouts stop waiting. */
    const char *gone[8];
    size_t ng = nm && !strcmp(g->state, "Stable")
                    ? fleet_workers_departed(w->fleet, members, nm, gone, 8)
                    : 0;
    for (size_t i = 0; i < ng && i < 8; i++) {
        if (!strcmp(gone[i], w->id) || sent_before(w->left_sent, 32, gone[i]))
            continue;
        snprintf(w->left_sent[w->left_pos++ % 32], CTL_NAME_CAP, "%s", gone[i]);
        struct ctl_event ev;
        ctl_event_init(&ev, CTL_WORKER_LEFT);
        snprintf(ev.worker, sizeof(ev.worker), "%s", gone[i]);
        snprintf(ev.reason, sizeof(ev.reason), "left the request group; seen by %s", w->id);
        control_emit(w, &ev);
    }
    group_probe_group_free(g);
}

/* A new model on the log: serve it if configured to (models=* or listed). */
static void agent_step_models(struct worker *w)
{
    size_t n = fleet_model_count(w->fleet);
    for (size_t i = 0; i < n; i++) {
        struct fleet_model_info mi;
        if (!fleet_model_at(w->fleet, i, &mi) && mi.target[0])
            agent_model_get(w, mi.model, true);
    }
}

void agent_step(struct worker *w)
{
    agent_step_models(w);
    for (size_t i = 0; i < w->n_models; i++)
        model_step(w, &w->models[i]);
    if (atomic_load(&w->joined)) {
        fleet_membership(w);
        fleet_upkeep(w);
    }
}

/* Start-up: the target of every served model, loaded before the worker
 * joins the request group. If S3 cannot be reached, the newest verified
 * version in the local cache serves instead (ARCHITECTURE §5). */
static int load_cached(struct worker *w, struct served_model *sm, const char *version)
{
    struct store_version *sv = NULL;
    enum ctl_stage stage;
    char why[512];
    struct fleet_version_info vi;
    const char *sha = version && !fleet_version_get(w->fleet, sm->name, version, &vi)
                          ? vi.manifest->sha256
                          : NULL;
    int err = store_fetch_cached(w->store, sm->name, version, sha, &sv, &stage, why, sizeof(why));
    struct slot_version *v = NULL;
    if (!err)
        err = loader_load(w->backend, sv, (uint32_t)kf_conf_int(w->conf, "max_batch_rows"), &v,
                          NULL, &stage, why, sizeof(why));
    store_version_free(sv);
    if (err) {
        KF_LOG_D("agent", "%s %s: not in the local cache (%s)", sm->name,
                 version ? version : "newest", why);
        return err;
    }
    KF_LOG_I("agent", "%s: serving %s from the local cache", sm->name, v->version);
    slot_activate(sm->slot, v);
    version_info_update(w, sm);
    return 0;
}

int agent_load_initial(struct worker *w, char *errstr, size_t errstr_size)
{
    /* The target from the cache first: a restart with a warm cache needs no S3. */
    agent_step_models(w);
    for (size_t i = 0; i < w->n_models; i++) {
        struct served_model *sm = &w->models[i];
        struct fleet_plan plan;
        if (!fleet_plan_worker(w->fleet, w->id, sm->name, NULL, &plan) &&
            plan.action == FLEET_ACT_LOAD)
            load_cached(w, sm, plan.version);
    }
    agent_step(w);
    bool waiting = true;
    while (waiting && !atomic_load(&w->stop)) {
        waiting = false;
        for (size_t i = 0; i < w->n_models; i++) {
            struct served_model *sm = &w->models[i];
            job_collect(w, sm);
            if (sm->job)
                waiting = true;
        }
        if (waiting)
            kf_sleep_ms(20);
    }
    /* S3 down and the target not cached: the newest verified cached version. */
    for (size_t i = 0; i < w->n_models; i++) {
        struct served_model *sm = &w->models[i];
        char active[64], standby[64];
        slot_versions(sm->slot, active, standby);
        if (!active[0] && load_cached(w, sm, NULL))
            KF_LOG_W("agent", "%s: nothing to serve yet", sm->name);
    }
    (void)errstr;
    (void)errstr_size;
    return 0;
}

bool agent_can_serve(struct worker *w)
{
    for (size_t i = 0; i < w->n_models; i++) {
        char active[64], standby[64];
        slot_versions(w->models[i].slot, active, standby);
        if (!active[0])
            return false;
    }
    return true;
}

void agent_stop(struct worker *w)
{
    for (size_t i = 0; i < w->n_models; i++) {
        struct served_model *sm = &w->models[i];
        if (sm->job) {
            pthread_join(sm->job->thread, NULL);
            if (sm->job->loaded)
                sm->job->loaded->destroy(sm->job->loaded);
            store_version_free(sm->job->verified);
            free(sm->job);
            sm->job = NULL;
        }
        drop_prepared(sm);
    }
}
