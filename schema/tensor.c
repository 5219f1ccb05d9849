/* Tensor-table rules shared by manifest_validate.c and safet_read.c. */
#include "schema/tensor.h"

#include "common/kf_err.h"

#include <stdlib.h>
#include <string.h>

long schema_tensor_find(const struct schema_tensor *t, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(t[i].name, name))
            return (long)i;
    return -1;
}

/* qsort has no context argument in C17; the table travels in a static would
 * not be thread-safe, so sort pointers instead. */
static int by_name(const void *a, const void *b)
{
    const struct schema_tensor *x = *(const struct schema_tensor *const *)a;
    const struct schema_tensor *y = *(const struct schema_tensor *const *)b;
    return strcmp(x->name, y->name);
}

static int by_offset(const void *a, const void *b)
{
    const struct schema_tensor *x = *(const struct schema_tensor *const *)a;
    const struct schema_tensor *y = *(const struct schema_tensor *const *)b;
    if (x->offset != y->offset)
        return x->offset < y->offset ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int check_one(const struct schema_tensor *t, uint64_t blob_size, const char *what,
                     char *errstr, size_t errstr_size)
{
    size_t nlen = strnlen(t->name, SCHEMA_TENSOR_NAME_CAP);
    if (nlen == 0 || nlen >= SCHEMA_TENSOR_NAME_CAP) {
        kf_errf(errstr, errstr_size, "%s: tensor name must be 1..256 bytes", what);
        return -EPROTO;
    }
    size_t esz = schema_dtype_size(t->dtype);
    if (!esz) {
        kf_errf(errstr, errstr_size, "%s[\"%s\"].dtype: unknown dtype", what, t->name);
        return -EPROTO;
    }
    if (t->ndim > SCHEMA_TENSOR_MAX_DIMS) {
        kf_errf(errstr, errstr_size, "%s[\"%s\"].shape: %u dimensions, limit %d", what, t->name,
                t->ndim, SCHEMA_TENSOR_MAX_DIMS);
        return -EPROTO;
    }
    uint64_t want = esz;
    for (uint32_t d = 0; d < t->ndim; d++) {
        if (__builtin_mul_overflow(want, t->shape[d], &want)) {
            kf_errf(errstr, errstr_size, "%s[\"%s\"].shape: size overflows", what, t->name);
            return -EPROTO;
        }
    }
    if (want != t->length) {
        kf_errf(errstr, errstr_size,
                "%s[\"%s\"]: length %llu bytes, but shape × dtype size is %llu", what, t->name,
                (unsigned long long)t->length, (unsigned long long)want);
        return -EPROTO;
    }
    uint64_t end;
    if (__builtin_add_overflow(t->offset, t->length, &end) || end > blob_size) {
        kf_errf(errstr, errstr_size,
                "%s[\"%s\"]: bytes %llu..%llu lie outside the blob of %llu bytes", what, t->name,
                (unsigned long long)t->offset, (unsigned long long)t->offset + t->length,
                (unsigned long long)blob_size);
        return -EPROTO;
    }
    return 0;
}

int schema_tensors_check(const struct schema_tensor *t, size_t n, uint64_t blob_size,
                         const char *what, char *errstr, size_t errstr_size)
{
    int err;
    for (size_t i = 0; i < n; i++)
        if ((err = check_one(&t[i], blob_size, what, errstr, errstr_size)))
            return err;
    if (n < 2)
        return 0;

    const struct schema_tensor **v = malloc(n * sizeof(*v));
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        v[i] = &t[i];
    err = 0;
    qsort(v, n, sizeof(*v), by_name);
    for (size_t i = 1; i < n && !err; i++) {
        if (!strcmp(v[i - 1]->name, v[i]->name)) {
            kf_errf(errstr, errstr_size, "%s[\"%s\"]: duplicate tensor name", what, v[i]->name);
            err = -EPROTO;
        }
    }
    qsort(v, n, sizeof(*v), by_offset);
    const struct schema_tensor *prev = NULL;
    for (size_t i = 0; i < n && !err; i++) {
        if (!v[i]->length)
            continue; /* an empty tensor occupies no bytes */
        if (prev && prev->offset + prev->length > v[i]->offset) {
            kf_errf(errstr, errstr_size, "%s[\"%s\"] overlaps %s[\"%s\"]", what, v[i]->name, what,
                    prev->name);
            err = -EPROTO;
        }
        prev = v[i];
    }
    free(v);
    return err;
}
