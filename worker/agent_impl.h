/**
 * @file agent_impl.h
 * @brief The rollout agent's state, for the agent*.c files only.
 *
 * Who calls whom (no file calls back into one that calls it):
 *   agent.c ──> agent_handoff.c ──> agent_job.c
 *      │              └──────────> agent_health.c ──> agent_report.c
 *      ├──> agent_upkeep.c ───────────────────────> agent_report.c
 *      └──> agent_job.c, agent_health.c, agent_report.c
 */
#ifndef KF_WORKER_AGENT_IMPL_H
#define KF_WORKER_AGENT_IMPL_H

#include "worker/agent.h"
#include "worker/loader.h"

#include <pthread.h>
#include <stdatomic.h>

/** What a job thread does. */
enum agent_job_kind {
    /** Fetch and verify a version, then load it unless it is swapped by a
     *  hand-off (the load waits until the old weights are gone). */
    AGENT_JOB_PREPARE,
    /** Hand-off: load verified weights; if that fails, load the previous
     *  good version from the cache, so the worker does not rejoin empty-handed. */
    AGENT_JOB_HANDOFF_LOAD,
};

/** A version being fetched, verified and/or loaded on its own thread. */
struct agent_job {
    enum agent_job_kind kind;
    /* inputs, fixed before the thread starts */
    const struct worker_config *cfg;
    struct kern_backend *backend;
    model_store *store;
    model_set *models;
    struct worker_metrics *metrics; /* store reads and loads are counted as they happen */
    char model[CTL_NAME_CAP];
    char version[CTL_NAME_CAP];
    char fallback[CTL_NAME_CAP];  /* HANDOFF_LOAD: the previous good version, or "" */
    enum fleet_action action;     /* PREPARE: what the plan said when the job started */
    enum ctl_swap_mode swap_mode; /* PREPARE: inplace or handoff (auto resolved in the job) */
    struct ctl_manifest_ref manifest;
    struct store_version *input; /* HANDOFF_LOAD: the verified weights (owned) */
    pthread_t thread;
    atomic_bool finished;
    bool joined; /* main thread: agent_job_take joined the thread */
    /* results, written by the job thread before `finished` */
    int err;
    enum ctl_stage stage;
    char errstr[512];
    struct slot_version *loaded;    /* new, owned by the job until taken */
    struct slot_version *restored;  /* HANDOFF_LOAD failed: the fallback, loaded */
    struct store_version *verified; /* PREPARE for a hand-off: verified, not loaded */
    struct ctl_timings timings;
};

/** The health window after a swap (agent_health.c): a canary's bake, or
 *  strategy.health_s after a rolling swap or a blue/green flip. */
struct health_watch {
    bool on;
    bool canary;    /* a canary's bake: no traffic is no verdict */
    uint32_t len_s; /* bake_s or health_s */
    char version[CTL_NAME_CAP];
    char claim_id[CTL_NAME_CAP]; /* the claim that holds a slot through it, or "" */
    int64_t until_ms;
    int64_t grace_until_ms;     /* latencies before it are not judged (0: passed) */
    double baseline_p99_us;     /* this worker's p99 before the swap */
    struct health_counts start; /* counts at the swap: before it, and to subtract after */
};

/** One model's rollout state on this worker. */
struct model_rollout {
    struct agent_job *job;              /* the version being prepared, or NULL */
    char claimed_version[CTL_NAME_CAP]; /* claim appended, waiting for the grant */
    char claim_id[CTL_NAME_CAP];
    struct slot_version *prepared;     /* verified + loaded, waiting for a grant (owned) */
    struct store_version *prepared_sv; /* hand-off: verified, not loaded (owned) */
    struct ctl_timings prepared_timings;
    char staged_version[CTL_NAME_CAP]; /* rollout.staged appended for it */
    int64_t grant_seen_ms;             /* when this worker saw its claim granted */
    char cutover_sent[CTL_NAME_CAP];   /* rollout.cutover appended for it */
    char failed_version[CTL_NAME_CAP]; /* do not retry a version that failed here */
    /* A fetch that failed for want of the object store is tried again after
     * retry_backoff_ms (doubling up to load.retry_max_ms), without failing
     * the rollout: the store's outage is not the version's fault. */
    int64_t retry_at_us;
    int64_t retry_backoff_ms;
    struct health_watch watch; /* the health window after its last swap */
    metric_series *m_version_info;
};

/** The hand-off in progress (one at a time: leaving the group is worker-wide). */
enum handoff_phase {
    HANDOFF_IDLE,
    HANDOFF_LEAVING,   /* granted: leaving once the group is ready, then until revoked */
    HANDOFF_LOADING,   /* old weights dropped; a job loads the new ones; peers take over */
    HANDOFF_REJOINING, /* the new version flipped in; back in the group, done not said yet */
};

struct handoff {
    enum handoff_phase phase;
    struct served_model *sm;
    char claim_id[CTL_NAME_CAP];
    struct store_version *sv;                     /* LEAVING: the verified weights (owned) */
    kio_tplist *mine;                             /* the partitions handed over */
    int64_t t_begin_us;                           /* granted: waiting for the group to be ready */
    int64_t t_leave_us, t_revoked_us, t_owned_us; /* 0: not yet */
    struct ctl_timings timings;
    struct agent_job *job; /* LOADING */
    /* REJOINING: what rollout.done will say, once the group gave this
     * worker its partitions back (or settled without any for it). */
    char version[CTL_NAME_CAP];
    int64_t t_flip_us, t_round_us;
    unsigned rounds; /* serve_stats().assign_rounds last seen */
};

struct agent {
    struct agent_deps d;
    struct model_rollout rollouts[WORKER_MAX_MODELS]; /* by served_model.index */
    struct handoff handoff;
    char expire_sent[32][CTL_NAME_CAP]; /* claims we appended rollout.expire for (ring) */
    size_t expire_pos;
    char left_sent[32][CTL_NAME_CAP]; /* departed workers we appended worker.left for */
    size_t left_pos;
    int64_t next_fleet_check_us;
};

static inline struct model_rollout *agent_rollout(agent *a, const struct served_model *sm)
{
    return &a->rollouts[sm->index];
}

/** @brief Count one event of @p family (labelled by model) for @p model; any thread. */
static inline void agent_count(metric_family *family, const char *model)
{
    metric_inc(metrics_series(family, (const char *const[]){model}), 1);
}

/* agent_job.c */
int agent_job_prepare(agent *a, struct served_model *sm, const char *version,
                      enum fleet_action action);
struct agent_job *agent_job_handoff_load(agent *a, struct served_model *sm,
                                         struct store_version *sv, const char *fallback);
/** @brief The job if it finished (its thread joined), else NULL. */
struct agent_job *agent_job_take(struct agent_job *job);
/** @brief Wait for the job's thread, free it and everything it still owns. */
void agent_job_free(struct agent_job *job);

/* agent_report.c: what the agent appends to the log, and the swap itself */
void agent_emit_failed(agent *a, struct served_model *sm, const char *version, const char *claim_id,
                       enum ctl_stage stage, const char *reason);
void agent_emit_simple(agent *a, enum ctl_type type, const char *model, const char *version,
                       const char *claim_id, const char *reason);
void agent_emit_claim(agent *a, struct served_model *sm, const char *version);
void agent_emit_done(agent *a, struct served_model *sm, const char *version, const char *claim_id,
                     enum ctl_mode mode, const struct ctl_timings *t);
/** @brief Flip the slot to @p v (one pointer store), say so in the log and metrics. */
void agent_flip(agent *a, struct served_model *sm, struct slot_version *v, struct ctl_timings *t,
                enum ctl_mode mode);
/** @brief agent_flip, then report done. */
void agent_activate(agent *a, struct served_model *sm, struct slot_version *v, const char *claim_id,
                    struct ctl_timings *t, enum ctl_mode mode);
void agent_version_info(agent *a, struct served_model *sm);

/* agent_health.c: the health window after a swap (a canary's bake included) */
/** @brief Open the window after a swap to @p version under @p claim_id (NULL: none), if the
 *         strategy and phase give it one. */
void agent_health_start(agent *a, struct served_model *sm, const char *version,
                        const char *claim_id);
/** @brief Judge the open window: healthy, failed, or not yet. */
void agent_health_check(agent *a, struct served_model *sm);

/* agent_handoff.c */
void agent_handoff_begin(agent *a, struct served_model *sm, const char *claim_id);
void agent_handoff_step(agent *a);
bool agent_handoff_active(const agent *a);
/** @brief Whether the hand-off keeps the worker out of the request group now. */
bool agent_handoff_blocks_join(const agent *a);

/* agent_upkeep.c: leases, cutover, departed workers */
void agent_upkeep(agent *a);

#endif
