/**
 * @file loader.h
 * @brief From a verified store_version to a loaded, warmed-up, golden-checked
 *        slot_version ready for slot_activate()/slot_stage() (ARCHITECTURE §3,
 *        §4 "Swap modes").
 *
 * loader_load() builds the kern_model from the manifest's architecture and
 * tensor table, pointing into the weights blob (no copy), loads it on the
 * backend, runs the golden inputs (the first batch is the warm-up) and compares
 * the outputs with the manifest's golden outputs under its atol/rtol
 * (|got - want| <= atol + rtol·|want|, manifest_golden_check). Stages of a
 * failure (enum ctl_stage, for rollout.failed):
 *
 *  | step                                                  | error            | stage    |
 *  |-------------------------------------------------------|------------------|----------|
 *  | the manifest does not map onto a kern_model (widths   | -EPROTO          | load     |
 *  |   above KERN_MAX_WIDTH, too many layers, a version    | -ENAMETOOLONG    |          |
 *  |   name longer than slot_version holds)                |                  |          |
 *  | a dtype the backend cannot run                        | -ENOTSUP         | load     |
 *  | kern_weights_load: out of (device) memory, device     | -ENOMEM, -EIO    | load     |
 *  | the warm-up batch (the first golden batch) fails      | -EIO             | warmup   |
 *  | a later golden batch fails                            | -EIO             | validate |
 *  | a golden output is out of tolerance (errstr names the | -EBADMSG         | validate |
 *  |   worst element: row, column, got, want, tolerance)   |                  |          |
 *
 * On any failure the new weights are freed before returning: the version
 * being served is untouched.
 *
 * @locality a fetch/load thread. The backend may be running the current
 *           version's batches on the inference thread at the same time
 *           (in-place swap): kern_weights handles are independent.
 */
#ifndef KF_WORKER_LOADER_H
#define KF_WORKER_LOADER_H

#include "kernels/kern_backend.h"
#include "schema/ctl_event.h"
#include "worker/slot.h"
#include "worker/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** @brief Where loader_load's time went, in microseconds. */
struct loader_timings {
    uint64_t load_us;     /**< kern_weights_load (host → device copy, buffers) */
    uint64_t warmup_us;   /**< the first golden batch: min(max_rows, golden rows) rows */
    uint64_t validate_us; /**< the other golden batches (rows beyond max_rows), the comparison */
};

/**
 * @brief Load @p sv on @p be and check its golden vectors.
 * @param be        the worker's backend (borrowed; must outlive the version)
 * @param sv        borrowed for the call; its blob may be freed as soon as
 *                  this returns (the weights are copied)
 * @param max_rows  the largest batch the version will run, 1..KERN_MAX_ROWS
 * @param out       receives a new slot_version on success: version,
 *                  manifest_sha256, seq, widths, weight_bytes
 *                  (kern_weights_size), impl (the loaded weights; see
 *                  loader_weights) and destroy (frees the weights and the
 *                  slot_version itself). Hand it to the slot (steals) or
 *                  free it with loader_version_free().
 * @param timings   optional out
 * @param failed_stage  receives the stage on failure (may be NULL)
 * @returns 0; -EINVAL bad argument (stage load); others as in the table above
 */
int loader_load(struct kern_backend *be, const struct store_version *sv, uint32_t max_rows,
                struct slot_version **out, struct loader_timings *timings,
                enum ctl_stage *failed_stage, char *errstr, size_t errstr_size);

/**
 * @brief Whether the pipelined load should load the version being fetched
 *        (loader_fetch_load). Called once, from a fetch thread, when the
 *        first chunks are verified: @p sv's manifest (signature checked) and
 *        blob address are valid, its bytes not all yet (loader_model and
 *        loader_fits_inplace work on it). The worker answers false for a
 *        hand-off swap, which loads only after the old weights are freed.
 */
typedef bool loader_decide_fn(void *ctx, const struct store_version *sv);

/**
 * @brief Fetch, verify and load at once: store_fetch_progress() with each
 *        layer loaded (kern_weights_load_layer) as soon as every chunk under
 *        its bytes is verified, while later chunks still download; then, after
 *        the last chunk, kern_weights_end, the golden rows (the first batch is
 *        the warm-up) and the slot_version, as loader_load() does.
 *
 * A layer is loaded only from bytes the store reported verified against the
 * signed manifest (store_verified_fn). The kern_model is built from the
 * manifest alone when the first chunks are verified.
 *
 * @param st, model, version, ref  as for store_fetch()
 * @param decide      optional: asked once before anything is loaded; false
 *                    means fetch only (*out stays NULL, return 0)
 * @param sv_out      optional: receives the fetched store_version whenever
 *                    the fetch succeeded, even if the load then failed (new:
 *                    store_version_free); NULL frees it here
 * @param out, timings, failed_stage  as for loader_load(); timings.load_us is
 *                    the loading work (begin, every layer, end), most of it
 *                    overlapped with the fetch
 * @returns 0; a fetch failure: the store's error and stage (fetch, verify:
 *          e.g. a tampered chunk after some layers were loaded), with the
 *          partial weights freed; then loader_load()'s errors and stages;
 *          -EINVAL bad argument (stage fetch)
 * @locality a fetch/load thread; the loading happens on the store's fetch
 *           threads (one at a time).
 */
int loader_fetch_load(struct kern_backend *be, model_store *st, const char *model,
                      const char *version, const struct ctl_manifest_ref *ref, uint32_t max_rows,
                      loader_decide_fn *decide, void *decide_ctx, struct store_version **sv_out,
                      struct slot_version **out, struct loader_timings *timings,
                      enum ctl_stage *failed_stage, char *errstr, size_t errstr_size);

/**
 * @brief The loaded weights of a slot_version made by loader_load (borrowed,
 *        valid until the version is destroyed), for kern_run/kern_forward on
 *        the version's inference thread. NULL for a version of another origin.
 */
struct kern_weights *loader_weights(const struct slot_version *v);

/** @brief Destroy a version that was never handed to a slot. NULL is a no-op. */
void loader_version_free(struct slot_version *v);

/**
 * @brief Describe @p sv's network as a kern_model pointing into its blob:
 *        model_map_build (schema/model_map.h, the mapping the publisher's
 *        golden vectors were computed with) over a blob of the manifest's size.
 * @param layers  receives a new array the model points to (free())
 * @returns 0; -EPROTO no blob, a blob of another size, or the manifest does
 *          not map onto a kern_model (errstr says why); -ENOMEM
 */
int loader_model(const struct store_version *sv, struct kern_model *km, struct kern_layer **layers,
                 char *errstr, size_t errstr_size);

/** Device memory kept free beyond the new weights for an in-place swap: the larger of
 *  this and 1/16 of the new version's size (cuBLAS workspace, fragmentation). */
#define LOADER_INPLACE_MARGIN (256ull << 20)

/**
 * @brief Whether @p sv can be loaded beside the current version(s) (swap mode
 *        `auto`: in-place if it fits, else hand-off).
 *
 * Device backends (kern_backend_supports KERN_CAP_DEVICE_MEMORY): fits when
 * the device's free memory >= need + max(LOADER_INPLACE_MARGIN, need/16).
 * Host backends (ref): fits when @p budget_bytes is 0 (unlimited) or
 * @p resident_bytes + need <= @p budget_bytes.
 *
 * @param budget_bytes    the worker's configured memory budget for the ref backend
 * @param resident_bytes  bytes held by resident versions now (slot_resident_bytes summed)
 * @param fits            receives the answer
 * @param need_bytes      optional out: kern_weights_size for @p max_rows
 * @returns 0; -EPROTO, -ENOMEM (the manifest does not map onto a model);
 *          -EINVAL bad argument; -EIO (device memory query failed)
 */
int loader_fits_inplace(struct kern_backend *be, const struct store_version *sv, uint32_t max_rows,
                        uint64_t budget_bytes, uint64_t resident_bytes, bool *fits,
                        uint64_t *need_bytes, char *errstr, size_t errstr_size);

#endif
