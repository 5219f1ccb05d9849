/* publish-model's inner parts, without Kafka or S3: chunk digests against
 * one-shot hashes, deduplicated uploads into a file:// store (PUTs counted),
 * the model file's validation, golden vectors against a naive forward pass,
 * a dry-run push, keygen. */
#include "common/kf_text.h"
#include "common/kf_err.h"
#include "kernels/kern_dtype.h"
#include "publisher/pub.h"
#include "publisher/pub_chunk.h"
#include "publisher/pub_control.h"
#include "publisher/pub_golden.h"
#include "publisher/pub_model.h"
#include "publisher/pub_ops.h"
#include "publisher/pub_push.h"
#include "publisher/pub_push_impl.h"
#include "tests/lib/kf_test.h"
#include "tests/publisher/kt_model.h"

#include <math.h>
#include <sys/stat.h>

static char *dir;

static uint8_t *random_blob(size_t n, uint64_t seed)
{
    uint8_t *b = malloc(n);
    KT_ASSERT(b);
    uint64_t s = seed | 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        b[i] = (uint8_t)(s >> 32);
    }
    return b;
}

static void test_chunk_hash(void)
{
    size_t n = (1u << 20) + 123;
    uint8_t *blob = random_blob(n, 7);
    const uint64_t sizes[] = {1024, 4096, 65536, 1u << 20, 4u << 20};
    const unsigned threads[] = {1, 3, 0};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        for (size_t t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
            struct pub_chunk *c;
            size_t nc;
            KT_ASSERT_INT_EQ(pub_chunk_hash(blob, n, sizes[s], threads[t], NULL, &c, &nc), 0);
            KT_ASSERT_INT_EQ(nc, (n + sizes[s] - 1) / sizes[s]);
            uint64_t off = 0;
            for (size_t i = 0; i < nc; i++) {
                KT_ASSERT_INT_EQ(c[i].offset, off);
                KT_ASSERT(c[i].size == sizes[s] || (i + 1 == nc && c[i].size < sizes[s]));
                char want[65];
                crypto_sha256_hex(blob + off, c[i].size, want);
                KT_ASSERT_STR_EQ(c[i].sha256, want);
                off += c[i].size;
            }
            KT_ASSERT_INT_EQ(off, n);
            free(c);
        }
    }
    struct pub_chunk *c;
    size_t nc;
    KT_ASSERT_INT_EQ(pub_chunk_hash(blob, 0, 4096, 1, NULL, &c, &nc), -EINVAL);
    KT_ASSERT_INT_EQ(pub_chunk_hash(blob, n, 0, 1, NULL, &c, &nc), -EINVAL);
    /* the MD5 beside the SHA-256 (what a store's ETag is compared with): RFC 1321's "abc" */
    KT_ASSERT_INT_EQ(pub_chunk_hash((const uint8_t *)"abc", 3, 1024, 1, NULL, &c, &nc), 0);
    KT_ASSERT_INT_EQ(nc, 1);
    KT_ASSERT_STR_EQ(c[0].md5, "900150983cd24fb0d6963f7d28e17f72");
    KT_ASSERT_STR_EQ(c[0].sha256,
                     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    free(c);
    char key[PUB_CHUNK_KEY_LEN];
    pub_chunk_key("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", key);
    KT_ASSERT_STR_EQ(
        key, "blobs/sha256/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    free(blob);
}

static uint64_t puts_of(objstore *os)
{
    struct objstore_counts c;
    objstore_counts(os, &c);
    return c.puts;
}

/* Upload into file://: what is present is skipped, duplicates go up once,
 * one changed byte costs one PUT. */
static void test_upload_dedup(void)
{
    char url[600], err[512];
    snprintf(url, sizeof(url), "file://%s/store", dir);
    objstore *os = objstore_new(url, NULL, err, sizeof(err));
    KT_ASSERT_MSG(os, "%s", err);
    size_t n = 64 * 4096;
    uint8_t *blob = random_blob(n, 11);
    memcpy(blob + 5 * 4096, blob, 4096); /* chunks 5 and 9 repeat chunk 0 */
    memcpy(blob + 9 * 4096, blob, 4096);
    struct pub_chunk *c;
    size_t nc;
    KT_ASSERT_INT_EQ(pub_chunk_hash(blob, n, 4096, 2, NULL, &c, &nc), 0);
    KT_ASSERT_INT_EQ(nc, 64);
    struct pub_upload_opts uo = {.parallel = 4, .deadline_ms = 30000};
    struct pub_upload_stats st;
    uint64_t p0 = puts_of(os);
    KT_ASSERT_INT_EQ(pub_chunk_upload(os, c, nc, blob, &uo, &st, err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(puts_of(os) - p0, 62);
    KT_ASSERT_INT_EQ(st.chunks, 64);
    KT_ASSERT_INT_EQ(st.chunks_uploaded, 62);
    KT_ASSERT_INT_EQ(st.chunks_present, 2);
    KT_ASSERT_INT_EQ(st.bytes_uploaded + st.bytes_present, n);
    for (size_t i = 0; i < nc; i++) {
        char key[PUB_CHUNK_KEY_LEN];
        pub_chunk_key(c[i].sha256, key);
        kf_buf b;
        kf_buf_init(&b);
        KT_ASSERT(!objstore_get(os, key, &b, 0, err, sizeof(err)));
        KT_ASSERT(b.len == c[i].size && !memcmp(b.ptr, blob + c[i].offset, b.len));
        kf_buf_fini(&b);
    }
    /* again: nothing to do */
    p0 = puts_of(os);
    KT_ASSERT_INT_EQ(pub_chunk_upload(os, c, nc, blob, &uo, &st, err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(puts_of(os) - p0, 0);
    KT_ASSERT_INT_EQ(st.chunks_present, 64);
    /* one byte changed in chunk 24 */
    blob[24 * 4096 + 17] ^= 1;
    free(c);
    KT_ASSERT_INT_EQ(pub_chunk_hash(blob, n, 4096, 2, NULL, &c, &nc), 0);
    p0 = puts_of(os);
    KT_ASSERT_INT_EQ(pub_chunk_upload(os, c, nc, blob, &uo, &st, err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(puts_of(os) - p0, 1);
    KT_ASSERT_INT_EQ(st.chunks_uploaded, 1);
    KT_ASSERT_INT_EQ(st.bytes_uploaded, 4096);
    /* a stored chunk of the wrong size is not "present" */
    char key[PUB_CHUNK_KEY_LEN];
    pub_chunk_key(c[3].sha256, key);
    KT_ASSERT(!objstore_put(os, key, "x", 1, err, sizeof(err)));
    KT_ASSERT_INT_EQ(pub_chunk_upload(os, c, nc, blob, &uo, &st, err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(st.chunks_uploaded, 1);
    KT_ASSERT_INT_EQ(st.chunks_repaired, 1);
    /* nor is one of the right size holding other bytes: file:// has no ETag, so
     * every chunk of the right size is read back and hashed; the planted one is
     * found out and uploaded over, then every distinct chunk is checked again */
    pub_chunk_key(c[7].sha256, key);
    uint8_t *junk = random_blob(4096, 99);
    KT_ASSERT(!objstore_put(os, key, junk, 4096, err, sizeof(err)));
    free(junk);
    p0 = puts_of(os);
    KT_ASSERT_INT_EQ(pub_chunk_upload(os, c, nc, blob, &uo, &st, err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(puts_of(os) - p0, 1);
    KT_ASSERT_INT_EQ(st.chunks_uploaded, 1);
    KT_ASSERT_INT_EQ(st.chunks_repaired, 1);
    KT_ASSERT_INT_EQ(st.bytes_repaired, 4096);
    KT_ASSERT_INT_EQ(st.chunks_read, 62);
    KT_ASSERT_INT_EQ(st.chunks_verified, 62);
    kf_buf b;
    kf_buf_init(&b);
    KT_ASSERT(!objstore_get(os, key, &b, 0, err, sizeof(err)));
    KT_ASSERT(b.len == 4096 && !memcmp(b.ptr, blob + c[7].offset, 4096));
    kf_buf_fini(&b);
    free(c);
    free(blob);
    objstore_free(os);
}

static const struct kt_model_spec spec32 = {.input_width = 24,
                                            .n_layers = 3,
                                            .widths = {32, 16, 5},
                                            .dtype = SCHEMA_DTYPE_F32,
                                            .seed = 3,
                                            .softmax = true};

static void path_in(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", dir, name);
}

static void expect_open_error(const char *weights, const char *arch, int want, const char *needle)
{
    struct pub_model pm;
    char err[1024] = "";
    int rc = pub_model_open(&pm, weights, arch, err, sizeof(err));
    pub_model_close(&pm);
    KT_ASSERT_MSG(rc == want, "%s: %d (%s), want %d", weights, rc, err, want);
    KT_ASSERT_MSG(strstr(err, needle), "%s: '%s' does not say '%s'", weights, err, needle);
}

static void test_model_open(void)
{
    char good[600], trunc[600], junk[600], empty[600], nometa[600], arch[600], badarch[600],
        wrongarch[600], hdr[600];
    path_in(good, sizeof(good), "good.safetensors");
    uint64_t size = kt_model_write(good, &spec32);
    struct pub_model pm;
    char err[1024];
    KT_ASSERT_MSG(!pub_model_open(&pm, good, NULL, err, sizeof(err)), "%s", err);
    KT_ASSERT_INT_EQ(pm.file_len, size);
    KT_ASSERT_INT_EQ(pm.blob_size, size - pm.sf->data_offset);
    KT_ASSERT_INT_EQ(pm.dtype, SCHEMA_DTYPE_F32);
    KT_ASSERT_INT_EQ(pm.arch.n_layers, 3);
    pub_model_close(&pm);

    size_t len;
    uint8_t *bytes = kt_read_file(good, &len);
    path_in(trunc, sizeof(trunc), "trunc.safetensors");
    kt_write_file(trunc, bytes, len / 2);
    expect_open_error(trunc, NULL, -EPROTO, "not a valid safetensors file");
    path_in(hdr, sizeof(hdr), "hdr.safetensors");
    kt_write_file(hdr, bytes, 20); /* inside the header */
    expect_open_error(hdr, NULL, -EPROTO, "not a valid safetensors file");
    uint8_t *rnd = random_blob(5000, 5);
    path_in(junk, sizeof(junk), "junk.safetensors");
    kt_write_file(junk, rnd, 5000);
    expect_open_error(junk, NULL, -EPROTO, "not a valid safetensors file");
    /* a plausible length, then not JSON */
    memcpy(rnd, "\x10\0\0\0\0\0\0\0{\"a\":[1,2,3]xx}", 24);
    kt_write_file(junk, rnd, 100);
    expect_open_error(junk, NULL, -EPROTO, "not a valid safetensors file");
    path_in(empty, sizeof(empty), "empty.safetensors");
    kt_write_file(empty, "", 0);
    expect_open_error(empty, NULL, -EPROTO, "not a valid safetensors file");
    expect_open_error(dir, NULL, -EINVAL, "not a regular file");
    expect_open_error("/nonexistent/x.safetensors", NULL, -ENOENT, "No such file");

    struct kt_model_spec s = spec32;
    s.no_arch_meta = true;
    path_in(nometa, sizeof(nometa), "nometa.safetensors");
    kt_model_write(nometa, &s);
    expect_open_error(nometa, NULL, -EINVAL, "--arch");
    path_in(arch, sizeof(arch), "arch.json");
    kt_model_write_arch(arch, &spec32, 0);
    KT_ASSERT_MSG(!pub_model_open(&pm, nometa, arch, err, sizeof(err)), "%s", err);
    pub_model_close(&pm);
    path_in(wrongarch, sizeof(wrongarch), "wrongarch.json");
    kt_model_write_arch(wrongarch, &spec32, 1);
    expect_open_error(good, wrongarch, -EPROTO, "does not match");
    path_in(badarch, sizeof(badarch), "badarch.json");
    kt_write_file(badarch, "{\"kind\":\"mlp\",\"layers\":", 23);
    expect_open_error(good, badarch, -EPROTO, "not a valid architecture");
    expect_open_error(good, "/nonexistent/arch.json", -ENOENT, "No such file");
    free(bytes);
    free(rnd);
}

static void golden_roundtrip(const struct kt_model_spec *s, const char *name)
{
    char path[600], err[1024];
    path_in(path, sizeof(path), name);
    kt_model_write(path, s);
    struct pub_model pm;
    KT_ASSERT_MSG(!pub_model_open(&pm, path, NULL, err, sizeof(err)), "%s", err);
    struct manifest *m;
    KT_ASSERT(!pub_manifest_build(&pm, "m", "v", path, &m, err, sizeof(err)));
    struct pub_golden_opts go = {.rows = 5, .seed = 42};
    KT_ASSERT_MSG(!pub_golden_compute(m, pm.blob, pm.blob_size, &go, err, sizeof(err)), "%s", err);
    KT_ASSERT_INT_EQ(m->golden.rows, 5);
    KT_ASSERT_INT_EQ(m->golden.n_inputs, 5 * s->input_width);
    KT_ASSERT_INT_EQ(m->golden.n_outputs, 5 * s->widths[s->n_layers - 1]);
    /* The inputs are the seeded ones, in [-1, 1). */
    float *want_in = malloc(m->golden.n_inputs * sizeof(float));
    pub_golden_inputs(42, want_in, m->golden.n_inputs);
    for (size_t i = 0; i < m->golden.n_inputs; i++) {
        KT_ASSERT(want_in[i] >= -1.0f && want_in[i] < 1.0f);
        KT_ASSERT(m->golden.inputs[i] == want_in[i]);
    }
    if (s->dtype == SCHEMA_DTYPE_F32) {
        /* Against a naive double-precision forward pass of the file itself. */
        float *out = malloc(m->golden.n_outputs * sizeof(float));
        kt_model_forward(path, s, want_in, 5, out);
        for (size_t i = 0; i < m->golden.n_outputs; i++)
            KT_ASSERT_MSG(fabsf(out[i] - m->golden.outputs[i]) <= 1e-5f + 1e-4f * fabsf(out[i]),
                          "output %zu: naive %g, golden %g", i, (double)out[i],
                          (double)m->golden.outputs[i]);
        free(out);
    }
    size_t bad;
    KT_ASSERT_MSG(!pub_golden_reproduce(m, pm.blob, pm.blob_size, &bad, err, sizeof(err)), "%s",
                  err);
    /* Other weights: the golden check must notice. */
    uint8_t *copy = malloc(pm.blob_size);
    memcpy(copy, pm.blob, pm.blob_size);
    const struct schema_tensor *w0 = &m->tensors[m->arch.layers[0].weight_index];
    for (uint64_t i = 0; i < w0->length; i += 2)
        copy[w0->offset + i + 1] ^= 0x40; /* the high byte of every f16/bf16, or mid f32 */
    int rc = pub_golden_reproduce(m, copy, pm.blob_size, &bad, err, sizeof(err));
    KT_ASSERT_MSG(rc == -EBADMSG, "%s: changed weights reproduce the golden outputs", name);
    KT_ASSERT(strstr(err, "golden output"));
    /* A skewed golden output: the same. */
    struct pub_golden_opts skew = go;
    skew.skew = 0.5f;
    KT_ASSERT(!pub_golden_compute(m, pm.blob, pm.blob_size, &skew, err, sizeof(err)));
    KT_ASSERT_INT_EQ(pub_golden_reproduce(m, pm.blob, pm.blob_size, &bad, err, sizeof(err)),
                     -EBADMSG);
    KT_ASSERT_INT_EQ(bad, 0);
    free(copy);
    free(want_in);
    manifest_free(m);
    pub_model_close(&pm);
}

static void test_golden(void)
{
    golden_roundtrip(&spec32, "g32.safetensors");
    struct kt_model_spec s = spec32;
    s.dtype = SCHEMA_DTYPE_F16;
    golden_roundtrip(&s, "g16.safetensors");
    s.dtype = SCHEMA_DTYPE_BF16;
    golden_roundtrip(&s, "gbf16.safetensors");
    double atol, rtol;
    pub_golden_tolerance(SCHEMA_DTYPE_F32, &atol, &rtol);
    KT_ASSERT(atol > 0 && atol < 1e-3 && rtol > 0 && rtol < 1e-2);
}

/* --dry-run: read, golden, hash; the manifest on pc->out; no store, no Kafka. */
static void test_dry_run(void)
{
    char path[600], mpath[600], err[1024];
    path_in(path, sizeof(path), "dry.safetensors");
    kt_model_write(path, &spec32);
    path_in(mpath, sizeof(mpath), "dry.manifest");
    kf_conf *conf = kf_conf_new(pub_props, pub_props_count, err, sizeof(err));
    KT_ASSERT(conf);
    /* Nothing may be contacted: both point at closed ports. */
    KT_ASSERT(!kf_conf_set(conf, "brokers", "127.0.0.1:1", err, sizeof(err)));
    KT_ASSERT(!kf_conf_set(conf, "s3.endpoint", "127.0.0.1:1", err, sizeof(err)));
    struct pub_ctx pc;
    pub_ctx_init(&pc, conf);
    pc.out = fopen(mpath, "w");
    struct pub_push_opts o = {
        .model = "dry", .version = "v1", .weights_path = path, .chunk_size = 1024, .dry_run = true};
    ctl_strategy_default(&o.strategy);
    struct pub_push_result res;
    KT_ASSERT_MSG(!pub_push(&pc, &o, &res, err, sizeof(err)), "%s", err);
    fclose(pc.out);
    KT_ASSERT(pc.os == NULL);
    KT_ASSERT_INT_EQ(res.offset, -1);
    size_t len;
    uint8_t *mb = kt_read_file(mpath, &len);
    KT_ASSERT(len > 1 && mb[len - 1] == '\n');
    char hex[65];
    crypto_sha256_hex(mb, len - 1, hex);
    KT_ASSERT_STR_EQ(hex, res.manifest_sha256);
    struct manifest *m;
    KT_ASSERT_MSG(!manifest_parse(mb, len - 1, &m, err, sizeof(err)), "%s", err);
    KT_ASSERT_INT_EQ(m->n_chunks, res.up.chunks);
    KT_ASSERT_INT_EQ(m->n_chunks, (res.blob_bytes + 1023) / 1024);
    KT_ASSERT_INT_EQ(m->seq, 1);
    KT_ASSERT_STR_EQ(m->source.name, "dry.safetensors");
    size_t flen;
    uint8_t *file = kt_read_file(path, &flen);
    crypto_sha256_hex(file, flen, hex);
    KT_ASSERT_STR_EQ(m->source.sha256, hex);
    KT_ASSERT_INT_EQ(m->source.size, flen);
    KT_ASSERT(m->golden.rows == 8);
    free(file);
    manifest_free(m);
    free(mb);
    /* Without --dry-run and without a key: refused before anything. */
    o.dry_run = false;
    KT_ASSERT_INT_EQ(pub_push(&pc, &o, &res, err, sizeof(err)), -ENOKEY);
    KT_ASSERT(strstr(err, "--key"));
    /* Bad names. */
    o.dry_run = true;
    o.version = "../x";
    KT_ASSERT_INT_EQ(pub_push(&pc, &o, &res, err, sizeof(err)), -EINVAL);
    o.version = "v1";
    o.strategy.max_unavailable = 0; /* the announcement would not encode */
    KT_ASSERT_INT_EQ(pub_push(&pc, &o, &res, err, sizeof(err)), -EINVAL);
    KT_ASSERT(strstr(err, "announcement"));
    pub_ctx_fini(&pc);
    kf_conf_free(conf);
}

static void test_keygen(void)
{
    char base[600], path[700], err[512];
    path_in(base, sizeof(base), "k1");
    char line[256] = "";
    FILE *out = fmemopen(line, sizeof(line), "w");
    KT_ASSERT_MSG(!pub_keygen(base, out, err, sizeof(err)), "%s", err);
    fclose(out);
    KT_ASSERT(!strncmp(line, "kfleet-ed25519-public ", 22));
    struct stat st;
    snprintf(path, sizeof(path), "%s.key", base);
    KT_ASSERT(!stat(path, &st) && (st.st_mode & 0777) == 0600);
    kf_conf *conf = kf_conf_new(pub_props, pub_props_count, err, sizeof(err));
    struct pub_ctx pc;
    pub_ctx_init(&pc, conf);
    KT_ASSERT_MSG(!pub_ctx_load_key(&pc, path, err, sizeof(err)), "%s", err);
    KT_ASSERT(pc.have_key && pc.key.has_priv);
    KT_ASSERT(!strncmp(line + 22, pc.key.key_id, CRYPTO_KEY_ID_LEN));
    snprintf(path, sizeof(path), "%s.pub", base);
    KT_ASSERT(!stat(path, &st));
    struct pub_ctx pc2;
    pub_ctx_init(&pc2, conf);
    KT_ASSERT_INT_EQ(pub_ctx_load_key(&pc2, path, err, sizeof(err)), -ENOKEY);
    KT_ASSERT(strstr(err, "public key"));
    /* never overwritten */
    FILE *devnull = fopen("/dev/null", "w");
    KT_ASSERT_INT_EQ(pub_keygen(base, devnull, err, sizeof(err)), -EEXIST);
    fclose(devnull);
    /* a keyring from the key alone, when no trusted_keys are configured */
    const crypto_keyring *kr = pub_ctx_keyring(&pc, err, sizeof(err));
    KT_ASSERT(kr && crypto_keyring_find(kr, pc.key.key_id, CRYPTO_KEY_ID_LEN));
    KT_ASSERT(pub_ctx_keyring(&pc2, err, sizeof(err)) == NULL);
    pub_ctx_fini(&pc);
    KT_ASSERT(!pc.have_key);
    pub_ctx_fini(&pc2);
    kf_conf_free(conf);
}

/* pub_config_parse reads every property by name (a typo there aborts here)
 * into typed fields: defaults, then set values, and the strings are copies. */
static void test_config_parse(void)
{
    char err[256];
    kf_conf *conf = kf_conf_new(pub_props, pub_props_count, err, sizeof(err));
    KT_ASSERT_MSG(conf, "%s", err);
    struct pub_config cfg;
    pub_config_parse(&cfg, conf);
    KT_ASSERT_STR_EQ(cfg.brokers, "127.0.0.1:19092");
    KT_ASSERT_STR_EQ(cfg.topic_control, "kfleet.control");
    KT_ASSERT_INT_EQ(cfg.control_timeout_ms, 30000);
    KT_ASSERT(cfg.store_url == NULL && cfg.trusted_keys == NULL);
    KT_ASSERT_STR_EQ(cfg.s3_bucket, "kfleet");
    KT_ASSERT(!cfg.s3_https);
    KT_ASSERT(!cfg.s3_sigv2 && !cfg.s3_virtual_host); /* SigV4, path-style */
    KT_ASSERT(cfg.s3_session_token == NULL && cfg.s3_ca_file == NULL);
    KT_ASSERT_INT_EQ(cfg.chunk_size, 64ull << 20);
    KT_ASSERT_INT_EQ(cfg.upload_parallel, 8);
    KT_ASSERT_INT_EQ(cfg.upload_deadline_ms, 1800000);
    KT_ASSERT_INT_EQ(cfg.hash_threads, 0);
    KT_ASSERT_INT_EQ(cfg.golden_rows, 8);
    KT_ASSERT_INT_EQ(cfg.golden_seed, 1801675108);
    KT_ASSERT(cfg.golden_atol == 0 && cfg.golden_rtol == 0);
    KT_ASSERT_INT_EQ(cfg.log_level, KF_LOG_WARN);
    pub_config_fini(&cfg);

    const char *kv[] = {"store.url=file:///tmp/x", "s3.https=yes",         "chunk.size=1M",
                        "upload.parallel=3",       "golden.atol=0.5",      "golden.seed=4294967296",
                        "trusted_keys=/k.pub",     "log_level=debug",      "topic.control=t1",
                        "control.timeout_ms=1500", "s3.timeout_ms=2500",   "s3.signature=v2",
                        "s3.addressing=virtual",   "s3.session_token=tok", "s3.ca_file=/ca.pem"};
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
        KT_ASSERT_MSG(!kf_conf_set_kv(conf, kv[i], err, sizeof(err)), "%s: %s", kv[i], err);
    pub_config_parse(&cfg, conf);
    kf_conf_free(conf); /* the struct owns its strings */
    KT_ASSERT_STR_EQ(cfg.store_url, "file:///tmp/x");
    KT_ASSERT(cfg.s3_https);
    KT_ASSERT(cfg.s3_sigv2 && cfg.s3_virtual_host);
    KT_ASSERT_STR_EQ(cfg.s3_session_token, "tok");
    KT_ASSERT_STR_EQ(cfg.s3_ca_file, "/ca.pem");
    KT_ASSERT_INT_EQ(cfg.chunk_size, 1u << 20);
    KT_ASSERT_INT_EQ(cfg.upload_parallel, 3);
    KT_ASSERT(cfg.golden_atol == 0.5);
    KT_ASSERT_INT_EQ(cfg.golden_seed, 4294967296ull);
    KT_ASSERT_STR_EQ(cfg.trusted_keys, "/k.pub");
    KT_ASSERT_INT_EQ(cfg.log_level, KF_LOG_DEBUG);
    KT_ASSERT_STR_EQ(cfg.topic_control, "t1");
    KT_ASSERT_INT_EQ(cfg.control_timeout_ms, 1500);
    KT_ASSERT_INT_EQ(cfg.s3_timeout_ms, 2500);
    pub_config_fini(&cfg);
    KT_ASSERT(cfg.brokers == NULL);
}

static void test_small(void)
{
    char buf[32];
    KT_ASSERT_STR_EQ(pub_fmt_bytes(512, buf, sizeof(buf)), "512 B");
    KT_ASSERT_STR_EQ(pub_fmt_bytes(3 << 20, buf, sizeof(buf)), "3.0 MiB");
    char a[CTL_NAME_CAP], b[CTL_NAME_CAP];
    pub_event_id(a, "publish");
    pub_event_id(b, "publish");
    KT_ASSERT(strcmp(a, b) && schema_id_valid(a, strlen(a)));
    char key[300];
    pub_version_key(key, sizeof(key), "m", "v", "manifest.json");
    KT_ASSERT_STR_EQ(key, "models/m/v/manifest.json");
    KT_ASSERT(pub_chunk_threads(0) >= 1 && pub_chunk_threads(1000) == 64);
    /* text from the log reaches logs and terminals escaped (issue 14) */
    char clean[128];
    KT_ASSERT_STR_EQ(kf_text_clean("halted: \x1b[2J\tx\x7f \xc2\x9b"
                                   "1m caf\xc3\xa9",
                                   clean, sizeof(clean)),
                     "halted: \\x1b[2J\\x09x\\x7f \\u009b1m caf\xc3\xa9");
    KT_ASSERT_STR_EQ(kf_text_clean("\x1b\x1b", clean, 6), "\\x1b"); /* cut, never half */
}

int main(void)
{
    setenv("KFLEET_LOG_LEVEL", "warn", 0);
    dir = kt_mkdtemp("pub-unit");
    KT_RUN(test_chunk_hash);
    KT_RUN(test_upload_dedup);
    KT_RUN(test_model_open);
    KT_RUN(test_golden);
    KT_RUN(test_dry_run);
    KT_RUN(test_keygen);
    KT_RUN(test_config_parse);
    KT_RUN(test_small);
    kt_rmtree(dir);
    free(dir);
    return 0;
}
