/**
 * @file status.h
 * @brief What the worker shows on http.port: Prometheus metrics, liveness,
 *        readiness and a JSON status (docs/worker.md "HTTP endpoints").
 *        It reads the other parts and none of them calls it.
 *
 * @locality status_refresh on the main thread; the HTTP thread reads only
 *           metrics, atomics, slots and the JSON snapshot (under a lock).
 */
#ifndef KF_WORKER_STATUS_H
#define KF_WORKER_STATUS_H

#include "kernels/kern_backend.h"
#include "worker/agent.h"
#include "worker/control.h"
#include "worker/models.h"
#include "worker/serve.h"
#include "worker/worker_conf.h"
#include "worker/worker_metrics.h"

#include <stdatomic.h>
#include <stddef.h>

/** What the status reads (all borrowed). */
struct status_deps {
    const struct worker_config *cfg;
    struct kern_backend *backend;
    struct worker_metrics *metrics;
    serve *serve;
    control *control;
    model_set *models;
    agent *agent;
    const atomic_bool *stop; /**< SIGTERM/SIGINT seen */
};

typedef struct status status;

/** @brief Start the HTTP endpoints. NULL with the reason in errstr. */
status *status_new(const struct status_deps *deps, char *errstr, size_t errstr_size);
/** @brief Stop the HTTP thread. NULL is a no-op. */
void status_free(status *st);
/** @brief Rebuild the /status document and the gauges that need the main thread. */
void status_refresh(status *st);

#endif
