/* The model description: validation catches each malformed field, and the name tables
 * round-trip the strings the architecture JSON and the request format use. */
#include <errno.h>

#include "kt_kern.h"

static const float w01[6] = {1, 2, 3, 4, 5, 6};

static void test_validate(void)
{
    struct kern_layer l[2] = {
        {.out_width = 2, .in_width = 3, .weight_dtype = KERN_DTYPE_F32, .weight = w01},
        {.out_width = 1,
         .in_width = 2,
         .weight_dtype = KERN_DTYPE_F32,
         .weight = w01,
         .bias = w01,
         .bias_dtype = KERN_DTYPE_BF16,
         .act = KERN_ACT_GELU},
    };
    struct kern_model m = {.input_width = 3, .n_layers = 2, .layers = l};
    char err[256];
    KT_ASSERT_INT_EQ(kern_model_validate(&m, err, sizeof err), 0);
    KT_ASSERT_INT_EQ(kern_model_output_width(&m), 1);
    KT_ASSERT_INT_EQ(kern_model_max_width(&m), 3);
    KT_ASSERT_INT_EQ(kern_model_weight_bytes(&m), 6 * 4 + 2 * 4 + 1 * 2);
    KT_ASSERT_INT_EQ(kern_model_flops_per_row(&m), 2 * 6 + 2 * 2);

    struct kern_model bad = m;
    KT_ASSERT_INT_EQ(kern_model_validate(NULL, err, sizeof err), -EINVAL);
    bad.n_layers = 0;
    KT_ASSERT_INT_EQ(kern_model_validate(&bad, err, sizeof err), -EINVAL);
    bad = m;
    bad.input_width = 4; /* layer 0 expects 3 */
    KT_ASSERT_INT_EQ(kern_model_validate(&bad, err, sizeof err), -EINVAL);
    KT_ASSERT_MSG(strstr(err, "layer 0"), "error names the layer: %s", err);
    bad = m;
    bad.final = (enum kern_final)2;
    KT_ASSERT_INT_EQ(kern_model_validate(&bad, NULL, 0), -EINVAL);

    struct kern_layer lb[2];
    memcpy(lb, l, sizeof lb);
    bad = m;
    bad.layers = lb;
    lb[1].in_width = 3; /* chain broken */
    KT_ASSERT_INT_EQ(kern_model_validate(&bad, err, sizeof err), -EINVAL);
    KT_ASSERT_MSG(strstr(err, "layer 1"), "%s", err);
    memcpy(lb, l, sizeof lb);
    lb[0].weight = NULL;
    KT_ASSERT_INT_EQ(kern_model_validate(&bad, err, sizeof err), -EINVAL);
    memcpy(lb, l, sizeof lb);
    lb[1].act = (enum kern_act)9;
    KT_ASSERT_INT_EQ(kern_model_validate(&bad, err, sizeof err), -EINVAL);
    memcpy(lb, l, sizeof lb);
    lb[0].weight_dtype = (enum kern_dtype)3;
    KT_ASSERT_INT_EQ(kern_model_validate(&bad, err, sizeof err), -EINVAL);
    memcpy(lb, l, sizeof lb);
    lb[1].bias_dtype = (enum kern_dtype)3;
    KT_ASSERT_INT_EQ(kern_model_validate(&bad, err, sizeof err), -EINVAL);
    lb[1].bias = NULL; /* bias dtype is ignored without a bias */
    KT_ASSERT_INT_EQ(kern_model_validate(&bad, err, sizeof err), 0);
    memcpy(lb, l, sizeof lb);
    lb[0].out_width = KERN_MAX_WIDTH + 1;
    lb[1].in_width = KERN_MAX_WIDTH + 1;
    KT_ASSERT_INT_EQ(kern_model_validate(&bad, err, sizeof err), -EINVAL);
    /* A tiny errstr is truncated, not overrun. */
    char small[4] = "xyz";
    KT_ASSERT_INT_EQ(kern_model_validate(&bad, small, 3), -EINVAL);
    KT_ASSERT(small[2] == '\0' && small[3] == '\0');
}

static void test_names(void)
{
    static const char *const acts[] = {"none", "relu", "gelu", "tanh", "sigmoid"};
    for (int i = 0; i < KERN_ACT_COUNT; i++) {
        enum kern_act a = KERN_ACT_NONE;
        KT_ASSERT_INT_EQ(kern_act_parse(acts[i], strlen(acts[i]), &a), 0);
        KT_ASSERT_INT_EQ(a, i);
        KT_ASSERT_STR_EQ(kern_act_str(a), acts[i]);
    }
    enum kern_act a = KERN_ACT_TANH;
    KT_ASSERT_INT_EQ(kern_act_parse("Relu", 4, &a), -EINVAL);
    KT_ASSERT_INT_EQ(kern_act_parse("relux", 5, &a), -EINVAL);
    KT_ASSERT_INT_EQ(kern_act_parse("relu", 3, &a), -EINVAL); /* "rel" */
    KT_ASSERT_INT_EQ(kern_act_parse("", 0, &a), -EINVAL);
    KT_ASSERT_INT_EQ(kern_act_parse(NULL, 0, &a), -EINVAL);
    KT_ASSERT_INT_EQ(a, KERN_ACT_TANH); /* untouched on failure */
    /* Not NUL-terminated: {ptr, len} out of a larger buffer. */
    KT_ASSERT_INT_EQ(kern_act_parse("geluXYZ", 4, &a), 0);
    KT_ASSERT_INT_EQ(a, KERN_ACT_GELU);
    KT_ASSERT_STR_EQ(kern_act_str((enum kern_act)42), "?");

    enum kern_dtype dt;
    KT_ASSERT_INT_EQ(kern_dtype_parse("bf16", 4, &dt), 0);
    KT_ASSERT_INT_EQ(dt, KERN_DTYPE_BF16);
    KT_ASSERT_INT_EQ(kern_dtype_parse("F16", 3, &dt), 0);
    KT_ASSERT_INT_EQ(dt, KERN_DTYPE_F16);
    KT_ASSERT_INT_EQ(kern_dtype_parse("F32", 3, &dt), 0);
    KT_ASSERT_INT_EQ(dt, KERN_DTYPE_F32);
    KT_ASSERT_INT_EQ(kern_dtype_parse("f64", 3, &dt), -EINVAL);
    KT_ASSERT_INT_EQ(kern_dtype_parse("Bf16", 4, &dt), -EINVAL);
    KT_ASSERT_STR_EQ(kern_dtype_str(KERN_DTYPE_F16), "f16");
    KT_ASSERT_STR_EQ(kern_dtype_str((enum kern_dtype) - 1), "?");
    KT_ASSERT_INT_EQ(kern_dtype_size(KERN_DTYPE_BF16), 2);
    KT_ASSERT_INT_EQ(kern_dtype_size(KERN_DTYPE_F32), 4);
    KT_ASSERT_INT_EQ(kern_dtype_size((enum kern_dtype)5), 0);

    enum kern_final f = KERN_FINAL_NONE;
    KT_ASSERT_INT_EQ(kern_final_parse("softmax", 7, &f), 0);
    KT_ASSERT_INT_EQ(f, KERN_FINAL_SOFTMAX);
    KT_ASSERT_INT_EQ(kern_final_parse("none", 4, &f), 0);
    KT_ASSERT_INT_EQ(f, KERN_FINAL_NONE);
    KT_ASSERT_INT_EQ(kern_final_parse("argmax", 6, &f), -EINVAL);
    KT_ASSERT_STR_EQ(kern_final_str(KERN_FINAL_SOFTMAX), "softmax");
}

int main(void)
{
    KT_RUN(test_validate);
    KT_RUN(test_names);
    return 0;
}
