/* The MLP architecture description: JSON form and binding to tensors. */
#include "schema/manifest.h"

#include "common/kf_err.h"
#include "schema/manifest_impl.h"

#include <stdlib.h>
#include <string.h>

static const char *const act_names[] = {"none", "relu", "gelu", "tanh", "sigmoid"};
static const char *const output_names[] = {"none", "softmax"};

const char *arch_act2str(enum arch_act a)
{
    return (unsigned)a < 5 ? act_names[a] : "?";
}

const char *arch_output2str(enum arch_output o)
{
    return (unsigned)o < 2 ? output_names[o] : "?";
}

void arch_desc_fini(struct arch_desc *a)
{
    if (!a)
        return;
    free(a->layers);
    memset(a, 0, sizeof(*a));
}

static int pick(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i]))
            return i;
    return -1;
}

static int layer_from_json(const json_t *o, const char *path, struct arch_layer *l, char *errstr,
                           size_t errstr_size)
{
    int err;
    char act[16];
    if (!json_is_object(o)) {
        kf_errf(errstr, errstr_size, "%s: expected an object", path);
        return -EPROTO;
    }
    if ((err =
             ju_str(o, path, "weight", true, l->weight, sizeof(l->weight), errstr, errstr_size)) ||
        (err = ju_str(o, path, "bias", false, l->bias, sizeof(l->bias), errstr, errstr_size)) ||
        (err = ju_str(o, path, "activation", false, act, sizeof(act), errstr, errstr_size)))
        return err;
    if (!l->weight[0]) {
        kf_errf(errstr, errstr_size, "%s.weight: must not be empty", path);
        return -EPROTO;
    }
    int a = act[0] ? pick(act, act_names, 5) : ARCH_ACT_NONE;
    if (a < 0) {
        kf_errf(errstr, errstr_size,
                "%s.activation: \"%s\" is not one of none|relu|gelu|tanh|sigmoid", path, act);
        return -EPROTO;
    }
    l->activation = (enum arch_act)a;
    l->weight_index = l->bias_index = -1;
    return 0;
}

int arch_from_json(const json_t *o, const char *path, struct arch_desc *a, char *errstr,
                   size_t errstr_size)
{
    int err;
    char kind[16], output[16];
    memset(a, 0, sizeof(*a));
    if ((err = ju_str(o, path, "kind", true, kind, sizeof(kind), errstr, errstr_size)))
        return err;
    if (strcmp(kind, "mlp")) {
        char p[64];
        ju_path(p, sizeof(p), path, "kind");
        kf_errf(errstr, errstr_size, "%s: \"%s\" is not supported (only \"mlp\")", p, kind);
        return -EPROTO;
    }
    if ((err = ju_uint(o, path, "input_width", true, 1, UINT32_MAX, &a->input_width, errstr,
                       errstr_size)) ||
        (err = ju_uint(o, path, "output_width", false, 1, UINT32_MAX, &a->output_width, errstr,
                       errstr_size)) ||
        (err = ju_str(o, path, "output", false, output, sizeof(output), errstr, errstr_size)))
        return err;
    int out = output[0] ? pick(output, output_names, 2) : ARCH_OUTPUT_NONE;
    if (out < 0) {
        char p[64];
        ju_path(p, sizeof(p), path, "output");
        kf_errf(errstr, errstr_size, "%s: \"%s\" is not one of none|softmax", p, output);
        return -EPROTO;
    }
    a->output = (enum arch_output)out;

    const json_t *layers = ju_child(o, path, "layers", JSON_ARRAY, true, &err, errstr, errstr_size);
    if (err)
        return err;
    size_t n = json_array_size(layers);
    char lp[64];
    ju_path(lp, sizeof(lp), path, "layers");
    if (n == 0) {
        kf_errf(errstr, errstr_size, "%s: at least one layer is needed", lp);
        return -EPROTO;
    }
    if (n > MANIFEST_MAX_LAYERS) {
        kf_errf(errstr, errstr_size, "%s: %zu layers, limit %d", lp, n, MANIFEST_MAX_LAYERS);
        return -E2BIG;
    }
    a->layers = calloc(n, sizeof(*a->layers));
    if (!a->layers)
        return -ENOMEM;
    a->n_layers = n;
    for (size_t i = 0; i < n; i++) {
        char p[80];
        snprintf(p, sizeof(p), "%s[%zu]", lp, i);
        if ((err =
                 layer_from_json(json_array_get(layers, i), p, &a->layers[i], errstr, errstr_size)))
            return err;
    }
    return 0;
}

int arch_parse(const uint8_t *buf, size_t len, struct arch_desc *out, char *errstr,
               size_t errstr_size)
{
    memset(out, 0, sizeof(*out));
    if (!buf) {
        kf_errf(errstr, errstr_size, "architecture: no buffer");
        return -EINVAL;
    }
    json_t *j;
    int err = ju_load(buf, len, ARCH_MAX_BYTES, "architecture", &j, errstr, errstr_size);
    if (err)
        return err;
    err = arch_from_json(j, "", out, errstr, errstr_size);
    json_decref(j);
    return err;
}

json_t *arch_to_json(const struct arch_desc *a)
{
    int err = 0;
    json_t *o = json_object(), *layers = json_array();
    if (!o || !layers) {
        json_decref(o);
        json_decref(layers);
        return NULL;
    }
    ju_set(o, "kind", json_string("mlp"), &err);
    ju_set(o, "input_width", json_integer((json_int_t)a->input_width), &err);
    if (a->output_width)
        ju_set(o, "output_width", json_integer((json_int_t)a->output_width), &err);
    ju_set(o, "output", json_string(arch_output2str(a->output)), &err);
    for (size_t i = 0; i < a->n_layers; i++) {
        const struct arch_layer *l = &a->layers[i];
        json_t *lj = json_object();
        if (!lj || json_array_append_new(layers, lj)) {
            err = -ENOMEM;
            break;
        }
        ju_set(lj, "weight", json_string(l->weight), &err);
        if (l->bias[0])
            ju_set(lj, "bias", json_string(l->bias), &err);
        ju_set(lj, "activation", json_string(arch_act2str(l->activation)), &err);
    }
    ju_set(o, "layers", layers, &err);
    if (err) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int bind_tensor(const struct schema_tensor *t, size_t n, const char *name, const char *what,
                       size_t layer, uint32_t ndim, long *index, char *errstr, size_t errstr_size)
{
    long i = schema_tensor_find(t, n, name);
    if (i < 0) {
        kf_errf(errstr, errstr_size, "architecture.layers[%zu].%s: no tensor \"%s\"", layer, what,
                name);
        return -EPROTO;
    }
    if (t[i].ndim != ndim) {
        kf_errf(errstr, errstr_size,
                "architecture.layers[%zu].%s: tensor \"%s\" has %u dimensions, expected %u", layer,
                what, name, t[i].ndim, ndim);
        return -EPROTO;
    }
    for (uint32_t d = 0; d < ndim; d++) {
        if (!t[i].shape[d]) {
            kf_errf(errstr, errstr_size, "architecture.layers[%zu].%s: tensor \"%s\" is empty",
                    layer, what, name);
            return -EPROTO;
        }
    }
    *index = i;
    return 0;
}

int arch_bind(struct arch_desc *a, const struct schema_tensor *t, size_t n,
              enum schema_dtype *dtype, char *errstr, size_t errstr_size)
{
    if (!a || !a->n_layers || !a->layers) {
        kf_errf(errstr, errstr_size, "architecture.layers: at least one layer is needed");
        return -EPROTO;
    }
    uint64_t width = a->input_width;
    for (size_t i = 0; i < a->n_layers; i++) {
        struct arch_layer *l = &a->layers[i];
        int err =
            bind_tensor(t, n, l->weight, "weight", i, 2, &l->weight_index, errstr, errstr_size);
        if (err)
            return err;
        const struct schema_tensor *w = &t[l->weight_index];
        if (i == 0)
            *dtype = w->dtype;
        if (w->dtype != *dtype) {
            kf_errf(errstr, errstr_size,
                    "architecture.layers[%zu].weight: dtype %s differs from the model's %s", i,
                    schema_dtype2str(w->dtype), schema_dtype2str(*dtype));
            return -EPROTO;
        }
        if (w->shape[1] != width) {
            kf_errf(errstr, errstr_size,
                    "architecture.layers[%zu].weight: \"%s\" is [%llu, %llu] but the layer's "
                    "input width is %llu (%s)",
                    i, l->weight, (unsigned long long)w->shape[0], (unsigned long long)w->shape[1],
                    (unsigned long long)width,
                    i ? "the previous layer's output width" : "input_width");
            return -EPROTO;
        }
        l->in_width = w->shape[1];
        l->out_width = w->shape[0];
        l->bias_index = -1;
        if (l->bias[0]) {
            if ((err =
                     bind_tensor(t, n, l->bias, "bias", i, 1, &l->bias_index, errstr, errstr_size)))
                return err;
            const struct schema_tensor *b = &t[l->bias_index];
            if (b->shape[0] != l->out_width || b->dtype != *dtype) {
                kf_errf(errstr, errstr_size,
                        "architecture.layers[%zu].bias: \"%s\" is %s [%llu], expected %s [%llu]", i,
                        l->bias, schema_dtype2str(b->dtype), (unsigned long long)b->shape[0],
                        schema_dtype2str(*dtype), (unsigned long long)l->out_width);
                return -EPROTO;
            }
        }
        width = l->out_width;
    }
    if (a->output_width && a->output_width != width) {
        kf_errf(errstr, errstr_size,
                "architecture.output_width: %llu, but the last layer's output width is %llu",
                (unsigned long long)a->output_width, (unsigned long long)width);
        return -EPROTO;
    }
    a->output_width = width;
    return 0;
}
