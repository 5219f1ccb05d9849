/**
 * @file kio_txn.h
 * @brief Kafka transactions on a kio producer, with a group consumer's
 *        offsets committed inside them (consume → process → produce,
 *        KIP-98; fencing by the consumer group's generation, KIP-447).
 *
 * The producer is made with `transactional.id` set (kio_opts.props or
 * kafka.*); kio_txn_init() once, then per transaction: begin, produce with
 * kio_producer_send(), send the consumed offsets, commit — or abort.
 * Between commit/abort and the next begin, sends fail (librdkafka accepts
 * messages only inside a transaction).
 *
 * Every call returns 0 or a negative errno that says what to do next:
 *   - -EAGAIN: retriable; the same call again (it timed out or a broker moved);
 *   - -ECANCELED: the transaction must be aborted (kio_txn_abort); nothing
 *     it holds becomes visible to read_committed readers, and the consumed
 *     offsets it carried were not committed: rewind the consumer
 *     (kio_consumer_rewind) before processing again;
 *   - -ENOTRECOVERABLE: fatal: another producer with the same
 *     transactional.id fenced this one, or its epoch is gone; stop using it;
 *   - -EINVAL, -EIO: misuse or an unexpected error (message in errstr).
 *
 * @locality one thread for the transaction calls; kio_producer_send() from
 *           any thread, but only while a transaction is open.
 */
#ifndef KF_KIO_TXN_H
#define KF_KIO_TXN_H

#include "common/kio_consumer.h"
#include "common/kio_producer.h"

#include <stddef.h>

/** @brief Register the transactional.id and fence older instances (once). */
int kio_txn_init(kio_producer *kp, int timeout_ms, char *errstr, size_t errstr_size);
/** @brief Open a transaction. */
int kio_txn_begin(kio_producer *kp, char *errstr, size_t errstr_size);
/**
 * @brief Add @p offsets (each the next offset to read) of the group that
 *        @p kc belongs to, with its member id and generation: a member the
 *        group has moved on from is refused (-ECANCELED), so a zombie's
 *        transaction cannot commit.
 */
int kio_txn_send_offsets(kio_producer *kp, kio_consumer *kc, const kio_tplist *offsets,
                         int timeout_ms, char *errstr, size_t errstr_size);
/** @brief Flush, then commit: everything produced and every offset sent becomes visible at once. */
int kio_txn_commit(kio_producer *kp, int timeout_ms, char *errstr, size_t errstr_size);
/** @brief Abort: drop what the transaction produced (purged if not sent yet). */
int kio_txn_abort(kio_producer *kp, int timeout_ms, char *errstr, size_t errstr_size);

#endif
