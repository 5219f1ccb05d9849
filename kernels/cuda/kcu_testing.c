/* Test and benchmark hooks (kcu_testing.h). Each operation runs alone on data the caller
 * provides, with the caller's guard elements travelling to the device and back, so that the
 * gpu suite can compare every kernel with its reference and catch stray writes. Timings use
 * CUDA events, enqueued for all repetitions before waiting, so that the device runs them
 * back to back and the host's launch overhead is hidden as it is in a busy worker. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/kcu.h"
#include "kernels/cuda/kcu_testing.h"
#include "kernels/kern_dtype.h"

#ifndef KCU_MIN_ARCH
#define KCU_MIN_ARCH 90
#endif

int kcu_test_init(int device)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        kcu_cuda_fail(e, "cudaGetDeviceCount(&n)", __FILE__, __LINE__);
        (void)cudaGetLastError();
        return -ENODEV;
    }
    if (device >= n)
        return kern_fail(-ENODEV, NULL, 0, "CUDA device %d does not exist (%d found)", device, n);
    CUDA_CHECK(cudaSetDevice(device));
    int major = 0, minor = 0;
    CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
    CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
    if (major * 10 + minor < KCU_MIN_ARCH)
        return kern_fail(-ENODEV, NULL, 0, "device is sm_%d%d, this build targets sm_%d+", major,
                         minor, KCU_MIN_ARCH);
    return 0;
}

int kcu_test_gemm(enum kern_dtype dt, bool tf32, const void *w, const float *x, float *y,
                  uint32_t rows, uint32_t k, uint32_t n, size_t guard)
{
    int rc = 0;
    size_t es = kern_dtype_size(dt);
    size_t ybytes = ((size_t)rows * n + 2 * guard) * sizeof(float);
    void *xh = malloc((size_t)rows * k * es);
    void *dw = NULL, *dx = NULL, *dy = NULL;
    cublasHandle_t h = NULL;
    if (!xh)
        return kern_fail(-ENOMEM, NULL, 0, "out of memory");
    kern_from_f32(dt, x, xh, (size_t)rows * k);
    if ((rc = kcu_dev_alloc(&dw, (size_t)n * k * es)) ||
        (rc = kcu_dev_alloc(&dx, (size_t)rows * k * es)) || (rc = kcu_dev_alloc(&dy, ybytes)) ||
        (rc = kcu_blas_create(&h)))
        goto out;
    CUDA_CHECK_GOTO(rc, cudaMemcpy(dw, w, (size_t)n * k * es, cudaMemcpyHostToDevice), out);
    CUDA_CHECK_GOTO(rc, cudaMemcpy(dx, xh, (size_t)rows * k * es, cudaMemcpyHostToDevice), out);
    CUDA_CHECK_GOTO(rc, cudaMemcpy(dy, y, ybytes, cudaMemcpyHostToDevice), out);
    if ((rc = kcu_gemm(h, dt, tf32, dw, dx, (float *)dy + guard, rows, k, n)))
        goto out;
    CUDA_CHECK_GOTO(rc, cudaDeviceSynchronize(), out);
    CUDA_CHECK_GOTO(rc, cudaMemcpy(y, dy, ybytes, cudaMemcpyDeviceToHost), out);
out:
    kcu_blas_destroy(h);
    kcu_dev_free(dy);
    kcu_dev_free(dx);
    kcu_dev_free(dw);
    free(xh);
    return rc;
}

int kcu_test_bias_act(const float *y, const float *bias, enum kern_act act, enum kern_dtype out_dt,
                      void *out, uint32_t rows, uint32_t n, size_t guard)
{
    int rc = 0;
    size_t es = kern_dtype_size(out_dt);
    size_t obytes = ((size_t)rows * n + 2 * guard) * es;
    void *dy = NULL, *db = NULL, *dout = NULL;
    if ((rc = kcu_dev_alloc(&dy, (size_t)rows * n * sizeof(float))) ||
        (bias && (rc = kcu_dev_alloc(&db, (size_t)n * sizeof(float)))) ||
        (rc = kcu_dev_alloc(&dout, obytes)))
        goto out;
    CUDA_CHECK_GOTO(rc, cudaMemcpy(dy, y, (size_t)rows * n * sizeof(float), cudaMemcpyHostToDevice),
                    out);
    if (bias)
        CUDA_CHECK_GOTO(rc, cudaMemcpy(db, bias, (size_t)n * sizeof(float), cudaMemcpyHostToDevice),
                        out);
    CUDA_CHECK_GOTO(rc, cudaMemcpy(dout, out, obytes, cudaMemcpyHostToDevice), out);
    CUDA_CHECK_GOTO(
        rc, kcu_launch_bias_act(dy, db, (char *)dout + guard * es, out_dt, rows, n, act, 0), out);
    CUDA_CHECK_GOTO(rc, cudaDeviceSynchronize(), out);
    CUDA_CHECK_GOTO(rc, cudaMemcpy(out, dout, obytes, cudaMemcpyDeviceToHost), out);
out:
    kcu_dev_free(dout);
    kcu_dev_free(db);
    kcu_dev_free(dy);
    return rc;
}

int kcu_test_softmax(const float *x, float *y, uint32_t rows, uint32_t n, size_t guard)
{
    int rc = 0;
    size_t ybytes = ((size_t)rows * n + 2 * guard) * sizeof(float);
    void *dy = NULL;
    if ((rc = kcu_dev_alloc(&dy, ybytes)))
        return rc;
    float *inner = (float *)dy + guard;
    CUDA_CHECK_GOTO(rc, cudaMemcpy(dy, y, ybytes, cudaMemcpyHostToDevice), out);
    CUDA_CHECK_GOTO(
        rc, cudaMemcpy(inner, x, (size_t)rows * n * sizeof(float), cudaMemcpyHostToDevice), out);
    CUDA_CHECK_GOTO(rc, kcu_launch_softmax(inner, rows, n, 0), out);
    CUDA_CHECK_GOTO(rc, cudaDeviceSynchronize(), out);
    CUDA_CHECK_GOTO(rc, cudaMemcpy(y, dy, ybytes, cudaMemcpyDeviceToHost), out);
out:
    kcu_dev_free(dy);
    return rc;
}

/* ---- timing ---- */

typedef int (*bench_fn)(void *arg, cudaStream_t s);

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Three untimed runs, then `reps` runs each between two events, all enqueued before the
 * first wait. */
static int time_reps(cudaStream_t s, unsigned reps, bench_fn fn, void *arg, struct kcu_timing *t)
{
    int rc = 0;
    if (reps == 0)
        reps = 1;
    cudaEvent_t *ev = calloc(2 * (size_t)reps, sizeof *ev);
    double *ms = calloc(reps, sizeof *ms);
    if (!ev || !ms) {
        rc = kern_fail(-ENOMEM, NULL, 0, "out of memory");
        goto out;
    }
    for (unsigned i = 0; i < 2 * reps; i++)
        if ((rc = kcu_event_create(&ev[i])))
            goto out;
    for (int i = 0; i < 3; i++)
        if ((rc = fn(arg, s)))
            goto out;
    for (unsigned i = 0; i < reps; i++) {
        CUDA_CHECK_GOTO(rc, cudaEventRecord(ev[2 * i], s), out);
        if ((rc = fn(arg, s)))
            goto out;
        CUDA_CHECK_GOTO(rc, cudaEventRecord(ev[2 * i + 1], s), out);
    }
    CUDA_CHECK_GOTO(rc, cudaStreamSynchronize(s), out);
    for (unsigned i = 0; i < reps; i++) {
        float f = 0.0f;
        CUDA_CHECK_GOTO(rc, cudaEventElapsedTime(&f, ev[2 * i], ev[2 * i + 1]), out);
        ms[i] = (double)f;
    }
    qsort(ms, reps, sizeof *ms, cmp_double);
    t->reps = reps;
    t->min_ms = ms[0];
    t->max_ms = ms[reps - 1];
    t->median_ms = reps % 2 ? ms[reps / 2] : 0.5 * (ms[reps / 2 - 1] + ms[reps / 2]);
out:
    for (unsigned i = 0; ev && i < 2 * reps; i++)
        kcu_event_destroy(ev[i]);
    free(ev);
    free(ms);
    return rc;
}

/* Uniform(-1, 1) values in dtype dt on the device (xorshift on the host; the data only has to
 * be non-trivial, never zeros: tensor cores are measurably faster on zeros). */
static int fill_random(void *dev, enum kern_dtype dt, size_t n, uint64_t seed)
{
    size_t es = kern_dtype_size(dt);
    size_t chunk = (size_t)1 << 22;
    float *f = malloc(chunk * sizeof *f);
    void *b = malloc(chunk * es);
    int rc = 0;
    if (!f || !b) {
        rc = kern_fail(-ENOMEM, NULL, 0, "out of memory");
        goto out;
    }
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t off = 0; off < n; off += chunk) {
        size_t m = n - off < chunk ? n - off : chunk;
        for (size_t i = 0; i < m; i++) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            f[i] = (float)((double)(s >> 11) * 0x1p-52 - 1.0);
        }
        kern_from_f32(dt, f, b, m);
        CUDA_CHECK_GOTO(rc, cudaMemcpy((char *)dev + off * es, b, m * es, cudaMemcpyHostToDevice),
                        out);
    }
    /* A copy from pageable memory may return before its DMA is done, and the timed work runs
     * on a non-blocking stream. */
    CUDA_CHECK_GOTO(rc, cudaDeviceSynchronize(), out);
out:
    free(f);
    free(b);
    return rc;
}

struct gemm_arg {
    cublasHandle_t h;
    enum kern_dtype dt;
    bool tf32;
    void *w, *x, *y;
    uint32_t m, n, k;
};

static int gemm_fn(void *p, cudaStream_t s)
{
    struct gemm_arg *a = p;
    return kcu_gemm(a->h, a->dt, a->tf32, a->w, a->x, a->y, a->m, a->k, a->n);
}

int kcu_bench_gemm(enum kern_dtype dt, bool tf32, uint32_t m, uint32_t n, uint32_t k, unsigned reps,
                   struct kcu_timing *t)
{
    int rc = 0;
    size_t es = kern_dtype_size(dt);
    struct gemm_arg a = {.dt = dt, .tf32 = tf32, .m = m, .n = n, .k = k};
    cudaStream_t s = NULL;
    void *ws = NULL;
    if ((rc = kcu_stream_create(&s)) || (rc = kcu_blas_create(&a.h)) ||
        (rc = kcu_dev_alloc(&a.w, (size_t)n * k * es)) ||
        (rc = kcu_dev_alloc(&a.x, (size_t)m * k * es)) ||
        (rc = kcu_dev_alloc(&a.y, (size_t)m * n * sizeof(float))) ||
        (rc = kcu_dev_alloc(&ws, KCU_WORKSPACE_BYTES)))
        goto out;
    CUBLAS_CHECK_GOTO(rc, cublasSetStream(a.h, s), out);
    CUBLAS_CHECK_GOTO(rc, cublasSetWorkspace(a.h, ws, KCU_WORKSPACE_BYTES), out);
    if ((rc = fill_random(a.w, dt, (size_t)n * k, 1)) ||
        (rc = fill_random(a.x, dt, (size_t)m * k, 2)))
        goto out;
    rc = time_reps(s, reps, gemm_fn, &a, t);
out:
    if (s)
        (void)cudaStreamSynchronize(s);
    kcu_dev_free(ws);
    kcu_dev_free(a.y);
    kcu_dev_free(a.x);
    kcu_dev_free(a.w);
    kcu_blas_destroy(a.h);
    kcu_stream_destroy(s);
    return rc;
}

struct copy_arg {
    void *dst, *src;
    size_t bytes;
};

static int copy_fn(void *p, cudaStream_t s)
{
    struct copy_arg *a = p;
    CUDA_CHECK(cudaMemcpyAsync(a->dst, a->src, a->bytes, cudaMemcpyDeviceToDevice, s));
    return 0;
}

int kcu_bench_copy(size_t bytes, unsigned reps, struct kcu_timing *t)
{
    int rc = 0;
    struct copy_arg a = {.bytes = bytes};
    cudaStream_t s = NULL;
    if ((rc = kcu_stream_create(&s)) || (rc = kcu_dev_alloc(&a.src, bytes)) ||
        (rc = kcu_dev_alloc(&a.dst, bytes)))
        goto out;
    if ((rc = fill_random(a.src, KERN_DTYPE_F32, bytes / sizeof(float), 3)))
        goto out;
    rc = time_reps(s, reps, copy_fn, &a, t);
out:
    if (s)
        (void)cudaStreamSynchronize(s);
    kcu_dev_free(a.dst);
    kcu_dev_free(a.src);
    kcu_stream_destroy(s);
    return rc;
}

struct forward_arg {
    struct kcu_weights *w;
    uint32_t rows;
};

static int forward_fn(void *p, cudaStream_t s)
{
    struct forward_arg *a = p;
    return kcu_enqueue_layers(a->w, a->rows);
}

int kcu_bench_forward(struct kern_backend *be, struct kern_weights *w, uint32_t rows, unsigned reps,
                      struct kcu_timing *t)
{
    if (!be || !w || strcmp(kern_backend_name(be), "cuda") != 0)
        return kern_fail(-EINVAL, NULL, 0, "kcu_bench_forward: needs a cuda backend's handle");
    if (rows == 0 || rows > kern_weights_max_rows(w))
        return kern_fail(-EINVAL, NULL, 0, "kcu_bench_forward: %u rows out of range", rows);
    struct forward_arg a = {.w = kern_weights_impl(w), .rows = rows};
    CUDA_CHECK(cudaSetDevice(a.w->ctx->device));
    return time_reps(a.w->stream, reps, forward_fn, &a, t);
}
