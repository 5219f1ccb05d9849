/* The worker's metric families: one registration for all of them. */
#include "worker/worker_metrics.h"

#include <errno.h>
#include <stddef.h>

int worker_metrics_init(struct worker_metrics *m)
{
    static const double latency_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                             0.05,   0.1,   0.25,   0.5,   1,    2.5};
    static const double rows_buckets[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096};
    static const double swap_buckets[] = {0.001, 0.01, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300};
    m->reg = metrics_new();
    if (!m->reg)
        return -ENOMEM;
    m->requests = metrics_family(
        m->reg, "kfleet_requests_total", "Requests answered, by model, version and status.",
        METRIC_COUNTER, (const char *const[]){"model", "version", "status", NULL}, NULL, 0);
    m->latency = metrics_family(
        m->reg, "kfleet_request_latency_seconds",
        "Time from taking a request off Kafka to its response being queued, by model and version.",
        METRIC_HISTOGRAM, (const char *const[]){"model", "version", NULL}, latency_buckets, 12);
    m->batch_rows =
        metrics_family(m->reg, "kfleet_batch_rows", "Rows per batch, by version.", METRIC_HISTOGRAM,
                       (const char *const[]){"version", NULL}, rows_buckets, 12);
    m->dlq = metrics_family(m->reg, "kfleet_dlq_total",
                            "Records sent to the dead-letter topic, by error code.", METRIC_COUNTER,
                            (const char *const[]){"code", NULL}, NULL, 0);
    m->swaps = metrics_family(m->reg, "kfleet_swaps_total",
                              "Version swaps by model and outcome (done, failed).", METRIC_COUNTER,
                              (const char *const[]){"model", "outcome", NULL}, NULL, 0);
    m->swap_stage = metrics_family(
        m->reg, "kfleet_swap_stage_seconds", "Duration of each swap stage, by model and stage.",
        METRIC_HISTOGRAM, (const char *const[]){"model", "stage", NULL}, swap_buckets, 12);
    m->version_info = metrics_family(
        m->reg, "kfleet_model_version_info", "1 for the version each model serves on this worker.",
        METRIC_GAUGE, (const char *const[]){"model", "version", NULL}, NULL, 0);
    m->lag = metrics_family(m->reg, "kfleet_consumer_lag",
                            "Consumer-group lag of the requests topic on the partitions this "
                            "worker owns (high watermark minus committed offset).",
                            METRIC_GAUGE,
                            (const char *const[]){"group", "topic", "partition", NULL}, NULL, 0);
    m->inflight =
        metrics_family(m->reg, "kfleet_inflight_requests",
                       "Requests taken in and not yet answered.", METRIC_GAUGE, NULL, NULL, 0);
    m->up = metrics_family(m->reg, "kfleet_worker_ready", "1 when /readyz answers 200.",
                           METRIC_GAUGE, NULL, NULL, 0);
    m->resident = metrics_family(m->reg, "kfleet_resident_weight_bytes",
                                 "Bytes of weights resident per model (active, standby and "
                                 "versions still finishing a batch).",
                                 METRIC_GAUGE, (const char *const[]){"model", NULL}, NULL, 0);
    /* A state set: 1 for the phase the log gives the model, 0 for the others,
     * so alerts can say "halted for 5 minutes" without parsing the log. */
    m->rollout_phase = metrics_family(
        m->reg, "kfleet_rollout_phase",
        "1 for the rollout phase of each served model as the control log gives it, 0 otherwise.",
        METRIC_GAUGE, (const char *const[]){"model", "phase", NULL}, NULL, 0);
    /* fleet_model_stalled: under way, and no claim granted, no done, staged
     * or healthy for strategy.stall_s. The "rollout halted" alert fires on it
     * as on a halt: either way nothing moves without someone. */
    m->rollout_stalled = metrics_family(
        m->reg, "kfleet_rollout_stalled",
        "1 while the rollout of each served model is under way and has made no progress (no "
        "claim granted, no done, staged or healthy) for its strategy's stall_s, 0 otherwise.",
        METRIC_GAUGE, (const char *const[]){"model", NULL}, NULL, 0);
    m->worker_info = metrics_family(
        m->reg, "kfleet_worker_info", "1, labelled with the worker's id, backend and device.",
        METRIC_GAUGE, (const char *const[]){"worker", "backend", "device", NULL}, NULL, 0);
    m->queue_expired = metrics_family(
        m->reg, "kfleet_queue_expired_total",
        "Requests whose deadline_ms passed while they were queued: answered expired, not computed.",
        METRIC_COUNTER, (const char *const[]){"model", NULL}, NULL, 0);
    m->computed_rows = metrics_family(
        m->reg, "kfleet_computed_rows_total", "Rows run through the inference backend, by model.",
        METRIC_COUNTER, (const char *const[]){"model", NULL}, NULL, 0);
    m->paused = metrics_family(m->reg, "kfleet_intake_paused",
                               "1 while intake is held because the queue is full "
                               "(queue.max_rows, queue.max_bytes): no request is taken in.",
                               METRIC_GAUGE, NULL, NULL, 0);
    metric_set(metrics_series(m->paused, NULL), 0);
    m->pauses = metrics_family(m->reg, "kfleet_intake_pauses_total",
                               "Times intake was held because the queue was full.", METRIC_COUNTER,
                               NULL, NULL, 0);
    m->poll_gap = metrics_family(
        m->reg, "kfleet_request_poll_gap_max_seconds",
        "Longest time between two polls of the request consumer since the worker started "
        "(the main loop must not block: docs/worker.md).",
        METRIC_GAUGE, NULL, NULL, 0);
    m->transactions = metrics_family(
        m->reg, "kfleet_transactions_total",
        "delivery=exactly_once: transactions ended, by outcome (committed, aborted).",
        METRIC_COUNTER, (const char *const[]){"outcome", NULL}, NULL, 0);
    m->txn_seconds = metrics_family(
        m->reg, "kfleet_transaction_commit_seconds",
        "delivery=exactly_once: time the serve loop spends ending a transaction (draining what "
        "was taken in, then committing), during which it takes nothing in.",
        METRIC_HISTOGRAM, NULL, latency_buckets, 12);
    /* What a blue/green flip back must not cost: tests compare them across
     * a rollback (docs/worker.md, "Rollouts"). */
    m->store_reads = metrics_family(
        m->reg, "kfleet_store_reads_total",
        "Reads of a version from the model store (fetch or local cache, and verify), by model; "
        "failed ones included.",
        METRIC_COUNTER, (const char *const[]){"model", NULL}, NULL, 0);
    m->loads = metrics_family(
        m->reg, "kfleet_model_loads_total",
        "Loads of a version onto the inference backend, by model; failed ones included.",
        METRIC_COUNTER, (const char *const[]){"model", NULL}, NULL, 0);
    m->device_mem = metrics_family(m->reg, "kfleet_device_memory_bytes",
                                   "Memory of the inference device (host memory for the "
                                   "reference backend), free and total.",
                                   METRIC_GAUGE, (const char *const[]){"kind", NULL}, NULL, 0);
    return 0;
}

void worker_metrics_fini(struct worker_metrics *m)
{
    metrics_free(m->reg);
    m->reg = NULL;
}
