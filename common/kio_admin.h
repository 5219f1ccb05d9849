/**
 * @file kio_admin.h
 * @brief Kafka administration through librdkafka's admin API: topics, their
 *        configuration, watermarks, and consumer groups (committed offsets,
 *        lag, members and their assignments) — what `kfleetctl`, the devstack
 *        and the worker's group probe (a child process) need.
 *
 * librdkafka 2.0.2's admin requests can abort the process when brokers go
 * away (librdkafka #4605, #3663): the worker process calls none of these
 * functions itself (docs/worker.md, "The group probe").
 *
 * Every call is synchronous, bounded by @p timeout_ms, and writes a reason into
 * errstr on failure (when errstr is not NULL).
 *
 * @locality one thread at a time per kio_admin. Its error and statistics
 *           callbacks run inside its calls (nothing else polls an admin client).
 */
#ifndef KF_KIO_ADMIN_H
#define KF_KIO_ADMIN_H

#include "common/kio.h"

typedef struct kio_admin kio_admin;

/**
 * @brief A new admin client.
 * @returns the client (kio_admin_free), or NULL with the reason in errstr
 */
kio_admin *kio_admin_new(const struct kio_opts *opts, char *errstr, size_t errstr_size);
/** @brief NULL is a no-op. */
void kio_admin_free(kio_admin *ka);

/* ------------------------------------------------------------------ topics */

/** @brief A topic to create. */
struct kio_topic_spec {
    const char *name;
    int partitions;             /**< >= 1 */
    int replication_factor;     /**< -1 (or 0): the broker's default */
    const char *const *configs; /**< NULL or {"retention.ms", "-1", ..., NULL} */
};

/**
 * @brief Create topics and wait until the controller has them.
 * @param exist_ok a topic that already exists counts as success (its settings are not checked)
 * @returns 0; the first failure: -EEXIST, -EINVAL (bad partitions or config),
 *          -EACCES, -ETIMEDOUT, -ECONNREFUSED, -EIO
 */
int kio_admin_topics_create(kio_admin *ka, const struct kio_topic_spec *specs, size_t count,
                            bool exist_ok, int timeout_ms, char *errstr, size_t errstr_size);

/**
 * @brief Delete topics.
 * @returns 0; the first failure: -ENOENT (unknown topic), -EACCES, -ETIMEDOUT, -EIO
 */
int kio_admin_topics_delete(kio_admin *ka, const char *const *names, size_t count, int timeout_ms,
                            char *errstr, size_t errstr_size);

/**
 * @brief Number of partitions of @p topic (metadata).
 * @returns the count (> 0); -ENOENT unknown topic; -ETIMEDOUT; -EIO
 */
int kio_admin_topic_partitions(kio_admin *ka, const char *topic, int timeout_ms, char *errstr,
                               size_t errstr_size);

/**
 * @brief The value of one topic configuration entry (DescribeConfigs), e.g.
 *        "retention.ms" or "message.timestamp.type".
 * @param[out] value NUL-terminated, truncated to value_size
 * @returns 0; -ENOENT unknown topic or entry; -ETIMEDOUT; -EIO
 */
int kio_admin_topic_config(kio_admin *ka, const char *topic, const char *name, char *value,
                           size_t value_size, int timeout_ms, char *errstr, size_t errstr_size);

/**
 * @brief Low (oldest retained) and high (next to be written) watermark of one
 *        partition, asked from its leader.
 * @returns 0; -ENOENT; -ETIMEDOUT; -EIO
 */
int kio_admin_watermarks(kio_admin *ka, const char *topic, int32_t partition, int64_t *low,
                         int64_t *high, int timeout_ms);

/* ------------------------------------------------------------------ groups */

/** @brief Committed offset vs watermarks for one partition. */
struct kio_partition_lag {
    int32_t partition;
    int64_t committed; /**< KIO_OFFSET_INVALID: the group committed nothing here */
    int64_t low, high; /**< watermarks */
    /** high - committed; with nothing committed, high - low (every retained message is unread) */
    int64_t lag;
};

/**
 * @brief The lag of @p group on every partition of @p topic, in partition order.
 * @param[out] out new array (free()) of *count elements
 * @returns 0; -ENOENT unknown topic; -ETIMEDOUT; -ENOMEM; -EIO
 */
int kio_admin_group_lag(kio_admin *ka, const char *group, const char *topic,
                        struct kio_partition_lag **out, size_t *count, int timeout_ms, char *errstr,
                        size_t errstr_size);

/**
 * @brief The group's committed offsets (ListConsumerGroupOffsets) for every
 *        partition of @p topic.
 * @param[out] out new list (kio_tplist_free), offset KIO_OFFSET_INVALID where nothing was committed
 * @returns 0; -ENOENT unknown topic; -ETIMEDOUT; -ENOMEM; -EIO
 */
int kio_admin_group_offsets(kio_admin *ka, const char *group, const char *topic, kio_tplist **out,
                            int timeout_ms, char *errstr, size_t errstr_size);

/** @brief One member of a consumer group. */
struct kio_group_member {
    char *member_id;
    char *client_id;
    char *host;
    char *instance_id;      /**< NULL unless static membership */
    kio_tplist *assignment; /**< never NULL (may be empty) */
};

/** @brief A consumer group as the coordinator describes it. */
/** @brief Free @p n members and the array (a group's, or a group probe's: worker/group_probe.h). */
void kio_group_members_free(struct kio_group_member *members, size_t n);

struct kio_group {
    char *group_id;
    char *state;    /**< "Stable", "PreparingRebalance", "CompletingRebalance", "Empty", "Dead",
                       "Unknown" */
    char *assignor; /**< "cooperative-sticky", ... ("" when empty) */
    struct kio_group_member *members;
    size_t member_count;
};

/**
 * @brief Describe @p group: state, assignor, members with their assignments.
 *        An unknown group is described as state "Dead" with no members.
 * @param[out] out new (kio_group_free)
 * @returns 0; -ETIMEDOUT; -EACCES; -ENOMEM; -EIO
 */
int kio_admin_group_describe(kio_admin *ka, const char *group, struct kio_group **out,
                             int timeout_ms, char *errstr, size_t errstr_size);
/** @brief NULL is a no-op. */
void kio_group_free(struct kio_group *g);

/**
 * @brief Delete a group (it must have no members).
 * @returns 0; -ENOENT unknown group; -EBUSY the group has members; -ETIMEDOUT; -EIO
 */
int kio_admin_group_delete(kio_admin *ka, const char *group, int timeout_ms, char *errstr,
                           size_t errstr_size);

#endif
