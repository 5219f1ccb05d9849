/**
 * @file serve.h
 * @brief The intake: requests in from the request group, batches out
 *        through each model's batcher, answers back to Kafka, offsets
 *        committed only behind delivered answers (ARCHITECTURE §4 "Serve
 *        loop"; docs/worker.md "Settling").
 *
 * It owns the request consumer and the producer (which the control log
 * borrows to append events) and knows nothing of rollouts: the rollout agent
 * tells it when to join and leave the group (agent.h), and it finds the
 * models to queue requests on in the model set (models.h).
 *
 * @locality main thread, except serve_stats (any thread). Batches finish on
 *           the models' inference threads, which produce the answers.
 */
#ifndef KF_WORKER_SERVE_H
#define KF_WORKER_SERVE_H

#include "common/kio_consumer.h"
#include "common/kio_producer.h"
#include "kernels/kern_backend.h"
#include "worker/batcher.h"
#include "worker/models.h"
#include "worker/worker_conf.h"
#include "worker/worker_metrics.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct serve serve;

/**
 * @brief The producer and the request consumer (not in the group yet).
 *        @p backend runs the batches; it, @p models and @p m are borrowed.
 * @returns NULL with the reason in errstr.
 */
serve *serve_new(const struct worker_config *cfg, struct kern_backend *backend, model_set *models,
                 struct worker_metrics *m, char *errstr, size_t errstr_size);
/** @brief Free what serve_close left (call serve_close first). NULL is a no-op. */
void serve_free(serve *s);

/** @brief The producer, for the control log's events (borrowed). */
kio_producer *serve_producer(serve *s);
/** @brief How a model's batcher runs batches and answers them (models.h). */
void serve_batching(serve *s, struct batcher_conf *bc);

/** @brief Subscribe: join the request group. @returns 0 or negative errno. */
int serve_join(serve *s);
/**
 * @brief Leave the request group: first answer, deliver and commit (sync)
 *        everything taken in, then unsubscribe; the revoke that follows in a
 *        later serve_poll finds nothing left to settle.
 */
int serve_leave(serve *s);
/** @brief The partitions assigned now (kio_tplist_free). */
int serve_assignment(serve *s, kio_tplist **out);

/**
 * @brief One turn of the main loop's request side: poll (at most
 *        @p timeout_ms), dispatch, handle failed deliveries, flow control,
 *        commit now and then.
 */
void serve_poll(serve *s, int timeout_ms);
/** @brief Finish every batch, deliver every answer, commit, leave the group (shutdown). */
void serve_close(serve *s);

struct serve_stats {
    bool joined;            /**< subscribed to the request group */
    bool rebalanced;        /**< the group gave this member an assignment once */
    bool fatal;             /**< an error the worker must stop for (drain, exit non-zero) */
    int assigned;           /**< partitions assigned now */
    unsigned assign_rounds; /**< rebalance rounds that ended, empty ones too */
    int64_t last_round_us;  /**< kf_clock_mono_us() of the last rebalance event, 0: none */
    uint64_t answered, errors, expired, dlq;
    int64_t max_poll_gap_us; /**< longest time between two polls since the start */
};

/** @brief Counters and states, from any thread. */
struct serve_stats serve_stats(serve *s);
/** @brief Records taken in and not settled yet (main thread). */
size_t serve_inflight(serve *s);

#endif
