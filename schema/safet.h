/**
 * @file safet.h
 * @brief safetensors: read (validate) a file held in memory, and write one.
 *        No I/O: the caller maps or reads the bytes.
 *
 * Format: 8-byte little-endian header length N, N bytes of JSON
 * {"__metadata__": {str: str}?, "<name>": {"dtype": "F32"|"F16"|"BF16",
 * "shape": [...], "data_offsets": [begin, end]}, ...}, then the data section;
 * offsets are relative to the data section's start (8 + N).
 */
#ifndef SCHEMA_SAFET_H
#define SCHEMA_SAFET_H

#include "common/kf_buf.h"
#include "schema/tensor.h"

#include <stddef.h>
#include <stdint.h>

#define SAFET_MAX_HEADER (100u << 20) /**< larger headers are refused unread */
#define SAFET_MAX_TENSORS 65536
/** The __metadata__ key that may hold the architecture JSON (see manifest.h). */
#define SAFET_META_ARCH "kfleet.architecture"

struct safet_meta {
    char *key;   /**< owned, NUL-terminated */
    char *value; /**< owned, NUL-terminated */
};

/** @brief A validated header. Release with safet_file_free. */
struct safet_file {
    uint64_t header_len;  /**< N */
    uint64_t data_offset; /**< 8 + N: where the data section (the manifest's blob) starts */
    uint64_t data_size;   /**< file size - data_offset */
    size_t n_tensors;
    struct schema_tensor *tensors; /**< offsets relative to data_offset; sorted by offset */
    size_t n_meta;
    struct safet_meta *meta; /**< sorted by key */
};

/**
 * @brief Read the header length from the first 8 bytes (for callers that read
 *        only the header of a large file).
 * @returns 0; -EPROTO fewer than 8 bytes; -E2BIG N > SAFET_MAX_HEADER
 */
int safet_header_len(const uint8_t *buf, size_t len, uint64_t *header_len);

/**
 * @brief Parse and validate a safetensors header.
 * @param buf, len   at least the first 8 + N bytes of the file (borrowed, not kept)
 * @param file_size  the whole file's size (== len when all of it is in memory)
 * @param out        new on success (safet_file_free); NULL on failure
 * @returns 0;
 *          -EINVAL  NULL argument;
 *          -E2BIG   header larger than SAFET_MAX_HEADER, or too many tensors;
 *          -EPROTO  truncated (len < 8 + N, or file_size < 8 + N), header
 *                   not a JSON object, a tensor entry malformed, dtype other
 *                   than F32/F16/BF16, (end - begin) != product(shape) ×
 *                   dtype size, begin > end, a range outside the data
 *                   section, two tensors overlapping, __metadata__ not a
 *                   string map (errstr names the tensor or key);
 *          -ENOMEM
 */
int safet_parse(const uint8_t *buf, size_t len, uint64_t file_size, struct safet_file **out,
                char *errstr, size_t errstr_size);

void safet_file_free(struct safet_file *f);

/** @brief The __metadata__ value for @p key (borrowed from @p f), or NULL. */
const char *safet_meta_get(const struct safet_file *f, const char *key);

/**
 * @brief Pointer to tensor @p i's bytes inside @p buf (the same buffer given
 *        to safet_parse, starting at file offset 0), or NULL when @p len does
 *        not cover them. Not aligned in general.
 */
const uint8_t *safet_tensor_data(const struct safet_file *f, size_t i, const uint8_t *buf,
                                 size_t len);

/** @brief One tensor to write: the caller's memory, read during safet_write only. */
struct safet_input {
    const char *name;
    enum schema_dtype dtype;
    uint32_t ndim;
    const uint64_t *shape;
    const void *data; /**< product(shape) × dtype size bytes, little-endian */
};

/**
 * @brief Append a safetensors file to @p out: header JSON with sorted keys,
 *        padded with spaces so the data section starts 8-byte aligned; data
 *        in the order given, contiguous. Deterministic for the same input.
 * @param meta  optional __metadata__ pairs (written when n_meta > 0)
 * @returns 0; -EINVAL (bad name, dtype, ndim, duplicate name, a metadata key
 *          "__metadata__"); -ENOMEM. On failure @p out is left as it was.
 */
int safet_write(kf_buf *out, const struct safet_input *t, size_t n, const struct safet_meta *meta,
                size_t n_meta);

#endif
