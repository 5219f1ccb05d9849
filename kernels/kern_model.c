/* Model description helpers: validation and the name tables that the architecture JSON,
 * the request format and safetensors headers are parsed with. */
#include "kernels/kern_model.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const dtype_names[KERN_DTYPE_COUNT] = {
    [KERN_DTYPE_F32] = "f32",
    [KERN_DTYPE_F16] = "f16",
    [KERN_DTYPE_BF16] = "bf16",
};
/* safetensors' spelling of the same dtypes. */
static const char *const dtype_names_st[KERN_DTYPE_COUNT] = {
    [KERN_DTYPE_F32] = "F32",
    [KERN_DTYPE_F16] = "F16",
    [KERN_DTYPE_BF16] = "BF16",
};
static const char *const act_names[KERN_ACT_COUNT] = {
    [KERN_ACT_NONE] = "none", [KERN_ACT_RELU] = "relu",       [KERN_ACT_GELU] = "gelu",
    [KERN_ACT_TANH] = "tanh", [KERN_ACT_SIGMOID] = "sigmoid",
};
static const char *const final_names[KERN_FINAL_COUNT] = {
    [KERN_FINAL_NONE] = "none",
    [KERN_FINAL_SOFTMAX] = "softmax",
};

static int say(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int say(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    if (errstr && errstr_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

int kern_model_validate(const struct kern_model *m, char *errstr, size_t errstr_size)
{
    if (!m)
        return say(errstr, errstr_size, "no model");
    if (m->n_layers == 0 || m->n_layers > KERN_MAX_LAYERS || !m->layers)
        return say(errstr, errstr_size, "model has %u layers (1 … %u)", m->n_layers,
                   KERN_MAX_LAYERS);
    if (m->input_width == 0 || m->input_width > KERN_MAX_WIDTH)
        return say(errstr, errstr_size, "input width %u is out of range (1 … %u)", m->input_width,
                   KERN_MAX_WIDTH);
    if ((unsigned)m->final >= KERN_FINAL_COUNT)
        return say(errstr, errstr_size, "unknown final op %d", (int)m->final);
    uint32_t prev = m->input_width;
    for (uint32_t i = 0; i < m->n_layers; i++) {
        const struct kern_layer *l = &m->layers[i];
        if (l->out_width == 0 || l->out_width > KERN_MAX_WIDTH)
            return say(errstr, errstr_size, "layer %u: out width %u is out of range (1 … %u)", i,
                       l->out_width, KERN_MAX_WIDTH);
        if (l->in_width != prev)
            return say(errstr, errstr_size, "layer %u: in width %u, but its input has width %u", i,
                       l->in_width, prev);
        if ((unsigned)l->weight_dtype >= KERN_DTYPE_COUNT)
            return say(errstr, errstr_size, "layer %u: unknown weight dtype %d", i,
                       (int)l->weight_dtype);
        if (l->bias && (unsigned)l->bias_dtype >= KERN_DTYPE_COUNT)
            return say(errstr, errstr_size, "layer %u: unknown bias dtype %d", i,
                       (int)l->bias_dtype);
        if ((unsigned)l->act >= KERN_ACT_COUNT)
            return say(errstr, errstr_size, "layer %u: unknown activation %d", i, (int)l->act);
        if (!l->weight)
            return say(errstr, errstr_size, "layer %u: no weight data", i);
        prev = l->out_width;
    }
    return 0;
}

uint32_t kern_model_output_width(const struct kern_model *m)
{
    return m->layers[m->n_layers - 1].out_width;
}

uint32_t kern_model_max_width(const struct kern_model *m)
{
    uint32_t w = m->input_width;
    for (uint32_t i = 0; i < m->n_layers; i++)
        if (m->layers[i].out_width > w)
            w = m->layers[i].out_width;
    return w;
}

uint64_t kern_model_weight_bytes(const struct kern_model *m)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < m->n_layers; i++) {
        const struct kern_layer *l = &m->layers[i];
        n += (uint64_t)l->out_width * l->in_width * kern_dtype_size(l->weight_dtype);
        if (l->bias)
            n += (uint64_t)l->out_width * kern_dtype_size(l->bias_dtype);
    }
    return n;
}

uint64_t kern_model_flops_per_row(const struct kern_model *m)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < m->n_layers; i++)
        n += 2u * (uint64_t)m->layers[i].out_width * m->layers[i].in_width;
    return n;
}

size_t kern_dtype_size(enum kern_dtype dt)
{
    switch (dt) {
    case KERN_DTYPE_F32: return 4;
    case KERN_DTYPE_F16:
    case KERN_DTYPE_BF16: return 2;
    }
    return 0;
}

const char *kern_dtype_str(enum kern_dtype dt)
{
    return (unsigned)dt < KERN_DTYPE_COUNT ? dtype_names[dt] : "?";
}

const char *kern_act_str(enum kern_act act)
{
    return (unsigned)act < KERN_ACT_COUNT ? act_names[act] : "?";
}

const char *kern_final_str(enum kern_final fin)
{
    return (unsigned)fin < KERN_FINAL_COUNT ? final_names[fin] : "?";
}

/* Index of the {s, len} in names[], or -1. */
static int lookup(const char *const *names, int count, const char *s, size_t len)
{
    if (!s)
        return -1;
    for (int i = 0; i < count; i++)
        if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
            return i;
    return -1;
}

int kern_dtype_parse(const char *s, size_t len, enum kern_dtype *dt)
{
    int i = lookup(dtype_names, KERN_DTYPE_COUNT, s, len);
    if (i < 0)
        i = lookup(dtype_names_st, KERN_DTYPE_COUNT, s, len);
    if (i < 0)
        return -EINVAL;
    *dt = (enum kern_dtype)i;
    return 0;
}

int kern_act_parse(const char *s, size_t len, enum kern_act *act)
{
    int i = lookup(act_names, KERN_ACT_COUNT, s, len);
    if (i < 0)
        return -EINVAL;
    *act = (enum kern_act)i;
    return 0;
}

int kern_final_parse(const char *s, size_t len, enum kern_final *fin)
{
    int i = lookup(final_names, KERN_FINAL_COUNT, s, len);
    if (i < 0)
        return -EINVAL;
    *fin = (enum kern_final)i;
    return 0;
}
