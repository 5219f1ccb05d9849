/* Response codec: the worker's encoder and the decoder clients and tests use. */
#include "schema/resp.h"

#include "common/kf_err.h"
#include "schema/mp_impl.h"
#include "schema/req.h"

#include <string.h>

static const char *const status_names[] = {"ok", "error", "expired"};

const char *resp_status2str(enum resp_status st)
{
    return (unsigned)st < 3 ? status_names[st] : "?";
}

static bool outputs_len_ok(uint64_t rows, uint64_t cols, size_t len)
{
    uint64_t want;
    return rows && cols && !__builtin_mul_overflow(rows, cols, &want) &&
           !__builtin_mul_overflow(want, (uint64_t)4, &want) && want == len;
}

int resp_encode(const struct resp *rs, kf_buf *out)
{
    if (!rs || !out || !rs->id.len || (unsigned)rs->status > RESP_EXPIRED)
        return -EINVAL;
    bool ok = rs->status == RESP_OK;
    if (ok && !outputs_len_ok(rs->rows, rs->cols, rs->outputs.len))
        return -EINVAL;
    if (!ok && !rs->err_code.len)
        return -EINVAL;

    size_t start = out->len;
    struct mp_out mo;
    mp_out_init(&mo, out);
    msgpack_pack_map(&mo.pk, 7 + rs->has_timing);
    mp_pack_cstr(&mo, "v");
    msgpack_pack_uint32(&mo.pk, REQ_VERSION);
    mp_pack_cstr(&mo, "id");
    mp_pack_strn(&mo, rs->id.ptr, rs->id.len);
    mp_pack_cstr(&mo, "model");
    mp_pack_strn(&mo, rs->model.ptr, rs->model.len);
    mp_pack_cstr(&mo, "version");
    mp_pack_strn(&mo, rs->version.ptr, rs->version.len);
    mp_pack_cstr(&mo, "status");
    mp_pack_cstr(&mo, resp_status2str(rs->status));
    if (ok) {
        mp_pack_cstr(&mo, "outputs");
        msgpack_pack_map(&mo.pk, 3);
        mp_pack_cstr(&mo, "dtype");
        mp_pack_cstr(&mo, "f32");
        mp_pack_cstr(&mo, "shape");
        msgpack_pack_array(&mo.pk, 2);
        msgpack_pack_uint64(&mo.pk, rs->rows);
        msgpack_pack_uint64(&mo.pk, rs->cols);
        mp_pack_cstr(&mo, "data");
        mp_pack_bin(&mo, rs->outputs.ptr, rs->outputs.len);
    } else {
        mp_pack_cstr(&mo, "error");
        msgpack_pack_map(&mo.pk, 2);
        mp_pack_cstr(&mo, "code");
        mp_pack_strn(&mo, rs->err_code.ptr, rs->err_code.len);
        mp_pack_cstr(&mo, "message");
        mp_pack_strn(&mo, rs->err_message.ptr, rs->err_message.len);
    }
    mp_pack_cstr(&mo, "worker");
    mp_pack_strn(&mo, rs->worker.ptr, rs->worker.len);
    if (rs->has_timing) {
        mp_pack_cstr(&mo, "timing");
        msgpack_pack_map(&mo.pk, 3);
        mp_pack_cstr(&mo, "queue_us");
        msgpack_pack_uint64(&mo.pk, rs->queue_us);
        mp_pack_cstr(&mo, "batch_rows");
        msgpack_pack_uint64(&mo.pk, rs->batch_rows);
        mp_pack_cstr(&mo, "compute_us");
        msgpack_pack_uint64(&mo.pk, rs->compute_us);
    }
    if (mo.err)
        out->len = start;
    return mo.err;
}

enum { F_V, F_ID, F_MODEL, F_VERSION, F_STATUS, F_ERROR, F_OUTPUTS, F_WORKER, F_TIMING, F_COUNT };

static int decode_outputs(const msgpack_object *o, struct resp *rs, char *errstr,
                          size_t errstr_size)
{
    struct mp_field f[3] = {{"dtype", NULL}, {"shape", NULL}, {"data", NULL}};
    int err = mp_map_fields(o, f, 3, "outputs", errstr, errstr_size);
    if (err)
        return err;
    if (!f[0].val || f[0].val->type != MSGPACK_OBJECT_STR || f[0].val->via.str.size != 3 ||
        memcmp(f[0].val->via.str.ptr, "f32", 3)) {
        kf_errf(errstr, errstr_size, "outputs.dtype: expected \"f32\"");
        return -EPROTO;
    }
    const msgpack_object *sh = f[1].val;
    if (!sh || sh->type != MSGPACK_OBJECT_ARRAY || sh->via.array.size != 2 ||
        sh->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        sh->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        !sh->via.array.ptr[0].via.u64 || !sh->via.array.ptr[1].via.u64) {
        kf_errf(errstr, errstr_size, "outputs.shape: expected array of 2 positive integers");
        return -EPROTO;
    }
    rs->rows = sh->via.array.ptr[0].via.u64;
    rs->cols = sh->via.array.ptr[1].via.u64;
    if (!f[2].val || f[2].val->type != MSGPACK_OBJECT_BIN) {
        kf_errf(errstr, errstr_size, "outputs.data: expected bin");
        return -EPROTO;
    }
    if (!outputs_len_ok(rs->rows, rs->cols, f[2].val->via.bin.size)) {
        kf_errf(errstr, errstr_size, "outputs.data: %u bytes, expected rows × cols × 4",
                f[2].val->via.bin.size);
        return -EPROTO;
    }
    rs->outputs.ptr = (const uint8_t *)f[2].val->via.bin.ptr;
    rs->outputs.len = f[2].val->via.bin.size;
    return 0;
}

static int decode_fields(const msgpack_object *root, struct resp *rs, char *errstr,
                         size_t errstr_size)
{
    struct mp_field f[F_COUNT] = {
        {"v", NULL},     {"id", NULL},      {"model", NULL},  {"version", NULL}, {"status", NULL},
        {"error", NULL}, {"outputs", NULL}, {"worker", NULL}, {"timing", NULL},
    };
    int err = mp_map_fields(root, f, F_COUNT, "response", errstr, errstr_size);
    if (err)
        return err;
    static const int required[] = {F_V, F_ID, F_MODEL, F_VERSION, F_STATUS, F_WORKER};
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (!f[required[i]].val) {
            kf_errf(errstr, errstr_size, "%s: missing", f[required[i]].name);
            return -EPROTO;
        }
    }
    uint64_t u;
    if ((err = mp_get_uint(f[F_V].val, "v", UINT32_MAX, &u, errstr, errstr_size)))
        return err;
    if (u != REQ_VERSION) {
        kf_errf(errstr, errstr_size, "v: unsupported version %llu", (unsigned long long)u);
        return -EPROTO;
    }
    rs->v = (uint32_t)u;
    if ((err = mp_get_str(f[F_ID].val, "id", 1, REQ_ID_MAX, &rs->id, errstr, errstr_size)) ||
        (err = mp_get_str(f[F_MODEL].val, "model", 0, SCHEMA_NAME_MAX, &rs->model, errstr,
                          errstr_size)) ||
        (err = mp_get_str(f[F_VERSION].val, "version", 0, SCHEMA_NAME_MAX, &rs->version, errstr,
                          errstr_size)) ||
        (err = mp_get_str(f[F_WORKER].val, "worker", 0, SCHEMA_ID_MAX, &rs->worker, errstr,
                          errstr_size)))
        return err;

    kf_bytes st;
    if ((err = mp_get_str(f[F_STATUS].val, "status", 1, 16, &st, errstr, errstr_size)))
        return err;
    int found = -1;
    for (int i = 0; i < 3; i++)
        if (strlen(status_names[i]) == st.len && !memcmp(status_names[i], st.ptr, st.len))
            found = i;
    if (found < 0) {
        kf_errf(errstr, errstr_size, "status: expected \"ok\", \"error\" or \"expired\"");
        return -EPROTO;
    }
    rs->status = (enum resp_status)found;

    if (rs->status == RESP_OK) {
        if (!f[F_OUTPUTS].val) {
            kf_errf(errstr, errstr_size, "outputs: missing (status is ok)");
            return -EPROTO;
        }
        if ((err = decode_outputs(f[F_OUTPUTS].val, rs, errstr, errstr_size)))
            return err;
    } else {
        struct mp_field e[2] = {{"code", NULL}, {"message", NULL}};
        if (!f[F_ERROR].val) {
            kf_errf(errstr, errstr_size, "error: missing (status is %s)",
                    resp_status2str(rs->status));
            return -EPROTO;
        }
        if ((err = mp_map_fields(f[F_ERROR].val, e, 2, "error", errstr, errstr_size)))
            return err;
        if (!e[0].val || !e[1].val) {
            kf_errf(errstr, errstr_size, "error.%s: missing", e[0].val ? "message" : "code");
            return -EPROTO;
        }
        if ((err = mp_get_str(e[0].val, "error.code", 1, 64, &rs->err_code, errstr, errstr_size)) ||
            (err = mp_get_str(e[1].val, "error.message", 0, 65536, &rs->err_message, errstr,
                              errstr_size)))
            return err;
    }

    if (f[F_TIMING].val) {
        struct mp_field t[3] = {{"queue_us", NULL}, {"batch_rows", NULL}, {"compute_us", NULL}};
        static const char *const tn[3] = {"timing.queue_us", "timing.batch_rows",
                                          "timing.compute_us"};
        uint64_t *dst[3] = {&rs->queue_us, &rs->batch_rows, &rs->compute_us};
        if ((err = mp_map_fields(f[F_TIMING].val, t, 3, "timing", errstr, errstr_size)))
            return err;
        for (int i = 0; i < 3; i++) {
            if (!t[i].val) {
                kf_errf(errstr, errstr_size, "%s: missing", tn[i]);
                return -EPROTO;
            }
            if ((err = mp_get_uint(t[i].val, tn[i], UINT64_MAX, dst[i], errstr, errstr_size)))
                return err;
        }
        rs->has_timing = true;
    }
    return 0;
}

int resp_decode(const uint8_t *buf, size_t len, struct resp *out, char *errstr, size_t errstr_size)
{
    if (!buf || !out) {
        kf_errf(errstr, errstr_size, "response: no buffer");
        return -EINVAL;
    }
    memset(out, 0, sizeof(*out));
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int err = mp_unpack_one(buf, len, &u, "response", errstr, errstr_size);
    if (!err)
        err = decode_fields(&u.data, out, errstr, errstr_size);
    msgpack_unpacked_destroy(&u);
    return err;
}
