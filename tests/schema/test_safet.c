/* safetensors reader and writer: round trip, and every header rule fed a
 * violating file with its specific error. */
#include "schema/safet.h"

#include "tests/lib/kf_test.h"

#include <errno.h>

/* 8-byte length + header + @p data_len zero bytes */
static void file(kf_buf *b, const char *header, size_t data_len)
{
    kf_buf_reset(b);
    uint64_t n = strlen(header);
    for (int i = 0; i < 8; i++) {
        uint8_t c = (uint8_t)(n >> (8 * i));
        kf_buf_append(b, &c, 1);
    }
    kf_buf_append(b, header, n);
    for (size_t i = 0; i < data_len; i++)
        kf_buf_append(b, "", 1);
}

static void expect(const char *header, size_t data_len, int code, const char *text)
{
    kf_buf b;
    kf_buf_init(&b);
    file(&b, header, data_len);
    struct safet_file *f = (struct safet_file *)1;
    char err[256] = "";
    int rc = safet_parse(b.ptr, b.len, b.len, &f, err, sizeof(err));
    KT_ASSERT_MSG(rc == code, "%s: expected %d, got %d (%s)", header, code, rc, err);
    KT_ASSERT_MSG(!text || strstr(err, text), "%s: error \"%s\" lacks \"%s\"", header, err, text);
    if (rc)
        KT_ASSERT(f == NULL);
    safet_file_free(rc ? NULL : f);
    kf_buf_fini(&b);
}

static void test_roundtrip(void)
{
    float w[6] = {1, 2, 3, 4, 5, 6};
    uint16_t h[3] = {0x3c00, 0x4000, 0x4200};
    uint64_t sw[2] = {2, 3}, sh[1] = {3}, s0[1] = {0};
    struct safet_input in[3] = {
        {"layer.weight", SCHEMA_DTYPE_F32, 2, sw, w},
        {"layer.bias", SCHEMA_DTYPE_F16, 1, sh, h},
        {"empty", SCHEMA_DTYPE_BF16, 1, s0, NULL},
    };
    struct safet_meta meta[2] = {{(char *)"z", (char *)"last"},
                                 {(char *)SAFET_META_ARCH, (char *)"{\"kind\":\"mlp\"}"}};
    kf_buf b, b2;
    kf_buf_init(&b);
    kf_buf_init(&b2);
    KT_ASSERT_INT_EQ(safet_write(&b, in, 3, meta, 2), 0);
    KT_ASSERT_INT_EQ(safet_write(&b2, in, 3, meta, 2), 0);
    KT_ASSERT(b.len == b2.len && !memcmp(b.ptr, b2.ptr, b.len)); /* deterministic */
    struct safet_file *f;
    char err[256] = "";
    KT_ASSERT_MSG(safet_parse(b.ptr, b.len, b.len, &f, err, sizeof(err)) == 0, "%s", err);
    KT_ASSERT_INT_EQ(f->data_offset % 8, 0);
    KT_ASSERT_INT_EQ(f->data_size, 30);
    KT_ASSERT_INT_EQ(f->n_tensors, 3);
    KT_ASSERT_STR_EQ(f->tensors[0].name, "layer.weight"); /* sorted by offset */
    KT_ASSERT_STR_EQ(f->tensors[2].name, "empty");
    KT_ASSERT_INT_EQ(f->tensors[1].dtype, SCHEMA_DTYPE_F16);
    KT_ASSERT_INT_EQ(f->tensors[2].length, 0);
    KT_ASSERT(!memcmp(safet_tensor_data(f, 0, b.ptr, b.len), w, 24));
    KT_ASSERT(!memcmp(safet_tensor_data(f, 1, b.ptr, b.len), h, 6));
    KT_ASSERT_STR_EQ(safet_meta_get(f, SAFET_META_ARCH), "{\"kind\":\"mlp\"}");
    KT_ASSERT_STR_EQ(f->meta[1].key, "z");
    KT_ASSERT(safet_meta_get(f, "nope") == NULL);
    KT_ASSERT(safet_tensor_data(f, 3, b.ptr, b.len) == NULL);
    /* header-only reading: the caller has just the first 8 + N bytes */
    uint64_t hl;
    KT_ASSERT_INT_EQ(safet_header_len(b.ptr, 8, &hl), 0);
    struct safet_file *g;
    KT_ASSERT_INT_EQ(safet_parse(b.ptr, (size_t)(8 + hl), b.len, &g, err, sizeof(err)), 0);
    KT_ASSERT(safet_tensor_data(g, 0, b.ptr, (size_t)(8 + hl)) == NULL);
    safet_file_free(g);
    safet_file_free(f);
    /* writer refusals */
    struct safet_input dup[2] = {in[0], in[0]};
    size_t before = b.len;
    KT_ASSERT_INT_EQ(safet_write(&b, dup, 2, NULL, 0), -EINVAL);
    struct safet_input meta_name = {"__metadata__", SCHEMA_DTYPE_F32, 2, sw, w};
    KT_ASSERT_INT_EQ(safet_write(&b, &meta_name, 1, NULL, 0), -EINVAL);
    struct safet_input nodata = {"x", SCHEMA_DTYPE_F32, 2, sw, NULL};
    KT_ASSERT_INT_EQ(safet_write(&b, &nodata, 1, NULL, 0), -EINVAL);
    KT_ASSERT_INT_EQ(b.len, before);
    kf_buf_fini(&b);
    kf_buf_fini(&b2);
}

static void test_rules(void)
{
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, 0, NULL);
    expect("{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, -EPROTO,
           "safetensors[\"a\"].dtype: F64 is not supported (F32, F16, BF16)");
    expect("{\"a\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, -EPROTO,
           "not supported");
    expect("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, -EPROTO,
           "safetensors[\"a\"].dtype: missing");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, -EPROTO,
           "safetensors[\"a\"]: length 8 bytes, but shape × dtype size is 12");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, -EPROTO,
           "data_offsets: expected [begin, end] with 0 <= begin <= end");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, -EPROTO,
           "data_offsets");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 8, -EPROTO,
           "lie outside the blob of 8 bytes");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
           "\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[6,10]}}",
           12, -EPROTO, "overlaps");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, -EPROTO,
           "shape[0]: expected a non-negative integer");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
           -EPROTO, "shape");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}",
           4, -EPROTO, "overflows");
    expect("{\"__metadata__\":{\"k\":1}}", 0, -EPROTO, "__metadata__[\"k\"]: expected a string");
    expect("{\"__metadata__\":[]}", 0, -EPROTO, "__metadata__: expected an object");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{}}", 4, -EPROTO,
           "duplicate");
    expect("[]", 0, -EPROTO, "expected a JSON object");
    expect("{\"a\":", 0, -EPROTO, "invalid JSON");
    expect("{}   ", 0, 0, NULL); /* padding spaces are allowed */
    expect("{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, -EPROTO,
           "tensor name of 0 bytes");
    /* truncation and the header-size limit */
    kf_buf b;
    kf_buf_init(&b);
    struct safet_file *f;
    char err[256];
    KT_ASSERT_INT_EQ(safet_parse((const uint8_t *)"\x02\0\0\0", 4, 4, &f, err, sizeof(err)),
                     -EPROTO);
    /* the length itself is cut short: the error must not read the length (valgrind found it) */
    KT_ASSERT(strstr(err, "4 bytes, the length alone is 8"));
    file(&b, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
    for (size_t cut = 0; cut < b.len - 4; cut++)
        KT_ASSERT_INT_EQ(safet_parse(b.ptr, cut, cut, &f, err, sizeof(err)), -EPROTO);
    /* data section shorter than the offsets say */
    KT_ASSERT_INT_EQ(safet_parse(b.ptr, b.len - 1, b.len - 1, &f, err, sizeof(err)), -EPROTO);
    uint8_t big[16] = {0};
    uint64_t n = (uint64_t)SAFET_MAX_HEADER + 1;
    for (int i = 0; i < 8; i++)
        big[i] = (uint8_t)(n >> (8 * i));
    KT_ASSERT_INT_EQ(safet_parse(big, sizeof(big), (uint64_t)1 << 40, &f, err, sizeof(err)),
                     -E2BIG);
    KT_ASSERT(strstr(err, "limit"));
    memset(big, 0xff, 8);
    KT_ASSERT_INT_EQ(safet_parse(big, sizeof(big), sizeof(big), &f, err, sizeof(err)), -E2BIG);
    KT_ASSERT_INT_EQ(safet_parse(NULL, 0, 0, &f, err, sizeof(err)), -EINVAL);
    kf_buf_fini(&b);
}

int main(void)
{
    KT_RUN(test_roundtrip);
    KT_RUN(test_rules);
    return 0;
}
