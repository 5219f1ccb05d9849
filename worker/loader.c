/* loader_load: kern_weights_load, one warm-up batch, the golden check. */
#include "worker/loader.h"

#include "common/kf_clock.h"
#include "common/kf_err.h"
#include "common/kf_log.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "loader"

/* A slot_version made here; impl points back at the whole. */
struct loader_version {
    struct slot_version v; /* first: destroy frees the whole */
    struct kern_backend *be;
    struct kern_weights *w;
};

static void loader_destroy(struct slot_version *v)
{
    struct loader_version *lv = v->impl;
    kern_weights_free(lv->be, lv->w);
    free(lv);
}

struct kern_weights *loader_weights(const struct slot_version *v)
{
    if (!v || v->destroy != loader_destroy)
        return NULL;
    return ((const struct loader_version *)v->impl)->w;
}

void loader_version_free(struct slot_version *v)
{
    if (v && v->destroy)
        v->destroy(v);
}

/* Run @p rows golden rows from @p first through the weights into @p got. */
static int run_rows(struct kern_backend *be, struct kern_weights *w, const struct manifest *m,
                    uint64_t first, uint32_t rows, float *got)
{
    float *in, *out;
    kern_weights_io(w, &in, &out);
    size_t iw = (size_t)m->arch.input_width, ow = (size_t)m->arch.output_width;
    memcpy(in, m->golden.inputs + first * iw, (size_t)rows * iw * sizeof(float));
    int err = kern_forward(be, w, in, rows, out);
    if (!err && got)
        memcpy(got, out, (size_t)rows * ow * sizeof(float));
    return err;
}

/* Name the value furthest outside the tolerance (NaN first). */
static void describe_mismatch(const struct manifest *m, const float *got, char *errstr,
                              size_t errstr_size)
{
    const struct manifest_golden *g = &m->golden;
    size_t worst = 0, bad = 0;
    double worst_excess = -HUGE_VAL;
    for (size_t i = 0; i < g->n_outputs; i++) {
        double want = (double)g->outputs[i], d = fabs((double)got[i] - want);
        double excess = isnan(d) ? HUGE_VAL : d - (g->atol + g->rtol * fabs(want));
        if (excess > 0) {
            bad++;
            if (excess > worst_excess) {
                worst_excess = excess;
                worst = i;
            }
        }
    }
    size_t ow = (size_t)m->arch.output_width;
    double want = (double)g->outputs[worst];
    kf_errf(errstr, errstr_size,
            "golden outputs do not match: %zu of %zu values out of tolerance; worst at row %zu "
            "column %zu: got %.9g, want %.9g (|diff| %.3g > atol %.3g + rtol %.3g x |want| = %.3g)",
            bad, g->n_outputs, worst / ow, worst % ow, (double)got[worst], want,
            fabs((double)got[worst] - want), g->atol, g->rtol, g->atol + g->rtol * fabs(want));
}

int loader_load(struct kern_backend *be, const struct store_version *sv, uint32_t max_rows,
                struct slot_version **out, struct loader_timings *timings,
                enum ctl_stage *failed_stage, char *errstr, size_t errstr_size)
{
    enum ctl_stage stage_local, *stage = failed_stage ? failed_stage : &stage_local;
    *stage = CTL_STAGE_LOAD;
    if (out)
        *out = NULL;
    if (timings)
        memset(timings, 0, sizeof(*timings));
    if (!be || !sv || !sv->manifest || !out || !max_rows || max_rows > KERN_MAX_ROWS) {
        kf_errf(errstr, errstr_size, "loader_load: bad argument");
        return -EINVAL;
    }
    const struct manifest *m = sv->manifest;
    if (strlen(sv->version) >= sizeof(((struct slot_version *)0)->version)) {
        kf_errf(errstr, errstr_size, "%s/%s: version name longer than %zu bytes", sv->model,
                sv->version, sizeof(((struct slot_version *)0)->version) - 1);
        return -ENAMETOOLONG;
    }
    struct kern_model km;
    struct kern_layer *layers = NULL;
    struct loader_version *lv = NULL;
    float *got = NULL;
    char why[512];
    int err = loader_model(sv, &km, &layers, why, sizeof(why));
    if (err) {
        kf_errf(errstr, errstr_size, "%s/%s: %s", sv->model, sv->version, why);
        goto out;
    }
    if ((err = kern_backend_supports_model(be, &km, why, sizeof(why)))) {
        kf_errf(errstr, errstr_size, "%s/%s: backend %s: %s", sv->model, sv->version,
                kern_backend_name(be), why);
        goto out;
    }
    if (!(lv = calloc(1, sizeof(*lv)))) {
        err = -ENOMEM;
        kf_errf(errstr, errstr_size, "out of memory");
        goto out;
    }
    lv->be = be;

    int64_t t0 = kf_clock_mono_us();
    if ((err = kern_weights_load(be, &km, max_rows, &lv->w, why, sizeof(why)))) {
        kf_errf(errstr, errstr_size, "%s/%s: loading %llu bytes of weights on %s: %s", sv->model,
                sv->version, (unsigned long long)kern_model_weight_bytes(&km),
                kern_backend_name(be), why);
        goto out;
    }
    int64_t t1 = kf_clock_mono_us();

    const uint64_t rows = m->golden.rows;
    uint32_t warm = rows < max_rows ? (uint32_t)rows : max_rows;
    *stage = CTL_STAGE_WARMUP;
    if ((err = run_rows(be, lv->w, m, 0, warm, NULL))) {
        kf_errf(errstr, errstr_size, "%s/%s: warm-up batch of %u rows failed: %s", sv->model,
                sv->version, warm, kern_last_error());
        goto out;
    }
    int64_t t2 = kf_clock_mono_us();

    *stage = CTL_STAGE_VALIDATE;
    if (!(got = malloc(m->golden.n_outputs * sizeof(float)))) {
        err = -ENOMEM;
        kf_errf(errstr, errstr_size, "out of memory");
        goto out;
    }
    for (uint64_t r = 0; r < rows; r += max_rows) {
        uint32_t n = rows - r < max_rows ? (uint32_t)(rows - r) : max_rows;
        if ((err = run_rows(be, lv->w, m, r, n, got + r * m->arch.output_width))) {
            kf_errf(errstr, errstr_size, "%s/%s: golden batch at row %llu failed: %s", sv->model,
                    sv->version, (unsigned long long)r, kern_last_error());
            goto out;
        }
    }
    if ((err = manifest_golden_check(m, got, m->golden.n_outputs, NULL))) {
        describe_mismatch(m, got, why, sizeof(why));
        kf_errf(errstr, errstr_size, "%s/%s on %s: %s", sv->model, sv->version,
                kern_backend_name(be), why);
        err = -EBADMSG;
        goto out;
    }
    int64_t t3 = kf_clock_mono_us();

    struct slot_version *v = &lv->v;
    snprintf(v->version, sizeof(v->version), "%s", sv->version);
    memcpy(v->manifest_sha256, sv->manifest_sha256, sizeof(v->manifest_sha256));
    v->seq = sv->seq;
    v->input_width = (size_t)m->arch.input_width;
    v->output_width = (size_t)m->arch.output_width;
    uint64_t bytes = 0;
    v->weight_bytes =
        kern_weights_size(be, &km, max_rows, &bytes) ? kern_model_weight_bytes(&km) : (size_t)bytes;
    v->impl = lv;
    v->destroy = loader_destroy;
    if (timings)
        *timings = (struct loader_timings){
            .load_us = (uint64_t)(t1 - t0),
            .warmup_us = (uint64_t)(t2 - t1),
            .validate_us = (uint64_t)(t3 - t2),
        };
    KF_LOG_I(MOD,
             "%s/%s loaded on %s: %zu bytes, load %lld ms, warm-up %lld ms, golden %llu "
             "rows ok in %lld ms",
             sv->model, sv->version, kern_backend_name(be), v->weight_bytes,
             (long long)((t1 - t0) / 1000), (long long)((t2 - t1) / 1000), (unsigned long long)rows,
             (long long)((t3 - t2) / 1000));
    *out = v;
    lv = NULL;
out:
    if (lv) {
        kern_weights_free(be, lv->w);
        free(lv);
    }
    free(got);
    free(layers);
    return err;
}
