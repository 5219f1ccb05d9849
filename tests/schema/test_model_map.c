/* schema/model_map: every architecture activation, output and schema dtype
 * maps onto the kernels' value of the same name; out-of-range values and
 * architectures whose tensors do not lie in the blob are refused, naming the
 * layer. */
#include "schema/model_map.h"

#include "kernels/kern_model.h"
#include "tests/lib/kf_test.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Values just outside each enum, and far outside (negative, large). */
static const int bad_values[] = {-1, 5, 42, 1 << 20};

static void acts_map_by_name(void)
{
    /* arch_act2str is "?" past the last constant: that bounds the walk, so a
     * new activation in the schema is covered without touching this test. */
    int n = 0;
    for (int a = 0; strcmp(arch_act2str((enum arch_act)a), "?"); a++, n++) {
        enum kern_act k = (enum kern_act) - 1;
        KT_ASSERT_INT_EQ(model_map_act((enum arch_act)a, &k), 0);
        KT_ASSERT_STR_EQ(kern_act_str(k), arch_act2str((enum arch_act)a));
    }
    /* Same names both ways and as many of them: no kernel activation is unreachable. */
    KT_ASSERT_INT_EQ(n, KERN_ACT_COUNT);
    for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
        if (strcmp(arch_act2str((enum arch_act)bad_values[i]), "?"))
            continue; /* a known value now (5 once the schema grows) */
        enum kern_act k = KERN_ACT_GELU;
        KT_ASSERT_INT_EQ(model_map_act((enum arch_act)bad_values[i], &k), -EINVAL);
        KT_ASSERT_INT_EQ(k, KERN_ACT_GELU); /* untouched */
    }
}

static void outputs_map_by_name(void)
{
    int n = 0;
    for (int o = 0; strcmp(arch_output2str((enum arch_output)o), "?"); o++, n++) {
        enum kern_final f = (enum kern_final) - 1;
        KT_ASSERT_INT_EQ(model_map_output((enum arch_output)o, &f), 0);
        KT_ASSERT_STR_EQ(kern_final_str(f), arch_output2str((enum arch_output)o));
    }
    KT_ASSERT_INT_EQ(n, KERN_FINAL_COUNT);
    enum kern_final f = KERN_FINAL_SOFTMAX;
    KT_ASSERT_INT_EQ(model_map_output((enum arch_output)2, &f), -EINVAL);
    KT_ASSERT_INT_EQ(model_map_output((enum arch_output) - 1, &f), -EINVAL);
    KT_ASSERT_INT_EQ(f, KERN_FINAL_SOFTMAX);
}

static void dtypes_map_by_name(void)
{
    KT_ASSERT_INT_EQ(SCHEMA_DTYPE_COUNT, KERN_DTYPE_COUNT);
    for (int d = 0; d < SCHEMA_DTYPE_COUNT; d++) {
        enum kern_dtype k = (enum kern_dtype) - 1;
        KT_ASSERT_INT_EQ(model_map_dtype((enum schema_dtype)d, &k), 0);
        KT_ASSERT_STR_EQ(kern_dtype_str(k), schema_dtype2str((enum schema_dtype)d));
        KT_ASSERT_INT_EQ(kern_dtype_size(k), schema_dtype_size((enum schema_dtype)d));
    }
    for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
        enum kern_dtype k = KERN_DTYPE_BF16;
        KT_ASSERT_INT_EQ(model_map_dtype((enum schema_dtype)bad_values[i], &k), -EINVAL);
        KT_ASSERT_INT_EQ(k, KERN_DTYPE_BF16);
    }
    enum kern_dtype k = KERN_DTYPE_F16;
    KT_ASSERT_INT_EQ(model_map_dtype((enum schema_dtype)SCHEMA_DTYPE_COUNT, &k), -EINVAL);
    KT_ASSERT_INT_EQ(k, KERN_DTYPE_F16);
}

/* A bound two-layer network 4 → 3 (relu) → 2 (@p act2), softmax, all tensors
 * in @p dt, laid out in a blob of `blob_len` bytes: 0.weight, 0.bias,
 * 2.weight, 2.bias, back to back. */
struct net {
    struct schema_tensor t[4];
    struct arch_layer al[2];
    struct arch_desc a;
    uint8_t blob[256];
    uint64_t blob_len;
};

static void net_init(struct net *n, enum schema_dtype dt, enum arch_act act2)
{
    memset(n, 0, sizeof(*n));
    static const char *const names[4] = {"0.weight", "0.bias", "2.weight", "2.bias"};
    static const uint64_t shapes[4][2] = {{3, 4}, {3, 0}, {2, 3}, {2, 0}};
    size_t esz = schema_dtype_size(dt);
    uint64_t off = 0;
    for (int i = 0; i < 4; i++) {
        struct schema_tensor *t = &n->t[i];
        snprintf(t->name, sizeof(t->name), "%s", names[i]);
        t->dtype = dt;
        t->ndim = shapes[i][1] ? 2 : 1;
        t->shape[0] = shapes[i][0];
        t->shape[1] = shapes[i][1];
        t->offset = off;
        t->length = shapes[i][0] * (shapes[i][1] ? shapes[i][1] : 1) * esz;
        off += t->length;
    }
    n->blob_len = off;
    KT_ASSERT(off <= sizeof(n->blob));
    for (size_t i = 0; i < sizeof(n->blob); i++)
        n->blob[i] = (uint8_t)i;
    for (int l = 0; l < 2; l++) {
        snprintf(n->al[l].weight, sizeof(n->al[l].weight), "%d.weight", 2 * l);
        snprintf(n->al[l].bias, sizeof(n->al[l].bias), "%d.bias", 2 * l);
    }
    n->al[0].activation = ARCH_ACT_RELU;
    n->al[1].activation = act2;
    n->a = (struct arch_desc){
        .input_width = 4,
        .output = ARCH_OUTPUT_SOFTMAX,
        .n_layers = 2,
        .layers = n->al,
    };
    enum schema_dtype got;
    char err[256];
    KT_ASSERT_MSG(!arch_bind(&n->a, n->t, 4, &got, err, sizeof(err)), "%s", err);
    KT_ASSERT_INT_EQ(got, dt);
}

static int net_map(const struct net *n, struct kern_model *km, struct kern_layer **layers,
                   char *err, size_t err_size)
{
    return model_map_build(&n->a, n->t, 4, n->blob, n->blob_len, km, layers, err, err_size);
}

static void build_maps_every_dtype_and_act(void)
{
    for (int d = 0; d < SCHEMA_DTYPE_COUNT; d++) {
        for (int a = 0; a < KERN_ACT_COUNT; a++) {
            struct net n;
            net_init(&n, (enum schema_dtype)d, (enum arch_act)a);
            struct kern_model km;
            struct kern_layer *l = NULL;
            char err[256];
            KT_ASSERT_MSG(!net_map(&n, &km, &l, err, sizeof(err)), "%s", err);
            KT_ASSERT(l && km.layers == l);
            KT_ASSERT_INT_EQ(km.input_width, 4);
            KT_ASSERT_INT_EQ(km.n_layers, 2);
            KT_ASSERT_INT_EQ(km.final, KERN_FINAL_SOFTMAX);
            KT_ASSERT_INT_EQ(kern_model_output_width(&km), 2);
            for (int i = 0; i < 2; i++) {
                KT_ASSERT_INT_EQ(l[i].out_width, n.t[2 * i].shape[0]);
                KT_ASSERT_INT_EQ(l[i].in_width, n.t[2 * i].shape[1]);
                KT_ASSERT_STR_EQ(kern_dtype_str(l[i].weight_dtype),
                                 schema_dtype2str((enum schema_dtype)d));
                KT_ASSERT_STR_EQ(kern_dtype_str(l[i].bias_dtype),
                                 schema_dtype2str((enum schema_dtype)d));
                KT_ASSERT(l[i].weight == n.blob + n.t[2 * i].offset);
                KT_ASSERT(l[i].bias == n.blob + n.t[2 * i + 1].offset);
                KT_ASSERT_STR_EQ(kern_act_str(l[i].act), arch_act2str(n.al[i].activation));
            }
            free(l);
        }
    }
}

static void build_without_bias(void)
{
    struct net n;
    net_init(&n, SCHEMA_DTYPE_F32, ARCH_ACT_NONE);
    n.al[1].bias[0] = '\0';
    n.al[1].bias_index = -1;
    n.a.output = ARCH_OUTPUT_NONE;
    struct kern_model km;
    struct kern_layer *l = NULL;
    char err[256];
    KT_ASSERT_MSG(!net_map(&n, &km, &l, err, sizeof(err)), "%s", err);
    KT_ASSERT(l[0].bias && !l[1].bias);
    KT_ASSERT_INT_EQ(km.final, KERN_FINAL_NONE);
    free(l);
}

/* Map @p n, expect -EPROTO (or @p want) with @p needles in the message, and no layers. */
static void expect_refused(const struct net *n, int want, const char *needle1, const char *needle2)
{
    struct kern_model km;
    struct kern_layer *l = (struct kern_layer *)&km; /* must come back NULL */
    char err[512] = "";
    KT_ASSERT_INT_EQ(net_map(n, &km, &l, err, sizeof(err)), want);
    KT_ASSERT(l == NULL);
    KT_ASSERT_MSG(strstr(err, needle1), "\"%s\" not in: %s", needle1, err);
    KT_ASSERT_MSG(!needle2 || strstr(err, needle2), "\"%s\" not in: %s", needle2, err);
    printf("  refused: %s\n", err);
}

static void build_refuses_tensors_outside_the_blob(void)
{
    struct net n;
    /* The blob one byte short: 2.bias's last byte is missing. */
    net_init(&n, SCHEMA_DTYPE_F32, ARCH_ACT_NONE);
    n.blob_len--;
    expect_refused(&n, -EPROTO, "layers[1] (\"2.weight\")", "\"2.bias\"");
    /* A weight past the end. */
    net_init(&n, SCHEMA_DTYPE_F16, ARCH_ACT_NONE);
    n.t[2].offset = n.blob_len;
    expect_refused(&n, -EPROTO, "layers[1] (\"2.weight\")", "outside the blob");
    /* offset + length wraps around: must not pass as "small". */
    net_init(&n, SCHEMA_DTYPE_F32, ARCH_ACT_NONE);
    n.t[0].offset = UINT64_MAX - 8;
    expect_refused(&n, -EPROTO, "layers[0] (\"0.weight\")", "outside the blob");
    /* A table that claims fewer bytes than out × in: the kernels would read past it. */
    net_init(&n, SCHEMA_DTYPE_BF16, ARCH_ACT_NONE);
    n.t[2].length -= 2;
    expect_refused(&n, -EPROTO, "layers[1] (\"2.weight\")", "not 12");
    /* No blob at all. */
    net_init(&n, SCHEMA_DTYPE_F32, ARCH_ACT_NONE);
    struct kern_model km;
    struct kern_layer *l = NULL;
    char err[256];
    KT_ASSERT_INT_EQ(model_map_build(&n.a, n.t, 4, NULL, 0, &km, &l, err, sizeof(err)), -EINVAL);
    KT_ASSERT(!l);
}

static void build_refuses_bad_indexes_and_enums(void)
{
    struct net n;
    net_init(&n, SCHEMA_DTYPE_F32, ARCH_ACT_NONE);
    n.al[1].weight_index = 4; /* bound to a larger table than the one given */
    expect_refused(&n, -EPROTO, "layers[1] (\"2.weight\")", "weight tensor index 4");
    net_init(&n, SCHEMA_DTYPE_F32, ARCH_ACT_NONE);
    n.al[0].weight_index = -1; /* never bound */
    expect_refused(&n, -EPROTO, "layers[0] (\"0.weight\")", "weight tensor index -1");
    net_init(&n, SCHEMA_DTYPE_F32, ARCH_ACT_NONE);
    n.al[0].bias_index = 7;
    expect_refused(&n, -EPROTO, "layers[0]", "bias tensor index 7");
    net_init(&n, SCHEMA_DTYPE_F32, ARCH_ACT_NONE);
    n.al[1].bias_index = -2;
    expect_refused(&n, -EPROTO, "layers[1]", "bias tensor index -2");

    for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
        net_init(&n, SCHEMA_DTYPE_F32, ARCH_ACT_NONE);
        n.al[1].activation = (enum arch_act)bad_values[i];
        expect_refused(&n, -EPROTO, "layers[1] (\"2.weight\")", "unknown activation");
        net_init(&n, SCHEMA_DTYPE_F32, ARCH_ACT_NONE);
        n.t[1].dtype = (enum schema_dtype)bad_values[i];
        expect_refused(&n, -EPROTO, "layers[0]", "\"0.bias\" has unknown dtype");
        net_init(&n, SCHEMA_DTYPE_F32, ARCH_ACT_NONE);
        n.a.output = (enum arch_output)bad_values[i];
        expect_refused(&n, -EPROTO, "unknown output", NULL);
    }
}

static void build_refuses_what_the_kernels_cannot_run(void)
{
    struct net n;
    net_init(&n, SCHEMA_DTYPE_F32, ARCH_ACT_NONE);
    n.a.n_layers = 0;
    expect_refused(&n, -EPROTO, "0 layers", NULL);
    net_init(&n, SCHEMA_DTYPE_F32, ARCH_ACT_NONE);
    n.a.input_width = KERN_MAX_WIDTH + 1ull;
    expect_refused(&n, -EPROTO, "input width 65537", NULL);
    net_init(&n, SCHEMA_DTYPE_F32, ARCH_ACT_NONE);
    n.al[1].out_width = KERN_MAX_WIDTH + 1ull;
    expect_refused(&n, -EPROTO, "layers[1] (\"2.weight\")", "65537 x 3");
    /* Widths that do not chain (an architecture bound to other tensors): the
     * tensor sizes are right for the layer, the model is not. */
    net_init(&n, SCHEMA_DTYPE_F32, ARCH_ACT_NONE);
    n.a.input_width = 3;
    expect_refused(&n, -EPROTO, "not a model the kernels can run", "layer 0");
}

int main(void)
{
    KT_RUN(acts_map_by_name);
    KT_RUN(outputs_map_by_name);
    KT_RUN(dtypes_map_by_name);
    KT_RUN(build_maps_every_dtype_and_act);
    KT_RUN(build_without_bias);
    KT_RUN(build_refuses_tensors_outside_the_blob);
    KT_RUN(build_refuses_bad_indexes_and_enums);
    KT_RUN(build_refuses_what_the_kernels_cannot_run);
    return 0;
}
