/* Batches: many requests on one request context under one deadline, and
 * s3io_get_parallel, the whole-object read through parallel ranged GETs. */
#include "common/s3io_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct s3io_batch {
    s3io *s3;
    struct s3io_op **ops;
    size_t count, cap;
    /* ranged GETs into memory keep their destination here */
    struct range_dst {
        uint8_t *dst;
        size_t pos;
    } * dsts;
};

s3io_batch *s3io_batch_new(s3io *s3)
{
    if (!s3)
        return NULL;
    s3io_batch *b = calloc(1, sizeof(*b));
    if (b)
        b->s3 = s3;
    return b;
}

void s3io_batch_free(s3io_batch *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->count; i++) {
        free(b->ops[i]->key_owned);
        free(b->ops[i]);
    }
    free(b->ops);
    free(b->dsts);
    free(b);
}

static struct s3io_op *add(s3io_batch *b, enum s3io_op_kind kind, const char *key)
{
    if (b->count == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        struct s3io_op **ops = realloc(b->ops, cap * sizeof(*ops));
        if (!ops)
            return NULL;
        b->ops = ops;
        struct range_dst *d = realloc(b->dsts, cap * sizeof(*d));
        if (!d)
            return NULL;
        b->dsts = d;
        b->cap = cap;
    }
    struct s3io_op *op = malloc(sizeof(*op));
    char *k = strdup(key);
    if (!op || !k) {
        free(op);
        free(k);
        return NULL;
    }
    s3io_op_init(op, b->s3, kind, k);
    op->key_owned = k;
    b->dsts[b->count] = (struct range_dst){0};
    b->ops[b->count++] = op;
    return op;
}

int s3io_batch_put(s3io_batch *b, const char *key, const void *data, size_t len)
{
    if (!b || !key || !*key || (!data && len))
        return -EINVAL;
    struct s3io_op *op = add(b, S3IO_OP_PUT, key);
    if (!op)
        return -ENOMEM;
    op->put_data = data;
    op->put_len = len;
    return (int)b->count - 1;
}

int s3io_batch_get_stream(s3io_batch *b, const char *key, uint64_t offset, uint64_t len,
                          s3io_data_cb *cb, void *opaque)
{
    if (!b || !key || !*key || !cb)
        return -EINVAL;
    struct s3io_op *op = add(b, S3IO_OP_GET, key);
    if (!op)
        return -ENOMEM;
    op->offset = offset;
    op->len = len;
    op->data_cb = cb;
    op->data_opaque = opaque;
    return (int)b->count - 1;
}

static int copy_cb(void *opaque, const uint8_t *data, size_t len)
{
    struct range_dst *d = opaque;
    memcpy(d->dst + d->pos, data, len); /* the GET never exceeds its range */
    d->pos += len;
    return 0;
}

int s3io_batch_get_range(s3io_batch *b, const char *key, uint64_t offset, size_t len, void *dst)
{
    if (!b || !dst || !len)
        return -EINVAL;
    int idx = s3io_batch_get_stream(b, key, offset, len, copy_cb, NULL);
    if (idx < 0)
        return idx;
    /* dsts may move while the batch grows: point the op at it at run time. */
    b->dsts[idx] = (struct range_dst){.dst = dst};
    return idx;
}

int s3io_batch_run(s3io_batch *b, int timeout_ms, char *errstr, size_t errstr_size)
{
    if (!b)
        return -EINVAL;
    if (!b->count)
        return 0;
    for (size_t i = 0; i < b->count; i++) {
        if (b->dsts[i].dst) {
            b->dsts[i].pos = 0;
            b->ops[i]->data_opaque = &b->dsts[i];
        }
        b->ops[i]->got = 0;
        b->ops[i]->result = 0;
    }
    return s3io_run(b->s3, b->ops, b->count, timeout_ms, errstr, errstr_size);
}

int s3io_batch_result(const s3io_batch *b, int index)
{
    if (!b || index < 0 || (size_t)index >= b->count)
        return -EINVAL;
    return b->ops[index]->result;
}

int s3io_get_parallel(s3io *s3, const char *key, uint64_t size, size_t part_size, void *dst,
                      int timeout_ms, char *errstr, size_t errstr_size)
{
    if (!s3 || !key || !dst)
        return -EINVAL;
    if (!size)
        return 0;
    if (!part_size)
        part_size = 8u << 20;
    s3io_batch *b = s3io_batch_new(s3);
    if (!b)
        return -ENOMEM;
    int err = 0;
    for (uint64_t off = 0; off < size && !err; off += part_size) {
        size_t n = size - off < part_size ? (size_t)(size - off) : part_size;
        int idx = s3io_batch_get_range(b, key, off, n, (uint8_t *)dst + off);
        if (idx < 0)
            err = idx;
    }
    if (!err)
        err = s3io_batch_run(b, timeout_ms, errstr, errstr_size);
    s3io_batch_free(b);
    return err;
}
