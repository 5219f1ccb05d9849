/* gpu suite: the CUDA backend end to end against the reference backend (the same models, the
 * same inputs, both ways through the public API), and the promise that a batch allocates
 * nothing: a 4-layer, 4096-wide bf16 model at batch 512, with the backend's allocator counted
 * around kern_run()/kern_sync(). Exits 77 where there is no usable GPU. */
#include <errno.h>
#include <pthread.h>

#include "kernels/cuda/kcu_testing.h"
#include "kernels/kern_backend.h"
#include "kt_kern.h"

/* Tolerance, CUDA against the reference, as a fraction of the row's error scale (see
 * kt_forward_double()). f32: summation order only. TF32: inputs
 * rounded to 10-bit mantissas. f16/bf16: products exact on both sides, but an activation that
 * the two sides compute a few f32 ulp apart can round to neighbouring f16/bf16 values before
 * the next layer. */
static double e2e_tol(enum kern_dtype dt, bool tf32)
{
    switch (dt) {
    case KERN_DTYPE_F16: return 2e-3;
    case KERN_DTYPE_BF16: return 5e-3;
    case KERN_DTYPE_F32:
    default: return tf32 ? 5e-3 : 5e-5;
    }
}

static struct kern_backend *backend(const char *name, bool tf32)
{
    char err[256];
    struct kern_backend_config cfg = {.allow_tf32 = tf32};
    struct kern_backend *be = kern_backend_new(name, &cfg, err, sizeof err);
    KT_ASSERT_MSG(be, "kern_backend_new(%s): %s", name, err);
    return be;
}

static float *forward(struct kern_backend *be, const struct kern_model *m, const float *x,
                      uint32_t rows, uint32_t max_rows)
{
    struct kern_weights *w;
    char err[256];
    int rc = kern_weights_load(be, m, max_rows, &w, err, sizeof err);
    KT_ASSERT_MSG(rc == 0, "load on %s: %d %s", kern_backend_name(be), rc, err);
    uint32_t n = kern_model_output_width(m);
    float *g = kt_guarded_new((size_t)rows * n, sizeof(float));
    rc = kern_forward(be, w, x, rows, kt_guarded_inner(g, sizeof(float)));
    KT_ASSERT_MSG(rc == 0, "forward on %s: %d %s", kern_backend_name(be), rc, kern_last_error());
    kt_guarded_check(kern_backend_name(be), g, (size_t)rows * n, sizeof(float));
    kern_weights_free(be, w);
    return g;
}

static void e2e_case(struct kern_backend *ref, struct kern_backend *cu, bool tf32,
                     enum kern_dtype dt, uint32_t n_layers, const uint32_t *widths, uint32_t rows,
                     bool specials)
{
    enum kern_act acts[8];
    for (uint32_t i = 0; i < n_layers; i++)
        acts[i] = (enum kern_act)kt_range(0, KERN_ACT_COUNT - 1);
    enum kern_final fin = kt_rand64() % 2 ? KERN_FINAL_SOFTMAX : KERN_FINAL_NONE;
    struct kt_model km;
    kt_model_make(&km, n_layers, widths, dt, acts, -1, fin);
    uint32_t in_w = widths[0], out_w = widths[n_layers];
    float *x = kt_rand_floats((size_t)rows * in_w, -2.0f, 2.0f);
    if (specials && rows >= 3) {
        x[(size_t)1 * in_w + kt_range(0, in_w - 1)] = NAN;
        x[(size_t)2 * in_w + kt_range(0, in_w - 1)] = kt_rand64() % 2 ? INFINITY : -INFINITY;
    }
    uint32_t max_rows = rows + kt_range(0, 5);
    float *want = forward(ref, &km.m, x, rows, max_rows);
    float *got = forward(cu, &km.m, x, rows, max_rows);
    /* The reference's output is the value to match; the double pass gives the scale of the
     * rounding errors that both sides are allowed. */
    double *wd = kt_malloc((size_t)rows * out_w * sizeof *wd);
    double *mag = kt_malloc((size_t)rows * out_w * sizeof *mag);
    kt_forward_double(&km.m, x, rows, wd, mag);
    const float *wi = kt_guarded_inner(want, sizeof(float));
    for (size_t i = 0; i < (size_t)rows * out_w; i++)
        wd[i] = (double)wi[i];
    char what[160];
    snprintf(what, sizeof what, "%u layers %u→…→%u %s%s, %u rows (max %u), final %s", n_layers,
             in_w, out_w, kern_dtype_str(dt), tf32 ? " tf32" : "", rows, max_rows,
             kern_final_str(fin));
    double e = kt_check_rows(what, kt_guarded_inner(got, sizeof(float)), wd, mag, rows, out_w,
                             e2e_tol(dt, tf32));
    printf("#   %s: max row error %.3g\n", what, e);
    free(mag);
    free(wd);
    free(got);
    free(want);
    free(x);
    kt_model_fini(&km);
}

static void test_end_to_end(void)
{
    struct kern_backend *ref = backend("ref", false);
    for (int t = 0; t < 2; t++) {
        struct kern_backend *cu = backend("cuda", t);
        printf("# cuda backend on %s, tf32 %s\n", kern_backend_device(cu), t ? "on" : "off");
        for (int i = 0; i < 12; i++) {
            uint32_t n = kt_range(1, 4), widths[5];
            for (uint32_t k = 0; k <= n; k++)
                widths[k] = kt_odd(1, 777);
            e2e_case(ref, cu, t, (enum kern_dtype)(i % KERN_DTYPE_COUNT), n, widths, kt_odd(1, 131),
                     i % 3 == 2);
        }
        uint32_t big[4] = {kt_odd(1500, 2100), kt_odd(1500, 2100), kt_odd(500, 700), 11};
        for (int dt = 0; dt < KERN_DTYPE_COUNT; dt++)
            e2e_case(ref, cu, t, (enum kern_dtype)dt, 3, big, kt_odd(200, 300), true);
        kern_backend_free(cu);
    }
    kern_backend_free(ref);
}

/* The acceptance test of issue 4: nothing allocated on the run path. */
static void test_no_alloc_on_run_path(void)
{
    enum { L = 4, W = 4096, ROWS = 512 };
    const uint32_t widths[L + 1] = {W, W, W, W, W};
    const enum kern_act acts[L] = {KERN_ACT_GELU, KERN_ACT_RELU, KERN_ACT_TANH, KERN_ACT_NONE};
    struct kt_model km;
    kt_model_make(&km, L, widths, KERN_DTYPE_BF16, acts, 1, KERN_FINAL_SOFTMAX);
    struct kern_backend *cu = backend("cuda", false);
    struct kern_weights *w;
    char err[256];
    KT_ASSERT_MSG(kern_weights_load(cu, &km.m, ROWS, &w, err, sizeof err) == 0, "%s", err);
    float *x = kt_rand_floats((size_t)ROWS * W, -1.0f, 1.0f);
    float *y = kt_malloc((size_t)ROWS * W * sizeof *y);
    float *in, *out;
    kern_weights_io(w, &in, &out);

    /* One batch of each shape first: cuBLAS may load a kernel lazily the first time it meets
     * a shape (the driver's doing, not an allocation of ours), which the device-memory check
     * below must not count. */
    const uint32_t shapes[] = {ROWS, 1, 7, 255, ROWS - 1};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        KT_ASSERT_INT_EQ(kern_forward(cu, w, x, shapes[s], y), 0);
    size_t free0 = 0, total = 0;
    KT_ASSERT_INT_EQ(kern_backend_mem_info(cu, &free0, &total), 0);

    struct kcu_alloc_stats a0, a1;
    kcu_alloc_stats(&a0);
    for (int rep = 0; rep < 20; rep++) {
        uint32_t rows = shapes[rep % (sizeof shapes / sizeof shapes[0])];
        if (rep % 2) {
            KT_ASSERT_INT_EQ(kern_run(cu, w, x, rows, y), 0);
        } else {
            memcpy(in, x, (size_t)rows * W * sizeof *x);
            KT_ASSERT_INT_EQ(kern_run(cu, w, in, rows, out), 0);
        }
        KT_ASSERT_INT_EQ(kern_sync(cu, w), 0);
    }
    kcu_alloc_stats(&a1);
    size_t free1 = 0;
    KT_ASSERT_INT_EQ(kern_backend_mem_info(cu, &free1, &total), 0);
    printf("# run path: %llu device, %llu pinned allocations, %llu handles; free device memory "
           "%zu → %zu\n",
           (unsigned long long)(a1.dev_alloc - a0.dev_alloc),
           (unsigned long long)(a1.host_alloc - a0.host_alloc),
           (unsigned long long)(a1.handles - a0.handles), free0, free1);
    KT_ASSERT_INT_EQ(a1.dev_alloc, a0.dev_alloc);
    KT_ASSERT_INT_EQ(a1.dev_free, a0.dev_free);
    KT_ASSERT_INT_EQ(a1.host_alloc, a0.host_alloc);
    KT_ASSERT_INT_EQ(a1.host_free, a0.host_free);
    KT_ASSERT_INT_EQ(a1.handles, a0.handles);
    KT_ASSERT_MSG(free1 == free0, "free device memory changed on the run path: %zu → %zu", free0,
                  free1);

    /* The output is still right (not just allocation-free): compare the last batch. */
    struct kern_backend *ref = backend("ref", false);
    float *want = forward(ref, &km.m, x, 64, 64);
    KT_ASSERT_INT_EQ(kern_forward(cu, w, x, 64, y), 0);
    double *wd = kt_malloc((size_t)64 * W * sizeof *wd);
    double *mag = kt_malloc((size_t)64 * W * sizeof *mag);
    kt_forward_double(&km.m, x, 64, wd, mag);
    for (size_t i = 0; i < (size_t)64 * W; i++)
        wd[i] = (double)((const float *)kt_guarded_inner(want, sizeof(float)))[i];
    kt_check_rows("4x4096 bf16", y, wd, mag, 64, W, e2e_tol(KERN_DTYPE_BF16, false));
    free(mag);
    free(wd);
    free(want);
    kern_backend_free(ref);

    /* Loading and freeing balance. */
    kern_weights_free(cu, w);
    struct kcu_alloc_stats a2;
    kcu_alloc_stats(&a2);
    KT_ASSERT_INT_EQ(a2.dev_alloc - a2.dev_free, 0);
    KT_ASSERT_INT_EQ(a2.host_alloc - a2.host_free, 0);
    kern_backend_free(cu);
    free(y);
    free(x);
    kt_model_fini(&km);
}

static void test_api(void)
{
    struct kern_backend *cu = backend("cuda", false);
    KT_ASSERT_STR_EQ(kern_backend_name(cu), "cuda");
    KT_ASSERT(kern_backend_supports(cu, KERN_CAP_ASYNC));
    KT_ASSERT(kern_backend_supports(cu, KERN_CAP_DEVICE_MEMORY));
    KT_ASSERT(kern_backend_supports(cu, KERN_CAP_BF16)); /* sm_90 builds run on sm_90+ only */
    const uint32_t widths[2] = {5, 3};
    const enum kern_act acts[1] = {KERN_ACT_SIGMOID};
    struct kt_model km;
    kt_model_make(&km, 1, widths, KERN_DTYPE_F16, acts, 1, KERN_FINAL_NONE);
    struct kern_weights *w;
    char err[256];
    uint64_t need = 0;
    KT_ASSERT_INT_EQ(kern_weights_size(cu, &km.m, 4, &need), 0);
    KT_ASSERT(need >= 32u << 20); /* the cuBLAS workspace at least */
    KT_ASSERT_INT_EQ(kern_weights_load(cu, &km.m, 4, &w, err, sizeof err), 0);
    float x[5 * 5], y[5 * 3];
    for (int i = 0; i < 25; i++)
        x[i] = kt_uniform(-1, 1);
    KT_ASSERT_INT_EQ(kern_run(cu, w, x, 5, y), -EINVAL);
    KT_ASSERT_INT_EQ(kern_run(cu, w, x, 4, y), 0);
    KT_ASSERT_INT_EQ(kern_run(cu, w, x, 4, y), -EBUSY);
    KT_ASSERT_INT_EQ(kern_sync(cu, w), 0);
    KT_ASSERT_INT_EQ(kern_sync(cu, w), 0); /* nothing in flight */
    for (int i = 0; i < 12; i++)
        KT_ASSERT(y[i] > 0.0f && y[i] < 1.0f);
    /* A device that does not exist. */
    struct kern_backend_config cfg = {.device = 999};
    KT_ASSERT(kern_backend_new("cuda", &cfg, err, sizeof err) == NULL);
    KT_ASSERT_MSG(strstr(err, "999"), "%s", err);
    struct kern_backend *au = kern_backend_new("auto", NULL, err, sizeof err);
    KT_ASSERT(au);
    KT_ASSERT_STR_EQ(kern_backend_name(au), "cuda");
    kern_backend_free(au);
    kern_weights_free(cu, w);
    kern_backend_free(cu);
    kt_model_fini(&km);
}

/* Two handles of one backend run from two threads at once (each on its own stream); each must
 * give what it gives alone. */
struct thread_arg {
    struct kern_backend *be;
    struct kern_weights *w;
    const float *x;
    float *y;
    uint32_t rows;
    int rc;
};

static void *thread_main(void *p)
{
    struct thread_arg *a = p;
    for (int i = 0; i < 50 && !a->rc; i++)
        a->rc = kern_forward(a->be, a->w, a->x, a->rows, a->y);
    return NULL;
}

static void test_threads(void)
{
    struct kern_backend *cu = backend("cuda", false);
    struct kt_model km[2];
    struct thread_arg ta[2];
    float *alone[2];
    for (int t = 0; t < 2; t++) {
        const uint32_t widths[3] = {kt_odd(100, 900), kt_odd(100, 900), kt_odd(1, 50)};
        const enum kern_act acts[2] = {KERN_ACT_GELU, KERN_ACT_NONE};
        kt_model_make(&km[t], 2, widths, (enum kern_dtype)(t * 2), acts, 1, KERN_FINAL_SOFTMAX);
        char err[256];
        memset(&ta[t], 0, sizeof ta[t]);
        ta[t].be = cu;
        ta[t].rows = kt_odd(1, 200);
        KT_ASSERT_INT_EQ(kern_weights_load(cu, &km[t].m, ta[t].rows, &ta[t].w, err, sizeof err), 0);
        ta[t].x = kt_rand_floats((size_t)ta[t].rows * widths[0], -1, 1);
        ta[t].y = kt_malloc((size_t)ta[t].rows * widths[2] * sizeof(float));
        alone[t] = kt_malloc((size_t)ta[t].rows * widths[2] * sizeof(float));
        KT_ASSERT_INT_EQ(kern_forward(cu, ta[t].w, ta[t].x, ta[t].rows, alone[t]), 0);
    }
    pthread_t th[2];
    for (int t = 0; t < 2; t++)
        KT_ASSERT_INT_EQ(pthread_create(&th[t], NULL, thread_main, &ta[t]), 0);
    for (int t = 0; t < 2; t++) {
        pthread_join(th[t], NULL);
        KT_ASSERT_MSG(ta[t].rc == 0, "thread %d: %d %s", t, ta[t].rc, kern_last_error());
        size_t n = (size_t)ta[t].rows * kern_model_output_width(&km[t].m);
        KT_ASSERT_MSG(!memcmp(ta[t].y, alone[t], n * sizeof(float)),
                      "thread %d: result differs from the same batch run alone", t);
        kern_weights_free(cu, ta[t].w);
        free(alone[t]);
        free(ta[t].y);
        free((void *)ta[t].x);
        kt_model_fini(&km[t]);
    }
    kern_backend_free(cu);
}

/* The incremental load on the device: layers in reverse order, each from a scratch copy that is
 * poisoned as soon as its load_layer returns (the contract: the bytes are copied by then), gives
 * the same outputs bit for bit as kern_weights_load (same bytes, same arena layout, same
 * cuBLAS configuration). */
static void test_incremental_load(void)
{
    struct kern_backend *cu = backend("cuda", false);
    char err[256];
    for (int c = 0; c < 6; c++) {
        uint32_t n = kt_range(1, 4), widths[5];
        for (uint32_t k = 0; k <= n; k++)
            widths[k] = kt_odd(1, 777);
        enum kern_act acts[4];
        for (uint32_t i = 0; i < n; i++)
            acts[i] = (enum kern_act)kt_range(0, KERN_ACT_COUNT - 1);
        enum kern_dtype dt = (enum kern_dtype)(c % KERN_DTYPE_COUNT);
        struct kt_model km;
        kt_model_make(&km, n, widths, dt, acts, -1, KERN_FINAL_NONE);
        uint32_t rows = kt_odd(1, 33), out_w = widths[n];
        float *x = kt_rand_floats((size_t)rows * widths[0], -2.0f, 2.0f);
        float *want = forward(cu, &km.m, x, rows, rows);

        struct kern_layer *early = kt_malloc(n * sizeof *early);
        memcpy(early, km.layers, n * sizeof *early);
        struct kern_model em = km.m;
        em.layers = early;
        struct kern_weights *w;
        KT_ASSERT_MSG(kern_weights_begin(cu, &em, rows, &w, err, sizeof err) == 0, "%s", err);
        for (uint32_t k = n; k-- > 0;) {
            const struct kern_layer *l = &km.layers[k];
            size_t wb = (size_t)l->out_width * l->in_width * kern_dtype_size(dt);
            size_t bb = (size_t)l->out_width * kern_dtype_size(dt);
            void *scratch = kt_malloc(wb + bb);
            memcpy(scratch, l->weight, wb);
            early[k].weight = scratch;
            if (l->bias) {
                memcpy((char *)scratch + wb, l->bias, bb);
                early[k].bias = (char *)scratch + wb;
            }
            KT_ASSERT_MSG(kern_weights_load_layer(cu, w, &em, k, err, sizeof err) == 0, "%s", err);
            memset(scratch, 0xff, wb + bb);
            free(scratch);
            early[k].weight = l->weight; /* the later checks' model stays valid */
            early[k].bias = l->bias;
        }
        KT_ASSERT_MSG(kern_weights_end(cu, w, err, sizeof err) == 0, "%s", err);
        float *got = kt_guarded_new((size_t)rows * out_w, sizeof(float));
        KT_ASSERT_INT_EQ(kern_forward(cu, w, x, rows, kt_guarded_inner(got, sizeof(float))), 0);
        kt_guarded_check("incremental", got, (size_t)rows * out_w, sizeof(float));
        KT_ASSERT_MSG(!memcmp(kt_guarded_inner(got, sizeof(float)),
                              kt_guarded_inner(want, sizeof(float)),
                              (size_t)rows * out_w * sizeof(float)),
                      "case %d (%u layers, %s): incremental load differs from kern_weights_load", c,
                      n, kern_dtype_str(dt));
        kern_weights_free(cu, w);
        /* Abandoned half way: freed with nothing leaked (the gpu suite's allocation count). */
        KT_ASSERT_INT_EQ(kern_weights_begin(cu, &em, rows, &w, err, sizeof err), 0);
        KT_ASSERT_INT_EQ(kern_weights_load_layer(cu, w, &em, 0, err, sizeof err), 0);
        kern_weights_free(cu, w);
        free(got);
        free(want);
        free(early);
        free(x);
        kt_model_fini(&km);
    }
    kern_backend_free(cu);
}

int main(int argc, char **argv)
{
    int rc = kern_backend_probe("cuda");
    if (rc) {
        printf("no usable GPU (%s): skipping\n", rc == -ENOTSUP ? "not built" : kern_last_error());
        return KF_TEST_SKIP;
    }
    kt_seed_init(argc, argv);
    KT_RUN(test_api);
    KT_RUN(test_end_to_end);
    KT_RUN(test_no_alloc_on_run_path);
    KT_RUN(test_threads);
    KT_RUN(test_incremental_load);
    return 0;
}
