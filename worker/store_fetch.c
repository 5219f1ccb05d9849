/* store_fetch and store_fetch_cached: the manifest, its checks, the chunk
 * phase, and the index commit. */
#include "worker/store_impl.h"

#include "common/kf_clock.h"
#include "common/kf_err.h"
#include "common/kf_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool hex64_valid(const char *s)
{
    size_t i = 0;
    for (; s[i] && i <= CRYPTO_SHA256_HEX_LEN; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return i == CRYPTO_SHA256_HEX_LEN;
}

static bool name_ok(const char *s)
{
    return s && schema_name_valid(s, strlen(s));
}

/* What a fetch-stage failure means for an operator reading rollout.failed. */
static const char *fetch_cause(int err)
{
    switch (err) {
    case -ECONNREFUSED:
    case -EHOSTUNREACH:
    case -ENETUNREACH: return "object store unreachable";
    case -ETIMEDOUT: return "object store too slow (deadline passed)";
    case -ECONNRESET:
    case -EAGAIN: return "object store failing";
    case -ENOENT: return "object missing from the store";
    case -EACCES: return "object store refused the credentials";
    case -ENOMEM: return "out of memory";
    default: return "object store error";
    }
}

/* Allocate the blob, pin the manifest and run the chunk phase. */
static int fill_blob(model_store *st, struct store_version *sv, enum store_chunk_source src,
                     int64_t deadline_us, store_verified_fn *on_verified, void *ctx,
                     enum ctl_stage *stage, char *errstr, size_t errstr_size)
{
    const struct manifest *m = sv->manifest;
    *stage = CTL_STAGE_FETCH;
    if (m->blob_size > st->max_blob || m->blob_size > SIZE_MAX) {
        kf_errf(errstr, errstr_size, "%s/%s: weights blob of %llu bytes exceeds the limit of %llu",
                sv->model, sv->version, (unsigned long long)m->blob_size,
                (unsigned long long)st->max_blob);
        return -EFBIG;
    }
    sv->blob_size = (size_t)m->blob_size;
    if (!(sv->blob = store_blob_alloc(sv->blob_size))) {
        kf_errf(errstr, errstr_size, "%s/%s: cannot allocate %zu bytes for the weights", sv->model,
                sv->version, sv->blob_size);
        return -ENOMEM;
    }
    int err = store_pin(st, m);
    if (err) {
        kf_errf(errstr, errstr_size, "out of memory");
        return err;
    }
    err = store_chunks_fill(st, sv, src, deadline_us, on_verified, ctx, stage, errstr, errstr_size);
    store_unpin(st, m);
    return err;
}

static void sig_key_of(const char *key, char *out, size_t size)
{
    const char *slash = strrchr(key, '/');
    int dir = slash ? (int)(slash - key + 1) : 0;
    store_pathf(out, size, "%.*smanifest.sig", dir, key);
}

static void check_bucket(model_store *st, const struct ctl_manifest_ref *ref)
{
    const char *url = objstore_url(st->os);
    if (ref->bucket[0] && !strncmp(url, "s3://", 5) && strcmp(url + 5, ref->bucket))
        KF_LOG_W(STORE_MOD, "manifest announced in bucket %s; this worker reads %s", ref->bucket,
                 url);
}

/* Manifest + signature bytes: from the cache index when it holds exactly the
 * announced manifest, else from the object store. */
static int get_manifest(model_store *st, const char *model, const char *version,
                        const struct ctl_manifest_ref *ref, int64_t t0, int64_t deadline_us,
                        kf_buf *man, kf_buf *sig, struct store_version *sv, enum ctl_stage *stage,
                        char *errstr, size_t errstr_size)
{
    char hex[CRYPTO_SHA256_HEX_LEN + 1];
    if (!store_index_get(st, model, version, man, sig) &&
        !crypto_sha256_hex(man->ptr, man->len, hex) && !strcmp(hex, ref->sha256)) {
        sv->counts.manifest_cached = true;
        return 0;
    }
    kf_buf_reset(man);
    kf_buf_reset(sig);
    check_bucket(st, ref);

    char key[CTL_KEY_CAP + 32], sig_key[CTL_KEY_CAP + 32], why[512];
    if (ref->key[0])
        store_pathf(key, sizeof(key), "%s", ref->key);
    else
        store_pathf(key, sizeof(key), "models/%s/%s/manifest.json", model, version);
    sig_key_of(key, sig_key, sizeof(sig_key));
    size_t max =
        ref->size && ref->size < MANIFEST_MAX_BYTES ? (size_t)ref->size : MANIFEST_MAX_BYTES;
    int err = store_get_small(st, key, man, max, deadline_us, why, sizeof(why));
    if (err == -EFBIG) {
        *stage = CTL_STAGE_VERIFY;
        kf_errf(errstr, errstr_size, "manifest %s is larger than the %zu bytes announced", key,
                max);
        return -EBADMSG;
    }
    if (!err) {
        err = store_get_small(st, sig_key, sig, 4096, deadline_us, why, sizeof(why));
        if (err == -ENOENT) {
            kf_buf_reset(sig); /* store_manifest_verify reports it unsigned */
            err = 0;
        } else if (err == -EFBIG) {
            *stage = CTL_STAGE_VERIFY;
            kf_errf(errstr, errstr_size, "%s: larger than 4096 bytes", sig_key);
            return -EPROTO;
        }
    }
    if (err) {
        *stage = CTL_STAGE_FETCH;
        kf_errf(errstr, errstr_size, "%s: %s (gave up after %lld ms; deadline %d ms)",
                fetch_cause(err), why, (long long)((kf_clock_mono_us() - t0) / 1000),
                st->deadline_ms);
    }
    return err;
}

int store_fetch(model_store *st, const char *model, const char *version,
                const struct ctl_manifest_ref *ref, struct store_version **out,
                enum ctl_stage *failed_stage, char *errstr, size_t errstr_size)
{
    return store_fetch_progress(st, model, version, ref, NULL, NULL, out, failed_stage, errstr,
                                errstr_size);
}

int store_fetch_progress(model_store *st, const char *model, const char *version,
                         const struct ctl_manifest_ref *ref, store_verified_fn *on_verified,
                         void *ctx, struct store_version **out, enum ctl_stage *failed_stage,
                         char *errstr, size_t errstr_size)
{
    enum ctl_stage stage_local, *stage = failed_stage ? failed_stage : &stage_local;
    *stage = CTL_STAGE_FETCH;
    if (out)
        *out = NULL;
    if (!st || !name_ok(model) || !name_ok(version) || !ref || !out || !hex64_valid(ref->sha256)) {
        kf_errf(errstr, errstr_size,
                "store_fetch: bad argument (model, version, or the "
                "manifest reference's sha256)");
        return -EINVAL;
    }
    const int64_t t0 = kf_clock_mono_us(), deadline = t0 + (int64_t)st->deadline_ms * 1000;
    kf_buf man, sig;
    kf_buf_init(&man);
    kf_buf_init(&sig);
    char why[768];
    int err;
    struct store_version *sv = calloc(1, sizeof(*sv));
    if (!sv) {
        kf_errf(errstr, errstr_size, "out of memory");
        err = -ENOMEM;
        goto out;
    }
    if ((err = get_manifest(st, model, version, ref, t0, deadline, &man, &sig, sv, stage, errstr,
                            errstr_size)))
        goto out;
    int64_t t1 = kf_clock_mono_us();
    if ((err = store_manifest_verify(st, &man, &sig, ref->sha256, model, version, sv, why,
                                     sizeof(why)))) {
        *stage = CTL_STAGE_VERIFY;
        kf_errf(errstr, errstr_size, "%s/%s: %s", model, version, why);
        goto out;
    }
    /* Only now, with the manifest's digest, signature and rules checked, is any chunk read:
     * the chunk digests that on_verified's prefix is checked against are the signed ones. */
    int64_t t2 = kf_clock_mono_us();
    if ((err = fill_blob(st, sv, STORE_FROM_CACHE_OR_REMOTE, deadline, on_verified, ctx, stage, why,
                         sizeof(why)))) {
        if (*stage == CTL_STAGE_FETCH && err != -EFBIG && err != -ENOMEM)
            kf_errf(errstr, errstr_size, "%s/%s: %s: %s (gave up after %lld ms; deadline %d ms)",
                    model, version, fetch_cause(err), why,
                    (long long)((kf_clock_mono_us() - t0) / 1000), st->deadline_ms);
        else
            kf_errf(errstr, errstr_size, "%s/%s: %s", model, version, why);
        goto out;
    }
    int64_t t3 = kf_clock_mono_us();

    pthread_mutex_lock(&st->lock);
    if (!sv->counts.manifest_cached &&
        store_index_put(st, model, version, &man, &sig, why, sizeof(why)))
        KF_LOG_W(STORE_MOD, "cache index: %s", why);
    store_evict(st, model, version);
    pthread_mutex_unlock(&st->lock);

    sv->timings.fetch_us = (uint64_t)((t1 - t0) + (t3 - t2));
    sv->timings.verify_us = (uint64_t)(t2 - t1) + sv->timings.hash_us;
    sv->timings.total_us = (uint64_t)(kf_clock_mono_us() - t0);
    KF_LOG_I(STORE_MOD,
             "%s/%s (seq %llu, signed by %s): %u chunks fetched (%llu bytes), %u reused "
             "(%llu bytes)%s in %llu ms",
             model, version, (unsigned long long)sv->seq, sv->key_id, sv->counts.chunks_fetched,
             (unsigned long long)sv->counts.bytes_fetched, sv->counts.chunks_reused,
             (unsigned long long)sv->counts.bytes_reused,
             sv->counts.chunks_corrupt ? ", corrupt cache files replaced" : "",
             (unsigned long long)(sv->timings.total_us / 1000));
    *out = sv;
    sv = NULL;
out:
    store_version_free(sv);
    kf_buf_fini(&man);
    kf_buf_fini(&sig);
    return err;
}

/* One cached version, re-verified from the cache alone. */
static int cached_one(model_store *st, const char *model, const char *version,
                      const char *expect_sha256, struct store_version **out, enum ctl_stage *stage,
                      char *errstr, size_t errstr_size)
{
    const int64_t t0 = kf_clock_mono_us();
    kf_buf man, sig;
    kf_buf_init(&man);
    kf_buf_init(&sig);
    char why[768];
    int err;
    *stage = CTL_STAGE_FETCH;
    struct store_version *sv = calloc(1, sizeof(*sv));
    if (!sv) {
        err = -ENOMEM;
        kf_errf(errstr, errstr_size, "out of memory");
        goto out;
    }
    if ((err = store_index_get(st, model, version, &man, &sig))) {
        kf_errf(errstr, errstr_size, "%s/%s: not in the cache (%s)", model, version,
                err == -ENOENT ? "no index entry" : strerror(-err));
        if (err != -ENOENT && err != -ENOMEM)
            err = -EIO;
        goto out;
    }
    sv->counts.manifest_cached = true;
    int64_t t1 = kf_clock_mono_us();
    if ((err = store_manifest_verify(st, &man, &sig, expect_sha256, model, version, sv, why,
                                     sizeof(why)))) {
        *stage = CTL_STAGE_VERIFY;
        kf_errf(errstr, errstr_size, "%s/%s (cached): %s", model, version, why);
        goto out;
    }
    int64_t t2 = kf_clock_mono_us();
    if ((err = fill_blob(st, sv, STORE_FROM_CACHE_ONLY, INT64_MAX, NULL, NULL, stage, errstr,
                         errstr_size)))
        goto out;
    int64_t t3 = kf_clock_mono_us();
    sv->timings.fetch_us = (uint64_t)((t1 - t0) + (t3 - t2));
    sv->timings.verify_us = (uint64_t)(t2 - t1) + sv->timings.hash_us;
    sv->timings.total_us = (uint64_t)(t3 - t0);
    *out = sv;
    sv = NULL;
out:
    store_version_free(sv);
    kf_buf_fini(&man);
    kf_buf_fini(&sig);
    return err;
}

int store_fetch_cached(model_store *st, const char *model, const char *version,
                       const char *expect_sha256, struct store_version **out,
                       enum ctl_stage *failed_stage, char *errstr, size_t errstr_size)
{
    enum ctl_stage stage_local, *stage = failed_stage ? failed_stage : &stage_local;
    *stage = CTL_STAGE_FETCH;
    if (out)
        *out = NULL;
    if (!st || !name_ok(model) || (version && !name_ok(version)) || !out ||
        (version && expect_sha256 && !hex64_valid(expect_sha256))) {
        kf_errf(errstr, errstr_size, "store_fetch_cached: bad argument");
        return -EINVAL;
    }
    if (version)
        return cached_one(st, model, version, expect_sha256, out, stage, errstr, errstr_size);

    struct store_index_entry *e;
    pthread_mutex_lock(&st->lock);
    int n = store_index_list(st, model, &e);
    pthread_mutex_unlock(&st->lock);
    if (n < 0) {
        kf_errf(errstr, errstr_size, "%s: cannot read the cache index: %s", model, strerror(-n));
        return n;
    }
    int first_err = -ENOENT;
    bool have_first = false;
    enum ctl_stage first_stage = CTL_STAGE_FETCH;
    char first_why[768];
    kf_errf(first_why, sizeof(first_why), "no cached version of %s", model);
    for (int i = 0; i < n; i++) {
        if (!e[i].m)
            continue;
        char why[768];
        enum ctl_stage s;
        int err = cached_one(st, model, e[i].version, NULL, out, &s, why, sizeof(why));
        if (!err) {
            if (have_first)
                KF_LOG_W(STORE_MOD, "%s: using cached %s (seq %llu): newer ones do not verify",
                         model, e[i].version, (unsigned long long)e[i].seq);
            store_index_entries_free(e, (size_t)n);
            return 0;
        }
        KF_LOG_W(STORE_MOD, "cached %s/%s does not verify: %s", model, e[i].version, why);
        if (!have_first) {
            have_first = true;
            first_err = err;
            first_stage = s;
            kf_errf(first_why, sizeof(first_why),
                    "no cached version of %s verifies; newest (%s): %s", model, e[i].version, why);
        }
    }
    store_index_entries_free(e, (size_t)n);
    *stage = first_stage;
    kf_errf(errstr, errstr_size, "%s", first_why);
    return first_err;
}
