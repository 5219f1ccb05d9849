/**
 * @file serve_txn.h
 * @brief Exactly-once delivery (delivery=exactly_once, docs/delivery.md):
 *        the answers and DLQ copies of a stretch of requests, and those
 *        requests' offsets, commit in one Kafka transaction.
 *
 * The serve loop keeps a transaction open while it takes requests in and
 * the batches answer them; every delivery.commit_interval_ms (and before a
 * revoke, a hand-off or a stop) it drains — every request taken in answered,
 * every answer acknowledged — and calls serve_txn_commit(), which sends the
 * settled offsets with the group's generation (KIP-447) and commits. What a
 * read_committed reader sees is then all or nothing per transaction:
 *   - an abortable failure (a member the group has moved on from, a failed
 *     delivery) aborts; the consumer goes back to the committed offsets and
 *     the same requests are answered again in the next transaction, the
 *     aborted answers never visible;
 *   - a fatal one (fenced) ends the producer: the serve loop makes a new
 *     one and calls serve_txn_restart(), which reads again from the
 *     committed offsets. The usual cause is the worker's own transaction
 *     outliving transaction.timeout.ms (the broker was away longer), which
 *     the broker answers by aborting it and fencing its epoch; a second
 *     fencing soon after means another live instance has this worker's id,
 *     and the worker stops (serve.c);
 *   - a request whose answer could not be delivered (reply_to topic gone)
 *     would abort every retry: it is remembered (serve_txn_doom) and its
 *     next reading is answered on topic.responses with the reason instead.
 *
 * @locality serve_txn_doom from any thread; the rest on the main thread.
 */
#ifndef KF_WORKER_SERVE_TXN_H
#define KF_WORKER_SERVE_TXN_H

#include "common/kio_consumer.h"
#include "common/kio_producer.h"
#include "worker/offtrack.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Requests remembered as undeliverable at once, at most. */
#define SERVE_TXN_POISON_CAP 64

struct serve_txn_poison {
    int32_t partition;
    int64_t offset;
    char why[160];
};

struct serve_txn {
    kio_producer *producer; /**< transactional (borrowed) */
    kio_consumer *consumer; /**< the request group's member (borrowed) */
    offtrack *offsets;      /**< the requests taken in (borrowed) */
    const char *topic;      /**< the requests topic */
    bool open;              /**< a transaction is open: answers may be produced */
    atomic_bool doomed;     /**< it must abort: a delivery failed, or partitions were lost */
    int64_t last_commit_us;
    pthread_mutex_t lock; /**< the poison list */
    struct serve_txn_poison poison[SERVE_TXN_POISON_CAP];
    size_t n_poison;
};

/**
 * @brief Register the producer's transactional.id (fencing any older
 *        instance of this worker) and open the first transaction.
 * @returns 0, or a negative errno with the reason in errstr
 */
int serve_txn_start(struct serve_txn *t, kio_producer *producer, kio_consumer *consumer,
                    offtrack *offsets, const char *topic, char *errstr, size_t errstr_size);
/**
 * @brief Go on with @p producer (new, transactional, same id) after the
 *        previous one was fenced: register it, open a transaction, forget
 *        what was taken in since the last commit and read it again.
 * @returns 0, -ENOTRECOVERABLE
 */
int serve_txn_restart(struct serve_txn *t, kio_producer *producer);
/** @brief Release what serve_txn_start set up (the transaction itself is the producer's). */
void serve_txn_fini(struct serve_txn *t);

/**
 * @brief Commit the open transaction with the offsets settled in it, or
 *        abort it when it is doomed or the commit is refused (then rewind
 *        the consumer and forget the offsets), and open the next unless
 *        @p last. Call with nothing in flight (drained).
 * @returns 0 committed; -ECANCELED aborted (the requests will come again);
 *          -ENOTRECOVERABLE the producer is fenced: restart with a new one
 *          (serve_txn_restart) or stop serving
 */
int serve_txn_commit(struct serve_txn *t, bool last);

/** @brief The transaction must abort: partitions were lost under it. */
void serve_txn_doom(struct serve_txn *t);
/**
 * @brief The answer or DLQ copy of the request at @p partition / @p offset
 *        failed for @p why, for a reason of its own (a reply_to topic that
 *        does not exist, too large): doom the transaction, and remember the
 *        request so that its next reading is answered with the reason.
 *        Failures of the producer or the broker (timeouts) only doom it.
 */
void serve_txn_poison(struct serve_txn *t, int32_t partition, int64_t offset, const char *why);
/** @brief Whether the request was remembered by serve_txn_poison (then forget it), and why. */
bool serve_txn_take_poison(struct serve_txn *t, int32_t partition, int64_t offset, char *why,
                           size_t why_size);

#endif
