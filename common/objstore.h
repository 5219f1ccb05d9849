/**
 * @file objstore.h
 * @brief Where model versions live: `s3://BUCKET` (through s3io) or
 *        `file:///DIR` (the same key layout as files under DIR, for machines
 *        without S3 — the GPU box, a laptop demo). Publisher and worker both
 *        go through this, so the layout (ARCHITECTURE §3) is written once.
 *
 * Keys are S3 keys ("blobs/sha256/<hex>", "models/<m>/<v>/manifest.json").
 * Errors are s3io's (kf_err.h): -ENOENT missing, -EACCES credentials,
 * -ECONNREFUSED / -ETIMEDOUT unreachable, -EIO other; file:// maps errno.
 *
 * @locality one objstore may be used from several threads at once (s3io
 *           creates a request context per call; file:// is plain syscalls).
 */
#ifndef KF_OBJSTORE_H
#define KF_OBJSTORE_H

#include "common/kf_buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct s3io;

/** @brief S3 settings, used when the URL is s3://. Borrowed for objstore_new only. */
struct objstore_s3_opts {
    const char *endpoint, *access_key, *secret_key, *region;
    const char *session_token; /**< temporary credentials; NULL: none (SigV4 only) */
    const char *ca_file;       /**< CAs for https; NULL: the system's (SigV4 only) */
    bool https;
    bool signature_v2; /**< sign SigV2 (libs3); false: SigV4 (libcurl), the default */
    bool virtual_host; /**< bucket in the host name; false: in the path */
    int timeout_ms;    /**< per call; 0: 30000 */
    int max_parallel;  /**< parallel requests of one batch; 0: 8 */
};

/**
 * The S3 settings as rows of a kf_conf property table (the includer has
 * common/kf_conf.h), so the worker and publish-model name, default and
 * describe them alike; each reads them into its struct objstore_s3_opts.
 */
// clang-format off
#define OBJSTORE_S3_PROPS                                                                       \
    {"s3.endpoint", KF_PROP_STR, "127.0.0.1:19000", 0, 0, NULL, "S3 host:port"},                \
    {"s3.access_key", KF_PROP_STR, "kfleet", 0, 0, NULL, "S3 access key id"},                   \
    {"s3.secret_key", KF_PROP_STR, "kfleet-devstack-secret", 0, 0, NULL, "S3 secret key"},      \
    {"s3.https", KF_PROP_BOOL, "false", 0, 0, NULL, "talk to S3 over https"},                   \
    {"s3.region", KF_PROP_STR, "us-east-1", 0, 0, NULL, "S3 region (SigV4's signing region)"},  \
    {"s3.signature", KF_PROP_ENUM, "v4", 0, 0, "v4|v2",                                         \
     "request signing: v4 (AWS SigV4, through libcurl) or v2 (SigV2, through libs3; only "      \
     "for stores that refuse SigV4)"},                                                          \
    {"s3.addressing", KF_PROP_ENUM, "path", 0, 0, "path|virtual",                               \
     "path: http://HOST/BUCKET/KEY (S3Proxy, MinIO); virtual: http://BUCKET.HOST/KEY"},         \
    {"s3.session_token", KF_PROP_STR, NULL, 0, 0, NULL,                                         \
     "session token of temporary credentials (sent as x-amz-security-token; v4 only)"},         \
    {"s3.ca_file", KF_PROP_STR, NULL, 0, 0, NULL,                                               \
     "PEM file of the CAs that s3.https trusts (default: the system's; v4 only)"}
// clang-format on

typedef struct objstore objstore;

/**
 * @brief Open the store at @p url ("s3://bucket" or "file:///abs/dir"; a
 *        file:// directory is created if missing).
 * @returns NULL with the reason in errstr (bad URL, missing S3 settings).
 */
objstore *objstore_new(const char *url, const struct objstore_s3_opts *s3, char *errstr,
                       size_t errstr_size);
void objstore_free(objstore *os);
/** @brief The URL it was opened with (borrowed). */
const char *objstore_url(const objstore *os);
/** @brief The s3io client behind an s3:// store (borrowed), NULL for file://. */
struct s3io *objstore_s3(objstore *os);

/** @brief Write an object (file://: to a temp file, then rename, so readers never see half). */
int objstore_put(objstore *os, const char *key, const void *data, size_t len, char *errstr,
                 size_t errstr_size);
/** @returns 0 exists (size filled if non-NULL), -ENOENT, others */
int objstore_head(objstore *os, const char *key, uint64_t *size, char *errstr, size_t errstr_size);
/** Room for objstore_head_etag's ETag (as S3IO_ETAG_CAP). */
#define OBJSTORE_ETAG_CAP 80

/**
 * @brief HEAD with the object's ETag ("" when the store gives none: always
 *        for file://). On s3:// it is the server's ETag without quotes: the
 *        hex MD5 of the bytes for an object written by one PUT (S3 without
 *        SSE-KMS, S3Proxy, MinIO), something else for multipart objects. It
 *        is the server's claim, not a read of the bytes.
 * @returns 0 exists (size filled if non-NULL), -ENOENT, others
 */
int objstore_head_etag(objstore *os, const char *key, uint64_t *size, char etag[OBJSTORE_ETAG_CAP],
                       char *errstr, size_t errstr_size);
/** @brief Append the whole object to @p out; -EFBIG past @p max_size (0: no limit). */
int objstore_get(objstore *os, const char *key, kf_buf *out, size_t max_size, char *errstr,
                 size_t errstr_size);
/** @brief Exactly @p len bytes at @p offset into @p dst; -ERANGE if the object is shorter. */
int objstore_get_range(objstore *os, const char *key, uint64_t offset, size_t len, void *dst,
                       char *errstr, size_t errstr_size);
/** @brief Remove an object; a missing one is success. */
int objstore_delete(objstore *os, const char *key, char *errstr, size_t errstr_size);
/** @brief Every key under @p prefix, in key order. @p cb returns 0 to go on. */
int objstore_list(objstore *os, const char *prefix,
                  int (*cb)(void *opaque, const char *key, uint64_t size), void *opaque,
                  char *errstr, size_t errstr_size);

/** @brief Requests issued so far (the publisher's tests count PUTs). */
struct objstore_counts {
    uint64_t puts, gets, heads;
};
void objstore_counts(objstore *os, struct objstore_counts *out);

#endif
