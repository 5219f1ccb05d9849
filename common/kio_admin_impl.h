/**
 * @file kio_admin_impl.h
 * @brief The admin client's layout and the request/result plumbing shared by
 *        kio_admin.c (topics) and kio_admin_group.c (groups).
 */
#ifndef KF_KIO_ADMIN_IMPL_H
#define KF_KIO_ADMIN_IMPL_H

#include "common/kio_admin.h"
#include "common/kio_impl.h"

struct kio_admin {
    struct kio_common c; /* first: it is librdkafka's opaque */
    rd_kafka_queue_t *q; /* admin results arrive here */
};

/** @brief Admin options for @p op bounded by @p timeout_ms (new: rd_kafka_AdminOptions_destroy). */
rd_kafka_AdminOptions_t *kio_admin_options(kio_admin *ka, rd_kafka_admin_op_t op, int timeout_ms);

/**
 * @brief Wait for the result of the request just issued.
 * @param[out] ev the result event (new: rd_kafka_event_destroy) on success
 * @returns 0; -ETIMEDOUT; the request-level error (errstr says which)
 */
int kio_admin_wait(kio_admin *ka, int timeout_ms, rd_kafka_event_t **ev, const char *what,
                   char *errstr, size_t errstr_size);

/**
 * @brief All partitions of @p topic from cluster-wide metadata (never creates
 *        the topic, unlike a per-topic metadata request on a broker with
 *        auto.create.topics.enable).
 * @returns the count (> 0), -ENOENT, -ETIMEDOUT, -EIO
 */
int kio_admin_partition_count(kio_admin *ka, const char *topic, int timeout_ms, char *errstr,
                              size_t errstr_size);

#endif
