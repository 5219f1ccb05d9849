/**
 * @file kio_consumer.h
 * @brief A Kafka consumer: a group member with the cooperative-sticky assignor
 *        and rebalance hooks the caller sees, or a manually assigned reader.
 *
 * Offsets (at-least-once): kio turns off librdkafka's automatic offset store
 * (enable.auto.offset.store=false). The caller stores an offset only when it is
 * done with a message (the worker: after the response's delivery report
 * succeeded) with kio_consumer_store(); stored offsets are committed by
 * kio_consumer_commit(), by librdkafka's periodic auto-commit (it commits
 * stored offsets only), and on revoke and close.
 *
 * Rebalances (cooperative): only the partitions that move are revoked or
 * assigned; the rest keep flowing. kio calls the rebalance callback
 *   - KIO_REBALANCE_ASSIGNED after the partitions were added to the assignment
 *     (the callback may pause them or read their committed offsets); with
 *     the cooperative protocol also with an empty list, once per round: the
 *     round is over;
 *   - KIO_REBALANCE_REVOKED before they are removed: the callback finishes the
 *     work it has for them, stores its last offsets and may commit
 *     synchronously; once it returns, their messages stop;
 *   - KIO_REBALANCE_LOST instead of REVOKED when the group already gave them
 *     away (session timeout): commits for them would fail (-ESTALE).
 * With an EAGER assignor (a user who overrides partition.assignment.strategy)
 * the same callbacks fire for the whole assignment.
 *
 * librdkafka 2.0.2 (Debian bookworm) has known close-time bugs that kio works
 * around in kio_consumer_close(); see docs/common.md.
 *
 * @locality one thread: the one that calls kio_consumer_poll(). Rebalance,
 *           commit, error and statistics callbacks run on it, inside poll (and
 *           inside close). Callbacks may call any kio_consumer function except
 *           close and free.
 */
#ifndef KF_KIO_CONSUMER_H
#define KF_KIO_CONSUMER_H

#include "common/kio.h"

/**
 * librdkafka sends a member's JoinGroup for a rebalance it learns of from a
 * heartbeat no sooner than a second after its previous JoinGroup (2.0.2:
 * rkcg_join_intvl in rdkafka_cgrp.c; joins after a revoke or a subscription
 * change skip the wait). A rebalance started within a second of the last
 * one therefore waits for the rest of that second: callers that can choose
 * when to rebalance (the worker's hand-off) leave this much room.
 */
#define KIO_JOIN_GAP_US (1000 * 1000LL)

typedef struct kio_consumer kio_consumer;

enum kio_rebalance {
    KIO_REBALANCE_ASSIGNED = 1,
    KIO_REBALANCE_REVOKED,
    KIO_REBALANCE_LOST,
};

/** @brief "assigned", "revoked", "lost". */
const char *kio_rebalance2str(enum kio_rebalance ev);

/**
 * @brief Partitions move. @p parts (borrowed for the call; offsets are
 *        KIO_OFFSET_INVALID) are the ones added or taken away, not the whole
 *        assignment (use kio_consumer_assignment() for that).
 */
typedef void kio_rebalance_cb(void *opaque, kio_consumer *kc, enum kio_rebalance ev,
                              const kio_tplist *parts);

/**
 * @brief The result of an asynchronous commit (and of auto-commits).
 * @param err 0, or the commit's error; per-partition errors are in @p offsets
 * @param offsets borrowed; NULL when there was nothing to commit
 */
typedef void kio_commit_cb(void *opaque, int err, const kio_tplist *offsets);

/** @brief Consumer-only options (all optional). */
struct kio_consumer_opts {
    /** NULL: no group: kio_consumer_assign() only, nothing is committed
     *  (librdkafka needs some group.id, so kio makes up a private one no one joins) */
    const char *group_id;
    kio_rebalance_cb *rebalance_cb; /**< NULL: kio only (un)assigns */
    kio_commit_cb *commit_cb;       /**< NULL: failed commits are logged */
    /** Deliver the end of each partition as a kio_msg with eof set
     *  (enable.partition.eof). Otherwise such events are never delivered, even
     *  when a user's kafka.enable.partition.eof asks for them. */
    bool partition_eof;
};

/**
 * @brief A new consumer.
 * @param opts  common options (kio.h), borrowed for the call
 * @param copts consumer options, borrowed for the call; NULL = all defaults
 * @returns the consumer (free with kio_consumer_free), or NULL with the reason
 *          in errstr (unknown or bad librdkafka property)
 */
kio_consumer *kio_consumer_new(const struct kio_opts *opts, const struct kio_consumer_opts *copts,
                               char *errstr, size_t errstr_size);

/**
 * @brief Leave the group cleanly: revoke callbacks fire, stored offsets are
 *        committed, librdkafka's 2.0.2 close bugs are avoided (docs/common.md).
 *        Safe to call twice. Free every kio_msg first.
 * @param timeout_ms bound for the work-arounds (negative: 30 s); the final
 *        librdkafka close itself waits as long as it needs
 * @returns 0; -ETIMEDOUT the group did not settle in time (closed anyway);
 *          the error of the final commit
 */
int kio_consumer_close(kio_consumer *kc, int timeout_ms);

/** @brief Close (if not yet closed) and destroy. NULL is a no-op. */
void kio_consumer_free(kio_consumer *kc);

/**
 * @brief Join the group for @p topics (replaces an earlier subscription).
 * @returns 0, -EINVAL (no group_id, no topics, closed), -ENOMEM
 */
int kio_consumer_subscribe(kio_consumer *kc, const char *const *topics, size_t topic_count);

/**
 * @brief Leave the group's assignment: the revoke callback fires for every
 *        owned partition at the next polls. The member stays alive; subscribe
 *        again to rejoin (the worker's handoff swap).
 * @returns 0, -EIO
 */
int kio_consumer_unsubscribe(kio_consumer *kc);

/**
 * @brief Manual assignment (no group protocol), e.g. the control topic read
 *        from KIO_OFFSET_BEGINNING by every worker. Offsets in @p parts: an
 *        absolute offset or a KIO_OFFSET_* value. NULL or empty: unassign all.
 * @returns 0, -EINVAL (also while subscribed, or after close), -ENOMEM, -EIO
 */
int kio_consumer_assign(kio_consumer *kc, const kio_tplist *parts);

/**
 * @brief The next message or event, waiting up to @p timeout_ms.
 *        Rebalance and commit callbacks may run inside.
 * @param[out] msg a message (new: kio_msg_free), or NULL when the time ran out
 * @returns 0 (with or without a message); a negative errno for a consumer
 *          error (also given to the error callback): -ENOENT the subscribed
 *          topic does not exist, -ECONNREFUSED all brokers down,
 *          -ENOTRECOVERABLE fatal, -EIO. Errors are informational unless fatal:
 *          keep polling.
 */
int kio_consumer_poll(kio_consumer *kc, int timeout_ms, kio_msg **msg);

/**
 * @brief Mark @p next_offset (the offset of the next message to read, i.e. the
 *        last processed offset + 1) for commit.
 * @returns 0; -ESTALE the partition is not assigned to this member (any more);
 *          -EINVAL
 */
int kio_consumer_store(kio_consumer *kc, const char *topic, int32_t partition, int64_t next_offset);

/** @brief kio_consumer_store() for msg->offset + 1. */
int kio_consumer_store_msg(kio_consumer *kc, const kio_msg *msg);

/**
 * @brief Commit the stored offsets.
 * @param async false: wait for the broker; true: return at once, the result goes to the commit
 * callback
 * @returns 0 (also when nothing was stored); -ESTALE generation changed
 *          (partitions moved away), -EAGAIN rebalance in progress or coordinator
 *          moving, -ETIMEDOUT, -EIO. An asynchronous commit while the
 *          member is rejoining (not in librdkafka's steady join state) is
 *          not sent: -EAGAIN, the stored offsets stay for the next commit
 *          (it would be answered ILLEGAL_GENERATION, on which librdkafka
 *          2.0.2 drops the whole assignment, #4059; docs/common.md).
 */
int kio_consumer_commit(kio_consumer *kc, bool async);

/**
 * @brief Commit explicit offsets (each the next offset to read) instead of the stored ones.
 * @returns as kio_consumer_commit(), and -EINVAL for an empty list
 */
int kio_consumer_commit_offsets(kio_consumer *kc, const kio_tplist *offsets, bool async);

/**
 * @brief The group's committed offsets for @p parts, written into each
 *        element's offset (KIO_OFFSET_INVALID: nothing committed) and err.
 * @returns 0, -ETIMEDOUT, -EIO
 */
int kio_consumer_committed(kio_consumer *kc, kio_tplist *parts, int timeout_ms);

/**
 * @brief Low (oldest retained) and high (next to be written) watermark of one
 *        partition, asked from its leader on this consumer's connections
 *        (not through the admin API; the partition need not be assigned).
 * @returns 0; -ENOENT unknown topic or partition; -ETIMEDOUT; -EINVAL; -EIO
 */
int kio_consumer_watermarks(kio_consumer *kc, const char *topic, int32_t partition, int64_t *low,
                            int64_t *high, int timeout_ms);

/**
 * @brief Go back to the group's committed offsets: every assigned partition
 *        is read again from its committed offset (from the start where
 *        nothing is committed, as auto.offset.reset=earliest). What was
 *        fetched and not consumed yet is dropped. For a transaction that
 *        was aborted (kio_txn.h): its consumed offsets were not committed.
 * @returns 0, -ETIMEDOUT, -EIO
 */
int kio_consumer_rewind(kio_consumer *kc, int timeout_ms);

/**
 * @brief The current assignment.
 * @param[out] out new list (kio_tplist_free); offsets are this member's
 *             positions (the next offset it will read) or KIO_OFFSET_INVALID
 * @returns 0, -ENOMEM, -EIO
 */
int kio_consumer_assignment(kio_consumer *kc, kio_tplist **out);

/**
 * @brief Stop (pause) or restart (resume) fetching @p parts. Paused partitions
 *        stay assigned. Per-partition errors are written into @p parts.
 * @returns 0, -ESTALE (a partition is not assigned), -EIO
 */
int kio_consumer_pause(kio_consumer *kc, kio_tplist *parts);
int kio_consumer_resume(kio_consumer *kc, kio_tplist *parts);

/**
 * @brief This member's id in the group (what kio_admin_group_describe shows).
 * @returns new string (free()), "" before the first join; NULL on OOM
 */
char *kio_consumer_member_id(kio_consumer *kc);

/** @brief Whether the group uses incremental (cooperative) rebalancing. False before the first
 * join. */
bool kio_consumer_is_cooperative(kio_consumer *kc);

/** @brief Rebalance callbacks so far (assigned + revoked + lost), for tests and metrics. */
uint64_t kio_consumer_rebalance_count(kio_consumer *kc);

#endif
