/**
 * @file kern_backend.h
 * @brief The inference backend: chosen once at start-up ("ref", "cuda" or
 *        "auto"), it loads models into resident weights handles and runs
 *        batches of f32 rows through them.
 *
 * Typical use (the worker):
 *
 *     struct kern_backend *be = kern_backend_new("auto", NULL, err, sizeof err);
 *     struct kern_weights *w;
 *     int rc = kern_weights_load(be, &model, max_rows, &w, err, sizeof err);
 *     // or, layer by layer as the bytes arrive: kern_weights_begin(),
 *     // kern_weights_load_layer() per layer (any order), kern_weights_end()
 *     float *in, *out;                        // optional zero-copy staging
 *     kern_weights_io(w, &in, &out);
 *     ... fill rows of `in` ...
 *     rc = kern_run(be, w, in, rows, out);    // enqueue
 *     rc = kern_sync(be, w);                  // out[0 .. rows·out_width) is ready
 *     kern_weights_free(be, w);
 *     kern_backend_free(be);
 *
 * Errors are negative errno values: -EINVAL (bad argument; a caller bug),
 * -ENOMEM (host or device memory exhausted; retrying after freeing something
 * can succeed), -ENODEV (no usable device), -ENOTSUP (not built in / not
 * supported by this device), -EBUSY (a batch is already in flight on this
 * handle), -EIO (the device failed: the backend is unusable from then on; the
 * worker drains and exits, see ARCHITECTURE §6). kern_last_error() gives the
 * detail of the most recent failure on the calling thread, including the
 * CUDA/cuBLAS statement, file and line.
 *
 * @locality Any thread. One weights handle is used by one thread at a time
 *           (run then sync); different handles may run concurrently from
 *           different threads. The reference backend serialises concurrent
 *           runs on its thread pool.
 */
#ifndef KERN_BACKEND_H
#define KERN_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/kern_model.h"

#ifdef __cplusplus
extern "C" {
#endif

struct kern_backend;
struct kern_weights;

/** @brief Start-up settings. All-zero (or a NULL pointer) means the defaults. */
struct kern_backend_config {
    int device;       /**< cuda: device ordinal (default 0); ref: ignored */
    unsigned threads; /**< ref: worker threads, 0 = one per online CPU (max 64) */
    bool allow_tf32;  /**< cuda: f32 layers may multiply on TF32 tensor cores */
    bool no_warmup;   /**< cuda: skip the forward pass load() makes to load kernels */
};

/** @brief What a backend can be asked whether it supports. */
enum kern_cap {
    KERN_CAP_F32 = 0,       /**< f32 weights */
    KERN_CAP_F16,           /**< f16 weights */
    KERN_CAP_BF16,          /**< bf16 weights */
    KERN_CAP_TF32,          /**< allow_tf32 has an effect */
    KERN_CAP_ASYNC,         /**< run() returns before the work is done; sync() waits */
    KERN_CAP_DEVICE_MEMORY, /**< weights live in memory apart from the host's */
};

/**
 * @brief Whether a backend is built in and usable on this machine (for cuda:
 *        a device 0 that this build has code for).
 * @param name  "ref", "cuda" or "auto"
 * @returns 0 usable; -ENOTSUP not built in; -ENODEV no usable device (no GPU,
 *          no driver); -EINVAL unknown name.
 */
int kern_backend_probe(const char *name);

/**
 * @brief Create a backend. Called once at start-up; creates the CUDA context
 *        (cuda) or the thread pool (ref).
 * @param name    "ref", "cuda", or "auto" (cuda when it probes usable, else ref)
 * @param cfg     borrowed for the call; NULL for defaults
 * @param errstr  receives the reason on failure (may be NULL)
 * @returns new, free with kern_backend_free(); NULL on failure.
 */
struct kern_backend *kern_backend_new(const char *name, const struct kern_backend_config *cfg,
                                      char *errstr, size_t errstr_size);

/** @brief Destroy a backend; every weights handle must be freed first. NULL is a no-op. */
void kern_backend_free(struct kern_backend *be);

/** @brief "ref" or "cuda". Static storage. */
const char *kern_backend_name(const struct kern_backend *be);

/** @brief A line describing the device (e.g. "NVIDIA H100 80GB HBM3 (sm_90)"). Borrowed. */
const char *kern_backend_device(const struct kern_backend *be);

/** @brief Whether the backend supports `cap`. */
bool kern_backend_supports(const struct kern_backend *be, enum kern_cap cap);

/**
 * @brief Whether every layer's weight dtype of `m` is supported.
 * @returns 0, -ENOTSUP (errstr says which layer), or -EINVAL (the model does not validate).
 */
int kern_backend_supports_model(const struct kern_backend *be, const struct kern_model *m,
                                char *errstr, size_t errstr_size);

/**
 * @brief Free and total memory of the backend's device (host RAM for ref).
 * @returns 0, or -EIO (device failure).
 */
int kern_backend_mem_info(struct kern_backend *be, size_t *free_bytes, size_t *total_bytes);

/**
 * @brief Bytes that kern_weights_load() of this model and max_rows would take
 *        on the backend's device (weights, activations, workspace), for the
 *        worker's in-place/hand-off decision.
 * @returns 0, or -EINVAL (NULL argument, bad model or max_rows).
 */
int kern_weights_size(struct kern_backend *be, const struct kern_model *m, uint32_t max_rows,
                      uint64_t *bytes);

/**
 * @brief Copy a model's weights into a resident handle and allocate every
 *        buffer that running up to `max_rows` rows will ever need; no
 *        allocation happens in kern_run() or kern_sync().
 *
 * Returns an error code rather than NULL so that the caller can tell -ENOMEM
 * (try a hand-off swap) from a bad model.
 *
 * @param m         borrowed for the call only; the weights are copied
 * @param max_rows  1 … KERN_MAX_ROWS
 * @param wp        receives the new handle on success (free with kern_weights_free())
 * @returns 0; -EINVAL bad model or max_rows; -ENOTSUP a dtype the device
 *          cannot do; -ENOMEM out of memory; -EIO device failure.
 */
int kern_weights_load(struct kern_backend *be, const struct kern_model *m, uint32_t max_rows,
                      struct kern_weights **wp, char *errstr, size_t errstr_size);

/**
 * @brief Incremental load, step 1: allocate a handle and everything it will
 *        need (as kern_weights_load() does) without copying any weight, so
 *        that layers can be loaded one by one as their bytes become final
 *        (the worker loads each layer as soon as the chunks under it are
 *        verified, while later chunks still download).
 *
 * kern_weights_load() is kern_weights_begin(), kern_weights_load_layer() for
 * every layer, then kern_weights_end(). Until kern_weights_end() returns 0 the
 * handle can only be loaded into or freed: kern_run() refuses it (-EINVAL).
 *
 * @param m   borrowed for the call; only its shapes (widths, dtypes, bias or
 *            not, activations, final op) are used: weight/bias pointers need
 *            not point at final bytes yet
 * @param wp  receives the new handle (kern_weights_free() at any step)
 * @returns as kern_weights_load().
 */
int kern_weights_begin(struct kern_backend *be, const struct kern_model *m, uint32_t max_rows,
                       struct kern_weights **wp, char *errstr, size_t errstr_size);

/**
 * @brief Incremental load, step 2: copy layer @p layer of @p m into the
 *        handle (the reference packs it; cuda uploads it). Layers may come in
 *        any order, each once.
 * @param m      a model with the same shapes as at kern_weights_begin(); its
 *               layer's weight and bias bytes must be final (borrowed for the
 *               call only: they are copied before it returns, so they may
 *               change or be freed afterwards)
 * @returns 0; -EINVAL NULL argument, a handle of another backend or already
 *          ended, @p layer out of range or already loaded, or a model whose
 *          shapes differ from begin's; -ENOMEM; -EIO device failure (after
 *          any error other than -EINVAL only kern_weights_free() is left).
 * @locality the thread using the handle; different layers of one handle may
 *           be loaded from different threads one after the other (the caller
 *           orders them).
 */
int kern_weights_load_layer(struct kern_backend *be, struct kern_weights *w,
                            const struct kern_model *m, uint32_t layer, char *errstr,
                            size_t errstr_size);

/**
 * @brief Incremental load, step 3: every layer is loaded; wait for copies in
 *        flight and (cuda, unless no_warmup) run the kernels' warm-up. The
 *        handle is then like one from kern_weights_load().
 * @returns 0; -EINVAL a layer was not loaded, or the handle was ended
 *          already; -EIO device failure.
 */
int kern_weights_end(struct kern_backend *be, struct kern_weights *w, char *errstr,
                     size_t errstr_size);

/** @brief Free a weights handle (waits for a batch in flight). NULL is a no-op. */
void kern_weights_free(struct kern_backend *be, struct kern_weights *w);

/** @brief Input width, output width and max_rows of a loaded handle. */
uint32_t kern_weights_input_width(const struct kern_weights *w);
uint32_t kern_weights_output_width(const struct kern_weights *w);
uint32_t kern_weights_max_rows(const struct kern_weights *w);

/**
 * @brief The handle's own input and output staging buffers (pinned host
 *        memory for cuda): max_rows·input_width and max_rows·output_width
 *        floats. Passing them to kern_run() saves a host copy each way; the
 *        input buffer must then be left alone until kern_sync() returns.
 * @param in, out  receive borrowed pointers, valid until kern_weights_free()
 * @returns 0, or -EINVAL for a NULL handle.
 */
int kern_weights_io(struct kern_weights *w, float **in, float **out);

/**
 * @brief Start a batch: `rows` input rows (row-major f32, input_width each)
 *        through the network into `out` (output_width each).
 *
 * `in` may be reused as soon as kern_run() returns; `out` is complete only
 * after kern_sync() returns 0. One batch at a time per handle.
 *
 * @param in    borrowed for the call; rows·input_width floats
 * @param rows  0 … max_rows (0 does nothing)
 * @param out   borrowed until kern_sync(); rows·output_width floats; must not
 *              overlap `in`
 * @returns 0; -EINVAL bad argument (rows > max_rows, NULL, a handle of another
 *          backend); -EBUSY a batch is in flight; -EIO device failure.
 */
int kern_run(struct kern_backend *be, struct kern_weights *w, const float *in, uint32_t rows,
             float *out);

/**
 * @brief Wait for the batch started by kern_run() and deliver its output.
 * @returns 0 (also when nothing was in flight), or -EIO device failure.
 */
int kern_sync(struct kern_backend *be, struct kern_weights *w);

/** @brief kern_run() then kern_sync(). Same errors. */
int kern_forward(struct kern_backend *be, struct kern_weights *w, const float *in, uint32_t rows,
                 float *out);

/** @brief Whether an error from this module leaves the backend unusable (-EIO). */
bool kern_err_is_fatal(int err);

/**
 * @brief Detail of the most recent failure on the calling thread (statement,
 *        file, line, CUDA/cuBLAS error name), or "" if none. Thread-local
 *        storage, valid until the thread's next failing kernels call.
 */
const char *kern_last_error(void);

#ifdef __cplusplus
}
#endif

#endif
