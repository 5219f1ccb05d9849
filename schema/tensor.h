/**
 * @file tensor.h
 * @brief The tensor table shared by the manifest and the safetensors reader:
 *        name, dtype, shape and where the bytes lie inside the weights blob,
 *        plus the checks both formats need.
 */
#ifndef SCHEMA_TENSOR_H
#define SCHEMA_TENSOR_H

#include "schema/dtype.h"

#include <stddef.h>
#include <stdint.h>

#define SCHEMA_TENSOR_NAME_CAP 257 /**< names are 1..256 bytes + NUL */
#define SCHEMA_TENSOR_MAX_DIMS 8

struct schema_tensor {
    char name[SCHEMA_TENSOR_NAME_CAP];
    enum schema_dtype dtype;
    uint32_t ndim;                          /**< 0..SCHEMA_TENSOR_MAX_DIMS */
    uint64_t shape[SCHEMA_TENSOR_MAX_DIMS]; /**< row-major, PyTorch order */
    uint64_t offset;                        /**< first byte inside the blob */
    uint64_t length;                        /**< bytes: product(shape) × dtype size */
};

/**
 * @brief Check a tensor table against a blob of @p blob_size bytes: names
 *        1..256 bytes and unique, dtype known, ndim <= 8, length equal to the
 *        product of the shape times the dtype size, [offset, offset+length)
 *        inside the blob, and no two non-empty tensors overlapping.
 * @param what  table name in error texts ("tensors", "safetensors")
 * @returns 0; -EPROTO with errstr naming the tensor and the rule; -ENOMEM
 */
int schema_tensors_check(const struct schema_tensor *t, size_t n, uint64_t blob_size,
                         const char *what, char *errstr, size_t errstr_size);

/** @brief Index of the tensor called @p name, or -1. Linear search. */
long schema_tensor_find(const struct schema_tensor *t, size_t n, const char *name);

#endif
