/* The JSON answer to a JSON request (docs/schema.md "JSON requests"): the
 * msgpack answer's fields in its order, written as one line so that
 * `kcat -C` prints one answer per line. Written by hand, not with jansson:
 * the numbers need their own formatting, and text that is not UTF-8 (an
 * error message cut mid-character) must not make the answer fail. */
#include "schema/resp.h"

#include "common/crypto.h"
#include "schema/jtext_impl.h"
#include "schema/req.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put(kf_buf *out, const char *s, int *err)
{
    if (!*err)
        *err = kf_buf_append(out, s, strlen(s));
}

/* A JSON string of @p b; each byte that is not part of valid UTF-8 becomes U+FFFD. */
static void put_str(kf_buf *out, kf_bytes b, int *err)
{
    put(out, "\"", err);
    if (!b.len) { /* an absent field may be {NULL, 0} */
        put(out, "\"", err);
        return;
    }
    const uint8_t *p = b.ptr, *end = b.ptr + b.len;
    while (!*err && p < end) {
        const uint8_t *run = p;
        while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        if (p > run)
            *err = kf_buf_append(out, run, (size_t)(p - run));
        if (*err || p == end)
            break;
        char esc[8];
        if (*p == '"' || *p == '\\') {
            snprintf(esc, sizeof(esc), "\\%c", *p);
            p++;
        } else if (*p < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", *p);
            p++;
        } else {
            size_t n = jtext_utf8_len(p, end);
            if (n) {
                *err = kf_buf_append(out, p, n);
                p += n;
                continue;
            }
            snprintf(esc, sizeof(esc), "\\ufffd");
            p++;
        }
        put(out, esc, err);
    }
    put(out, "\"", err);
}

static void put_key(kf_buf *out, const char *key, int *err)
{
    if (!*err)
        *err = kf_buf_appendf(out, ",\"%s\":", key);
}

/* The fewest significant digits (6 to 9) that read back as the same f32;
 * 9 always do. JSON has no NaN or Infinity: those are null. */
static void put_f32(kf_buf *out, float f, int *err)
{
    if (!isfinite(f)) {
        put(out, "null", err);
        return;
    }
    char lit[32];
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(lit, sizeof(lit), "%.*g", digits, (double)f);
        if (strtof(lit, NULL) == f)
            break;
    }
    put(out, lit, err);
}

static void put_outputs(kf_buf *out, const struct resp *rs, bool data_base64, int *err)
{
    if (!*err)
        *err = kf_buf_appendf(out, "{\"dtype\":\"f32\",\"shape\":[%llu,%llu],\"data\":",
                              (unsigned long long)rs->rows, (unsigned long long)rs->cols);
    if (data_base64) {
        size_t n = crypto_base64_len(rs->outputs.len);
        if (!*err && !(*err = kf_buf_reserve(out, n + 3))) {
            out->ptr[out->len++] = '"';
            crypto_base64_encode(rs->outputs.ptr, rs->outputs.len, (char *)out->ptr + out->len);
            out->len += n;
            out->ptr[out->len++] = '"';
        }
    } else {
        put(out, "[", err);
        for (size_t i = 0; i < rs->outputs.len / 4 && !*err; i++) {
            const uint8_t *b = rs->outputs.ptr + 4 * i;
            uint32_t bits =
                (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
            float f;
            memcpy(&f, &bits, 4);
            if (i)
                put(out, ",", err);
            put_f32(out, f, err);
        }
        put(out, "]", err);
    }
    put(out, "}", err);
}

int resp_encode_json(const struct resp *rs, bool data_base64, kf_buf *out)
{
    if (!rs || !out || !rs->id.len || (unsigned)rs->status > RESP_EXPIRED)
        return -EINVAL;
    bool ok = rs->status == RESP_OK;
    uint64_t want;
    if (ok && (!rs->rows || !rs->cols || __builtin_mul_overflow(rs->rows, rs->cols, &want) ||
               __builtin_mul_overflow(want, (uint64_t)4, &want) || want != rs->outputs.len))
        return -EINVAL;
    if (!ok && !rs->err_code.len)
        return -EINVAL;

    size_t start = out->len;
    int err = kf_buf_appendf(out, "{\"v\":%d", REQ_VERSION);
    put_key(out, "id", &err);
    put_str(out, rs->id, &err);
    put_key(out, "model", &err);
    put_str(out, rs->model, &err);
    put_key(out, "version", &err);
    put_str(out, rs->version, &err);
    put_key(out, "status", &err);
    put_str(out,
            (kf_bytes){(const uint8_t *)resp_status2str(rs->status),
                       strlen(resp_status2str(rs->status))},
            &err);
    if (ok) {
        put_key(out, "outputs", &err);
        put_outputs(out, rs, data_base64, &err);
    } else {
        put_key(out, "error", &err);
        put(out, "{\"code\":", &err);
        put_str(out, rs->err_code, &err);
        put(out, ",\"message\":", &err);
        put_str(out, rs->err_message, &err);
        put(out, "}", &err);
    }
    put_key(out, "worker", &err);
    put_str(out, rs->worker, &err);
    if (rs->has_timing && !err)
        err = kf_buf_appendf(out,
                             ",\"timing\":{\"queue_us\":%llu,\"batch_rows\":%llu,"
                             "\"compute_us\":%llu}",
                             (unsigned long long)rs->queue_us, (unsigned long long)rs->batch_rows,
                             (unsigned long long)rs->compute_us);
    put(out, "}", &err);
    if (err)
        out->len = start;
    return err;
}
