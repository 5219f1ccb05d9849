/* Job threads: the blocking steps of a swap (fetch, verify, load, warm-up,
 * golden check), off the main thread so that it keeps polling Kafka. A job
 * writes its results, then sets `finished`; the main thread takes it on a
 * later turn and never waits for it (agent_job_take). */
#include "worker/agent_impl.h"

#include "common/kf_clock.h"
#include "common/kf_err.h"
#include "common/kf_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* auto: in place when the new weights fit beside the resident ones (free
 * device memory, or memory_budget on the reference backend), else hand-off. */
static enum ctl_swap_mode resolve_mode(struct agent_job *job, const struct store_version *sv)
{
    if (job->swap_mode != CTL_SWAP_AUTO)
        return job->swap_mode;
    bool fits = true;
    char why[256];
    if (loader_fits_inplace(job->backend, sv, job->cfg->max_batch_rows, job->cfg->memory_budget,
                            model_set_resident_bytes(job->models), &fits, NULL, why, sizeof(why)))
        return CTL_SWAP_INPLACE; /* the load will report what is wrong */
    return fits ? CTL_SWAP_INPLACE : CTL_SWAP_HANDOFF;
}

/* A load ran (sequential or pipelined): count it and keep its timings. */
static void loaded(struct agent_job *job, const struct loader_timings *lt)
{
    agent_count(job->metrics->loads, job->model);
    job->timings.load_us = lt->load_us;
    job->timings.warmup_us = lt->warmup_us + lt->validate_us;
}

static void load(struct agent_job *job, const struct store_version *sv)
{
    struct loader_timings lt = {0};
    job->err = loader_load(job->backend, sv, job->cfg->max_batch_rows, &job->loaded, &lt,
                           &job->stage, job->errstr, sizeof(job->errstr));
    loaded(job, &lt);
}

/* Asked by the pipelined load when the first chunks are verified: whether to load now (in
 * place) or keep the verified version for a hand-off. */
static bool decide_load(void *ctx, const struct store_version *sv)
{
    struct agent_job *job = ctx;
    /* Only a claimed swap may leave the group; a first load or a
     * blue/green stage always loads beside what is there. */
    job->swap_mode = job->action == FLEET_ACT_CLAIM ? resolve_mode(job, sv) : CTL_SWAP_INPLACE;
    return job->swap_mode != CTL_SWAP_HANDOFF;
}

/* Fetch, verify and (unless hand-off) load, overlapped: each layer is loaded as soon as the
 * chunks under it are verified (loader_fetch_load). */
static void prepare(struct agent_job *job)
{
    struct store_version *sv = NULL;
    struct loader_timings lt = {0};
    int64_t t0 = kf_clock_mono_us();
    agent_count(job->metrics->store_reads, job->model);
    job->err = loader_fetch_load(job->backend, job->store, job->model, job->version, &job->manifest,
                                 job->cfg->max_batch_rows, decide_load, job, &sv, &job->loaded, &lt,
                                 &job->stage, job->errstr, sizeof(job->errstr));
    int64_t t1 = kf_clock_mono_us();
    if (sv) { /* the fetch succeeded */
        job->timings.fetch_us = sv->timings.fetch_us ? sv->timings.fetch_us : (uint64_t)(t1 - t0);
        job->timings.verify_us = sv->timings.verify_us;
        if (job->swap_mode == CTL_SWAP_HANDOFF && !job->err) {
            job->verified = sv; /* loaded at the swap, after the old weights are freed */
            sv = NULL;
        } else {
            loaded(job, &lt);
        }
    }
    store_version_free(sv);
}

/* The previous good version, from the cache, after a hand-off load failed. */
static void restore(struct agent_job *job)
{
    struct store_version *old = NULL;
    char why[512];
    agent_count(job->metrics->store_reads, job->model);
    if (!store_fetch_cached(job->store, job->model, job->fallback, NULL, &old, NULL, why,
                            sizeof(why))) {
        agent_count(job->metrics->loads, job->model);
        loader_load(job->backend, old, job->cfg->max_batch_rows, &job->restored, NULL, NULL, why,
                    sizeof(why));
    }
    store_version_free(old);
    if (!job->restored)
        KF_LOG_W("agent", "%s: cannot restore %s from the cache: %s", job->model, job->fallback,
                 why);
}

static void *job_thread(void *arg)
{
    struct agent_job *job = arg;
    if (job->kind == AGENT_JOB_PREPARE) {
        prepare(job);
    } else {
        load(job, job->input);
        store_version_free(job->input);
        job->input = NULL;
        if (job->err && job->fallback[0])
            restore(job);
    }
    atomic_store(&job->finished, true);
    return NULL;
}

static struct agent_job *job_new(agent *a, enum agent_job_kind kind, const char *model,
                                 const char *version)
{
    struct agent_job *job = calloc(1, sizeof(*job));
    if (!job)
        return NULL;
    job->kind = kind;
    job->cfg = a->d.cfg;
    job->backend = a->d.backend;
    job->store = a->d.store;
    job->models = a->d.models;
    job->metrics = a->d.metrics;
    snprintf(job->model, sizeof(job->model), "%s", model);
    snprintf(job->version, sizeof(job->version), "%s", version);
    return job;
}

static int job_run(struct agent_job *job)
{
    return pthread_create(&job->thread, NULL, job_thread, job) ? -EAGAIN : 0;
}

/* The version a blue/green cutover flipped away from stays resident in
 * standby, so that a signed rollback is one flip back (docs/worker.md). Once
 * the worker prepares any other version the log has moved on (a new
 * publication, or a rollback to a version not in standby): the standby is
 * dropped first, so that the new load gets its memory. */
static void drop_other_standby(struct served_model *sm, const char *version)
{
    char active[SCHEMA_NAME_CAP], standby[SCHEMA_NAME_CAP];
    slot_versions(sm->slot, active, standby);
    if (standby[0] && strcmp(standby, version)) {
        KF_LOG_I("agent", "%s: dropping %s from standby to prepare %s", sm->name, standby, version);
        slot_unstage(sm->slot);
    }
}

int agent_job_prepare(agent *a, struct served_model *sm, const char *version,
                      enum fleet_action action)
{
    struct fleet_version_info vi;
    if (fleet_version_get(control_fleet(a->d.control), sm->name, version, &vi))
        return -ENOENT;
    struct agent_job *job = job_new(a, AGENT_JOB_PREPARE, sm->name, version);
    if (!job)
        return -ENOMEM;
    drop_other_standby(sm, version);
    job->action = action;
    job->manifest = *vi.manifest;
    /* The worker's own swap_mode, when set, wins over the rollout's. */
    job->swap_mode = vi.strategy ? vi.strategy->swap_mode : CTL_SWAP_AUTO;
    if (a->d.cfg->swap_mode_set)
        job->swap_mode = a->d.cfg->swap_mode;
    if (job_run(job)) {
        free(job);
        return -EAGAIN;
    }
    agent_rollout(a, sm)->job = job;
    KF_LOG_I("agent", "%s %s: preparing (fetch, verify, load) for %s", sm->name, version,
             fleet_action2str(action));
    return 0;
}

struct agent_job *agent_job_handoff_load(agent *a, struct served_model *sm,
                                         struct store_version *sv, const char *fallback)
{
    struct agent_job *job = job_new(a, AGENT_JOB_HANDOFF_LOAD, sm->name, sv->version);
    if (!job)
        return NULL;
    job->input = sv;
    snprintf(job->fallback, sizeof(job->fallback), "%s", fallback ? fallback : "");
    if (job_run(job)) {
        job->input = NULL; /* still the caller's */
        free(job);
        return NULL;
    }
    return job;
}

struct agent_job *agent_job_take(struct agent_job *job)
{
    if (!job || !atomic_load(&job->finished))
        return NULL;
    if (job->joined)
        return job;
    pthread_join(job->thread, NULL);
    job->joined = true;
    return job;
}

void agent_job_free(struct agent_job *job)
{
    if (!job)
        return;
    if (!job->joined)
        pthread_join(job->thread, NULL);
    if (job->loaded)
        job->loaded->destroy(job->loaded);
    if (job->restored)
        job->restored->destroy(job->restored);
    store_version_free(job->verified);
    store_version_free(job->input);
    free(job);
}
