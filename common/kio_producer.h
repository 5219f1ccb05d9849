/**
 * @file kio_producer.h
 * @brief An idempotent Kafka producer whose delivery reports settle the
 *        ownership of every payload.
 *
 * The contract: every message that kio_producer_send() accepted (returned 0)
 * gets exactly one delivery report, success or failure — from
 * kio_producer_poll(), kio_producer_flush(), a blocking send, or at the latest
 * from kio_producer_free(), which reports what it could not deliver as
 * -ECANCELED. A message that send() refused (negative return) gets no report
 * and stays the caller's.
 *
 * Idempotence (enable.idempotence=true) is on by default: no duplicates from
 * internal retries, order kept per partition, acks=all. When the producer
 * loses that guarantee librdkafka raises a fatal error: sends fail with
 * -ENOTRECOVERABLE, the error callback fires with fatal=true, and the caller
 * makes a new producer.
 *
 * @locality kio_producer_send() may be called from any thread. poll, flush,
 *           close and free from one thread, the polling thread: delivery
 *           reports, error and statistics callbacks run on it, inside those
 *           calls (and inside a blocking send made on that thread).
 */
#ifndef KF_KIO_PRODUCER_H
#define KF_KIO_PRODUCER_H

#include "common/kio.h"

typedef struct kio_producer kio_producer;

/* Payload ownership for kio_producer_send(); exactly one of the first three. */
/** kio copies the value; the caller's buffer is free to reuse when send returns. */
#define KIO_SEND_COPY 0x1
/** send steals the value (malloc'd) on success: it is free()d after its delivery report. */
#define KIO_SEND_FREE 0x2
/** The caller keeps owning the value, which must stay valid and unchanged until
 *  its delivery report; the report hands the pointer back (value.ptr) to free or reuse. */
#define KIO_SEND_BORROW 0x4
/** On a full local queue wait instead of failing with -EAGAIN: on the thread
 *  that polls this producer by serving delivery reports, on any other thread
 *  by waiting until the polling thread's polls make room (so it must keep
 *  polling). Until some thread has polled, the sending thread serves them. */
#define KIO_SEND_BLOCK 0x10

/** @brief A message to produce. Key and headers are always copied. */
struct kio_out_msg {
    const char *topic;
    int32_t partition; /**< KIO_PARTITION_ANY: by key (murmur2), random for a null key */
    kf_bytes key;      /**< {NULL, 0}: null key */
    void *value;       /**< ownership per the KIO_SEND_* flag */
    size_t value_len;
    const struct kio_header *headers;
    size_t header_count;
    int64_t timestamp_ms; /**< 0: now (CreateTime; the broker may override with LogAppendTime) */
    void *opaque;         /**< handed back in the delivery report */
};

/** @brief The outcome of one message. All pointers are borrowed for the callback. */
struct kio_delivery {
    int err;            /**< 0 delivered; negative errno (see kio.h) */
    const char *errstr; /**< "" on success */
    const char *topic;
    int32_t partition;
    int64_t offset; /**< KIO_OFFSET_INVALID when not delivered */
    int64_t timestamp_ms;
    kf_bytes key;
    kf_bytes value; /**< BORROW/FREE: the caller's pointer; COPY: kio's copy */
    void *opaque;   /**< kio_out_msg.opaque */
    /** The broker may have written it although the report is a failure
     *  (a timeout after the request was sent): a retry may duplicate it. */
    bool possibly_persisted;
};

/**
 * @brief Called once per accepted message.
 * @param opaque the kio_opts.opaque of the producer
 * @locality the thread that polls the producer
 */
typedef void kio_dr_cb(void *opaque, const struct kio_delivery *dr);

/**
 * @brief A new producer (connects in the background).
 * @param opts  see kio_opts; borrowed for the call
 * @param dr_cb delivery reports; NULL: failures are logged and payloads settle silently
 * @returns the producer (free with kio_producer_free), or NULL with the reason in
 *          errstr (a librdkafka property that is unknown or has a bad value)
 */
kio_producer *kio_producer_new(const struct kio_opts *opts, kio_dr_cb *dr_cb, char *errstr,
                               size_t errstr_size);

/**
 * @brief Flush for up to @p timeout_ms (negative: 10 s), then purge what is
 *        left: its delivery reports come with -ECANCELED and are served before
 *        close returns, so every payload is settled. Later sends fail with
 *        -ECANCELED. Safe to call twice.
 * @returns 0 everything was delivered or reported; -ETIMEDOUT some messages
 *          had to be purged (their reports said so)
 */
int kio_producer_close(kio_producer *kp, int timeout_ms);

/** @brief kio_producer_close() with the default timeout if not closed yet, then destroy. NULL is a
 * no-op. */
void kio_producer_free(kio_producer *kp);

/**
 * @brief Queue a message for delivery.
 * @param flags one of KIO_SEND_COPY, KIO_SEND_FREE, KIO_SEND_BORROW, optionally | KIO_SEND_BLOCK
 * @returns 0 accepted: exactly one delivery report will follow;
 *          -EAGAIN local queue full (poll, then retry; never with KIO_SEND_BLOCK);
 *          -EINVAL no topic, bad flags, header without a name;
 *          -ENOENT unknown partition of a known topic;
 *          -EMSGSIZE larger than message.max.bytes;
 *          -ENOTRECOVERABLE the producer had a fatal error;
 *          -ECANCELED the producer is closed;
 *          -ENOMEM, -EIO.
 *          On any error the value stays the caller's and no report comes.
 * @locality any thread
 */
int kio_producer_send(kio_producer *kp, const struct kio_out_msg *m, int flags);

/**
 * @brief Serve delivery reports and callbacks for up to @p timeout_ms (0: do not wait).
 * @returns the number of events served (>= 0)
 */
int kio_producer_poll(kio_producer *kp, int timeout_ms);

/**
 * @brief Wait until every accepted message has had its delivery report.
 * @returns 0, -ETIMEDOUT (messages are still outstanding; they keep their reports)
 */
int kio_producer_flush(kio_producer *kp, int timeout_ms);

/** @brief Messages accepted whose report has not been served yet. */
int kio_producer_outq_len(kio_producer *kp);

/**
 * @brief The fatal error, if there was one.
 * @returns 0 (none) or -ENOTRECOVERABLE with librdkafka's reason in errstr
 */
int kio_producer_fatal_error(kio_producer *kp, char *errstr, size_t errstr_size);

/** @brief How many messages were accepted / delivered / failed so far (for metrics). */
struct kio_producer_counts {
    uint64_t sent;
    uint64_t delivered;
    uint64_t failed;
};
void kio_producer_counts(kio_producer *kp, struct kio_producer_counts *out);

#endif
