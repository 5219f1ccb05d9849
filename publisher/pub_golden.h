/**
 * @file pub_golden.h
 * @brief Golden vectors (ARCHITECTURE §3): seeded random inputs run through
 *        the reference backend at publish time; a worker must reproduce the
 *        outputs within the tolerance before it serves the version.
 *
 * The manifest → kern_model mapping is schema/model_map.h's model_map_build,
 * the one the worker's loader uses: golden vectors are only meaningful if
 * both sides build the same network from the same manifest.
 */
#ifndef KF_PUB_GOLDEN_H
#define KF_PUB_GOLDEN_H

#include "kernels/kern_model.h"
#include "schema/manifest.h"

#include <stddef.h>
#include <stdint.h>

struct pub_golden_opts {
    uint32_t rows;     /**< 1..MANIFEST_MAX_GOLDEN_ROWS */
    uint64_t seed;     /**< of the inputs */
    double atol, rtol; /**< both 0: by dtype (pub_golden_tolerance) */
    float skew;        /**< tests only: added to output 0 (a golden mismatch) */
};

/** @brief @p n inputs in [-1, 1) from @p seed (xorshift64; the same on every machine). */
void pub_golden_inputs(uint64_t seed, float *x, size_t n);

/**
 * @brief The default tolerance for @p dtype: what another backend (CUDA,
 *        another summation order; f16/bf16 activations rounded between layers)
 *        may legitimately differ by, and no more.
 */
void pub_golden_tolerance(enum schema_dtype dtype, double *atol, double *rtol);

/**
 * @brief Run the reference backend on @p rows seeded inputs and store the
 *        golden vectors in @p m (arch and tensors set already).
 * @returns 0; -EPROTO the model cannot run; -ENOMEM; kernels' errors (errstr)
 */
int pub_golden_compute(struct manifest *m, const uint8_t *blob, uint64_t blob_size,
                       const struct pub_golden_opts *o, char *errstr, size_t errstr_size);

/**
 * @brief Reproduce @p m's golden outputs from @p blob with the reference
 *        backend (the read-back check a worker does after loading).
 * @param bad_index optional out: the first output that differs
 * @returns 0 within tolerance; -EBADMSG an output differs (errstr: which,
 *          got, want); -EPROTO no golden vectors or a model that cannot run
 */
int pub_golden_reproduce(const struct manifest *m, const uint8_t *blob, uint64_t blob_size,
                         size_t *bad_index, char *errstr, size_t errstr_size);

#endif
