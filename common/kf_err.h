/**
 * @file kf_err.h
 * @brief Error conventions shared by every kfleet module.
 *
 * Functions return int: 0 on success, a negative errno on failure:
 *   -EINVAL  bad argument or bad configuration
 *   -EAGAIN  try again later (retriable)
 *   -ENOMEM  out of memory (sizes that come from input)
 *   -EIO     I/O or device error
 *   -EPROTO  bad wire data (undecodable, wrong type, wrong size)
 *   -ENOENT  not found (S3 404, unknown property, unknown model)
 *   -EACCES  credentials refused (S3 403, SASL)
 *   -ECONNREFUSED, -EHOSTUNREACH, -ETIMEDOUT  the peer could not be reached in time
 *   -EBADMSG a signature or digest does not verify
 *   -EEXIST  the thing already exists (a version that is already published)
 * Constructors return NULL and fill a caller's `char *errstr, size_t errstr_size`.
 * Third-party error types are translated to these at the module edge.
 */
#ifndef KF_ERR_H
#define KF_ERR_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

/** @brief Short text for a kfleet error code (negative errno); never NULL. */
const char *kf_strerror(int err);

/**
 * @brief Whether an operation that failed with @p err may succeed if retried
 *        (connection refused or reset, timeout, throttling, -EAGAIN).
 */
bool kf_err_is_retriable(int err);

/**
 * @brief Format a message into a caller's error buffer. Safe with
 *        errstr == NULL or errstr_size == 0 (then it does nothing).
 */
void kf_errf(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
