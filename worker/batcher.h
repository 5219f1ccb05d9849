/**
 * @file batcher.h
 * @brief Groups requests of one model into batches and runs them on one
 *        inference thread.
 *
 * The rule (Triton's default): never wait when the device is idle — a free
 * inference thread takes whatever is queued at once. Only under load (the
 * previous batch was full, so more work is surely coming) may it wait up to
 * max_delay_us for a fuller batch. Rows of one batch share one version: the
 * active one, or the version a request pinned.
 *
 * @locality batcher_submit from any thread; callbacks on the inference thread.
 */
#ifndef KF_BATCHER_H
#define KF_BATCHER_H

#include "worker/slot.h"

#include <stddef.h>
#include <stdint.h>

/** @brief One request's rows, as the serve loop hands them over. */
struct batch_item {
    const float *input; /**< rows × width f32, borrowed until done() */
    size_t rows, width;
    const char *pin_version; /**< NULL: the active version */
    int64_t deadline_ms;     /**< wall-clock epoch ms after which it is not computed; 0: none */
    int64_t enqueued_us;     /**< kf_clock_mono_us() at submit (set by batcher_submit) */
    void *opaque;            /**< the caller's record */
    struct batch_item *next; /**< queue link, owned by the batcher */
};

struct batch_timing {
    int64_t compute_us;
    size_t batch_rows;
};

/**
 * @brief Run @p rows rows of @p in (rows × v->input_width) through version
 *        @p v into @p out (rows × v->output_width). @returns 0 or negative errno.
 */
typedef int(batch_run_fn)(void *ctx, struct slot_version *v, const float *in, size_t rows,
                          float *out);

/**
 * @brief A batch finished (err == 0) or could not run (err < 0: no version
 *        loaded -ENOENT, width mismatch -EINVAL, its deadline passed while it
 *        was queued -ETIME (one item, never computed), backend error). @p outputs
 *        holds the items' rows in order, each output_width wide; borrowed for
 *        the call only. @p v is the version that ran (NULL on -ENOENT);
 *        borrowed for the call only. The callee owns the items after the call.
 */
typedef void(batch_done_fn)(void *ctx, struct batch_item **items, size_t n, const float *outputs,
                            size_t output_width, const struct slot_version *v, int err,
                            const struct batch_timing *t);

struct batcher_conf {
    size_t max_batch_rows;
    int64_t max_delay_us;
    batch_run_fn *run;
    batch_done_fn *done;
    void *ctx;
};

typedef struct batcher batcher;

/**
 * @brief Start the inference thread for @p slot (borrowed; must outlive the batcher).
 * @returns NULL on OOM or if the thread cannot start.
 */
batcher *batcher_new(model_slot *slot, const struct batcher_conf *conf);
/** @brief Finish everything queued, then stop the thread. */
void batcher_free(batcher *b);
/** @brief Queue @p item (steals until done()). @returns 0, -ESHUTDOWN while stopping */
int batcher_submit(batcher *b, struct batch_item *item);
/** @brief Rows queued plus rows in the running batch. */
size_t batcher_pending_rows(batcher *b);
/** @brief Block until nothing is queued or running (drain before revoke/handoff). */
void batcher_drain(batcher *b);

#endif
