/* Print the metric families kfleet-worker registers, in the Prometheus text
 * format its /metrics serves, with one placeholder series per family so that
 * every family's label names show: the list check_queries.py checks the
 * shipped dashboard and rules against, taken from the worker's own code
 * (worker_metrics_init) rather than a copy.
 *
 *   kt_worker_metrics > metrics.txt */
#include "worker/worker_metrics.h"

#include <stdio.h>

int main(void)
{
    struct worker_metrics m;
    if (worker_metrics_init(&m))
        return 99;
    /* Label values are placeholders; a family reads as many as it has names. */
    static const char *const values[METRIC_MAX_LABELS] = {"x", "x", "x", "x"};
    metric_family *families[] = {
        m.requests,      m.latency,      m.batch_rows,    m.dlq,         m.swaps,
        m.swap_stage,    m.version_info, m.lag,           m.inflight,    m.up,
        m.resident,      m.device_mem,   m.rollout_phase, m.worker_info, m.queue_expired,
        m.computed_rows, m.paused,       m.pauses,        m.poll_gap,    m.store_reads,
        m.loads,
    };
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
        if (!families[i] || !metrics_series(families[i], values))
            return 99;
    kf_buf out;
    kf_buf_init(&out);
    int err = metrics_render(m.reg, &out);
    if (!err)
        fwrite(out.ptr, 1, out.len, stdout);
    kf_buf_fini(&out);
    worker_metrics_fini(&m);
    return err ? 99 : 0;
}
