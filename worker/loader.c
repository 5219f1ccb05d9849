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

/* The model of @p sv, checked against what a slot_version and @p be can take. */
static int model_for(struct kern_backend *be, const struct store_version *sv, struct kern_model *km,
                     struct kern_layer **layers, char *errstr, size_t errstr_size)
{
    char why[512];
    *layers = NULL;
    if (strlen(sv->version) >= sizeof(((struct slot_version *)0)->version)) {
        kf_errf(errstr, errstr_size, "%s/%s: version name longer than %zu bytes", sv->model,
                sv->version, sizeof(((struct slot_version *)0)->version) - 1);
        return -ENAMETOOLONG;
    }
    int err = loader_model(sv, km, layers, why, sizeof(why));
    if (err) {
        kf_errf(errstr, errstr_size, "%s/%s: %s", sv->model, sv->version, why);
        return err;
    }
    if ((err = kern_backend_supports_model(be, km, why, sizeof(why)))) {
        kf_errf(errstr, errstr_size, "%s/%s: backend %s: %s", sv->model, sv->version,
                kern_backend_name(be), why);
        free(*layers);
        *layers = NULL;
    }
    return err;
}

/* After the load: the golden rows, then the slot_version. The first golden batch is the warm-up
 * (its failure is stage warmup, its time warmup_us): the warm-up's purpose is that a batch has
 * run on the new weights before the first request, and the first golden batch is that batch —
 * the same rows (the first min(max_rows, golden rows)) the separate warm-up batch ran before —
 * so running it twice bought nothing. The later golden batches and the comparison are
 * validate. On failure lv is left to the caller. */
static int finish(struct kern_backend *be, const struct store_version *sv,
                  const struct kern_model *km, struct loader_version *lv, uint32_t max_rows,
                  uint64_t load_us, struct slot_version **out, struct loader_timings *timings,
                  enum ctl_stage *stage, char *errstr, size_t errstr_size)
{
    const struct manifest *m = sv->manifest;
    const uint64_t rows = m->golden.rows;
    char why[512];
    int err = 0;
    float *got = malloc(m->golden.n_outputs ? m->golden.n_outputs * sizeof(float) : 1);
    if (!got) {
        *stage = CTL_STAGE_WARMUP;
        kf_errf(errstr, errstr_size, "out of memory");
        return -ENOMEM;
    }
    int64_t t1 = kf_clock_mono_us(), t2 = t1;
    uint64_t r = 0;
    do {
        uint32_t n = rows - r < max_rows ? (uint32_t)(rows - r) : max_rows;
        *stage = r == 0 ? CTL_STAGE_WARMUP : CTL_STAGE_VALIDATE;
        if (n && (err = run_rows(be, lv->w, m, r, n, got + r * m->arch.output_width))) {
            if (r == 0)
                kf_errf(errstr, errstr_size, "%s/%s: warm-up batch of %u rows failed: %s",
                        sv->model, sv->version, n, kern_last_error());
            else
                kf_errf(errstr, errstr_size, "%s/%s: golden batch at row %llu failed: %s",
                        sv->model, sv->version, (unsigned long long)r, kern_last_error());
            goto out;
        }
        if (r == 0)
            t2 = kf_clock_mono_us();
        r += max_rows;
    } while (r < rows);
    *stage = CTL_STAGE_VALIDATE;
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
        kern_weights_size(be, km, max_rows, &bytes) ? kern_model_weight_bytes(km) : (size_t)bytes;
    v->impl = lv;
    v->destroy = loader_destroy;
    if (timings)
        *timings = (struct loader_timings){
            .load_us = load_us,
            .warmup_us = (uint64_t)(t2 - t1),
            .validate_us = (uint64_t)(t3 - t2),
        };
    KF_LOG_I(MOD,
             "%s/%s loaded on %s: %zu bytes, load %llu ms, warm-up %lld ms, golden %llu "
             "rows ok in %lld ms",
             sv->model, sv->version, kern_backend_name(be), v->weight_bytes,
             (unsigned long long)(load_us / 1000), (long long)((t2 - t1) / 1000),
             (unsigned long long)rows, (long long)((t3 - t1) / 1000));
    *out = v;
out:
    free(got);
    return err;
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
    struct kern_model km;
    struct kern_layer *layers = NULL;
    struct loader_version *lv = NULL;
    char why[512];
    int err = model_for(be, sv, &km, &layers, errstr, errstr_size);
    if (err)
        goto out;
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
    uint64_t load_us = (uint64_t)(kf_clock_mono_us() - t0);
    if ((err =
             finish(be, sv, &km, lv, max_rows, load_us, out, timings, stage, errstr, errstr_size)))
        goto out;
    lv = NULL;
out:
    if (lv) {
        kern_weights_free(be, lv->w);
        free(lv);
    }
    free(layers);
    return err;
}

/* ------------------------------------------------------- the pipelined load */

/* A pipelined load: the store's on_verified context. The store makes one call at a time, so
 * nothing here needs a lock; everything is read by loader_fetch_load after the fetch returns
 * (its threads are joined by then). */
struct pipe {
    struct kern_backend *be;
    uint32_t max_rows;
    loader_decide_fn *decide;
    void *decide_ctx;
    bool started; /* the first call came: decided, and (unless skip) begun */
    bool skip;    /* decide said no: nothing is loaded */
    int err;      /* the first load failure; then nothing more is loaded */
    char errstr[768];
    struct kern_model km;
    struct kern_layer *layers;
    uint64_t *layer_end; /* per layer: the end of its bytes (weight, bias) in the blob */
    bool *loaded;
    struct loader_version *lv;
    uint64_t load_us; /* begin + every layer, work inside the calls */
};

static uint64_t span_end(const struct store_version *sv, const void *p, uint64_t bytes)
{
    return p ? (uint64_t)((const uint8_t *)p - sv->blob) + bytes : 0;
}

static int pipe_begin(struct pipe *p, const struct store_version *sv)
{
    int err = model_for(p->be, sv, &p->km, &p->layers, p->errstr, sizeof(p->errstr));
    if (err)
        return err;
    uint32_t n = p->km.n_layers;
    if (!(p->layer_end = calloc(n, sizeof(*p->layer_end))) ||
        !(p->loaded = calloc(n, sizeof(*p->loaded))) || !(p->lv = calloc(1, sizeof(*p->lv)))) {
        kf_errf(p->errstr, sizeof(p->errstr), "out of memory");
        return -ENOMEM;
    }
    p->lv->be = p->be;
    for (uint32_t i = 0; i < n; i++) {
        const struct kern_layer *l = &p->km.layers[i];
        uint64_t w = span_end(
            sv, l->weight, (uint64_t)l->out_width * l->in_width * kern_dtype_size(l->weight_dtype));
        uint64_t b = span_end(sv, l->bias, (uint64_t)l->out_width * kern_dtype_size(l->bias_dtype));
        p->layer_end[i] = w > b ? w : b;
    }
    char why[512];
    if ((err = kern_weights_begin(p->be, &p->km, p->max_rows, &p->lv->w, why, sizeof(why))))
        kf_errf(p->errstr, sizeof(p->errstr), "%s/%s: loading %llu bytes of weights on %s: %s",
                sv->model, sv->version, (unsigned long long)kern_model_weight_bytes(&p->km),
                kern_backend_name(p->be), why);
    return err;
}

/* Load every layer whose bytes are all below @p verified (in whatever order they lie in the
 * blob). Called by the store as the verified prefix grows, and once more after the fetch. */
static void pipe_on_verified(void *ctx, const struct store_version *sv, uint64_t verified)
{
    struct pipe *p = ctx;
    if (p->skip || p->err)
        return;
    int64_t t0 = kf_clock_mono_us();
    if (!p->started) {
        p->started = true;
        if (p->decide && !p->decide(p->decide_ctx, sv)) {
            p->skip = true;
            return;
        }
        /* The kern_model needs only the signed manifest's tensor table and the blob's address
         * (model_map_build reads no weight byte), so it is built before any layer is final. */
        if ((p->err = pipe_begin(p, sv)))
            goto out;
    }
    for (uint32_t i = 0; i < p->km.n_layers; i++) {
        if (p->loaded[i] || p->layer_end[i] > verified)
            continue;
        char why[512];
        if ((p->err = kern_weights_load_layer(p->be, p->lv->w, &p->km, i, why, sizeof(why)))) {
            kf_errf(p->errstr, sizeof(p->errstr), "%s/%s: loading layer %u on %s: %s", sv->model,
                    sv->version, i, kern_backend_name(p->be), why);
            goto out;
        }
        p->loaded[i] = true;
    }
out:
    p->load_us += (uint64_t)(kf_clock_mono_us() - t0);
}

static void pipe_fini(struct pipe *p)
{
    if (p->lv) {
        kern_weights_free(p->be, p->lv->w);
        free(p->lv);
    }
    free(p->layers);
    free(p->layer_end);
    free(p->loaded);
}

int loader_fetch_load(struct kern_backend *be, model_store *st, const char *model,
                      const char *version, const struct ctl_manifest_ref *ref, uint32_t max_rows,
                      loader_decide_fn *decide, void *decide_ctx, struct store_version **sv_out,
                      struct slot_version **out, struct loader_timings *timings,
                      enum ctl_stage *failed_stage, char *errstr, size_t errstr_size)
{
    enum ctl_stage stage_local, *stage = failed_stage ? failed_stage : &stage_local;
    *stage = CTL_STAGE_FETCH;
    if (out)
        *out = NULL;
    if (sv_out)
        *sv_out = NULL;
    if (timings)
        memset(timings, 0, sizeof(*timings));
    if (!be || !st || !out || !max_rows || max_rows > KERN_MAX_ROWS) {
        kf_errf(errstr, errstr_size, "loader_fetch_load: bad argument");
        return -EINVAL;
    }
    struct pipe p = {.be = be, .max_rows = max_rows, .decide = decide, .decide_ctx = decide_ctx};
    struct store_version *sv = NULL;
    int err = store_fetch_progress(st, model, version, ref, pipe_on_verified, &p, &sv, stage,
                                   errstr, errstr_size);
    if (err)
        goto out; /* the fetch's error and stage; the partial weights go */
    /* Whatever the calls left (none on a successful fetch, whose last call reports the whole
     * blob, unless the blob is empty). */
    pipe_on_verified(&p, sv, sv->blob_size);
    if (p.skip)
        goto out;
    *stage = CTL_STAGE_LOAD;
    if (p.err) {
        err = p.err;
        kf_errf(errstr, errstr_size, "%s", p.errstr);
        goto out;
    }
    int64_t t0 = kf_clock_mono_us();
    char why[512];
    if ((err = kern_weights_end(be, p.lv->w, why, sizeof(why)))) {
        kf_errf(errstr, errstr_size, "%s/%s: finishing the load on %s: %s", sv->model, sv->version,
                kern_backend_name(be), why);
        goto out;
    }
    p.load_us += (uint64_t)(kf_clock_mono_us() - t0);
    if ((err = finish(be, sv, &p.km, p.lv, max_rows, p.load_us, out, timings, stage, errstr,
                      errstr_size)))
        goto out;
    p.lv = NULL; /* now *out's */
out:
    pipe_fini(&p);
    if (sv_out)
        *sv_out = sv;
    else
        store_version_free(sv);
    return err;
}
