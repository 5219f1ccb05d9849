/* Read-back verification: the chain of trust a worker walks before it
 * serves a version (ARCHITECTURE §3), from the publisher's side, so an
 * operator (and the tests) can check a version without a worker. */
#include "publisher/pub_ops.h"

#include "common/kf_err.h"
#include "publisher/pub_chunk.h"
#include "publisher/pub_control.h"
#include "publisher/pub_golden.h"
#include "schema/manifest.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FETCHERS 64

struct fetch_job {
    objstore *os;
    const struct manifest *m;
    uint8_t *blob;
    atomic_size_t next;
    atomic_size_t bad; /* chunks whose digest differs */
    atomic_int err;    /* the first store error */
    atomic_size_t first_bad;
    char errstr[512];
    pthread_mutex_t lock;
};

static void *fetch_thread(void *arg)
{
    struct fetch_job *j = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->m->n_chunks || atomic_load(&j->err))
            return NULL;
        const struct manifest_chunk *c = &j->m->chunks[i];
        char key[PUB_CHUNK_KEY_LEN], msg[400], hex[65];
        pub_chunk_key(c->sha256, key);
        int err = objstore_get_range(j->os, key, 0, (size_t)c->size, j->blob + c->offset, msg,
                                     sizeof(msg));
        if (err) {
            pthread_mutex_lock(&j->lock);
            if (!atomic_load(&j->err)) {
                atomic_store(&j->err, err);
                snprintf(j->errstr, sizeof(j->errstr), "%s: %s", key, msg);
            }
            pthread_mutex_unlock(&j->lock);
            return NULL;
        }
        crypto_sha256_hex(j->blob + c->offset, (size_t)c->size, hex);
        if (strcmp(hex, c->sha256)) {
            size_t expected = SIZE_MAX;
            atomic_compare_exchange_strong(&j->first_bad, &expected, i);
            atomic_fetch_add(&j->bad, 1);
        }
    }
}

static void line(FILE *out, bool ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void line(FILE *out, bool ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(out, "%-4s ", ok ? "ok" : "FAIL");
    vfprintf(out, fmt, ap);
    fputc('\n', out);
    va_end(ap);
}

int pub_verify_version(struct pub_ctx *pc, const char *model, const char *version, char *errstr,
                       size_t errstr_size)
{
    FILE *out = pc->out;
    pub_log *lg = NULL;
    kf_buf mb, sb;
    kf_buf_init(&mb);
    kf_buf_init(&sb);
    struct manifest *m = NULL;
    uint8_t *blob = NULL;
    char msg[1024];
    int failed = 0;
    const crypto_keyring *kr = pub_ctx_keyring(pc, errstr, errstr_size);
    if (!kr)
        return -ENOKEY;
    int err = pub_store(pc, errstr, errstr_size);
    if (!err && !(err = pub_log_open(pc, &lg, errstr, errstr_size)))
        err = pub_log_catch_up(lg, -1, errstr, errstr_size);
    if (err)
        goto out;
    struct fleet_version_info vi;
    if (fleet_version_get(pub_log_state(lg), model, version, &vi)) {
        kf_errf(errstr, errstr_size, "%s/%s is not an accepted version on %s", model, version,
                pc->cfg.topic_control);
        err = -ENOENT;
        goto out;
    }
    const struct pub_record *r = pub_log_record_at(lg, vi.offset);
    bool ok = r && r->sig == CTL_SIG_OK;
    failed += !ok;
    line(out, ok,
         "announcement: model.published seq %" PRIu64 " at offset %" PRId64
         ", signature %s (key %s)",
         vi.seq, vi.offset, r ? ctl_sig_verdict2str(r->sig) : "?", r ? r->key_id : "?");

    const struct ctl_manifest_ref *ref = vi.manifest;
    err = objstore_get(pc->os, ref->key, &mb, MANIFEST_MAX_BYTES, msg, sizeof(msg));
    if (err) {
        kf_errf(errstr, errstr_size, "manifest %s: %s", ref->key, msg);
        goto out;
    }
    char hex[65];
    crypto_sha256_hex(mb.ptr, mb.len, hex);
    ok = !strcmp(hex, ref->sha256) && mb.len == ref->size;
    failed += !ok;
    line(out, ok, "manifest: %s, %zu bytes, sha256 %s %s the announced %s", ref->key, mb.len, hex,
         ok ? "==" : "!=", ref->sha256);

    char sig_key[CTL_KEY_CAP + 8];
    snprintf(sig_key, sizeof(sig_key), "%.*s.sig", (int)(strlen(ref->key) - 5), ref->key);
    err = objstore_get(pc->os, sig_key, &sb, 4096, msg, sizeof(msg));
    if (err && err != -ENOENT) {
        kf_errf(errstr, errstr_size, "%s: %s", sig_key, msg);
        goto out;
    }
    char key_id[CRYPTO_KEY_ID_LEN + 1] = "";
    enum ctl_sig_verdict sv =
        manifest_sig_verify(err ? NULL : sb.ptr, sb.len, mb.ptr, mb.len, kr, key_id);
    err = 0;
    failed += sv != CTL_SIG_OK;
    line(out, sv == CTL_SIG_OK, "manifest.sig: %s (key %s)", ctl_sig_verdict2str(sv),
         key_id[0] ? key_id : "-");

    if (manifest_parse(mb.ptr, mb.len, &m, msg, sizeof(msg))) {
        line(out, false, "manifest does not parse: %s", msg);
        err = -EBADMSG;
        goto out;
    }
    ok = !strcmp(m->model, model) && !strcmp(m->version, version) && m->seq == vi.seq;
    failed += !ok;
    line(out, ok, "manifest names %s/%s seq %" PRIu64, m->model, m->version, m->seq);

    blob = malloc(m->blob_size ? m->blob_size : 1);
    if (!blob) {
        err = -ENOMEM;
        goto out;
    }
    struct fetch_job j = {.os = pc->os, .m = m, .blob = blob, .first_bad = SIZE_MAX};
    pthread_mutex_init(&j.lock, NULL);
    unsigned nt = pc->cfg.upload_parallel;
    nt = nt > MAX_FETCHERS ? MAX_FETCHERS : nt < 1 ? 1 : nt;
    pthread_t t[MAX_FETCHERS];
    unsigned started = 0;
    for (; started + 1 < nt && started + 1 < m->n_chunks; started++)
        if (pthread_create(&t[started], NULL, fetch_thread, &j))
            break;
    fetch_thread(&j);
    for (unsigned i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    pthread_mutex_destroy(&j.lock);
    if ((err = atomic_load(&j.err))) {
        kf_errf(errstr, errstr_size, "fetching chunks: %s", j.errstr);
        goto out;
    }
    size_t bad = atomic_load(&j.bad);
    failed += bad != 0;
    if (bad)
        line(out, false, "chunks: %zu of %zu do not hash to their digest (first: %zu, %s)", bad,
             m->n_chunks, atomic_load(&j.first_bad), m->chunks[atomic_load(&j.first_bad)].sha256);
    else
        line(out, true, "chunks: %zu, %" PRIu64 " bytes, each hashes to its digest", m->n_chunks,
             m->blob_size);

    size_t bad_index = 0;
    int gerr =
        bad ? -EBADMSG : pub_golden_reproduce(m, blob, m->blob_size, &bad_index, msg, sizeof(msg));
    failed += gerr != 0;
    if (bad)
        line(out, false, "golden vectors: not checked (corrupt chunks)");
    else if (gerr)
        line(out, false, "golden vectors: %s", msg);
    else
        line(out, true,
             "golden vectors: %" PRIu64 " rows reproduce with the reference backend "
             "(atol %g, rtol %g)",
             m->golden.rows, m->golden.atol, m->golden.rtol);
    if (failed) {
        kf_errf(errstr, errstr_size, "%s/%s: %d check%s failed", model, version, failed,
                failed == 1 ? "" : "s");
        err = -EBADMSG;
    }
out:
    free(blob);
    manifest_free(m);
    kf_buf_fini(&mb);
    kf_buf_fini(&sb);
    pub_log_free(lg);
    return err;
}

int pub_verify_log(struct pub_ctx *pc, const char *model, size_t *n_bad, char *errstr,
                   size_t errstr_size)
{
    if (n_bad)
        *n_bad = 0;
    if (!pub_ctx_keyring(pc, errstr, errstr_size))
        return -ENOKEY;
    pub_log *lg = NULL;
    int err = pub_log_open(pc, &lg, errstr, errstr_size);
    if (!err)
        err = pub_log_catch_up(lg, -1, errstr, errstr_size);
    if (err) {
        pub_log_free(lg);
        return err;
    }
    const struct pub_record *rec;
    size_t n = pub_log_records(lg, &rec), bad = 0;
    for (size_t i = 0; i < n; i++) {
        const struct ctl_event *ev = &rec[i].ev;
        if (model && strcmp(ev->model, model))
            continue;
        bool ok = rec[i].sig == CTL_SIG_OK;
        bad += !ok;
        char what[64];
        snprintf(what, sizeof(what), "%s",
                 ev->type == CTL_ROLLOUT_COMMAND ? ctl_action2str(ev->action) : "published");
        line(pc->out, ok, "offset %" PRId64 " %s %s %s%s%s: signature %s (key %s); fleet: %s",
             rec[i].offset, ctl_type2str(ev->type), ev->model, what, ev->version[0] ? " " : "",
             ev->version, ctl_sig_verdict2str(rec[i].sig), rec[i].key_id[0] ? rec[i].key_id : "-",
             fleet_verdict2str(rec[i].res.verdict));
    }
    if (n_bad)
        *n_bad = bad;
    pub_log_free(lg);
    if (bad) {
        kf_errf(errstr, errstr_size, "%zu event%s not signed by a trusted key", bad,
                bad == 1 ? " is" : "s are");
        return -EBADMSG;
    }
    return 0;
}
