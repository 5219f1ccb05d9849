/* The lag gauges of the partitions this worker owns. */
#include "worker/lag_gauges.h"

#include "common/kf_err.h"
#include "common/kf_log.h"
#include "worker/lag_stats.h"

#include <stdio.h>

void lag_gauges_update(struct lag_gauges *g, const kio_tplist *assigned, const char *json,
                       size_t len)
{
    kio_tplist *lag = NULL;
    int err = lag_stats_parse(json, len, g->topic, assigned, &lag);
    if (err) {
        KF_LOG_D("status", "lag from statistics: %s", kf_strerror(err));
        return;
    }
    char part[16];
    for (size_t i = 0; g->reported && i < g->reported->count; i++) {
        int32_t p = g->reported->elems[i].partition;
        if (kio_tplist_find(lag, g->topic, p))
            continue;
        snprintf(part, sizeof(part), "%d", p);
        metrics_series_remove(g->family, (const char *const[]){g->group, g->topic, part});
    }
    for (size_t i = 0; i < lag->count; i++) {
        snprintf(part, sizeof(part), "%d", lag->elems[i].partition);
        metric_set(metrics_series(g->family, (const char *const[]){g->group, g->topic, part}),
                   (double)lag->elems[i].offset);
    }
    kio_tplist_free(g->reported);
    g->reported = lag;
}

void lag_gauges_fini(struct lag_gauges *g)
{
    kio_tplist_free(g->reported);
    g->reported = NULL;
}
