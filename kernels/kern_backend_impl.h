/**
 * @file kern_backend_impl.h
 * @brief What a backend implements: the vtable behind kern_backend.h. Only
 *        backends (kernels/, kernels/cuda/) and their tests include this.
 *
 * A backend fills one `const struct kern_backend_i` with designated
 * initialisers. kern_backend.c validates every argument at the public entry
 * points and then calls these without further checks: a backend may assert
 * its preconditions. Entries marked optional may be NULL.
 */
#ifndef KERN_BACKEND_IMPL_H
#define KERN_BACKEND_IMPL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/kern_backend.h"
#include "kernels/kern_model.h"

#ifdef __cplusplus
extern "C" {
#endif

struct kern_backend_i {
    const char *name;

    /** @returns 0 usable, -ENODEV no device. Called without a context. */
    int (*probe)(void);

    /** @returns a new context, or NULL with errstr filled. `cfg` is never NULL. */
    void *(*create)(const struct kern_backend_config *cfg, char *errstr, size_t errstr_size);

    /** Frees the context; all weights were freed before. */
    void (*destroy)(void *ctx);

    /** @returns a borrowed description of the device. */
    const char *(*device)(void *ctx);

    bool (*supports)(void *ctx, enum kern_cap cap);

    /** @returns 0 or -EIO. */
    int (*mem_info)(void *ctx, size_t *free_bytes, size_t *total_bytes);

    /** Bytes a load would take; the model validates, max_rows is in range. */
    uint64_t (*load_size)(void *ctx, const struct kern_model *m, uint32_t max_rows);

    /**
     * Start a load: allocate everything the handle will need (weights memory included) but copy
     * no weight yet. The model validates and its dtypes are supported; max_rows is in range.
     * @returns 0 and *impl, or -ENOMEM / -EIO / -ENOTSUP with errstr filled (nothing left
     *          allocated).
     */
    int (*load_begin)(void *ctx, const struct kern_model *m, uint32_t max_rows, void **impl,
                      char *errstr, size_t errstr_size);

    /**
     * Copy layer @p i of @p m (the same shapes as at load_begin; checked by kern_backend.c,
     * which also calls each layer once) into the handle. Layers come in any order.
     * @returns 0, or -ENOMEM / -EIO with errstr filled (the handle is then only unloaded).
     */
    int (*load_layer)(void *ctx, void *impl, const struct kern_model *m, uint32_t i, char *errstr,
                      size_t errstr_size);

    /** Optional: every layer is in; finish (wait for copies, warm up). @returns 0 or -EIO. */
    int (*load_end)(void *ctx, void *impl, char *errstr, size_t errstr_size);

    /** Frees what load_begin() made (whatever layers were loaded), waiting for work in flight. */
    void (*unload)(void *ctx, void *impl);

    /** Staging buffers (see kern_weights_io()). */
    void (*io)(void *ctx, void *impl, float **in, float **out);

    /** Starts a batch; 1 ≤ rows ≤ max_rows; no batch in flight. @returns 0 or -EIO. */
    int (*run)(void *ctx, void *impl, const float *in, uint32_t rows, float *out);

    /** Optional (NULL = run() is synchronous): completes the batch. @returns 0 or -EIO. */
    int (*sync)(void *ctx, void *impl);
};

/** @brief The backend's context (for a backend's own test and benchmark hooks). */
void *kern_backend_ctx(struct kern_backend *be);
/** @brief The backend's vtable. */
const struct kern_backend_i *kern_backend_iface(const struct kern_backend *be);
/** @brief What the backend's load_begin() made for this handle. */
void *kern_weights_impl(struct kern_weights *w);

/** The reference backend (always built). */
extern const struct kern_backend_i kern_backend_ref_i;
/** The CUDA backend (built when KERN_HAVE_CUDA). */
extern const struct kern_backend_i kern_backend_cuda_i;

/**
 * @brief Record a failure for kern_last_error() and return `err`. printf-style.
 *        Also copies the message to errstr when that is non-NULL.
 */
int kern_fail(int err, char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/** @brief kern_fail() with a va_list. */
int kern_vfail(int err, char *errstr, size_t errstr_size, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/** @brief Forget the calling thread's last error (kern_last_error() gives ""). */
void kern_clear_error(void);

#ifdef __cplusplus
}
#endif

#endif
