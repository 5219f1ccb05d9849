/**
 * @file s3io.h
 * @brief s3io: kfleet's object-store edge (S3 and compatibles: S3Proxy,
 *        MinIO, Ceph RGW): SigV4 through libcurl, SigV2 through libs3. The
 *        only code that includes libs3.h or curl.h.
 *
 * Every call has a deadline: its timeout_ms argument, or the client's default
 * (s3io_opts.timeout_ms) when 0. Within it, retriable failures (connection
 * refused or reset, DNS, 5xx, SlowDown, RequestTimeout — libs3's
 * S3_status_is_retryable plus throttling) are retried with exponential
 * back-off and jitter; when the deadline passes, the call fails with the last
 * error seen (or -ETIMEDOUT when a request was still running). Requests in a
 * call run in parallel on one libs3 request context (curl multi), so N ranged
 * GETs or PUTs of one batch share the wire.
 *
 * Errors (negative errno, translated from S3Status at the edge):
 *   -ENOENT        no such object (404 NoSuchKey) or no such bucket (NoSuchBucket)
 *   -EACCES        credentials refused (403: InvalidAccessKeyId,
 *                  SignatureDoesNotMatch, AccessDenied, RequestTimeTooSkewed)
 *   -ECONNREFUSED  nothing listens at the endpoint (server down)
 *   -EHOSTUNREACH  the endpoint's name does not resolve
 *   -ECONNRESET    the connection broke mid-request
 *   -ETIMEDOUT     the deadline passed while a request was in flight
 *   -EAGAIN        the server asked to slow down / had an internal error, until the deadline
 *   -ERANGE        a ranged read past the end of the object
 *   -EPROTO        the server's answer was malformed or of the wrong size
 *   -EEXIST        bucket exists and belongs to someone else
 *   -EINVAL        bad argument (empty key, bad bucket name)
 *   -ENOMEM, -EIO  out of memory; any other failure (errstr names the S3 status)
 * Each failing call can write a one-line reason naming the endpoint, bucket
 * and key into the caller's errstr.
 *
 * Signing (s3io_opts.signature): SigV4 by default, signed by libcurl
 * (CURLOPT_AWS_SIGV4) with s3io's own transport; SigV2 for stores that accept
 * nothing else, through libs3 (Debian's libs3 2.0 signs only SigV2). A store
 * that refuses the signature gets a -EACCES whose reason names the setting
 * to change. s3io_signing() says which a client uses.
 *
 * @locality an s3io client is thread-safe: any thread may run calls on it at
 *           the same time (each call has its own request context). An
 *           s3io_batch belongs to one thread; its callbacks run on that thread
 *           inside s3io_batch_run().
 */
#ifndef KF_S3IO_H
#define KF_S3IO_H

#include "common/kf_buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct s3io s3io;

/** @brief How requests are signed. */
enum s3io_signature {
    S3IO_SIGV4 = 0, /**< AWS Signature Version 4, through libcurl (the default) */
    S3IO_SIGV2,     /**< AWS Signature Version 2, through libs3: SigV2-only stores */
};

/** @brief Connection settings. Strings are copied by s3io_new(). */
struct s3io_opts {
    const char *endpoint;          /**< "host:port" (e.g. "127.0.0.1:19000"); required */
    const char *bucket;            /**< required */
    const char *access_key;        /**< required */
    const char *secret_key;        /**< required */
    const char *region;            /**< SigV4's signing region; NULL: "us-east-1" */
    enum s3io_signature signature; /**< 0: SigV4 */
    const char *session_token;     /**< temporary credentials' token, sent as
                                        x-amz-security-token; NULL: none. SigV4 only */
    const char *ca_file;           /**< HTTPS: PEM file of the CAs to trust; NULL: the
                                        system's. SigV4 only (libs3 2.0 checks no certificate) */
    bool https;                    /**< false: plain http (the devstack) */
    bool virtual_host;             /**< false: path-style URIs (S3Proxy, MinIO) */
    int timeout_ms;                /**< default deadline per call; 0: 30000 */
    int retry_backoff_ms;          /**< first back-off; 0: 100. Doubles per retry */
    int retry_backoff_max_ms;      /**< back-off cap; 0: 2000 */
    int max_parallel;              /**< requests in flight per batch; 0: 8 */
};

/**
 * @brief Initialise libs3 (once per process; s3io_new calls it too).
 *        Call it early on the main thread if other threads will create clients.
 * @returns 0, -EIO (libs3 or curl could not initialise)
 */
int s3io_global_init(void);

/** @brief Release libs3's global state. Only when no s3io call runs and none will. */
void s3io_global_cleanup(void);

/** @brief "SigV4" or "SigV2": what @p s3's requests are signed with. */
const char *s3io_signing(const s3io *s3);

/**
 * @brief A new client (no network traffic yet).
 * @returns the client (s3io_free), or NULL with the reason in errstr
 *          (missing option, bad bucket name, a session token or CA file with
 *          SigV2, OOM, libs3 or curl init failure)
 */
s3io *s3io_new(const struct s3io_opts *opts, char *errstr, size_t errstr_size);
/** @brief NULL is a no-op. No call may be running on it. */
void s3io_free(s3io *s3);

/* -------------------------------------------------------- single requests */

/**
 * @brief PUT @p len bytes (borrowed for the call) as object @p key.
 * @param timeout_ms 0: the client's default
 * @returns 0; -EACCES, -ENOENT (no bucket), -ECONNREFUSED, -ETIMEDOUT, ... (file comment)
 */
int s3io_put(s3io *s3, const char *key, const void *data, size_t len, int timeout_ms, char *errstr,
             size_t errstr_size);

/**
 * @brief HEAD: whether @p key exists and its size.
 * @param[out] size may be NULL
 * @returns 0 exists; -ENOENT does not; other errors as above
 */
int s3io_head(s3io *s3, const char *key, uint64_t *size, int timeout_ms, char *errstr,
              size_t errstr_size);

/** Room for an ETag as s3io_head_etag returns it (S3's are 32 hex, or 32 hex + "-N"). */
#define S3IO_ETAG_CAP 80

/**
 * @brief HEAD, with the object's ETag as the server sent it, surrounding
 *        quotes removed; "" when the server sent none (or one longer than
 *        S3IO_ETAG_CAP - 1, which no S3 sends). For an object written by one
 *        PUT without SSE-KMS, S3 and S3Proxy send the MD5 of its bytes in hex;
 *        a multipart object's ETag has a "-N" suffix and is not a digest of
 *        the bytes. What it proves is the caller's decision (the server's word).
 * @param[out] size may be NULL
 * @param[out] etag S3IO_ETAG_CAP bytes, NUL-terminated on success
 * @returns as s3io_head
 */
int s3io_head_etag(s3io *s3, const char *key, uint64_t *size, char etag[S3IO_ETAG_CAP],
                   int timeout_ms, char *errstr, size_t errstr_size);

/**
 * @brief DELETE @p key. Deleting a missing object succeeds (S3 semantics).
 * @returns 0; errors as above
 */
int s3io_delete(s3io *s3, const char *key, int timeout_ms, char *errstr, size_t errstr_size);

/**
 * @brief GET the whole object, appended to @p out.
 * @param max_size refuse (-EFBIG) objects larger than this; 0: no limit
 * @returns 0; -ENOENT; -EFBIG; -ENOMEM; others as above. On failure @p out
 *          keeps its previous length.
 */
int s3io_get(s3io *s3, const char *key, kf_buf *out, size_t max_size, int timeout_ms, char *errstr,
             size_t errstr_size);

/**
 * @brief GET bytes [offset, offset + len) into @p dst, exactly @p len of them.
 * @returns 0; -ERANGE the object is shorter; -EPROTO the server sent a
 *          different length; others as above
 */
int s3io_get_range(s3io *s3, const char *key, uint64_t offset, size_t len, void *dst,
                   int timeout_ms, char *errstr, size_t errstr_size);

/**
 * @brief Receives object bytes in order as they arrive.
 * @param data borrowed for the call
 * @returns 0 to go on; a negative errno to stop (the GET then fails with it)
 */
typedef int s3io_data_cb(void *opaque, const uint8_t *data, size_t len);

/**
 * @brief GET bytes [offset, offset + len) (len 0: to the end) streamed to @p cb.
 *        A retried request resumes after the bytes already delivered: @p cb
 *        sees every byte exactly once, in order.
 * @returns 0; the callback's error; others as above
 */
int s3io_get_stream(s3io *s3, const char *key, uint64_t offset, uint64_t len, s3io_data_cb *cb,
                    void *opaque, int timeout_ms, char *errstr, size_t errstr_size);

/**
 * @brief One listed object.
 * @param key borrowed for the call
 * @returns 0 to go on, a negative errno to stop listing (returned by s3io_list)
 */
typedef int s3io_list_cb(void *opaque, const char *key, uint64_t size);

/**
 * @brief Every object whose key starts with @p prefix (NULL or "": all), in
 *        key order, following continuation markers.
 * @returns 0; the callback's error; others as above
 */
int s3io_list(s3io *s3, const char *prefix, s3io_list_cb *cb, void *opaque, int timeout_ms,
              char *errstr, size_t errstr_size);

/**
 * @brief Create the client's bucket. An existing bucket of ours is success.
 * @returns 0; -EEXIST (the name belongs to someone else); -EACCES; others as above
 */
int s3io_bucket_create(s3io *s3, int timeout_ms, char *errstr, size_t errstr_size);

/* --------------------------------------------------------------- batches */

/**
 * @brief A set of requests that run in parallel (up to opts.max_parallel in
 *        flight) under one deadline, each retried on its own.
 */
typedef struct s3io_batch s3io_batch;

/** @returns new batch (s3io_batch_free), NULL on OOM */
s3io_batch *s3io_batch_new(s3io *s3);
/** @brief NULL is a no-op. */
void s3io_batch_free(s3io_batch *b);

/**
 * @brief Queue a PUT. @p key is copied; @p data is borrowed until s3io_batch_run returns.
 * @returns the request's index in the batch (>= 0), -EINVAL, -ENOMEM
 */
int s3io_batch_put(s3io_batch *b, const char *key, const void *data, size_t len);
/** @brief Queue a ranged GET into @p dst (borrowed until run returns). @returns index, -EINVAL,
 * -ENOMEM */
int s3io_batch_get_range(s3io_batch *b, const char *key, uint64_t offset, size_t len, void *dst);
/** @brief Queue a streamed GET (len 0: to the end). @returns index, -EINVAL, -ENOMEM */
int s3io_batch_get_stream(s3io_batch *b, const char *key, uint64_t offset, uint64_t len,
                          s3io_data_cb *cb, void *opaque);

/**
 * @brief Run every queued request to completion or the deadline.
 * @param timeout_ms for the whole batch; 0: the client's default
 * @returns 0 all succeeded; otherwise the first failed request's error (by
 *          index), with its reason in errstr. s3io_batch_result() gives each.
 */
int s3io_batch_run(s3io_batch *b, int timeout_ms, char *errstr, size_t errstr_size);

/** @brief The result of request @p index after run: 0 or a negative errno. */
int s3io_batch_result(const s3io_batch *b, int index);

/**
 * @brief Read a whole object of known @p size into @p dst with parallel ranged
 *        GETs of @p part_size bytes (0: 8 MiB).
 * @returns 0; errors as s3io_batch_run
 */
int s3io_get_parallel(s3io *s3, const char *key, uint64_t size, size_t part_size, void *dst,
                      int timeout_ms, char *errstr, size_t errstr_size);

/* ----------------------------------------------------------------- stats */

/** @brief Counters since s3io_new (requests issued, including retries). */
struct s3io_stats {
    uint64_t put_requests, get_requests, head_requests, delete_requests, list_requests;
    uint64_t retries;
    uint64_t failures;  /**< calls (batch requests) that failed for good */
    uint64_t bytes_out; /**< body bytes sent by successful PUTs */
    uint64_t bytes_in;  /**< body bytes received by GETs */
};

/** @brief A snapshot of the counters. Thread-safe. */
void s3io_stats_get(const s3io *s3, struct s3io_stats *out);

#endif
