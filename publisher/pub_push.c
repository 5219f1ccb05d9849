/* publish-model push: from a safetensors file to an announced version.
 * The order of the steps is the design; pub_push.h says why. */
#include "publisher/pub_push_impl.h"

#include "common/kf_text.h"
#include "common/kf_clock.h"
#include "common/kf_err.h"
#include "common/kf_log.h"
#include "publisher/pub_control.h"
#include "publisher/pub_golden.h"
#if KFLEET_TEST_HOOKS
#include "publisher/pub_test_hooks.h"
#endif

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEQ_RACE_TRIES 5

/* The digest of the whole source file runs beside the upload: the manifest
 * needs it only when it is written. */
struct source_hash {
    const uint8_t *data;
    size_t len;
    char hex[65];
    int err;
};

static void *source_hash_thread(void *arg)
{
    struct source_hash *s = arg;
    s->err = crypto_sha256_hex(s->data, s->len, s->hex);
    return NULL;
}

static uint64_t since(int64_t t0)
{
    return (uint64_t)(kf_clock_mono_us() - t0);
}

/* The announcement, checked once before any work: a strategy the encoder
 * refuses must fail before anything is uploaded. */
static void event_fill(struct ctl_event *ev, const struct pub_push_opts *o,
                       const struct pub_push_result *res, const char *bucket)
{
    ctl_event_init(ev, CTL_MODEL_PUBLISHED);
    pub_event_id(ev->event_id, "publish");
    snprintf(ev->model, sizeof(ev->model), "%s", o->model);
    snprintf(ev->version, sizeof(ev->version), "%s", o->version);
    ev->seq = res->seq ? res->seq : 1;
    snprintf(ev->manifest.bucket, sizeof(ev->manifest.bucket), "%s", bucket);
    snprintf(ev->manifest.key, sizeof(ev->manifest.key), "%s", res->manifest_key);
    snprintf(ev->manifest.sha256, sizeof(ev->manifest.sha256), "%s",
             res->manifest_sha256[0]
                 ? res->manifest_sha256
                 : "0000000000000000000000000000000000000000000000000000000000000000");
    ev->manifest.size = res->manifest_bytes ? res->manifest_bytes : 1;
    ev->strategy = o->strategy;
}

/* The bucket as the event names it: s3://BUCKET → BUCKET. A file:// store
 * has no bucket; the event still needs one, and the worker only compares it
 * with its own s3:// store, so the directory's last component stands in. */
static void event_bucket(const char *url, char *out, size_t size)
{
    if (!strncmp(url, "s3://", 5)) {
        snprintf(out, size, "%s", url + 5);
        return;
    }
    const char *end = url + strlen(url);
    while (end > url && end[-1] == '/')
        end--;
    const char *b = end;
    while (b > url && b[-1] != '/')
        b--;
    snprintf(out, size, "%.*s", (int)(end - b) < 63 ? (int)(end - b) : 63, b);
    if (!out[0])
        snprintf(out, size, "file");
}

static int check_opts(struct pub_ctx *pc, const struct pub_push_opts *o, char *errstr,
                      size_t errstr_size)
{
    if (!o->model || !schema_name_valid(o->model, strlen(o->model))) {
        kf_errf(errstr, errstr_size, "model name '%s': want " SCHEMA_NAME_RULE,
                o->model ? o->model : "");
        return -EINVAL;
    }
    if (!o->version || !schema_name_valid(o->version, strlen(o->version))) {
        kf_errf(errstr, errstr_size, "version '%s': want " SCHEMA_NAME_RULE,
                o->version ? o->version : "");
        return -EINVAL;
    }
    if (!o->weights_path) {
        kf_errf(errstr, errstr_size, "push needs --weights FILE.safetensors");
        return -EINVAL;
    }
    if (o->dry_run)
        return 0;
    if (!pc->have_key) {
        kf_errf(
            errstr, errstr_size,
            "push needs --key PRIVATE.key to sign the version (publish-model keygen makes one)");
        return -ENOKEY;
    }
    if (pc->trusted && !crypto_keyring_find(pc->trusted, pc->key.key_id, strlen(pc->key.key_id))) {
        kf_errf(errstr, errstr_size,
                "key %s is not in trusted_keys %s: workers would refuse this version",
                pc->key.key_id, pc->cfg.trusted_keys);
        return -EKEYREJECTED;
    }
    return 0;
}

/* Where the model stands on the log: its seq, and whether the version is
 * taken. */
static int log_seq(pub_log *lg, const struct pub_push_opts *o, uint64_t *seq, char *errstr,
                   size_t errstr_size)
{
    fleet_state *fs = pub_log_state(lg);
    struct fleet_version_info vi;
    if (!fleet_version_get(fs, o->model, o->version, &vi)) {
        kf_errf(errstr, errstr_size,
                "%s/%s was already published (seq %" PRIu64 ", offset %" PRId64 "): "
                "versions are immutable, choose another",
                o->model, o->version, vi.seq, vi.offset);
        return -EEXIST;
    }
    struct fleet_model_info mi;
    *seq = fleet_model_get(fs, o->model, &mi) ? 0 : mi.seq;
    return 0;
}

/* Announcements of the model signed by a key this push cannot check: another
 * publisher's (then trusted_keys is missing here and our seq may be lower
 * than the workers'), or a forger's (then ignoring it is right). Without
 * trusted_keys we cannot tell them apart: say so once, naming the key. */
static void warn_unknown_keys(struct pub_ctx *pc, pub_log *lg, const char *model, uint64_t seq)
{
    if (pc->trusted)
        return; /* the workers' keys: an unknown one is an intruder (audit flags it) */
    const struct pub_record *r;
    size_t n = pub_log_records(lg, &r);
    const struct pub_record *top = NULL;
    for (size_t i = 0; i < n; i++)
        if (r[i].ev.type == CTL_MODEL_PUBLISHED && r[i].sig == CTL_SIG_UNKNOWN_KEY &&
            !strcmp(r[i].ev.model, model) && r[i].ev.seq > seq &&
            (!top || r[i].ev.seq > top->ev.seq))
            top = &r[i];
    if (top)
        KF_LOG_W("publish",
                 "%s: ignoring model.published seq %" PRIu64 " at offset %" PRId64
                 " signed by key %s, which is not this push's: without trusted_keys only "
                 "this key's announcements count. If %s is a trusted publisher, give "
                 "-X trusted_keys=FILE (the workers' file) so the seq counts it",
                 model, top->ev.seq, top->offset, top->key_id, top->key_id);
}

static const struct pub_push_faults no_faults;

/* The faults a test asked for; none at all outside a test build. */
static const struct pub_push_faults *push_faults(const struct pub_push_opts *o)
{
#if KFLEET_TEST_HOOKS
    if (o->faults)
        return o->faults;
#endif
    return &no_faults;
}

int pub_push(struct pub_ctx *pc, const struct pub_push_opts *o, struct pub_push_result *res,
             char *errstr, size_t errstr_size)
{
    const struct pub_push_faults *f = push_faults(o);
    memset(res, 0, sizeof(*res));
    res->offset = -1;
    res->verdict = FLEET_IGNORED;
    int64_t t_start = kf_clock_mono_us();
    struct pub_model pm = {0};
    struct manifest *m = NULL;
    struct pub_chunk *chunks = NULL;
    size_t n_chunks = 0;
    pub_log *lg = NULL;
    kf_buf mbytes;
    kf_buf_init(&mbytes);
    struct source_hash sh = {0};
    pthread_t sh_thread;
    bool sh_running = false;
    char msg[1024];
    int err = check_opts(pc, o, errstr, errstr_size);
    if (err)
        return err;
    uint64_t chunk_size = o->chunk_size ? o->chunk_size : pc->cfg.chunk_size;
    snprintf(res->model, sizeof(res->model), "%s", o->model);
    snprintf(res->version, sizeof(res->version), "%s", o->version);
    snprintf(res->store, sizeof(res->store), "%s", pub_store_url(pc));
    snprintf(res->topic, sizeof(res->topic), "%s", pc->cfg.topic_control);
    pub_version_key(res->manifest_key, sizeof(res->manifest_key), o->model, o->version,
                    "manifest.json");
    const struct crypto_ed25519_key *mkey = f->manifest_key ? f->manifest_key : &pc->key;
    const struct crypto_ed25519_key *ekey = f->unsigned_event ? NULL
                                            : f->event_key    ? f->event_key
                                                              : &pc->key;
    snprintf(res->key_id, sizeof(res->key_id), "%s", pc->have_key ? mkey->key_id : "");
    char bucket[CTL_BUCKET_CAP];
    event_bucket(res->store, bucket, sizeof(bucket));
    struct ctl_event ev;
    event_fill(&ev, o, res, bucket);
    kf_buf probe;
    kf_buf_init(&probe);
    err = ctl_event_encode(&ev, &probe, msg, sizeof(msg));
    kf_buf_fini(&probe);
    if (err) {
        kf_errf(errstr, errstr_size, "the announcement would be invalid: %s", msg);
        return -EINVAL;
    }

    /* 1. local: the file, golden vectors, chunk digests */
    int64_t t = kf_clock_mono_us();
    if ((err = pub_model_open(&pm, o->weights_path, o->arch_path, errstr, errstr_size)))
        goto out;
    if ((err = pub_manifest_build(&pm, o->model, o->version, o->weights_path, &m, errstr,
                                  errstr_size)))
        goto out;
    res->blob_bytes = pm.blob_size;
    res->us.read = since(t);
    KF_LOG_I("publish", "%s: %zu tensors, %s, blob of %" PRIu64 " bytes", o->weights_path,
             pm.sf->n_tensors, schema_dtype2str(pm.dtype), pm.blob_size);

    t = kf_clock_mono_us();
    struct pub_golden_opts go = {
        .rows = pc->cfg.golden_rows,
        .seed = pc->cfg.golden_seed,
        .atol = pc->cfg.golden_atol,
        .rtol = pc->cfg.golden_rtol,
        .skew = f->golden_skew,
    };
    if ((err = pub_golden_compute(m, pm.blob, pm.blob_size, &go, msg, sizeof(msg)))) {
        kf_errf(errstr, errstr_size, "golden vectors for %s: %s", o->weights_path, msg);
        goto out;
    }
    res->golden_rows = go.rows;
    res->us.golden = since(t);
    if (pub_stopped(pc)) {
        err = -ECANCELED;
        goto out;
    }

    t = kf_clock_mono_us();
    struct pub_progress prog;
    pub_progress_start(&prog, pc->progress, "hash", pm.blob_size);
    err = pub_chunk_hash(pm.blob, pm.blob_size, chunk_size, pc->cfg.hash_threads, &prog, &chunks,
                         &n_chunks);
    pub_progress_end(&prog);
    if (!err)
        err = pub_manifest_add_chunks(m, chunks, n_chunks);
    if (err) {
        kf_errf(errstr, errstr_size, "hashing %s: %s", o->weights_path, kf_strerror(err));
        goto out;
    }
    res->us.hash = since(t);
    res->up.chunks = (uint32_t)n_chunks;
    sh = (struct source_hash){.data = pm.file, .len = pm.file_len};
    sh_running = !pthread_create(&sh_thread, NULL, source_hash_thread, &sh);
    if (!sh_running)
        source_hash_thread(&sh);

    uint64_t seq = 0;
    if (o->dry_run) {
        res->seq = m->seq = f->seq ? f->seq : 1;
        goto write_manifest;
    }

    /* 2. the log: seq, and the version must be new */
    t = kf_clock_mono_us();
    if ((err = pub_log_open(pc, &lg, errstr, errstr_size)) ||
        (err = pub_log_catch_up(lg, -1, errstr, errstr_size)) ||
        (err = log_seq(lg, o, &seq, errstr, errstr_size)))
        goto out;
    warn_unknown_keys(pc, lg, o->model, seq);
    res->seq = m->seq = f->seq ? f->seq : seq + 1;
    res->us.log = since(t);

    /* 3. the store: the version must be absent (or an interrupted push of it) */
    if ((err = pub_store(pc, errstr, errstr_size)))
        goto out;
    struct objstore_counts c0, c1;
    objstore_counts(pc->os, &c0);
    if ((err = pub_manifest_check_absent(pc, res->manifest_key, m, &res->resumed, errstr,
                                         errstr_size)))
        goto out;
    if (res->resumed)
        KF_LOG_W("publish",
                 "%s/%s: completing an interrupted push (its manifest is in %s, "
                 "unannounced)",
                 o->model, o->version, res->store);
    if (pub_stopped(pc)) {
        err = -ECANCELED;
        goto out;
    }

    /* 4. chunks */
    t = kf_clock_mono_us();
    struct pub_upload_opts uo = {
        .parallel = pc->cfg.upload_parallel,
        .deadline_ms = pc->cfg.upload_deadline_ms,
        .read_back = pc->cfg.chunk_check_read,
        .prog = &prog,
    };
    pub_progress_start(&prog, pc->progress, "upload", pm.blob_size);
    err = pub_chunk_upload(pc->os, chunks, n_chunks, pm.blob, &uo, &res->up, msg, sizeof(msg));
    pub_progress_end(&prog);
    if (err) {
        kf_errf(errstr, errstr_size, "uploading chunks to %s: %s", res->store, msg);
        goto out;
    }
    if (res->up.chunks_repaired)
        KF_LOG_W("publish",
                 "%s/%s: repaired %" PRIu32 " chunk%s: the store held other bytes under "
                 "their keys",
                 o->model, o->version, res->up.chunks_repaired,
                 res->up.chunks_repaired == 1 ? "" : "s");
#if KFLEET_TEST_HOOKS
    if (f->tamper_chunk && f->tamper_index < n_chunks &&
        (err = pub_test_hook_tamper_chunk(pc->os, &chunks[f->tamper_index], pm.blob, errstr,
                                          errstr_size)))
        goto out;
#endif
    res->us.upload = since(t);
    if (pub_stopped(pc)) {
        err = -ECANCELED;
        goto out;
    }

write_manifest:
    /* 5. the manifest, then its signature */
    t = kf_clock_mono_us();
    if (sh_running)
        pthread_join(sh_thread, NULL);
    sh_running = false;
    if ((err = sh.err))
        goto out;
    memcpy(m->source.sha256, sh.hex, sizeof(m->source.sha256));
    if (o->dry_run) {
        err = manifest_encode(m, &mbytes, msg, sizeof(msg));
        if (err) {
            kf_errf(errstr, errstr_size, "manifest: %s", msg);
            goto out;
        }
        crypto_sha256_hex(mbytes.ptr, mbytes.len, res->manifest_sha256);
        res->manifest_bytes = mbytes.len;
        fprintf(pc->out, "%.*s\n", (int)mbytes.len, (const char *)mbytes.ptr);
        fflush(pc->out);
        goto out;
    }
    const struct crypto_ed25519_key *signer = f->no_manifest_sig ? NULL : mkey;
    if ((err = pub_manifest_put(pc, m, res->manifest_key, signer, &mbytes, res->manifest_sha256,
                                errstr, errstr_size)))
        goto out;
    res->manifest_bytes = mbytes.len;
    res->us.manifest = since(t);
    if (f->no_announce || pub_stopped(pc)) {
        err = f->no_announce ? 0 : -ECANCELED;
        goto counts;
    }

    /* 6. the announcement, with the seq the log has now */
    t = kf_clock_mono_us();
    for (int tries = 0;; tries++) {
        if ((err = pub_log_catch_up(lg, -1, errstr, errstr_size)) ||
            (err = log_seq(lg, o, &seq, errstr, errstr_size)))
            goto counts;
        if (f->seq || seq + 1 == m->seq)
            break;
        if (tries == SEQ_RACE_TRIES) {
            kf_errf(errstr, errstr_size, "%s keeps being published by others; try again", o->model);
            err = -EAGAIN;
            goto counts;
        }
        KF_LOG_W("publish",
                 "%s: seq %" PRIu64 " was taken meanwhile; rewriting the manifest "
                 "as seq %" PRIu64,
                 o->model, m->seq, seq + 1);
        res->seq = m->seq = seq + 1;
        if ((err = pub_manifest_put(pc, m, res->manifest_key, signer, &mbytes, res->manifest_sha256,
                                    errstr, errstr_size)))
            goto counts;
        res->manifest_bytes = mbytes.len;
    }
    event_fill(&ev, o, res, bucket);
    if ((err = pub_announce(pc, ekey, &ev, &res->offset, errstr, errstr_size)))
        goto counts;
    /* Read our own event back through the reducer: "delivered" is not yet
     * "accepted" (a stale seq, an untrusted key). */
    KF_LOG_D("publish", "delivered at offset %" PRId64 "; reading it back", res->offset);
    if ((err = pub_log_catch_up(lg, res->offset + 1, errstr, errstr_size)))
        goto counts;
    KF_LOG_D("publish", "read back");
    const struct pub_record *r = pub_log_record_at(lg, res->offset);
    res->verdict = r ? r->res.verdict : FLEET_IGNORED;
    kf_text_clean(r ? r->res.reason : "the event did not decode", res->verdict_reason,
                  sizeof(res->verdict_reason));
    res->us.announce = since(t);
    if (res->verdict != FLEET_APPLIED && f == &no_faults) {
        kf_errf(errstr, errstr_size,
                "model.published for %s/%s landed at offset %" PRId64
                " but the fleet does not accept it: %s",
                o->model, o->version, res->offset, res->verdict_reason);
        err = -ESTALE;
    }
counts:
    objstore_counts(pc->os, &c1);
    res->put_requests = c1.puts - c0.puts;
    res->head_requests = c1.heads - c0.heads;
    res->get_requests = c1.gets - c0.gets;
out:
    if (sh_running)
        pthread_join(sh_thread, NULL);
    res->us.total = since(t_start);
    pub_log_free(lg);
    kf_buf_fini(&mbytes);
    free(chunks);
    manifest_free(m);
    pub_model_close(&pm);
    return err;
}
