/**
 * @file worker_metrics.h
 * @brief The worker's Prometheus metric families, registered once at start-up
 *        (names, help and labels in one place: docs/operations.md lists them).
 *        Every part of the worker records into the families it is handed;
 *        the registry renders them for /metrics.
 *
 * @locality families and series are safe from any thread (metrics.h).
 */
#ifndef KF_WORKER_METRICS_H
#define KF_WORKER_METRICS_H

#include "worker/metrics.h"

struct worker_metrics {
    metrics *reg;
    metric_family *requests, *latency, *batch_rows, *dlq, *swaps, *swap_stage, *version_info, *lag,
        *inflight, *up, *resident, *device_mem, *rollout_phase, *rollout_stalled, *worker_info,
        *queue_expired, *computed_rows, *paused, *pauses, *poll_gap, *transactions, *txn_seconds,
        *store_reads, *loads;
};

/** @brief Register every family. @returns 0 or -ENOMEM. */
int worker_metrics_init(struct worker_metrics *m);
void worker_metrics_fini(struct worker_metrics *m);

#endif
