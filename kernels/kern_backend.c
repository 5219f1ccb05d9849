/* The public backend API: selection once at start-up, then argument checks in front of the
 * chosen backend's vtable. Backends trust what arrives through here (STYLE: validate at
 * public entry points, assert inside). */
#include "kernels/kern_backend.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kern_backend_impl.h"

struct kern_backend {
    const struct kern_backend_i *i;
    void *ctx;
};

/* What kern_weights_load_layer() checks a model against: the shapes kern_weights_begin() saw. */
struct layer_shape {
    uint32_t out_width, in_width;
    enum kern_dtype weight_dtype, bias_dtype;
    bool bias;
    enum kern_act act;
};

struct kern_weights {
    struct kern_backend *be; /* the backend that loaded it: a handle of another is refused */
    void *impl;
    uint32_t input_width, output_width, max_rows;
    bool in_flight; /* run() done, sync() not yet */
    /* Incremental load: until `ready`, layers are being loaded and run() refuses the handle. */
    bool ready;
    uint32_t n_layers, n_loaded;
    enum kern_final final;
    struct layer_shape *shapes; /* n_layers; NULL once ready */
    bool *loaded;               /* n_layers; NULL once ready */
};

static const struct kern_backend_i *const backends[] = {
#if KERN_HAVE_CUDA
    &kern_backend_cuda_i,
#endif
    &kern_backend_ref_i,
};

static const struct kern_backend_i *find(const char *name)
{
    for (size_t k = 0; k < sizeof backends / sizeof backends[0]; k++)
        if (!strcmp(backends[k]->name, name))
            return backends[k];
    return NULL;
}

static bool known(const char *name)
{
    return name && (!strcmp(name, "ref") || !strcmp(name, "cuda") || !strcmp(name, "auto"));
}

int kern_backend_probe(const char *name)
{
    if (!known(name))
        return -EINVAL;
    if (!strcmp(name, "auto"))
        return 0; /* the reference always works */
    const struct kern_backend_i *i = find(name);
    if (!i)
        return -ENOTSUP;
    return i->probe ? i->probe() : 0;
}

struct kern_backend *kern_backend_new(const char *name, const struct kern_backend_config *cfg,
                                      char *errstr, size_t errstr_size)
{
    static const struct kern_backend_config defaults;
    if (!known(name)) {
        kern_fail(-EINVAL, errstr, errstr_size, "unknown backend \"%s\" (ref, cuda, auto)",
                  name ? name : "(null)");
        return NULL;
    }
    const struct kern_backend_i *i;
    if (!strcmp(name, "auto")) {
        /* The first built-in backend that probes usable; the reference is last and always is. */
        i = &kern_backend_ref_i;
        for (size_t k = 0; k < sizeof backends / sizeof backends[0]; k++) {
            if (!backends[k]->probe || backends[k]->probe() == 0) {
                i = backends[k];
                break;
            }
        }
    } else {
        i = find(name);
        if (!i) {
            kern_fail(-ENOTSUP, errstr, errstr_size,
                      "backend \"%s\" is not built in (meson -Dcuda=enabled)", name);
            return NULL;
        }
    }
    struct kern_backend *be = calloc(1, sizeof *be);
    if (!be) {
        kern_fail(-ENOMEM, errstr, errstr_size, "out of memory");
        return NULL;
    }
    be->i = i;
    be->ctx = i->create(cfg ? cfg : &defaults, errstr, errstr_size);
    if (!be->ctx) {
        free(be);
        return NULL;
    }
    return be;
}

void kern_backend_free(struct kern_backend *be)
{
    if (!be)
        return;
    be->i->destroy(be->ctx);
    free(be);
}

const char *kern_backend_name(const struct kern_backend *be)
{
    return be->i->name;
}

const char *kern_backend_device(const struct kern_backend *be)
{
    return be->i->device(be->ctx);
}

bool kern_backend_supports(const struct kern_backend *be, enum kern_cap cap)
{
    return be->i->supports(be->ctx, cap);
}

static enum kern_cap dtype_cap(enum kern_dtype dt)
{
    switch (dt) {
    case KERN_DTYPE_F16: return KERN_CAP_F16;
    case KERN_DTYPE_BF16: return KERN_CAP_BF16;
    case KERN_DTYPE_F32:
    default: return KERN_CAP_F32;
    }
}

int kern_backend_supports_model(const struct kern_backend *be, const struct kern_model *m,
                                char *errstr, size_t errstr_size)
{
    char why[256];
    if (kern_model_validate(m, why, sizeof why))
        return kern_fail(-EINVAL, errstr, errstr_size, "invalid model: %s", why);
    for (uint32_t l = 0; l < m->n_layers; l++) {
        enum kern_dtype dt = m->layers[l].weight_dtype;
        if (!kern_backend_supports(be, dtype_cap(dt)))
            return kern_fail(-ENOTSUP, errstr, errstr_size,
                             "layer %u: the %s backend on %s cannot do %s weights", l,
                             kern_backend_name(be), kern_backend_device(be), kern_dtype_str(dt));
    }
    return 0;
}

int kern_backend_mem_info(struct kern_backend *be, size_t *free_bytes, size_t *total_bytes)
{
    size_t f = 0, t = 0;
    if (!be)
        return kern_fail(-EINVAL, NULL, 0, "kern_backend_mem_info: no backend");
    int rc = be->i->mem_info(be->ctx, &f, &t);
    if (free_bytes)
        *free_bytes = f;
    if (total_bytes)
        *total_bytes = t;
    return rc;
}

static int check_load_args(const struct kern_model *m, uint32_t max_rows, char *errstr,
                           size_t errstr_size)
{
    char why[256];
    if (kern_model_validate(m, why, sizeof why))
        return kern_fail(-EINVAL, errstr, errstr_size, "invalid model: %s", why);
    if (max_rows == 0 || max_rows > KERN_MAX_ROWS)
        return kern_fail(-EINVAL, errstr, errstr_size, "max_rows %u is out of range (1 … %u)",
                         max_rows, KERN_MAX_ROWS);
    return 0;
}

int kern_weights_size(struct kern_backend *be, const struct kern_model *m, uint32_t max_rows,
                      uint64_t *bytes)
{
    if (!be || !bytes)
        return kern_fail(-EINVAL, NULL, 0, "kern_weights_size: NULL argument");
    int rc = check_load_args(m, max_rows, NULL, 0);
    if (rc)
        return rc;
    *bytes = be->i->load_size(be->ctx, m, max_rows);
    return 0;
}

static void weights_free(struct kern_weights *w)
{
    free(w->shapes);
    free(w->loaded);
    free(w);
}

int kern_weights_begin(struct kern_backend *be, const struct kern_model *m, uint32_t max_rows,
                       struct kern_weights **wp, char *errstr, size_t errstr_size)
{
    if (!be || !wp)
        return kern_fail(-EINVAL, errstr, errstr_size, "kern_weights_begin: NULL argument");
    *wp = NULL;
    int rc = check_load_args(m, max_rows, errstr, errstr_size);
    if (rc)
        return rc;
    rc = kern_backend_supports_model(be, m, errstr, errstr_size);
    if (rc)
        return rc;
    struct kern_weights *w = calloc(1, sizeof *w);
    if (!w || !(w->shapes = calloc(m->n_layers, sizeof *w->shapes)) ||
        !(w->loaded = calloc(m->n_layers, sizeof *w->loaded))) {
        if (w)
            weights_free(w);
        return kern_fail(-ENOMEM, errstr, errstr_size, "out of memory");
    }
    for (uint32_t i = 0; i < m->n_layers; i++) {
        const struct kern_layer *l = &m->layers[i];
        w->shapes[i] = (struct layer_shape){
            .out_width = l->out_width,
            .in_width = l->in_width,
            .weight_dtype = l->weight_dtype,
            .bias_dtype = l->bias ? l->bias_dtype : KERN_DTYPE_F32,
            .bias = l->bias != NULL,
            .act = l->act,
        };
    }
    rc = be->i->load_begin(be->ctx, m, max_rows, &w->impl, errstr, errstr_size);
    if (rc) {
        weights_free(w);
        return rc;
    }
    w->be = be;
    w->input_width = m->input_width;
    w->output_width = kern_model_output_width(m);
    w->max_rows = max_rows;
    w->n_layers = m->n_layers;
    w->final = m->final;
    *wp = w;
    return 0;
}

static bool same_shapes(const struct kern_weights *w, const struct kern_model *m)
{
    if (m->n_layers != w->n_layers || m->input_width != w->input_width || m->final != w->final)
        return false;
    for (uint32_t i = 0; i < m->n_layers; i++) {
        const struct kern_layer *l = &m->layers[i];
        const struct layer_shape *s = &w->shapes[i];
        if (l->out_width != s->out_width || l->in_width != s->in_width ||
            l->weight_dtype != s->weight_dtype || (l->bias != NULL) != s->bias ||
            (l->bias && l->bias_dtype != s->bias_dtype) || l->act != s->act || !l->weight)
            return false;
    }
    return true;
}

int kern_weights_load_layer(struct kern_backend *be, struct kern_weights *w,
                            const struct kern_model *m, uint32_t layer, char *errstr,
                            size_t errstr_size)
{
    if (!be || !w || w->be != be || !m || !m->layers)
        return kern_fail(-EINVAL, errstr, errstr_size,
                         "kern_weights_load_layer: NULL argument, or a handle of another backend");
    if (w->ready)
        return kern_fail(-EINVAL, errstr, errstr_size,
                         "kern_weights_load_layer: the handle's load has ended");
    if (layer >= w->n_layers || w->loaded[layer])
        return kern_fail(
            -EINVAL, errstr, errstr_size, "kern_weights_load_layer: layer %u %s (%u layers)", layer,
            layer >= w->n_layers ? "does not exist" : "is loaded already", w->n_layers);
    if (!same_shapes(w, m))
        return kern_fail(-EINVAL, errstr, errstr_size,
                         "kern_weights_load_layer: the model's shapes differ from "
                         "kern_weights_begin()'s");
    int rc = be->i->load_layer(be->ctx, w->impl, m, layer, errstr, errstr_size);
    if (rc)
        return rc;
    w->loaded[layer] = true;
    w->n_loaded++;
    return 0;
}

int kern_weights_end(struct kern_backend *be, struct kern_weights *w, char *errstr,
                     size_t errstr_size)
{
    if (!be || !w || w->be != be)
        return kern_fail(-EINVAL, errstr, errstr_size,
                         "kern_weights_end: NULL argument, or a handle of another backend");
    if (w->ready || w->n_loaded != w->n_layers)
        return kern_fail(-EINVAL, errstr, errstr_size, "kern_weights_end: %s",
                         w->ready ? "the load has ended already" : "a layer is not loaded");
    int rc = be->i->load_end ? be->i->load_end(be->ctx, w->impl, errstr, errstr_size) : 0;
    if (rc)
        return rc;
    free(w->shapes);
    free(w->loaded);
    w->shapes = NULL;
    w->loaded = NULL;
    w->ready = true;
    return 0;
}

int kern_weights_load(struct kern_backend *be, const struct kern_model *m, uint32_t max_rows,
                      struct kern_weights **wp, char *errstr, size_t errstr_size)
{
    struct kern_weights *w = NULL;
    int rc = kern_weights_begin(be, m, max_rows, &w, errstr, errstr_size);
    for (uint32_t i = 0; !rc && i < m->n_layers; i++)
        rc = kern_weights_load_layer(be, w, m, i, errstr, errstr_size);
    if (!rc)
        rc = kern_weights_end(be, w, errstr, errstr_size);
    if (rc) {
        kern_weights_free(be, w);
        w = NULL;
    }
    if (wp)
        *wp = w;
    return rc;
}

void kern_weights_free(struct kern_backend *be, struct kern_weights *w)
{
    if (!w)
        return;
    /* A handle of another backend would be freed by the wrong code: refuse (and leak) rather
     * than corrupt memory; it is a caller bug. */
    if (w->be != be) {
        kern_fail(-EINVAL, NULL, 0, "kern_weights_free: handle belongs to another backend");
        return;
    }
    be->i->unload(be->ctx, w->impl);
    weights_free(w);
}

uint32_t kern_weights_input_width(const struct kern_weights *w)
{
    return w->input_width;
}

uint32_t kern_weights_output_width(const struct kern_weights *w)
{
    return w->output_width;
}

uint32_t kern_weights_max_rows(const struct kern_weights *w)
{
    return w->max_rows;
}

int kern_weights_io(struct kern_weights *w, float **in, float **out)
{
    float *i = NULL, *o = NULL;
    if (!w)
        return kern_fail(-EINVAL, NULL, 0, "kern_weights_io: no handle");
    w->be->i->io(w->be->ctx, w->impl, &i, &o);
    if (in)
        *in = i;
    if (out)
        *out = o;
    return 0;
}

int kern_run(struct kern_backend *be, struct kern_weights *w, const float *in, uint32_t rows,
             float *out)
{
    if (!be || !w || w->be != be)
        return kern_fail(-EINVAL, NULL, 0, "kern_run: no backend, or a handle of another one");
    if (!w->ready)
        return kern_fail(-EINVAL, NULL, 0, "kern_run: the handle's load has not ended");
    if (rows > w->max_rows)
        return kern_fail(-EINVAL, NULL, 0, "kern_run: %u rows, the handle was loaded for %u", rows,
                         w->max_rows);
    if (w->in_flight)
        return kern_fail(-EBUSY, NULL, 0, "kern_run: a batch is in flight; kern_sync() first");
    if (rows == 0)
        return 0;
    if (!in || !out)
        return kern_fail(-EINVAL, NULL, 0, "kern_run: NULL input or output");
    int rc = be->i->run(be->ctx, w->impl, in, rows, out);
    if (rc == 0 && be->i->sync)
        w->in_flight = true;
    return rc;
}

int kern_sync(struct kern_backend *be, struct kern_weights *w)
{
    if (!be || !w || w->be != be)
        return kern_fail(-EINVAL, NULL, 0, "kern_sync: no backend, or a handle of another one");
    if (!w->in_flight)
        return 0;
    w->in_flight = false;
    return be->i->sync(be->ctx, w->impl);
}

int kern_forward(struct kern_backend *be, struct kern_weights *w, const float *in, uint32_t rows,
                 float *out)
{
    int rc = kern_run(be, w, in, rows, out);
    return rc ? rc : kern_sync(be, w);
}

void *kern_backend_ctx(struct kern_backend *be)
{
    return be->ctx;
}

const struct kern_backend_i *kern_backend_iface(const struct kern_backend *be)
{
    return be->i;
}

void *kern_weights_impl(struct kern_weights *w)
{
    return w->impl;
}

bool kern_err_is_fatal(int err)
{
    return err == -EIO;
}
