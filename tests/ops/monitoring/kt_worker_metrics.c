/* Print the metric families kfleet-worker registers, in the Prometheus text
 * format its /metrics serves, with one placeholder series per family so that
 * every family's label names show: the list check_queries.py checks the
 * shipped dashboard and rules against, taken from the worker's own code
 * (worker_metrics_init) rather than a copy.
 *
 *   kt_worker_metrics > metrics.txt */
#include "worker/worker_impl.h"

#include <stdio.h>

int main(void)
{
    static struct worker w;
    worker_metrics_init(&w);
    if (!w.m.reg)
        return 99;
    /* Label values are placeholders; a family reads as many as it has names. */
    static const char *const values[METRIC_MAX_LABELS] = {"x", "x", "x", "x"};
    metric_family *families[] = {w.m.requests, w.m.latency,    w.m.batch_rows,   w.m.dlq,
                                 w.m.swaps,    w.m.swap_stage, w.m.version_info, w.m.lag,
                                 w.m.inflight, w.m.up,         w.m.resident,     w.m.device_mem};
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
        if (!families[i] || !metrics_series(families[i], values))
            return 99;
    kf_buf out;
    kf_buf_init(&out);
    int err = metrics_render(w.m.reg, &out);
    if (!err)
        fwrite(out.ptr, 1, out.len, stdout);
    kf_buf_fini(&out);
    metrics_free(w.m.reg);
    return err ? 99 : 0;
}
