/* PUT from a caller's buffer. libs3 2.0 has no multipart upload; kfleet
 * chunks its blobs (<= 64 MiB each) so one PUT per chunk is enough, and a
 * buffer can be re-read from the start when an attempt is retried. */
#include "common/s3io_impl.h"

#include <errno.h>
#include <string.h>

static int put_data(int size, char *buf, void *data)
{
    struct s3io_op *op = data;
    size_t left = op->put_len - op->put_pos;
    size_t n = (size_t)size < left ? (size_t)size : left;
    if (n)
        memcpy(buf, op->put_data + op->put_pos, n);
    op->put_pos += n;
    return (int)n;
}

void s3io_put_issue(struct s3io_op *op, S3RequestContext *ctx, int timeout_ms)
{
    static const S3PutObjectHandler handler = {
        .responseHandler = {.propertiesCallback = s3io_on_properties,
                            .completeCallback = s3io_on_complete},
        .putObjectDataCallback = put_data,
    };
    op->put_pos = 0; /* a retry sends the whole body again */
    S3_put_object(&op->s3->bc, op->key, op->put_len, NULL, ctx,
                  S3IO_TIMEOUT_ARG(timeout_ms) & handler, op);
}

int s3io_put(s3io *s3, const char *key, const void *data, size_t len, int timeout_ms, char *errstr,
             size_t errstr_size)
{
    if (!s3 || !key || !*key || (!data && len))
        return -EINVAL;
    struct s3io_op op;
    s3io_op_init(&op, s3, S3IO_OP_PUT, key);
    op.put_data = data;
    op.put_len = len;
    struct s3io_op *ops[1] = {&op};
    return s3io_run(s3, ops, 1, timeout_ms, errstr, errstr_size);
}
