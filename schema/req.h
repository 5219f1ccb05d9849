/**
 * @file req.h
 * @brief The inference request (msgpack map, ARCHITECTURE §2): decode with
 *        limits, encode, and render as JSON. docs/schema.md has the byte layout.
 *
 * A decoded request BORROWS from the input: every kf_bytes in struct req
 * (id, model, version, reply_to, inputs.data) points into the buffer given
 * to req_decode and is valid only as long as that buffer (for a worker: the
 * Kafka message). Nothing is copied and nothing is allocated that outlives
 * the call, so struct req needs no _fini. Strings are not NUL-terminated;
 * print them with "%.*s". inputs.data has no alignment guarantee: read it
 * with memcpy or copy it into an aligned batch buffer.
 *
 * A JSON request (req_decode_json) has to be unescaped and converted, so its
 * struct req points into a buffer the caller owns instead (see there).
 */
#ifndef SCHEMA_REQ_H
#define SCHEMA_REQ_H

#include "common/kf_buf.h"
#include "schema/dtype.h"

#include <stdbool.h>
#include <stdint.h>

/** The only request/response format version this code speaks. */
#define REQ_VERSION 1
/** Hard upper bound of the request id length; req_limits.max_id_len may only lower it. */
#define REQ_ID_MAX SCHEMA_REQ_ID_MAX
/** Default bound of a JSON request body (req_limits.max_json_bytes): 64 MiB. */
#define REQ_JSON_MAX (64u << 20)

/** @brief Limits applied while decoding; the worker fills them from configuration. */
struct req_limits {
    size_t max_id_len;     /**< 1..REQ_ID_MAX */
    uint64_t max_rows;     /**< rows of inputs.shape */
    uint64_t max_cols;     /**< cols of inputs.shape */
    uint64_t max_bytes;    /**< rows × cols × dtype size */
    size_t max_json_bytes; /**< a JSON request's whole body; 0 means REQ_JSON_MAX */
};

/** @brief Defaults: id REQ_ID_MAX, rows 4096, cols 65536, bytes 64 MiB, JSON body REQ_JSON_MAX. */
void req_limits_default(struct req_limits *lim);

/** @brief A 2-D tensor [rows, cols], row-major little-endian, borrowed bytes. */
struct req_tensor {
    enum schema_dtype dtype;
    uint64_t rows, cols;
    kf_bytes data; /**< rows × cols × schema_dtype_size(dtype) bytes */
};

struct req {
    uint32_t v;          /**< REQ_VERSION */
    kf_bytes id;         /**< 1..max_id_len bytes, any bytes the client chose */
    kf_bytes model;      /**< 1..SCHEMA_NAME_MAX bytes */
    kf_bytes version;    /**< optional: {NULL, 0} when absent */
    bool has_deadline;   /**< deadline_ms present */
    int64_t deadline_ms; /**< epoch milliseconds, >= 0 */
    kf_bytes reply_to;   /**< optional topic name: {NULL, 0} when absent */
    struct req_tensor inputs;
};

/**
 * @brief Decode and validate one request.
 *
 * Strict: every known field must have its documented msgpack type (integers
 * in any width, str for text, bin for data, nil = absent for optional
 * fields); unknown keys are ignored; duplicate keys, non-string keys and
 * trailing bytes are refused. Fields are checked in the order v, id, model,
 * version, deadline_ms, reply_to, inputs, so when decoding fails after id
 * and model were found valid, out->id and out->model are set (length > 0)
 * and the caller can still address an error response; otherwise they are
 * empty. Everything else in @p out is unspecified after a failure.
 *
 * @param buf, len  the message value (borrowed; @p out points into it)
 * @param lim       limits, or NULL for req_limits_default()
 * @param out       the decoded request
 * @param errstr    out: one line naming the offending field, e.g.
 *                  "inputs.shape: expected array of 2 positive integers"
 * @returns 0;
 *          -EINVAL   @p buf or @p out is NULL;
 *          -EPROTO   not msgpack, not a map, a field missing, of the wrong
 *                    type or with an invalid value (unsupported v, unknown
 *                    dtype, zero in shape, data length not rows × cols ×
 *                    dtype size, bad reply_to topic name);
 *          -E2BIG    a limit exceeded (id length, rows, cols, bytes);
 *          -ENOMEM   out of memory
 */
int req_decode(const uint8_t *buf, size_t len, const struct req_limits *lim, struct req *out,
               char *errstr, size_t errstr_size);

/**
 * @brief Whether @p buf is a JSON request: its first byte that is not JSON
 *        whitespace (space, tab, CR, LF) is '{'. A msgpack request is a map,
 *        whose first byte (0x80..0x8f, 0xde, 0xdf) is never one of those, so
 *        the rule cannot take a msgpack request for JSON (docs/schema.md).
 */
bool req_is_json(const uint8_t *buf, size_t len);

/**
 * @brief Decode and validate one JSON request (docs/schema.md "JSON
 *        requests"): the msgpack request's fields, with inputs.data a list
 *        of numbers (f32 only) or a base64 string of the tensor's
 *        little-endian bytes (any dtype).
 *
 * The same rules, order and error texts as req_decode, plus JSON's own:
 * the body must be one JSON object (RFC 8259, UTF-8) and nothing after it;
 * nesting deeper than 24 levels is refused; integers (v, shape, deadline_ms)
 * have no fraction or exponent; each number of data must round to a finite
 * f32. Duplicate known keys are refused, unknown keys ignored, null counts
 * as absent. Nothing is allocated per array element: the grammar is checked
 * without allocating, and the tensor is written once, after the shape and
 * the limits allowed its size.
 *
 * Unlike req_decode, @p out does NOT borrow from @p buf: the decoded id,
 * model, version, reply_to and tensor bytes are appended to @p store, and
 * @p out points into @p store, valid until @p store is changed or freed.
 * As with req_decode, out->id and out->model are set after a failure once
 * both were found valid.
 *
 * @param buf, len      the message value (read only during the call)
 * @param lim           limits, or NULL for req_limits_default()
 * @param store         the caller's buffer (kf_buf_fini frees it), appended to
 * @param data_base64   out, may be NULL: data was a base64 string (so the
 *                      answer's data is base64 too)
 * @returns 0; -EINVAL NULL argument; -EPROTO not JSON, a field missing, of
 *          the wrong type or with an invalid value (errstr names the field,
 *          e.g. "inputs.data[3]: expected a number"); -E2BIG the body is
 *          longer than max_json_bytes, or a limit of req_decode is exceeded,
 *          or data holds more numbers or base64 than max_bytes allows;
 *          -ENOMEM
 */
int req_decode_json(const uint8_t *buf, size_t len, const struct req_limits *lim, struct req *out,
                    kf_buf *store, bool *data_base64, char *errstr, size_t errstr_size);

/**
 * @brief Append the canonical encoding of @p rq to @p out: keys in the order
 *        v, id, model, version?, deadline_ms?, reply_to?, inputs {dtype,
 *        shape, data}; integers in their smallest encoding; str for text, bin
 *        for data. Optional fields with len 0 / has_deadline false are left out.
 *        On failure @p out is left as it was.
 * @returns 0; -EINVAL (a required field empty, data length not rows × cols ×
 *          dtype size, dtype outside the enum, negative deadline); -ENOMEM
 */
int req_encode(const struct req *rq, kf_buf *out);

/**
 * @brief Append a canonical JSON description of @p rq to @p out (sorted keys,
 *        compact; data as lower-case hex under "data_hex"), as used by the
 *        golden vectors' *.json files and by `kfleetctl trace`. Text fields
 *        that are not valid UTF-8 are rendered as "hex:<hex>".
 * @returns 0, -ENOMEM
 */
int req_to_json(const struct req *rq, kf_buf *out);

/**
 * @brief The response error code (see resp.h) for a req_decode failure:
 *        "too_large" for -E2BIG, "invalid_request" otherwise.
 */
const char *req_err_code(int err);

#endif
