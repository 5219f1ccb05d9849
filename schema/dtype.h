/**
 * @file dtype.h
 * @brief Tensor element types shared by the request codec, the manifest and
 *        the safetensors reader.
 *
 * Wire spellings differ by format: requests and manifests write "f32", "f16",
 * "bf16"; safetensors writes "F32", "F16", "BF16". Both are handled here.
 */
#ifndef SCHEMA_DTYPE_H
#define SCHEMA_DTYPE_H

#include "schema/names.h" /* the name validators once lived here; includers still find them */

#include <stdbool.h>
#include <stddef.h>

enum schema_dtype {
    SCHEMA_DTYPE_F32 = 0,
    SCHEMA_DTYPE_F16 = 1,
    SCHEMA_DTYPE_BF16 = 2,
};

#define SCHEMA_DTYPE_COUNT 3

/** @brief Element size in bytes (4, 2, 2); 0 for a value outside the enum. */
size_t schema_dtype_size(enum schema_dtype dt);

/** @brief Lower-case wire name ("f32", "f16", "bf16"); "?" outside the enum. */
const char *schema_dtype2str(enum schema_dtype dt);

/** @brief Upper-case safetensors name ("F32", "F16", "BF16"); "?" outside the enum. */
const char *schema_dtype2safet(enum schema_dtype dt);

/**
 * @brief Parse a lower-case wire name of @p len bytes (not NUL-terminated).
 * @returns 0, -EPROTO for any other spelling
 */
int schema_dtype_from_str(const char *s, size_t len, enum schema_dtype *out);

/**
 * @brief Parse an upper-case safetensors name of @p len bytes.
 * @returns 0, -EPROTO for any other spelling (including F64, I64, ... that
 *          kfleet does not serve)
 */
int schema_dtype_from_safet(const char *s, size_t len, enum schema_dtype *out);

#endif
