/* safetensors writer, for the tests, the publisher's tools and fixtures. */
#include "schema/safet.h"

#include "common/kf_err.h"
#include "schema/json_impl.h"

#include <string.h>

static int tensor_bytes(const struct safet_input *t, uint64_t *len)
{
    size_t esz = schema_dtype_size(t->dtype);
    if (!esz || !t->name || !t->name[0] || strlen(t->name) >= SCHEMA_TENSOR_NAME_CAP ||
        !strcmp(t->name, "__metadata__") || t->ndim > SCHEMA_TENSOR_MAX_DIMS ||
        (t->ndim && !t->shape))
        return -EINVAL;
    uint64_t n = esz;
    for (uint32_t d = 0; d < t->ndim; d++)
        if (__builtin_mul_overflow(n, t->shape[d], &n))
            return -EINVAL;
    if (n && !t->data)
        return -EINVAL;
    *len = n;
    return 0;
}

static json_t *header_json(const struct safet_input *t, size_t n, const struct safet_meta *meta,
                           size_t n_meta, int *err)
{
    json_t *h = json_object();
    if (!h) {
        *err = -ENOMEM;
        return NULL;
    }
    uint64_t off = 0, len;
    for (size_t i = 0; i < n && !*err; i++) {
        if ((*err = tensor_bytes(&t[i], &len)))
            break;
        if (json_object_get(h, t[i].name)) {
            *err = -EINVAL;
            break;
        }
        json_t *shape = json_array();
        for (uint32_t d = 0; shape && d < t[i].ndim; d++)
            if (json_array_append_new(shape, json_integer((json_int_t)t[i].shape[d])))
                *err = -ENOMEM;
        json_t *o = json_pack("{sssos[II]}", "dtype", schema_dtype2safet(t[i].dtype), "shape",
                              shape, "data_offsets", (json_int_t)off, (json_int_t)(off + len));
        ju_set(h, t[i].name, o, err);
        off += len;
    }
    if (n_meta && !*err) {
        json_t *m = json_object();
        for (size_t i = 0; m && i < n_meta; i++) {
            if (!meta[i].key || !meta[i].value) {
                *err = -EINVAL;
                break;
            }
            ju_set(m, meta[i].key, json_string(meta[i].value), err);
        }
        ju_set(h, "__metadata__", m, err);
    }
    return h;
}

int safet_write(kf_buf *out, const struct safet_input *t, size_t n, const struct safet_meta *meta,
                size_t n_meta)
{
    if (!out || (n && !t) || (n_meta && !meta))
        return -EINVAL;
    int err = 0;
    size_t start = out->len;
    json_t *h = header_json(t, n, meta, n_meta, &err);
    kf_buf hdr;
    kf_buf_init(&hdr);
    if (!err)
        err = ju_dump(h, &hdr);
    json_decref(h);
    /* Spaces up to a multiple of 8, so the data section is 8-byte aligned in a mapped file. */
    while (!err && (8 + hdr.len) % 8)
        err = kf_buf_append(&hdr, " ", 1);
    uint8_t len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (uint8_t)((uint64_t)hdr.len >> (8 * i));
    if (!err)
        err = kf_buf_append(out, len8, 8);
    if (!err)
        err = kf_buf_append(out, hdr.ptr, hdr.len);
    for (size_t i = 0; i < n && !err; i++) {
        uint64_t len = 0;
        tensor_bytes(&t[i], &len);
        err = kf_buf_append(out, t[i].data, (size_t)len);
    }
    kf_buf_fini(&hdr);
    if (err)
        out->len = start;
    return err;
}
