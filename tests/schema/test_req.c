/* Request/response codec: round trips, encodings a standard msgpack library
 * may produce (every integer width, map16, str8/bin32), and one test per
 * validation rule with the specific error code and field name. */
#include "schema/req.h"
#include "schema/resp.h"

#include "tests/lib/kf_test.h"

#include <errno.h>
#include <stdint.h>

/* ---- a hand-written msgpack writer, independent of msgpack-c ---- */

struct mb {
    uint8_t b[4096];
    size_t n;
};

static void put(struct mb *m, const void *p, size_t len)
{
    KT_ASSERT(m->n + len <= sizeof(m->b));
    memcpy(m->b + m->n, p, len);
    m->n += len;
}

static void put_be(struct mb *m, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--) {
        uint8_t c = (uint8_t)(v >> (8 * i));
        put(m, &c, 1);
    }
}

static void byte(struct mb *m, uint8_t c)
{
    put(m, &c, 1);
}

/* width: 0 fixint, 1 uint8, 2 uint16, 4 uint32, 8 uint64, -1 int8 ... -8 int64 */
static void uint_w(struct mb *m, uint64_t v, int width)
{
    switch (width) {
    case 0:
        KT_ASSERT(v < 128);
        byte(m, (uint8_t)v);
        break;
    case 1:
        byte(m, 0xcc);
        put_be(m, v, 1);
        break;
    case 2:
        byte(m, 0xcd);
        put_be(m, v, 2);
        break;
    case 4:
        byte(m, 0xce);
        put_be(m, v, 4);
        break;
    case 8:
        byte(m, 0xcf);
        put_be(m, v, 8);
        break;
    case -1:
        byte(m, 0xd0);
        put_be(m, v, 1);
        break;
    case -2:
        byte(m, 0xd1);
        put_be(m, v, 2);
        break;
    case -4:
        byte(m, 0xd2);
        put_be(m, v, 4);
        break;
    case -8:
        byte(m, 0xd3);
        put_be(m, v, 8);
        break;
    default: KT_FAIL("bad width");
    }
}

static void str_w(struct mb *m, const char *s, int form)
{
    size_t len = strlen(s);
    if (form == 0 && len < 32)
        byte(m, (uint8_t)(0xa0 | len));
    else if (form <= 1)
        byte(m, 0xd9), put_be(m, len, 1);
    else if (form == 2)
        byte(m, 0xda), put_be(m, len, 2);
    else
        byte(m, 0xdb), put_be(m, len, 4);
    put(m, s, len);
}

static void str(struct mb *m, const char *s)
{
    str_w(m, s, 0);
}

static void bin_w(struct mb *m, const void *p, size_t len, int form)
{
    if (form <= 1)
        byte(m, 0xc4), put_be(m, len, 1);
    else if (form == 2)
        byte(m, 0xc5), put_be(m, len, 2);
    else
        byte(m, 0xc6), put_be(m, len, 4);
    put(m, p, len);
}

static void map_hdr(struct mb *m, size_t n, bool map16)
{
    if (map16)
        byte(m, 0xde), put_be(m, n, 2);
    else
        byte(m, (uint8_t)(0x80 | n));
}

static const float data6[6] = {1, 2, 3, 4, 5, 6.5f};

/* A request with every optional field, fields in a non-canonical order, an
 * unknown key, and integers of width w. */
static void build_request(struct mb *m, int w, bool map16, int strform)
{
    map_hdr(m, 8, map16);
    str(m, "inputs");
    map_hdr(m, 3, map16);
    str(m, "shape");
    byte(m, 0x92);
    uint_w(m, 2, w);
    uint_w(m, 3, w);
    str(m, "dtype");
    str(m, "f32");
    str(m, "data");
    bin_w(m, data6, sizeof(data6), strform ? 4 : 1);
    str(m, "id");
    str_w(m, "req-1", strform);
    str(m, "x-unknown");
    byte(m, 0x93), byte(m, 1), byte(m, 0xc0), byte(m, 0xc3); /* ignored */
    str(m, "model");
    str_w(m, "mnist", strform);
    str(m, "v");
    uint_w(m, 1, w);
    str(m, "deadline_ms");
    uint_w(m, w == 0 ? 100 : w == 1 || w == -1 ? 100 : w == 2 || w == -2 ? 30000 : 1700000000, w);
    str(m, "version");
    str(m, "v7");
    str(m, "reply_to");
    str(m, "my.replies");
}

static void test_standard_encodings(void)
{
    static const int widths[] = {0, 1, 2, 4, 8, -1, -2, -4, -8};
    for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
        for (int map16 = 0; map16 < 2; map16++) {
            for (int sf = 0; sf < 4; sf++) {
                struct mb m = {.n = 0};
                build_request(&m, widths[i], map16, sf);
                struct req rq;
                char err[256] = "";
                int rc = req_decode(m.b, m.n, NULL, &rq, err, sizeof(err));
                KT_ASSERT_MSG(rc == 0, "width %d map16 %d strform %d: %s", widths[i], map16, sf,
                              err);
                KT_ASSERT(rq.v == 1);
                KT_ASSERT(rq.id.len == 5 && !memcmp(rq.id.ptr, "req-1", 5));
                KT_ASSERT(rq.model.len == 5 && !memcmp(rq.model.ptr, "mnist", 5));
                KT_ASSERT(rq.version.len == 2 && !memcmp(rq.version.ptr, "v7", 2));
                KT_ASSERT(rq.reply_to.len == 10);
                KT_ASSERT(rq.has_deadline && rq.deadline_ms > 0);
                KT_ASSERT(rq.inputs.dtype == SCHEMA_DTYPE_F32);
                KT_ASSERT(rq.inputs.rows == 2 && rq.inputs.cols == 3);
                KT_ASSERT(rq.inputs.data.len == 24 && !memcmp(rq.inputs.data.ptr, data6, 24));
                /* Borrowed, not copied: the data points into the message. */
                KT_ASSERT(rq.inputs.data.ptr > m.b && rq.inputs.data.ptr < m.b + m.n);
            }
        }
    }
}

static struct req sample_req(void)
{
    struct req rq = {0};
    rq.v = 1;
    rq.id = (kf_bytes){(const uint8_t *)"abc", 3};
    rq.model = (kf_bytes){(const uint8_t *)"m", 1};
    rq.inputs.dtype = SCHEMA_DTYPE_F32;
    rq.inputs.rows = 2;
    rq.inputs.cols = 3;
    rq.inputs.data = (kf_bytes){(const uint8_t *)data6, 24};
    return rq;
}

static void test_roundtrip(void)
{
    for (int variant = 0; variant < 4; variant++) {
        struct req rq = sample_req();
        if (variant & 1) {
            rq.version = (kf_bytes){(const uint8_t *)"2024.1", 6};
            rq.has_deadline = true;
            rq.deadline_ms = 1767225600000;
            rq.reply_to = (kf_bytes){(const uint8_t *)"replies", 7};
        }
        if (variant & 2) {
            rq.inputs.dtype = SCHEMA_DTYPE_BF16;
            rq.inputs.cols = 6; /* same 24 bytes */
        }
        kf_buf a, b;
        kf_buf_init(&a);
        kf_buf_init(&b);
        KT_ASSERT_INT_EQ(req_encode(&rq, &a), 0);
        struct req back;
        char err[256];
        KT_ASSERT_INT_EQ(req_decode(a.ptr, a.len, NULL, &back, err, sizeof(err)), 0);
        KT_ASSERT_INT_EQ(req_encode(&back, &b), 0);
        KT_ASSERT(a.len == b.len && !memcmp(a.ptr, b.ptr, a.len));
        KT_ASSERT(back.inputs.dtype == rq.inputs.dtype && back.inputs.cols == rq.inputs.cols);
        KT_ASSERT(back.has_deadline == rq.has_deadline && back.deadline_ms == rq.deadline_ms);
        kf_buf_fini(&a);
        kf_buf_fini(&b);
    }
}

/* Re-encode with one field replaced; check the error code and field name. */
struct bad {
    const char *name;
    int width_rows; /* 0 normal */
    int expect;
    const char *field;
};

static void expect_err(const uint8_t *p, size_t n, const struct req_limits *lim, int code,
                       const char *field)
{
    struct req rq;
    char err[256] = "";
    int rc = req_decode(p, n, lim, &rq, err, sizeof(err));
    KT_ASSERT_MSG(rc == code, "expected %d (%s), got %d: %s", code, field, rc, err);
    KT_ASSERT_MSG(strstr(err, field), "error \"%s\" does not name %s", err, field);
}

/* A minimal valid request with overrides; NULL = leave the field out; "" = default. */
struct fields {
    const char *v, *id, *model, *dtype, *data, *deadline, *reply_to, *shape;
};

static size_t build(struct mb *m, const struct fields *f)
{
    m->n = 0;
    size_t n = 0;
    const char *vals[] = {f->v, f->id, f->model, f->deadline, f->reply_to};
    for (size_t i = 0; i < 5; i++)
        n += vals[i] != NULL;
    map_hdr(m, n + 1, false);
    if (f->v) {
        str(m, "v");
        if (!strcmp(f->v, "str"))
            str(m, "1");
        else if (!strcmp(f->v, "float"))
            byte(m, 0xcb), put_be(m, 0x3ff0000000000000ull, 8);
        else
            uint_w(m, (uint64_t)atoi(f->v[0] ? f->v : "1"), 0);
    }
    if (f->id) {
        str(m, "id");
        if (!strcmp(f->id, "int"))
            byte(m, 7);
        else
            str_w(m, f->id[0] ? f->id : "id1", 1);
    }
    if (f->model) {
        str(m, "model");
        if (!strcmp(f->model, "bin"))
            bin_w(m, "m", 1, 1);
        else
            str_w(m, f->model[0] ? f->model : "m", 1);
    }
    if (f->deadline) {
        str(m, "deadline_ms");
        if (!strcmp(f->deadline, "neg"))
            byte(m, 0xff); /* -1 */
        else if (!strcmp(f->deadline, "float"))
            byte(m, 0xca), put_be(m, 0x3f800000, 4);
        else
            uint_w(m, 5, 0);
    }
    if (f->reply_to) {
        str(m, "reply_to");
        str_w(m, f->reply_to, 1);
    }
    str(m, "inputs");
    const char *dt = f->dtype ? f->dtype : "f32";
    map_hdr(m, 3, false);
    str(m, "dtype");
    str(m, dt);
    str(m, "shape");
    const char *sh = f->shape ? f->shape : "2x3";
    if (!strcmp(sh, "3d"))
        byte(m, 0x93), byte(m, 1), byte(m, 2), byte(m, 3);
    else if (!strcmp(sh, "0x3"))
        byte(m, 0x92), byte(m, 0), byte(m, 3);
    else if (!strcmp(sh, "neg"))
        byte(m, 0x92), byte(m, 0xff), byte(m, 3);
    else if (!strcmp(sh, "str"))
        str(m, "2x3");
    else if (!strcmp(sh, "big"))
        byte(m, 0x92), uint_w(m, 100000, 4), byte(m, 3);
    else if (!strcmp(sh, "wide"))
        byte(m, 0x92), byte(m, 2), uint_w(m, 1u << 20, 4);
    else if (!strcmp(sh, "huge"))
        byte(m, 0x92), uint_w(m, 1ull << 62, 8), uint_w(m, 1ull << 62, 8);
    else
        byte(m, 0x92), byte(m, 2), byte(m, 3);
    str(m, "data");
    const char *d = f->data ? f->data : "ok";
    if (!strcmp(d, "short"))
        bin_w(m, data6, 20, 1);
    else if (!strcmp(d, "str"))
        str_w(m, "abcdefghijklmnopqrstuvwx", 1);
    else
        bin_w(m, data6, 24, 1);
    return m->n;
}

static void test_validation(void)
{
    struct mb m;
    struct req rq;
    char err[256];
    struct req_limits lim;
    req_limits_default(&lim);

    /* the baseline decodes */
    build(&m, &(struct fields){.v = "", .id = "", .model = ""});
    KT_ASSERT_INT_EQ(req_decode(m.b, m.n, NULL, &rq, err, sizeof(err)), 0);

    build(&m, &(struct fields){.id = "", .model = ""});
    expect_err(m.b, m.n, NULL, -EPROTO, "v: missing");
    build(&m, &(struct fields){.v = "2", .id = "", .model = ""});
    expect_err(m.b, m.n, NULL, -EPROTO, "v: unsupported version 2");
    build(&m, &(struct fields){.v = "str", .id = "", .model = ""});
    expect_err(m.b, m.n, NULL, -EPROTO, "v: expected a non-negative integer");
    build(&m, &(struct fields){.v = "float", .id = "", .model = ""});
    expect_err(m.b, m.n, NULL, -EPROTO, "v: expected a non-negative integer");
    build(&m, &(struct fields){.v = "", .model = ""});
    expect_err(m.b, m.n, NULL, -EPROTO, "id: missing");
    build(&m, &(struct fields){.v = "", .id = "int", .model = ""});
    expect_err(m.b, m.n, NULL, -EPROTO, "id: expected a string");
    char longid[130];
    memset(longid, 'x', 129);
    longid[129] = '\0';
    build(&m, &(struct fields){.v = "", .id = longid, .model = ""});
    expect_err(m.b, m.n, NULL, -E2BIG, "id: 129 bytes, limit 128");
    lim.max_id_len = 8;
    build(&m, &(struct fields){.v = "", .id = "123456789", .model = ""});
    expect_err(m.b, m.n, &lim, -E2BIG, "id: 9 bytes, limit 8");
    req_limits_default(&lim);
    build(&m, &(struct fields){.v = "", .id = ""});
    expect_err(m.b, m.n, NULL, -EPROTO, "model: missing");
    build(&m, &(struct fields){.v = "", .id = "", .model = "bin"});
    expect_err(m.b, m.n, NULL, -EPROTO, "model: expected a string");
    /* id and model survive a later error, for the error response */
    build(&m, &(struct fields){.v = "", .id = "keep-me", .model = "mm", .dtype = "f64"});
    KT_ASSERT_INT_EQ(req_decode(m.b, m.n, NULL, &rq, err, sizeof(err)), -EPROTO);
    KT_ASSERT(rq.id.len == 7 && !memcmp(rq.id.ptr, "keep-me", 7) && rq.model.len == 2);
    KT_ASSERT(strstr(err, "inputs.dtype"));
    KT_ASSERT_STR_EQ(req_err_code(-EPROTO), "invalid_request");
    KT_ASSERT_STR_EQ(req_err_code(-E2BIG), "too_large");

    build(&m, &(struct fields){.v = "", .id = "", .model = "", .deadline = "neg"});
    expect_err(m.b, m.n, NULL, -EPROTO, "deadline_ms: expected a non-negative integer");
    build(&m, &(struct fields){.v = "", .id = "", .model = "", .deadline = "float"});
    expect_err(m.b, m.n, NULL, -EPROTO, "deadline_ms");
    build(&m, &(struct fields){.v = "", .id = "", .model = "", .reply_to = "bad/topic"});
    expect_err(m.b, m.n, NULL, -EPROTO, "reply_to: not a legal Kafka topic name");
    build(&m, &(struct fields){.v = "", .id = "", .model = "", .shape = "3d"});
    expect_err(m.b, m.n, NULL, -EPROTO, "inputs.shape: expected array of 2 positive integers");
    build(&m, &(struct fields){.v = "", .id = "", .model = "", .shape = "0x3"});
    expect_err(m.b, m.n, NULL, -EPROTO, "inputs.shape: expected array of 2 positive integers");
    build(&m, &(struct fields){.v = "", .id = "", .model = "", .shape = "neg"});
    expect_err(m.b, m.n, NULL, -EPROTO, "inputs.shape");
    build(&m, &(struct fields){.v = "", .id = "", .model = "", .shape = "str"});
    expect_err(m.b, m.n, NULL, -EPROTO, "inputs.shape");
    build(&m, &(struct fields){.v = "", .id = "", .model = "", .shape = "big"});
    expect_err(m.b, m.n, NULL, -E2BIG, "inputs.shape: 100000 rows, limit 4096");
    build(&m, &(struct fields){.v = "", .id = "", .model = "", .shape = "wide"});
    expect_err(m.b, m.n, NULL, -E2BIG, "inputs.shape: 1048576 columns");
    lim.max_rows = lim.max_cols = UINT64_MAX;
    build(&m, &(struct fields){.v = "", .id = "", .model = "", .shape = "huge"});
    expect_err(m.b, m.n, &lim, -E2BIG, "exceeds the limit");
    req_limits_default(&lim);
    lim.max_bytes = 16;
    build(&m, &(struct fields){.v = "", .id = "", .model = ""});
    expect_err(m.b, m.n, &lim, -E2BIG, "exceeds the limit of 16 bytes");
    build(&m, &(struct fields){.v = "", .id = "", .model = "", .dtype = "float32"});
    expect_err(m.b, m.n, NULL, -EPROTO, "inputs.dtype: expected \"f32\", \"f16\" or \"bf16\"");
    build(&m, &(struct fields){.v = "", .id = "", .model = "", .data = "short"});
    expect_err(m.b, m.n, NULL, -EPROTO, "inputs.data: 20 bytes, expected 2 × 3 × 4 = 24");
    build(&m, &(struct fields){.v = "", .id = "", .model = "", .data = "str"});
    expect_err(m.b, m.n, NULL, -EPROTO, "inputs.data: expected bin");
    /* f16: 2 × 3 × 2 = 12 bytes expected, 24 given */
    build(&m, &(struct fields){.v = "", .id = "", .model = "", .dtype = "f16"});
    expect_err(m.b, m.n, NULL, -EPROTO, "expected 2 × 3 × 2 = 12");
}

static void test_structure_errors(void)
{
    struct req rq;
    char err[256];
    /* not a map */
    const uint8_t arr[] = {0x91, 0x01};
    expect_err(arr, sizeof(arr), NULL, -EPROTO, "request: expected a map");
    /* empty */
    expect_err(arr, 0, NULL, -EPROTO, "empty");
    /* truncated */
    struct mb m = {.n = 0};
    build(&m, &(struct fields){.v = "", .id = "", .model = ""});
    for (size_t cut = 0; cut < m.n; cut++) {
        int rc = req_decode(m.b, cut, NULL, &rq, err, sizeof(err));
        KT_ASSERT_MSG(rc == -EPROTO, "cut at %zu: %d", cut, rc);
    }
    /* trailing bytes */
    byte(&m, 0xc0);
    expect_err(m.b, m.n, NULL, -EPROTO, "trailing bytes");
    /* a map announcing 2^32-1 pairs in 5 bytes: refused before any allocation */
    const uint8_t huge[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    expect_err(huge, sizeof(huge), NULL, -EPROTO, "not valid msgpack");
    const uint8_t huge_arr[] = {0x81, 0xa1, 'x', 0xdd, 0xff, 0xff, 0xff, 0xff, 0x00};
    expect_err(huge_arr, sizeof(huge_arr), NULL, -EPROTO, "not valid msgpack");
    /* duplicate key */
    struct mb d = {.n = 0};
    map_hdr(&d, 2, false);
    str(&d, "v"), byte(&d, 1), str(&d, "v"), byte(&d, 1);
    expect_err(d.b, d.n, NULL, -EPROTO, "request.v: duplicate key");
    /* non-string key */
    d.n = 0;
    map_hdr(&d, 1, false);
    byte(&d, 1), byte(&d, 1);
    expect_err(d.b, d.n, NULL, -EPROTO, "is not a string");
    /* 40 levels of nesting under an unknown key: msgpack-c's stack is 32 */
    d.n = 0;
    map_hdr(&d, 1, false);
    str(&d, "deep");
    for (int i = 0; i < 40; i++)
        byte(&d, 0x91);
    byte(&d, 0x01);
    KT_ASSERT_INT_EQ(req_decode(d.b, d.n, NULL, &rq, err, sizeof(err)), -EPROTO);
    /* NULL arguments */
    KT_ASSERT_INT_EQ(req_decode(NULL, 0, NULL, &rq, err, sizeof(err)), -EINVAL);
    /* encode refuses inconsistent requests */
    kf_buf b;
    kf_buf_init(&b);
    struct req bad = sample_req();
    bad.inputs.data.len = 23;
    KT_ASSERT_INT_EQ(req_encode(&bad, &b), -EINVAL);
    bad = sample_req();
    bad.id.len = 0;
    KT_ASSERT_INT_EQ(req_encode(&bad, &b), -EINVAL);
    KT_ASSERT_INT_EQ(b.len, 0);
    kf_buf_fini(&b);
}

static void test_response(void)
{
    static const float out4[4] = {0.25f, 0.75f, 0.5f, 0.5f};
    struct resp ok = {
        .v = 1,
        .id = {(const uint8_t *)"r1", 2},
        .model = {(const uint8_t *)"m", 1},
        .version = {(const uint8_t *)"v1", 2},
        .status = RESP_OK,
        .rows = 2,
        .cols = 2,
        .outputs = {(const uint8_t *)out4, 16},
        .worker = {(const uint8_t *)"w1", 2},
        .has_timing = true,
        .queue_us = 12,
        .batch_rows = 64,
        .compute_us = 345678,
    };
    struct resp er = {
        .v = 1,
        .id = {(const uint8_t *)"r2", 2},
        .model = {(const uint8_t *)"m", 1},
        .status = RESP_ERROR,
        .err_code = {(const uint8_t *)"bad_shape", 9},
        .err_message = {(const uint8_t *)"inputs have 3 columns, model takes 4", 36},
        .worker = {(const uint8_t *)"w1", 2},
    };
    struct resp ex = er;
    ex.status = RESP_EXPIRED;
    ex.err_code = (kf_bytes){(const uint8_t *)"expired", 7};
    const struct resp *all[] = {&ok, &er, &ex};
    for (int i = 0; i < 3; i++) {
        kf_buf a, b;
        kf_buf_init(&a);
        kf_buf_init(&b);
        KT_ASSERT_INT_EQ(resp_encode(all[i], &a), 0);
        struct resp back;
        char err[256] = "";
        KT_ASSERT_MSG(resp_decode(a.ptr, a.len, &back, err, sizeof(err)) == 0, "%s", err);
        KT_ASSERT_INT_EQ(back.status, all[i]->status);
        KT_ASSERT_INT_EQ(resp_encode(&back, &b), 0);
        KT_ASSERT(a.len == b.len && !memcmp(a.ptr, b.ptr, a.len));
        if (i == 0) {
            KT_ASSERT(back.rows == 2 && back.cols == 2 && !memcmp(back.outputs.ptr, out4, 16));
            KT_ASSERT(back.has_timing && back.compute_us == 345678 && back.batch_rows == 64);
        } else {
            KT_ASSERT(back.err_code.len == all[i]->err_code.len);
        }
        /* every truncation fails cleanly */
        for (size_t cut = 0; cut < a.len; cut++)
            KT_ASSERT_INT_EQ(resp_decode(a.ptr, cut, &back, err, sizeof(err)), -EPROTO);
        kf_buf_fini(&a);
        kf_buf_fini(&b);
    }
    /* validation */
    kf_buf b;
    kf_buf_init(&b);
    struct resp bad = ok;
    bad.outputs.len = 15;
    KT_ASSERT_INT_EQ(resp_encode(&bad, &b), -EINVAL);
    bad = er;
    bad.err_code.len = 0;
    KT_ASSERT_INT_EQ(resp_encode(&bad, &b), -EINVAL);
    kf_buf_fini(&b);

    struct mb m = {.n = 0};
    map_hdr(&m, 6, false);
    str(&m, "v"), byte(&m, 1), str(&m, "id"), str(&m, "x"), str(&m, "model"), str(&m, "m");
    str(&m, "version"), str(&m, "v"), str(&m, "worker"), str(&m, "w");
    str(&m, "status"), str(&m, "ok");
    struct resp back;
    char err[256] = "";
    KT_ASSERT_INT_EQ(resp_decode(m.b, m.n, &back, err, sizeof(err)), -EPROTO);
    KT_ASSERT(strstr(err, "outputs: missing"));
    m.n -= 3;
    str(&m, "meh");
    KT_ASSERT_INT_EQ(resp_decode(m.b, m.n, &back, err, sizeof(err)), -EPROTO);
    KT_ASSERT(strstr(err, "status: expected"));
    m.n -= 4;
    str(&m, "error");
    KT_ASSERT_INT_EQ(resp_decode(m.b, m.n, &back, err, sizeof(err)), -EPROTO);
    KT_ASSERT(strstr(err, "error: missing"));
}

static void test_json(void)
{
    struct req rq = sample_req();
    kf_buf j;
    kf_buf_init(&j);
    KT_ASSERT_INT_EQ(req_to_json(&rq, &j), 0);
    KT_ASSERT_INT_EQ(kf_buf_append(&j, "", 1), 0);
    KT_ASSERT_STR_EQ((const char *)j.ptr,
                     "{\"id\":\"abc\",\"inputs\":{\"data_hex\":"
                     "\"0000803f0000004000004040000080400000a0400000d040\",\"dtype\":\"f32\","
                     "\"shape\":[2,3]},\"model\":\"m\",\"v\":1}");
    kf_buf_fini(&j);
}

int main(void)
{
    KT_RUN(test_standard_encodings);
    KT_RUN(test_roundtrip);
    KT_RUN(test_validation);
    KT_RUN(test_structure_errors);
    KT_RUN(test_response);
    KT_RUN(test_json);
    return 0;
}
