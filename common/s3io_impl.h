/**
 * @file s3io_impl.h
 * @brief s3io internals shared by its .c files: the only header that includes
 *        libs3. Not for use outside common/s3io*.c.
 *
 * Two transports run the same ops: libs3 (SigV2, s3io_opts.signature_v2) and
 * libcurl with CURLOPT_AWS_SIGV4 (SigV4, the default; s3io_v4.c). Both report
 * an attempt's outcome as an S3Status, so retries, errno mapping and messages
 * are one code path.
 */
#ifndef KF_S3IO_IMPL_H
#define KF_S3IO_IMPL_H

#include "common/s3io.h"
#include "kf_s3_config.h"

#include <libs3.h>
#include <pthread.h>
#include <stdatomic.h>

/** Idle request contexts kept per client: each holds curl's connection cache. */
#define S3IO_CTX_POOL 8

struct s3io {
    char *endpoint, *bucket, *access_key, *secret_key, *region;
    S3BucketContext bc; /* points into the strings above */
    bool v4;            /* SigV4 through libcurl; false: libs3 */
    bool https;
    char *session_token; /* NULL: none */
    char *ca_file;       /* NULL: the system's trust store */
    char *base_url;      /* "http://host:port/bucket" or "http://bucket.host:port" */
    char *sigv4;         /* "aws:amz:<region>:s3" */
    int timeout_ms;
    int backoff_ms, backoff_max_ms;
    int max_parallel;
    pthread_mutex_t pool_lock;
    void *pool[S3IO_CTX_POOL]; /* S3RequestContext * (libs3) or CURLM * (v4) */
    int pool_count;
    atomic_uint_fast64_t n_put, n_get, n_head, n_delete, n_list, n_retries, n_failures;
    atomic_uint_fast64_t bytes_out, bytes_in;
};

enum s3io_op_kind {
    S3IO_OP_PUT,
    S3IO_OP_GET,
    S3IO_OP_HEAD,
    S3IO_OP_DELETE,
    S3IO_OP_LIST,
    S3IO_OP_BUCKET_CREATE,
};

enum s3io_op_state {
    S3IO_OP_WAITING, /* to be (re)started at next_try_us */
    S3IO_OP_RUNNING, /* a libs3 request is in flight */
    S3IO_OP_DONE,    /* result is final */
};

/** @brief One logical request and its retry state. */
struct s3io_op {
    enum s3io_op_kind kind;
    const char *key; /* borrowed from the caller or from key_owned */
    char *key_owned;

    /* PUT: the body; put_pos is this attempt's read position. */
    const uint8_t *put_data;
    size_t put_len, put_pos;

    /* GET: [offset, offset + len) (len 0: to the end); got = bytes delivered
     * so far over all attempts, so a retry resumes instead of repeating. */
    uint64_t offset, len, got;
    /* This attempt: bytes received and the Content-Length announced. libs3
     * 2.0 maps curl's CURLE_PARTIAL_FILE to S3StatusOK, so a body cut short
     * looks like success unless we compare the two. */
    uint64_t attempt_got, attempt_expect;
    s3io_data_cb *data_cb;
    void *data_opaque;

    /* HEAD */
    uint64_t size;
    char etag[S3IO_ETAG_CAP]; /* without quotes; "" when none */

    /* LIST: one page per attempt; marker = the last key delivered. */
    const char *prefix;
    char marker[1025];
    bool truncated;
    s3io_list_cb *list_cb;
    void *list_opaque;

    /* SigV4 transport: this attempt's curl request (s3io_v4.c) */
    struct s3io_v4_req *v4;

    /* run state */
    enum s3io_op_state state;
    bool attempt_done; /* set by the complete callback, consumed by the run loop */
    S3Status status;   /* of the last attempt */
    int cb_err;        /* a caller callback stopped the request with this */
    int attempts;
    int64_t next_try_us;
    int result;       /* final: 0 or negative errno */
    char detail[256]; /* the server's message for the last failure */
    s3io *s3;
};

/** @brief Serialises issuing libs3 requests (libs3 2.0 formats dates with gmtime()). */
extern pthread_mutex_t s3io_issue_lock;

/** @brief Negative errno for an S3Status (the table is in s3io_err.c). */
int s3io_err_from_status(S3Status status);

/** @brief Whether a failed attempt with @p status is worth retrying. */
bool s3io_status_retriable(S3Status status);

/**
 * @brief One line for a failed op: what, where, why, how often tried.
 * @param timed_out the deadline cut a request short
 */
void s3io_op_errstr(const struct s3io_op *op, int err, int timeout_ms, char *errstr,
                    size_t errstr_size);

/**
 * @brief Run @p ops to completion (parallel up to the client's max_parallel)
 *        under one deadline of @p timeout_ms (0: the client's default).
 * @returns 0 if all succeeded, else the result of the first failed op (by
 *          index), its reason in errstr
 */
int s3io_run(s3io *s3, struct s3io_op **ops, size_t count, int timeout_ms, char *errstr,
             size_t errstr_size);

/** @brief Prepare @p op for (re)use: zero it and set kind, key and client. */
void s3io_op_init(struct s3io_op *op, s3io *s3, enum s3io_op_kind kind, const char *key);

/* The response callbacks every op uses (s3io_run.c): properties record the
 * size, complete records the status and flags the attempt as finished. */
S3Status s3io_on_properties(const S3ResponseProperties *props, void *data);
void s3io_on_complete(S3Status status, const S3ErrorDetails *details, void *data);

/* Start one attempt of @p op on @p ctx, called with s3io_issue_lock held.
 * Each kind lives in its own file; the attempt may finish synchronously. */
void s3io_put_issue(struct s3io_op *op, S3RequestContext *ctx, int timeout_ms);
void s3io_get_issue(struct s3io_op *op, S3RequestContext *ctx, int timeout_ms);
void s3io_list_issue(struct s3io_op *op, S3RequestContext *ctx, int timeout_ms);
void s3io_object_issue(struct s3io_op *op, S3RequestContext *ctx, int timeout_ms);

/* The SigV4 transport (s3io_v4.c): a context is a curl multi handle. */
void *s3io_v4_ctx_new(void);
void s3io_v4_ctx_free(void *ctx);
/** @brief Start one attempt (cannot fail: a failure completes the attempt). */
void s3io_v4_issue(struct s3io_op *op, void *ctx, int timeout_ms);
/** @brief Wait up to @p wait_us for socket activity, then move transfers on
 *         and complete the finished attempts (s3io_on_complete's contract). */
void s3io_v4_run_once(void *ctx, int64_t wait_us);
/** @brief Drop @p op's attempt in flight (deadline); its op state is the caller's. */
void s3io_v4_abort(struct s3io_op *op, void *ctx);
/** @brief The S3Status for an S3 error answer: its <Code>, else its HTTP status. */
S3Status s3io_v4_status(long http_code, const char *code);
/** @brief "scheme://host/bucket" (path style) or "scheme://bucket.host" (virtual host). */
int s3io_v4_base_url(kf_buf *out, bool https, bool virtual_host, const char *endpoint,
                     const char *bucket);

/* libs3 with SigV4 (authRegion) takes a per-request timeout argument; 2.0 does not. */
#if KF_S3_SIGV4
#define S3IO_TIMEOUT_ARG(ms) (ms),
#else
#define S3IO_TIMEOUT_ARG(ms)
#endif

#endif
