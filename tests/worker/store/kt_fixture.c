/* Fixture versions for the store and loader tests and the swap benchmark. */
#include "tests/worker/store/kt_fixture.h"

#include "kernels/kern_backend.h"
#include "kernels/kern_dtype.h"
#include "schema/model_map.h"
#include "schema/safet.h"
#include "tests/lib/kf_test.h"
#include "worker/store.h"

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FIX_FAIL(...)                             \
    do {                                          \
        fprintf(stderr, "fixture: " __VA_ARGS__); \
        fputc('\n', stderr);                      \
        exit(KF_TEST_HARD_ERROR);                 \
    } while (0)

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [-scale, scale). */
static float uniform(uint64_t *s, float scale)
{
    return scale * ((float)(splitmix(s) >> 40) / (float)(1u << 23) - 1.0f);
}

void kt_key(struct crypto_ed25519_key *key, uint8_t seed)
{
    uint8_t s[CRYPTO_ED25519_KEY_LEN];
    memset(s, seed, sizeof(s));
    if (crypto_ed25519_from_seed(key, s))
        FIX_FAIL("ed25519 key");
}

struct gen_layer {
    char wname[32], bname[32];
    uint64_t wshape[2], bshape[1];
    void *w, *b; /* in the spec's dtype */
};

/* n values in the spec's dtype (f32 generated, then rounded). Large models
 * go through this: one temporary f32 block at a time. */
static void *gen_tensor(uint64_t *rng, size_t n, float scale, enum schema_dtype dt)
{
    enum { BLOCK = 1 << 16 };
    float f[BLOCK];
    size_t esz = schema_dtype_size(dt);
    uint8_t *d = malloc(n * esz);
    if (!d)
        FIX_FAIL("out of memory (%zu values)", n);
    enum kern_dtype kd;
    if (model_map_dtype(dt, &kd))
        FIX_FAIL("dtype %d", (int)dt);
    for (size_t i = 0; i < n; i += BLOCK) {
        size_t k = n - i < BLOCK ? n - i : BLOCK;
        for (size_t j = 0; j < k; j++)
            f[j] = uniform(rng, scale);
        kern_from_f32(kd, f, d + i * esz, k);
    }
    return d;
}

/* The golden outputs as the publisher computes them: the manifest's own
 * network, mapped by model_map_build (as the publisher and the worker map it),
 * on the reference backend. */
static void golden(struct manifest *m, const kf_buf *blob, const float *in, uint32_t rows,
                   float *out)
{
    char err[512];
    enum schema_dtype dt;
    if (arch_bind(&m->arch, m->tensors, m->n_tensors, &dt, err, sizeof(err)))
        FIX_FAIL("arch_bind: %s", err);
    struct kern_model km;
    struct kern_layer *layers = NULL;
    if (model_map_build(&m->arch, m->tensors, m->n_tensors, blob->ptr, blob->len, &km, &layers, err,
                        sizeof(err)))
        FIX_FAIL("model_map_build: %s", err);
    struct kern_backend *be = kern_backend_new("ref", NULL, err, sizeof(err));
    struct kern_weights *w = NULL;
    if (!be || kern_weights_load(be, &km, rows, &w, err, sizeof(err)) ||
        kern_forward(be, w, in, rows, out))
        FIX_FAIL("golden run: %s", err);
    kern_weights_free(be, w);
    kern_backend_free(be);
    free(layers);
}

void kt_version_build(const struct kt_spec *s, const struct crypto_ed25519_key *key,
                      struct kt_version *v)
{
    memset(v, 0, sizeof(*v));
    if (!s->n_layers || s->n_layers > KT_MAX_LAYERS)
        FIX_FAIL("bad layer count");
    snprintf(v->model, sizeof(v->model), "%s", s->model);
    snprintf(v->version, sizeof(v->version), "%s", s->version);
    uint64_t rng = s->seed * 0x2545f4914f6cdd1dull + 1;
    struct gen_layer gl[KT_MAX_LAYERS] = {{{0}}};
    struct safet_input in[2 * KT_MAX_LAYERS];
    size_t n_in = 0;
    for (uint32_t i = 0; i < s->n_layers; i++) {
        uint32_t iw = i ? s->widths[i - 1] : s->input_width, ow = s->widths[i];
        float scale = 1.0f / sqrtf((float)iw);
        snprintf(gl[i].wname, sizeof(gl[i].wname), "%u.weight", 2 * i);
        snprintf(gl[i].bname, sizeof(gl[i].bname), "%u.bias", 2 * i);
        gl[i].wshape[0] = ow;
        gl[i].wshape[1] = iw;
        gl[i].bshape[0] = ow;
        gl[i].w = gen_tensor(&rng, (size_t)ow * iw, scale, s->dtype);
        in[n_in++] = (struct safet_input){gl[i].wname, s->dtype, 2, gl[i].wshape, gl[i].w};
        if (!s->no_bias) {
            gl[i].b = gen_tensor(&rng, ow, scale, s->dtype);
            in[n_in++] = (struct safet_input){gl[i].bname, s->dtype, 1, gl[i].bshape, gl[i].b};
        }
    }
    if (s->tweak_last) {
        /* A fine-tune of the last tensor: same bytes everywhere else. */
        struct gen_layer *l = &gl[s->n_layers - 1];
        uint8_t *p = s->no_bias ? l->w : l->b;
        size_t esz = schema_dtype_size(s->dtype);
        size_t n = s->no_bias ? (size_t)l->wshape[0] * l->wshape[1] : (size_t)l->bshape[0];
        for (uint32_t k = 0; k < s->tweak_last && k < n; k++)
            p[k * esz + esz - 1] ^= 0x01; /* flips a low exponent bit: a different value */
    }

    kf_buf file;
    kf_buf_init(&file);
    if (safet_write(&file, in, n_in, NULL, 0))
        FIX_FAIL("safet_write");
    struct safet_file *sf = NULL;
    char err[512];
    if (safet_parse(file.ptr, file.len, file.len, &sf, err, sizeof(err)))
        FIX_FAIL("safet_parse: %s", err);
    if (kf_buf_append(&v->blob, file.ptr + sf->data_offset, (size_t)sf->data_size))
        FIX_FAIL("out of memory");

    struct manifest *m = manifest_new();
    if (!m)
        FIX_FAIL("out of memory");
    snprintf(m->model, sizeof(m->model), "%s", s->model);
    snprintf(m->version, sizeof(m->version), "%s", s->version);
    m->seq = s->seq ? s->seq : 1;
    snprintf(m->created_at, sizeof(m->created_at), "2026-01-02T03:04:05Z");
    m->dtype = s->dtype;
    struct arch_layer al[KT_MAX_LAYERS];
    memset(al, 0, sizeof(al));
    for (uint32_t i = 0; i < s->n_layers; i++) {
        memcpy(al[i].weight, gl[i].wname, sizeof(gl[i].wname));
        if (!s->no_bias)
            memcpy(al[i].bias, gl[i].bname, sizeof(gl[i].bname));
        al[i].activation = i + 1 < s->n_layers ? s->act : ARCH_ACT_NONE;
    }
    struct arch_desc ad = {
        .input_width = s->input_width,
        .output_width = s->widths[s->n_layers - 1],
        .output = s->softmax ? ARCH_OUTPUT_SOFTMAX : ARCH_OUTPUT_NONE,
        .n_layers = s->n_layers,
        .layers = al,
    };
    if (manifest_set_arch(m, &ad) || manifest_set_tensors(m, sf->tensors, sf->n_tensors))
        FIX_FAIL("manifest arch/tensors");
    uint64_t cs = s->chunk_size ? s->chunk_size : 64u << 20;
    for (uint64_t off = 0; off < v->blob.len; off += cs) {
        size_t n = v->blob.len - off < cs ? (size_t)(v->blob.len - off) : (size_t)cs;
        char hex[65];
        crypto_sha256_hex(v->blob.ptr + off, n, hex);
        if (manifest_add_chunk(m, hex, n))
            FIX_FAIL("manifest chunk");
    }
    snprintf(m->source.name, sizeof(m->source.name), "%s-%s.safetensors", s->model, s->version);
    m->source.size = file.len;
    crypto_sha256_hex(file.ptr, file.len, m->source.sha256);

    uint32_t rows = s->golden_rows ? s->golden_rows : 4;
    uint32_t ow = s->widths[s->n_layers - 1];
    float *gin = malloc((size_t)rows * s->input_width * sizeof(float));
    float *gout = malloc((size_t)rows * ow * sizeof(float));
    if (!gin || !gout)
        FIX_FAIL("out of memory");
    for (size_t i = 0; i < (size_t)rows * s->input_width; i++)
        gin[i] = uniform(&rng, 1.0f);
    golden(m, &v->blob, gin, rows, gout);
    gout[0] += s->golden_skew;
    double atol = s->atol || s->rtol ? s->atol : 1e-4, rtol = s->atol || s->rtol ? s->rtol : 1e-4;
    if (manifest_set_golden(m, rows, gin, gout, atol, rtol))
        FIX_FAIL("manifest golden");
    free(gin);
    free(gout);

    if (manifest_encode(m, &v->manifest, err, sizeof(err)))
        FIX_FAIL("manifest_encode: %s", err);
    manifest_free(m);
    if (manifest_parse(v->manifest.ptr, v->manifest.len, &v->m, err, sizeof(err)))
        FIX_FAIL("manifest_parse: %s", err);
    if (manifest_sig_encode(key, v->manifest.ptr, v->manifest.len, &v->sig))
        FIX_FAIL("manifest_sig_encode");

    snprintf(v->ref.bucket, sizeof(v->ref.bucket), "kfleet");
    snprintf(v->ref.key, sizeof(v->ref.key), "models/%s/%s/manifest.json", s->model, s->version);
    crypto_sha256_hex(v->manifest.ptr, v->manifest.len, v->ref.sha256);
    v->ref.size = v->manifest.len;

    safet_file_free(sf);
    kf_buf_fini(&file);
    for (uint32_t i = 0; i < s->n_layers; i++) {
        free(gl[i].w);
        free(gl[i].b);
    }
}

void kt_version_fini(struct kt_version *v)
{
    kf_buf_fini(&v->blob);
    kf_buf_fini(&v->manifest);
    kf_buf_fini(&v->sig);
    manifest_free(v->m);
    memset(v, 0, sizeof(*v));
}

void kt_version_bad_sig(struct kt_version *v, const struct crypto_ed25519_key *key)
{
    kf_buf other;
    kf_buf_init(&other);
    if (kf_buf_append(&other, v->manifest.ptr, v->manifest.len) || kf_buf_append(&other, " ", 1))
        FIX_FAIL("out of memory");
    kf_buf_reset(&v->sig);
    if (manifest_sig_encode(key, other.ptr, other.len, &v->sig))
        FIX_FAIL("manifest_sig_encode");
    kf_buf_fini(&other);
}

uint64_t kt_version_publish(objstore *os, const struct kt_version *v)
{
    char err[512], key[CTL_KEY_CAP + 16];
    uint64_t uploaded = 0;
    for (size_t i = 0; i < v->m->n_chunks; i++) {
        const struct manifest_chunk *c = &v->m->chunks[i];
        snprintf(key, sizeof(key), "blobs/sha256/%s", c->sha256);
        if (!objstore_head(os, key, NULL, err, sizeof(err)))
            continue;
        if (objstore_put(os, key, v->blob.ptr + c->offset, (size_t)c->size, err, sizeof(err)))
            FIX_FAIL("put %s: %s", key, err);
        uploaded += c->size;
    }
    if (objstore_put(os, v->ref.key, v->manifest.ptr, v->manifest.len, err, sizeof(err)))
        FIX_FAIL("put %s: %s", v->ref.key, err);
    snprintf(key, sizeof(key), "models/%s/%s/manifest.sig", v->model, v->version);
    if (objstore_put(os, key, v->sig.ptr, v->sig.len, err, sizeof(err)))
        FIX_FAIL("put %s: %s", key, err);
    return uploaded;
}

void kt_tamper_chunk(objstore *os, const struct kt_version *v, size_t i)
{
    const struct manifest_chunk *c = &v->m->chunks[i];
    uint8_t *bad = malloc((size_t)c->size);
    if (!bad)
        FIX_FAIL("out of memory");
    memcpy(bad, v->blob.ptr + c->offset, (size_t)c->size);
    bad[c->size / 2] ^= 0x40;
    char err[512], key[128];
    snprintf(key, sizeof(key), "blobs/sha256/%s", c->sha256);
    if (objstore_put(os, key, bad, (size_t)c->size, err, sizeof(err)))
        FIX_FAIL("put %s: %s", key, err);
    free(bad);
}

char *kt_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof(tmpl), "%s/kfleet-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    char *d = mkdtemp(tmpl);
    if (!d)
        FIX_FAIL("mkdtemp %s: %s", tmpl, strerror(errno));
    return strdup(d);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void kt_rmtree(const char *path)
{
    if (path)
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

struct store_version *kt_store_version(const struct kt_version *v)
{
    struct store_version *sv = calloc(1, sizeof(*sv));
    char err[512];
    if (!sv || manifest_parse(v->manifest.ptr, v->manifest.len, &sv->manifest, err, sizeof(err)))
        FIX_FAIL("kt_store_version");
    snprintf(sv->model, sizeof(sv->model), "%s", v->model);
    snprintf(sv->version, sizeof(sv->version), "%s", v->version);
    sv->seq = sv->manifest->seq;
    memcpy(sv->manifest_sha256, v->ref.sha256, sizeof(sv->manifest_sha256));
    sv->blob_size = v->blob.len;
    if (!(sv->blob = malloc(v->blob.len)))
        FIX_FAIL("out of memory");
    memcpy(sv->blob, v->blob.ptr, v->blob.len);
    return sv;
}
