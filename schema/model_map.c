/* The manifest → kern_model mapping (see model_map.h for why it is one module).
 *
 * The switches list every enum constant and have no default, so that a new
 * constant on either side makes the compiler (-Wswitch) point here, and a
 * value outside the enum falls through to the error return. */
#include "schema/model_map.h"

#include "common/kf_err.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

int model_map_dtype(enum schema_dtype dt, enum kern_dtype *out)
{
    switch (dt) {
    case SCHEMA_DTYPE_F32: *out = KERN_DTYPE_F32; return 0;
    case SCHEMA_DTYPE_F16: *out = KERN_DTYPE_F16; return 0;
    case SCHEMA_DTYPE_BF16: *out = KERN_DTYPE_BF16; return 0;
    }
    return -EINVAL;
}

int model_map_act(enum arch_act act, enum kern_act *out)
{
    switch (act) {
    case ARCH_ACT_NONE: *out = KERN_ACT_NONE; return 0;
    case ARCH_ACT_RELU: *out = KERN_ACT_RELU; return 0;
    case ARCH_ACT_GELU: *out = KERN_ACT_GELU; return 0;
    case ARCH_ACT_TANH: *out = KERN_ACT_TANH; return 0;
    case ARCH_ACT_SIGMOID: *out = KERN_ACT_SIGMOID; return 0;
    }
    return -EINVAL;
}

int model_map_output(enum arch_output output, enum kern_final *out)
{
    switch (output) {
    case ARCH_OUTPUT_NONE: *out = KERN_FINAL_NONE; return 0;
    case ARCH_OUTPUT_SOFTMAX: *out = KERN_FINAL_SOFTMAX; return 0;
    }
    return -EINVAL;
}

/* Tensor @p idx of the table (the layer's @p role: weight or bias) as @p elems elements inside the
 * blob. The exact length is checked (not just "inside the blob") because the kernels read out × in
 * elements from the pointer whatever the table says. */
static int map_tensor(const char *role, const struct schema_tensor *t, size_t n_tensors, long idx,
                      uint64_t elems, const uint8_t *blob, uint64_t blob_size, const void **data,
                      enum kern_dtype *dt, char *why, size_t why_size)
{
    if (idx < 0 || (size_t)idx >= n_tensors) {
        kf_errf(why, why_size, "%s tensor index %ld is not in the table of %zu", role, idx,
                n_tensors);
        return -EPROTO;
    }
    const struct schema_tensor *ts = &t[idx];
    if (model_map_dtype(ts->dtype, dt)) {
        kf_errf(why, why_size, "tensor \"%s\" has unknown dtype %d", ts->name, (int)ts->dtype);
        return -EPROTO;
    }
    uint64_t want = elems * kern_dtype_size(*dt);
    if (ts->length != want) {
        kf_errf(why, why_size, "tensor \"%s\" is %" PRIu64 " bytes, not %" PRIu64, ts->name,
                ts->length, want);
        return -EPROTO;
    }
    /* offset + length could wrap; compared this way it cannot. */
    if (ts->length > blob_size || ts->offset > blob_size - ts->length) {
        kf_errf(why, why_size,
                "tensor \"%s\" (bytes %" PRIu64 " + %" PRIu64 ") lies outside the blob of %" PRIu64
                " bytes",
                ts->name, ts->offset, ts->length, blob_size);
        return -EPROTO;
    }
    *data = blob + ts->offset;
    return 0;
}

/* One layer; @p why gets the reason without the layer's name (the caller adds it). */
static int map_layer(const struct arch_layer *al, const struct schema_tensor *t, size_t n_tensors,
                     const uint8_t *blob, uint64_t blob_size, struct kern_layer *kl, char *why,
                     size_t why_size)
{
    if (!al->in_width || al->in_width > KERN_MAX_WIDTH || !al->out_width ||
        al->out_width > KERN_MAX_WIDTH) {
        kf_errf(why, why_size, "%" PRIu64 " x %" PRIu64 " is not within the kernels' 1..%u",
                al->out_width, al->in_width, KERN_MAX_WIDTH);
        return -EPROTO;
    }
    if (model_map_act(al->activation, &kl->act)) {
        kf_errf(why, why_size, "unknown activation %d", (int)al->activation);
        return -EPROTO;
    }
    kl->out_width = (uint32_t)al->out_width;
    kl->in_width = (uint32_t)al->in_width;
    int err = map_tensor("weight", t, n_tensors, al->weight_index, al->out_width * al->in_width,
                         blob, blob_size, &kl->weight, &kl->weight_dtype, why, why_size);
    if (err)
        return err;
    kl->bias = NULL;
    kl->bias_dtype = KERN_DTYPE_F32; /* ignored without a bias; a defined value all the same */
    if (al->bias_index == -1)
        return 0;
    return map_tensor("bias", t, n_tensors, al->bias_index, al->out_width, blob, blob_size,
                      &kl->bias, &kl->bias_dtype, why, why_size);
}

int model_map_build(const struct arch_desc *a, const struct schema_tensor *t, size_t n_tensors,
                    const uint8_t *blob, uint64_t blob_size, struct kern_model *km,
                    struct kern_layer **layers, char *errstr, size_t errstr_size)
{
    if (layers)
        *layers = NULL;
    if (!a || (!t && n_tensors) || !blob || !km || !layers) {
        kf_errf(errstr, errstr_size, "model_map_build: %s", !blob ? "no blob" : "bad argument");
        return -EINVAL;
    }
    if (!a->n_layers || a->n_layers > KERN_MAX_LAYERS || !a->input_width ||
        a->input_width > KERN_MAX_WIDTH) {
        kf_errf(errstr, errstr_size,
                "architecture: %zu layers of input width %" PRIu64
                ": the kernels take 1..%u layers, widths 1..%u",
                a->n_layers, a->input_width, KERN_MAX_LAYERS, KERN_MAX_WIDTH);
        return -EPROTO;
    }
    enum kern_final final;
    if (model_map_output(a->output, &final)) {
        kf_errf(errstr, errstr_size, "architecture: unknown output %d", (int)a->output);
        return -EPROTO;
    }
    struct kern_layer *l = calloc(a->n_layers, sizeof(*l));
    if (!l) {
        kf_errf(errstr, errstr_size, "out of memory");
        return -ENOMEM;
    }
    char why[512];
    for (size_t i = 0; i < a->n_layers; i++) {
        const struct arch_layer *al = &a->layers[i];
        if (map_layer(al, t, n_tensors, blob, blob_size, &l[i], why, sizeof(why))) {
            kf_errf(errstr, errstr_size, "layers[%zu] (\"%s\"): %s", i, al->weight, why);
            free(l);
            return -EPROTO;
        }
    }
    *km = (struct kern_model){
        .input_width = (uint32_t)a->input_width,
        .n_layers = (uint32_t)a->n_layers,
        .layers = l,
        .final = final,
    };
    if (kern_model_validate(km, why, sizeof(why))) {
        kf_errf(errstr, errstr_size, "not a model the kernels can run: %s", why);
        free(l);
        return -EPROTO;
    }
    *layers = l;
    return 0;
}
