/* Golden vectors from the reference backend. */
#include "publisher/pub_golden.h"

#include "common/kf_err.h"
#include "kernels/kern_backend.h"
#include "schema/model_map.h"

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
    int err = model_map_build(&m->arch, m->tensors, m->n_tensors, blob, blob_size, &km, &layers,
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
    int err = model_map_build(&m->arch, m->tensors, m->n_tensors, blob, blob_size, &km, &layers,
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
