/**
 * @file lag_gauges.h
 * @brief kfleet_consumer_lag for the partitions this worker owns, from the
 *        request consumer's statistics (lag_stats.h): a series per owned
 *        partition, removed once the partition has left this worker (its new
 *        owner reports it).
 *
 * @locality the thread that polls the request consumer.
 */
#ifndef KF_WORKER_LAG_GAUGES_H
#define KF_WORKER_LAG_GAUGES_H

#include "common/kio.h"
#include "worker/metrics.h"

struct lag_gauges {
    metric_family *family; /**< kfleet_consumer_lag{group,topic,partition} (borrowed) */
    const char *group;     /**< borrowed */
    const char *topic;     /**< borrowed */
    kio_tplist *reported;  /**< partitions with a series now (owned) */
};

/** @brief One statistics document: set the owned partitions' lag, drop the others'. */
void lag_gauges_update(struct lag_gauges *g, const kio_tplist *assigned, const char *json,
                       size_t len);
void lag_gauges_fini(struct lag_gauges *g);

#endif
