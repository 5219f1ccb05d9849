/* Golden vectors from the reference backend. */
#include "publisher/pub_golden.h"

#include "common/kf_err.h"
#include "kernels/kern_backend.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void pub_golden_inputs(uint64_t seed, float *x, size_t n)
{
    uint64_t s = seed ? seed : 0x9e3779b97f4a7c15ull; /* xorshift must not start at 0 */
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        x[i] = (float)((double)(s >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
    }
}

void pub_golden_tolerance(enum schema_dtype dtype, double *atol, double *rtol)
{
    /* f32: only the summation order differs between backends. f16/bf16: the
     * activations are rounded to the weights' dtype before each layer, so a
     * last-bit difference in one layer can move an input by one half-precision
     * ulp (2^-11 for f16, 2^-8 for bf16) in the next. */
    switch (dtype) {
    case SCHEMA_DTYPE_F16:
        *atol = 2e-3;
        *rtol = 1e-2;
        break;
    case SCHEMA_DTYPE_BF16:
        *atol = 1e-2;
        *rtol = 4e-2;
        break;
    case SCHEMA_DTYPE_F32:
    default:
        *atol = 1e-4;
        *rtol = 1e-3;
        break;
    }
}

static enum kern_dtype kdtype(enum schema_dtype dt)
{
    switch (dt) {
    case SCHEMA_DTYPE_F16: return KERN_DTYPE_F16;
    case SCHEMA_DTYPE_BF16: return KERN_DTYPE_BF16;
    case SCHEMA_DTYPE_F32:
    default: return KERN_DTYPE_F32;
    }
}

static enum kern_act kact(enum arch_act a)
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

int pub_golden_model(const struct arch_desc *a, const struct schema_tensor *t, size_t n_tensors,
                     const uint8_t *blob, uint64_t blob_size, struct kern_model *km,
                     struct kern_layer **layers, char *errstr, size_t errstr_size)
{
    *layers = NULL;
    if (!a->n_layers || a->n_layers > KERN_MAX_LAYERS || a->input_width > KERN_MAX_WIDTH) {
        kf_errf(errstr, errstr_size,
                "%zu layers of input width %llu: the kernels take 1..%u layers, widths up to %u",
                a->n_layers, (unsigned long long)a->input_width, KERN_MAX_LAYERS, KERN_MAX_WIDTH);
        return -EPROTO;
    }
    struct kern_layer *l = calloc(a->n_layers, sizeof(*l));
    if (!l)
        return -ENOMEM;
    for (size_t i = 0; i < a->n_layers; i++) {
        const struct arch_layer *al = &a->layers[i];
        /* arch_bind checked names, shapes and chaining; what is left is that
         * the indexes are of this table and the bytes lie in this blob. */
        bool ok = al->weight_index >= 0 && (size_t)al->weight_index < n_tensors &&
                  al->bias_index < (long)n_tensors && al->in_width <= KERN_MAX_WIDTH &&
                  al->out_width <= KERN_MAX_WIDTH;
        const struct schema_tensor *w = ok ? &t[al->weight_index] : NULL;
        const struct schema_tensor *b = ok && al->bias_index >= 0 ? &t[al->bias_index] : NULL;
        ok = ok && w->offset + w->length <= blob_size && (!b || b->offset + b->length <= blob_size);
        if (!ok) {
            kf_errf(errstr, errstr_size, "layers[%zu] (%s): %llu x %llu does not fit the kernels",
                    i, al->weight, (unsigned long long)al->out_width,
                    (unsigned long long)al->in_width);
            free(l);
            return -EPROTO;
        }
        l[i] = (struct kern_layer){
            .out_width = (uint32_t)al->out_width,
            .in_width = (uint32_t)al->in_width,
            .weight_dtype = kdtype(w->dtype),
            .weight = blob + w->offset,
            .bias_dtype = b ? kdtype(b->dtype) : KERN_DTYPE_F32,
            .bias = b ? blob + b->offset : NULL,
            .act = kact(al->activation),
        };
    }
    *km = (struct kern_model){
        .input_width = (uint32_t)a->input_width,
        .n_layers = (uint32_t)a->n_layers,
        .layers = l,
        .final = a->output == ARCH_OUTPUT_SOFTMAX ? KERN_FINAL_SOFTMAX : KERN_FINAL_NONE,
    };
    char why[256];
    if (kern_model_validate(km, why, sizeof(why))) {
        kf_errf(errstr, errstr_size, "not a model the kernels can run: %s", why);
        free(l);
        return -EPROTO;
    }
    *layers = l;
    return 0;
}

/* Forward @p rows of @p in through the reference backend into @p out. */
static int ref_forward(const struct kern_model *km, const float *in, uint32_t rows, float *out,
                       char *errstr, size_t errstr_size)
{
    char msg[256];
    struct kern_backend *be = kern_backend_new("ref", NULL, msg, sizeof(msg));
    if (!be) {
        kf_errf(errstr, errstr_size, "reference backend: %s", msg);
        return -EIO;
    }
    struct kern_weights *kw = NULL;
    int err = kern_weights_load(be, km, rows, &kw, msg, sizeof(msg));
    if (err)
        kf_errf(errstr, errstr_size, "reference backend: load: %s", msg);
    else if ((err = kern_forward(be, kw, in, rows, out)))
        kf_errf(errstr, errstr_size, "reference backend: forward: %s", kern_last_error());
    kern_weights_free(be, kw);
    kern_backend_free(be);
    return err;
}

int pub_golden_compute(struct manifest *m, const uint8_t *blob, uint64_t blob_size,
                       const struct pub_golden_opts *o, char *errstr, size_t errstr_size)
{
    if (!o->rows || o->rows > MANIFEST_MAX_GOLDEN_ROWS) {
        kf_errf(errstr, errstr_size, "golden rows: %u is not in 1..%u", o->rows,
                MANIFEST_MAX_GOLDEN_ROWS);
        return -EINVAL;
    }
    struct kern_model km;
    struct kern_layer *layers = NULL;
    int err = pub_golden_model(&m->arch, m->tensors, m->n_tensors, blob, blob_size, &km, &layers,
                               errstr, errstr_size);
    if (err)
        return err;
    size_t n_in = (size_t)o->rows * km.input_width;
    size_t n_out = (size_t)o->rows * kern_model_output_width(&km);
    float *in = malloc(n_in * sizeof(float));
    float *out = malloc(n_out * sizeof(float));
    if (!in || !out) {
        err = -ENOMEM;
        goto out;
    }
    pub_golden_inputs(o->seed, in, n_in);
    if ((err = ref_forward(&km, in, o->rows, out, errstr, errstr_size)))
        goto out;
    out[0] += o->skew;
    double atol = o->atol, rtol = o->rtol;
    if (atol == 0 && rtol == 0)
        pub_golden_tolerance(m->dtype, &atol, &rtol);
    if ((err = manifest_set_golden(m, o->rows, in, out, atol, rtol)))
        kf_errf(errstr, errstr_size, "golden vectors: %s", kf_strerror(err));
out:
    free(in);
    free(out);
    free(layers);
    return err;
}

int pub_golden_reproduce(const struct manifest *m, const uint8_t *blob, uint64_t blob_size,
                         size_t *bad_index, char *errstr, size_t errstr_size)
{
    const struct manifest_golden *g = &m->golden;
    if (!g->rows || !g->inputs || !g->outputs) {
        kf_errf(errstr, errstr_size, "the manifest has no golden vectors");
        return -EPROTO;
    }
    struct kern_model km;
    struct kern_layer *layers = NULL;
    int err = pub_golden_model(&m->arch, m->tensors, m->n_tensors, blob, blob_size, &km, &layers,
                               errstr, errstr_size);
    if (err)
        return err;
    float *out = malloc(g->n_outputs * sizeof(float));
    if (!out) {
        free(layers);
        return -ENOMEM;
    }
    err = ref_forward(&km, g->inputs, (uint32_t)g->rows, out, errstr, errstr_size);
    size_t bad = 0;
    if (!err && (err = manifest_golden_check(m, out, g->n_outputs, &bad)) == -EBADMSG) {
        kf_errf(errstr, errstr_size,
                "golden output %zu: the reference computes %.9g, the manifest says %.9g "
                "(atol %g, rtol %g)",
                bad, (double)out[bad], (double)g->outputs[bad], g->atol, g->rtol);
        if (bad_index)
            *bad_index = bad;
    } else if (err == -EINVAL) {
        kf_errf(errstr, errstr_size, "golden vectors: %zu outputs for %llu rows", g->n_outputs,
                (unsigned long long)g->rows);
        err = -EPROTO;
    }
    free(out);
    free(layers);
    return err;
}
