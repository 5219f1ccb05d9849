/* The golden vectors in schema/vectors/ decode to their documented meaning
 * and re-encode byte for byte (issue 3, acceptance 1). Usage:
 * test_schema_vectors DIR. */
#include "schema/ctl_event.h"
#include "schema/ctl_sig.h"
#include "schema/fleet.h"
#include "schema/manifest.h"
#include "schema/req.h"
#include "schema/resp.h"
#include "schema/safet.h"

#include "tests/lib/kf_test.h"
#include "tests/schema/vectors_lib.h"

#include <math.h>

static const char *dir;
static crypto_keyring *kr;

static void load(const char *sub, const char *name, kf_buf *out)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
    kf_buf_reset(out);
    KT_ASSERT_MSG(vl_read(path, out) == 0, "cannot read %s", path);
}

static bool same(const kf_buf *a, const kf_buf *b)
{
    return a->len == b->len && !memcmp(a->ptr, b->ptr, a->len);
}

/* name.msgpack + name.json */
static void check_msgpack(const char *sub, bool request)
{
    size_t n;
    char **names;
    char d[1024];
    snprintf(d, sizeof(d), "%s/%s", dir, sub);
    names = vl_list(d, ".msgpack", &n);
    KT_ASSERT_MSG(n >= 2, "no vectors in %s", d);
    kf_buf bytes, meaning, json, again;
    kf_buf_init(&bytes);
    kf_buf_init(&meaning);
    kf_buf_init(&json);
    kf_buf_init(&again);
    for (size_t i = 0; i < n; i++) {
        char jname[256];
        snprintf(jname, sizeof(jname), "%.*s.json", (int)(strlen(names[i]) - 8), names[i]);
        load(sub, names[i], &bytes);
        load(sub, jname, &meaning);
        kf_buf_reset(&json);
        kf_buf_reset(&again);
        char err[256] = "";
        if (request) {
            struct req rq;
            KT_ASSERT_MSG(req_decode(bytes.ptr, bytes.len, NULL, &rq, err, sizeof(err)) == 0,
                          "%s: %s", names[i], err);
            KT_ASSERT_INT_EQ(req_to_json(&rq, &json), 0);
            KT_ASSERT_INT_EQ(req_encode(&rq, &again), 0);
        } else {
            struct resp rs;
            KT_ASSERT_MSG(resp_decode(bytes.ptr, bytes.len, &rs, err, sizeof(err)) == 0, "%s: %s",
                          names[i], err);
            KT_ASSERT_INT_EQ(resp_to_json(&rs, &json), 0);
            KT_ASSERT_INT_EQ(resp_encode(&rs, &again), 0);
        }
        KT_ASSERT_MSG(same(&json, &meaning), "%s/%s: decoded meaning differs from %s", sub,
                      names[i], jname);
        /* noncanonical-* show what decoders must accept; the rest are canonical */
        if (strncmp(names[i], "noncanonical-", 13))
            KT_ASSERT_MSG(same(&again, &bytes), "%s/%s: re-encoding differs", sub, names[i]);
        else
            KT_ASSERT_MSG(!same(&again, &bytes), "%s/%s is canonical after all", sub, names[i]);
        printf("  %s/%s ok\n", sub, names[i]);
    }
    kf_buf_fini(&bytes);
    kf_buf_fini(&meaning);
    kf_buf_fini(&json);
    kf_buf_fini(&again);
    vl_names_free(names, n);
}

static void test_requests(void)
{
    check_msgpack("request", true);
}

static void test_responses(void)
{
    check_msgpack("response", false);
}

static void test_control(void)
{
    char d[1024];
    snprintf(d, sizeof(d), "%s/control", dir);
    size_t n;
    char **names = vl_list(d, ".json", &n);
    KT_ASSERT_INT_EQ(n, CTL_TYPE_COUNT);
    kf_buf bytes, again, sig;
    kf_buf_init(&bytes);
    kf_buf_init(&again);
    kf_buf_init(&sig);
    bool seen[CTL_TYPE_COUNT] = {false};
    for (size_t i = 0; i < n; i++) {
        load("control", names[i], &bytes);
        struct ctl_event ev;
        char err[256] = "";
        KT_ASSERT_MSG(ctl_event_decode(bytes.ptr, bytes.len, &ev, err, sizeof(err)) == 0, "%s: %s",
                      names[i], err);
        /* the file is named after its type */
        char want[64];
        snprintf(want, sizeof(want), "%s.json", ctl_type2str(ev.type));
        KT_ASSERT_STR_EQ(names[i], want);
        seen[ev.type] = true;
        kf_buf_reset(&again);
        KT_ASSERT_INT_EQ(ctl_event_encode(&ev, &again, err, sizeof(err)), 0);
        KT_ASSERT_MSG(same(&again, &bytes), "%s: re-encoding differs", names[i]);
        if (ctl_type_needs_signature(ev.type)) {
            char sname[64];
            snprintf(sname, sizeof(sname), "%s.sig", ctl_type2str(ev.type));
            load("control", sname, &sig);
            KT_ASSERT_INT_EQ(ctl_sig_verify(sig.ptr, sig.len, bytes.ptr, bytes.len, kr, NULL),
                             CTL_SIG_OK);
        }
    }
    for (int t = 0; t < CTL_TYPE_COUNT; t++)
        KT_ASSERT_MSG(seen[t], "no vector for %s", ctl_type2str((enum ctl_type)t));
    kf_buf_fini(&bytes);
    kf_buf_fini(&again);
    kf_buf_fini(&sig);
    vl_names_free(names, n);
}

static void test_manifest_and_safetensors(void)
{
    kf_buf mj, sig, again, file, arch, rewritten;
    kf_buf_init(&mj);
    kf_buf_init(&sig);
    kf_buf_init(&again);
    kf_buf_init(&file);
    kf_buf_init(&arch);
    kf_buf_init(&rewritten);
    load("manifest", "tiny.json", &mj);
    load("manifest", "tiny.sig", &sig);
    load("manifest", "tiny.arch.json", &arch);
    load("safetensors", "tiny.safetensors", &file);
    struct manifest *m;
    char err[256] = "";
    KT_ASSERT_MSG(manifest_parse(mj.ptr, mj.len, &m, err, sizeof(err)) == 0, "%s", err);
    KT_ASSERT_INT_EQ(manifest_encode(m, &again, err, sizeof(err)), 0);
    KT_ASSERT_MSG(same(&again, &mj), "manifest: re-encoding differs");
    KT_ASSERT_INT_EQ(manifest_sig_verify(sig.ptr, sig.len, mj.ptr, mj.len, kr, NULL), CTL_SIG_OK);
    /* documented meaning: a 4 -> 3 relu -> 2 softmax MLP in f32 */
    KT_ASSERT_STR_EQ(m->model, "tiny");
    KT_ASSERT_INT_EQ(m->seq, 3);
    KT_ASSERT_INT_EQ(m->arch.n_layers, 2);
    KT_ASSERT(m->arch.input_width == 4 && m->arch.output_width == 2);
    KT_ASSERT(m->arch.layers[0].activation == ARCH_ACT_RELU && m->arch.layers[0].out_width == 3);
    KT_ASSERT(m->arch.output == ARCH_OUTPUT_SOFTMAX);
    KT_ASSERT_INT_EQ(m->golden.rows, 2);
    KT_ASSERT(m->golden.inputs[0] == 1.0f && m->golden.inputs[3] == 2.0f);
    KT_ASSERT(fabsf(m->golden.outputs[0] + m->golden.outputs[1] - 1.0f) < 1e-6f);

    /* the safetensors file is the source: its data section is the blob */
    struct safet_file *sf;
    KT_ASSERT_MSG(safet_parse(file.ptr, file.len, file.len, &sf, err, sizeof(err)) == 0, "%s", err);
    KT_ASSERT_INT_EQ(sf->data_size, m->blob_size);
    KT_ASSERT_INT_EQ(sf->n_tensors, m->n_tensors);
    for (size_t i = 0; i < sf->n_tensors; i++)
        KT_ASSERT(!memcmp(&sf->tensors[i], &m->tensors[i], sizeof(sf->tensors[i])));
    const char *aj = safet_meta_get(sf, SAFET_META_ARCH);
    KT_ASSERT(aj && strlen(aj) == arch.len && !memcmp(aj, arch.ptr, arch.len));
    for (size_t c = 0; c < m->n_chunks; c++) {
        char hex[65];
        crypto_sha256_hex(file.ptr + sf->data_offset + m->chunks[c].offset, m->chunks[c].size, hex);
        KT_ASSERT_STR_EQ(hex, m->chunks[c].sha256);
    }
    char hex[65];
    crypto_sha256_hex(file.ptr, file.len, hex);
    KT_ASSERT_STR_EQ(hex, m->source.sha256);
    /* and it re-writes byte for byte */
    struct safet_input in[8];
    KT_ASSERT(sf->n_tensors <= 8);
    for (size_t i = 0; i < sf->n_tensors; i++)
        in[i] = (struct safet_input){sf->tensors[i].name, sf->tensors[i].dtype, sf->tensors[i].ndim,
                                     sf->tensors[i].shape,
                                     safet_tensor_data(sf, i, file.ptr, file.len)};
    KT_ASSERT_INT_EQ(safet_write(&rewritten, in, sf->n_tensors, sf->meta, sf->n_meta), 0);
    KT_ASSERT_MSG(same(&rewritten, &file), "safetensors: re-writing differs");
    safet_file_free(sf);
    manifest_free(m);
    kf_buf_fini(&mj);
    kf_buf_fini(&sig);
    kf_buf_fini(&again);
    kf_buf_fini(&file);
    kf_buf_fini(&arch);
    kf_buf_fini(&rewritten);
}

static void test_fleet_logs(void)
{
    char d[1024];
    snprintf(d, sizeof(d), "%s/fleet", dir);
    size_t n;
    char **names = vl_list(d, ".log", &n);
    KT_ASSERT(n >= 3);
    kf_buf log, want, got;
    kf_buf_init(&log);
    kf_buf_init(&want);
    kf_buf_init(&got);
    for (size_t i = 0; i < n; i++) {
        char dname[256];
        snprintf(dname, sizeof(dname), "%.*s.dump.json", (int)(strlen(names[i]) - 4), names[i]);
        load("fleet", names[i], &log);
        load("fleet", dname, &want);
        size_t records;
        fleet_state *fs = vl_fold_log(log.ptr, log.len, &records);
        KT_ASSERT(records > 5);
        kf_buf_reset(&got);
        KT_ASSERT_INT_EQ(fleet_state_dump(fs, &got), 0);
        KT_ASSERT_MSG(same(&got, &want), "fleet/%s: state differs from %s", names[i], dname);
        fleet_state_free(fs);
        printf("  fleet/%s ok (%zu records)\n", names[i], records);
    }
    kf_buf_fini(&log);
    kf_buf_fini(&want);
    kf_buf_fini(&got);
    vl_names_free(names, n);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s VECTORS_DIR\n", argv[0]);
        return KF_TEST_HARD_ERROR;
    }
    dir = argv[1];
    char path[1024];
    snprintf(path, sizeof(path), "%s/keys/test.pub", dir);
    kr = crypto_keyring_new();
    char err[256];
    KT_ASSERT_MSG(crypto_keyring_load(kr, path, err, sizeof(err)) == 0, "%s", err);
    KT_RUN(test_requests);
    KT_RUN(test_responses);
    KT_RUN(test_control);
    KT_RUN(test_manifest_and_safetensors);
    KT_RUN(test_fleet_logs);
    crypto_keyring_free(kr);
    return 0;
}
