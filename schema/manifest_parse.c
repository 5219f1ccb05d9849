/* Manifest JSON -> struct manifest; manifest_validate does the cross checks. */
#include "schema/manifest.h"

#include "common/crypto.h"
#include "common/kf_err.h"
#include "schema/manifest_impl.h"

#include <stdlib.h>
#include <string.h>

static int dtype_field(const json_t *o, const char *path, enum schema_dtype *dt, char *errstr,
                       size_t errstr_size)
{
    char s[8];
    int err = ju_str(o, path, "dtype", true, s, sizeof(s), errstr, errstr_size);
    if (!err && schema_dtype_from_str(s, strlen(s), dt)) {
        char p[96];
        ju_path(p, sizeof(p), path, "dtype");
        kf_errf(errstr, errstr_size, "%s: \"%s\" is not one of f32|f16|bf16", p, s);
        err = -EPROTO;
    }
    return err;
}

static int tensor_from_json(const json_t *o, const char *path, struct schema_tensor *t,
                            char *errstr, size_t errstr_size)
{
    int err;
    if (!json_is_object(o)) {
        kf_errf(errstr, errstr_size, "%s: expected an object", path);
        return -EPROTO;
    }
    if ((err = ju_str(o, path, "name", true, t->name, sizeof(t->name), errstr, errstr_size)) ||
        (err = dtype_field(o, path, &t->dtype, errstr, errstr_size)) ||
        (err = ju_uint(o, path, "offset", true, 0, INT64_MAX, &t->offset, errstr, errstr_size)) ||
        (err = ju_uint(o, path, "length", true, 0, INT64_MAX, &t->length, errstr, errstr_size)))
        return err;
    const json_t *shape = ju_child(o, path, "shape", JSON_ARRAY, true, &err, errstr, errstr_size);
    if (err)
        return err;
    size_t nd = json_array_size(shape);
    if (nd > SCHEMA_TENSOR_MAX_DIMS) {
        kf_errf(errstr, errstr_size, "%s.shape: %zu dimensions, limit %d", path, nd,
                SCHEMA_TENSOR_MAX_DIMS);
        return -EPROTO;
    }
    t->ndim = (uint32_t)nd;
    for (size_t d = 0; d < nd; d++) {
        const json_t *v = json_array_get(shape, d);
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            kf_errf(errstr, errstr_size, "%s.shape[%zu]: expected a non-negative integer", path, d);
            return -EPROTO;
        }
        t->shape[d] = (uint64_t)json_integer_value(v);
    }
    return 0;
}

static int tensors_from_json(const json_t *j, struct manifest *m, char *errstr, size_t errstr_size)
{
    int err;
    const json_t *arr = ju_child(j, "", "tensors", JSON_ARRAY, true, &err, errstr, errstr_size);
    if (err)
        return err;
    size_t n = json_array_size(arr);
    if (n > MANIFEST_MAX_TENSORS) {
        kf_errf(errstr, errstr_size, "tensors: %zu tensors, limit %d", n, MANIFEST_MAX_TENSORS);
        return -E2BIG;
    }
    if (n && !(m->tensors = calloc(n, sizeof(*m->tensors))))
        return -ENOMEM;
    m->n_tensors = n;
    for (size_t i = 0; i < n; i++) {
        char p[32];
        snprintf(p, sizeof(p), "tensors[%zu]", i);
        if ((err =
                 tensor_from_json(json_array_get(arr, i), p, &m->tensors[i], errstr, errstr_size)))
            return err;
    }
    return 0;
}

static int chunks_from_json(const json_t *j, struct manifest *m, char *errstr, size_t errstr_size)
{
    int err;
    const json_t *arr = ju_child(j, "", "chunks", JSON_ARRAY, true, &err, errstr, errstr_size);
    if (err)
        return err;
    size_t n = json_array_size(arr);
    if (n > MANIFEST_MAX_CHUNKS) {
        kf_errf(errstr, errstr_size, "chunks: %zu chunks, limit %u", n, MANIFEST_MAX_CHUNKS);
        return -E2BIG;
    }
    if (n && !(m->chunks = calloc(n, sizeof(*m->chunks))))
        return -ENOMEM;
    m->n_chunks = n;
    for (size_t i = 0; i < n; i++) {
        const json_t *c = json_array_get(arr, i);
        char p[32];
        snprintf(p, sizeof(p), "chunks[%zu]", i);
        if (!json_is_object(c)) {
            kf_errf(errstr, errstr_size, "%s: expected an object", p);
            return -EPROTO;
        }
        if ((err = ju_sha256(c, p, "sha256", true, m->chunks[i].sha256, errstr, errstr_size)) ||
            (err = ju_uint(c, p, "size", true, 0, INT64_MAX, &m->chunks[i].size, errstr,
                           errstr_size)))
            return err;
    }
    return 0;
}

/* base64 of little-endian f32 -> a new float array. */
static int floats_from_b64(const json_t *g, const char *key, float **out, size_t *count,
                           char *errstr, size_t errstr_size)
{
    const json_t *v = json_object_get(g, key);
    if (!json_is_string(v)) {
        kf_errf(errstr, errstr_size, "golden.%s: %s", key,
                v ? "expected a base64 string" : "missing");
        return -EPROTO;
    }
    size_t len = json_string_length(v);
    size_t cap = len / 4 * 3;
    uint8_t *raw = malloc(cap ? cap : 1);
    if (!raw)
        return -ENOMEM;
    int n = crypto_base64_decode(json_string_value(v), len, raw, cap);
    if (n < 0 || n % 4) {
        free(raw);
        kf_errf(errstr, errstr_size, "golden.%s: expected base64 of little-endian f32 values", key);
        return -EPROTO;
    }
    float *f = malloc((size_t)n ? (size_t)n : 1);
    if (!f) {
        free(raw);
        return -ENOMEM;
    }
    for (int i = 0; i < n / 4; i++) {
        uint32_t u = (uint32_t)raw[4 * i] | (uint32_t)raw[4 * i + 1] << 8 |
                     (uint32_t)raw[4 * i + 2] << 16 | (uint32_t)raw[4 * i + 3] << 24;
        memcpy(&f[i], &u, 4);
    }
    free(raw);
    *out = f;
    *count = (size_t)n / 4;
    return 0;
}

static int golden_from_json(const json_t *j, struct manifest *m, char *errstr, size_t errstr_size)
{
    int err;
    const json_t *g = ju_child(j, "", "golden", JSON_OBJECT, true, &err, errstr, errstr_size);
    if (err)
        return err;
    struct manifest_golden *gd = &m->golden;
    if ((err = ju_uint(g, "golden", "rows", true, 1, MANIFEST_MAX_GOLDEN_ROWS, &gd->rows, errstr,
                       errstr_size)) ||
        (err = ju_real(g, "golden", "atol", true, 0, 1e300, &gd->atol, errstr, errstr_size)) ||
        (err = ju_real(g, "golden", "rtol", true, 0, 1e300, &gd->rtol, errstr, errstr_size)) ||
        (err = floats_from_b64(g, "inputs", &gd->inputs, &gd->n_inputs, errstr, errstr_size)) ||
        (err = floats_from_b64(g, "outputs", &gd->outputs, &gd->n_outputs, errstr, errstr_size)))
        return err;
    return 0;
}

static int fields_from_json(const json_t *j, struct manifest *m, char *errstr, size_t errstr_size)
{
    int err;
    uint64_t fmt = 0;
    if ((err = ju_uint(j, "", "kfleet_manifest", true, 0, UINT32_MAX, &fmt, errstr, errstr_size)))
        return err;
    m->kfleet_manifest = (uint32_t)fmt;
    if (fmt != MANIFEST_FORMAT) {
        kf_errf(errstr, errstr_size,
                "kfleet_manifest: unsupported format %llu (this code reads %d)",
                (unsigned long long)fmt, MANIFEST_FORMAT);
        return -EPROTO;
    }
    if ((err = ju_name(j, "", "model", true, m->model, sizeof(m->model), errstr, errstr_size)) ||
        (err = ju_name(j, "", "version", true, m->version, sizeof(m->version), errstr,
                       errstr_size)) ||
        (err = ju_uint(j, "", "seq", true, 1, INT64_MAX, &m->seq, errstr, errstr_size)) ||
        (err = ju_str(j, "", "created_at", true, m->created_at, sizeof(m->created_at), errstr,
                      errstr_size)) ||
        (err = dtype_field(j, "", &m->dtype, errstr, errstr_size)) ||
        (err = ju_uint(j, "", "blob_size", true, 1, INT64_MAX, &m->blob_size, errstr, errstr_size)))
        return err;
    const json_t *arch =
        ju_child(j, "", "architecture", JSON_OBJECT, true, &err, errstr, errstr_size);
    if (err || (err = arch_from_json(arch, "architecture", &m->arch, errstr, errstr_size)))
        return err;
    const json_t *src = ju_child(j, "", "source", JSON_OBJECT, true, &err, errstr, errstr_size);
    if (err)
        return err;
    if ((err = ju_str(src, "source", "name", true, m->source.name, sizeof(m->source.name), errstr,
                      errstr_size)) ||
        (err = ju_uint(src, "source", "size", true, 0, INT64_MAX, &m->source.size, errstr,
                       errstr_size)) ||
        (err = ju_sha256(src, "source", "sha256", true, m->source.sha256, errstr, errstr_size)))
        return err;
    if ((err = tensors_from_json(j, m, errstr, errstr_size)) ||
        (err = chunks_from_json(j, m, errstr, errstr_size)) ||
        (err = golden_from_json(j, m, errstr, errstr_size)))
        return err;
    return 0;
}

int manifest_parse(const uint8_t *buf, size_t len, struct manifest **out, char *errstr,
                   size_t errstr_size)
{
    if (!out || !buf) {
        kf_errf(errstr, errstr_size, "manifest: no buffer");
        return -EINVAL;
    }
    *out = NULL;
    json_t *j;
    int err = ju_load(buf, len, MANIFEST_MAX_BYTES, "manifest", &j, errstr, errstr_size);
    if (err)
        return err;
    struct manifest *m = manifest_new();
    if (!m) {
        json_decref(j);
        return -ENOMEM;
    }
    err = fields_from_json(j, m, errstr, errstr_size);
    json_decref(j);
    if (!err)
        err = manifest_validate(m, errstr, errstr_size);
    if (err) {
        manifest_free(m);
        return err;
    }
    *out = m;
    return 0;
}
