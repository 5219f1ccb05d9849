/* JSON renderings of requests and responses, for golden vectors and tools. */
#include "schema/req.h"
#include "schema/resp.h"

#include "common/crypto.h"
#include "common/kf_err.h"
#include "schema/json_impl.h"

#include <stdlib.h>

static json_t *hex_string(kf_bytes b)
{
    char *hex = malloc(2 * b.len + 1);
    if (!hex)
        return NULL;
    crypto_hex_encode(b.ptr, b.len, hex);
    json_t *s = json_string(hex);
    free(hex);
    return s;
}

static json_t *tensor_json(const char *dtype, uint64_t rows, uint64_t cols, kf_bytes data, int *err)
{
    json_t *t = json_object();
    if (!t) {
        *err = -ENOMEM;
        return NULL;
    }
    ju_set(t, "dtype", json_string(dtype), err);
    ju_set(t, "shape", json_pack("[II]", (json_int_t)rows, (json_int_t)cols), err);
    ju_set(t, "data_hex", hex_string(data), err);
    return t;
}

static int finish(json_t *j, int err, kf_buf *out)
{
    if (!err)
        err = ju_dump(j, out);
    json_decref(j);
    return err;
}

int req_to_json(const struct req *rq, kf_buf *out)
{
    int err = 0;
    json_t *j = json_object();
    if (!j)
        return -ENOMEM;
    ju_set(j, "v", json_integer(rq->v), &err);
    ju_set(j, "id", ju_bytes(rq->id), &err);
    ju_set(j, "model", ju_bytes(rq->model), &err);
    if (rq->version.len)
        ju_set(j, "version", ju_bytes(rq->version), &err);
    if (rq->has_deadline)
        ju_set(j, "deadline_ms", json_integer(rq->deadline_ms), &err);
    if (rq->reply_to.len)
        ju_set(j, "reply_to", ju_bytes(rq->reply_to), &err);
    ju_set(j, "inputs",
           tensor_json(schema_dtype2str(rq->inputs.dtype), rq->inputs.rows, rq->inputs.cols,
                       rq->inputs.data, &err),
           &err);
    return finish(j, err, out);
}

int resp_to_json(const struct resp *rs, kf_buf *out)
{
    int err = 0;
    json_t *j = json_object();
    if (!j)
        return -ENOMEM;
    ju_set(j, "v", json_integer(rs->v), &err);
    ju_set(j, "id", ju_bytes(rs->id), &err);
    ju_set(j, "model", ju_bytes(rs->model), &err);
    ju_set(j, "version", ju_bytes(rs->version), &err);
    ju_set(j, "status", json_string(resp_status2str(rs->status)), &err);
    if (rs->status == RESP_OK) {
        ju_set(j, "outputs", tensor_json("f32", rs->rows, rs->cols, rs->outputs, &err), &err);
    } else {
        json_t *e = json_object();
        if (e) {
            ju_set(e, "code", ju_bytes(rs->err_code), &err);
            ju_set(e, "message", ju_bytes(rs->err_message), &err);
        }
        ju_set(j, "error", e, &err);
    }
    ju_set(j, "worker", ju_bytes(rs->worker), &err);
    if (rs->has_timing) {
        json_t *t = json_pack("{sIsIsI}", "queue_us", (json_int_t)rs->queue_us, "batch_rows",
                              (json_int_t)rs->batch_rows, "compute_us", (json_int_t)rs->compute_us);
        ju_set(j, "timing", t, &err);
    }
    return finish(j, err, out);
}
