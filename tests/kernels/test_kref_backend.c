/* The reference backend end to end through the public API: a model worked by hand, random
 * models of every dtype and activation against a double-precision forward pass, bit-identical
 * results for any thread count, NaN/Inf inputs, the widest and tallest shapes, and the API's
 * error returns. */
#include <errno.h>

#include "kernels/kern_backend.h"
#include "kt_kern.h"

/* Tolerance against the double forward pass, as a fraction of the row's error scale (see
 * kt_forward_double()), per weight dtype; about 15 times the worst seen over 60 seeds. f32:
 * summation error only. f16/bf16: the f32 activations are rounded to the dtype before each layer in
 * both passes, but a value that lands within an f32 rounding error of a tie can round the other
 * way, which moves that element by one f16/bf16 unit. */
static double tol_for(enum kern_dtype dt)
{
    switch (dt) {
    case KERN_DTYPE_F16: return 2e-3;
    case KERN_DTYPE_BF16: return 5e-3;
    case KERN_DTYPE_F32:
    default: return 2e-5;
    }
}

static struct kern_backend *ref_new(unsigned threads)
{
    char err[256];
    struct kern_backend_config cfg = {.threads = threads};
    struct kern_backend *be = kern_backend_new("ref", &cfg, err, sizeof err);
    KT_ASSERT_MSG(be, "kern_backend_new: %s", err);
    return be;
}

static void test_hand_model(void)
{
    /* layer 0: W = [[1, -1], [2, 0.5]], b = [0.5, -10], relu
     * layer 1: W = [[1, 3]], no bias, none
     * x = [3, 1] → [3 - 1 + 0.5, 6 + 0.5 - 10] = [2.5, -3.5] → relu [2.5, 0] → 2.5 */
    const float w0[4] = {1, -1, 2, 0.5f}, b0[2] = {0.5f, -10}, w1[2] = {1, 3};
    const struct kern_layer l[2] = {
        {.out_width = 2, .in_width = 2, .weight = w0, .bias = b0, .act = KERN_ACT_RELU},
        {.out_width = 1, .in_width = 2, .weight = w1},
    };
    const struct kern_model m = {.input_width = 2, .n_layers = 2, .layers = l};
    struct kern_backend *be = ref_new(1);
    KT_ASSERT_STR_EQ(kern_backend_name(be), "ref");
    KT_ASSERT(kern_backend_supports(be, KERN_CAP_BF16));
    KT_ASSERT(!kern_backend_supports(be, KERN_CAP_ASYNC));
    struct kern_weights *w;
    char err[256];
    KT_ASSERT_INT_EQ(kern_weights_load(be, &m, 4, &w, err, sizeof err), 0);
    KT_ASSERT_INT_EQ(kern_weights_input_width(w), 2);
    KT_ASSERT_INT_EQ(kern_weights_output_width(w), 1);
    KT_ASSERT_INT_EQ(kern_weights_max_rows(w), 4);
    const float x[3][2] = {{3, 1}, {0, 0}, {-1, 1}};
    float y[3] = {NAN, NAN, NAN};
    KT_ASSERT_INT_EQ(kern_forward(be, w, &x[0][0], 3, y), 0);
    KT_ASSERT(y[0] == 2.5f);
    /* x = 0: [0.5, -10] → [0.5, 0] → 0.5 */
    KT_ASSERT(y[1] == 0.5f);
    /* x = [-1, 1]: [-1 - 1 + 0.5, -2 + 0.5 - 10] → relu 0, 0 → 0 */
    KT_ASSERT(y[2] == 0.0f);

    /* The same through the handle's own staging buffers. */
    float *in, *out;
    KT_ASSERT_INT_EQ(kern_weights_io(w, &in, &out), 0);
    KT_ASSERT(in && out);
    memcpy(in, x, sizeof x);
    KT_ASSERT_INT_EQ(kern_run(be, w, in, 3, out), 0);
    KT_ASSERT_INT_EQ(kern_sync(be, w), 0);
    KT_ASSERT(out[0] == 2.5f && out[1] == 0.5f && out[2] == 0.0f);

    /* With a final softmax over one column: always 1. */
    const struct kern_model ms = {
        .input_width = 2, .n_layers = 2, .layers = l, .final = KERN_FINAL_SOFTMAX};
    struct kern_weights *w2;
    KT_ASSERT_INT_EQ(kern_weights_load(be, &ms, 3, &w2, err, sizeof err), 0);
    KT_ASSERT_INT_EQ(kern_forward(be, w2, &x[0][0], 3, y), 0);
    KT_ASSERT(y[0] == 1.0f && y[1] == 1.0f && y[2] == 1.0f);
    kern_weights_free(be, w2);
    kern_weights_free(be, w);
    kern_backend_free(be);
}

static void test_api_errors(void)
{
    char err[256] = "";
    KT_ASSERT(kern_backend_new("nope", NULL, err, sizeof err) == NULL);
    KT_ASSERT_MSG(strstr(err, "nope"), "%s", err);
    KT_ASSERT(strstr(kern_last_error(), "nope"));
    KT_ASSERT(kern_backend_new(NULL, NULL, NULL, 0) == NULL);
    KT_ASSERT_INT_EQ(kern_backend_probe("ref"), 0);
    KT_ASSERT_INT_EQ(kern_backend_probe("auto"), 0);
    KT_ASSERT_INT_EQ(kern_backend_probe("tpu"), -EINVAL);
    /* This test links the reference alone (kfkernels_ref_dep). */
    KT_ASSERT_INT_EQ(kern_backend_probe("cuda"), -ENOTSUP);
    KT_ASSERT(kern_backend_new("cuda", NULL, err, sizeof err) == NULL);
    KT_ASSERT_MSG(strstr(err, "not built"), "%s", err);
    struct kern_backend *au = kern_backend_new("auto", NULL, err, sizeof err);
    KT_ASSERT_MSG(au && !strcmp(kern_backend_name(au), "ref"), "%s", err);
    kern_backend_free(au);
    kern_backend_free(NULL);

    struct kern_backend *be = ref_new(2);
    kern_weights_free(be, NULL);
    size_t fr = 0, tot = 0;
    KT_ASSERT_INT_EQ(kern_backend_mem_info(be, &fr, &tot), 0);
    KT_ASSERT(tot > 0 && fr <= tot);

    const float w0[6] = {1, 2, 3, 4, 5, 6};
    struct kern_layer l = {.out_width = 2, .in_width = 3, .weight = w0};
    struct kern_model m = {.input_width = 3, .n_layers = 1, .layers = &l};
    struct kern_weights *w = (struct kern_weights *)&l; /* must be overwritten with NULL */
    KT_ASSERT_INT_EQ(kern_weights_load(be, &m, 0, &w, err, sizeof err), -EINVAL);
    KT_ASSERT(w == NULL);
    KT_ASSERT_INT_EQ(kern_weights_load(be, &m, KERN_MAX_ROWS + 1, &w, err, sizeof err), -EINVAL);
    m.input_width = 4;
    KT_ASSERT_INT_EQ(kern_weights_load(be, &m, 2, &w, err, sizeof err), -EINVAL);
    KT_ASSERT_MSG(strstr(err, "invalid model"), "%s", err);
    KT_ASSERT_INT_EQ(kern_weights_load(NULL, &m, 2, &w, err, sizeof err), -EINVAL);
    m.input_width = 3;
    uint64_t bytes = 0;
    KT_ASSERT_INT_EQ(kern_weights_size(be, &m, 2, &bytes), 0);
    KT_ASSERT(bytes >= 6 * sizeof(float));
    KT_ASSERT_INT_EQ(kern_weights_load(be, &m, 2, &w, err, sizeof err), 0);

    float x[3 * 3] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, y[3 * 2];
    KT_ASSERT_INT_EQ(kern_run(be, w, x, 3, y), -EINVAL); /* more rows than max_rows */
    KT_ASSERT_INT_EQ(kern_run(be, w, NULL, 1, y), -EINVAL);
    KT_ASSERT_INT_EQ(kern_run(be, w, x, 1, NULL), -EINVAL);
    KT_ASSERT_INT_EQ(kern_run(be, w, NULL, 0, NULL), 0); /* zero rows: nothing to do */
    KT_ASSERT_INT_EQ(kern_sync(be, w), 0);
    KT_ASSERT_INT_EQ(kern_forward(be, w, x, 2, y), 0);
    KT_ASSERT(y[0] == 6 && y[1] == 15 && y[2] == 6 && y[3] == 15);

    /* A handle of another backend is refused, not used. */
    struct kern_backend *other = ref_new(1);
    KT_ASSERT_INT_EQ(kern_run(other, w, x, 1, y), -EINVAL);
    KT_ASSERT_INT_EQ(kern_sync(other, w), -EINVAL);
    kern_backend_free(other);

    KT_ASSERT(kern_err_is_fatal(-EIO));
    KT_ASSERT(!kern_err_is_fatal(-ENOMEM) && !kern_err_is_fatal(-EINVAL) && !kern_err_is_fatal(0));
    kern_weights_free(be, w);
    kern_backend_free(be);
}

/* One random model through backends with 1 and 3 threads: both within tolerance of the double
 * pass, and identical to each other bit for bit (threads split columns, never a sum). */
static void random_case(struct kern_backend *be1, struct kern_backend *be3, uint32_t n_layers,
                        const uint32_t *widths, enum kern_dtype dt, uint32_t rows, bool specials)
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
    double *want = kt_malloc((size_t)rows * out_w * sizeof *want);
    double *mag = kt_malloc((size_t)rows * out_w * sizeof *mag);
    kt_forward_double(&km.m, x, rows, want, mag);

    char what[160];
    snprintf(what, sizeof what, "%u layers %u→…→%u %s, %u rows, final %s", n_layers, in_w, out_w,
             kern_dtype_str(dt), rows, kern_final_str(fin));
    float *y[2];
    struct kern_backend *bes[2] = {be1, be3};
    for (int b = 0; b < 2; b++) {
        struct kern_weights *w;
        char err[256];
        KT_ASSERT_MSG(kern_weights_load(bes[b], &km.m, rows + 2, &w, err, sizeof err) == 0, "%s",
                      err);
        float *g = kt_guarded_new((size_t)rows * out_w, sizeof(float));
        KT_ASSERT_INT_EQ(kern_forward(bes[b], w, x, rows, kt_guarded_inner(g, sizeof(float))), 0);
        kt_guarded_check(what, g, (size_t)rows * out_w, sizeof(float));
        y[b] = g;
        kern_weights_free(bes[b], w);
    }
    double e = kt_check_rows(what, kt_guarded_inner(y[0], sizeof(float)), want, mag, rows, out_w,
                             tol_for(dt));
    KT_ASSERT_MSG(!memcmp(y[0], y[1], ((size_t)rows * out_w + 2 * KT_GUARD) * sizeof(float)),
                  "%s: 1 and 3 threads differ", what);
    printf("#   %s: max row error %.3g\n", what, e);
    free(y[0]);
    free(y[1]);
    free(mag);
    free(want);
    free(x);
    kt_model_fini(&km);
}

static void test_random_models(void)
{
    struct kern_backend *be1 = ref_new(1), *be3 = ref_new(3);
    for (int i = 0; i < 24; i++) {
        uint32_t n = kt_range(1, 4);
        uint32_t widths[5];
        for (uint32_t k = 0; k <= n; k++)
            widths[k] = kt_odd(1, 301);
        random_case(be1, be3, n, widths, (enum kern_dtype)(i % KERN_DTYPE_COUNT), kt_odd(1, 67),
                    i % 4 == 3);
    }
    /* Bigger layers, big enough for the pool to split them. */
    for (int dt = 0; dt < KERN_DTYPE_COUNT; dt++) {
        uint32_t widths[4] = {kt_odd(900, 1100), kt_odd(1000, 1200), kt_odd(600, 800), 10};
        random_case(be1, be3, 3, widths, (enum kern_dtype)dt, kt_odd(60, 70), false);
    }
    kern_backend_free(be3);
    kern_backend_free(be1);
}

/* The extremes the backend promises: a 16384+ wide layer, a 4096-row batch. */
static void test_extremes(void)
{
    struct kern_backend *be1 = ref_new(1), *be3 = ref_new(3);
    uint32_t wide[3] = {16385, 9, 16387};
    random_case(be1, be3, 2, wide, KERN_DTYPE_BF16, 3, true);
    uint32_t tall[3] = {33, 65, 7};
    random_case(be1, be3, 2, tall, KERN_DTYPE_F32, 4097, true);
    kern_backend_free(be3);
    kern_backend_free(be1);
}

/* The incremental load: begin, the layers in a random order (each layer's bytes written just
 * before its load_layer, as the worker's pipeline does), end — the same outputs bit for bit as
 * kern_weights_load; and its misuse refused. */
static void test_incremental_load(void)
{
    struct kern_backend *be = ref_new(2);
    char err[256];
    for (int c = 0; c < 12; c++) {
        uint32_t n = kt_range(1, 6), widths[7];
        for (uint32_t k = 0; k <= n; k++)
            widths[k] = kt_odd(1, 201);
        enum kern_act acts[6];
        for (uint32_t i = 0; i < n; i++)
            acts[i] = (enum kern_act)kt_range(0, KERN_ACT_COUNT - 1);
        enum kern_dtype dt = (enum kern_dtype)(c % KERN_DTYPE_COUNT);
        struct kt_model km;
        kt_model_make(&km, n, widths, dt, acts, -1, c % 2 ? KERN_FINAL_SOFTMAX : KERN_FINAL_NONE);
        uint32_t rows = kt_odd(1, 17), out_w = widths[n];
        float *x = kt_rand_floats((size_t)rows * widths[0], -2.0f, 2.0f);
        float *want = kt_malloc((size_t)rows * out_w * sizeof *want);
        float *got = kt_malloc((size_t)rows * out_w * sizeof *got);

        struct kern_weights *w;
        KT_ASSERT_MSG(kern_weights_load(be, &km.m, rows, &w, err, sizeof err) == 0, "%s", err);
        KT_ASSERT_INT_EQ(kern_forward(be, w, x, rows, want), 0);
        kern_weights_free(be, w);

        /* Begin over a copy whose weights are garbage, as a blob still being fetched is. */
        struct kern_layer *early = kt_malloc(n * sizeof *early);
        void **bytes = kt_malloc(2 * n * sizeof *bytes);
        for (uint32_t i = 0; i < n; i++) {
            const struct kern_layer *l = &km.layers[i];
            size_t wb = (size_t)l->out_width * l->in_width * kern_dtype_size(dt);
            size_t bb = (size_t)l->out_width * kern_dtype_size(dt);
            early[i] = *l;
            early[i].weight = bytes[2 * i] = kt_malloc(wb);
            memset(bytes[2 * i], 0xff, wb); /* NaN in every dtype */
            bytes[2 * i + 1] = kt_malloc(bb);
            memset(bytes[2 * i + 1], 0xff, bb);
            early[i].bias = l->bias ? bytes[2 * i + 1] : NULL;
        }
        struct kern_model em = km.m;
        em.layers = early;
        KT_ASSERT_MSG(kern_weights_begin(be, &em, rows, &w, err, sizeof err) == 0, "%s", err);
        KT_ASSERT_INT_EQ(kern_forward(be, w, x, rows, got), -EINVAL);        /* not ended */
        KT_ASSERT_INT_EQ(kern_weights_end(be, w, err, sizeof err), -EINVAL); /* layers missing */
        uint32_t order[6];
        for (uint32_t i = 0; i < n; i++)
            order[i] = i;
        for (uint32_t i = n; i > 1; i--) {
            uint32_t k = kt_range(0, i - 1), t = order[i - 1];
            order[i - 1] = order[k];
            order[k] = t;
        }
        for (uint32_t k = 0; k < n; k++) {
            uint32_t i = order[k];
            const struct kern_layer *l = &km.layers[i];
            memcpy(bytes[2 * i], l->weight,
                   (size_t)l->out_width * l->in_width * kern_dtype_size(dt));
            if (l->bias)
                memcpy(bytes[2 * i + 1], l->bias, (size_t)l->out_width * kern_dtype_size(dt));
            KT_ASSERT_MSG(kern_weights_load_layer(be, w, &em, i, err, sizeof err) == 0, "%s", err);
            KT_ASSERT_INT_EQ(kern_weights_load_layer(be, w, &em, i, err, sizeof err), -EINVAL);
            /* The bytes may change once their layer is in: it was copied. */
            memset(bytes[2 * i], 0xff, (size_t)l->out_width * l->in_width * kern_dtype_size(dt));
        }
        KT_ASSERT_INT_EQ(kern_weights_load_layer(be, w, &em, n, err, sizeof err), -EINVAL);
        KT_ASSERT_MSG(kern_weights_end(be, w, err, sizeof err) == 0, "%s", err);
        KT_ASSERT_INT_EQ(kern_weights_end(be, w, err, sizeof err), -EINVAL);
        KT_ASSERT_INT_EQ(kern_weights_load_layer(be, w, &em, 0, err, sizeof err), -EINVAL);
        KT_ASSERT_INT_EQ(kern_forward(be, w, x, rows, got), 0);
        KT_ASSERT_MSG(!memcmp(want, got, (size_t)rows * out_w * sizeof *got),
                      "case %d (%u layers, %s): incremental load differs from kern_weights_load", c,
                      n, kern_dtype_str(dt));
        kern_weights_free(be, w);

        /* A half-loaded handle is freed (ASan checks for leaks); a model of other shapes is
         * refused. */
        KT_ASSERT_INT_EQ(kern_weights_begin(be, &em, rows, &w, err, sizeof err), 0);
        KT_ASSERT_INT_EQ(kern_weights_load_layer(be, w, &em, 0, err, sizeof err), 0);
        struct kern_model other = em;
        other.final = em.final == KERN_FINAL_NONE ? KERN_FINAL_SOFTMAX : KERN_FINAL_NONE;
        if (n > 1) {
            KT_ASSERT_INT_EQ(kern_weights_load_layer(be, w, &other, 1, err, sizeof err), -EINVAL);
            KT_ASSERT_MSG(strstr(err, "shapes"), "%s", err);
        }
        kern_weights_free(be, w);

        for (uint32_t i = 0; i < 2 * n; i++)
            free(bytes[i]);
        free(bytes);
        free(early);
        free(got);
        free(want);
        free(x);
        kt_model_fini(&km);
    }
    /* Bad arguments. */
    struct kern_weights *w = NULL;
    KT_ASSERT_INT_EQ(kern_weights_begin(NULL, NULL, 1, &w, err, sizeof err), -EINVAL);
    KT_ASSERT_INT_EQ(kern_weights_load_layer(be, NULL, NULL, 0, err, sizeof err), -EINVAL);
    KT_ASSERT_INT_EQ(kern_weights_end(be, NULL, err, sizeof err), -EINVAL);
    kern_backend_free(be);
}

int main(int argc, char **argv)
{
    kt_seed_init(argc, argv);
    KT_RUN(test_hand_model);
    KT_RUN(test_api_errors);
    KT_RUN(test_random_models);
    KT_RUN(test_extremes);
    KT_RUN(test_incremental_load);
    return 0;
}
