/* The reference backend: plain C on the host. It is the definition of what a model computes
 * (golden vectors are made with it), the CPU fallback where there is no GPU, and the other
 * side of every CUDA differential test.
 *
 * Weights are widened to f32 and packed once at load (twice the memory of bf16, but the GEMM
 * then has one inner loop for every dtype). Activations that feed an f16/bf16 layer are
 * rounded to that dtype in the previous layer's epilogue, as the model contract says. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kernels/kern_backend_impl.h"
#include "kernels/kern_dtype.h"
#include "kernels/kref.h"

/* Below this many multiply-adds per thread a layer is not worth waking the pool for. */
#define MIN_WORK_PER_THREAD (1u << 17)

struct ref_ctx {
    struct kref_pool *pool;
    char device[64];
};

struct ref_layer {
    float *packed; /* kref_packed_floats(out, in) */
    float *bias;   /* out floats, or NULL */
    uint32_t in, out;
    enum kern_act act;
    enum kern_dtype dt; /* weight dtype: this layer's input is rounded to it */
};

struct ref_weights {
    struct ref_layer *layers;
    uint32_t n_layers;
    enum kern_final final;
    uint32_t max_rows, in_width, out_width, max_width;
    float *in_stage, *out_stage; /* kern_weights_io() */
    float *act[2];               /* ping-pong activations, max_rows · max_width */
};

/* One layer as a pool job: each thread owns a contiguous range of panels (output columns)
 * for every row, GEMM and epilogue, so threads write disjoint elements and each streams its
 * own share of the weights (what matters for a batch of one row). */
struct layer_job {
    const struct ref_layer *l;
    const float *x;
    float *y;
    uint32_t rows;
    enum kern_dtype out_dt;
};

static void layer_job_fn(void *p, unsigned tid, unsigned nthreads)
{
    const struct layer_job *j = p;
    uint32_t panels = kref_panels(j->l->out);
    uint32_t p0 = (uint32_t)((uint64_t)panels * tid / nthreads);
    uint32_t p1 = (uint32_t)((uint64_t)panels * (tid + 1) / nthreads);
    if (p0 == p1)
        return;
    kref_gemm_packed(j->x, j->rows, j->l->in, j->l->packed, j->l->out, p0, p1, j->y);
    uint32_t c1 = p1 * KREF_NR < j->l->out ? p1 * KREF_NR : j->l->out;
    kref_bias_act(j->y, j->rows, j->l->out, p0 * KREF_NR, c1, j->l->bias, j->l->act, j->out_dt);
}

struct softmax_job {
    float *y;
    uint32_t rows, n;
};

static void softmax_job_fn(void *p, unsigned tid, unsigned nthreads)
{
    const struct softmax_job *j = p;
    uint32_t r0 = (uint32_t)((uint64_t)j->rows * tid / nthreads);
    uint32_t r1 = (uint32_t)((uint64_t)j->rows * (tid + 1) / nthreads);
    kref_softmax(j->y, r0, r1, j->n);
}

static unsigned threads_for(const struct ref_ctx *c, uint64_t work, uint64_t max_split)
{
    uint64_t t = work / MIN_WORK_PER_THREAD;
    if (t > kref_pool_threads(c->pool))
        t = kref_pool_threads(c->pool);
    if (t > max_split)
        t = max_split;
    return t ? (unsigned)t : 1u;
}

static int ref_probe(void)
{
    return 0;
}

static void *ref_create(const struct kern_backend_config *cfg, char *errstr, size_t errstr_size)
{
    struct ref_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        kern_fail(-ENOMEM, errstr, errstr_size, "out of memory");
        return NULL;
    }
    char why[128] = "";
    c->pool = kref_pool_new(cfg->threads, why, sizeof why);
    if (!c->pool) {
        kern_fail(-ENOMEM, errstr, errstr_size, "reference backend: %s", why);
        free(c);
        return NULL;
    }
    snprintf(c->device, sizeof c->device, "host CPU, %u threads", kref_pool_threads(c->pool));
    return c;
}

static void ref_destroy(void *ctx)
{
    struct ref_ctx *c = ctx;
    kref_pool_free(c->pool);
    free(c);
}

static const char *ref_device(void *ctx)
{
    return ((struct ref_ctx *)ctx)->device;
}

static bool ref_supports(void *ctx, enum kern_cap cap)
{
    switch (cap) {
    case KERN_CAP_F32:
    case KERN_CAP_F16:
    case KERN_CAP_BF16: return true;
    case KERN_CAP_TF32:
    case KERN_CAP_ASYNC:
    case KERN_CAP_DEVICE_MEMORY: return false;
    }
    return false;
}

static int ref_mem_info(void *ctx, size_t *free_bytes, size_t *total_bytes)
{
    long page = sysconf(_SC_PAGESIZE), avail = sysconf(_SC_AVPHYS_PAGES),
         total = sysconf(_SC_PHYS_PAGES);
    *free_bytes = page > 0 && avail > 0 ? (size_t)page * (size_t)avail : 0;
    *total_bytes = page > 0 && total > 0 ? (size_t)page * (size_t)total : 0;
    return 0;
}

static uint64_t ref_load_size(void *ctx, const struct kern_model *m, uint32_t max_rows)
{
    uint64_t floats = 0;
    for (uint32_t i = 0; i < m->n_layers; i++) {
        floats += kref_packed_floats(m->layers[i].out_width, m->layers[i].in_width);
        floats += m->layers[i].bias ? m->layers[i].out_width : 0;
    }
    floats += (uint64_t)max_rows * m->input_width + (uint64_t)max_rows * kern_model_output_width(m);
    floats += 2u * (uint64_t)max_rows * kern_model_max_width(m);
    return floats * sizeof(float);
}

/* Sizes here come from the model (input): checked, and failure is -ENOMEM, not abort. Large
 * buffers (the packed weights) go on transparent huge pages where the kernel allows it (THP
 * "madvise" mode), as the worker's blob does: the load first-touches every page, and 4 KiB
 * pages cost several times the page faults of 2 MiB ones. */
static float *alloc_floats(uint64_t n)
{
    const size_t huge = (size_t)2 << 20;
    if (n == 0 || n > SIZE_MAX / sizeof(float) - huge)
        return NULL;
    size_t bytes = ((size_t)n * sizeof(float) + 63) & ~(size_t)63;
    if (bytes < huge)
        return aligned_alloc(64, bytes);
    void *p = NULL;
    if (posix_memalign(&p, huge, bytes))
        return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE); /* advice only: failure is harmless */
#endif
    return p;
}

static void ref_unload(void *ctx, void *impl)
{
    struct ref_weights *w = impl;
    if (!w)
        return;
    for (uint32_t i = 0; w->layers && i < w->n_layers; i++) {
        free(w->layers[i].packed);
        free(w->layers[i].bias);
    }
    free(w->layers);
    free(w->in_stage);
    free(w->out_stage);
    free(w->act[0]);
    free(w->act[1]);
    free(w);
}

/* Everything is allocated here, the packed panels included, so that a layer load only packs. */
static int ref_load_begin(void *ctx, const struct kern_model *m, uint32_t max_rows, void **impl,
                          char *errstr, size_t errstr_size)
{
    struct ref_weights *w = calloc(1, sizeof *w);
    if (!w)
        goto oom;
    w->layers = calloc(m->n_layers, sizeof *w->layers);
    if (!w->layers)
        goto oom;
    w->n_layers = m->n_layers;
    w->final = m->final;
    w->max_rows = max_rows;
    w->in_width = m->input_width;
    w->out_width = kern_model_output_width(m);
    w->max_width = kern_model_max_width(m);
    for (uint32_t i = 0; i < m->n_layers; i++) {
        const struct kern_layer *ml = &m->layers[i];
        struct ref_layer *l = &w->layers[i];
        l->in = ml->in_width;
        l->out = ml->out_width;
        l->act = ml->act;
        l->dt = ml->weight_dtype;
        l->packed = alloc_floats(kref_packed_floats(l->out, l->in));
        if (!l->packed)
            goto oom;
        if (ml->bias && !(l->bias = alloc_floats(l->out)))
            goto oom;
    }
    w->in_stage = alloc_floats((uint64_t)max_rows * w->in_width);
    w->out_stage = alloc_floats((uint64_t)max_rows * w->out_width);
    w->act[0] = alloc_floats((uint64_t)max_rows * w->max_width);
    w->act[1] = alloc_floats((uint64_t)max_rows * w->max_width);
    if (!w->in_stage || !w->out_stage || !w->act[0] || !w->act[1])
        goto oom;
    *impl = w;
    return 0;

oom:
    ref_unload(ctx, w);
    return kern_fail(-ENOMEM, errstr, errstr_size,
                     "reference backend: out of memory loading %u layers for %u rows", m->n_layers,
                     max_rows);
}

static int ref_load_layer(void *ctx, void *impl, const struct kern_model *m, uint32_t i,
                          char *errstr, size_t errstr_size)
{
    struct ref_weights *w = impl;
    const struct kern_layer *ml = &m->layers[i];
    struct ref_layer *l = &w->layers[i];
    kref_pack(ml->weight, ml->weight_dtype, l->out, l->in, l->packed);
    if (ml->bias)
        kern_to_f32(ml->bias_dtype, ml->bias, l->bias, l->out);
    return 0;
}

static void ref_io(void *ctx, void *impl, float **in, float **out)
{
    struct ref_weights *w = impl;
    *in = w->in_stage;
    *out = w->out_stage;
}

static int ref_run(void *ctx, void *impl, const float *in, uint32_t rows, float *out)
{
    struct ref_ctx *c = ctx;
    struct ref_weights *w = impl;
    const float *x = in;
    /* The first layer's input is rounded to its dtype like every other layer's. */
    if (w->layers[0].dt != KERN_DTYPE_F32) {
        kref_round(w->layers[0].dt, in, w->act[0], (size_t)rows * w->in_width);
        x = w->act[0];
    }
    for (uint32_t i = 0; i < w->n_layers; i++) {
        const struct ref_layer *l = &w->layers[i];
        bool last = i + 1 == w->n_layers;
        /* The last layer writes straight into out; the others alternate between act[0] and
         * act[1], never writing the buffer they read. */
        float *y = last ? out : (x == w->act[0] ? w->act[1] : w->act[0]);
        struct layer_job j = {
            .l = l,
            .x = x,
            .y = y,
            .rows = rows,
            .out_dt = last ? KERN_DTYPE_F32 : w->layers[i + 1].dt,
        };
        uint64_t work = (uint64_t)rows * l->in * l->out;
        kref_pool_run(c->pool, layer_job_fn, &j, threads_for(c, work, kref_panels(l->out)));
        x = y;
    }
    if (w->final == KERN_FINAL_SOFTMAX) {
        struct softmax_job j = {.y = out, .rows = rows, .n = w->out_width};
        kref_pool_run(c->pool, softmax_job_fn, &j,
                      threads_for(c, (uint64_t)rows * w->out_width * 16, rows));
    }
    return 0;
}

const struct kern_backend_i kern_backend_ref_i = {
    .name = "ref",
    .probe = ref_probe,
    .create = ref_create,
    .destroy = ref_destroy,
    .device = ref_device,
    .supports = ref_supports,
    .mem_info = ref_mem_info,
    .load_size = ref_load_size,
    .load_begin = ref_load_begin,
    .load_layer = ref_load_layer,
    .load_end = NULL, /* packing is synchronous */
    .unload = ref_unload,
    .io = ref_io,
    .run = ref_run,
    .sync = NULL, /* run() is synchronous */
};
