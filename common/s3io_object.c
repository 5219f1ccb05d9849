/* HEAD, DELETE and bucket creation: requests without a body either way. */
#include "common/s3io_impl.h"

#include <errno.h>
#include <string.h>

void s3io_object_issue(struct s3io_op *op, S3RequestContext *ctx, int timeout_ms)
{
    static const S3ResponseHandler handler = {
        .propertiesCallback = s3io_on_properties,
        .completeCallback = s3io_on_complete,
    };
    const S3BucketContext *bc = &op->s3->bc;
    switch (op->kind) {
    case S3IO_OP_HEAD:
        S3_head_object(bc, op->key, ctx, S3IO_TIMEOUT_ARG(timeout_ms) & handler, op);
        break;
    case S3IO_OP_DELETE:
        S3_delete_object(bc, op->key, ctx, S3IO_TIMEOUT_ARG(timeout_ms) & handler, op);
        break;
    case S3IO_OP_BUCKET_CREATE:
#if KF_S3_SIGV4
        S3_create_bucket(bc->protocol, bc->accessKeyId, bc->secretAccessKey, NULL, bc->hostName,
                         bc->bucketName, bc->authRegion, S3CannedAclPrivate, NULL, ctx, timeout_ms,
                         &handler, op);
#else
        /* libs3 2.0 signs this over "/bucket/", which S3Proxy >= 4 accepts. */
        S3_create_bucket(bc->protocol, bc->accessKeyId, bc->secretAccessKey, bc->hostName,
                         bc->bucketName, S3CannedAclPrivate, NULL, ctx, &handler, op);
#endif
        break;
    default: s3io_on_complete(S3StatusInternalError, NULL, op); break;
    }
}

static int run1(s3io *s3, enum s3io_op_kind kind, const char *key, uint64_t *size, char *etag,
                int timeout_ms, char *errstr, size_t errstr_size)
{
    struct s3io_op op;
    s3io_op_init(&op, s3, kind, key);
    struct s3io_op *ops[1] = {&op};
    int err = s3io_run(s3, ops, 1, timeout_ms, errstr, errstr_size);
    if (kind == S3IO_OP_BUCKET_CREATE && err == -EEXIST &&
        op.status == S3StatusErrorBucketAlreadyOwnedByYou) {
        if (errstr && errstr_size)
            errstr[0] = '\0';
        return 0;
    }
    if (kind == S3IO_OP_DELETE && err == -ENOENT && op.status != S3StatusErrorNoSuchBucket) {
        /* S3 answers 204 for a missing key; a server that says 404 means the same. */
        if (errstr && errstr_size)
            errstr[0] = '\0';
        return 0;
    }
    if (!err && size)
        *size = op.size;
    if (!err && etag)
        memcpy(etag, op.etag, sizeof(op.etag));
    return err;
}

int s3io_head(s3io *s3, const char *key, uint64_t *size, int timeout_ms, char *errstr,
              size_t errstr_size)
{
    if (!s3 || !key || !*key)
        return -EINVAL;
    return run1(s3, S3IO_OP_HEAD, key, size, NULL, timeout_ms, errstr, errstr_size);
}

int s3io_head_etag(s3io *s3, const char *key, uint64_t *size, char etag[S3IO_ETAG_CAP],
                   int timeout_ms, char *errstr, size_t errstr_size)
{
    if (!s3 || !key || !*key || !etag)
        return -EINVAL;
    return run1(s3, S3IO_OP_HEAD, key, size, etag, timeout_ms, errstr, errstr_size);
}

int s3io_delete(s3io *s3, const char *key, int timeout_ms, char *errstr, size_t errstr_size)
{
    if (!s3 || !key || !*key)
        return -EINVAL;
    return run1(s3, S3IO_OP_DELETE, key, NULL, NULL, timeout_ms, errstr, errstr_size);
}

int s3io_bucket_create(s3io *s3, int timeout_ms, char *errstr, size_t errstr_size)
{
    if (!s3)
        return -EINVAL;
    return run1(s3, S3IO_OP_BUCKET_CREATE, "", NULL, NULL, timeout_ms, errstr, errstr_size);
}
