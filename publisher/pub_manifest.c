/* The manifest of a push: built from the model file and the chunk digests,
 * written after every chunk, signed after that. */
#include "publisher/pub_push_impl.h"

#include "common/kf_err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void pub_version_key(char *key, size_t size, const char *model, const char *version,
                     const char *file)
{
    snprintf(key, size, "models/%s/%s/%s", model, version, file);
}

int pub_manifest_build(const struct pub_model *pm, const char *model, const char *version,
                       const char *weights_path, struct manifest **out, char *errstr,
                       size_t errstr_size)
{
    *out = NULL;
    struct manifest *m = manifest_new();
    if (!m)
        return -ENOMEM;
    snprintf(m->model, sizeof(m->model), "%s", model);
    snprintf(m->version, sizeof(m->version), "%s", version);
    m->seq = 1;
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(m->created_at, sizeof(m->created_at), "%Y-%m-%dT%H:%M:%SZ", &tm);
    m->dtype = pm->dtype;
    const char *base = strrchr(weights_path, '/');
    base = base ? base + 1 : weights_path;
    if (strlen(base) >= sizeof(m->source.name))
        base += strlen(base) - (sizeof(m->source.name) - 1); /* keep the end: the extension */
    snprintf(m->source.name, sizeof(m->source.name), "%s", base);
    m->source.size = pm->file_len;
    int err = manifest_set_tensors(m, pm->sf->tensors, pm->sf->n_tensors);
    if (!err)
        err = manifest_set_arch(m, &pm->arch);
    if (err) {
        manifest_free(m);
        return err;
    }
    /* Bind the copy to the copied table: the indexes are this table's. */
    enum schema_dtype dt;
    char msg[256];
    if ((err = arch_bind(&m->arch, m->tensors, m->n_tensors, &dt, msg, sizeof(msg)))) {
        kf_errf(errstr, errstr_size, "architecture: %s", msg);
        manifest_free(m);
        return err;
    }
    *out = m;
    return 0;
}

int pub_manifest_add_chunks(struct manifest *m, const struct pub_chunk *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int err = manifest_add_chunk(m, c[i].sha256, c[i].size);
        if (err)
            return err;
    }
    return 0;
}

static bool same_chunks(const struct manifest *a, const struct manifest *b)
{
    if (a->n_chunks != b->n_chunks || a->blob_size != b->blob_size)
        return false;
    for (size_t i = 0; i < a->n_chunks; i++)
        if (a->chunks[i].size != b->chunks[i].size ||
            strcmp(a->chunks[i].sha256, b->chunks[i].sha256))
            return false;
    return true;
}

int pub_manifest_check_absent(struct pub_ctx *pc, const char *key, const struct manifest *m,
                              bool *resume, char *errstr, size_t errstr_size)
{
    *resume = false;
    char msg[512];
    int err = objstore_head(pc->os, key, NULL, msg, sizeof(msg));
    if (err == -ENOENT)
        return 0;
    if (err) {
        kf_errf(errstr, errstr_size, "object store %s: %s", objstore_url(pc->os), msg);
        return err;
    }
    /* It is there but was never announced (the caller checked the log). */
    kf_buf b;
    kf_buf_init(&b);
    struct manifest *old = NULL;
    err = objstore_get(pc->os, key, &b, MANIFEST_MAX_BYTES, msg, sizeof(msg));
    if (err) {
        kf_errf(errstr, errstr_size, "object store %s: %s", objstore_url(pc->os), msg);
        kf_buf_fini(&b);
        return err;
    }
    bool same = !manifest_parse(b.ptr, b.len, &old, msg, sizeof(msg)) && same_chunks(old, m);
    manifest_free(old);
    kf_buf_fini(&b);
    if (same) {
        *resume = true;
        return 0;
    }
    kf_errf(errstr, errstr_size,
            "%s/%s already exists in %s but was never announced on this control topic "
            "(other weights, or another control topic): choose another version",
            m->model, m->version, objstore_url(pc->os));
    return -EEXIST;
}

/* Read @p key back and compare it with the @p len bytes at @p want: what a
 * worker will fetch is what was written, before anything names it. */
static int read_back(struct pub_ctx *pc, const char *key, const uint8_t *want, size_t len,
                     char *errstr, size_t errstr_size)
{
    char msg[512];
    kf_buf got;
    kf_buf_init(&got);
    int err = objstore_get(pc->os, key, &got, len + 1, msg, sizeof(msg));
    if (err == -EFBIG || (!err && (got.len != len || memcmp(got.ptr, want, len)))) {
        kf_errf(errstr, errstr_size,
                "%s in %s is not what was just written: someone else writes there; "
                "nothing was announced",
                key, objstore_url(pc->os));
        err = -EIO;
    } else if (err) {
        kf_errf(errstr, errstr_size, "reading back %s: %s", key, msg);
    }
    kf_buf_fini(&got);
    return err;
}

int pub_manifest_put(struct pub_ctx *pc, struct manifest *m, const char *key,
                     const struct crypto_ed25519_key *signer, kf_buf *bytes, char sha256[65],
                     char *errstr, size_t errstr_size)
{
    char msg[512];
    kf_buf_reset(bytes);
    int err = manifest_encode(m, bytes, msg, sizeof(msg));
    if (err) {
        kf_errf(errstr, errstr_size, "manifest: %s", msg);
        return err;
    }
    if ((err = crypto_sha256_hex(bytes->ptr, bytes->len, sha256)))
        return err;
    if ((err = objstore_put(pc->os, key, bytes->ptr, bytes->len, msg, sizeof(msg)))) {
        kf_errf(errstr, errstr_size, "upload %s: %s", key, msg);
        return err;
    }
    kf_buf sig;
    kf_buf_init(&sig);
    char sig_key[640];
    snprintf(sig_key, sizeof(sig_key), "%.*s.sig", (int)(strlen(key) - strlen(".json")), key);
    if (signer) {
        err = manifest_sig_encode(signer, bytes->ptr, bytes->len, &sig);
        if (err)
            kf_errf(errstr, errstr_size, "signing the manifest: %s", kf_strerror(err));
        else if ((err = objstore_put(pc->os, sig_key, sig.ptr, sig.len, msg, sizeof(msg))))
            kf_errf(errstr, errstr_size, "upload %s: %s", sig_key, msg);
    }
    if (!err)
        err = read_back(pc, key, bytes->ptr, bytes->len, errstr, errstr_size);
    if (!err && signer)
        err = read_back(pc, sig_key, sig.ptr, sig.len, errstr, errstr_size);
    kf_buf_fini(&sig);
    return err;
}
