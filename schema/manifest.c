/* struct manifest lifecycle and the builder helpers the publisher uses. */
#include "schema/manifest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct manifest *manifest_new(void)
{
    struct manifest *m = calloc(1, sizeof(*m));
    if (m)
        m->kfleet_manifest = MANIFEST_FORMAT;
    return m;
}

void manifest_free(struct manifest *m)
{
    if (!m)
        return;
    arch_desc_fini(&m->arch);
    free(m->tensors);
    free(m->chunks);
    free(m->golden.inputs);
    free(m->golden.outputs);
    free(m);
}

int manifest_set_tensors(struct manifest *m, const struct schema_tensor *t, size_t n)
{
    struct schema_tensor *copy = NULL;
    if (n) {
        copy = malloc(n * sizeof(*copy));
        if (!copy)
            return -ENOMEM;
        memcpy(copy, t, n * sizeof(*copy));
    }
    free(m->tensors);
    m->tensors = copy;
    m->n_tensors = n;
    return 0;
}

int manifest_add_chunk(struct manifest *m, const char sha256_hex[65], uint64_t size)
{
    if (!sha256_hex || strlen(sha256_hex) != 64)
        return -EINVAL;
    struct manifest_chunk *c = realloc(m->chunks, (m->n_chunks + 1) * sizeof(*c));
    if (!c)
        return -ENOMEM;
    m->chunks = c;
    c = &m->chunks[m->n_chunks++];
    memcpy(c->sha256, sha256_hex, 65);
    c->size = size;
    c->offset = m->blob_size;
    m->blob_size += size;
    return 0;
}

int manifest_set_arch(struct manifest *m, const struct arch_desc *a)
{
    struct arch_layer *layers = NULL;
    if (a->n_layers) {
        layers = malloc(a->n_layers * sizeof(*layers));
        if (!layers)
            return -ENOMEM;
        memcpy(layers, a->layers, a->n_layers * sizeof(*layers));
    }
    arch_desc_fini(&m->arch);
    m->arch = *a;
    m->arch.layers = layers;
    return 0;
}

int manifest_set_golden(struct manifest *m, uint64_t rows, const float *inputs,
                        const float *outputs, double atol, double rtol)
{
    if (!rows || rows > MANIFEST_MAX_GOLDEN_ROWS || !m->arch.input_width || !m->arch.output_width ||
        !inputs || !outputs)
        return -EINVAL;
    size_t ni = (size_t)(rows * m->arch.input_width), no = (size_t)(rows * m->arch.output_width);
    float *in = malloc(ni * sizeof(float)), *out = malloc(no * sizeof(float));
    if (!in || !out) {
        free(in);
        free(out);
        return -ENOMEM;
    }
    memcpy(in, inputs, ni * sizeof(float));
    memcpy(out, outputs, no * sizeof(float));
    free(m->golden.inputs);
    free(m->golden.outputs);
    m->golden = (struct manifest_golden){.rows = rows,
                                         .n_inputs = ni,
                                         .n_outputs = no,
                                         .inputs = in,
                                         .outputs = out,
                                         .atol = atol,
                                         .rtol = rtol};
    return 0;
}
