/* Request codec. Decoding goes through mp_unpack_one (bounded allocation,
 * zero-copy strings) and then checks fields in a fixed order so the error
 * text is deterministic and id/model are known as early as possible. */
#include "schema/req.h"

#include "common/kf_err.h"
#include "schema/mp_impl.h"

#include <string.h>

void req_limits_default(struct req_limits *lim)
{
    lim->max_id_len = REQ_ID_MAX;
    lim->max_rows = 4096;
    lim->max_cols = 65536;
    lim->max_bytes = 64ull << 20;
    lim->max_json_bytes = REQ_JSON_MAX;
}

const char *req_err_code(int err)
{
    return err == -E2BIG ? "too_large" : "invalid_request";
}

enum { F_V, F_ID, F_MODEL, F_VERSION, F_DEADLINE, F_REPLY_TO, F_INPUTS, F_COUNT };
enum { I_DTYPE, I_SHAPE, I_DATA, I_COUNT };

static int decode_inputs(const msgpack_object *o, const struct req_limits *lim,
                         struct req_tensor *t, char *errstr, size_t errstr_size)
{
    struct mp_field f[I_COUNT] = {{"dtype", NULL}, {"shape", NULL}, {"data", NULL}};
    int err = mp_map_fields(o, f, I_COUNT, "inputs", errstr, errstr_size);
    if (err)
        return err;
    static const char *const names[I_COUNT] = {"inputs.dtype", "inputs.shape", "inputs.data"};
    for (int i = 0; i < I_COUNT; i++) {
        if (!f[i].val) {
            kf_errf(errstr, errstr_size, "%s: missing", names[i]);
            return -EPROTO;
        }
    }

    const msgpack_object *dt = f[I_DTYPE].val;
    if (dt->type != MSGPACK_OBJECT_STR ||
        schema_dtype_from_str(dt->via.str.ptr, dt->via.str.size, &t->dtype)) {
        kf_errf(errstr, errstr_size, "inputs.dtype: expected \"f32\", \"f16\" or \"bf16\"");
        return -EPROTO;
    }

    const msgpack_object *sh = f[I_SHAPE].val;
    if (sh->type != MSGPACK_OBJECT_ARRAY || sh->via.array.size != 2 ||
        sh->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        sh->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        sh->via.array.ptr[0].via.u64 == 0 || sh->via.array.ptr[1].via.u64 == 0) {
        kf_errf(errstr, errstr_size, "inputs.shape: expected array of 2 positive integers");
        return -EPROTO;
    }
    t->rows = sh->via.array.ptr[0].via.u64;
    t->cols = sh->via.array.ptr[1].via.u64;
    if (t->rows > lim->max_rows) {
        kf_errf(errstr, errstr_size, "inputs.shape: %llu rows, limit %llu",
                (unsigned long long)t->rows, (unsigned long long)lim->max_rows);
        return -E2BIG;
    }
    if (t->cols > lim->max_cols) {
        kf_errf(errstr, errstr_size, "inputs.shape: %llu columns, limit %llu",
                (unsigned long long)t->cols, (unsigned long long)lim->max_cols);
        return -E2BIG;
    }
    size_t esz = schema_dtype_size(t->dtype);
    uint64_t want;
    if (__builtin_mul_overflow(t->rows, t->cols, &want) ||
        __builtin_mul_overflow(want, (uint64_t)esz, &want) || want > lim->max_bytes) {
        kf_errf(errstr, errstr_size, "inputs: %llu × %llu %s exceeds the limit of %llu bytes",
                (unsigned long long)t->rows, (unsigned long long)t->cols,
                schema_dtype2str(t->dtype), (unsigned long long)lim->max_bytes);
        return -E2BIG;
    }

    const msgpack_object *d = f[I_DATA].val;
    if (d->type != MSGPACK_OBJECT_BIN) {
        kf_errf(errstr, errstr_size, "inputs.data: expected bin (raw little-endian bytes)");
        return -EPROTO;
    }
    if (d->via.bin.size != want) {
        kf_errf(errstr, errstr_size, "inputs.data: %u bytes, expected %llu × %llu × %zu = %llu",
                d->via.bin.size, (unsigned long long)t->rows, (unsigned long long)t->cols, esz,
                (unsigned long long)want);
        return -EPROTO;
    }
    t->data.ptr = (const uint8_t *)d->via.bin.ptr;
    t->data.len = d->via.bin.size;
    return 0;
}

static int decode_fields(const msgpack_object *root, const struct req_limits *lim, struct req *rq,
                         char *errstr, size_t errstr_size)
{
    struct mp_field f[F_COUNT] = {
        {"v", NULL},           {"id", NULL},       {"model", NULL},  {"version", NULL},
        {"deadline_ms", NULL}, {"reply_to", NULL}, {"inputs", NULL},
    };
    int err = mp_map_fields(root, f, F_COUNT, "request", errstr, errstr_size);
    if (err)
        return err;

    static const int required[] = {F_V, F_ID, F_MODEL, F_INPUTS};
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
        kf_errf(errstr, errstr_size, "v: unsupported version %llu (this code speaks %d)",
                (unsigned long long)u, REQ_VERSION);
        return -EPROTO;
    }
    rq->v = (uint32_t)u;

    kf_bytes id;
    size_t max_id = lim->max_id_len && lim->max_id_len < REQ_ID_MAX ? lim->max_id_len : REQ_ID_MAX;
    if (f[F_ID].val->type == MSGPACK_OBJECT_STR && f[F_ID].val->via.str.size > max_id) {
        kf_errf(errstr, errstr_size, "id: %u bytes, limit %zu", f[F_ID].val->via.str.size, max_id);
        return -E2BIG;
    }
    if ((err = mp_get_str(f[F_ID].val, "id", 1, max_id, &id, errstr, errstr_size)))
        return err;
    rq->id = id;

    kf_bytes model;
    if ((err =
             mp_get_str(f[F_MODEL].val, "model", 1, SCHEMA_NAME_MAX, &model, errstr, errstr_size)))
        return err;
    rq->model = model;

    if (f[F_VERSION].val && (err = mp_get_str(f[F_VERSION].val, "version", 1, SCHEMA_NAME_MAX,
                                              &rq->version, errstr, errstr_size)))
        return err;

    if (f[F_DEADLINE].val) {
        if ((err =
                 mp_get_uint(f[F_DEADLINE].val, "deadline_ms", INT64_MAX, &u, errstr, errstr_size)))
            return err;
        rq->has_deadline = true;
        rq->deadline_ms = (int64_t)u;
    }

    if (f[F_REPLY_TO].val) {
        if ((err = mp_get_str(f[F_REPLY_TO].val, "reply_to", 1, 249, &rq->reply_to, errstr,
                              errstr_size)))
            return err;
        if (!schema_topic_valid((const char *)rq->reply_to.ptr, rq->reply_to.len)) {
            kf_errf(errstr, errstr_size, "reply_to: not a legal Kafka topic name");
            return -EPROTO;
        }
    }

    return decode_inputs(f[F_INPUTS].val, lim, &rq->inputs, errstr, errstr_size);
}

int req_decode(const uint8_t *buf, size_t len, const struct req_limits *lim, struct req *out,
               char *errstr, size_t errstr_size)
{
    if (!buf || !out) {
        kf_errf(errstr, errstr_size, "request: no buffer");
        return -EINVAL;
    }
    struct req_limits deflim;
    if (!lim) {
        req_limits_default(&deflim);
        lim = &deflim;
    }
    memset(out, 0, sizeof(*out));

    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int err = mp_unpack_one(buf, len, &u, "request", errstr, errstr_size);
    if (!err)
        err = decode_fields(&u.data, lim, out, errstr, errstr_size);
    /* The strings point into buf, not into the zone, so they survive this. */
    msgpack_unpacked_destroy(&u);
    return err;
}

int req_encode(const struct req *rq, kf_buf *out)
{
    if (!rq || !out || !rq->id.len || !rq->model.len || !rq->inputs.rows || !rq->inputs.cols)
        return -EINVAL;
    size_t esz = schema_dtype_size(rq->inputs.dtype);
    uint64_t want;
    if (!esz || __builtin_mul_overflow(rq->inputs.rows, rq->inputs.cols, &want) ||
        __builtin_mul_overflow(want, (uint64_t)esz, &want) || want != rq->inputs.data.len)
        return -EINVAL;

    if (rq->has_deadline && rq->deadline_ms < 0)
        return -EINVAL;

    size_t start = out->len;
    struct mp_out mo;
    mp_out_init(&mo, out);
    size_t n = 4 + (rq->version.len > 0) + rq->has_deadline + (rq->reply_to.len > 0);
    msgpack_pack_map(&mo.pk, n);
    mp_pack_cstr(&mo, "v");
    msgpack_pack_uint32(&mo.pk, REQ_VERSION);
    mp_pack_cstr(&mo, "id");
    mp_pack_strn(&mo, rq->id.ptr, rq->id.len);
    mp_pack_cstr(&mo, "model");
    mp_pack_strn(&mo, rq->model.ptr, rq->model.len);
    if (rq->version.len) {
        mp_pack_cstr(&mo, "version");
        mp_pack_strn(&mo, rq->version.ptr, rq->version.len);
    }
    if (rq->has_deadline) {
        mp_pack_cstr(&mo, "deadline_ms");
        msgpack_pack_int64(&mo.pk, rq->deadline_ms);
    }
    if (rq->reply_to.len) {
        mp_pack_cstr(&mo, "reply_to");
        mp_pack_strn(&mo, rq->reply_to.ptr, rq->reply_to.len);
    }
    mp_pack_cstr(&mo, "inputs");
    msgpack_pack_map(&mo.pk, 3);
    mp_pack_cstr(&mo, "dtype");
    mp_pack_cstr(&mo, schema_dtype2str(rq->inputs.dtype));
    mp_pack_cstr(&mo, "shape");
    msgpack_pack_array(&mo.pk, 2);
    msgpack_pack_uint64(&mo.pk, rq->inputs.rows);
    msgpack_pack_uint64(&mo.pk, rq->inputs.cols);
    mp_pack_cstr(&mo, "data");
    mp_pack_bin(&mo, rq->inputs.data.ptr, rq->inputs.data.len);
    if (mo.err)
        out->len = start;
    return mo.err;
}
