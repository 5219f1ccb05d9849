/* Writes schema/vectors/ (run from the build tree: `gen_vectors ../schema/vectors`).
 * The files are checked in; test_vectors verifies that they decode to their
 * documented meaning and re-encode byte for byte. Re-run only on purpose, when
 * the format changes, and say so in the commit. */
#include "schema/ctl_event.h"
#include "schema/ctl_sig.h"
#include "schema/fleet.h"
#include "schema/manifest.h"
#include "schema/req.h"
#include "schema/resp.h"
#include "schema/safet.h"

#include "tests/lib/kf_test.h"
#include "tests/schema/ctl_samples.h"
#include "tests/schema/vectors_lib.h"

#include <math.h>
#include <sys/stat.h>

static const char *dir;

static void put(const char *sub, const char *name, const void *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, sub);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
    KT_ASSERT_MSG(vl_write(path, data, len) == 0, "write %s", path);
    printf("wrote %s (%zu bytes)\n", path, len);
}

static void put_buf(const char *sub, const char *name, const kf_buf *b)
{
    put(sub, name, b->ptr, b->len);
}

static void request_vectors(void)
{
    static const float f6[6] = {1, 2, 3, 4, 5, 6.5f};
    static const uint16_t bf[4] = {0x3f80, 0x4000, 0xbf80, 0x0000}; /* 1, 2, -1, 0 */
    struct req basic = {
        .v = 1,
        .id = {(const uint8_t *)"req-0001", 8},
        .model = {(const uint8_t *)"mnist", 5},
        .inputs = {SCHEMA_DTYPE_F32, 2, 3, {(const uint8_t *)f6, sizeof(f6)}},
    };
    struct req full = {
        .v = 1,
        .id = {(const uint8_t *)"9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d", 36},
        .model = {(const uint8_t *)"mnist", 5},
        .version = {(const uint8_t *)"2026-01-02.1", 12},
        .has_deadline = true,
        .deadline_ms = 1767323045123,
        .reply_to = {(const uint8_t *)"client-7.replies", 16},
        .inputs = {SCHEMA_DTYPE_BF16, 1, 4, {(const uint8_t *)bf, sizeof(bf)}},
    };
    const struct {
        const char *name;
        const struct req *rq;
    } v[] = {{"basic", &basic}, {"full", &full}};
    for (size_t i = 0; i < 2; i++) {
        kf_buf b, j;
        kf_buf_init(&b);
        kf_buf_init(&j);
        KT_ASSERT_INT_EQ(req_encode(v[i].rq, &b), 0);
        KT_ASSERT_INT_EQ(req_to_json(v[i].rq, &j), 0);
        char name[64];
        snprintf(name, sizeof(name), "%s.msgpack", v[i].name);
        put_buf("request", name, &b);
        snprintf(name, sizeof(name), "%s.json", v[i].name);
        put_buf("request", name, &j);
        kf_buf_fini(&b);
        kf_buf_fini(&j);
    }
    /* What another msgpack library may write: map16, uint32/int64 integers,
     * str8 keys, bin32 data, an unknown key. Decode-only (not canonical). */
    static const uint8_t foreign[] = {
        0xde, 0x00, 0x05,                                                /* map16, 5 pairs */
        0xd9, 0x01, 'v',  0xd3, 0,    0,    0,    0,    0,    0,   0, 1, /* "v": int64 1 */
        0xd9, 0x02, 'i',  'd',  0xa2, 'r',  '2',                         /* "id": "r2" */
        0xd9, 0x05, 'm',  'o',  'd',  'e',  'l',  0xa1, 'm',             /* "model": "m" */
        0xa5, 'e',  'x',  't',  'r',  'a',  0x92, 0xc3, 0xc0,            /* "extra": [true, nil] */
        0xa6, 'i',  'n',  'p',  'u',  't',  's',  0x83,                  /* "inputs": {3} */
        0xa5, 'd',  't',  'y',  'p',  'e',  0xa3, 'f',  '3',  '2',       /* "dtype": "f32" */
        0xa5, 's',  'h',  'a',  'p',  'e',  0x92, 0xce, 0,    0,   0, 1,
        0xcd, 0,    2,                                           /* [u32 1, u16 2] */
        0xa4, 'd',  'a',  't',  'a',  0xc6, 0,    0,    0,    8, /* bin32, 8 bytes */
        0,    0,    0x80, 0x3f, 0,    0,    0,    0x40,          /* 1.0f, 2.0f */
    };
    put("request", "noncanonical-foreign.msgpack", foreign, sizeof(foreign));
    struct req rq;
    char err[256];
    KT_ASSERT_MSG(req_decode(foreign, sizeof(foreign), NULL, &rq, err, sizeof(err)) == 0, "%s",
                  err);
    kf_buf j;
    kf_buf_init(&j);
    KT_ASSERT_INT_EQ(req_to_json(&rq, &j), 0);
    put_buf("request", "noncanonical-foreign.json", &j);
    kf_buf_fini(&j);
}

static void response_vectors(void)
{
    static const float out[4] = {0.1f, 0.9f, 0.75f, 0.25f};
    struct resp ok = {
        .v = 1,
        .id = {(const uint8_t *)"req-0001", 8},
        .model = {(const uint8_t *)"mnist", 5},
        .version = {(const uint8_t *)"2026-01-02.1", 12},
        .status = RESP_OK,
        .rows = 2,
        .cols = 2,
        .outputs = {(const uint8_t *)out, sizeof(out)},
        .worker = {(const uint8_t *)"w-a1", 4},
        .has_timing = true,
        .queue_us = 840,
        .batch_rows = 32,
        .compute_us = 1210,
    };
    struct resp error = {
        .v = 1,
        .id = {(const uint8_t *)"req-0002", 8},
        .model = {(const uint8_t *)"mnist", 5},
        .version = {(const uint8_t *)"2026-01-02.1", 12},
        .status = RESP_ERROR,
        .err_code = {(const uint8_t *)"bad_shape", 9},
        .err_message = {(const uint8_t *)"inputs have 3 columns, the model takes 784", 42},
        .worker = {(const uint8_t *)"w-a1", 4},
        .has_timing = true,
    };
    struct resp expired = {
        .v = 1,
        .id = {(const uint8_t *)"req-0003", 8},
        .model = {(const uint8_t *)"mnist", 5},
        .status = RESP_EXPIRED,
        .err_code = {(const uint8_t *)"expired", 7},
        .err_message = {(const uint8_t *)"deadline 1767323045123 passed", 29},
        .worker = {(const uint8_t *)"w-a1", 4},
    };
    const struct {
        const char *name;
        const struct resp *rs;
    } v[] = {{"ok", &ok}, {"error", &error}, {"expired", &expired}};
    for (size_t i = 0; i < 3; i++) {
        kf_buf b, j;
        kf_buf_init(&b);
        kf_buf_init(&j);
        KT_ASSERT_INT_EQ(resp_encode(v[i].rs, &b), 0);
        KT_ASSERT_INT_EQ(resp_to_json(v[i].rs, &j), 0);
        char name[64];
        snprintf(name, sizeof(name), "%s.msgpack", v[i].name);
        put_buf("response", name, &b);
        snprintf(name, sizeof(name), "%s.json", v[i].name);
        put_buf("response", name, &j);
        kf_buf_fini(&b);
        kf_buf_fini(&j);
    }
}

static void control_vectors(const struct crypto_ed25519_key *key)
{
    for (int t = 0; t < CTL_TYPE_COUNT; t++) {
        struct ctl_event ev;
        ctl_sample(&ev, (enum ctl_type)t);
        kf_buf b;
        kf_buf_init(&b);
        char err[256];
        KT_ASSERT_MSG(ctl_event_encode(&ev, &b, err, sizeof(err)) == 0, "%s", err);
        char name[64];
        snprintf(name, sizeof(name), "%s.json", ctl_type2str((enum ctl_type)t));
        put_buf("control", name, &b);
        if (ctl_type_needs_signature((enum ctl_type)t)) {
            kf_buf h;
            kf_buf_init(&h);
            KT_ASSERT_INT_EQ(ctl_sig_sign(key, b.ptr, b.len, &h), 0);
            snprintf(name, sizeof(name), "%s.sig", ctl_type2str((enum ctl_type)t));
            put_buf("control", name, &h);
            kf_buf_fini(&h);
        }
        kf_buf_fini(&b);
    }
    char line[256], b64[64];
    crypto_base64_encode(key->pub, 32, b64);
    int n = snprintf(line, sizeof(line), "kfleet-ed25519-public %s %s\n", key->key_id, b64);
    put("keys", "test.pub", line, (size_t)n);
}

/* The tiny MLP of the manifest vector: 4 -> 3 (relu) -> 2, softmax. */
static float w0[12], b0[3], w1[6], b1[2];

static void forward(const float *x, float *y)
{
    float h[3];
    for (int o = 0; o < 3; o++) {
        float s = b0[o];
        for (int i = 0; i < 4; i++)
            s += x[i] * w0[o * 4 + i];
        h[o] = s > 0 ? s : 0;
    }
    float z[2], mx = -INFINITY, sum = 0;
    for (int o = 0; o < 2; o++) {
        z[o] = b1[o];
        for (int i = 0; i < 3; i++)
            z[o] += h[i] * w1[o * 3 + i];
        mx = z[o] > mx ? z[o] : mx;
    }
    for (int o = 0; o < 2; o++)
        sum += (z[o] = expf(z[o] - mx));
    for (int o = 0; o < 2; o++)
        y[o] = z[o] / sum;
}

static void model_vectors(const struct crypto_ed25519_key *key)
{
    for (int i = 0; i < 12; i++)
        w0[i] = (float)((i % 5) - 2) * 0.25f;
    for (int i = 0; i < 3; i++)
        b0[i] = 0.125f * (float)i;
    for (int i = 0; i < 6; i++)
        w1[i] = (float)((i % 3) - 1) * 0.5f;
    b1[0] = 0.25f, b1[1] = -0.25f;
    const char *arch_json =
        "{\"kind\":\"mlp\",\"input_width\":4,\"layers\":["
        "{\"weight\":\"0.weight\",\"bias\":\"0.bias\",\"activation\":\"relu\"},"
        "{\"weight\":\"2.weight\",\"bias\":\"2.bias\",\"activation\":\"none\"}],"
        "\"output\":\"softmax\"}";
    put("manifest", "tiny.arch.json", arch_json, strlen(arch_json));
    uint64_t s_w0[2] = {3, 4}, s_b0[1] = {3}, s_w1[2] = {2, 3}, s_b1[1] = {2};
    struct safet_input in[4] = {
        {"0.weight", SCHEMA_DTYPE_F32, 2, s_w0, w0},
        {"0.bias", SCHEMA_DTYPE_F32, 1, s_b0, b0},
        {"2.weight", SCHEMA_DTYPE_F32, 2, s_w1, w1},
        {"2.bias", SCHEMA_DTYPE_F32, 1, s_b1, b1},
    };
    struct safet_meta meta[2] = {{(char *)SAFET_META_ARCH, (char *)arch_json},
                                 {(char *)"format", (char *)"pt"}};
    kf_buf file;
    kf_buf_init(&file);
    KT_ASSERT_INT_EQ(safet_write(&file, in, 4, meta, 2), 0);
    put_buf("safetensors", "tiny.safetensors", &file);

    /* what the publisher does: safetensors -> manifest */
    struct safet_file *sf;
    char err[256] = "";
    KT_ASSERT_MSG(safet_parse(file.ptr, file.len, file.len, &sf, err, sizeof(err)) == 0, "%s", err);
    struct arch_desc arch;
    const char *aj = safet_meta_get(sf, SAFET_META_ARCH);
    KT_ASSERT(aj);
    KT_ASSERT_INT_EQ(arch_parse((const uint8_t *)aj, strlen(aj), &arch, err, sizeof(err)), 0);
    enum schema_dtype dt;
    KT_ASSERT_MSG(arch_bind(&arch, sf->tensors, sf->n_tensors, &dt, err, sizeof(err)) == 0, "%s",
                  err);
    struct manifest *m = manifest_new();
    strcpy(m->model, "tiny");
    strcpy(m->version, "2026-01-02.1");
    m->seq = 3;
    strcpy(m->created_at, "2026-01-02T03:04:05Z");
    m->dtype = dt;
    KT_ASSERT_INT_EQ(manifest_set_arch(m, &arch), 0);
    KT_ASSERT_INT_EQ(manifest_set_tensors(m, sf->tensors, sf->n_tensors), 0);
    const uint8_t *blob = file.ptr + sf->data_offset;
    for (uint64_t off = 0; off < sf->data_size; off += 64) {
        uint64_t n = sf->data_size - off < 64 ? sf->data_size - off : 64;
        char hex[65];
        KT_ASSERT_INT_EQ(crypto_sha256_hex(blob + off, n, hex), 0);
        KT_ASSERT_INT_EQ(manifest_add_chunk(m, hex, n), 0);
    }
    strcpy(m->source.name, "tiny.safetensors");
    m->source.size = file.len;
    KT_ASSERT_INT_EQ(crypto_sha256_hex(file.ptr, file.len, m->source.sha256), 0);
    float gx[8] = {1, 0.5f, -1, 2, 0, 0, 0, 0}, gy[4];
    forward(gx, gy);
    forward(gx + 4, gy + 2);
    KT_ASSERT_INT_EQ(manifest_set_golden(m, 2, gx, gy, 1e-5, 1e-4), 0);
    kf_buf mj, sig;
    kf_buf_init(&mj);
    kf_buf_init(&sig);
    KT_ASSERT_MSG(manifest_encode(m, &mj, err, sizeof(err)) == 0, "%s", err);
    put_buf("manifest", "tiny.json", &mj);
    KT_ASSERT_INT_EQ(manifest_sig_encode(key, mj.ptr, mj.len, &sig), 0);
    put_buf("manifest", "tiny.sig", &sig);
    kf_buf_fini(&mj);
    kf_buf_fini(&sig);
    kf_buf_fini(&file);
    manifest_free(m);
    arch_desc_fini(&arch);
    safet_file_free(sf);
}

/* ---- fleet scenario logs: "<verdict> <ts_ms> <json>" per line ---- */

static kf_buf logbuf;
static int64_t log_ts;
static int log_n;

static void L(enum ctl_sig_verdict sig, struct ctl_event *ev)
{
    snprintf(ev->event_id, sizeof(ev->event_id), "e%04d", ++log_n);
    kf_buf_appendf(&logbuf, "%d %lld ", (int)sig, (long long)log_ts);
    char err[256];
    KT_ASSERT_MSG(ctl_event_encode(ev, &logbuf, err, sizeof(err)) == 0, "%s", err);
    kf_buf_append(&logbuf, "\n", 1);
    log_ts += 1000;
}

static void pub(const char *v, uint64_t seq, enum ctl_strategy_kind kind)
{
    struct ctl_event ev;
    ctl_sample(&ev, CTL_MODEL_PUBLISHED);
    strcpy(ev.version, v);
    ev.seq = seq;
    ev.strategy.kind = kind;
    ev.strategy.canary_workers = 1;
    ev.strategy.max_unavailable = 1;
    ev.strategy.health_s = 0; /* these logs show the rules without health windows */
    snprintf(ev.manifest.key, sizeof(ev.manifest.key), "models/mnist/%s/manifest.json", v);
    L(CTL_SIG_OK, &ev);
}

static void wev(enum ctl_type t, const char *w, const char *v, const char *claim)
{
    struct ctl_event ev;
    ctl_sample(&ev, t);
    strcpy(ev.worker, w);
    if (t == CTL_WORKER_JOINED) {
        ev.n_models = 1;
        strcpy(ev.models[0].version, v);
    } else {
        strcpy(ev.version, v);
    }
    strcpy(ev.claim_id, claim ? claim : "");
    if (t == CTL_ROLLOUT_EXPIRE)
        strcpy(ev.claim_id, claim);
    L(CTL_SIG_UNSIGNED, &ev);
}

static void end_log(const char *name)
{
    char fn[64];
    snprintf(fn, sizeof(fn), "%s.log", name);
    put_buf("fleet", fn, &logbuf);
    size_t n;
    fleet_state *fs = vl_fold_log(logbuf.ptr, logbuf.len, &n);
    kf_buf d;
    kf_buf_init(&d);
    KT_ASSERT_INT_EQ(fleet_state_dump(fs, &d), 0);
    snprintf(fn, sizeof(fn), "%s.dump.json", name);
    put_buf("fleet", fn, &d);
    kf_buf_fini(&d);
    fleet_state_free(fs);
    kf_buf_reset(&logbuf);
    log_ts = 1767323045000;
    log_n = 0;
}

static void fleet_vectors(void)
{
    kf_buf_init(&logbuf);
    log_ts = 1767323045000;
    const char *v1 = "2026-01-01.3", *v2 = "2026-01-02.1";

    /* rolling: two workers, one slot, ends complete */
    pub(v1, 1, CTL_STRATEGY_ROLLING);
    wev(CTL_WORKER_JOINED, "w-a1", v1, NULL);
    wev(CTL_WORKER_JOINED, "w-b2", v1, NULL);
    pub(v2, 2, CTL_STRATEGY_ROLLING);
    wev(CTL_ROLLOUT_CLAIM, "w-a1", v2, "c1");
    wev(CTL_ROLLOUT_CLAIM, "w-b2", v2, "c2"); /* refused: max_unavailable 1 */
    wev(CTL_ROLLOUT_DONE, "w-a1", v2, "c1");
    wev(CTL_ROLLOUT_CLAIM, "w-b2", v2, "c3");
    wev(CTL_ROLLOUT_DONE, "w-b2", v2, "c3");
    end_log("rolling");

    /* canary, then a failure rolls back */
    pub(v1, 1, CTL_STRATEGY_ROLLING);
    wev(CTL_WORKER_JOINED, "w-a1", v1, NULL);
    wev(CTL_WORKER_JOINED, "w-b2", v1, NULL);
    pub(v2, 2, CTL_STRATEGY_CANARY);
    wev(CTL_ROLLOUT_CLAIM, "w-a1", v2, "c1");
    wev(CTL_ROLLOUT_DONE, "w-a1", v2, "c1");
    wev(CTL_ROLLOUT_HEALTHY, "w-a1", v2, NULL);
    wev(CTL_ROLLOUT_CLAIM, "w-b2", v2, "c2");
    wev(CTL_ROLLOUT_FAILED, "w-b2", v2, "c2");
    wev(CTL_ROLLOUT_CLAIM, "w-a1", v1, "c3");
    wev(CTL_ROLLOUT_DONE, "w-a1", v1, "c3");
    end_log("canary-rollback");

    /* blue/green with an unsigned replay and an expired claim */
    pub(v1, 1, CTL_STRATEGY_ROLLING);
    wev(CTL_WORKER_JOINED, "w-a1", v1, NULL);
    wev(CTL_WORKER_JOINED, "w-b2", v1, NULL);
    pub(v2, 2, CTL_STRATEGY_BLUEGREEN);
    wev(CTL_ROLLOUT_STAGED, "w-a1", v2, NULL);
    wev(CTL_ROLLOUT_STAGED, "w-b2", v2, NULL);
    struct ctl_event ev;
    ctl_sample(&ev, CTL_ROLLOUT_CUTOVER);
    strcpy(ev.version, v2);
    L(CTL_SIG_UNSIGNED, &ev);
    ctl_sample(&ev, CTL_MODEL_PUBLISHED); /* replay of seq 1: refused */
    strcpy(ev.version, "2025-12-31.9");
    ev.seq = 1;
    L(CTL_SIG_OK, &ev);
    end_log("bluegreen");
    kf_buf_fini(&logbuf);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_vectors DIR\n");
        return 2;
    }
    dir = argv[1];
    mkdir(dir, 0755);
    struct crypto_ed25519_key key;
    vl_test_key(&key);
    request_vectors();
    response_vectors();
    control_vectors(&key);
    model_vectors(&key);
    fleet_vectors();
    return 0;
}
