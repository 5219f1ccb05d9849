/**
 * @file resp.h
 * @brief The inference response (msgpack map, ARCHITECTURE §2): encode (the
 *        worker), decode (clients, tests, `kfleetctl trace`), render as JSON.
 *        docs/schema.md has the byte layout.
 *
 * Like struct req, a decoded struct resp BORROWS from the decoded buffer:
 * every kf_bytes points into it. For encoding, the caller's pointers are only
 * read during resp_encode.
 */
#ifndef SCHEMA_RESP_H
#define SCHEMA_RESP_H

#include "common/kf_buf.h"

#include <stdbool.h>
#include <stdint.h>

enum resp_status {
    RESP_OK = 0,      /**< outputs present */
    RESP_ERROR = 1,   /**< error present */
    RESP_EXPIRED = 2, /**< deadline passed before compute; error present (code "expired") */
};

/** @brief "ok", "error", "expired"; "?" outside the enum. */
const char *resp_status2str(enum resp_status st);

/*
 * Error codes a worker writes in error.code (clients must treat unknown codes
 * as a generic error):
 *   invalid_request  the request was decodable but invalid (see message)
 *   too_large        a configured limit was exceeded
 *   unknown_model    no such model on this fleet
 *   unknown_version  the pinned version is not resident
 *   bad_shape        inputs width does not match the model's input width
 *   expired          deadline_ms passed before compute
 *   internal         a worker-side failure (device error, ...)
 */

struct resp {
    uint32_t v;       /**< REQ_VERSION (1) */
    kf_bytes id;      /**< the request's id */
    kf_bytes model;   /**< may be empty when the request had none */
    kf_bytes version; /**< the version that computed; empty when none */
    enum resp_status status;
    kf_bytes err_code;    /**< status != ok: code, see above */
    kf_bytes err_message; /**< status != ok: one line for humans */
    uint64_t rows, cols;  /**< status == ok: outputs shape [rows, output_width] */
    kf_bytes outputs;     /**< status == ok: rows × cols × 4 bytes, f32 little-endian */
    kf_bytes worker;      /**< worker id */
    bool has_timing;
    uint64_t queue_us, batch_rows, compute_us;
};

/**
 * @brief Append the canonical encoding of @p rs to @p out: keys v, id, model,
 *        version, status, then error {code, message} (status != ok) or
 *        outputs {dtype "f32", shape, data} (status ok), worker, timing
 *        {queue_us, batch_rows, compute_us} (when has_timing). On failure
 *        @p out is left as it was.
 * @returns 0; -EINVAL (empty id, status outside the enum, ok without
 *          rows/cols or with outputs.len != rows × cols × 4, not-ok without
 *          err_code); -ENOMEM
 */
int resp_encode(const struct resp *rs, kf_buf *out);

/**
 * @brief Append the JSON answer to a JSON request (docs/schema.md "JSON
 *        requests"): one line with no newline, the keys and order of
 *        resp_encode; outputs.data is a list of numbers, each the fewest
 *        significant digits (6 to 9) that read back as the same f32, null for
 *        NaN and ±Inf (JSON has neither), or, with @p data_base64, one
 *        standard padded base64 string of the little-endian f32 bytes (every
 *        bit kept). Text that is not valid UTF-8 gets U+FFFD for each bad byte.
 *        On failure @p out is left as it was.
 * @returns 0; -EINVAL (as resp_encode); -ENOMEM
 */
int resp_encode_json(const struct resp *rs, bool data_base64, kf_buf *out);

/**
 * @brief Decode one response. Required: v (1), id, model, version, status,
 *        worker (str; model and version may be ""); error when status is not
 *        ok; outputs with dtype "f32" and data of rows × cols × 4 bytes when
 *        ok. timing is optional. Unknown keys are ignored.
 * @param out  points into @p buf afterwards (borrowed)
 * @returns 0; -EINVAL NULL argument; -EPROTO malformed (errstr names the
 *          field); -ENOMEM
 */
int resp_decode(const uint8_t *buf, size_t len, struct resp *out, char *errstr, size_t errstr_size);

/**
 * @brief Append a canonical JSON description (sorted keys, compact, outputs
 *        as "data_hex") of @p rs to @p out. @returns 0, -ENOMEM
 */
int resp_to_json(const struct resp *rs, kf_buf *out);

#endif
