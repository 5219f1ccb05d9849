/**
 * @file lag_stats.h
 * @brief The request consumer's own lag per partition, read from librdkafka's
 *        statistics JSON: no admin API and no request of its own to the
 *        brokers (issue 12: the admin API can abort the process in 2.0.2).
 *
 * Pure: text in, a list out. The worker calls it from the request consumer's
 * statistics callback (worker_status.c).
 */
#ifndef KF_WORKER_LAG_STATS_H
#define KF_WORKER_LAG_STATS_H

#include "common/kio.h"

/**
 * @brief The lag of every partition of @p topic that is in @p assigned and
 *        whose lag the statistics know: librdkafka's per-partition
 *        `consumer_lag`, the high watermark minus the group's committed offset
 *        (the same number kio_admin_group_lag and `kfleetctl lag` give once the
 *        group has committed on the partition).
 *
 * Left out: librdkafka's internal partition -1; partitions not in
 * @p assigned (librdkafka keeps the numbers of partitions it no longer owns);
 * partitions whose `consumer_lag` is -1 or missing (no committed offset yet,
 * or no fetch since the assignment).
 *
 * @param json     librdkafka's statistics, @p len bytes (borrowed)
 * @param topic    the topic to read (borrowed)
 * @param assigned this member's assignment (borrowed); NULL: nothing is assigned
 * @param[out] out new list (kio_tplist_free), sorted by partition, the lag in
 *                 each element's `offset`; empty when nothing is known
 * @returns 0; -EPROTO not a statistics JSON object; -EINVAL; -ENOMEM
 */
int lag_stats_parse(const char *json, size_t len, const char *topic, const kio_tplist *assigned,
                    kio_tplist **out);

#endif
