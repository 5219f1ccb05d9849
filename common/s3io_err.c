/* S3Status -> negative errno, which failures are retried, and the one-line
 * reasons: an operator reading a log must tell "bad credentials" from "server
 * down" from "object missing" without knowing libs3's status names. */
#include "common/kf_err.h"
#include "common/s3io_impl.h"

#include <errno.h>
#include <stdio.h>

int s3io_err_from_status(S3Status status)
{
    switch (status) {
    case S3StatusOK: return 0;
    case S3StatusOutOfMemory: return -ENOMEM;
    /* libs3 reports Interrupted only when a request context is destroyed
     * with requests in flight, which s3io does when the deadline passes. */
    case S3StatusInterrupted: return -ETIMEDOUT;
    case S3StatusNameLookupError: return -EHOSTUNREACH;
    case S3StatusFailedToConnect: return -ECONNREFUSED;
    case S3StatusConnectionFailed: return -ECONNRESET;
    case S3StatusAbortedByCallback: return -ECANCELED;
    case S3StatusServerFailedVerification:
    case S3StatusXmlParseFailure: return -EPROTO;

    case S3StatusInvalidBucketNameTooLong:
    case S3StatusInvalidBucketNameFirstCharacter:
    case S3StatusInvalidBucketNameCharacter:
    case S3StatusInvalidBucketNameCharacterSequence:
    case S3StatusInvalidBucketNameTooShort:
    case S3StatusInvalidBucketNameDotQuadNotation:
    case S3StatusQueryParamsTooLong:
    case S3StatusKeyTooLong:
    case S3StatusUriTooLong:
    case S3StatusHeadersTooLong:
    case S3StatusErrorInvalidArgument:
    case S3StatusErrorInvalidBucketName:
    case S3StatusErrorKeyTooLong:
    case S3StatusErrorInvalidURI:
    case S3StatusErrorMalformedXML:
    case S3StatusHttpErrorBadRequest: return -EINVAL;

    case S3StatusErrorAccessDenied:
    case S3StatusErrorAccountProblem:
    case S3StatusErrorCredentialsNotSupported:
    case S3StatusErrorExpiredToken:
    case S3StatusErrorInvalidAccessKeyId:
    case S3StatusErrorInvalidSecurity:
    case S3StatusErrorInvalidToken:
    case S3StatusErrorMissingSecurityElement:
    case S3StatusErrorMissingSecurityHeader:
    case S3StatusErrorNotSignedUp:
    case S3StatusErrorRequestTimeTooSkewed:
    case S3StatusErrorSignatureDoesNotMatch:
    case S3StatusErrorTokenRefreshRequired:
    case S3StatusHttpErrorForbidden: return -EACCES;

    case S3StatusErrorNoSuchBucket:
    case S3StatusErrorNoSuchKey:
    case S3StatusHttpErrorNotFound: return -ENOENT;

    case S3StatusErrorBucketAlreadyExists:
    case S3StatusErrorBucketAlreadyOwnedByYou: return -EEXIST;

    case S3StatusErrorInvalidRange: return -ERANGE;

    case S3StatusErrorInternalError:
    case S3StatusErrorOperationAborted:
    case S3StatusErrorRequestTimeout:
    case S3StatusErrorSlowDown: return -EAGAIN;

    case S3StatusErrorEntityTooLarge:
    case S3StatusErrorMaxMessageLengthExceeded: return -EFBIG;

    case S3StatusErrorBadDigest:
    case S3StatusErrorInvalidDigest:
    case S3StatusErrorIncompleteBody: return -EPROTO;

    case S3StatusErrorBucketNotEmpty: return -ENOTEMPTY;
    case S3StatusHttpErrorConflict: return -EBUSY;

    default: return -EIO;
    }
}

bool s3io_status_retriable(S3Status status)
{
    /* libs3's list (lookup, connect, connection failed, 500, RequestTimeout,
     * OperationAborted) plus the server asking us to slow down (503). */
    return S3_status_is_retryable(status) || status == S3StatusErrorSlowDown ||
           status == S3StatusErrorInternalError;
}

static const char *op_name(enum s3io_op_kind kind)
{
    switch (kind) {
    case S3IO_OP_PUT: return "PUT";
    case S3IO_OP_GET: return "GET";
    case S3IO_OP_HEAD: return "HEAD";
    case S3IO_OP_DELETE: return "DELETE";
    case S3IO_OP_LIST: return "LIST";
    case S3IO_OP_BUCKET_CREATE: return "CREATE BUCKET";
    }
    return "?";
}

void s3io_op_errstr(const struct s3io_op *op, int err, int timeout_ms, char *errstr,
                    size_t errstr_size)
{
    if (!errstr || !errstr_size)
        return;
    const s3io *s3 = op->s3;
    char why[512];
    switch (err) {
    case -ENOENT:
        if (op->status == S3StatusErrorNoSuchBucket)
            snprintf(why, sizeof(why), "no such bucket '%s' (404)", s3->bucket);
        else
            snprintf(why, sizeof(why), "no such object (404)");
        break;
    case -EACCES:
        /* A store that takes only the other signature answers like one that
         * refuses the keys (S3Proxy: 403 AccessDenied "Forbidden"). */
        if (s3->v4)
            snprintf(why, sizeof(why),
                     "credentials refused by %s (403, SigV4): check s3.access_key, "
                     "s3.secret_key and s3.region; if this store accepts only SigV2, set "
                     "s3.signature=v2",
                     s3->endpoint);
        else
            snprintf(why, sizeof(why),
                     "credentials refused by %s (403, SigV2): check s3.access_key and "
                     "s3.secret_key; if this store requires SigV4 (AWS, most current "
                     "stores), set s3.signature=v4",
                     s3->endpoint);
        break;
    case -ECONNREFUSED:
        snprintf(why, sizeof(why), "connection refused by %s: is the S3 server running?",
                 s3->endpoint);
        break;
    case -EHOSTUNREACH:
        snprintf(why, sizeof(why), "cannot resolve the host of %s", s3->endpoint);
        break;
    case -ECONNRESET:
        snprintf(why, sizeof(why), "the connection to %s failed mid-request", s3->endpoint);
        break;
    case -ETIMEDOUT:
        snprintf(why, sizeof(why), "no complete answer from %s within the %d ms deadline",
                 s3->endpoint, timeout_ms);
        break;
    case -EAGAIN:
        snprintf(why, sizeof(why), "%s kept failing or throttling until the deadline",
                 s3->endpoint);
        break;
    case -ERANGE: snprintf(why, sizeof(why), "range beyond the end of the object"); break;
    case -EPROTO:
        if (op->status == S3StatusServerFailedVerification)
            snprintf(why, sizeof(why),
                     "the TLS certificate of %s is not trusted: set s3.ca_file to the CA that "
                     "signed it",
                     s3->endpoint);
        else
            snprintf(why, sizeof(why), "%s", kf_strerror(err));
        break;
    case -EEXIST: snprintf(why, sizeof(why), "the bucket name is taken"); break;
    default: snprintf(why, sizeof(why), "%s", kf_strerror(err)); break;
    }
    const char *key = op->kind == S3IO_OP_LIST ? (op->prefix ? op->prefix : "") : op->key;
    int n = snprintf(errstr, errstr_size, "%s s3://%s/%s: %s", op_name(op->kind), s3->bucket,
                     key ? key : "", why);
    if (n < 0 || (size_t)n >= errstr_size)
        return;
    if (op->status != S3StatusOK || op->detail[0])
        n += snprintf(errstr + n, errstr_size - (size_t)n, " [%s%s%s]",
                      S3_get_status_name(op->status), op->detail[0] ? ": " : "", op->detail);
    if (n >= 0 && (size_t)n < errstr_size && op->attempts > 1)
        snprintf(errstr + n, errstr_size - (size_t)n, " after %d attempts", op->attempts);
}
