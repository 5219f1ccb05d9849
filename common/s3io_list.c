/* LIST with continuation: each attempt asks for one page after the last key
 * delivered, so a retried page does not hand the caller a key twice. */
#include "common/s3io_impl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define PAGE_KEYS 1000

static S3Status list_data(int truncated, const char *next_marker, int count,
                          const S3ListBucketContent *contents, int prefix_count,
                          const char **prefixes, void *data)
{
    struct s3io_op *op = data;
    (void)prefix_count;
    (void)prefixes;
    if (op->cb_err)
        return S3StatusAbortedByCallback; /* the caller said stop: say nothing more */
    op->truncated = truncated != 0;
    for (int i = 0; i < count; i++) {
        const char *key = contents[i].key;
        if (op->marker[0] && strcmp(key, op->marker) <= 0)
            continue;
        int err = op->list_cb(op->list_opaque, key, contents[i].size);
        if (err) {
            op->cb_err = err < 0 ? err : -ECANCELED;
            return S3StatusAbortedByCallback;
        }
        snprintf(op->marker, sizeof(op->marker), "%s", key);
    }
    if (truncated && next_marker && *next_marker)
        snprintf(op->marker, sizeof(op->marker), "%s", next_marker);
    return S3StatusOK;
}

void s3io_list_issue(struct s3io_op *op, S3RequestContext *ctx, int timeout_ms)
{
    static const S3ListBucketHandler handler = {
        .responseHandler = {.propertiesCallback = s3io_on_properties,
                            .completeCallback = s3io_on_complete},
        .listBucketCallback = list_data,
    };
    op->truncated = false;
    S3_list_bucket(&op->s3->bc, op->prefix && *op->prefix ? op->prefix : NULL,
                   op->marker[0] ? op->marker : NULL, NULL, PAGE_KEYS, ctx,
                   S3IO_TIMEOUT_ARG(timeout_ms) & handler, op);
}

int s3io_list(s3io *s3, const char *prefix, s3io_list_cb *cb, void *opaque, int timeout_ms,
              char *errstr, size_t errstr_size)
{
    if (!s3 || !cb)
        return -EINVAL;
    struct s3io_op op;
    s3io_op_init(&op, s3, S3IO_OP_LIST, NULL);
    op.prefix = prefix;
    op.list_cb = cb;
    op.list_opaque = opaque;
    struct s3io_op *ops[1] = {&op};
    return s3io_run(s3, ops, 1, timeout_ms, errstr, errstr_size);
}
