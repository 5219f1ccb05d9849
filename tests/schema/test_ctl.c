/* Control events: round trip of every type, every required field missing,
 * wrong types, unknown type, defaults; the kfleet-sig verdicts. */
#include "schema/ctl_event.h"
#include "schema/ctl_sig.h"

#include "tests/lib/kf_test.h"
#include "tests/schema/ctl_samples.h"

#include <errno.h>

static char *encode(const struct ctl_event *ev, size_t *len)
{
    kf_buf b;
    kf_buf_init(&b);
    char err[256] = "";
    KT_ASSERT_MSG(ctl_event_encode(ev, &b, err, sizeof(err)) == 0, "%s: %s", ctl_type2str(ev->type),
                  err);
    KT_ASSERT_INT_EQ(kf_buf_append(&b, "", 1), 0);
    *len = b.len - 1;
    return (char *)kf_buf_steal(&b, NULL);
}

static int decode(const char *json, struct ctl_event *ev, char *err, size_t errsz)
{
    return ctl_event_decode((const uint8_t *)json, strlen(json), ev, err, errsz);
}

static void test_roundtrip_every_type(void)
{
    for (int t = 0; t < CTL_TYPE_COUNT; t++) {
        struct ctl_event ev, back;
        ctl_sample(&ev, (enum ctl_type)t);
        size_t len;
        char *json = encode(&ev, &len);
        char err[256] = "";
        KT_ASSERT_MSG(decode(json, &back, err, sizeof(err)) == 0, "%s", err);
        KT_ASSERT_MSG(!memcmp(&ev, &back, sizeof(ev)), "%s: decoded differs", json);
        size_t len2;
        char *again = encode(&back, &len2);
        KT_ASSERT_STR_EQ(json, again);
        KT_ASSERT(strstr(json, "\"type\":\""));
        free(json);
        free(again);
    }
}

/* Rename a key so the field reads as missing; check the error names it. */
static void expect_missing(const char *json, const char *key)
{
    char from[64], to[64];
    snprintf(from, sizeof(from), "\"%s\":", key);
    snprintf(to, sizeof(to), "\"X%s\":", key);
    const char *at = strstr(json, from);
    KT_ASSERT_MSG(at, "%s not in %s", key, json);
    char buf[8192];
    snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - json), json, to, at + strlen(from));
    struct ctl_event ev;
    char err[256] = "";
    int rc = decode(buf, &ev, err, sizeof(err));
    KT_ASSERT_MSG(rc == -EPROTO, "%s without %s: %d", json, key, rc);
    char want[80];
    snprintf(want, sizeof(want), "%s: missing", key);
    KT_ASSERT_MSG(strstr(err, want), "error \"%s\" does not say \"%s\"", err, want);
}

static void test_missing_fields(void)
{
    static const char *const required[CTL_TYPE_COUNT][6] = {
        [CTL_MODEL_PUBLISHED] = {"model", "version", "seq", "manifest", "strategy"},
        [CTL_ROLLOUT_COMMAND] = {"model", "action"},
        [CTL_WORKER_JOINED] = {"worker"},
        [CTL_WORKER_LEFT] = {"worker"},
        [CTL_ROLLOUT_CLAIM] = {"worker", "model", "version", "claim_id"},
        [CTL_ROLLOUT_STAGED] = {"worker", "model", "version"},
        [CTL_ROLLOUT_CUTOVER] = {"model", "version"},
        [CTL_ROLLOUT_DONE] = {"worker", "model", "version", "mode"},
        [CTL_ROLLOUT_FAILED] = {"worker", "model", "version", "stage", "reason"},
        [CTL_ROLLOUT_HEALTHY] = {"worker", "model", "version"},
        [CTL_ROLLOUT_EXPIRE] = {"claim_id"},
        [CTL_KEY_ENROLLED] = {"worker", "pubkey"},
        [CTL_KEY_REVOKED] = {"key_id"},
    };
    for (int t = 0; t < CTL_TYPE_COUNT; t++) {
        struct ctl_event ev;
        ctl_sample(&ev, (enum ctl_type)t);
        size_t len;
        char *json = encode(&ev, &len);
        expect_missing(json, "v");
        expect_missing(json, "type");
        expect_missing(json, "event_id");
        for (int k = 0; k < 6 && required[t][k]; k++)
            expect_missing(json, required[t][k]);
        free(json);
    }
}

static void expect(const char *json, int code, const char *text)
{
    struct ctl_event ev;
    char err[256] = "";
    int rc = decode(json, &ev, err, sizeof(err));
    KT_ASSERT_MSG(rc == code, "%s: expected %d, got %d (%s)", json, code, rc, err);
    KT_ASSERT_MSG(!text || strstr(err, text), "%s: error \"%s\" lacks \"%s\"", json, err, text);
}

#define HDR "{\"v\":1,\"event_id\":\"e1\","

static void test_invalid_values(void)
{
    expect(HDR "\"type\":\"rollout.teleport\"}", -ENOMSG,
           "unknown event type \"rollout.teleport\"");
    expect("{\"v\":2,\"event_id\":\"e\",\"type\":\"worker.left\",\"worker\":\"w\"}", -EPROTO,
           "v: unsupported version 2");
    expect("[1,2]", -EPROTO, "expected a JSON object");
    expect("{\"v\":1", -EPROTO, "invalid JSON");
    expect("{\"v\":1,\"v\":1}", -EPROTO, "duplicate");
    expect(HDR "\"type\":7}", -EPROTO, "type: expected a string");
    expect(HDR "\"type\":\"worker.left\",\"worker\":\"has space\"}", -EPROTO, "worker: expected");
    expect(HDR "\"type\":\"worker.left\",\"worker\":\"\"}", -EPROTO, "worker: expected");
    expect(HDR "\"type\":\"key.revoked\",\"key_id\":\"56475AA75463474C\"}", -EPROTO,
           "key_id: expected 16 lower-case hex");
    expect(HDR "\"type\":\"key.revoked\",\"key_id\":\"56475aa7546347\"}", -EPROTO, "key_id");
    expect(HDR "\"type\":\"key.enrolled\",\"worker\":\"w\",\"pubkey\":\"AAAA\"}", -EPROTO,
           "pubkey: expected base64 of a 32-byte");
    expect(HDR "\"type\":\"rollout.command\",\"model\":\"m\",\"action\":\"pause\",\"cmd_seq\":0}",
           -EPROTO, "cmd_seq");
    expect(HDR "\"type\":\"worker.left\",\"worker\":\"w\",\"by\":\"a b\"}", -EPROTO,
           "by: expected");
    expect(HDR "\"type\":\"rollout.staged\",\"worker\":\"w\",\"model\":\"a/b\",\"version\":\"1\"}",
           -EPROTO, "model: expected a name");
    expect(HDR "\"type\":\"rollout.staged\",\"worker\":\"w\",\"model\":\"..\",\"version\":\"1\"}",
           -EPROTO, "model: expected a name");
    expect(HDR "\"type\":\"rollout.command\",\"model\":\"m\",\"action\":\"explode\"}", -EPROTO,
           "action: \"explode\" is not one of promote|pause|resume|abort|rollback");
    expect(HDR "\"type\":\"rollout.done\",\"worker\":\"w\",\"model\":\"m\",\"version\":\"1\","
               "\"mode\":\"teleport\"}",
           -EPROTO, "mode:");
    expect(HDR "\"type\":\"rollout.failed\",\"worker\":\"w\",\"model\":\"m\",\"version\":\"1\","
               "\"stage\":\"fetch\",\"reason\":5}",
           -EPROTO, "reason: expected a string");
    expect(HDR "\"type\":\"rollout.done\",\"worker\":\"w\",\"model\":\"m\",\"version\":\"1\","
               "\"mode\":\"inplace\",\"timings\":{\"fetch_us\":-1}}",
           -EPROTO, "timings.fetch_us");
#define PUB                                                                                       \
    HDR "\"type\":\"model.published\",\"model\":\"m\",\"version\":\"1\",\"seq\":%s,\"manifest\":" \
        "{\"bucket\":\"b\",\"key\":\"k\",\"sha256\":\"%s\",\"size\":%s},\"strategy\":%s}"
    const char *sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    char buf[1024];
    snprintf(buf, sizeof(buf), PUB, "1", sha, "10", "{\"kind\":\"rolling\"}");
    expect(buf, 0, NULL);
    snprintf(buf, sizeof(buf), PUB, "0", sha, "10", "{\"kind\":\"rolling\"}");
    expect(buf, -EPROTO, "seq: 0 is outside 1..");
    snprintf(buf, sizeof(buf), PUB, "\"1\"", sha, "10", "{\"kind\":\"rolling\"}");
    expect(buf, -EPROTO, "seq: expected an integer");
    snprintf(buf, sizeof(buf), PUB, "1.0", sha, "10", "{\"kind\":\"rolling\"}");
    expect(buf, -EPROTO, "seq: expected an integer");
    snprintf(buf, sizeof(buf), PUB, "1", "ABC", "10", "{\"kind\":\"rolling\"}");
    expect(buf, -EPROTO, "manifest.sha256: expected 64 lower-case hex digits");
    snprintf(buf, sizeof(buf), PUB, "1", sha, "0", "{\"kind\":\"rolling\"}");
    expect(buf, -EPROTO, "manifest.size");
    snprintf(buf, sizeof(buf), PUB, "1", sha, "10", "{\"kind\":\"yolo\"}");
    expect(buf, -EPROTO, "strategy.kind");
    snprintf(buf, sizeof(buf), PUB, "1", sha, "10", "{}");
    expect(buf, -EPROTO, "strategy.kind: missing");
    snprintf(buf, sizeof(buf), PUB, "1", sha, "10", "{\"kind\":\"rolling\",\"max_unavailable\":0}");
    expect(buf, -EPROTO, "strategy.max_unavailable: 0 is outside 1..");
    snprintf(buf, sizeof(buf), PUB, "1", sha, "10", "{\"kind\":\"rolling\",\"lease_s\":0}");
    expect(buf, -EPROTO, "strategy.lease_s");
    snprintf(buf, sizeof(buf), PUB, "1", sha, "10",
             "{\"kind\":\"rolling\",\"thresholds\":{\"max_error_rate\":2}}");
    expect(buf, -EPROTO, "strategy.thresholds.max_error_rate");
    snprintf(buf, sizeof(buf), PUB, "1", sha, "10", "{\"kind\":\"rolling\",\"swap_mode\":\"x\"}");
    expect(buf, -EPROTO, "strategy.swap_mode");
    snprintf(buf, sizeof(buf), PUB, "1", sha, "10",
             "{\"kind\":\"rolling\",\"auto_promote\":\"yes\"}");
    expect(buf, -EPROTO, "strategy.auto_promote: expected true or false");

    /* defaults, unknown keys, null = absent */
    snprintf(buf, sizeof(buf), PUB, "1", sha, "10", "{\"kind\":\"bluegreen\",\"future\":[1]}");
    struct ctl_event ev;
    char err[256];
    KT_ASSERT_INT_EQ(decode(buf, &ev, err, sizeof(err)), 0);
    KT_ASSERT(ev.strategy.kind == CTL_STRATEGY_BLUEGREEN && ev.strategy.max_unavailable == 1 &&
              ev.strategy.lease_s == 600 && ev.strategy.auto_rollback &&
              ev.strategy.swap_mode == CTL_SWAP_AUTO);
    KT_ASSERT_INT_EQ(decode(HDR "\"type\":\"worker.left\",\"worker\":\"w\",\"reason\":null,"
                                "\"later\":{\"x\":1}}",
                            &ev, err, sizeof(err)),
                     0);
    KT_ASSERT(ev.reason[0] == '\0');
    char big[CTL_EVENT_MAX_BYTES + 16];
    memset(big, ' ', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    expect(big, -E2BIG, "limit");

    /* joined: too many models */
    kf_buf b;
    kf_buf_init(&b);
    kf_buf_appendf(&b, HDR "\"type\":\"worker.joined\",\"worker\":\"w\",\"models\":[");
    for (int i = 0; i <= CTL_MAX_MODELS; i++)
        kf_buf_appendf(&b, "%s{\"model\":\"m%d\"}", i ? "," : "", i);
    kf_buf_appendf(&b, "]}");
    expect((const char *)b.ptr, -EPROTO, "models: 33 entries");
    kf_buf_fini(&b);

    /* encode refuses what decode would refuse */
    ctl_sample(&ev, CTL_ROLLOUT_CLAIM);
    ev.claim_id[0] = '\0';
    kf_buf_init(&b);
    KT_ASSERT_INT_EQ(ctl_event_encode(&ev, &b, err, sizeof(err)), -EINVAL);
    KT_ASSERT(strstr(err, "claim_id"));
    KT_ASSERT_INT_EQ(b.len, 0);
    ctl_sample(&ev, CTL_MODEL_PUBLISHED);
    ev.strategy.max_unavailable = 0;
    KT_ASSERT_INT_EQ(ctl_event_encode(&ev, &b, err, sizeof(err)), -EINVAL);
    kf_buf_fini(&b);
}

static void test_names(void)
{
    for (int t = 0; t < CTL_TYPE_COUNT; t++) {
        enum ctl_type back;
        KT_ASSERT_INT_EQ(ctl_type_from_str(ctl_type2str((enum ctl_type)t), &back), 0);
        KT_ASSERT_INT_EQ(back, t);
    }
    enum ctl_type x;
    KT_ASSERT_INT_EQ(ctl_type_from_str("model.deleted", &x), -ENOMSG);
    KT_ASSERT(ctl_type_needs_signature(CTL_MODEL_PUBLISHED));
    KT_ASSERT(ctl_type_needs_signature(CTL_ROLLOUT_COMMAND));
    KT_ASSERT(ctl_type_needs_signature(CTL_KEY_ENROLLED));
    KT_ASSERT(ctl_type_needs_signature(CTL_KEY_REVOKED));
    KT_ASSERT(!ctl_type_needs_signature(CTL_ROLLOUT_CLAIM));
    struct ctl_event ev;
    ctl_sample(&ev, CTL_ROLLOUT_EXPIRE);
    KT_ASSERT_STR_EQ(ctl_event_issuer(&ev), "w-c3"); /* by, not the claim's worker */
    ev.by[0] = '\0';
    KT_ASSERT_STR_EQ(ctl_event_issuer(&ev), "w-b2");
    ctl_sample(&ev, CTL_ROLLOUT_CLAIM);
    KT_ASSERT_STR_EQ(ctl_event_issuer(&ev), "w-a1");
    ctl_sample(&ev, CTL_KEY_ENROLLED);
    KT_ASSERT(ctl_event_issuer(&ev) == NULL);
    KT_ASSERT_STR_EQ(ctl_type2str((enum ctl_type)99), "?");
}

static void test_signature(void)
{
    uint8_t seed[32], seed2[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)i, seed2[i] = (uint8_t)(100 + i);
    struct crypto_ed25519_key key, other;
    KT_ASSERT_INT_EQ(crypto_ed25519_from_seed(&key, seed), 0);
    KT_ASSERT_INT_EQ(crypto_ed25519_from_seed(&other, seed2), 0);
    crypto_keyring *kr = crypto_keyring_new();
    KT_ASSERT(kr);
    KT_ASSERT_INT_EQ(crypto_keyring_add(kr, &key), 0);

    struct ctl_event ev;
    ctl_sample(&ev, CTL_MODEL_PUBLISHED);
    size_t len;
    char *value = encode(&ev, &len);
    kf_buf hdr;
    kf_buf_init(&hdr);
    KT_ASSERT_INT_EQ(ctl_sig_sign(&key, (const uint8_t *)value, len, &hdr), 0);
    KT_ASSERT_INT_EQ(hdr.len, CTL_SIG_HEADER_LEN);
    KT_ASSERT(!memcmp(hdr.ptr, key.key_id, 16) && hdr.ptr[16] == ':');
    char kid[17];
    KT_ASSERT_INT_EQ(ctl_sig_verify(hdr.ptr, hdr.len, (const uint8_t *)value, len, kr, kid),
                     CTL_SIG_OK);
    KT_ASSERT_STR_EQ(kid, key.key_id);
    KT_ASSERT_INT_EQ(ctl_sig_verify(NULL, 0, (const uint8_t *)value, len, kr, kid),
                     CTL_SIG_UNSIGNED);
    KT_ASSERT_STR_EQ(kid, "");
    /* one byte of the value changed */
    value[5] ^= 1;
    KT_ASSERT_INT_EQ(ctl_sig_verify(hdr.ptr, hdr.len, (const uint8_t *)value, len, kr, NULL),
                     CTL_SIG_BAD_SIGNATURE);
    value[5] ^= 1;
    /* signed by a key the ring does not hold */
    kf_buf h2;
    kf_buf_init(&h2);
    KT_ASSERT_INT_EQ(ctl_sig_sign(&other, (const uint8_t *)value, len, &h2), 0);
    KT_ASSERT_INT_EQ(ctl_sig_verify(h2.ptr, h2.len, (const uint8_t *)value, len, kr, kid),
                     CTL_SIG_UNKNOWN_KEY);
    KT_ASSERT_STR_EQ(kid, other.key_id);
    KT_ASSERT_INT_EQ(ctl_sig_verify(h2.ptr, h2.len, (const uint8_t *)value, len, NULL, NULL),
                     CTL_SIG_UNKNOWN_KEY);
    /* a trusted key_id in front of another key's signature */
    memcpy(h2.ptr, key.key_id, 16);
    KT_ASSERT_INT_EQ(ctl_sig_verify(h2.ptr, h2.len, (const uint8_t *)value, len, kr, NULL),
                     CTL_SIG_BAD_SIGNATURE);
    /* malformed headers */
    uint8_t bad[CTL_SIG_HEADER_LEN];
    memcpy(bad, hdr.ptr, sizeof(bad));
    KT_ASSERT_INT_EQ(ctl_sig_verify(bad, sizeof(bad) - 1, (const uint8_t *)value, len, kr, NULL),
                     CTL_SIG_MALFORMED);
    bad[16] = ';';
    KT_ASSERT_INT_EQ(ctl_sig_verify(bad, sizeof(bad), (const uint8_t *)value, len, kr, NULL),
                     CTL_SIG_MALFORMED);
    memcpy(bad, hdr.ptr, sizeof(bad));
    bad[0] = 'G';
    KT_ASSERT_INT_EQ(ctl_sig_verify(bad, sizeof(bad), (const uint8_t *)value, len, kr, NULL),
                     CTL_SIG_MALFORMED);
    memcpy(bad, hdr.ptr, sizeof(bad));
    bad[40] = '*';
    KT_ASSERT_INT_EQ(ctl_sig_verify(bad, sizeof(bad), (const uint8_t *)value, len, kr, NULL),
                     CTL_SIG_MALFORMED);
    KT_ASSERT_INT_EQ(ctl_sig_verify((const uint8_t *)"", 0, (const uint8_t *)value, len, kr, NULL),
                     CTL_SIG_MALFORMED);
    /* no private half */
    struct crypto_ed25519_key pub = key;
    pub.has_priv = false;
    KT_ASSERT_INT_EQ(ctl_sig_sign(&pub, (const uint8_t *)value, len, &h2), -EINVAL);
    KT_ASSERT_STR_EQ(ctl_sig_verdict2str(CTL_SIG_UNKNOWN_KEY), "unknown_key");
    kf_buf_fini(&hdr);
    kf_buf_fini(&h2);
    free(value);
    crypto_keyring_free(kr);
}

int main(void)
{
    KT_RUN(test_roundtrip_every_type);
    KT_RUN(test_missing_fields);
    KT_RUN(test_invalid_values);
    KT_RUN(test_names);
    KT_RUN(test_signature);
    return 0;
}
