/* The manifest's network as a kern_model, and the in-place fit question. */
#include "worker/loader.h"

#include "common/kf_err.h"

#include <errno.h>
#include <stdlib.h>

static enum kern_dtype dtype_of(enum schema_dtype dt)
{
    switch (dt) {
    case SCHEMA_DTYPE_F16: return KERN_DTYPE_F16;
    case SCHEMA_DTYPE_BF16: return KERN_DTYPE_BF16;
    case SCHEMA_DTYPE_F32:
    default: return KERN_DTYPE_F32;
    }
}

static enum kern_act act_of(enum arch_act a)
{
    switch (a) {
    case ARCH_ACT_RELU: return KERN_ACT_RELU;
    case ARCH_ACT_GELU: return KERN_ACT_GELU;
    case ARCH_ACT_TANH: return KERN_ACT_TANH;
    case ARCH_ACT_SIGMOID: return KERN_ACT_SIGMOID;
    case ARCH_ACT_NONE:
    default: return KERN_ACT_NONE;
    }
}

int loader_model(const struct store_version *sv, struct kern_model *km, struct kern_layer **layers,
                 char *errstr, size_t errstr_size)
{
    *layers = NULL;
    const struct manifest *m = sv->manifest;
    const struct arch_desc *a = &m->arch;
    /* manifest_validate bound the architecture to the tensor table and the
     * table to the blob; what is left are kern_model's own limits. */
    if (!a->n_layers || a->n_layers > KERN_MAX_LAYERS || a->input_width > KERN_MAX_WIDTH ||
        !sv->blob || sv->blob_size != m->blob_size) {
        kf_errf(errstr, errstr_size,
                "architecture: %zu layers, input width %llu (limits: %u layers, width %u)",
                a->n_layers, (unsigned long long)a->input_width, KERN_MAX_LAYERS, KERN_MAX_WIDTH);
        return -EPROTO;
    }
    struct kern_layer *l = calloc(a->n_layers, sizeof(*l));
    if (!l)
        return -ENOMEM;
    for (size_t i = 0; i < a->n_layers; i++) {
        const struct arch_layer *al = &a->layers[i];
        if (al->in_width > KERN_MAX_WIDTH || al->out_width > KERN_MAX_WIDTH ||
            al->weight_index < 0 || (size_t)al->weight_index >= m->n_tensors ||
            (al->bias_index >= 0 && (size_t)al->bias_index >= m->n_tensors)) {
            kf_errf(errstr, errstr_size, "layers[%zu]: %llu x %llu is wider than %u", i,
                    (unsigned long long)al->out_width, (unsigned long long)al->in_width,
                    KERN_MAX_WIDTH);
            free(l);
            return -EPROTO;
        }
        const struct schema_tensor *w = &m->tensors[al->weight_index];
        l[i] = (struct kern_layer){
            .out_width = (uint32_t)al->out_width,
            .in_width = (uint32_t)al->in_width,
            .weight_dtype = dtype_of(w->dtype),
            .weight = sv->blob + w->offset,
            .act = act_of(al->activation),
        };
        if (al->bias_index >= 0) {
            const struct schema_tensor *b = &m->tensors[al->bias_index];
            l[i].bias_dtype = dtype_of(b->dtype);
            l[i].bias = sv->blob + b->offset;
        }
    }
    *km = (struct kern_model){
        .input_width = (uint32_t)a->input_width,
        .n_layers = (uint32_t)a->n_layers,
        .layers = l,
        .final = a->output == ARCH_OUTPUT_SOFTMAX ? KERN_FINAL_SOFTMAX : KERN_FINAL_NONE,
    };
    char why[256];
    int err = kern_model_validate(km, why, sizeof(why));
    if (err) {
        kf_errf(errstr, errstr_size, "the manifest's network is not a valid model: %s", why);
        free(l);
        return -EPROTO;
    }
    *layers = l;
    return 0;
}

int loader_fits_inplace(struct kern_backend *be, const struct store_version *sv, uint32_t max_rows,
                        uint64_t budget_bytes, uint64_t resident_bytes, bool *fits,
                        uint64_t *need_bytes, char *errstr, size_t errstr_size)
{
    if (!be || !sv || !sv->manifest || !fits || !max_rows || max_rows > KERN_MAX_ROWS) {
        kf_errf(errstr, errstr_size, "loader_fits_inplace: bad argument");
        return -EINVAL;
    }
    struct kern_model km;
    struct kern_layer *layers;
    int err = loader_model(sv, &km, &layers, errstr, errstr_size);
    if (err)
        return err;
    uint64_t need = 0;
    err = kern_weights_size(be, &km, max_rows, &need);
    free(layers);
    if (err) {
        kf_errf(errstr, errstr_size, "kern_weights_size: %s", kf_strerror(err));
        return err;
    }
    if (need_bytes)
        *need_bytes = need;
    if (kern_backend_supports(be, KERN_CAP_DEVICE_MEMORY)) {
        size_t free_b = 0, total_b = 0;
        if ((err = kern_backend_mem_info(be, &free_b, &total_b))) {
            kf_errf(errstr, errstr_size, "device memory query: %s", kern_last_error());
            return err;
        }
        uint64_t margin = need / 16 > LOADER_INPLACE_MARGIN ? need / 16 : LOADER_INPLACE_MARGIN;
        *fits = (uint64_t)free_b >= need + margin;
    } else {
        *fits = !budget_bytes ||
                (resident_bytes <= budget_bytes && need <= budget_bytes - resident_bytes);
    }
    return 0;
}
