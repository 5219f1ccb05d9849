/* publish-model against the devstack's real Kafka and S3Proxy (issue 5).
 * Each scenario runs in its own control topic with its own model name:
 *
 *   readback   (1) a pushed version reads back: the manifest hashes to the
 *              announced sha256, manifest.sig and the event's kfleet-sig verify
 *              with the public key, every chunk hashes to its digest and the
 *              chunks are the file's data section, the golden vectors are
 *              there and reproduce (a naive forward pass, schema's checker, the
 *              reference backend); `verify` and `ls` agree
 *   dedup      (2) one changed tensor of a multi-chunk model: only the changed
 *              chunks are PUT (counted on the store client and against digests
 *              the test computes itself), and the binary's summary says so
 *   refuse     (3) truncated / malformed safetensors, a mismatched or malformed
 *              architecture, no architecture, missing / public / untrusted key,
 *              S3 or the broker unreachable, an existing version: exit 1, a
 *              clear message, no manifest, no event (and no chunk when the
 *              broker is down)
 *   interrupt  (4) a push SIGKILLed after 5 chunk PUTs leaves no visible
 *              version; a re-run completes it and skips those 5; a push stopped
 *              between manifest and announcement is completed by a re-run of
 *              the same weights, and refused for other weights
 *   ops        (5) pause, resume, abort, rollback, promote are signed events the
 *              reducer applies (folded here independently); dry runs and
 *              commands the fleet would not apply send nothing; one signed by an
 *              untrusted key and one unsigned are reported by `verify`
 *   repair     (issue 14) other bytes of the right size planted under a new
 *              version's chunk keys: push proves content before skipping a
 *              chunk (MD5 ETag, or a read-back with chunk.check=read), finds
 *              them out, uploads over them and says so; `verify` passes
 *   forged     (issue 14) an unsigned model.published with seq INT64_MAX and one
 *              signed by a stranger's key do not block `push` of the model
 *              (its fold requires signatures: trusted_keys, else its own key)
 *              and push names the stranger's key; `ls` without any key says
 *              the signatures were not checked and shows "unverified"
 *   faults     the test hooks for workers' tests: a tampered chunk, skewed
 *              golden outputs, a manifest signed by another key, an unsigned
 *              announcement — each caught by pub_verify_version / the reducer
 *
 *   it_pub PUBLISH_MODEL SCENARIO */
#include "common/kf_clock.h"
#include "common/kf_err.h"
#include "publisher/pub_chunk.h"
#include "publisher/pub_control.h"
#include "publisher/pub_golden.h"
#include "publisher/pub_ops.h"
#include "publisher/pub_push.h"
#if KFLEET_TEST_HOOKS
#include "publisher/pub_test_hooks.h"
#endif
#include "schema/fleet.h"
#include "schema/manifest.h"
#include "schema/safet.h"
#include "tests/lib/kt_proc.h"
#include "tests/publisher/kt_model.h"
#include "tests/publisher/kt_pub.h"

#include <inttypes.h>
#include <math.h>

static struct kt_pub T;
static char out[65536], err[65536];

static uint64_t fresh_seed(void)
{
    return (uint64_t)kf_clock_wall_ms() * 2654435761u ^ (uint64_t)getpid();
}

static void path_in(char *p, size_t size, const char *name)
{
    snprintf(p, size, "%s/%s", T.dir, name);
}

/* Digests of the file's data section in chunk_size slices, computed here. */
static size_t file_chunks(const char *path, uint64_t chunk_size, char (*hex)[65], size_t max)
{
    size_t len;
    uint8_t *f = kt_read_file(path, &len);
    struct safet_file *sf;
    char e[256];
    KT_ASSERT_MSG(!safet_parse(f, len, len, &sf, e, sizeof(e)), "%s", e);
    size_t n = 0;
    for (uint64_t off = 0; off < sf->data_size; off += chunk_size) {
        KT_ASSERT(n < max);
        uint64_t sz = sf->data_size - off < chunk_size ? sf->data_size - off : chunk_size;
        crypto_sha256_hex(f + sf->data_offset + off, sz, hex[n++]);
    }
    safet_file_free(sf);
    free(f);
    return n;
}

static bool blob_exists(const char *hex)
{
    char key[PUB_CHUNK_KEY_LEN], e[256];
    pub_chunk_key(hex, key);
    int rc = objstore_head(T.os, key, NULL, e, sizeof(e));
    KT_ASSERT_MSG(rc == 0 || rc == -ENOENT, "HEAD %s: %s", key, e);
    return rc == 0;
}

static int64_t parse_offset(const char *summary)
{
    const char *p = strstr(summary, " offset ");
    KT_ASSERT_MSG(p, "no offset in the summary: %s", summary);
    return strtoll(p + 8, NULL, 10);
}

struct counts {
    unsigned total, uploaded, present, puts, heads;
};

static struct counts parse_counts(const char *summary)
{
    struct counts c = {0};
    const char *p = strstr(summary, "chunks:");
    KT_ASSERT_MSG(p && sscanf(p,
                              "chunks: %u total (%*[^)]), %u uploaded (%*[^)]), %u already "
                              "present",
                              &c.total, &c.uploaded, &c.present) == 3,
                  "summary: %s", summary);
    p = strstr(summary, "requests:");
    KT_ASSERT(p && sscanf(p, "requests: %u PUT, %u HEAD", &c.puts, &c.heads) == 2);
    return c;
}

static int push_bin(const char *tag, const char *version, const char *weights,
                    const char *const *extra)
{
    const char *args[48] = {"push",      "--model", T.model, "--version", version,
                            "--weights", weights,   "--key", T.key,       "--no-progress"};
    int n = 10;
    for (int i = 0; extra && extra[i]; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    return kt_pub_run(&T, tag, args, out, sizeof(out), err, sizeof(err));
}

static const struct kt_record *record_at(const struct kt_record *r, size_t n, int64_t offset)
{
    for (size_t i = 0; i < n; i++)
        if (r[i].offset == offset)
            return &r[i];
    return NULL;
}

/* ------------------------------------------------------------------ (1) */

static void scenario_readback(void)
{
    struct kt_model_spec s = {.input_width = 48,
                              .n_layers = 3,
                              .widths = {96, 64, 10},
                              .dtype = SCHEMA_DTYPE_F32,
                              .seed = fresh_seed(),
                              .softmax = true};
    char w[600];
    path_in(w, sizeof(w), "w1.safetensors");
    kt_model_write(w, &s);
    const char *cs[] = {"--chunk-size", "4K", NULL};
    int rc = push_bin("push-v1", "v1", w, cs);
    KT_ASSERT_MSG(rc == 0, "push: exit %d: %s", rc, err);
    int64_t offset = parse_offset(out);
    struct counts c = parse_counts(out);
    KT_ASSERT(c.total > 4 && c.uploaded == c.total && c.puts == c.total + 2);

    /* the event, read independently, signature checked with the public key */
    struct kt_record *recs;
    size_t n = kt_pub_read_log(&T, T.pub, &recs);
    const struct kt_record *r = record_at(recs, n, offset);
    KT_ASSERT_MSG(r && r->decoded, "no decodable event at offset %" PRId64, offset);
    const struct ctl_event *ev = &r->ev;
    KT_ASSERT_INT_EQ(ev->type, CTL_MODEL_PUBLISHED);
    KT_ASSERT_STR_EQ(ev->model, T.model);
    KT_ASSERT_STR_EQ(ev->version, "v1");
    KT_ASSERT_INT_EQ(ev->seq, 1);
    KT_ASSERT_INT_EQ(r->sig, CTL_SIG_OK);
    KT_ASSERT_STR_EQ(ev->manifest.bucket, kt_service_env("KFLEET_S3_BUCKET"));
    KT_ASSERT_INT_EQ(ev->strategy.kind, CTL_STRATEGY_ROLLING);

    /* the manifest hashes to the announced sha256 (and a changed byte would not) */
    kf_buf mb, sb;
    kf_buf_init(&mb);
    kf_buf_init(&sb);
    char e[512], hex[65];
    KT_ASSERT_MSG(!objstore_get(T.os, ev->manifest.key, &mb, 0, e, sizeof(e)), "%s", e);
    crypto_sha256_hex(mb.ptr, mb.len, hex);
    KT_ASSERT_STR_EQ(hex, ev->manifest.sha256);
    KT_ASSERT_INT_EQ(mb.len, ev->manifest.size);
    mb.ptr[mb.len / 2] ^= 1;
    crypto_sha256_hex(mb.ptr, mb.len, hex);
    KT_ASSERT(strcmp(hex, ev->manifest.sha256));
    mb.ptr[mb.len / 2] ^= 1;

    /* manifest.sig verifies with the public key, not with another, not over other bytes */
    char sigkey[400];
    snprintf(sigkey, sizeof(sigkey), "models/%s/v1/manifest.sig", T.model);
    KT_ASSERT_MSG(!objstore_get(T.os, sigkey, &sb, 0, e, sizeof(e)), "%s", e);
    crypto_keyring *kr = crypto_keyring_new();
    KT_ASSERT(!crypto_keyring_load(kr, T.pub, e, sizeof(e)));
    KT_ASSERT_INT_EQ(manifest_sig_verify(sb.ptr, sb.len, mb.ptr, mb.len, kr, NULL), CTL_SIG_OK);
    char okey[600], opub[600];
    kt_pub_keygen(&T, "other", okey, opub, sizeof(okey));
    crypto_keyring *kr2 = crypto_keyring_new();
    KT_ASSERT(!crypto_keyring_load(kr2, opub, e, sizeof(e)));
    KT_ASSERT_INT_EQ(manifest_sig_verify(sb.ptr, sb.len, mb.ptr, mb.len, kr2, NULL),
                     CTL_SIG_UNKNOWN_KEY);
    mb.ptr[mb.len / 2] ^= 1;
    KT_ASSERT_INT_EQ(manifest_sig_verify(sb.ptr, sb.len, mb.ptr, mb.len, kr, NULL),
                     CTL_SIG_BAD_SIGNATURE);
    mb.ptr[mb.len / 2] ^= 1;

    /* every chunk hashes to its digest; together they are the file's data section */
    struct manifest *m;
    KT_ASSERT_MSG(!manifest_parse(mb.ptr, mb.len, &m, e, sizeof(e)), "%s", e);
    KT_ASSERT_STR_EQ(m->model, T.model);
    KT_ASSERT_INT_EQ(m->seq, 1);
    KT_ASSERT_INT_EQ(m->n_chunks, c.total);
    kf_buf blob;
    kf_buf_init(&blob);
    for (size_t i = 0; i < m->n_chunks; i++) {
        char key[PUB_CHUNK_KEY_LEN];
        pub_chunk_key(m->chunks[i].sha256, key);
        size_t before = blob.len;
        KT_ASSERT_MSG(!objstore_get(T.os, key, &blob, 0, e, sizeof(e)), "%s", e);
        KT_ASSERT(blob.len - before == m->chunks[i].size && m->chunks[i].size <= 4096);
        crypto_sha256_hex(blob.ptr + before, blob.len - before, hex);
        KT_ASSERT_STR_EQ(hex, m->chunks[i].sha256);
    }
    size_t flen;
    uint8_t *file = kt_read_file(w, &flen);
    struct safet_file *sf;
    KT_ASSERT(!safet_parse(file, flen, flen, &sf, e, sizeof(e)));
    KT_ASSERT(blob.len == sf->data_size && !memcmp(blob.ptr, file + sf->data_offset, blob.len));
    crypto_sha256_hex(file, flen, hex);
    KT_ASSERT_STR_EQ(m->source.sha256, hex);

    /* golden vectors: present, and they reproduce — against a naive forward pass
     * of the file, under schema's checker, and on the reference backend */
    const struct manifest_golden *g = &m->golden;
    KT_ASSERT(g->rows >= 1 && g->n_inputs == g->rows * 48 && g->n_outputs == g->rows * 10);
    float *naive = malloc(g->n_outputs * sizeof(float));
    kt_model_forward(w, &s, g->inputs, (uint32_t)g->rows, naive);
    for (size_t i = 0; i < g->n_outputs; i++)
        KT_ASSERT_MSG(fabs((double)naive[i] - (double)g->outputs[i]) <=
                          g->atol + g->rtol * fabs((double)g->outputs[i]),
                      "golden output %zu: naive %g, manifest %g", i, (double)naive[i],
                      (double)g->outputs[i]);
    size_t bad;
    KT_ASSERT_INT_EQ(manifest_golden_check(m, naive, g->n_outputs, &bad), 0);
    naive[3] += 0.25f;
    KT_ASSERT_INT_EQ(manifest_golden_check(m, naive, g->n_outputs, &bad), -EBADMSG);
    KT_ASSERT_INT_EQ(bad, 3);
    KT_ASSERT_MSG(!pub_golden_reproduce(m, blob.ptr, blob.len, &bad, e, sizeof(e)), "%s", e);

    /* the CLI's read-back and listing say the same */
    const char *va[] = {"verify", "--model", T.model, "--version", "v1", "--pub", T.pub, NULL};
    rc = kt_pub_run(&T, "verify", va, out, sizeof(out), err, sizeof(err));
    KT_ASSERT_MSG(rc == 0 && !strstr(out, "FAIL"), "verify: exit %d\n%s%s", rc, out, err);
    KT_ASSERT(strstr(out, "ok   chunks:") && strstr(out, "ok   golden vectors"));
    const char *la[] = {"ls", "--model", T.model, "--pub", T.pub, NULL};
    rc = kt_pub_run(&T, "ls", la, out, sizeof(out), err, sizeof(err));
    KT_ASSERT_MSG(rc == 0 && strstr(out, "target (rolling)"), "ls: exit %d\n%s%s", rc, out, err);

    printf("readback: manifest sha256 == announced, manifest.sig and kfleet-sig verify, %zu "
           "chunks hash to their digests and are the data section, %" PRIu64
           " golden rows reproduce\n",
           m->n_chunks, g->rows);
    free(naive);
    safet_file_free(sf);
    free(file);
    kf_buf_fini(&blob);
    manifest_free(m);
    crypto_keyring_free(kr);
    crypto_keyring_free(kr2);
    kf_buf_fini(&mb);
    kf_buf_fini(&sb);
    free(recs);
}

/* ------------------------------------------------------------------ (2) */

/* Chunks of @p w that the store does not have yet, by the test's own digests. */
static unsigned expected_new(const char (*have)[65], size_t n_have, const char (*want)[65],
                             size_t n_want)
{
    unsigned k = 0;
    for (size_t i = 0; i < n_want; i++) {
        bool seen = false;
        for (size_t j = 0; j < n_have && !seen; j++)
            seen = !strcmp(have[j], want[i]);
        for (size_t j = 0; j < i && !seen; j++)
            seen = !strcmp(want[j], want[i]);
        k += !seen;
    }
    return k;
}

static void scenario_dedup(void)
{
    struct kt_model_spec s = {.input_width = 64,
                              .n_layers = 3,
                              .widths = {256, 64, 10},
                              .dtype = SCHEMA_DTYPE_F32,
                              .seed = fresh_seed()};
    char w1[600], w2[600], w3[600], e[1024];
    path_in(w1, sizeof(w1), "w1.safetensors");
    kt_model_write(w1, &s);
    s.tweak_seed = 77; /* the last layer's bias changes; nothing else */
    path_in(w2, sizeof(w2), "w2.safetensors");
    kt_model_write(w2, &s);
    s.tweak_seed = 78;
    path_in(w3, sizeof(w3), "w3.safetensors");
    kt_model_write(w3, &s);
    static char h1[256][65], h2[256][65], h3[256][65];
    size_t n1 = file_chunks(w1, 4096, h1, 256), n2 = file_chunks(w2, 4096, h2, 256),
           n3 = file_chunks(w3, 4096, h3, 256);
    KT_ASSERT(n1 == n2 && n2 == n3 && n1 > 20);
    unsigned new2 = expected_new(h1, n1, h2, n2);
    KT_ASSERT_MSG(new2 >= 1 && new2 <= 2, "the tweak touches %u chunks", new2);

    struct pub_push_opts o = {
        .model = T.model, .version = "v1", .weights_path = w1, .chunk_size = 4096};
    ctl_strategy_default(&o.strategy);
    struct pub_push_result res;
    struct objstore_counts c0, c1;
    KT_ASSERT(!pub_store(&T.pc, e, sizeof(e)));
    objstore_counts(T.pc.os, &c0);
    KT_ASSERT_MSG(!pub_push(&T.pc, &o, &res, e, sizeof(e)), "%s", e);
    objstore_counts(T.pc.os, &c1);
    KT_ASSERT_INT_EQ(res.up.chunks, n1);
    KT_ASSERT_INT_EQ(res.up.chunks_uploaded, expected_new(NULL, 0, h1, n1));
    KT_ASSERT_INT_EQ(c1.puts - c0.puts, res.up.chunks_uploaded + 2);

    o.version = "v2";
    o.weights_path = w2;
    c0 = c1;
    KT_ASSERT_MSG(!pub_push(&T.pc, &o, &res, e, sizeof(e)), "%s", e);
    objstore_counts(T.pc.os, &c1);
    /* counted on the store client: the changed chunks, the manifest, its signature */
    KT_ASSERT_MSG(c1.puts - c0.puts == new2 + 2, "%" PRIu64 " PUTs for %u changed chunks",
                  c1.puts - c0.puts, new2);
    KT_ASSERT_INT_EQ(res.up.chunks_uploaded, new2);
    KT_ASSERT_INT_EQ(res.up.chunks_present, n2 - new2);
    KT_ASSERT_INT_EQ(res.put_requests, new2 + 2);
    KT_ASSERT_INT_EQ(res.seq, 2);
    KT_ASSERT_INT_EQ(res.verdict, FLEET_APPLIED);
    for (size_t i = 0; i < n2; i++)
        KT_ASSERT(blob_exists(h2[i]));

    /* the binary, and its summary: what v1 and v2 stored counts as present */
    static char h12[512][65];
    memcpy(h12, h1, n1 * sizeof(h1[0]));
    memcpy(h12 + n1, h2, n2 * sizeof(h2[0]));
    unsigned new3 = expected_new(h12, n1 + n2, h3, n3);
    KT_ASSERT(new3 >= 1 && new3 <= 2);
    const char *cs[] = {"--chunk-size", "4096", NULL};
    int rc = push_bin("push-v3", "v3", w3, cs);
    KT_ASSERT_MSG(rc == 0, "push v3: exit %d: %s", rc, err);
    struct counts c = parse_counts(out);
    KT_ASSERT_MSG(c.uploaded == new3 && c.present == n3 - new3 && c.puts == new3 + 2,
                  "summary says %u uploaded, %u present, %u PUT; expected %u changed\n%s",
                  c.uploaded, c.present, c.puts, new3, out);
    KT_ASSERT(strstr(out, "as seq 3"));
    printf("dedup: %zu chunks; v2 (one tensor changed) PUT %u chunks + manifest + signature; "
           "v3 via the binary: \"%u uploaded, %u already present\"\n",
           n1, new2, c.uploaded, c.present);
}

/* ------------------------------------------------------------ repair */

/* @p len bytes that are not the chunk's, planted under its key through S3
 * like anyone with write access to the bucket could; the store's ETag for
 * them is their MD5 (what push compares), not the chunk's. */
static void plant(const char *hex, size_t len, uint64_t seed)
{
    uint8_t *junk = malloc(len);
    for (size_t i = 0; i < len; i++) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        junk[i] = (uint8_t)(seed >> 56);
    }
    char key[PUB_CHUNK_KEY_LEN], e[512], etag[OBJSTORE_ETAG_CAP];
    pub_chunk_key(hex, key);
    KT_ASSERT_MSG(!objstore_put(T.os, key, junk, len, e, sizeof(e)), "plant %s: %s", key, e);
    struct pub_chunk *jc;
    size_t n;
    KT_ASSERT(!pub_chunk_hash(junk, len, len, 1, NULL, &jc, &n));
    uint64_t size;
    KT_ASSERT_MSG(!objstore_head_etag(T.os, key, &size, etag, e, sizeof(e)), "%s", e);
    KT_ASSERT_MSG(size == len && !strcmp(etag, jc[0].md5),
                  "the store's ETag of the planted object is \"%s\", its MD5 %s", etag, jc[0].md5);
    free(jc);
    free(junk);
}

static void expect_chunk_is(const char *hex, uint64_t size)
{
    char key[PUB_CHUNK_KEY_LEN], e[512], got[65];
    pub_chunk_key(hex, key);
    kf_buf b;
    kf_buf_init(&b);
    KT_ASSERT_MSG(!objstore_get(T.os, key, &b, 0, e, sizeof(e)), "%s", e);
    crypto_sha256_hex(b.ptr, b.len, got);
    KT_ASSERT_MSG(b.len == size && !strcmp(got, hex), "%s holds %zu bytes hashing to %s", key,
                  b.len, got);
    kf_buf_fini(&b);
}

static void expect_verify_ok(const char *version)
{
    const char *va[] = {"verify", "--model", T.model, "--version", version, "--pub", T.pub, NULL};
    int rc = kt_pub_run(&T, "verify", va, out, sizeof(out), err, sizeof(err));
    KT_ASSERT_MSG(rc == 0 && !strstr(out, "FAIL") && strstr(out, "ok   chunks:"),
                  "verify %s: exit %d\n%s%s", version, rc, out, err);
}

static void scenario_repair(void)
{
    struct kt_model_spec s = {.input_width = 40,
                              .n_layers = 3,
                              .widths = {128, 32, 6},
                              .dtype = SCHEMA_DTYPE_F32,
                              .seed = fresh_seed()};
    char w[600];
    path_in(w, sizeof(w), "w.safetensors");
    kt_model_write(w, &s);
    static char h[256][65];
    size_t n = file_chunks(w, 4096, h, 256);
    KT_ASSERT(n > 6);
    /* chunks 1 and 2 of a version never pushed: other bytes, the right size */
    plant(h[1], 4096, fresh_seed());
    plant(h[2], 4096, fresh_seed() + 1);
    const char *cs[] = {"--chunk-size", "4096", NULL};
    int rc = push_bin("push-v1", "v1", w, cs);
    KT_ASSERT_MSG(rc == 0, "push: exit %d: %s", rc, err);
    struct counts c = parse_counts(out);
    KT_ASSERT_MSG(c.uploaded == n && c.present == 0 && strstr(out, "repaired: 2 chunks"),
                  "push over 2 planted chunks of %zu:\n%s", n, out);
    KT_ASSERT_MSG(strstr(err, "other bytes under this chunk's key"), "no warning: %s", err);
    expect_chunk_is(h[1], 4096);
    expect_chunk_is(h[2], 4096);
    expect_verify_ok("v1");
    printf("repair: 2 planted chunks of the right size (ETag = their MD5): push says "
           "\"repaired: 2 chunks\", uploads %u of %zu, verify passes\n",
           c.uploaded, n);

    /* chunk.check=read: the same weights as v2, one chunk replaced meanwhile;
     * every chunk of the right size is read back and hashed */
    plant(h[3], 4096, fresh_seed() + 2);
    const char *rd[] = {"--chunk-size", "4096", "-X", "chunk.check=read", NULL};
    rc = push_bin("push-v2", "v2", w, rd);
    KT_ASSERT_MSG(rc == 0, "push v2: exit %d: %s", rc, err);
    c = parse_counts(out);
    unsigned read_back = 0;
    const char *p = strstr(out, "read back (");
    while (p && p > out && p[-1] == ' ')
        p--;
    while (p && p > out && p[-1] >= '0' && p[-1] <= '9')
        p--;
    KT_ASSERT_MSG(p && sscanf(p, "%u", &read_back) == 1, "no read-back count:\n%s", out);
    KT_ASSERT_MSG(c.uploaded == 1 && c.present == n - 1 && strstr(out, "repaired: 1 chunk (") &&
                      read_back >= n - 1,
                  "chunk.check=read over 1 planted chunk:\n%s", out);
    expect_chunk_is(h[3], 4096);
    expect_verify_ok("v2");
    printf("repair: chunk.check=read reads back %u chunks, repairs the planted one, verify "
           "passes\n",
           read_back);
}

/* ------------------------------------------------------------ forged */

/* A model.published of T.model naming @p version at @p seq, signed by
 * @p signer (NULL: unsigned), appended to the test's control topic. */
static int64_t forge(const char *version, uint64_t seq, const struct crypto_ed25519_key *signer)
{
    struct ctl_event ev;
    ctl_event_init(&ev, CTL_MODEL_PUBLISHED);
    pub_event_id(ev.event_id, "forged");
    snprintf(ev.model, sizeof(ev.model), "%s", T.model);
    snprintf(ev.version, sizeof(ev.version), "%s", version);
    ev.seq = seq;
    snprintf(ev.manifest.bucket, sizeof(ev.manifest.bucket), "%s",
             kt_service_env("KFLEET_S3_BUCKET"));
    snprintf(ev.manifest.key, sizeof(ev.manifest.key), "models/%s/%s/manifest.json", T.model,
             version);
    memset(ev.manifest.sha256, 'a', 64);
    ev.manifest.sha256[64] = '\0';
    ev.manifest.size = 1000;
    ctl_strategy_default(&ev.strategy);
    int64_t offset = -1;
    char e[1024];
    KT_ASSERT_MSG(!pub_announce(&T.pc, signer, &ev, &offset, e, sizeof(e)), "forge: %s", e);
    return offset;
}

static void scenario_forged(void)
{
    struct kt_model_spec s = {.input_width = 16,
                              .n_layers = 2,
                              .widths = {32, 4},
                              .dtype = SCHEMA_DTYPE_F32,
                              .seed = fresh_seed()};
    char w1[600], w2[600], e[1024];
    path_in(w1, sizeof(w1), "w1.safetensors");
    kt_model_write(w1, &s);
    s.tweak_seed = 5;
    path_in(w2, sizeof(w2), "w2.safetensors");
    kt_model_write(w2, &s);
    int rc = push_bin("push-v1", "v1", w1, NULL);
    KT_ASSERT_MSG(rc == 0 && strstr(out, "as seq 1"), "push v1: exit %d: %s%s", rc, out, err);

    /* no key at all: the highest seq there is */
    int64_t unsigned_at = forge("evil", (uint64_t)INT64_MAX, NULL);
    /* a well-formed signature by a key nobody trusts */
    char skey[600], spub[600];
    kt_pub_keygen(&T, "stranger", skey, spub, sizeof(skey));
    struct crypto_ed25519_key stranger;
    KT_ASSERT(!crypto_ed25519_load(&stranger, skey, e, sizeof(e)));
    int64_t stranger_at = forge("evil2", (uint64_t)INT64_MAX - 1, &stranger);

    /* push without trusted_keys: its own key's announcements count, nothing else */
    rc = push_bin("push-v2", "v2", w2, NULL);
    KT_ASSERT_MSG(rc == 0 && strstr(out, "as seq 2") && strstr(out, "(applied"),
                  "push v2 after forged seq %" PRId64 " (offset %" PRId64 "): exit %d\n%s%s",
                  INT64_MAX, unsigned_at, rc, out, err);
    KT_ASSERT_MSG(strstr(err, stranger.key_id) && strstr(err, "trusted_keys"),
                  "push does not name the stranger's key %s: %s", stranger.key_id, err);
    printf("forged: push v2 is seq 2 despite an unsigned seq %" PRId64 " at offset %" PRId64
           " and a stranger's seq at offset %" PRId64 "; it warns about key %s\n",
           INT64_MAX, unsigned_at, stranger_at, stranger.key_id);

    /* ls with no key: not checked, and says so */
    const char *la[] = {"ls", "--model", T.model, NULL};
    rc = kt_pub_run(&T, "ls-nokey", la, out, sizeof(out), err, sizeof(err));
    KT_ASSERT_MSG(rc == 0 && strstr(out, "signatures not checked") && strstr(out, "unverified") &&
                      !strstr(out, " ok "),
                  "ls without keys: exit %d\n%s%s", rc, out, err);
    printf("%s", out);
    /* ls with the key: v2 is the target; the forgeries are refused */
    const char *lk[] = {"ls", "--model", T.model, "--pub", T.pub, NULL};
    rc = kt_pub_run(&T, "ls-pub", lk, out, sizeof(out), err, sizeof(err));
    KT_ASSERT_MSG(rc == 0 && !strstr(out, "signatures not checked") &&
                      strstr(out, "target (rolling)") && strstr(out, "unsigned") &&
                      strstr(out, "unknown_key"),
                  "ls --pub: exit %d\n%s%s", rc, out, err);
    char *v2 = strstr(out, " v2 ");
    KT_ASSERT_MSG(v2 && strstr(v2, "target (rolling)"), "v2 is not the target:\n%s", out);
    printf("%s", out);
    printf("forged: ls without a key says \"signatures not checked\" and \"unverified\"; with "
           "--pub, v2 is the target and both forgeries are refused\n");

    /* an operator's reason with terminal escapes: the command's output and the
     * fold's log lines (-vv) show them escaped, never as the byte ESC */
    const char *ab[] = {
        "abort", "--model", T.model, "--key", T.key, "--reason", "stop \x1b[2J\x1b[H now",
        "-v",    "-v",      NULL};
    rc = kt_pub_run(&T, "abort-esc", ab, out, sizeof(out), err, sizeof(err));
    KT_ASSERT_MSG(rc == 0 && !strchr(out, 0x1b) && !strchr(err, 0x1b),
                  "abort with ESC in its reason: exit %d\n%s%s", rc, out, err);
    const char *l2[] = {"ls", "--model", T.model, "--key", T.key, "-v", "-v", NULL};
    rc = kt_pub_run(&T, "ls-esc", l2, out, sizeof(out), err, sizeof(err));
    KT_ASSERT_MSG(rc == 0 && !strchr(out, 0x1b) && !strchr(err, 0x1b) &&
                      strstr(out, "halted (aborted: stop \\x1b[2J\\x1b[H now)"),
                  "ls -vv after the abort: exit %d\n%s%s", rc, out, err);
    printf("forged: an abort reason holding \\x1b[2J: no ESC byte in abort's output or ls -vv's; "
           "ls shows it escaped: %s",
           strstr(out, "# "));
}

/* ------------------------------------------------------------------ (3) */

static int64_t events0;

static void expect_refused(const char *what, const char *version, const char *const *args,
                           const char *needle, const char *first_chunk)
{
    char tag[64];
    snprintf(tag, sizeof(tag), "refuse-%s", version);
    int64_t t0 = kf_clock_mono_us();
    int rc = kt_pub_run(&T, tag, args, out, sizeof(out), err, sizeof(err));
    double secs = (double)(kf_clock_mono_us() - t0) / 1e6;
    KT_ASSERT_MSG(rc == 1, "%s: exit %d, want 1; stderr: %s", what, rc, err);
    KT_ASSERT_MSG(strstr(err, needle), "%s: stderr '%s' lacks '%s'", what, err, needle);
    KT_ASSERT_MSG(!out[0], "%s: printed to stdout: %s", what, out);
    KT_ASSERT_MSG(!kt_pub_manifest_exists(&T, version), "%s: a manifest was left behind", what);
    KT_ASSERT_MSG(!kt_pub_objects(&T, version), "%s: objects left under the version", what);
    KT_ASSERT_MSG(kt_pub_events(&T) == events0, "%s: an event was left behind", what);
    if (first_chunk)
        KT_ASSERT_MSG(!blob_exists(first_chunk), "%s: chunks were uploaded", what);
    char *nl = strchr(err, '\n');
    if (nl)
        *nl = '\0';
    printf("refuse: %-34s exit 1 in %.1f s: %s\n", what, secs, err);
}

static void scenario_refuse(void)
{
    struct kt_model_spec s = {.input_width = 16,
                              .n_layers = 2,
                              .widths = {32, 4},
                              .dtype = SCHEMA_DTYPE_F16,
                              .seed = fresh_seed()};
    char w[600], trunc[600], junk[600], nometa[600], arch[600], badarch[600];
    path_in(w, sizeof(w), "w.safetensors");
    kt_model_write(w, &s);
    static char h[64][65];
    file_chunks(w, 64u << 20, h, 64);
    size_t len;
    uint8_t *bytes = kt_read_file(w, &len);
    path_in(trunc, sizeof(trunc), "trunc.safetensors");
    kt_write_file(trunc, bytes, len / 2);
    path_in(junk, sizeof(junk), "junk.safetensors");
    memcpy(bytes + 8, "{\"0.weight\": [this is not json", 30);
    kt_write_file(junk, bytes, len);
    free(bytes);
    struct kt_model_spec s2 = s;
    s2.no_arch_meta = true;
    path_in(nometa, sizeof(nometa), "nometa.safetensors");
    kt_model_write(nometa, &s2);
    path_in(arch, sizeof(arch), "arch.json");
    kt_model_write_arch(arch, &s, 1);
    path_in(badarch, sizeof(badarch), "bad.json");
    kt_write_file(badarch, "{\"kind\":\"mlp\"", 13);
    char okey[600], opub[600], missing[600], tk[700];
    kt_pub_keygen(&T, "stranger", okey, opub, sizeof(okey));
    path_in(missing, sizeof(missing), "missing.key");
    snprintf(tk, sizeof(tk), "trusted_keys=%s", T.pub);

    events0 = kt_pub_events(&T);
#define PUSH(v, wf, k) "push", "--model", T.model, "--version", v, "--weights", wf, "--key", k
    const char *a1[] = {PUSH("b1", trunc, T.key), NULL};
    expect_refused("truncated safetensors", "b1", a1, "not a valid safetensors file", NULL);
    const char *a2[] = {PUSH("b2", junk, T.key), NULL};
    expect_refused("malformed safetensors header", "b2", a2, "not a valid safetensors file", NULL);
    const char *a3[] = {PUSH("b3", w, T.key), "--arch", arch, NULL};
    expect_refused("architecture not matching tensors", "b3", a3, "does not match", h[0]);
    const char *a4[] = {PUSH("b4", w, T.key), "--arch", badarch, NULL};
    expect_refused("malformed architecture", "b4", a4, "not a valid architecture", h[0]);
    const char *a5[] = {PUSH("b5", nometa, T.key), NULL};
    expect_refused("no architecture at all", "b5", a5, "--arch", NULL);
    const char *a6[] = {PUSH("b6", w, missing), NULL};
    expect_refused("missing key file", "b6", a6, "No such file", h[0]);
    const char *a7[] = {PUSH("b7", w, T.pub), NULL};
    expect_refused("public key given as --key", "b7", a7, "public key", h[0]);
    const char *a8[] = {PUSH("b8", w, okey), "-X", tk, NULL};
    expect_refused("key not in trusted_keys", "b8", a8, "not in trusted_keys", h[0]);
    const char *a9[] = {PUSH("b9", w, T.key), "-X", "s3.endpoint=127.0.0.1:19099", "-X",
                        "s3.timeout_ms=2000", NULL};
    expect_refused("S3 unreachable (:19099)", "b9", a9, "127.0.0.1:19099", h[0]);
    const char *a10[] = {PUSH("b10", w, T.key),     "-b", "127.0.0.1:19099", "-X",
                         "control.timeout_ms=3000", NULL};
    expect_refused("broker unreachable (:19099)", "b10", a10, "127.0.0.1:19099", h[0]);
    const char *a11[] = {PUSH("b11", w, T.key), "--control-topic", "kfleet-test.no-such-topic",
                         NULL};
    expect_refused("control topic missing", "b11", a11, "does not exist", h[0]);
    /* an existing version: refused, the log and the manifest unchanged */
    const char *ok[] = {PUSH("v1", w, T.key), NULL};
    KT_ASSERT_MSG(kt_pub_run(&T, "push-v1", ok, out, sizeof(out), err, sizeof(err)) == 0, "%s",
                  err);
    events0 = kt_pub_events(&T);
    kf_buf m1, m2;
    kf_buf_init(&m1);
    kf_buf_init(&m2);
    char key[400], e[256];
    snprintf(key, sizeof(key), "models/%s/v1/manifest.json", T.model);
    KT_ASSERT(!objstore_get(T.os, key, &m1, 0, e, sizeof(e)));
    int rc = kt_pub_run(&T, "push-v1-again", ok, out, sizeof(out), err, sizeof(err));
    KT_ASSERT_MSG(rc == 1 && strstr(err, "already published"), "again: %d %s", rc, err);
    KT_ASSERT_INT_EQ(kt_pub_events(&T), events0);
    KT_ASSERT(!objstore_get(T.os, key, &m2, 0, e, sizeof(e)));
    KT_ASSERT(m1.len == m2.len && !memcmp(m1.ptr, m2.ptr, m1.len));
    printf("refuse: %-34s exit 1: %s", "an existing version", err);
    kf_buf_fini(&m1);
    kf_buf_fini(&m2);
#undef PUSH
}

/* ------------------------------------------------------------------ (4) */

/* (4) and the faults scenario drive publish-model's test hooks, which only a
 * test build has (-Dtest_hooks=true; meson skips them elsewhere). */
#if KFLEET_TEST_HOOKS
static void scenario_interrupt(void)
{
    struct kt_model_spec s = {.input_width = 64,
                              .n_layers = 2,
                              .widths = {256, 10},
                              .dtype = SCHEMA_DTYPE_F32,
                              .seed = fresh_seed()};
    char w[600], w2[600], e[1024];
    path_in(w, sizeof(w), "w.safetensors");
    kt_model_write(w, &s);
    static char h[256][65];
    size_t n = file_chunks(w, 4096, h, 256);
    KT_ASSERT(n > 10);
    int64_t ev0 = kt_pub_events(&T);
    const char *xs[] = {"--chunk-size", "4096", "-X", "upload.parallel=3", NULL};
    setenv(PUB_TEST_HOOK_DIE_ENV, "5", 1);
    int rc = push_bin("push-killed", "v1", w, xs);
    unsetenv(PUB_TEST_HOOK_DIE_ENV);
    KT_ASSERT_MSG(rc == 128 + SIGKILL, "the push was to be killed; exit %d: %s", rc, err);
    KT_ASSERT_MSG(!kt_pub_manifest_exists(&T, "v1"), "a killed push left a manifest");
    KT_ASSERT_MSG(kt_pub_events(&T) == ev0, "a killed push left an event");
    unsigned present = 0;
    for (size_t i = 0; i < n; i++)
        present += blob_exists(h[i]);
    KT_ASSERT_MSG(present == 5, "%u chunks in the store after a kill after 5", present);
    const char *la[] = {"ls", "--model", T.model, NULL};
    rc = kt_pub_run(&T, "ls-killed", la, out, sizeof(out), err, sizeof(err));
    KT_ASSERT_MSG(rc == 0 && !strstr(out, "v1"), "ls after the kill: %d\n%s", rc, out);

    rc = push_bin("push-rerun", "v1", w, xs);
    KT_ASSERT_MSG(rc == 0, "re-run: exit %d: %s", rc, err);
    struct counts c = parse_counts(out);
    KT_ASSERT_MSG(c.present == 5 && c.uploaded == n - 5 && c.total == n,
                  "re-run: %u present, %u uploaded of %u", c.present, c.uploaded, c.total);
    KT_ASSERT(kt_pub_manifest_exists(&T, "v1") && kt_pub_events(&T) == ev0 + 1);
    printf("interrupt: killed after 5 of %zu chunk PUTs: no manifest, no event, not listed; the "
           "re-run uploaded %u and skipped the 5\n",
           n, c.uploaded);

    /* Stopped between the signature and the announcement (no_announce): the
     * same weights complete it, other weights under that name are refused. */
    struct pub_push_faults f = {.no_announce = true};
    struct pub_push_opts o = {
        .model = T.model, .version = "v2", .weights_path = w, .chunk_size = 4096, .faults = &f};
    ctl_strategy_default(&o.strategy);
    struct pub_push_result res;
    KT_ASSERT_MSG(!pub_push(&T.pc, &o, &res, e, sizeof(e)), "%s", e);
    KT_ASSERT(kt_pub_manifest_exists(&T, "v2") && kt_pub_events(&T) == ev0 + 1);
    s.seed ^= 1;
    path_in(w2, sizeof(w2), "other.safetensors");
    kt_model_write(w2, &s);
    rc = push_bin("push-v2-other", "v2", w2, xs);
    KT_ASSERT_MSG(rc == 1 && strstr(err, "never announced"), "other weights: %d %s", rc, err);
    KT_ASSERT_INT_EQ(kt_pub_events(&T), ev0 + 1);
    rc = push_bin("push-v2-complete", "v2", w, xs);
    KT_ASSERT_MSG(rc == 0 && strstr(out, "completed an interrupted push"), "complete: %d %s%s", rc,
                  out, err);
    c = parse_counts(out);
    KT_ASSERT_INT_EQ(c.uploaded, 0);
    KT_ASSERT(strstr(out, "as seq 2"));
    const char *va[] = {"verify", "--model", T.model, "--version", "v2", "--pub", T.pub, NULL};
    rc = kt_pub_run(&T, "verify-v2", va, out, sizeof(out), err, sizeof(err));
    KT_ASSERT_MSG(rc == 0, "verify v2: %d\n%s%s", rc, out, err);
    printf("interrupt: a push stopped before its announcement is completed by the same weights "
           "(0 chunks uploaded, seq 2) and refused for other weights\n");
}
#endif

/* ------------------------------------------------------------------ (5) */

static int cmd_bin(const char *tag, const char *action, const char *key, const char *const *extra)
{
    const char *args[32] = {action, "--model", T.model, "--key", key, "--reason", tag};
    int n = 7;
    for (int i = 0; extra && extra[i]; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    return kt_pub_run(&T, tag, args, out, sizeof(out), err, sizeof(err));
}

static void fleet_log_quiet(void *opaque, enum kf_log_level level, const char *line)
{
    (void)opaque;
    (void)level;
    (void)line;
}

static void scenario_ops(void)
{
    struct kt_model_spec s = {.input_width = 8,
                              .n_layers = 2,
                              .widths = {16, 4},
                              .dtype = SCHEMA_DTYPE_F32,
                              .seed = fresh_seed()};
    char w[3][600], e[1024];
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof(name), "w%d.safetensors", i + 1);
        path_in(w[i], sizeof(w[i]), name);
        s.seed++;
        kt_model_write(w[i], &s);
    }
    KT_ASSERT_MSG(push_bin("push-v1", "v1", w[0], NULL) == 0, "%s", err);
    KT_ASSERT_MSG(push_bin("push-v2", "v2", w[1], NULL) == 0, "%s", err);

    struct step {
        const char *action, *version;
        const char *expect_out;
    } steps[] = {
        {"pause", NULL, "applied (rolling -> paused)"},
        {"resume", NULL, "applied (paused -> rolling)"},
        {"abort", NULL, "applied (rolling -> halted)"},
        {"rollback", "v1", "applied (halted -> rolled_back); target v1"},
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        const char *to[] = {"--to", steps[i].version, NULL};
        int rc = cmd_bin(steps[i].action, steps[i].action, T.key, steps[i].version ? to : NULL);
        KT_ASSERT_MSG(rc == 0 && strstr(out, steps[i].expect_out), "%s: exit %d\n%s%s",
                      steps[i].action, rc, out, err);
    }
    const char *canary[] = {"--strategy", "canary", "--canary-workers", "1", NULL};
    KT_ASSERT_MSG(push_bin("push-v3", "v3", w[2], canary) == 0, "%s", err);
    int rc = cmd_bin("promote", "promote", T.key, NULL);
    KT_ASSERT_MSG(rc == 0 && strstr(out, "applied (canary -> rolling)"), "promote: %d\n%s%s", rc,
                  out, err);

    /* Sent nothing: a dry run, and a command the fleet would not apply now. */
    int64_t ev = kt_pub_events(&T);
    const char *dry[] = {"--dry-run", NULL};
    rc = cmd_bin("pause-dry", "pause", T.key, dry);
    KT_ASSERT_MSG(rc == 0 && strstr(out, "would be applied"), "dry: %d\n%s%s", rc, out, err);
    rc = cmd_bin("resume-rolling", "resume", T.key, NULL);
    KT_ASSERT_MSG(rc == 1 && strstr(err, "would not apply"), "resume: %d\n%s", rc, err);
    const char *nov[] = {"--to", "v9", NULL};
    rc = cmd_bin("rollback-v9", "rollback", T.key, nov);
    KT_ASSERT_MSG(rc == 1 && strstr(err, "never published"), "rollback v9: %d\n%s", rc, err);
    KT_ASSERT_INT_EQ(kt_pub_events(&T), ev);

    /* An intruder's key: with the trusted keys given it is refused unsent;
     * --force sends it, and every reader ignores it. */
    char ikey[600], ipub[600], tk[700];
    kt_pub_keygen(&T, "intruder", ikey, ipub, sizeof(ikey));
    snprintf(tk, sizeof(tk), "trusted_keys=%s", T.pub);
    const char *trusted[] = {"-X", tk, NULL};
    rc = cmd_bin("intruder-pause", "pause", ikey, trusted);
    KT_ASSERT_MSG(rc == 1 && strstr(err, "unknown_key"), "intruder: %d\n%s", rc, err);
    KT_ASSERT_INT_EQ(kt_pub_events(&T), ev);
    const char *forced[] = {"-X", tk, "--force", NULL};
    rc = cmd_bin("intruder-pause-forced", "pause", ikey, forced);
    KT_ASSERT_MSG(rc == 0 && strstr(out, "ignored"), "forced: %d\n%s%s", rc, out, err);
    int64_t intruder_offset = ev;
    /* and one with no signature at all, appended directly */
    struct ctl_event uev;
    ctl_event_init(&uev, CTL_ROLLOUT_COMMAND);
    pub_event_id(uev.event_id, "unsigned");
    snprintf(uev.model, sizeof(uev.model), "%s", T.model);
    uev.action = CTL_ACTION_ABORT;
    int64_t unsigned_offset;
    KT_ASSERT_MSG(!pub_announce(&T.pc, NULL, &uev, &unsigned_offset, e, sizeof(e)), "%s", e);

    /* The log, folded here as a worker trusting T.pub folds it. */
    struct kt_record *recs;
    size_t n = kt_pub_read_log(&T, T.pub, &recs);
    struct fleet_opts fo;
    fleet_opts_default(&fo);
    fo.log = fleet_log_quiet;
    fleet_state *fs = fleet_state_new(&fo);
    static const enum fleet_phase want[] = {
        FLEET_ROLLING,     FLEET_ROLLING, FLEET_PAUSED,  FLEET_ROLLING, FLEET_HALTED,
        FLEET_ROLLED_BACK, FLEET_CANARY,  FLEET_ROLLING, FLEET_ROLLING, FLEET_ROLLING};
    KT_ASSERT_INT_EQ(n, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < n; i++) {
        KT_ASSERT(recs[i].decoded);
        struct fleet_record fr = {&recs[i].ev, recs[i].offset, recs[i].ts_ms, recs[i].sig};
        struct fleet_result res;
        KT_ASSERT(!fleet_state_feed(fs, &fr, &res));
        bool ours = recs[i].offset != intruder_offset && recs[i].offset != unsigned_offset;
        KT_ASSERT_MSG(recs[i].sig == (ours                                ? CTL_SIG_OK
                                      : recs[i].offset == intruder_offset ? CTL_SIG_UNKNOWN_KEY
                                                                          : CTL_SIG_UNSIGNED),
                      "offset %" PRId64 ": signature %s", recs[i].offset,
                      ctl_sig_verdict2str(recs[i].sig));
        KT_ASSERT_MSG(res.verdict == (ours ? FLEET_APPLIED : FLEET_IGNORED),
                      "offset %" PRId64 " (%s): %s: %s", recs[i].offset,
                      ctl_type2str(recs[i].ev.type), fleet_verdict2str(res.verdict), res.reason);
        KT_ASSERT_MSG(res.to == want[i], "offset %" PRId64 ": phase %s, want %s", recs[i].offset,
                      fleet_phase2str(res.to), fleet_phase2str(want[i]));
    }
    struct fleet_model_info mi;
    KT_ASSERT(!fleet_model_get(fs, T.model, &mi));
    KT_ASSERT_STR_EQ(mi.target, "v3");
    fleet_state_free(fs);
    free(recs);

    /* The verification helper reports both, and only them. */
    const char *va[] = {"verify", "--model", T.model, "--pub", T.pub, NULL};
    rc = kt_pub_run(&T, "verify-log", va, out, sizeof(out), err, sizeof(err));
    KT_ASSERT_MSG(rc == 1 && strstr(err, "2 events are not signed by a trusted key"),
                  "verify: %d\n%s%s", rc, out, err);
    char line[128];
    snprintf(line, sizeof(line), "FAIL offset %" PRId64 " rollout.command", intruder_offset);
    KT_ASSERT_MSG(strstr(out, line) && strstr(out, "signature unknown_key"), "%s", out);
    snprintf(line, sizeof(line), "FAIL offset %" PRId64 " rollout.command", unsigned_offset);
    KT_ASSERT_MSG(strstr(out, line) && strstr(out, "signature unsigned"), "%s", out);
    size_t fails = 0;
    for (const char *p = out; (p = strstr(p, "FAIL")); p++)
        fails++;
    KT_ASSERT_INT_EQ(fails, 2);
    KT_ASSERT(!kf_conf_set(T.conf, "trusted_keys", T.pub, e, sizeof(e)));
    pub_ctx_conf_changed(&T.pc);
    KT_ASSERT(!pub_ctx_load_trusted(&T.pc, e, sizeof(e)));
    size_t n_bad = 0;
    FILE *devnull = fopen("/dev/null", "w");
    T.pc.out = devnull;
    KT_ASSERT_INT_EQ(pub_verify_log(&T.pc, T.model, &n_bad, e, sizeof(e)), -EBADMSG);
    T.pc.out = stdout;
    fclose(devnull);
    KT_ASSERT_INT_EQ(n_bad, 2);
    printf("ops: pause, resume, abort, rollback --to v1, promote applied by the reducer "
           "(signed, ok); dry run and an inapplicable resume sent nothing; the intruder's pause "
           "(unknown_key) and an unsigned abort were ignored and reported by verify\n");
}

/* ------------------------------------------------------------------ faults */

#if KFLEET_TEST_HOOKS

static void expect_verify_fails(const char *version, const char *needle)
{
    char path[600], e[1024];
    path_in(path, sizeof(path), "verify.out");
    FILE *f = fopen(path, "w");
    T.pc.out = f;
    int rc = pub_verify_version(&T.pc, T.model, version, e, sizeof(e));
    T.pc.out = stdout;
    fclose(f);
    size_t len;
    uint8_t *text = kt_read_file(path, &len);
    char *s = calloc(1, len + 1);
    memcpy(s, text, len);
    KT_ASSERT_MSG(rc == -EBADMSG && strstr(s, needle), "%s: %d (%s)\n%s", version, rc, e, s);
    printf("faults: %s: verify fails: %s", version, strstr(s, needle));
    free(s);
    free(text);
}

static void scenario_faults(void)
{
    char e[1024], okey[600], opub[600];
    KT_ASSERT(!kf_conf_set(T.conf, "trusted_keys", T.pub, e, sizeof(e)));
    pub_ctx_conf_changed(&T.pc);
    KT_ASSERT(!pub_ctx_load_trusted(&T.pc, e, sizeof(e)));
    kt_pub_keygen(&T, "other", okey, opub, sizeof(okey));
    struct crypto_ed25519_key other;
    KT_ASSERT(!crypto_ed25519_load(&other, okey, e, sizeof(e)));
    struct {
        const char *version;
        struct pub_push_faults f;
        const char *needle;
    } cases[] = {
        {"tampered", {.tamper_chunk = true, .tamper_index = 1}, "FAIL chunks: 1 of"},
        {"skewed", {.golden_skew = 1.0f}, "FAIL golden vectors"},
        {"wrongkey", {.manifest_key = &other}, "FAIL manifest.sig: unknown_key"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kt_model_spec s = {.input_width = 32,
                                  .n_layers = 2,
                                  .widths = {64, 8},
                                  .dtype = SCHEMA_DTYPE_F32,
                                  .seed = fresh_seed() + i};
        char w[600];
        path_in(w, sizeof(w), cases[i].version);
        kt_model_write(w, &s);
        struct pub_push_opts o = {.model = T.model,
                                  .version = cases[i].version,
                                  .weights_path = w,
                                  .chunk_size = 2048,
                                  .faults = &cases[i].f};
        ctl_strategy_default(&o.strategy);
        struct pub_push_result res;
        KT_ASSERT_MSG(!pub_push(&T.pc, &o, &res, e, sizeof(e)), "%s: %s", cases[i].version, e);
        KT_ASSERT_INT_EQ(res.verdict, FLEET_APPLIED);
        expect_verify_fails(cases[i].version, cases[i].needle);
    }
    /* An announcement without a signature, or by another key: the reducer ignores it. */
    struct kt_model_spec s = {.input_width = 32,
                              .n_layers = 2,
                              .widths = {64, 8},
                              .dtype = SCHEMA_DTYPE_F32,
                              .seed = fresh_seed() + 9};
    char w[600];
    path_in(w, sizeof(w), "unsigned.safetensors");
    kt_model_write(w, &s);
    struct pub_push_faults f = {.unsigned_event = true};
    struct pub_push_opts o = {
        .model = T.model, .version = "unsigned", .weights_path = w, .faults = &f};
    ctl_strategy_default(&o.strategy);
    struct pub_push_result res;
    KT_ASSERT_MSG(!pub_push(&T.pc, &o, &res, e, sizeof(e)), "%s", e);
    KT_ASSERT_MSG(res.verdict == FLEET_IGNORED && strstr(res.verdict_reason, "unsigned"),
                  "unsigned announcement: %s: %s", fleet_verdict2str(res.verdict),
                  res.verdict_reason);
    f = (struct pub_push_faults){.event_key = &other};
    o.version = "forged";
    KT_ASSERT_MSG(!pub_push(&T.pc, &o, &res, e, sizeof(e)), "%s", e);
    KT_ASSERT_MSG(res.verdict == FLEET_IGNORED && strstr(res.verdict_reason, "unknown_key"),
                  "forged announcement: %s: %s", fleet_verdict2str(res.verdict),
                  res.verdict_reason);
    /* A replayed (stale) seq. */
    f = (struct pub_push_faults){.seq = 1};
    o.version = "replayed";
    KT_ASSERT_MSG(!pub_push(&T.pc, &o, &res, e, sizeof(e)), "%s", e);
    KT_ASSERT_MSG(res.verdict == FLEET_IGNORED, "replayed seq 1: %s: %s",
                  fleet_verdict2str(res.verdict), res.verdict_reason);
    /* Without faults the same refusal is an error. */
    o.faults = NULL;
    o.version = "fine";
    KT_ASSERT_MSG(!pub_push(&T.pc, &o, &res, e, sizeof(e)), "%s", e);
    KT_ASSERT_INT_EQ(res.verdict, FLEET_APPLIED);
    printf("faults: unsigned, forged and replayed announcements are ignored by the reducer (%s)\n",
           res.verdict_reason);
}

#endif

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: it_pub PUBLISH_MODEL "
                        "readback|dedup|refuse|repair|forged|interrupt|ops|faults\n");
        return KF_TEST_HARD_ERROR;
    }
    const char *sc = argv[2];
    static const struct {
        const char *name;
        void (*fn)(void);
    } scenarios[] = {
        {"readback", scenario_readback},
        {"dedup", scenario_dedup},
        {"refuse", scenario_refuse},
        {"repair", scenario_repair},
        {"forged", scenario_forged},
        {"ops", scenario_ops},
#if KFLEET_TEST_HOOKS
        {"interrupt", scenario_interrupt},
        {"faults", scenario_faults},
#endif
    };
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        if (strcmp(sc, scenarios[i].name))
            continue;
        kt_pub_init(&T, sc, argv[1]);
        printf("# %s\n", sc);
        fflush(stdout);
        scenarios[i].fn();
        kt_pub_fini(&T);
        printf("ok %s\n", sc);
        return 0;
    }
    fprintf(stderr, "unknown scenario %s\n", sc);
    return KF_TEST_HARD_ERROR;
}
