/**
 * @file worker_impl.h
 * @brief The worker process's shared state, for the worker_*.c, serve.c,
 *        control.c and agent.c files only.
 *
 * Threads (ARCHITECTURE §4):
 * - main: owns Kafka (request consumer, control consumer, producer delivery
 *   reports), the fleet state, the offset tracker and the rollout agent;
 * - one inference thread per model slot (batcher.c), which encodes and
 *   produces responses (kio_producer_send is thread-safe);
 * - one fetch thread per version being prepared (agent.c);
 * - libmicrohttpd's thread (http.c), which reads only atomics, metrics and
 *   slots (all safe from any thread) and a status snapshot under status_lock.
 */
#ifndef KF_WORKER_IMPL_H
#define KF_WORKER_IMPL_H

#include "common/crypto.h"
#include "common/kf_conf.h"
#include "common/kio_consumer.h"
#include "common/kio_producer.h"
#include "common/objstore.h"
#include "kernels/kern_backend.h"
#include "schema/fleet.h"
#include "schema/req.h"
#include "worker/batcher.h"
#include "worker/group_probe.h"
#include "worker/http.h"
#include "worker/metrics.h"
#include "worker/offtrack.h"
#include "worker/reply_to.h"
#include "worker/slot.h"
#include "worker/loader.h"
#include "worker/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#define WORKER_MAX_MODELS 32

struct worker;

/** A version being fetched, verified and loaded on its own thread. */
struct agent_job {
    struct worker *w;
    struct served_model *sm;
    char version[CTL_NAME_CAP];
    char claim_id[CTL_NAME_CAP];
    enum fleet_action action;     /* what the plan said when the job started */
    enum ctl_swap_mode swap_mode; /* inplace or handoff (auto resolved in the job) */
    struct ctl_manifest_ref manifest;
    pthread_t thread;
    atomic_bool finished;
    /* results, written by the job thread before `finished` */
    int err;
    enum ctl_stage stage;
    char errstr[512];
    struct slot_version *loaded;    /* new, owned by the job until taken */
    struct store_version *verified; /* handoff: fetched + verified, loaded at the swap */
    struct ctl_timings timings;
};

/** One model this worker serves. */
struct served_model {
    char name[CTL_NAME_CAP];
    model_slot *slot;
    batcher *batcher;
    struct agent_job *job;              /* the version being prepared, or NULL */
    char claimed_version[CTL_NAME_CAP]; /* claim appended, waiting for the grant */
    char claim_id[CTL_NAME_CAP];
    struct slot_version *prepared;     /* verified + loaded, waiting for a grant (owned) */
    struct store_version *prepared_sv; /* handoff: verified, not loaded (owned) */
    struct ctl_timings prepared_timings;
    char staged_version[CTL_NAME_CAP]; /* rollout.staged appended for it */
    int64_t grant_seen_ms;             /* when this worker saw its claim granted */
    char cutover_sent[CTL_NAME_CAP];   /* rollout.cutover appended for it */

    /* Canary bake: health of the version since it was swapped in. The
     * inference thread records, the main thread judges. */
    pthread_mutex_t health_lock;
    uint32_t lat_us[1024]; /* ring of recent request latencies */
    size_t lat_n, lat_pos;
    uint64_t health_requests, health_errors; /* under health_lock */
    bool baking;
    char bake_version[CTL_NAME_CAP];
    int64_t bake_until_ms;
    double baseline_p99_us;
    uint64_t bake_requests0, bake_errors0;
    char failed_version[CTL_NAME_CAP]; /* do not retry a version that failed here */
    /* A fetch that failed for want of the object store is tried again after
     * retry_backoff_ms (doubling up to load.retry_max_ms), without failing
     * the rollout: the store's outage is not the version's fault. */
    int64_t retry_at_us;
    int64_t retry_backoff_ms;
    metric_series *m_version_info;
};

struct worker_metrics {
    metrics *reg;
    metric_family *requests, *latency, *batch_rows, *dlq, *swaps, *swap_stage, *version_info, *lag,
        *inflight, *up, *resident, *device_mem, *rollout_phase, *worker_info, *queue_expired,
        *computed_rows, *paused, *pauses;
};

struct worker {
    kf_conf *conf;
    char id[CTL_NAME_CAP];
    char host[128];
    const char *topic_requests, *topic_responses, *topic_dlq, *topic_control;
    struct req_limits limits;

    struct kern_backend *backend;
    objstore *objstore;
    model_store *store;
    crypto_keyring *keyring;

    kio_producer *producer;
    kio_consumer *requests;
    kio_consumer *control;
    fleet_state *fleet;
    int64_t control_end; /* high watermark read at start-up */
    int64_t control_pos; /* next control offset to read */

    offtrack *offsets;
    int64_t last_commit_us;
    struct reply_to_policy reply_to;
    /* Backpressure (serve.c): what is taken in and not settled, against
     * queue.max_rows / queue.max_bytes. Main thread only. */
    int64_t inflight_rows, inflight_bytes, max_rows, max_bytes;
    bool paused;
    struct serve_out *failed_outs; /* delivery failures, handled outside the callback */

    struct served_model models[WORKER_MAX_MODELS];
    size_t n_models;
    bool serve_all; /* models = "*" */

    /* The request group's members and assignments, from a helper process:
     * the worker process makes no admin-API calls (group_probe.h). */
    group_probe *probe;
    char expire_sent[32][CTL_NAME_CAP]; /* claims we appended rollout.expire for (ring) */
    size_t expire_pos;
    char left_sent[32][CTL_NAME_CAP]; /* departed workers we appended worker.left for */
    size_t left_pos;
    int64_t next_fleet_check_us;

    struct worker_metrics m;
    kio_tplist *lag_reported; /* partitions with a kfleet_consumer_lag series now */
    http_server *http;

    atomic_bool stop;       /* SIGTERM/SIGINT */
    atomic_bool fatal;      /* a device or fatal Kafka error: drain and exit non-zero */
    atomic_bool joined;     /* subscribed to the request group */
    atomic_int assigned;    /* partitions currently assigned */
    atomic_bool rebalanced; /* the group gave this member its first assignment */
    atomic_uint_fast64_t answered, errors, dlq_count, expired;

    pthread_mutex_t status_lock; /* guards status_json */
    kf_buf status_json;
};

/* serve.c */
int serve_producer_start(struct worker *w, char *errstr, size_t errstr_size);
/** @brief A batcher whose batches run on the worker's backend and answer on Kafka. */
batcher *serve_batcher_new(struct worker *w, model_slot *slot);
/** @brief Create the request consumer (not subscribed yet). */
int serve_start(struct worker *w, char *errstr, size_t errstr_size);
/** @brief Subscribe: join the request group (when every served model can serve). */
int serve_join(struct worker *w);
/** @brief One turn of the main loop's request side: poll, dispatch, commit. */
void serve_poll(struct worker *w, int timeout_ms);
/** @brief Drain every batcher, deliver every response, commit. */
void serve_drain(struct worker *w);
/** @brief Store and commit what is settled. @p sync: wait for the broker. */
void serve_commit(struct worker *w, bool sync);
void serve_stop(struct worker *w);

/* control.c */
int control_start(struct worker *w, char *errstr, size_t errstr_size);
/** @brief Read the control log up to its current end (start-up). */
int control_catch_up(struct worker *w, char *errstr, size_t errstr_size);
/** @brief Feed whatever new control events arrived; returns how many. */
int control_poll(struct worker *w, int timeout_ms);
/** @brief Append an event (worker events are unsigned). @returns 0 or negative errno. */
int control_emit(struct worker *w, const struct ctl_event *ev);
void control_stop(struct worker *w);

/* agent.c */
struct served_model *agent_model_get(struct worker *w, const char *model, bool create);
/** @brief Act on the fleet plan of every served model (start jobs, swap, claim). */
void agent_step(struct worker *w);
/** @brief Start-up: load each served model's target (or the newest cached). Blocking. */
int agent_load_initial(struct worker *w, char *errstr, size_t errstr_size);
void agent_stop(struct worker *w);
/** @brief Inference thread: one answered request of @p sm (for the canary bake). */
void agent_health_record(struct served_model *sm, int64_t latency_us, bool error);
/** @brief Whether every served model has an active version (the worker may join). */
bool agent_can_serve(struct worker *w);

/* worker_status.c */
void worker_metrics_init(struct worker *w);
void worker_status_refresh(struct worker *w);
/** @brief The request consumer's statistics callback: kfleet_consumer_lag of owned partitions. */
void worker_lag_stats(void *opaque, const char *json, size_t len);
int worker_http_start(struct worker *w, char *errstr, size_t errstr_size);

#endif
