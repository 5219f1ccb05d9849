/**
 * @file kio.h
 * @brief kio: kfleet's Kafka edge. The types every kio handle shares: client
 *        options, messages, headers, partition lists, callbacks, errors.
 *
 * kio is the only code that includes librdkafka's headers. No rd_kafka type
 * crosses this API: messages, partition lists and errors are kio's own.
 *
 * Handles: kio_producer (kio_producer.h), kio_consumer (kio_consumer.h),
 * kio_admin (kio_admin.h). Each wraps one librdkafka client instance.
 *
 * Errors are negative errno values (kf_err.h), translated from
 * rd_kafka_resp_err_t at the edge:
 *   -ETIMEDOUT      request or message timed out
 *   -ECONNREFUSED   no broker reachable (all brokers down)
 *   -ECONNRESET     a broker connection failed (transport error)
 *   -EHOSTUNREACH   a broker name did not resolve
 *   -EAGAIN         try again: local queue full (poll, then retry), leader or
 *                   coordinator moving, rebalance in progress
 *   -ESTALE         the consumer no longer owns what it acted on (partition not
 *                   assigned, generation changed, member fenced)
 *   -ENOENT         unknown topic, partition or group
 *   -EEXIST         the topic already exists
 *   -EACCES         authorisation or authentication failed
 *   -EMSGSIZE       message larger than the broker or client allows
 *   -EINVAL         bad argument or configuration
 *   -ECANCELED      purged or cancelled (the handle is closing)
 *   -ENOTRECOVERABLE a fatal error: the client instance cannot go on (e.g. the
 *                   idempotent producer lost its guarantee); make a new one
 *   -ENOMEM, -EIO   out of memory; anything else
 * kf_err_is_retriable() says which of these may succeed if retried;
 * kio_err_is_fatal() says which mean the handle is unusable.
 */
#ifndef KF_KIO_H
#define KF_KIO_H

#include "common/kf_buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct kf_conf;

/** Let the partitioner choose (murmur2 of the key, as the Java client does). */
#define KIO_PARTITION_ANY (-1)

/* Logical offsets (the values librdkafka and Kafka use). */
#define KIO_OFFSET_BEGINNING (-2)  /**< the oldest retained message */
#define KIO_OFFSET_END (-1)        /**< the next message to be produced */
#define KIO_OFFSET_STORED (-1000)  /**< the group's committed offset */
#define KIO_OFFSET_INVALID (-1001) /**< no offset (nothing committed) */

/* ---------------------------------------------------------------- headers */

/** @brief One Kafka header: a NUL-terminated name and bytes (borrowed). */
struct kio_header {
    const char *name;
    kf_bytes value;
};

/** @brief A header whose value is a NUL-terminated string (not counting the NUL). */
#define KIO_HEADER_STR(n, s) \
    ((struct kio_header){.name = (n), .value = {(const uint8_t *)(s), strlen(s)}})

/* --------------------------------------------------------------- messages */

enum kio_ts_type {
    KIO_TS_NONE = 0,
    KIO_TS_CREATE_TIME,     /**< set by the producer */
    KIO_TS_LOG_APPEND_TIME, /**< set by the broker (message.timestamp.type=LogAppendTime) */
};

/**
 * @brief A consumed message. Every field is borrowed from the message and valid
 *        until kio_msg_free(). Free every kio_msg before kio_consumer_free().
 */
typedef struct kio_msg {
    const char *topic;
    int32_t partition;
    int64_t offset;
    kf_bytes key;   /**< {NULL, 0} for a null key */
    kf_bytes value; /**< {NULL, 0} for a null value (tombstone) */
    int64_t timestamp_ms;
    enum kio_ts_type ts_type;
    const struct kio_header *headers; /**< in wire order; NULL when header_count is 0 */
    size_t header_count;
    /** Not a record: the consumer reached the end of @p partition as it is now
     *  (only for a consumer made with kio_consumer_opts.partition_eof); @p offset is
     *  the next offset, key and value are empty. Under read_committed the end
     *  is the last stable offset, past any transaction markers. */
    bool eof;
} kio_msg;

/** @brief Release a message from kio_consumer_poll(). NULL is a no-op. */
void kio_msg_free(kio_msg *msg);

/**
 * @brief The value of the last header called @p name.
 * @param[out] value borrowed from @p msg
 * @returns 0, -ENOENT (no such header), -EINVAL (NULL msg or name)
 */
int kio_msg_header(const kio_msg *msg, const char *name, kf_bytes *value);

/* -------------------------------------------------------- partition lists */

/** @brief One topic partition with an offset and a per-partition error. */
struct kio_tp {
    char *topic; /**< owned by the list */
    int32_t partition;
    int64_t offset; /**< meaning depends on the call; KIO_OFFSET_INVALID when none */
    int err;        /**< 0 or a negative errno for this partition */
};

/** @brief A growable list of topic partitions. */
typedef struct kio_tplist {
    struct kio_tp *elems;
    size_t count;
    size_t cap;
} kio_tplist;

/** @brief An empty list (new: kio_tplist_free). NULL on OOM. */
kio_tplist *kio_tplist_new(size_t size_hint);
void kio_tplist_free(kio_tplist *l);
/**
 * @brief Append (topic, partition) with @p offset and err 0; the topic is copied.
 * @returns 0, -EINVAL (NULL topic, negative partition), -ENOMEM
 */
int kio_tplist_add(kio_tplist *l, const char *topic, int32_t partition, int64_t offset);
/** @brief The element for (topic, partition), borrowed; NULL when absent. */
struct kio_tp *kio_tplist_find(const kio_tplist *l, const char *topic, int32_t partition);
/** @brief A deep copy (new), NULL on OOM or when @p l is NULL. */
kio_tplist *kio_tplist_copy(const kio_tplist *l);
/** @brief Sort by topic, then partition (stable order for printing and tests). */
void kio_tplist_sort(kio_tplist *l);

/* ------------------------------------------------------- client options */

/**
 * @brief An error librdkafka reports outside any call (a broker went down, all
 *        brokers down, a fatal error). Without a callback kio logs it.
 * @param err   negative errno (see the file comment)
 * @param fatal true: the handle is unusable (kio_err_is_fatal(err) is true too)
 * @param reason librdkafka's text, borrowed for the call
 * @locality the thread that polls the handle
 */
typedef void kio_error_cb(void *opaque, int err, bool fatal, const char *reason);

/**
 * @brief librdkafka's statistics JSON
 * (https://github.com/confluentinc/librdkafka/blob/master/STATISTICS.md), every stats_interval_ms.
 * @p json is borrowed for the call, @p len bytes, NUL-terminated.
 * @locality the thread that polls the handle
 */
typedef void kio_stats_cb(void *opaque, const char *json, size_t len);

/**
 * @brief Options common to every kio handle. All pointers are borrowed for the
 *        duration of the _new() call only (except opaque, which is passed back).
 *
 * librdkafka properties are applied in this order, later wins:
 *   1. kio's defaults for the role (see docs/common.md: idempotence, the
 *      cooperative-sticky assignor, manual offset store, ...)
 *   2. brokers and client_id below
 *   3. @p props pairs
 *   4. the kafka.* entries of @p conf, passed untouched (prefix removed)
 */
struct kio_opts {
    const char *brokers;        /**< bootstrap.servers; NULL: from props/conf */
    const char *client_id;      /**< client.id; NULL: "kfleet" */
    const char *const *props;   /**< NULL or {"key", "value", ..., NULL} */
    const struct kf_conf *conf; /**< NULL or a conf whose kafka.* entries apply */
    kio_error_cb *error_cb;     /**< NULL: log at WARN (ERROR when fatal) */
    kio_stats_cb *stats_cb;     /**< NULL: no statistics */
    int stats_interval_ms;      /**< statistics.interval.ms when stats_cb is set; 0 = 5000 */
    void *opaque;               /**< passed to every callback of the handle */
};

/* ----------------------------------------------------------------- errors */

/** @brief Whether @p err (from any kio call or callback) means the handle is unusable. */
bool kio_err_is_fatal(int err);

/** @brief librdkafka's version string ("2.0.2"), for logs and --version. */
const char *kio_version_str(void);

#endif
