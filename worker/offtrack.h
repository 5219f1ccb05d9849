/**
 * @file offtrack.h
 * @brief Which offset of each partition may be committed.
 *
 * Records of one partition are taken in offset order but settle out of order
 * (different batches, different delivery reports). A record is settled when
 * its response (or DLQ copy) was delivered. The committable offset of a
 * partition is the first offset not yet settled — so a crash never skips an
 * unanswered request (at-least-once), and a re-delivery repeats only what was
 * in flight.
 *
 * @locality one thread (the worker's main thread, which polls Kafka and
 *           serves delivery reports).
 */
#ifndef KF_OFFTRACK_H
#define KF_OFFTRACK_H

#include <stddef.h>
#include <stdint.h>

typedef struct offtrack offtrack;

offtrack *offtrack_new(void);
void offtrack_free(offtrack *ot);

/**
 * @brief A record of @p partition at @p offset was taken in. Offsets of one
 *        partition must increase (gaps allowed: compaction, transactions).
 * @returns 0, -EINVAL (not increasing), -ENOMEM
 */
int offtrack_begin(offtrack *ot, int32_t partition, int64_t offset);
/** @brief The record settled. @returns 0, -ENOENT (not in flight) */
int offtrack_settle(offtrack *ot, int32_t partition, int64_t offset);
/**
 * @brief The offset to commit for @p partition (the next record to read after
 *        a restart), or -1 if nothing was settled since the last call to
 *        offtrack_committed().
 */
int64_t offtrack_committable(const offtrack *ot, int32_t partition);
/** @brief Remember that @p offset was committed, so committable() reports only news. */
void offtrack_committed(offtrack *ot, int32_t partition, int64_t offset);
/** @brief Records taken in but not settled. */
size_t offtrack_inflight(const offtrack *ot, int32_t partition);
size_t offtrack_inflight_total(const offtrack *ot);
/** @brief Forget a partition (revoked and finished, or lost). */
void offtrack_forget(offtrack *ot, int32_t partition);

#endif
