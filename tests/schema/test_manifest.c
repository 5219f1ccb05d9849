/* Manifest + architecture: every validation rule fed a violating input with
 * its specific error; parse/encode round trip; golden check; manifest.sig. */
#include "schema/manifest.h"

#include "tests/lib/kf_test.h"

#include <errno.h>
#include <math.h>

/* 4 -> 3 (relu) -> 2, softmax; tensors packed in a 92-byte blob. */
static struct manifest *make(void)
{
    struct manifest *m = manifest_new();
    KT_ASSERT(m);
    strcpy(m->model, "tiny");
    strcpy(m->version, "v1");
    m->seq = 1;
    strcpy(m->created_at, "2026-01-02T03:04:05.123Z");
    m->dtype = SCHEMA_DTYPE_F32;
    struct schema_tensor t[4] = {
        {"0.weight", SCHEMA_DTYPE_F32, 2, {3, 4}, 0, 48},
        {"0.bias", SCHEMA_DTYPE_F32, 1, {3}, 48, 12},
        {"2.weight", SCHEMA_DTYPE_F32, 2, {2, 3}, 60, 24},
        {"2.bias", SCHEMA_DTYPE_F32, 1, {2}, 84, 8},
    };
    KT_ASSERT_INT_EQ(manifest_set_tensors(m, t, 4), 0);
    char err[256];
    const char *aj = "{\"kind\":\"mlp\",\"input_width\":4,\"layers\":["
                     "{\"weight\":\"0.weight\",\"bias\":\"0.bias\",\"activation\":\"relu\"},"
                     "{\"weight\":\"2.weight\",\"bias\":\"2.bias\"}],\"output\":\"softmax\"}";
    struct arch_desc a;
    KT_ASSERT_MSG(arch_parse((const uint8_t *)aj, strlen(aj), &a, err, sizeof(err)) == 0, "%s",
                  err);
    a.output_width = 2;
    KT_ASSERT_INT_EQ(manifest_set_arch(m, &a), 0);
    arch_desc_fini(&a);
    KT_ASSERT_INT_EQ(manifest_add_chunk(
                         m, "f569d2e131ed71f265fb5f7e278444f52c5a38a451187843aacdfc46668dfa24", 64),
                     0);
    KT_ASSERT_INT_EQ(manifest_add_chunk(
                         m, "257502500c9970767d4f287185cf283be675373518ff409515d15f5a89b8ae6a", 28),
                     0);
    KT_ASSERT_INT_EQ(m->blob_size, 92);
    strcpy(m->source.name, "tiny.safetensors");
    m->source.size = 620;
    memset(m->source.sha256, 'c', 64);
    float in[8] = {1, 2, 3, 4, -1, -2, -3, -4}, out[4] = {0.5f, 0.5f, 0.25f, 0.75f};
    KT_ASSERT_INT_EQ(manifest_set_golden(m, 2, in, out, 1e-5, 1e-4), 0);
    KT_ASSERT_MSG(manifest_validate(m, err, sizeof(err)) == 0, "%s", err);
    return m;
}

static void expect_invalid(struct manifest *m, int code, const char *text)
{
    char err[256] = "";
    int rc = manifest_validate(m, err, sizeof(err));
    KT_ASSERT_MSG(rc == code, "expected %d (%s), got %d: %s", code, text, rc, err);
    KT_ASSERT_MSG(strstr(err, text), "error \"%s\" lacks \"%s\"", err, text);
    /* encode refuses the same manifest */
    kf_buf b;
    kf_buf_init(&b);
    KT_ASSERT(manifest_encode(m, &b, err, sizeof(err)) < 0);
    KT_ASSERT_INT_EQ(b.len, 0);
    kf_buf_fini(&b);
    manifest_free(m);
}

static void test_rules(void)
{
    struct manifest *m;
    m = make(), m->kfleet_manifest = 2;
    expect_invalid(m, -EPROTO, "kfleet_manifest: unsupported format 2");
    m = make(), strcpy(m->model, "a/b");
    expect_invalid(m, -EPROTO, "model: expected a name");
    m = make(), m->version[0] = '\0';
    expect_invalid(m, -EPROTO, "version: expected a name");
    m = make(), m->seq = 0;
    expect_invalid(m, -EPROTO, "seq: must be");
    m = make(), strcpy(m->created_at, "yesterday");
    expect_invalid(m, -EPROTO, "created_at: expected RFC 3339");
    m = make(), strcpy(m->created_at, "2026-13-02T03:04:05Z");
    expect_invalid(m, -EPROTO, "created_at");
    m = make(), m->dtype = (enum schema_dtype)7;
    expect_invalid(m, -EPROTO, "dtype: unknown");
    /* chunks */
    m = make(), m->n_chunks = 0;
    expect_invalid(m, -EPROTO, "chunks: at least one chunk");
    m = make(), m->chunks[0].size = 0, m->chunks[1].size = 92;
    expect_invalid(m, -EPROTO, "chunks[0].size: must be at least 1");
    m = make(), m->chunks[1].sha256[3] = 'G';
    expect_invalid(m, -EPROTO, "chunks[1].sha256: expected 64 lower-case hex digits");
    m = make(), m->chunks[1].size = 29;
    expect_invalid(m, -EPROTO, "chunks: sizes add up to 93, but blob_size is 92");
    m = make(), m->blob_size = 100;
    expect_invalid(m, -EPROTO, "chunks: sizes add up to 92, but blob_size is 100");
    /* tensors */
    m = make(), m->tensors[3].offset = 88;
    expect_invalid(m, -EPROTO, "tensors[\"2.bias\"]: bytes 88..96 lie outside the blob of 92");
    m = make(), m->tensors[1].offset = 40;
    expect_invalid(m, -EPROTO, "overlaps");
    m = make(), m->tensors[0].length = 44;
    expect_invalid(m, -EPROTO,
                   "tensors[\"0.weight\"]: length 44 bytes, but shape × dtype size is 48");
    m = make(), strcpy(m->tensors[1].name, "0.weight");
    expect_invalid(m, -EPROTO, "duplicate tensor name");
    m = make(), m->tensors[2].dtype = (enum schema_dtype)9;
    expect_invalid(m, -EPROTO, "tensors[\"2.weight\"].dtype: unknown dtype");
    m = make(), m->tensors[0].ndim = 9;
    expect_invalid(m, -EPROTO, "9 dimensions, limit 8");
    /* architecture against tensors */
    m = make(), strcpy(m->arch.layers[1].weight, "3.weight");
    expect_invalid(m, -EPROTO, "architecture.layers[1].weight: no tensor \"3.weight\"");
    m = make(), strcpy(m->arch.layers[0].weight, "0.bias");
    expect_invalid(m, -EPROTO, "has 1 dimensions, expected 2");
    m = make(), m->arch.input_width = 5;
    expect_invalid(m, -EPROTO, "layer's input width is 5 (input_width)");
    m = make(), strcpy(m->arch.layers[1].weight, "0.weight");
    expect_invalid(m, -EPROTO, "the previous layer's output width");
    m = make(), strcpy(m->arch.layers[0].bias, "2.bias");
    expect_invalid(m, -EPROTO,
                   "architecture.layers[0].bias: \"2.bias\" is f32 [2], expected f32 [3]");
    m = make(), m->arch.output_width = 5;
    expect_invalid(m, -EPROTO,
                   "architecture.output_width: 5, but the last layer's output width is 2");
    m = make(), m->dtype = SCHEMA_DTYPE_F16;
    expect_invalid(m, -EPROTO, "dtype: \"f16\", but the architecture's tensors are f32");
    m = make();
    m->tensors[1].dtype = SCHEMA_DTYPE_BF16, m->tensors[1].length = 6;
    expect_invalid(m, -EPROTO, "architecture.layers[0].bias: \"0.bias\" is bf16 [3]");
    m = make(), m->arch.n_layers = 0;
    expect_invalid(m, -EPROTO, "at least one layer");
    /* golden vectors */
    m = make(), m->golden.rows = 0;
    expect_invalid(m, -EPROTO, "golden.rows: must be 1..1024");
    m = make(), m->golden.rows = 3;
    expect_invalid(m, -EPROTO, "golden.inputs: 8 values, expected rows × input_width = 3 × 4");
    m = make(), m->golden.n_outputs = 3;
    expect_invalid(m, -EPROTO, "golden.outputs: 3 values, expected rows × output_width = 2 × 2");
    m = make(), m->golden.inputs[1] = NAN;
    expect_invalid(m, -EPROTO, "golden.inputs[1]: not a finite number");
    m = make(), m->golden.outputs[2] = INFINITY;
    expect_invalid(m, -EPROTO, "golden.outputs[2]: not a finite number");
    m = make(), m->golden.atol = -1;
    expect_invalid(m, -EPROTO, "golden.atol: must be a finite number >= 0");
    m = make(), m->golden.rtol = (double)NAN;
    expect_invalid(m, -EPROTO, "golden.rtol");
}

static char *encode(struct manifest *m)
{
    kf_buf b;
    kf_buf_init(&b);
    char err[256];
    KT_ASSERT_MSG(manifest_encode(m, &b, err, sizeof(err)) == 0, "%s", err);
    kf_buf_append(&b, "", 1);
    return (char *)kf_buf_steal(&b, NULL);
}

static void test_roundtrip(void)
{
    struct manifest *m = make();
    char *a = encode(m), *a2 = encode(m);
    KT_ASSERT_STR_EQ(a, a2); /* deterministic */
    struct manifest *p;
    char err[256] = "";
    KT_ASSERT_MSG(manifest_parse((const uint8_t *)a, strlen(a), &p, err, sizeof(err)) == 0, "%s",
                  err);
    char *b = encode(p);
    KT_ASSERT_STR_EQ(a, b);
    KT_ASSERT_INT_EQ(p->n_tensors, 4);
    KT_ASSERT_INT_EQ(p->arch.layers[1].in_width, 3);
    KT_ASSERT_INT_EQ(p->arch.layers[1].out_width, 2);
    KT_ASSERT_INT_EQ(p->arch.layers[1].weight_index, 2);
    KT_ASSERT_INT_EQ(p->arch.layers[1].bias_index, 3);
    KT_ASSERT_INT_EQ(p->arch.layers[1].activation, ARCH_ACT_NONE);
    KT_ASSERT_INT_EQ(p->chunks[1].offset, 64);
    KT_ASSERT(p->golden.inputs[7] == -4.0f && p->golden.outputs[3] == 0.75f);
    KT_ASSERT(p->golden.atol == 1e-5 && p->golden.rtol == 1e-4);
    KT_ASSERT(strstr(a, "\"golden\":{\"atol\":"));
    free(a);
    free(a2);
    free(b);
    manifest_free(m);
    manifest_free(p);
}

/* Replace the first occurrence of @p from in the canonical JSON and parse. */
static void expect_parse(const char *from, const char *to, int code, const char *text)
{
    struct manifest *m = make();
    char *j = encode(m);
    manifest_free(m);
    char *at = strstr(j, from);
    KT_ASSERT_MSG(at, "%s not in manifest", from);
    kf_buf b;
    kf_buf_init(&b);
    kf_buf_append(&b, j, (size_t)(at - j));
    kf_buf_append(&b, to, strlen(to));
    kf_buf_append(&b, at + strlen(from), strlen(at + strlen(from)));
    struct manifest *p = (struct manifest *)1;
    char err[256] = "";
    int rc = manifest_parse(b.ptr, b.len, &p, err, sizeof(err));
    KT_ASSERT_MSG(rc == code, "%s -> %s: expected %d, got %d (%s)", from, to, code, rc, err);
    if (!rc)
        manifest_free(p);
    else
        KT_ASSERT(p == NULL);
    KT_ASSERT_MSG(!text || strstr(err, text), "error \"%s\" lacks \"%s\"", err, text);
    kf_buf_fini(&b);
    free(j);
}

static void test_parse_errors(void)
{
    expect_parse("\"blob_size\":", "\"Xblob_size\":", -EPROTO, "blob_size: missing");
    expect_parse("\"golden\":", "\"Xgolden\":", -EPROTO, "golden: missing");
    expect_parse("\"architecture\":", "\"Xarchitecture\":", -EPROTO, "architecture: missing");
    expect_parse("\"seq\":1", "\"seq\":\"1\"", -EPROTO, "seq: expected an integer");
    expect_parse("\"dtype\":\"f32\",\"golden\"", "\"dtype\":\"f64\",\"golden\"", -EPROTO,
                 "dtype: \"f64\" is not one of f32|f16|bf16");
    expect_parse("\"kind\":\"mlp\"", "\"kind\":\"cnn\"", -EPROTO,
                 "architecture.kind: \"cnn\" is not supported");
    expect_parse("\"activation\":\"relu\"", "\"activation\":\"swish\"", -EPROTO,
                 "architecture.layers[0].activation: \"swish\"");
    expect_parse("\"output\":\"softmax\"", "\"output\":\"argmax\"", -EPROTO,
                 "architecture.output: \"argmax\"");
    expect_parse("\"inputs\":\"", "\"inputs\":\"!", -EPROTO, "golden.inputs: expected base64");
    expect_parse("\"shape\":[3,4]", "\"shape\":[3,-4]", -EPROTO, "tensors[0].shape[1]");
    expect_parse("\"kfleet_manifest\":1", "\"kfleet_manifest\":1,\"future\":{\"x\":[1]}", 0, NULL);
    expect_parse("{", "[", -EPROTO, "invalid JSON");
    expect_parse("\"model\":\"tiny\"", "\"model\":\"tiny\",\"model\":\"x\"", -EPROTO, "duplicate");
    struct manifest *p;
    char err[256];
    KT_ASSERT_INT_EQ(
        manifest_parse((const uint8_t *)"{}", MANIFEST_MAX_BYTES + 1, &p, err, sizeof(err)),
        -E2BIG);
    KT_ASSERT_INT_EQ(manifest_parse(NULL, 0, &p, err, sizeof(err)), -EINVAL);
    /* arch parse on its own */
    struct arch_desc a;
    const char *empty = "{\"kind\":\"mlp\",\"input_width\":4,\"layers\":[]}";
    KT_ASSERT_INT_EQ(arch_parse((const uint8_t *)empty, strlen(empty), &a, err, sizeof(err)),
                     -EPROTO);
    KT_ASSERT(strstr(err, "layers: at least one layer"));
    arch_desc_fini(&a);
    const char *nowidth = "{\"kind\":\"mlp\",\"layers\":[{\"weight\":\"w\"}]}";
    KT_ASSERT_INT_EQ(arch_parse((const uint8_t *)nowidth, strlen(nowidth), &a, err, sizeof(err)),
                     -EPROTO);
    KT_ASSERT(strstr(err, "input_width: missing"));
    arch_desc_fini(&a);
    arch_desc_fini(NULL);
}

static void test_golden_check(void)
{
    struct manifest *m = make();
    float got[4] = {0.5f, 0.5f, 0.25f, 0.75f};
    size_t bad = 99;
    KT_ASSERT_INT_EQ(manifest_golden_check(m, got, 4, &bad), 0);
    got[2] = 0.25f + 2e-5f; /* within atol 1e-5 + rtol 1e-4 × 0.25 */
    KT_ASSERT_INT_EQ(manifest_golden_check(m, got, 4, &bad), 0);
    got[2] = 0.2501f;
    KT_ASSERT_INT_EQ(manifest_golden_check(m, got, 4, &bad), -EBADMSG);
    KT_ASSERT_INT_EQ(bad, 2);
    got[2] = 0.25f;
    got[3] = NAN;
    KT_ASSERT_INT_EQ(manifest_golden_check(m, got, 4, &bad), -EBADMSG);
    KT_ASSERT_INT_EQ(bad, 3);
    KT_ASSERT_INT_EQ(manifest_golden_check(m, got, 3, &bad), -EINVAL);
    manifest_free(m);
}

static void test_signature_file(void)
{
    uint8_t seed[32] = {7};
    struct crypto_ed25519_key key, other;
    crypto_ed25519_from_seed(&key, seed);
    seed[0] = 8;
    crypto_ed25519_from_seed(&other, seed);
    crypto_keyring *kr = crypto_keyring_new();
    crypto_keyring_add(kr, &key);
    struct manifest *m = make();
    char *mj = encode(m);
    size_t len = strlen(mj);
    kf_buf sig, sig2;
    kf_buf_init(&sig);
    kf_buf_init(&sig2);
    KT_ASSERT_INT_EQ(manifest_sig_encode(&key, (const uint8_t *)mj, len, &sig), 0);
    KT_ASSERT(sig.len > 100 && !memcmp(sig.ptr, "{\"alg\":\"ed25519\",\"key_id\":\"", 26));
    char kid[17];
    KT_ASSERT_INT_EQ(manifest_sig_verify(sig.ptr, sig.len, (const uint8_t *)mj, len, kr, kid),
                     CTL_SIG_OK);
    KT_ASSERT_STR_EQ(kid, key.key_id);
    KT_ASSERT_INT_EQ(manifest_sig_verify(NULL, 0, (const uint8_t *)mj, len, kr, kid),
                     CTL_SIG_UNSIGNED);
    mj[10] ^= 1;
    KT_ASSERT_INT_EQ(manifest_sig_verify(sig.ptr, sig.len, (const uint8_t *)mj, len, kr, NULL),
                     CTL_SIG_BAD_SIGNATURE);
    mj[10] ^= 1;
    KT_ASSERT_INT_EQ(manifest_sig_encode(&other, (const uint8_t *)mj, len, &sig2), 0);
    KT_ASSERT_INT_EQ(manifest_sig_verify(sig2.ptr, sig2.len, (const uint8_t *)mj, len, kr, NULL),
                     CTL_SIG_UNKNOWN_KEY);
    const char *bad[] = {"{}", "not json",
                         "{\"alg\":\"rsa\",\"key_id\":\"0011223344556677\",\"sig\":\"\"}",
                         "{\"alg\":\"ed25519\",\"key_id\":\"00\",\"sig\":\"AAAA\"}"};
    for (size_t i = 0; i < 4; i++)
        KT_ASSERT_INT_EQ(manifest_sig_verify((const uint8_t *)bad[i], strlen(bad[i]),
                                             (const uint8_t *)mj, len, kr, NULL),
                         CTL_SIG_MALFORMED);
    kf_buf_fini(&sig);
    kf_buf_fini(&sig2);
    free(mj);
    manifest_free(m);
    crypto_keyring_free(kr);
}

int main(void)
{
    KT_RUN(test_rules);
    KT_RUN(test_roundtrip);
    KT_RUN(test_parse_errors);
    KT_RUN(test_golden_check);
    KT_RUN(test_signature_file);
    return 0;
}
