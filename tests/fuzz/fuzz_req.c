/* Request decoders: never crash; whatever decodes re-encodes, and the
 * canonical encoding is a fixed point. An input whose first non-blank byte is
 * '{' goes to the JSON decoder (the worker's own rule, req_is_json): what it
 * accepts must be the same request after a msgpack round trip, and the JSON
 * answer written for it must be JSON that jansson reads. */
#include "schema/req.h"
#include "schema/resp.h"
#include "tests/fuzz/fuzz.h"

#include <jansson.h>
#include <string.h>

static bool same_bytes(kf_bytes a, kf_bytes b)
{
    return a.len == b.len && (!a.len || !memcmp(a.ptr, b.ptr, a.len));
}

static void check_json(const uint8_t *data, size_t size, const struct req_limits *lim)
{
    struct req rq, again;
    char err[256];
    kf_buf store, mp, ans;
    kf_buf_init(&store);
    kf_buf_init(&mp);
    kf_buf_init(&ans);
    bool b64 = false;
    if (req_decode_json(data, size, lim, &rq, &store, &b64, err, sizeof(err)))
        goto out;
    FUZZ_CHECK(req_encode(&rq, &mp) == 0);
    FUZZ_CHECK(req_decode(mp.ptr, mp.len, lim, &again, err, sizeof(err)) == 0);
    FUZZ_CHECK(same_bytes(rq.id, again.id) && same_bytes(rq.model, again.model));
    FUZZ_CHECK(same_bytes(rq.version, again.version) && same_bytes(rq.reply_to, again.reply_to));
    FUZZ_CHECK(rq.has_deadline == again.has_deadline && rq.deadline_ms == again.deadline_ms);
    FUZZ_CHECK(rq.inputs.dtype == again.inputs.dtype && rq.inputs.rows == again.inputs.rows &&
               rq.inputs.cols == again.inputs.cols);
    FUZZ_CHECK(same_bytes(rq.inputs.data, again.inputs.data));

    /* The answer it would get, with its own bytes as outputs where they are f32. */
    bool f32 = rq.inputs.dtype == SCHEMA_DTYPE_F32;
    struct resp rs = {
        .v = REQ_VERSION,
        .id = rq.id,
        .model = rq.model,
        .version = rq.version,
        .status = f32 ? RESP_OK : RESP_ERROR,
        .err_code = {(const uint8_t *)"invalid_request", 15},
        .err_message = rq.reply_to,
        .rows = rq.inputs.rows,
        .cols = rq.inputs.cols,
        .outputs = rq.inputs.data,
        .worker = rq.model,
    };
    FUZZ_CHECK(resp_encode_json(&rs, b64, &ans) == 0);
    FUZZ_CHECK(!memchr(ans.ptr, '\n', ans.len));
    json_error_t je;
    json_t *j = json_loadb((const char *)ans.ptr, ans.len, JSON_ALLOW_NUL, &je);
    FUZZ_CHECK(j != NULL);
    json_decref(j);
out:
    kf_buf_fini(&store);
    kf_buf_fini(&mp);
    kf_buf_fini(&ans);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct req rq, again;
    char err[256];
    struct req_limits lim;
    req_limits_default(&lim);
    lim.max_bytes = 1 << 20;
    if (req_is_json(data, size)) {
        check_json(data, size, &lim);
        return 0;
    }
    if (req_decode(data, size, &lim, &rq, err, sizeof(err)))
        return 0;
    kf_buf a, b, j;
    kf_buf_init(&a);
    kf_buf_init(&b);
    kf_buf_init(&j);
    FUZZ_CHECK(req_encode(&rq, &a) == 0);
    FUZZ_CHECK(req_decode(a.ptr, a.len, &lim, &again, err, sizeof(err)) == 0);
    FUZZ_CHECK(req_encode(&again, &b) == 0);
    FUZZ_CHECK(a.len == b.len && !memcmp(a.ptr, b.ptr, a.len));
    FUZZ_CHECK(req_to_json(&rq, &j) == 0);
    kf_buf_fini(&a);
    kf_buf_fini(&b);
    kf_buf_fini(&j);
    return 0;
}
