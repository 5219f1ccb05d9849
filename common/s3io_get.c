/* GETs: whole object into a buffer, a range into caller memory, or a stream
 * to a callback. All three are one streamed GET underneath, which resumes
 * after the bytes already delivered when an attempt is retried, so a
 * callback never sees a byte twice. */
#include "common/s3io_impl.h"

#include <errno.h>
#include <string.h>

static S3Status get_data(int size, const char *buf, void *data)
{
    struct s3io_op *op = data;
    if (size <= 0)
        return S3StatusOK;
    if (op->len && op->got + (uint64_t)size > op->len) {
        /* More than asked for: the server ignored the Range header. */
        op->cb_err = -EPROTO;
        return S3StatusAbortedByCallback;
    }
    int err = op->data_cb(op->data_opaque, (const uint8_t *)buf, (size_t)size);
    if (err) {
        op->cb_err = err < 0 ? err : -ECANCELED;
        return S3StatusAbortedByCallback;
    }
    op->got += (uint64_t)size;
    op->attempt_got += (uint64_t)size;
    atomic_fetch_add(&op->s3->bytes_in, (uint64_t)size);
    return S3StatusOK;
}

void s3io_get_issue(struct s3io_op *op, S3RequestContext *ctx, int timeout_ms)
{
    static const S3GetObjectHandler handler = {
        .responseHandler = {.propertiesCallback = s3io_on_properties,
                            .completeCallback = s3io_on_complete},
        .getObjectDataCallback = get_data,
    };
    if (op->len && op->got >= op->len) {
        /* Everything arrived before the last attempt failed. */
        s3io_on_complete(S3StatusOK, NULL, op);
        return;
    }
    uint64_t start = op->offset + op->got;
    uint64_t count = op->len ? op->len - op->got : 0;
    S3_get_object(&op->s3->bc, op->key, NULL, start, count, ctx,
                  S3IO_TIMEOUT_ARG(timeout_ms) & handler, op);
}

int s3io_get_stream(s3io *s3, const char *key, uint64_t offset, uint64_t len, s3io_data_cb *cb,
                    void *opaque, int timeout_ms, char *errstr, size_t errstr_size)
{
    if (!s3 || !key || !*key || !cb)
        return -EINVAL;
    struct s3io_op op;
    s3io_op_init(&op, s3, S3IO_OP_GET, key);
    op.offset = offset;
    op.len = len;
    op.data_cb = cb;
    op.data_opaque = opaque;
    struct s3io_op *ops[1] = {&op};
    return s3io_run(s3, ops, 1, timeout_ms, errstr, errstr_size);
}

struct to_buf {
    kf_buf *out;
    size_t max_size, start_len;
};

static int append_cb(void *opaque, const uint8_t *data, size_t len)
{
    struct to_buf *t = opaque;
    if (t->max_size && t->out->len - t->start_len + len > t->max_size)
        return -EFBIG;
    return kf_buf_append(t->out, data, len);
}

int s3io_get(s3io *s3, const char *key, kf_buf *out, size_t max_size, int timeout_ms, char *errstr,
             size_t errstr_size)
{
    if (!out)
        return -EINVAL;
    struct to_buf t = {.out = out, .max_size = max_size, .start_len = out->len};
    int err = s3io_get_stream(s3, key, 0, 0, append_cb, &t, timeout_ms, errstr, errstr_size);
    if (err)
        out->len = t.start_len;
    return err;
}

struct to_mem {
    uint8_t *dst;
    size_t pos;
};

static int copy_cb(void *opaque, const uint8_t *data, size_t len)
{
    struct to_mem *m = opaque;
    memcpy(m->dst + m->pos, data, len); /* get_data keeps pos + len <= the range */
    m->pos += len;
    return 0;
}

int s3io_get_range(s3io *s3, const char *key, uint64_t offset, size_t len, void *dst,
                   int timeout_ms, char *errstr, size_t errstr_size)
{
    if (!dst || !len)
        return -EINVAL;
    struct to_mem m = {.dst = dst};
    return s3io_get_stream(s3, key, offset, len, copy_cb, &m, timeout_ms, errstr, errstr_size);
}
