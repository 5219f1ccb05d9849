/* JSON requests and answers (docs/schema.md "JSON requests"): the detection
 * rule, decoding to the same struct req as the msgpack request, the answer's
 * number format, and one test per error with its code and the field named. */
#include "schema/req.h"
#include "schema/resp.h"

#include "common/crypto.h"
#include "tests/lib/kf_test.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int decode(const char *doc, const struct req_limits *lim, struct req *rq, kf_buf *store,
                  bool *b64, char *err, size_t errsz)
{
    return req_decode_json((const uint8_t *)doc, strlen(doc), lim, rq, store, b64, err, errsz);
}

static bool bytes_eq(kf_bytes b, const char *s)
{
    return b.len == strlen(s) && !memcmp(b.ptr, s, b.len);
}

static float f32_at(kf_bytes d, size_t i)
{
    const uint8_t *b = d.ptr + 4 * i;
    uint32_t bits =
        (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static void test_detect(void)
{
    KT_ASSERT(req_is_json((const uint8_t *)"{}", 2));
    KT_ASSERT(req_is_json((const uint8_t *)" \r\n\t{", 5));
    KT_ASSERT(!req_is_json((const uint8_t *)"[1]", 3));
    KT_ASSERT(!req_is_json((const uint8_t *)"", 0));
    KT_ASSERT(!req_is_json((const uint8_t *)"  ", 2));
    /* Every first byte a msgpack map can have is not JSON. */
    for (unsigned c = 0x80; c <= 0x8f; c++)
        KT_ASSERT(!req_is_json((const uint8_t[]){(uint8_t)c, '{'}, 2));
    KT_ASSERT(!req_is_json((const uint8_t[]){0xde, 0, 1}, 3));
    KT_ASSERT(!req_is_json((const uint8_t[]){0xdf, 0, 0, 0, 1}, 5));
}

/* A list of numbers and the same tensor as base64 decode alike, and like
 * the msgpack request with the same fields. */
static void test_decode_list_and_base64(void)
{
    const char *list = "{\"v\":1,\"id\":\"r-\\u00e9\\ud83d\\ude00\",\"model\":\"m\","
                       "\"version\":\"v2\",\"deadline_ms\":1700000000000,\"reply_to\":\"kfleet."
                       "replies.x\",\"extra\":[{\"deep\":[null,true]}],\"inputs\":{\"dtype\":"
                       "\"f32\",\"shape\":[2,3],\"data\":[1,-2.5,3e2,0.1,-0,1.5e-45]}}";
    struct req rq;
    kf_buf store;
    kf_buf_init(&store);
    char err[256] = "";
    bool b64 = true;
    KT_ASSERT_MSG(decode(list, NULL, &rq, &store, &b64, err, sizeof(err)) == 0, "%s", err);
    KT_ASSERT(!b64);
    KT_ASSERT(bytes_eq(rq.id, "r-\xc3\xa9\xf0\x9f\x98\x80"));
    KT_ASSERT(bytes_eq(rq.model, "m") && bytes_eq(rq.version, "v2"));
    KT_ASSERT(bytes_eq(rq.reply_to, "kfleet.replies.x"));
    KT_ASSERT(rq.has_deadline && rq.deadline_ms == 1700000000000);
    KT_ASSERT(rq.inputs.dtype == SCHEMA_DTYPE_F32 && rq.inputs.rows == 2 && rq.inputs.cols == 3);
    KT_ASSERT_INT_EQ(rq.inputs.data.len, 24);
    const float want[6] = {1, -2.5f, 300, 0.1f, -0.0f, 1.5e-45f};
    for (int i = 0; i < 6; i++)
        KT_ASSERT(f32_at(rq.inputs.data, (size_t)i) == want[i]);
    KT_ASSERT(signbit(f32_at(rq.inputs.data, 4)));

    /* msgpack round trip: the same request. */
    kf_buf mp;
    kf_buf_init(&mp);
    KT_ASSERT_INT_EQ(req_encode(&rq, &mp), 0);
    struct req again;
    KT_ASSERT_INT_EQ(req_decode(mp.ptr, mp.len, NULL, &again, err, sizeof(err)), 0);
    KT_ASSERT(!memcmp(again.inputs.data.ptr, rq.inputs.data.ptr, 24));

    /* The same bytes as base64, with an escaped '/' allowed by JSON. */
    char text[64];
    crypto_base64_encode(rq.inputs.data.ptr, 24, text);
    kf_buf doc;
    kf_buf_init(&doc);
    KT_ASSERT_INT_EQ(kf_buf_appendf(&doc,
                                    "{\"inputs\":{\"data\":\"%s\",\"shape\":[2,3],\"dtype\":"
                                    "\"f32\"},\"model\":\"m\",\"id\":\"b\",\"v\":1}",
                                    text),
                     0);
    struct req rb;
    kf_buf store2;
    kf_buf_init(&store2);
    KT_ASSERT_MSG(req_decode_json(doc.ptr, doc.len, NULL, &rb, &store2, &b64, err, sizeof(err)) ==
                      0,
                  "%s", err);
    KT_ASSERT(b64);
    KT_ASSERT(!memcmp(rb.inputs.data.ptr, rq.inputs.data.ptr, 24));
    KT_ASSERT(!rb.version.len && !rb.reply_to.len && !rb.has_deadline);

    /* f16 as base64: 1.0 and -2.0 */
    const char *f16 = "{\"v\":1,\"id\":\"h\",\"model\":\"m\",\"inputs\":{\"dtype\":\"f16\","
                      "\"shape\":[1,2],\"data\":\"ADwAwA==\"}}";
    kf_buf_reset(&store2);
    KT_ASSERT_MSG(decode(f16, NULL, &rb, &store2, NULL, err, sizeof(err)) == 0, "%s", err);
    KT_ASSERT(rb.inputs.dtype == SCHEMA_DTYPE_F16 && rb.inputs.data.len == 4);
    KT_ASSERT(!memcmp(rb.inputs.data.ptr, "\x00\x3c\x00\xc0", 4));
    kf_buf_fini(&mp);
    kf_buf_fini(&doc);
    kf_buf_fini(&store);
    kf_buf_fini(&store2);
}

static void expect(const char *doc, const struct req_limits *lim, int code, const char *text,
                   bool addressable)
{
    struct req rq;
    kf_buf store;
    kf_buf_init(&store);
    char err[256] = "";
    int rc = decode(doc, lim, &rq, &store, NULL, err, sizeof(err));
    KT_ASSERT_MSG(rc == code, "%s: got %d (%s), want %d", doc, rc, err, code);
    KT_ASSERT_MSG(strstr(err, text), "%s: error '%s' does not say '%s'", doc, err, text);
    KT_ASSERT_MSG((rq.id.len > 0) == addressable, "%s: addressable %d", doc, rq.id.len > 0);
    if (addressable)
        KT_ASSERT(bytes_eq(rq.id, "x") && bytes_eq(rq.model, "m"));
    kf_buf_fini(&store);
}

#define HEAD "{\"v\":1,\"id\":\"x\",\"model\":\"m\","
#define INPUTS(dt, shape, data) \
    "\"inputs\":{\"dtype\":" dt ",\"shape\":" shape ",\"data\":" data "}}"

static void test_errors(void)
{
    /* Malformed: not addressable. */
    expect("{", NULL, -EPROTO, "request: not valid JSON at byte 1", false);
    expect("{\"v\":1,}", NULL, -EPROTO, "not valid JSON at byte 7: expected a string key", false);
    expect("{\"v\":01}", NULL, -EPROTO, "expected ',' or '}'", false);
    expect("{\"v\":1} x", NULL, -EPROTO, "trailing bytes after the object", false);
    expect("{\"id\":\"\x01\"}", NULL, -EPROTO, "control character in a string", false);
    expect("{\"id\":\"\xc3\x28\"}", NULL, -EPROTO, "not valid UTF-8", false);
    expect("{\"id\":\"\\ud800\"}", NULL, -EPROTO, "lone high surrogate", false);
    expect("{\"id\":\"\\q\"}", NULL, -EPROTO, "bad escape", false);
    expect("{\"v\":NaN}", NULL, -EPROTO, "expected a value", false);
    expect("[1]", NULL, -EPROTO, "request: expected a JSON object", false);
    char deep[200] = "{\"x\":";
    for (int i = 0; i < 30; i++)
        strcat(deep, "[");
    expect(deep, NULL, -EPROTO, "request: JSON nested deeper than 24 levels", false);
    /* Wrong types, the field named. */
    expect("{\"v\":\"1\",\"id\":\"x\",\"model\":\"m\",\"inputs\":{}}", NULL, -EPROTO,
           "v: expected a non-negative integer", false);
    expect("{\"v\":1.0,\"id\":\"x\",\"model\":\"m\",\"inputs\":{}}", NULL, -EPROTO,
           "v: expected a non-negative integer", false);
    expect("{\"v\":1,\"id\":7,\"model\":\"m\",\"inputs\":{}}", NULL, -EPROTO,
           "id: expected a string", false);
    expect("{\"v\":1,\"id\":\"x\",\"inputs\":{}}", NULL, -EPROTO, "model: missing", false);
    expect("{\"v\":1,\"v\":1,\"id\":\"x\",\"model\":\"m\",\"inputs\":{}}", NULL, -EPROTO,
           "request.v: duplicate key", false);
    expect(HEAD "\"inputs\":[]}", NULL, -EPROTO, "inputs: expected an object", true);
    expect(HEAD "\"deadline_ms\":-1," INPUTS("\"f32\"", "[1,1]", "[1]"), NULL, -EPROTO,
           "deadline_ms: expected a non-negative integer", true);
    expect(HEAD INPUTS("\"f64\"", "[1,1]", "[1]"), NULL, -EPROTO,
           "inputs.dtype: expected \"f32\", \"f16\" or \"bf16\"", true);
    expect(HEAD INPUTS("\"f32\"", "[1,0]", "[1]"), NULL, -EPROTO,
           "inputs.shape: expected array of 2 positive integers", true);
    expect(HEAD INPUTS("\"f32\"", "[1,2,3]", "[1]"), NULL, -EPROTO,
           "inputs.shape: expected array of 2 positive integers", true);
    expect(HEAD INPUTS("\"f32\"", "[1,2]", "[1,\"2\"]"), NULL, -EPROTO,
           "inputs.data[1]: expected a number", true);
    expect(HEAD INPUTS("\"f32\"", "[1,2]", "[1,null]"), NULL, -EPROTO,
           "inputs.data[1]: expected a number", true);
    expect(HEAD INPUTS("\"f32\"", "[1,2]", "[1,4e38]"), NULL, -EPROTO,
           "inputs.data[1]: 4e38 does not fit f32", true);
    expect(HEAD INPUTS("\"f32\"", "[1,2]", "[1,-1e400]"), NULL, -EPROTO,
           "inputs.data[1]: -1e400 does not fit f32", true);
    expect(HEAD INPUTS("\"f32\"", "[1,2]", "[1]"), NULL, -EPROTO,
           "inputs.data: 1 numbers, expected 1 × 2 = 2", true);
    expect(HEAD INPUTS("\"f32\"", "[1,2]", "[1,2,3]"), NULL, -EPROTO,
           "inputs.data: 3 numbers, expected 1 × 2 = 2", true);
    expect(HEAD INPUTS("\"f32\"", "[1,2]", "{}"), NULL, -EPROTO,
           "inputs.data: expected a list of numbers or a base64 string", true);
    expect(HEAD INPUTS("\"f16\"", "[1,2]", "[1,2]"), NULL, -EPROTO,
           "inputs.data: a list of numbers is read as f32 only; send f16 data as a base64", true);
    expect(HEAD INPUTS("\"f32\"", "[1,2]", "\"AAAA\""), NULL, -EPROTO,
           "inputs.data: 4 base64 characters, expected 12 for 8 bytes", true);
    expect(HEAD INPUTS("\"f32\"", "[1,1]", "\"AA*AAA==\""), NULL, -EPROTO,
           "inputs.data: not valid base64", true);
    expect(HEAD "\"reply_to\":\"a b\"," INPUTS("\"f32\"", "[1,1]", "[1]"), NULL, -EPROTO,
           "reply_to: not a legal Kafka topic name", true);

    /* Limits: -E2BIG before anything of that size is allocated. */
    struct req_limits lim;
    req_limits_default(&lim);
    lim.max_rows = 2;
    lim.max_bytes = 16;
    expect(HEAD INPUTS("\"f32\"", "[3,1]", "[1,2,3]"), &lim, -E2BIG,
           "inputs.shape: 3 rows, limit 2", true);
    expect(HEAD INPUTS("\"f32\"", "[2,3]", "[1,2,3,4,5,6]"), &lim, -E2BIG,
           "inputs: 2 × 3 f32 exceeds the limit of 16 bytes", true);
    expect(HEAD INPUTS("\"f32\"", "[1,1]", "[1,2,3,4,5,6]"), &lim, -E2BIG,
           "inputs.data: more than 4 numbers, the limit of 16 bytes of f32", true);
    expect(HEAD INPUTS("\"f32\"", "[1,1]", "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAA\""), &lim, -E2BIG,
           "inputs.data: 28 base64 characters, more than the limit of 16 bytes", true);
    expect(HEAD INPUTS("\"f32\"", "[4294967296,18446744073709551616]", "[1]"), NULL, -EPROTO,
           "inputs.shape: expected array of 2 positive integers", true);
    lim.max_id_len = 3;
    expect("{\"v\":1,\"id\":\"abcd\",\"model\":\"m\",\"inputs\":{}}", &lim, -E2BIG,
           "id: 4 bytes, limit 3", false);
    lim.max_json_bytes = 10;
    expect(HEAD INPUTS("\"f32\"", "[1,1]", "[1]"), &lim, -E2BIG, "bytes of JSON, limit 10", false);

    /* A million-element array under the default limits costs its tensor, not 40 bytes a number. */
    size_t n = 1u << 20;
    kf_buf big;
    kf_buf_init(&big);
    KT_ASSERT_INT_EQ(kf_buf_appendf(&big, HEAD "\"inputs\":{\"dtype\":\"f32\",\"shape\":[1,4],"
                                               "\"data\":["),
                     0);
    for (size_t i = 0; i < n; i++)
        KT_ASSERT_INT_EQ(kf_buf_append(&big, i ? ",0" : "0", i ? 2 : 1), 0);
    KT_ASSERT_INT_EQ(kf_buf_append(&big, "]}}", 4), 0);
    lim = (struct req_limits){0};
    req_limits_default(&lim);
    lim.max_bytes = 1u << 20; /* 262144 f32 */
    expect((const char *)big.ptr, &lim, -E2BIG, "inputs.data: more than 262144 numbers", true);
    kf_buf_fini(&big);
}

/* The JSON answer: one line, jansson reads it back, the numbers are the f32s. */
static void test_answer(void)
{
    const float vals[6] = {0.1f, -1.0f / 3, 1e-40f, 3.4028235e38f, NAN, -0.0f};
    uint8_t data[24];
    for (int i = 0; i < 6; i++) {
        uint32_t bits;
        memcpy(&bits, &vals[i], 4);
        for (int k = 0; k < 4; k++)
            data[4 * i + k] = (uint8_t)(bits >> (8 * k));
    }
    struct resp rs = {
        .v = 1,
        .id = {(const uint8_t *)"q\"\n\xff", 4},
        .model = {(const uint8_t *)"m", 1},
        .version = {(const uint8_t *)"v1", 2},
        .status = RESP_OK,
        .rows = 2,
        .cols = 3,
        .outputs = {data, 24},
        .worker = {(const uint8_t *)"w-1", 3},
        .has_timing = true,
        .queue_us = 5,
        .batch_rows = 2,
        .compute_us = 7,
    };
    kf_buf out;
    kf_buf_init(&out);
    KT_ASSERT_INT_EQ(resp_encode_json(&rs, false, &out), 0);
    KT_ASSERT_INT_EQ(kf_buf_append(&out, "", 1), 0);
    const char *s = (const char *)out.ptr;
    KT_ASSERT_MSG(!strchr(s, '\n'), "%s", s);
    KT_ASSERT_STR_EQ(s,
                     "{\"v\":1,\"id\":\"q\\\"\\u000a\\ufffd\",\"model\":\"m\",\"version\":\"v1\","
                     "\"status\":\"ok\",\"outputs\":{\"dtype\":\"f32\",\"shape\":[2,3],\"data\":"
                     "[0.1,-0.33333334,9.99995e-41,3.4028235e+38,null,-0]},\"worker\":"
                     "\"w-1\",\"timing\":{\"queue_us\":5,\"batch_rows\":2,\"compute_us\":7}}");
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    KT_ASSERT_MSG(j, "%s", je.text);
    json_t *arr = json_object_get(json_object_get(j, "outputs"), "data");
    for (size_t i = 0; i < 6; i++) {
        json_t *x = json_array_get(arr, i);
        if (i == 4)
            KT_ASSERT(json_is_null(x));
        else
            KT_ASSERT_MSG((float)json_number_value(x) == vals[i], "%zu", i);
    }
    json_decref(j);

    /* base64: the bytes as they were. */
    kf_buf_reset(&out);
    KT_ASSERT_INT_EQ(resp_encode_json(&rs, true, &out), 0);
    char b64[40];
    crypto_base64_encode(data, 24, b64);
    char want[80];
    snprintf(want, sizeof(want), "\"data\":\"%s\"}", b64);
    KT_ASSERT_INT_EQ(kf_buf_append(&out, "", 1), 0);
    KT_ASSERT_MSG(strstr((const char *)out.ptr, want), "%s", (const char *)out.ptr);

    /* An error answer. */
    struct resp re = {
        .v = 1,
        .id = {(const uint8_t *)"x", 1},
        .model = {(const uint8_t *)"m", 1},
        .status = RESP_ERROR,
        .err_code = {(const uint8_t *)"invalid_request", 15},
        .err_message = {(const uint8_t *)"inputs.data[1]: expected a number", 33},
        .worker = {(const uint8_t *)"w", 1},
    };
    kf_buf_reset(&out);
    KT_ASSERT_INT_EQ(resp_encode_json(&re, false, &out), 0);
    KT_ASSERT_INT_EQ(kf_buf_append(&out, "", 1), 0);
    KT_ASSERT_STR_EQ((const char *)out.ptr,
                     "{\"v\":1,\"id\":\"x\",\"model\":\"m\",\"version\":\"\",\"status\":\"error\","
                     "\"error\":{\"code\":\"invalid_request\",\"message\":\"inputs.data[1]: "
                     "expected a number\"},\"worker\":\"w\"}");
    re.err_code.len = 0;
    KT_ASSERT_INT_EQ(resp_encode_json(&re, false, &out), -EINVAL);
    kf_buf_fini(&out);
}

int main(void)
{
    KT_RUN(test_detect);
    KT_RUN(test_decode_list_and_base64);
    KT_RUN(test_errors);
    KT_RUN(test_answer);
    return 0;
}
