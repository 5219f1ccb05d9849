/* Upload what the store cannot prove it holds, then check what it holds.
 *
 * Chunks are content-addressed, but an object under blobs/sha256/<hex> is
 * only what the store says it is: anyone with write access may have put other
 * bytes there (of the right size, too), and skipping it would announce a
 * version every worker refuses at verify, which no re-push could repair. So a
 * chunk counts as present only when the store proves it: an ETag equal to the
 * chunk's MD5 (S3 and S3Proxy send the MD5 of a single-PUT object), or the
 * SHA-256 of the bytes read back. Anything else is uploaded over. Costs are
 * in docs/publisher.md. A chunk that appears twice in one blob goes up once. */
#include "publisher/pub_chunk.h"

#include "common/crypto.h"
#include "common/kf_clock.h"
#include "common/kf_err.h"
#include "common/kf_log.h"
#include "common/s3io.h"
#if KFLEET_TEST_HOOKS
#include "publisher/pub_test_hooks.h"
#endif

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_WORKERS 64
#define READ_PIECE (8u << 20)

/* What the store holds under a chunk's key, as far as the checks got. */
enum chunk_state {
    CS_UNKNOWN = 0,
    CS_MISSING,  /* no object */
    CS_WRONG,    /* an object of other bytes (another size, or another SHA-256) */
    CS_UNPROVEN, /* the right size, nothing proves the bytes yet: read it back */
    CS_OK,       /* proven: MD5 ETag or SHA-256 of the bytes read back */
};

enum job_kind { JOB_HEAD, JOB_READ, JOB_PUT };

struct upload_job {
    objstore *os;
    const struct pub_chunk *c;
    const uint8_t *blob;
    const size_t *chunks; /* chunk indexes */
    size_t n_chunks;
    enum job_kind kind;
    bool read_back; /* HEAD: the right size is only CS_UNPROVEN, whatever the ETag */
    bool size_only; /* HEAD: without an ETag, the right size is CS_OK (the final check) */
    uint8_t *state; /* enum chunk_state per chunk index */
    atomic_size_t next;
    atomic_uint_fast64_t bytes;
    atomic_int err;
    pthread_mutex_t lock; /* errstr */
    char errstr[512];
    struct pub_progress *prog;
};

static void job_fail(struct upload_job *j, int err, const char *key, const char *msg)
{
    pthread_mutex_lock(&j->lock);
    if (!atomic_load(&j->err)) {
        atomic_store(&j->err, err);
        snprintf(j->errstr, sizeof(j->errstr), "%s: %s", key, msg);
    }
    pthread_mutex_unlock(&j->lock);
}

static int job_head(struct upload_job *j, const struct pub_chunk *c, const char *key,
                    uint8_t *state)
{
    uint64_t size = 0;
    char etag[OBJSTORE_ETAG_CAP], msg[400];
    int err = objstore_head_etag(j->os, key, &size, etag, msg, sizeof(msg));
    if (err == -ENOENT) {
        *state = CS_MISSING;
        return 0;
    }
    if (err) {
        job_fail(j, err, key, msg);
        return err;
    }
    if (size != c->size)
        *state = CS_WRONG; /* a different size cannot be these bytes */
    else if (!j->read_back && !strcasecmp(etag, c->md5))
        *state = CS_OK;
    else if (j->size_only && !etag[0])
        *state = CS_OK;
    else
        *state = CS_UNPROVEN;
    KF_LOG_D("publish", "%s: HEAD %llu bytes, ETag \"%s\" (MD5 %s): %s", key,
             (unsigned long long)size, etag, c->md5,
             *state == CS_OK      ? "present"
             : *state == CS_WRONG ? "other bytes"
                                  : "read it back");
    return 0;
}

/* Read the object back in pieces and hash it: memory stays at one piece per
 * thread whatever the chunk size. */
static int job_read(struct upload_job *j, const struct pub_chunk *c, const char *key,
                    uint8_t *state, uint8_t *buf, crypto_sha256 *h)
{
    char msg[400], hex[65];
    uint8_t d[CRYPTO_SHA256_LEN];
    int err = 0;
    for (uint64_t off = 0; off < c->size && !err; off += READ_PIECE) {
        size_t len = c->size - off < READ_PIECE ? (size_t)(c->size - off) : READ_PIECE;
        err = objstore_get_range(j->os, key, off, len, buf, msg, sizeof(msg));
        if (!err)
            err = crypto_sha256_update(h, buf, len);
    }
    if (!err)
        err = crypto_sha256_final(h, d);
    else
        crypto_sha256_final(h, d); /* reset for the next chunk */
    atomic_fetch_add(&j->bytes, c->size);
    if (err == -ENOENT || err == -ERANGE) {
        /* gone, or shorter than it said, since the HEAD */
        *state = err == -ENOENT ? CS_MISSING : CS_WRONG;
        return 0;
    }
    if (err) {
        job_fail(j, err, key, msg);
        return err;
    }
    crypto_hex_encode(d, sizeof(d), hex);
    *state = strcmp(hex, c->sha256) ? CS_WRONG : CS_OK;
    if (*state == CS_WRONG)
        KF_LOG_D("publish", "%s: read back, its bytes hash to %s", key, hex);
    return 0;
}

static void *job_thread(void *arg)
{
    struct upload_job *j = arg;
    uint8_t *buf = NULL;
    crypto_sha256 *h = NULL;
    if (j->kind == JOB_READ && (!(buf = malloc(READ_PIECE)) || !(h = crypto_sha256_new()))) {
        job_fail(j, -ENOMEM, "read-back", "out of memory");
        goto out;
    }
    for (;;) {
        size_t k = atomic_fetch_add(&j->next, 1);
        if (k >= j->n_chunks || atomic_load(&j->err))
            break;
        size_t i = j->chunks[k];
        const struct pub_chunk *c = &j->c[i];
        char key[PUB_CHUNK_KEY_LEN], msg[400];
        pub_chunk_key(c->sha256, key);
        if (j->kind == JOB_HEAD) {
            if (job_head(j, c, key, &j->state[i]))
                break;
            continue;
        }
        if (j->kind == JOB_READ) {
            if (job_read(j, c, key, &j->state[i], buf, h))
                break;
            continue;
        }
        int err = objstore_put(j->os, key, j->blob + c->offset, (size_t)c->size, msg, sizeof(msg));
        if (err) {
            job_fail(j, err, key, msg);
            break;
        }
        pub_progress_update(j->prog, atomic_fetch_add(&j->bytes, c->size) + c->size);
    }
out:
    crypto_sha256_free(h);
    free(buf);
    return NULL;
}

/* Run job_thread on up to @p parallel threads (the caller's among them). */
static int job_run(struct upload_job *j, unsigned parallel, char *errstr, size_t errstr_size)
{
    if (!j->n_chunks)
        return 0;
    pthread_mutex_init(&j->lock, NULL);
    unsigned nt = parallel < 1 ? 1 : parallel > MAX_WORKERS ? MAX_WORKERS : parallel;
    if (nt > j->n_chunks)
        nt = (unsigned)j->n_chunks;
    pthread_t t[MAX_WORKERS];
    unsigned started = 0;
    for (; started + 1 < nt; started++)
        if (pthread_create(&t[started], NULL, job_thread, j))
            break;
    job_thread(j);
    for (unsigned i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    pthread_mutex_destroy(&j->lock);
    int err = atomic_load(&j->err);
    if (err)
        kf_errf(errstr, errstr_size, "%s", j->errstr);
    return err;
}

struct s3_watch {
    s3io *s3;
    uint64_t base;
    struct pub_progress *prog;
    atomic_bool done;
};

/* s3io batches have no per-request callback; the bar follows the client's
 * byte counter instead (bytes of PUTs that completed). */
static void *s3_watch_thread(void *arg)
{
    struct s3_watch *w = arg;
    while (!atomic_load(&w->done)) {
        struct s3io_stats st;
        s3io_stats_get(w->s3, &st);
        pub_progress_update(w->prog, st.bytes_out - w->base);
        kf_sleep_ms(100);
    }
    return NULL;
}

static int put_batch(s3io *s3, const struct pub_chunk *c, const uint8_t *blob, const size_t *chunks,
                     size_t n_chunks, const struct pub_upload_opts *o, char *errstr,
                     size_t errstr_size)
{
    s3io_batch *b = s3io_batch_new(s3);
    if (!b)
        return -ENOMEM;
    int err = 0;
    for (size_t k = 0; k < n_chunks && !err; k++) {
        char key[PUB_CHUNK_KEY_LEN];
        pub_chunk_key(c[chunks[k]].sha256, key);
        int idx = s3io_batch_put(b, key, blob + c[chunks[k]].offset, (size_t)c[chunks[k]].size);
        err = idx < 0 ? idx : 0;
    }
    struct s3_watch w = {.s3 = s3, .prog = o->prog};
    pthread_t watcher;
    bool watching = false;
    if (!err && o->prog && o->prog->on) {
        struct s3io_stats st;
        s3io_stats_get(s3, &st);
        w.base = st.bytes_out;
        watching = !pthread_create(&watcher, NULL, s3_watch_thread, &w);
    }
    if (!err)
        err = s3io_batch_run(b, o->deadline_ms, errstr, errstr_size);
    if (watching) {
        atomic_store(&w.done, true);
        pthread_join(watcher, NULL);
    }
    s3io_batch_free(b);
    return err;
}

static int cmp_digest(const void *a, const void *b, void *arg)
{
    const struct pub_chunk *c = arg;
    size_t i = *(const size_t *)a, k = *(const size_t *)b;
    int r = strcmp(c[i].sha256, c[k].sha256);
    return r ? r : (i > k) - (i < k);
}

static int cmp_index(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, k = *(const size_t *)b;
    return (i > k) - (i < k);
}

/* Read back the chunks of @p idx (n_idx of them) in state CS_UNPROVEN. */
static int read_unproven(objstore *os, const struct pub_chunk *c, const size_t *idx, size_t n_idx,
                         uint8_t *state, size_t *scratch, unsigned parallel,
                         struct pub_upload_stats *st, char *errstr, size_t errstr_size)
{
    size_t n_read = 0;
    for (size_t k = 0; k < n_idx; k++)
        if (state[idx[k]] == CS_UNPROVEN)
            scratch[n_read++] = idx[k];
    struct upload_job rd = {
        .os = os, .c = c, .chunks = scratch, .n_chunks = n_read, .kind = JOB_READ, .state = state};
    int err = job_run(&rd, parallel, errstr, errstr_size);
    st->chunks_read += (uint32_t)n_read;
    st->bytes_read += atomic_load(&rd.bytes);
    return err;
}

/* Step 4: every distinct chunk is in the store, with its size, and an ETag
 * other than its MD5 is settled by reading it back. */
static int verify_stored(objstore *os, const struct pub_chunk *c, const size_t *uniq, size_t n_uniq,
                         uint8_t *state, size_t *scratch, unsigned parallel,
                         struct pub_upload_stats *st, char *errstr, size_t errstr_size)
{
    for (size_t k = 0; k < n_uniq; k++)
        state[uniq[k]] = CS_UNKNOWN;
    struct upload_job head = {.os = os,
                              .c = c,
                              .chunks = uniq,
                              .n_chunks = n_uniq,
                              .kind = JOB_HEAD,
                              .size_only = true,
                              .state = state};
    int err = job_run(&head, parallel, errstr, errstr_size);
    if (!err)
        err = read_unproven(os, c, uniq, n_uniq, state, scratch, parallel, st, errstr, errstr_size);
    if (err)
        return err;
    for (size_t k = 0; k < n_uniq; k++) {
        const struct pub_chunk *ck = &c[uniq[k]];
        if (state[uniq[k]] == CS_OK)
            continue;
        char key[PUB_CHUNK_KEY_LEN];
        pub_chunk_key(ck->sha256, key);
        kf_errf(errstr, errstr_size,
                "%s (bytes %llu..%llu of the blob) is %s in %s after the upload: "
                "someone else writes there; nothing was announced",
                key, (unsigned long long)ck->offset, (unsigned long long)(ck->offset + ck->size),
                state[uniq[k]] == CS_MISSING ? "missing" : "not these bytes", objstore_url(os));
        return -EIO;
    }
    st->chunks_verified = (uint32_t)n_uniq;
    return 0;
}

int pub_chunk_upload(objstore *os, const struct pub_chunk *c, size_t n, const uint8_t *blob,
                     const struct pub_upload_opts *o, struct pub_upload_stats *st, char *errstr,
                     size_t errstr_size)
{
    memset(st, 0, sizeof(*st));
    st->chunks = (uint32_t)n;
    size_t *order = calloc(n ? n : 1, sizeof(*order));
    size_t *uniq = calloc(n ? n : 1, sizeof(*uniq));
    size_t *missing = calloc(n ? n : 1, sizeof(*missing));
    uint8_t *state = calloc(n ? n : 1, sizeof(*state));
    uint8_t *wrong = calloc(n ? n : 1, sizeof(*wrong));
    bool *uploaded = calloc(n ? n : 1, sizeof(*uploaded));
    int err = order && uniq && missing && state && wrong && uploaded ? 0 : -ENOMEM;
    size_t n_uniq = 0, n_missing = 0;
    if (err)
        goto out;
    /* Distinct digests, each at its first position in the blob. */
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    if (n)
        qsort_r(order, n, sizeof(*order), cmp_digest, (void *)c);
    for (size_t i = 0; i < n; i++)
        if (!i || strcmp(c[order[i]].sha256, c[order[i - 1]].sha256))
            uniq[n_uniq++] = order[i];

    /* 1. HEAD; 2. read back what the HEAD cannot prove */
    struct upload_job head = {.os = os,
                              .c = c,
                              .chunks = uniq,
                              .n_chunks = n_uniq,
                              .kind = JOB_HEAD,
                              .read_back = o->read_back,
                              .state = state};
    if ((err = job_run(&head, o->parallel, errstr, errstr_size)) ||
        (err = read_unproven(os, c, uniq, n_uniq, state, missing, o->parallel, st, errstr,
                             errstr_size)))
        goto out;
    for (size_t k = 0; k < n_uniq; k++) {
        size_t i = uniq[k];
        if (state[i] == CS_OK)
            continue;
        if (state[i] == CS_WRONG) {
            char key[PUB_CHUNK_KEY_LEN];
            pub_chunk_key(c[i].sha256, key);
            KF_LOG_W("publish",
                     "%s: the store holds other bytes under this chunk's key; uploading over it",
                     key);
            wrong[i] = 1;
        }
        missing[n_missing++] = i;
    }
    /* In blob order: an interrupted push leaves a prefix behind. */
    if (n_missing)
        qsort(missing, n_missing, sizeof(*missing), cmp_index);

    /* 3. PUT */
    size_t n_put = n_missing;
#if KFLEET_TEST_HOOKS
    long die_after = pub_test_hook_die_after_chunks();
    bool die = die_after >= 0 && (size_t)die_after < n_missing;
    if (die)
        n_put = (size_t)die_after;
#endif
    s3io *s3 = objstore_s3(os);
    if (s3 && n_put) {
        err = put_batch(s3, c, blob, missing, n_put, o, errstr, errstr_size);
    } else if (n_put) {
        struct upload_job put = {.os = os,
                                 .c = c,
                                 .blob = blob,
                                 .chunks = missing,
                                 .n_chunks = n_put,
                                 .kind = JOB_PUT,
                                 .state = state,
                                 .prog = o->prog};
        err = job_run(&put, o->parallel, errstr, errstr_size);
    }
#if KFLEET_TEST_HOOKS
    /* Tests: a push killed between chunk PUTs must leave nothing visible. */
    if (!err && die)
        pub_test_hook_die(n_put);
#endif
    if (err)
        goto out;
    for (size_t k = 0; k < n_put; k++)
        uploaded[missing[k]] = true;
    for (size_t i = 0; i < n; i++) {
        if (uploaded[i]) {
            st->chunks_uploaded++;
            st->bytes_uploaded += c[i].size;
            if (wrong[i]) {
                st->chunks_repaired++;
                st->bytes_repaired += c[i].size;
            }
        } else {
            st->chunks_present++;
            st->bytes_present += c[i].size;
        }
    }

    /* 4. what the manifest will name is in the store */
    err = verify_stored(os, c, uniq, n_uniq, state, missing, o->parallel, st, errstr, errstr_size);
out:
    free(order);
    free(uniq);
    free(missing);
    free(state);
    free(wrong);
    free(uploaded);
    return err;
}
