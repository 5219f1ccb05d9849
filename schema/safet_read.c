/* safetensors header reader. Everything that comes from the file is bounded
 * before it is used: header length, tensor count, offsets. */
#include "schema/safet.h"

#include "common/kf_err.h"
#include "schema/json_impl.h"

#include <stdlib.h>
#include <string.h>

int safet_header_len(const uint8_t *buf, size_t len, uint64_t *header_len)
{
    if (!buf || len < 8)
        return -EPROTO;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | buf[i];
    *header_len = n;
    return n > SAFET_MAX_HEADER ? -E2BIG : 0;
}

void safet_file_free(struct safet_file *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n_meta; i++) {
        free(f->meta[i].key);
        free(f->meta[i].value);
    }
    free(f->meta);
    free(f->tensors);
    free(f);
}

const char *safet_meta_get(const struct safet_file *f, const char *key)
{
    for (size_t i = 0; f && i < f->n_meta; i++)
        if (!strcmp(f->meta[i].key, key))
            return f->meta[i].value;
    return NULL;
}

const uint8_t *safet_tensor_data(const struct safet_file *f, size_t i, const uint8_t *buf,
                                 size_t len)
{
    if (!f || !buf || i >= f->n_tensors)
        return NULL;
    const struct schema_tensor *t = &f->tensors[i];
    uint64_t end = f->data_offset + t->offset + t->length;
    return end <= len ? buf + f->data_offset + t->offset : NULL;
}

static int parse_meta(const json_t *o, struct safet_file *f, char *errstr, size_t errstr_size)
{
    if (!json_is_object(o)) {
        kf_errf(errstr, errstr_size, "__metadata__: expected an object of strings");
        return -EPROTO;
    }
    size_t n = json_object_size(o);
    if (!n)
        return 0;
    if (!(f->meta = calloc(n, sizeof(*f->meta))))
        return -ENOMEM;
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)o, key, v)
    {
        if (!json_is_string(v)) {
            kf_errf(errstr, errstr_size, "__metadata__[\"%.64s\"]: expected a string", key);
            return -EPROTO;
        }
        struct safet_meta *m = &f->meta[f->n_meta];
        m->key = strdup(key);
        m->value = strdup(json_string_value(v));
        f->n_meta++;
        if (!m->key || !m->value)
            return -ENOMEM;
    }
    return 0;
}

static int parse_tensor(const char *name, const json_t *o, struct schema_tensor *t, char *errstr,
                        size_t errstr_size)
{
    size_t nlen = strlen(name);
    if (!nlen || nlen >= SCHEMA_TENSOR_NAME_CAP) {
        kf_errf(errstr, errstr_size, "safetensors: tensor name of %zu bytes (1..256)", nlen);
        return -EPROTO;
    }
    memcpy(t->name, name, nlen + 1);
    if (!json_is_object(o)) {
        kf_errf(errstr, errstr_size, "safetensors[\"%s\"]: expected an object", name);
        return -EPROTO;
    }
    const json_t *dt = json_object_get(o, "dtype");
    if (!json_is_string(dt)) {
        kf_errf(errstr, errstr_size, "safetensors[\"%s\"].dtype: %s", name,
                dt ? "expected a string" : "missing");
        return -EPROTO;
    }
    if (schema_dtype_from_safet(json_string_value(dt), json_string_length(dt), &t->dtype)) {
        kf_errf(errstr, errstr_size,
                "safetensors[\"%s\"].dtype: %.16s is not supported (F32, F16, BF16)", name,
                json_string_value(dt));
        return -EPROTO;
    }
    const json_t *shape = json_object_get(o, "shape");
    if (!json_is_array(shape) || json_array_size(shape) > SCHEMA_TENSOR_MAX_DIMS) {
        kf_errf(errstr, errstr_size,
                "safetensors[\"%s\"].shape: expected an array of at most %d "
                "non-negative integers",
                name, SCHEMA_TENSOR_MAX_DIMS);
        return -EPROTO;
    }
    t->ndim = (uint32_t)json_array_size(shape);
    for (uint32_t d = 0; d < t->ndim; d++) {
        const json_t *v = json_array_get(shape, d);
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            kf_errf(errstr, errstr_size,
                    "safetensors[\"%s\"].shape[%u]: expected a non-negative integer", name, d);
            return -EPROTO;
        }
        t->shape[d] = (uint64_t)json_integer_value(v);
    }
    const json_t *offs = json_object_get(o, "data_offsets");
    const json_t *b = json_array_get(offs, 0), *e = json_array_get(offs, 1);
    if (!json_is_array(offs) || json_array_size(offs) != 2 || !json_is_integer(b) ||
        !json_is_integer(e) || json_integer_value(b) < 0 ||
        json_integer_value(e) < json_integer_value(b)) {
        kf_errf(errstr, errstr_size,
                "safetensors[\"%s\"].data_offsets: expected [begin, end] with 0 <= begin <= end",
                name);
        return -EPROTO;
    }
    t->offset = (uint64_t)json_integer_value(b);
    t->length = (uint64_t)(json_integer_value(e) - json_integer_value(b));
    return 0;
}

static int by_offset(const void *a, const void *b)
{
    const struct schema_tensor *x = a, *y = b;
    if (x->offset != y->offset)
        return x->offset < y->offset ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const struct safet_meta *)a)->key, ((const struct safet_meta *)b)->key);
}

static int parse_header(const json_t *j, struct safet_file *f, char *errstr, size_t errstr_size)
{
    size_t n = json_object_size(j);
    if (n > SAFET_MAX_TENSORS + 1) {
        kf_errf(errstr, errstr_size, "safetensors: %zu entries, limit %d", n, SAFET_MAX_TENSORS);
        return -E2BIG;
    }
    if (n && !(f->tensors = calloc(n, sizeof(*f->tensors))))
        return -ENOMEM;
    const char *key;
    const json_t *v;
    int err;
    json_object_foreach((json_t *)j, key, v)
    {
        if (!strcmp(key, "__metadata__")) {
            if ((err = parse_meta(v, f, errstr, errstr_size)))
                return err;
            continue;
        }
        if ((err = parse_tensor(key, v, &f->tensors[f->n_tensors], errstr, errstr_size)))
            return err;
        f->n_tensors++;
    }
    if ((err = schema_tensors_check(f->tensors, f->n_tensors, f->data_size, "safetensors", errstr,
                                    errstr_size)))
        return err;
    if (f->n_tensors)
        qsort(f->tensors, f->n_tensors, sizeof(*f->tensors), by_offset);
    if (f->n_meta)
        qsort(f->meta, f->n_meta, sizeof(*f->meta), by_key);
    return 0;
}

int safet_parse(const uint8_t *buf, size_t len, uint64_t file_size, struct safet_file **out,
                char *errstr, size_t errstr_size)
{
    if (!buf || !out) {
        kf_errf(errstr, errstr_size, "safetensors: no buffer");
        return -EINVAL;
    }
    *out = NULL;
    uint64_t n = 0;
    int err = safet_header_len(buf, len, &n);
    if (err == -E2BIG) {
        kf_errf(errstr, errstr_size, "safetensors: header of %llu bytes, limit %u",
                (unsigned long long)n, SAFET_MAX_HEADER);
        return err;
    }
    if (err) {
        kf_errf(errstr, errstr_size, "safetensors: truncated (%zu bytes, the length alone is 8)",
                len);
        return -EPROTO;
    }
    if (len < 8 + n || file_size < 8 + n || len > file_size) {
        kf_errf(errstr, errstr_size, "safetensors: truncated (header needs %llu bytes)",
                (unsigned long long)(8 + n));
        return -EPROTO;
    }
    json_t *j;
    if ((err = ju_load(buf + 8, (size_t)n, SAFET_MAX_HEADER, "safetensors header", &j, errstr,
                       errstr_size)))
        return err;
    struct safet_file *f = calloc(1, sizeof(*f));
    if (!f) {
        json_decref(j);
        return -ENOMEM;
    }
    f->header_len = n;
    f->data_offset = 8 + n;
    f->data_size = file_size - f->data_offset;
    err = parse_header(j, f, errstr, errstr_size);
    json_decref(j);
    if (err) {
        safet_file_free(f);
        return err;
    }
    *out = f;
    return 0;
}
