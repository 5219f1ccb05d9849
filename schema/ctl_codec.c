/* Control event codec. One table says which fields each type has and whether
 * they are required; encode and decode both follow it, and encode validates
 * its own output by decoding it, so whatever encodes also decodes. */
#include "schema/ctl_event.h"

#include "common/crypto.h"
#include "common/kf_err.h"
#include "schema/ctl_impl.h"
#include "schema/json_impl.h"

#include <stdlib.h>
#include <string.h>

enum fld {
    FLD_MODEL,
    FLD_VERSION,
    FLD_WORKER,
    FLD_CLAIM_ID,
    FLD_REASON,
    FLD_SEQ,
    FLD_MANIFEST,
    FLD_STRATEGY,
    FLD_ACTION,
    FLD_HOST,
    FLD_BACKEND,
    FLD_DEVICE,
    FLD_FREE_MEMORY,
    FLD_MODELS,
    FLD_MODE,
    FLD_TIMINGS,
    FLD_STAGE,
    FLD_METRICS,
    FLD_BY,
    FLD_KEY_ID,
    FLD_PUBKEY,
    FLD_CMD_SEQ,
    FLD_COUNT
};

#define R(f) (1ull << (2 * (f)))
#define O(f) (2ull << (2 * (f)))

static const uint64_t type_fields[CTL_TYPE_COUNT] = {
    [CTL_MODEL_PUBLISHED] =
        R(FLD_MODEL) | R(FLD_VERSION) | R(FLD_SEQ) | R(FLD_MANIFEST) | R(FLD_STRATEGY),
    [CTL_ROLLOUT_COMMAND] =
        R(FLD_MODEL) | R(FLD_ACTION) | O(FLD_VERSION) | O(FLD_REASON) | O(FLD_SEQ) | O(FLD_CMD_SEQ),
    [CTL_WORKER_JOINED] = R(FLD_WORKER) | O(FLD_HOST) | O(FLD_BACKEND) | O(FLD_DEVICE) |
                          O(FLD_FREE_MEMORY) | O(FLD_MODELS),
    [CTL_WORKER_LEFT] = R(FLD_WORKER) | O(FLD_REASON) | O(FLD_BY),
    [CTL_ROLLOUT_CLAIM] = R(FLD_WORKER) | R(FLD_MODEL) | R(FLD_VERSION) | R(FLD_CLAIM_ID),
    [CTL_ROLLOUT_STAGED] = R(FLD_WORKER) | R(FLD_MODEL) | R(FLD_VERSION),
    [CTL_ROLLOUT_CUTOVER] = R(FLD_MODEL) | R(FLD_VERSION) | O(FLD_WORKER) | O(FLD_BY),
    [CTL_ROLLOUT_DONE] = R(FLD_WORKER) | R(FLD_MODEL) | R(FLD_VERSION) | R(FLD_MODE) |
                         O(FLD_CLAIM_ID) | O(FLD_TIMINGS),
    [CTL_ROLLOUT_FAILED] = R(FLD_WORKER) | R(FLD_MODEL) | R(FLD_VERSION) | R(FLD_STAGE) |
                           R(FLD_REASON) | O(FLD_CLAIM_ID),
    [CTL_ROLLOUT_HEALTHY] = R(FLD_WORKER) | R(FLD_MODEL) | R(FLD_VERSION) | O(FLD_METRICS),
    [CTL_ROLLOUT_EXPIRE] =
        R(FLD_CLAIM_ID) | O(FLD_WORKER) | O(FLD_MODEL) | O(FLD_REASON) | O(FLD_BY),
    [CTL_KEY_ENROLLED] = R(FLD_WORKER) | R(FLD_PUBKEY) | O(FLD_REASON),
    [CTL_KEY_REVOKED] = R(FLD_KEY_ID) | O(FLD_REASON),
};
_Static_assert(FLD_COUNT <= 32, "two bits per field in a uint64_t");

static bool has(enum ctl_type t, enum fld f)
{
    return (type_fields[t] >> (2 * f)) & 3;
}

static bool req(enum ctl_type t, enum fld f)
{
    return (type_fields[t] >> (2 * f)) & 1;
}

static const char *const timing_names[6] = {"fetch_us",  "verify_us", "load_us",
                                            "warmup_us", "flip_us",   "unowned_us"};
static const char *const metric_names[4] = {"requests", "errors", "p99_us", "baseline_p99_us"};

/* ---- decode ---- */

static int get_enum(const json_t *obj, const char *path, const char *key, bool required,
                    const char *const *names, int n, int *out, char *errstr, size_t errstr_size)
{
    char s[32];
    int err = ju_str(obj, path, key, required, s, sizeof(s), errstr, errstr_size);
    if (err)
        return err;
    if (!s[0] && !required)
        return 0;
    for (int i = 0; i < n; i++) {
        if (!strcmp(s, names[i])) {
            *out = i;
            return 0;
        }
    }
    char p[96], list[160] = "";
    for (int i = 0; i < n; i++) {
        strcat(list, i ? "|" : "");
        strcat(list, names[i]);
    }
    ju_path(p, sizeof(p), path, key);
    kf_errf(errstr, errstr_size, "%s: \"%s\" is not one of %s", p, s, list);
    return -EPROTO;
}

static int decode_strategy(const json_t *o, struct ctl_strategy *st, char *errstr,
                           size_t errstr_size)
{
    const char *p = "strategy";
    int kind = 0, swap = 0, err;
    uint64_t u;
    ctl_strategy_default(st);
    if ((err = get_enum(o, p, "kind", true, ctl_kind_names, CTL_KIND_COUNT, &kind, errstr,
                        errstr_size)))
        return err;
    st->kind = (enum ctl_strategy_kind)kind;
    u = st->max_unavailable;
    if ((err = ju_uint(o, p, "max_unavailable", false, 1, 1000000, &u, errstr, errstr_size)))
        return err;
    st->max_unavailable = (uint32_t)u;
    u = st->canary_workers;
    if ((err = ju_uint(o, p, "canary_workers", false, 1, 1000000, &u, errstr, errstr_size)))
        return err;
    st->canary_workers = (uint32_t)u;
    u = st->bake_s;
    if ((err = ju_uint(o, p, "bake_s", false, 0, 30 * 86400, &u, errstr, errstr_size)))
        return err;
    st->bake_s = (uint32_t)u;
    u = st->lease_s;
    if ((err = ju_uint(o, p, "lease_s", false, 1, 7 * 86400, &u, errstr, errstr_size)))
        return err;
    st->lease_s = (uint32_t)u;
    /* Absent: a publication from before health windows existed; its rollout
     * was never meant to wait for rollout.healthy (replays fold as they did). */
    u = 0;
    if ((err = ju_uint(o, p, "health_s", false, 0, 86400, &u, errstr, errstr_size)))
        return err;
    st->health_s = (uint32_t)u;
    u = st->stall_s;
    if ((err = ju_uint(o, p, "stall_s", false, 1, 30 * 86400, &u, errstr, errstr_size)))
        return err;
    st->stall_s = (uint32_t)u;
    if ((err = ju_bool(o, p, "auto_promote", false, &st->auto_promote, errstr, errstr_size)) ||
        (err = ju_bool(o, p, "auto_rollback", false, &st->auto_rollback, errstr, errstr_size)))
        return err;
    if ((err = get_enum(o, p, "swap_mode", false, ctl_swap_names, CTL_SWAP_COUNT, &swap, errstr,
                        errstr_size)))
        return err;
    st->swap_mode = (enum ctl_swap_mode)swap;
    json_t *th = ju_child(o, p, "thresholds", JSON_OBJECT, false, &err, errstr, errstr_size);
    if (err)
        return err;
    if (th) {
        if ((err = ju_real(th, "strategy.thresholds", "max_error_rate", false, 0, 1,
                           &st->max_error_rate, errstr, errstr_size)) ||
            (err = ju_real(th, "strategy.thresholds", "max_p99_ratio", false, 1, 1e6,
                           &st->max_p99_ratio, errstr, errstr_size)))
            return err;
    }
    return 0;
}

static int decode_manifest_ref(const json_t *o, struct ctl_manifest_ref *m, char *errstr,
                               size_t errstr_size)
{
    const char *p = "manifest";
    int err;
    if ((err = ju_str(o, p, "bucket", true, m->bucket, sizeof(m->bucket), errstr, errstr_size)) ||
        (err = ju_str(o, p, "key", true, m->key, sizeof(m->key), errstr, errstr_size)) ||
        (err = ju_sha256(o, p, "sha256", true, m->sha256, errstr, errstr_size)) ||
        (err = ju_uint(o, p, "size", true, 1, INT64_MAX, &m->size, errstr, errstr_size)))
        return err;
    if (!m->bucket[0] || !m->key[0]) {
        kf_errf(errstr, errstr_size, "manifest.%s: must not be empty",
                m->bucket[0] ? "key" : "bucket");
        return -EPROTO;
    }
    return 0;
}

static int decode_u64_group(const json_t *o, const char *path, const char *const *names, int n,
                            uint64_t *dst, char *errstr, size_t errstr_size)
{
    for (int i = 0; i < n; i++) {
        int err = ju_uint(o, path, names[i], false, 0, INT64_MAX, &dst[i], errstr, errstr_size);
        if (err)
            return err;
    }
    return 0;
}

static int decode_models(const json_t *arr, struct ctl_event *ev, char *errstr, size_t errstr_size)
{
    size_t n = json_array_size(arr);
    if (n > CTL_MAX_MODELS) {
        kf_errf(errstr, errstr_size, "models: %zu entries, limit %d", n, CTL_MAX_MODELS);
        return -EPROTO;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *m = json_array_get(arr, i);
        char p[32];
        snprintf(p, sizeof(p), "models[%zu]", i);
        if (!json_is_object(m)) {
            kf_errf(errstr, errstr_size, "%s: expected an object", p);
            return -EPROTO;
        }
        int err;
        if ((err = ju_name(m, p, "model", true, ev->models[i].model, CTL_NAME_CAP, errstr,
                           errstr_size)) ||
            (err = ju_name(m, p, "version", false, ev->models[i].version, CTL_NAME_CAP, errstr,
                           errstr_size)))
            return err;
    }
    ev->n_models = n;
    return 0;
}

/* "key_id": 16 lower-case hex characters (common/crypto.h). */
static int decode_key_id(const json_t *j, struct ctl_event *ev, char *errstr, size_t errstr_size)
{
    int err = ju_str(j, "", "key_id", true, ev->key_id, CTL_KEY_ID_CAP, errstr, errstr_size);
    if (err)
        return err;
    bool ok = strlen(ev->key_id) == CTL_KEY_ID_CAP - 1;
    for (size_t i = 0; ok && ev->key_id[i]; i++)
        ok = (ev->key_id[i] >= '0' && ev->key_id[i] <= '9') ||
             (ev->key_id[i] >= 'a' && ev->key_id[i] <= 'f');
    if (!ok) {
        kf_errf(errstr, errstr_size, "key_id: expected 16 lower-case hex characters");
        return -EPROTO;
    }
    return 0;
}

/* "pubkey": standard base64 of a 32-byte Ed25519 public key. */
static int decode_pubkey(const json_t *j, struct ctl_event *ev, char *errstr, size_t errstr_size)
{
    int err = ju_str(j, "", "pubkey", true, ev->pubkey, CTL_PUBKEY_CAP, errstr, errstr_size);
    if (err)
        return err;
    uint8_t raw[CRYPTO_ED25519_KEY_LEN + 3];
    if (crypto_base64_decode(ev->pubkey, strlen(ev->pubkey), raw, sizeof(raw)) !=
        CRYPTO_ED25519_KEY_LEN) {
        kf_errf(errstr, errstr_size, "pubkey: expected base64 of a 32-byte Ed25519 public key");
        return -EPROTO;
    }
    return 0;
}

/* Decode the fields of ev->type from j. */
static int decode_fields(const json_t *j, struct ctl_event *ev, char *errstr, size_t errstr_size)
{
    enum ctl_type t = ev->type;
    int err = 0, e = 0;
    uint64_t u;
    if (has(t, FLD_MODEL) && (err = ju_name(j, "", "model", req(t, FLD_MODEL), ev->model,
                                            CTL_NAME_CAP, errstr, errstr_size)))
        return err;
    if (has(t, FLD_VERSION) && (err = ju_name(j, "", "version", req(t, FLD_VERSION), ev->version,
                                              CTL_NAME_CAP, errstr, errstr_size)))
        return err;
    if (has(t, FLD_WORKER) && (err = ju_id(j, "", "worker", req(t, FLD_WORKER), ev->worker,
                                           CTL_NAME_CAP, errstr, errstr_size)))
        return err;
    if (has(t, FLD_CLAIM_ID) && (err = ju_id(j, "", "claim_id", req(t, FLD_CLAIM_ID), ev->claim_id,
                                             CTL_NAME_CAP, errstr, errstr_size)))
        return err;
    if (has(t, FLD_REASON) && (err = ju_str(j, "", "reason", req(t, FLD_REASON), ev->reason,
                                            CTL_REASON_CAP, errstr, errstr_size)))
        return err;
    if (has(t, FLD_SEQ) &&
        (err = ju_uint(j, "", "seq", req(t, FLD_SEQ), 1, INT64_MAX, &ev->seq, errstr, errstr_size)))
        return err;
    if (has(t, FLD_CMD_SEQ) && (err = ju_uint(j, "", "cmd_seq", req(t, FLD_CMD_SEQ), 1, INT64_MAX,
                                              &ev->cmd_seq, errstr, errstr_size)))
        return err;
    if (has(t, FLD_BY) &&
        (err = ju_id(j, "", "by", req(t, FLD_BY), ev->by, CTL_NAME_CAP, errstr, errstr_size)))
        return err;
    if (has(t, FLD_KEY_ID) && (err = decode_key_id(j, ev, errstr, errstr_size)))
        return err;
    if (has(t, FLD_PUBKEY) && (err = decode_pubkey(j, ev, errstr, errstr_size)))
        return err;
    if (has(t, FLD_MANIFEST)) {
        json_t *m = ju_child(j, "", "manifest", JSON_OBJECT, true, &err, errstr, errstr_size);
        if (err || (err = decode_manifest_ref(m, &ev->manifest, errstr, errstr_size)))
            return err;
    }
    if (has(t, FLD_STRATEGY)) {
        json_t *s = ju_child(j, "", "strategy", JSON_OBJECT, true, &err, errstr, errstr_size);
        if (err || (err = decode_strategy(s, &ev->strategy, errstr, errstr_size)))
            return err;
    }
    if (has(t, FLD_ACTION)) {
        if ((err = get_enum(j, "", "action", true, ctl_action_names, CTL_ACTION_COUNT, &e, errstr,
                            errstr_size)))
            return err;
        ev->action = (enum ctl_action)e;
    }
    if (has(t, FLD_HOST) &&
        (err = ju_str(j, "", "host", false, ev->host, CTL_HOST_CAP, errstr, errstr_size)))
        return err;
    if (has(t, FLD_BACKEND) &&
        (err = ju_str(j, "", "backend", false, ev->backend, CTL_BACKEND_CAP, errstr, errstr_size)))
        return err;
    if (has(t, FLD_DEVICE) &&
        (err = ju_str(j, "", "device", false, ev->device, CTL_NAME_CAP, errstr, errstr_size)))
        return err;
    if (has(t, FLD_FREE_MEMORY)) {
        u = 0;
        if ((err = ju_uint(j, "", "free_memory", false, 0, INT64_MAX, &u, errstr, errstr_size)))
            return err;
        ev->free_memory = u;
    }
    if (has(t, FLD_MODELS)) {
        json_t *a = ju_child(j, "", "models", JSON_ARRAY, false, &err, errstr, errstr_size);
        if (err || (a && (err = decode_models(a, ev, errstr, errstr_size))))
            return err;
    }
    if (has(t, FLD_MODE)) {
        if ((err = get_enum(j, "", "mode", true, ctl_mode_names, CTL_MODE_COUNT, &e, errstr,
                            errstr_size)))
            return err;
        ev->mode = (enum ctl_mode)e;
    }
    if (has(t, FLD_TIMINGS)) {
        json_t *o = ju_child(j, "", "timings", JSON_OBJECT, false, &err, errstr, errstr_size);
        if (err || (o && (err = decode_u64_group(o, "timings", timing_names, 6,
                                                 &ev->timings.fetch_us, errstr, errstr_size))))
            return err;
    }
    if (has(t, FLD_STAGE)) {
        if ((err = get_enum(j, "", "stage", true, ctl_stage_names, CTL_STAGE_COUNT, &e, errstr,
                            errstr_size)))
            return err;
        ev->stage = (enum ctl_stage)e;
    }
    if (has(t, FLD_METRICS)) {
        json_t *o = ju_child(j, "", "metrics", JSON_OBJECT, false, &err, errstr, errstr_size);
        if (err || (o && (err = decode_u64_group(o, "metrics", metric_names, 4,
                                                 &ev->metrics.requests, errstr, errstr_size))))
            return err;
    }
    return 0;
}

int ctl_event_decode(const uint8_t *buf, size_t len, struct ctl_event *out, char *errstr,
                     size_t errstr_size)
{
    if (!buf || !out) {
        kf_errf(errstr, errstr_size, "control event: no buffer");
        return -EINVAL;
    }
    memset(out, 0, sizeof(*out));
    json_t *j;
    int err = ju_load(buf, len, CTL_EVENT_MAX_BYTES, "control event", &j, errstr, errstr_size);
    if (err)
        return err;
    uint64_t v = 0;
    char type[64];
    if ((err = ju_uint(j, "", "v", true, 0, UINT32_MAX, &v, errstr, errstr_size)))
        goto out;
    if (v != CTL_VERSION) {
        kf_errf(errstr, errstr_size, "v: unsupported version %llu (this code speaks %d)",
                (unsigned long long)v, CTL_VERSION);
        err = -EPROTO;
        goto out;
    }
    if ((err = ju_str(j, "", "type", true, type, sizeof(type), errstr, errstr_size)))
        goto out;
    if (ctl_type_from_str(type, &out->type)) {
        kf_errf(errstr, errstr_size, "type: unknown event type \"%s\"", type);
        err = -ENOMSG;
        goto out;
    }
    out->v = (uint32_t)v;
    ctl_strategy_default(&out->strategy);
    if ((err = ju_id(j, "", "event_id", true, out->event_id, CTL_NAME_CAP, errstr, errstr_size)))
        goto out;
    err = decode_fields(j, out, errstr, errstr_size);
out:
    json_decref(j);
    return err;
}

/* ---- encode ---- */

static void set_str(json_t *j, const char *key, const char *s, bool required, int *err)
{
    if (s[0] || required)
        ju_set(j, key, json_string(s), err);
}

static json_t *u64_group(const char *const *names, int n, const uint64_t *src, int *err)
{
    json_t *o = json_object();
    if (!o) {
        *err = -ENOMEM;
        return NULL;
    }
    for (int i = 0; i < n; i++)
        ju_set(o, names[i], json_integer((json_int_t)src[i]), err);
    return o;
}

json_t *ctl_strategy_json(const struct ctl_strategy *st, int *err)
{
    json_t *th = json_pack("{sfsf}", "max_error_rate", st->max_error_rate, "max_p99_ratio",
                           st->max_p99_ratio);
    json_t *o = json_object();
    if (!o || !th) {
        json_decref(th);
        json_decref(o);
        *err = -ENOMEM;
        return NULL;
    }
    ju_set(o, "kind", json_string(ctl_strategy_kind2str(st->kind)), err);
    ju_set(o, "max_unavailable", json_integer(st->max_unavailable), err);
    ju_set(o, "canary_workers", json_integer(st->canary_workers), err);
    ju_set(o, "bake_s", json_integer(st->bake_s), err);
    ju_set(o, "auto_promote", json_boolean(st->auto_promote), err);
    ju_set(o, "auto_rollback", json_boolean(st->auto_rollback), err);
    ju_set(o, "lease_s", json_integer(st->lease_s), err);
    ju_set(o, "health_s", json_integer(st->health_s), err);
    ju_set(o, "stall_s", json_integer(st->stall_s), err);
    ju_set(o, "thresholds", th, err);
    ju_set(o, "swap_mode", json_string(ctl_swap_mode2str(st->swap_mode)), err);
    return o;
}

static json_t *event_json(const struct ctl_event *ev, int *err)
{
    enum ctl_type t = ev->type;
    json_t *j = json_object();
    if (!j) {
        *err = -ENOMEM;
        return NULL;
    }
    ju_set(j, "v", json_integer(ev->v), err);
    ju_set(j, "type", json_string(ctl_type2str(t)), err);
    ju_set(j, "event_id", json_string(ev->event_id), err);
    if (has(t, FLD_MODEL))
        set_str(j, "model", ev->model, req(t, FLD_MODEL), err);
    if (has(t, FLD_VERSION))
        set_str(j, "version", ev->version, req(t, FLD_VERSION), err);
    if (has(t, FLD_WORKER))
        set_str(j, "worker", ev->worker, req(t, FLD_WORKER), err);
    if (has(t, FLD_CLAIM_ID))
        set_str(j, "claim_id", ev->claim_id, req(t, FLD_CLAIM_ID), err);
    if (has(t, FLD_REASON))
        set_str(j, "reason", ev->reason, req(t, FLD_REASON), err);
    if (has(t, FLD_SEQ) && (req(t, FLD_SEQ) || ev->seq))
        ju_set(j, "seq", json_integer((json_int_t)ev->seq), err);
    if (has(t, FLD_CMD_SEQ) && (req(t, FLD_CMD_SEQ) || ev->cmd_seq))
        ju_set(j, "cmd_seq", json_integer((json_int_t)ev->cmd_seq), err);
    if (has(t, FLD_BY))
        set_str(j, "by", ev->by, req(t, FLD_BY), err);
    if (has(t, FLD_KEY_ID))
        set_str(j, "key_id", ev->key_id, req(t, FLD_KEY_ID), err);
    if (has(t, FLD_PUBKEY))
        set_str(j, "pubkey", ev->pubkey, req(t, FLD_PUBKEY), err);
    if (has(t, FLD_MANIFEST))
        ju_set(j, "manifest",
               json_pack("{sssssssI}", "bucket", ev->manifest.bucket, "key", ev->manifest.key,
                         "sha256", ev->manifest.sha256, "size", (json_int_t)ev->manifest.size),
               err);
    if (has(t, FLD_STRATEGY))
        ju_set(j, "strategy", ctl_strategy_json(&ev->strategy, err), err);
    if (has(t, FLD_ACTION))
        ju_set(j, "action", json_string(ctl_action2str(ev->action)), err);
    if (has(t, FLD_HOST))
        set_str(j, "host", ev->host, false, err);
    if (has(t, FLD_BACKEND))
        set_str(j, "backend", ev->backend, false, err);
    if (has(t, FLD_DEVICE))
        set_str(j, "device", ev->device, false, err);
    if (has(t, FLD_FREE_MEMORY))
        ju_set(j, "free_memory", json_integer((json_int_t)ev->free_memory), err);
    if (has(t, FLD_MODELS)) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < ev->n_models && i < CTL_MAX_MODELS; i++) {
            json_t *m = json_object();
            if (m) {
                set_str(m, "model", ev->models[i].model, true, err);
                set_str(m, "version", ev->models[i].version, false, err);
            }
            if (!m || json_array_append_new(a, m))
                *err = -ENOMEM;
        }
        ju_set(j, "models", a, err);
    }
    if (has(t, FLD_MODE))
        ju_set(j, "mode", json_string(ctl_mode2str(ev->mode)), err);
    if (has(t, FLD_TIMINGS))
        ju_set(j, "timings", u64_group(timing_names, 6, &ev->timings.fetch_us, err), err);
    if (has(t, FLD_STAGE))
        ju_set(j, "stage", json_string(ctl_stage2str(ev->stage)), err);
    if (has(t, FLD_METRICS))
        ju_set(j, "metrics", u64_group(metric_names, 4, &ev->metrics.requests, err), err);
    return j;
}

int ctl_event_encode(const struct ctl_event *ev, kf_buf *out, char *errstr, size_t errstr_size)
{
    if (!ev || !out || (unsigned)ev->type >= CTL_TYPE_COUNT) {
        kf_errf(errstr, errstr_size, "control event: bad argument or type");
        return -EINVAL;
    }
    int err = 0;
    json_t *j = event_json(ev, &err);
    size_t start = out->len;
    if (!err)
        err = ju_dump(j, out);
    json_decref(j);
    if (err)
        return err;

    /* Refuse what a reader would refuse: decode the bytes just written. */
    struct ctl_event *check = malloc(sizeof(*check));
    if (!check) {
        out->len = start;
        return -ENOMEM;
    }
    err = ctl_event_decode(out->ptr + start, out->len - start, check, errstr, errstr_size);
    free(check);
    if (err) {
        out->len = start;
        return err == -ENOMEM ? err : -EINVAL;
    }
    return 0;
}
