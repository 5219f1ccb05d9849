/* struct manifest -> canonical JSON bytes (what the publisher signs). */
#include "schema/manifest.h"

#include "common/crypto.h"
#include "common/kf_err.h"
#include "schema/manifest_impl.h"

#include <stdlib.h>
#include <string.h>

static json_t *floats_b64(const float *f, size_t n)
{
    uint8_t *raw = malloc(n * 4 + 1);
    char *text = malloc(crypto_base64_len(n * 4) + 1);
    json_t *s = NULL;
    if (raw && text) {
        for (size_t i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, &f[i], 4);
            raw[4 * i] = (uint8_t)u;
            raw[4 * i + 1] = (uint8_t)(u >> 8);
            raw[4 * i + 2] = (uint8_t)(u >> 16);
            raw[4 * i + 3] = (uint8_t)(u >> 24);
        }
        crypto_base64_encode(raw, n * 4, text);
        s = json_string(text);
    }
    free(raw);
    free(text);
    return s;
}

static json_t *manifest_json(const struct manifest *m, int *err)
{
    json_t *j = json_object(), *tensors = json_array(), *chunks = json_array();
    if (!j || !tensors || !chunks) {
        json_decref(j);
        json_decref(tensors);
        json_decref(chunks);
        *err = -ENOMEM;
        return NULL;
    }
    ju_set(j, "kfleet_manifest", json_integer(m->kfleet_manifest), err);
    ju_set(j, "model", json_string(m->model), err);
    ju_set(j, "version", json_string(m->version), err);
    ju_set(j, "seq", json_integer((json_int_t)m->seq), err);
    ju_set(j, "created_at", json_string(m->created_at), err);
    ju_set(j, "dtype", json_string(schema_dtype2str(m->dtype)), err);
    ju_set(j, "architecture", arch_to_json(&m->arch), err);
    ju_set(j, "blob_size", json_integer((json_int_t)m->blob_size), err);
    for (size_t i = 0; i < m->n_tensors && !*err; i++) {
        const struct schema_tensor *t = &m->tensors[i];
        json_t *tj = json_object(), *shape = json_array();
        for (uint32_t d = 0; shape && d < t->ndim; d++)
            if (json_array_append_new(shape, json_integer((json_int_t)t->shape[d])))
                *err = -ENOMEM;
        if (!tj || json_array_append_new(tensors, tj)) {
            json_decref(shape);
            *err = -ENOMEM;
            break;
        }
        ju_set(tj, "name", json_string(t->name), err);
        ju_set(tj, "dtype", json_string(schema_dtype2str(t->dtype)), err);
        ju_set(tj, "shape", shape, err);
        ju_set(tj, "offset", json_integer((json_int_t)t->offset), err);
        ju_set(tj, "length", json_integer((json_int_t)t->length), err);
    }
    ju_set(j, "tensors", tensors, err);
    for (size_t i = 0; i < m->n_chunks && !*err; i++) {
        json_t *c = json_pack("{sssI}", "sha256", m->chunks[i].sha256, "size",
                              (json_int_t)m->chunks[i].size);
        if (!c || json_array_append_new(chunks, c))
            *err = -ENOMEM;
    }
    ju_set(j, "chunks", chunks, err);
    ju_set(j, "source",
           json_pack("{sssIss}", "name", m->source.name, "size", (json_int_t)m->source.size,
                     "sha256", m->source.sha256),
           err);
    json_t *g = json_object();
    if (g) {
        ju_set(g, "rows", json_integer((json_int_t)m->golden.rows), err);
        ju_set(g, "inputs", floats_b64(m->golden.inputs, m->golden.n_inputs), err);
        ju_set(g, "outputs", floats_b64(m->golden.outputs, m->golden.n_outputs), err);
        ju_set(g, "atol", json_real(m->golden.atol), err);
        ju_set(g, "rtol", json_real(m->golden.rtol), err);
    }
    ju_set(j, "golden", g, err);
    return j;
}

int manifest_encode(struct manifest *m, kf_buf *out, char *errstr, size_t errstr_size)
{
    if (!m || !out) {
        kf_errf(errstr, errstr_size, "manifest: NULL");
        return -EINVAL;
    }
    int err = manifest_validate(m, errstr, errstr_size);
    if (err)
        return err == -ENOMEM ? err : -EINVAL;
    json_t *j = manifest_json(m, &err);
    if (!err)
        err = ju_dump(j, out);
    json_decref(j);
    return err;
}
