/* Backend selection as the worker gets it (kfkernels_dep, CUDA built in where found): "auto"
 * takes the CUDA backend where it probes usable and falls back to the reference elsewhere (CI:
 * CUDA built, no GPU), and "cuda" on a machine without a GPU fails with a reason. */
#include <errno.h>

#include "kernels/kern_backend.h"
#include "kt_kern.h"

static void test_auto_fallback(void)
{
    char err[256] = "";
    int cuda = kern_backend_probe("cuda");
    KT_ASSERT_MSG(cuda == 0 || cuda == -ENODEV || cuda == -ENOTSUP, "probe: %d", cuda);
#if !KERN_HAVE_CUDA
    KT_ASSERT_INT_EQ(cuda, -ENOTSUP);
#else
    KT_ASSERT(cuda != -ENOTSUP);
#endif
    if (cuda != 0) {
        KT_ASSERT(kern_backend_new("cuda", NULL, err, sizeof err) == NULL);
        KT_ASSERT(err[0] != '\0');
        printf("# no usable CUDA backend: %s\n", err);
    }
    struct kern_backend *be = kern_backend_new("auto", NULL, err, sizeof err);
    KT_ASSERT_MSG(be, "%s", err);
    printf("# auto chose %s on %s\n", kern_backend_name(be), kern_backend_device(be));
    KT_ASSERT_STR_EQ(kern_backend_name(be), cuda == 0 ? "cuda" : "ref");

    /* Whatever was chosen runs a model. */
    const float w[4] = {1, 2, 3, 4};
    const struct kern_layer l = {.out_width = 2, .in_width = 2, .weight = w};
    const struct kern_model m = {.input_width = 2, .n_layers = 1, .layers = &l};
    struct kern_weights *kw;
    KT_ASSERT_INT_EQ(kern_weights_load(be, &m, 1, &kw, err, sizeof err), 0);
    const float x[2] = {1, -1};
    float y[2] = {0, 0};
    KT_ASSERT_INT_EQ(kern_forward(be, kw, x, 1, y), 0);
    KT_ASSERT(y[0] == -1.0f && y[1] == -1.0f);
    kern_weights_free(be, kw);
    kern_backend_free(be);
}

int main(void)
{
    KT_RUN(test_auto_fallback);
    return 0;
}
