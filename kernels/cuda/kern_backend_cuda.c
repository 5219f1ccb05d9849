/* The CUDA backend: cuBLAS for the products, our kernels (kcu_act.cu, kcu_softmax.cu) for
 * everything between them.
 *
 * Everything a batch needs is allocated at load, in one device arena (weights, biases, the
 * two activation buffers, cuBLAS's workspace) plus two pinned staging buffers, and each
 * weights handle has its own stream and cuBLAS handle. run() then only copies and launches:
 * no cudaMalloc, cudaFree, cudaHostAlloc or context creation (the gpu suite counts). The
 * context is created once, in create(), and lives until destroy(), so a model swap never
 * recreates it.
 *
 * Per batch: H2D into the activations (converted to layer 0's dtype), per layer one cuBLAS
 * GEMM into act[1] and one fused epilogue that writes the next layer's input into act[0] in
 * that layer's dtype (in place in act[1] for the last layer), the softmax in place, and D2H. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/kcu.h"
#include "kernels/kern_dtype.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the CUDA backend copies little-endian weights to the device as they are"
#endif

#ifndef KCU_MIN_ARCH
#define KCU_MIN_ARCH 90 /* meson passes the lowest of -Dgpu_arch */
#endif

#define ALIGN 256u

static size_t align_up(size_t n)
{
    return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

/* The arena's layout, walked once to size it and once to hand out pointers (w != NULL). */
static size_t arena_layout(const struct kern_model *m, uint32_t max_rows, size_t workspace,
                           struct kcu_weights *w)
{
    char *base = w ? w->arena : NULL;
    size_t off = 0;
    for (uint32_t i = 0; i < m->n_layers; i++) {
        const struct kern_layer *l = &m->layers[i];
        if (w)
            w->layers[i].w = base + off;
        off += align_up((size_t)l->out_width * l->in_width * kern_dtype_size(l->weight_dtype));
        if (l->bias) {
            if (w)
                w->layers[i].bias = (const float *)(base + off);
            off += align_up((size_t)l->out_width * sizeof(float));
        }
    }
    size_t act = align_up((size_t)max_rows * kern_model_max_width(m) * sizeof(float));
    for (int k = 0; k < 2; k++) {
        if (w)
            w->act[k] = base + off;
        off += act;
    }
    if (w) {
        w->workspace = base + off;
        w->workspace_size = workspace;
    }
    off += align_up(workspace);
    return off;
}

size_t kcu_arena_size(const struct kern_model *m, uint32_t max_rows, size_t workspace_size)
{
    return arena_layout(m, max_rows, workspace_size, NULL);
}

static int cuda_probe(void)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        int rc = kcu_cuda_fail(e, "cudaGetDeviceCount(&n)", __FILE__, __LINE__);
        (void)cudaGetLastError(); /* not sticky; do not leave it for the next call */
        return rc == -ENOMEM ? -ENOMEM : -ENODEV;
    }
    if (n == 0)
        return kern_fail(-ENODEV, NULL, 0, "no CUDA device");
    int major = 0, minor = 0;
    CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0));
    CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, 0));
    if (major * 10 + minor < KCU_MIN_ARCH)
        return kern_fail(-ENODEV, NULL, 0,
                         "device 0 is sm_%d%d; this build has code for sm_%d and newer "
                         "(meson -Dgpu_arch)",
                         major, minor, KCU_MIN_ARCH);
    return 0;
}

static int ctx_init(struct kcu_ctx *c, const struct kern_backend_config *cfg)
{
    int n = 0;
    CUDA_CHECK(cudaGetDeviceCount(&n));
    if (cfg->device < 0 || cfg->device >= n)
        return kern_fail(-ENODEV, NULL, 0, "CUDA device %d does not exist (%d found)", cfg->device,
                         n);
    c->device = cfg->device;
    c->allow_tf32 = cfg->allow_tf32;
    c->warmup = !cfg->no_warmup;
    /* Since CUDA 12, cudaSetDevice creates the primary context right away: the one context
     * of the process, made here and not on a batch's path. */
    CUDA_CHECK(cudaSetDevice(c->device));
    struct cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, c->device));
    c->cc = prop.major * 10 + prop.minor;
    c->total_mem = prop.totalGlobalMem;
    snprintf(c->desc, sizeof c->desc, "%.100s (sm_%d%d, %.1f GiB)", prop.name, prop.major,
             prop.minor, (double)prop.totalGlobalMem / (double)(1u << 30));
    if (c->cc < KCU_MIN_ARCH)
        return kern_fail(-ENODEV, NULL, 0,
                         "%s: this build has code for sm_%d and newer (meson -Dgpu_arch)", c->desc,
                         KCU_MIN_ARCH);
    return 0;
}

static void *cuda_create(const struct kern_backend_config *cfg, char *errstr, size_t errstr_size)
{
    struct kcu_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        kern_fail(-ENOMEM, errstr, errstr_size, "out of memory");
        return NULL;
    }
    if (ctx_init(c, cfg)) {
        char why[512];
        snprintf(why, sizeof why, "%s", kern_last_error());
        kern_fail(-ENODEV, errstr, errstr_size, "CUDA backend: %s", why);
        free(c);
        return NULL;
    }
    return c;
}

static void cuda_destroy(void *ctx)
{
    /* The primary context stays: it belongs to the process, and other code (a second backend,
     * the tests) may still use it. */
    free(ctx);
}

static const char *cuda_device(void *ctx)
{
    return ((struct kcu_ctx *)ctx)->desc;
}

static bool cuda_supports(void *ctx, enum kern_cap cap)
{
    const struct kcu_ctx *c = ctx;
    switch (cap) {
    case KERN_CAP_F32:
    case KERN_CAP_F16:
    case KERN_CAP_ASYNC:
    case KERN_CAP_DEVICE_MEMORY: return true;
    case KERN_CAP_BF16:
    case KERN_CAP_TF32: return c->cc >= 80;
    }
    return false;
}

static int cuda_mem_info(void *ctx, size_t *free_bytes, size_t *total_bytes)
{
    const struct kcu_ctx *c = ctx;
    CUDA_CHECK(cudaSetDevice(c->device));
    CUDA_CHECK(cudaMemGetInfo(free_bytes, total_bytes));
    return 0;
}

static uint64_t cuda_load_size(void *ctx, const struct kern_model *m, uint32_t max_rows)
{
    return kcu_arena_size(m, max_rows, KCU_WORKSPACE_BYTES);
}

int kcu_enqueue_input(struct kcu_weights *w, uint32_t rows)
{
    const struct kcu_layer *l0 = &w->layers[0];
    size_t bytes = (size_t)rows * w->in_width * sizeof(float);
    if (l0->dt == KERN_DTYPE_F32) {
        CUDA_CHECK(
            cudaMemcpyAsync(w->act[0], w->in_stage, bytes, cudaMemcpyHostToDevice, w->stream));
        return 0;
    }
    CUDA_CHECK(cudaMemcpyAsync(w->act[1], w->in_stage, bytes, cudaMemcpyHostToDevice, w->stream));
    CUDA_CHECK(kcu_launch_bias_act(w->act[1], NULL, w->act[0], l0->dt, rows, w->in_width,
                                   KERN_ACT_NONE, w->stream));
    return 0;
}

int kcu_enqueue_layers(struct kcu_weights *w, uint32_t rows)
{
    for (uint32_t i = 0; i < w->n_layers; i++) {
        const struct kcu_layer *l = &w->layers[i];
        bool last = i + 1 == w->n_layers;
        int rc = kcu_gemm(w->blas, l->dt, w->ctx->allow_tf32, l->w, w->act[0], w->act[1], rows,
                          l->in, l->out);
        if (rc)
            return rc;
        void *dst = last ? w->act[1] : w->act[0];
        enum kern_dtype dt = last ? KERN_DTYPE_F32 : w->layers[i + 1].dt;
        CUDA_CHECK(
            kcu_launch_bias_act(w->act[1], l->bias, dst, dt, rows, l->out, l->act, w->stream));
    }
    if (w->final == KERN_FINAL_SOFTMAX)
        CUDA_CHECK(kcu_launch_softmax(w->act[1], rows, w->out_width, w->stream));
    return 0;
}

int kcu_enqueue_output(struct kcu_weights *w, uint32_t rows)
{
    CUDA_CHECK(cudaMemcpyAsync(w->out_stage, w->act[1], (size_t)rows * w->out_width * sizeof(float),
                               cudaMemcpyDeviceToHost, w->stream));
    return 0;
}

static int enqueue_all(struct kcu_weights *w, uint32_t rows)
{
    int rc = kcu_enqueue_input(w, rows);
    if (!rc)
        rc = kcu_enqueue_layers(w, rows);
    if (!rc)
        rc = kcu_enqueue_output(w, rows);
    return rc;
}

static void cuda_unload(void *ctx, void *impl)
{
    struct kcu_weights *w = impl;
    if (!w)
        return;
    const struct kcu_ctx *c = ctx;
    (void)cudaSetDevice(c->device);
    if (w->stream)
        (void)cudaStreamSynchronize(w->stream); /* nothing may still use what we free */
    kcu_blas_destroy(w->blas);
    kcu_stream_destroy(w->stream);
    kcu_dev_free(w->arena);
    kcu_host_free(w->in_stage);
    kcu_host_free(w->out_stage);
    free(w->bias_tmp);
    free(w->layers);
    free(w);
}

/* Weights go up as they are (same bytes, little-endian), one layer per call, on the handle's
 * stream; biases are widened to f32 on the host first (bias_tmp), the dtype the epilogue adds
 * them in. Each layer waits for its copies before returning: the contract lets the caller
 * change or free the layer's bytes as soon as load_layer returns (the worker's blob is freed by
 * the store when a later chunk fails verification, before the handle is freed), a copy from
 * pinned memory would still be reading them otherwise, and bias_tmp is reused by the next
 * layer. The weights are copied straight from the caller's (pageable) memory, not through
 * pinned staging buffers of our own: the driver stages pageable copies itself. */
static int upload_layer(struct kcu_weights *w, const struct kern_model *m, uint32_t i)
{
    const struct kern_layer *l = &m->layers[i];
    size_t bytes = (size_t)l->out_width * l->in_width * kern_dtype_size(l->weight_dtype);
    CUDA_CHECK(cudaMemcpyAsync((void *)w->layers[i].w, l->weight, bytes, cudaMemcpyHostToDevice,
                               w->stream));
    if (l->bias) {
        kern_to_f32(l->bias_dtype, l->bias, w->bias_tmp, l->out_width);
        CUDA_CHECK(cudaMemcpyAsync((void *)w->layers[i].bias, w->bias_tmp,
                                   (size_t)l->out_width * sizeof *w->bias_tmp,
                                   cudaMemcpyHostToDevice, w->stream));
    }
    CUDA_CHECK(cudaStreamSynchronize(w->stream));
    return 0;
}

/* One forward pass at each end of the batch range, on zeros, so that lazily loaded kernels
 * (ours and cuBLAS's for these shapes) load now and not on the first request. */
static int warm_up(struct kcu_weights *w)
{
    uint32_t sizes[2] = {1, w->max_rows};
    for (int k = 0; k < 2; k++) {
        int rc = enqueue_all(w, sizes[k]);
        if (rc)
            return rc;
    }
    CUDA_CHECK(cudaStreamSynchronize(w->stream));
    return 0;
}

static int cuda_load_begin(void *ctx, const struct kern_model *m, uint32_t max_rows, void **impl,
                           char *errstr, size_t errstr_size)
{
    struct kcu_ctx *c = ctx;
    int rc = -ENOMEM;
    struct kcu_weights *w = calloc(1, sizeof *w);
    if (!w || !(w->layers = calloc(m->n_layers, sizeof *w->layers))) {
        kern_fail(rc, NULL, 0, "out of memory");
        goto fail;
    }
    w->ctx = c;
    w->n_layers = m->n_layers;
    w->final = m->final;
    w->max_rows = max_rows;
    w->in_width = m->input_width;
    w->out_width = kern_model_output_width(m);
    w->max_width = kern_model_max_width(m);
    for (uint32_t i = 0; i < m->n_layers; i++) {
        w->layers[i].in = m->layers[i].in_width;
        w->layers[i].out = m->layers[i].out_width;
        w->layers[i].dt = m->layers[i].weight_dtype;
        w->layers[i].act = m->layers[i].act;
    }

    CUDA_CHECK_GOTO(rc, cudaSetDevice(c->device), fail);
    if ((rc = kcu_stream_create(&w->stream)) || (rc = kcu_blas_create(&w->blas)))
        goto fail;
    /* SetStream first: it resets the workspace to cuBLAS's own pool. */
    CUBLAS_CHECK_GOTO(rc, cublasSetStream(w->blas, w->stream), fail);

    w->arena_size = kcu_arena_size(m, max_rows, KCU_WORKSPACE_BYTES);
    if ((rc = kcu_dev_alloc(&w->arena, w->arena_size)))
        goto fail;
    arena_layout(m, max_rows, KCU_WORKSPACE_BYTES, w);
    /* Our workspace: cuBLAS then never allocates one of its own during a GEMM. */
    CUBLAS_CHECK_GOTO(rc, cublasSetWorkspace(w->blas, w->workspace, w->workspace_size), fail);
    CUBLAS_CHECK_GOTO(rc, cublasSetMathMode(w->blas, CUBLAS_DEFAULT_MATH), fail);

    size_t in_bytes = (size_t)max_rows * w->in_width * sizeof(float);
    size_t out_bytes = (size_t)max_rows * w->out_width * sizeof(float);
    void *in_stage = NULL, *out_stage = NULL;
    rc = kcu_host_alloc(&in_stage, in_bytes);
    w->in_stage = in_stage;
    if (rc || (rc = kcu_host_alloc(&out_stage, out_bytes)))
        goto fail;
    w->out_stage = out_stage;
    memset(w->in_stage, 0, in_bytes);
    memset(w->out_stage, 0, out_bytes);

    uint32_t widest = 0;
    for (uint32_t i = 0; i < m->n_layers; i++)
        if (m->layers[i].bias && m->layers[i].out_width > widest)
            widest = m->layers[i].out_width;
    if (widest && !(w->bias_tmp = malloc((size_t)widest * sizeof *w->bias_tmp))) {
        rc = kern_fail(-ENOMEM, NULL, 0, "out of memory");
        goto fail;
    }
    *impl = w;
    return 0;

fail:;
    char why[512];
    snprintf(why, sizeof why, "%s", kern_last_error());
    kern_fail(rc, errstr, errstr_size, "CUDA backend: loading %u layers for %u rows (%.1f MiB): %s",
              m->n_layers, max_rows, w ? (double)w->arena_size / (1 << 20) : 0.0, why);
    cuda_unload(ctx, w);
    return rc;
}

static int cuda_load_layer(void *ctx, void *impl, const struct kern_model *m, uint32_t i,
                           char *errstr, size_t errstr_size)
{
    const struct kcu_ctx *c = ctx;
    struct kcu_weights *w = impl;
    int rc;
    CUDA_CHECK_GOTO(rc, cudaSetDevice(c->device), fail); /* the caller may be any thread */
    if ((rc = upload_layer(w, m, i)))
        goto fail;
    return 0;
fail:;
    char why[512];
    snprintf(why, sizeof why, "%s", kern_last_error());
    return kern_fail(rc, errstr, errstr_size, "CUDA backend: uploading layer %u: %s", i, why);
}

static int cuda_load_end(void *ctx, void *impl, char *errstr, size_t errstr_size)
{
    const struct kcu_ctx *c = ctx;
    struct kcu_weights *w = impl;
    int rc;
    CUDA_CHECK_GOTO(rc, cudaSetDevice(c->device), fail);
    CUDA_CHECK_GOTO(rc, cudaStreamSynchronize(w->stream), fail);
    free(w->bias_tmp);
    w->bias_tmp = NULL;
    if (c->warmup && (rc = warm_up(w)))
        goto fail;
    return 0;
fail:;
    char why[512];
    snprintf(why, sizeof why, "%s", kern_last_error());
    return kern_fail(rc, errstr, errstr_size, "CUDA backend: finishing the load: %s", why);
}

static void cuda_io(void *ctx, void *impl, float **in, float **out)
{
    struct kcu_weights *w = impl;
    *in = w->in_stage;
    *out = w->out_stage;
}

static int cuda_run(void *ctx, void *impl, const float *in, uint32_t rows, float *out)
{
    const struct kcu_ctx *c = ctx;
    struct kcu_weights *w = impl;
    CUDA_CHECK(cudaSetDevice(c->device)); /* per thread: the caller may be any thread */
    if (in != w->in_stage)
        memcpy(w->in_stage, in, (size_t)rows * w->in_width * sizeof(float));
    int rc = enqueue_all(w, rows);
    if (rc)
        return rc;
    w->pending_out = out;
    w->pending_rows = rows;
    return 0;
}

static int cuda_sync(void *ctx, void *impl)
{
    struct kcu_weights *w = impl;
    CUDA_CHECK(cudaStreamSynchronize(w->stream));
    if (w->pending_out && w->pending_out != w->out_stage)
        memcpy(w->pending_out, w->out_stage,
               (size_t)w->pending_rows * w->out_width * sizeof(float));
    w->pending_out = NULL;
    return 0;
}

const struct kern_backend_i kern_backend_cuda_i = {
    .name = "cuda",
    .probe = cuda_probe,
    .create = cuda_create,
    .destroy = cuda_destroy,
    .device = cuda_device,
    .supports = cuda_supports,
    .mem_info = cuda_mem_info,
    .load_size = cuda_load_size,
    .load_begin = cuda_load_begin,
    .load_layer = cuda_load_layer,
    .load_end = cuda_load_end,
    .unload = cuda_unload,
    .io = cuda_io,
    .run = cuda_run,
    .sync = cuda_sync,
};
