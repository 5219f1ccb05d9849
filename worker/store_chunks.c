/* The chunk phase of a fetch: every chunk of the blob, from the cache when a
 * re-hash proves the file good, else from the object store.
 *
 * Two passes over a small pool of threads (store_conf.parallel), both at the
 * granularity of a part (part_size bytes of one chunk), in blob order:
 *  1. cache: for every chunk whose cache file has the right size, each part
 *     is read (pread) straight into its place in the blob. A file that is
 *     absent goes to pass 2; one of the wrong size or digest is corrupt:
 *     removed, counted, and fetched again in pass 2.
 *  2. remote: each part of every chunk still missing is a ranged GET straight
 *     into the blob, and is written to the chunk's temporary cache file at
 *     its offset by the thread that fetched it (pwrite, so in parallel).
 *
 * Parts of one chunk finish out of order, but SHA-256 is sequential:
 * whichever thread completes the part a chunk's hash waits for hashes it and
 * every later part that has already arrived. So a chunk is hashed while its
 * last parts are still arriving, and different chunks hash on different
 * cores. The thread that hashes a chunk's last part checks the digest (and,
 * in pass 2, renames the cache file into place or removes it).
 *
 * Why threads with one GET each rather than one s3io batch: a batch runs its
 * callbacks on one thread, which would hash a 1 GiB model on one core; here
 * hashing scales with the fetch threads, and each GET still retries on its
 * own inside s3io under the shared deadline. */
#include "worker/store_impl.h"

#include "common/kf_clock.h"
#include "common/kf_err.h"
#include "common/kf_log.h"
#include "common/s3io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum chunk_where {
    CHUNK_ABSENT = 0, /* not in the cache: pass 2 */
    CHUNK_CACHED,     /* a cache file of the right size: pass 1 */
};

struct chunk_state {
    enum chunk_where where;
    bool need_fetch;  /* pass 1 verdict: fetch it in pass 2 */
    crypto_sha256 *h; /* restarts empty after each final */
    uint32_t nparts;
    size_t part0;  /* index of its first part in job->done, this pass */
    uint32_t next; /* next part to hash; under job lock */
    bool hashing;  /* a thread is hashing this chunk; under job lock */
    bool read_err; /* pass 1: a part could not be read (corrupt); under job lock */
    /* Pass 2: the cache file being written part by part. Opened under the job
     * lock by the first part to arrive; each part's pwrite is its own. */
    int fd;         /* -1: not open (yet, or could not be) */
    bool fd_tried;  /* an open was attempted */
    bool write_err; /* a part could not be written: the file is dropped */
    char *tmp;      /* its temporary path (owned) */
};

struct part_item {
    uint32_t chunk, part;
};

struct job {
    model_store *st;
    struct store_version *sv;
    const struct manifest *m;
    enum store_chunk_source src;
    int64_t deadline_us;
    struct chunk_state *cs;
    int pass;      /* 1 cache, 2 remote */
    uint8_t *done; /* per part of this pass; under lock */
    struct part_item *parts;
    size_t n_items;
    atomic_size_t next_item;
    void (*item_fn)(struct job *j, size_t i);

    pthread_mutex_t lock;
    atomic_bool failed;
    int err; /* first failure; under lock */
    enum ctl_stage stage;
    char errstr[512];

    atomic_uint_fast64_t hash_us, bytes_fetched, bytes_reused;
    atomic_uint chunks_fetched, chunks_reused, chunks_corrupt;

    /* The verified prefix (store_fetch_progress): chunks [0, prefix_chunks) all verified;
     * all under lock. */
    store_verified_fn *on_verified; /* NULL: nobody listens */
    void *cb_ctx;
    bool *verified; /* per chunk */
    size_t prefix_chunks;
    uint64_t prefix_bytes;   /* the prefix's end in the blob */
    uint64_t reported_bytes; /* what on_verified was last told */
    bool notifying;          /* a thread is calling on_verified */
};

static void job_fail(struct job *j, int err, enum ctl_stage stage, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void job_fail(struct job *j, int err, enum ctl_stage stage, const char *fmt, ...)
{
    pthread_mutex_lock(&j->lock);
    if (!j->err) {
        j->err = err;
        j->stage = stage;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(j->errstr, sizeof(j->errstr), fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&j->lock);
    atomic_store(&j->failed, true);
}

void store_chunk_path(const model_store *st, const char *hex, char *out, size_t size)
{
    store_pathf(out, size, "%s/sha256/%s", st->cache_dir, hex);
}

/* CPU time of the calling thread: hashing is measured as work done, not as
 * wall time that includes waiting for a core (threads may outnumber cores). */
static int64_t thread_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int hash_update(struct job *j, crypto_sha256 *h, const void *p, size_t n)
{
    int64_t t0 = thread_cpu_us();
    int err = crypto_sha256_update(h, p, n);
    atomic_fetch_add(&j->hash_us, (uint64_t)(thread_cpu_us() - t0));
    return err;
}

static int hash_final_hex(crypto_sha256 *h, char hex[CRYPTO_SHA256_HEX_LEN + 1])
{
    uint8_t d[CRYPTO_SHA256_LEN];
    int err = crypto_sha256_final(h, d);
    if (!err)
        crypto_hex_encode(d, sizeof(d), hex);
    return err;
}

static void part_range(const struct job *j, uint32_t i, uint32_t p, uint64_t *off, size_t *len)
{
    const uint64_t size = j->m->chunks[i].size, ps = j->st->part_size;
    *off = (uint64_t)p * ps;
    *len = size - *off < ps ? (size_t)(size - *off) : (size_t)ps;
}

/* ------------------------------------------------------ pass 2 cache file */

/* Open chunk @p i's temporary cache file once (the first part to arrive). */
static int cache_file_fd(struct job *j, uint32_t i)
{
    struct chunk_state *cs = &j->cs[i];
    pthread_mutex_lock(&j->lock);
    if (!cs->fd_tried) {
        cs->fd_tried = true;
        char dir[PATH_MAX], tmp[PATH_MAX];
        store_pathf(dir, sizeof(dir), "%s/sha256", j->st->cache_dir);
        store_tmp_path(j->st, dir, j->m->chunks[i].sha256, tmp, sizeof(tmp));
        cs->fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (cs->fd >= 0 && !(cs->tmp = strdup(tmp))) {
            close(cs->fd);
            unlink(tmp);
            cs->fd = -1;
        }
        if (cs->fd < 0)
            KF_LOG_W(STORE_MOD, "cache: cannot create %s: %s", tmp, strerror(errno));
    }
    int fd = cs->fd;
    pthread_mutex_unlock(&j->lock);
    return fd;
}

/* Part [off, off+len) of chunk @p i is in the blob: copy it into the cache file. */
static void cache_file_write(struct job *j, uint32_t i, uint64_t off, size_t len)
{
    int fd = cache_file_fd(j, i);
    if (fd < 0)
        return;
    const uint8_t *p = j->sv->blob + j->m->chunks[i].offset + off;
    while (len) {
        ssize_t w = pwrite(fd, p, len, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            KF_LOG_W(STORE_MOD, "cache: writing chunk %s: %s", j->m->chunks[i].sha256,
                     w < 0 ? strerror(errno) : "short write");
            pthread_mutex_lock(&j->lock);
            j->cs[i].write_err = true;
            pthread_mutex_unlock(&j->lock);
            return;
        }
        p += w;
        off += (uint64_t)w;
        len -= (size_t)w;
    }
}

/* Close chunk @p i's cache file: into place when @p keep and every part was
 * written, else removed. Also the cleanup of a failed fetch. */
static void cache_file_close(struct job *j, uint32_t i, bool keep)
{
    struct chunk_state *cs = &j->cs[i];
    if (cs->fd < 0)
        return;
    bool ok = close(cs->fd) == 0 && keep && !cs->write_err;
    cs->fd = -1;
    if (ok) {
        char path[PATH_MAX];
        store_chunk_path(j->st, j->m->chunks[i].sha256, path, sizeof(path));
        if (rename(cs->tmp, path)) {
            KF_LOG_W(STORE_MOD, "cache: %s: %s", path, strerror(errno));
            ok = false;
        }
    }
    if (!ok)
        unlink(cs->tmp);
}

/* ------------------------------------------------------ chunk completion */

static void corrupt_cached(struct job *j, uint32_t i, const char *why)
{
    const struct manifest_chunk *c = &j->m->chunks[i];
    char path[PATH_MAX];
    store_chunk_path(j->st, c->sha256, path, sizeof(path));
    unlink(path); /* never serve it again; pass 2 (or a later fetch) replaces it */
    atomic_fetch_add(&j->chunks_corrupt, 1);
    KF_LOG_W(STORE_MOD, "%s/%s: cached chunk %u (sha256 %s) is corrupt (%s): removed%s",
             j->sv->model, j->sv->version, i, c->sha256, why,
             j->src == STORE_FROM_CACHE_ONLY ? "" : ", fetching it again");
    if (j->src == STORE_FROM_CACHE_ONLY)
        job_fail(j, -EBADMSG, CTL_STAGE_VERIFY,
                 "cached chunk %u (sha256 %s) of %s/%s is corrupt (%s); the object store was not "
                 "consulted",
                 i, c->sha256, j->sv->model, j->sv->version, why);
    else
        j->cs[i].need_fetch = true; /* read only after the pass joins */
}

/* Chunk @p i matched its digest: extend the verified prefix over it (and any verified chunks
 * after it), and tell on_verified. One thread at a time calls it (`notifying`), without the job
 * lock; a thread that extends the prefix meanwhile leaves the report to that one, which looks
 * again under the lock after each call, so no growth goes unreported and a long call (the
 * loader packing a layer) holds up only its own thread. */
static void chunk_verified(struct job *j, uint32_t i)
{
    if (!j->on_verified)
        return;
    pthread_mutex_lock(&j->lock);
    j->verified[i] = true;
    size_t k = j->prefix_chunks;
    while (k < j->m->n_chunks && j->verified[k])
        k++;
    j->prefix_chunks = k;
    j->prefix_bytes = k == j->m->n_chunks ? j->m->blob_size : j->m->chunks[k].offset;
    if (!j->notifying) {
        j->notifying = true;
        while (j->prefix_bytes > j->reported_bytes && !atomic_load(&j->failed)) {
            uint64_t p = j->prefix_bytes;
            j->reported_bytes = p;
            pthread_mutex_unlock(&j->lock);
            j->on_verified(j->cb_ctx, j->sv, p);
            pthread_mutex_lock(&j->lock);
        }
        j->notifying = false;
    }
    pthread_mutex_unlock(&j->lock);
}

/* Every part of chunk @p i is hashed: check the digest. */
static void chunk_complete(struct job *j, uint32_t i)
{
    const struct manifest_chunk *c = &j->m->chunks[i];
    struct chunk_state *cs = &j->cs[i];
    char hex[CRYPTO_SHA256_HEX_LEN + 1];
    int err = hash_final_hex(cs->h, hex);
    if (err) {
        job_fail(j, err, CTL_STAGE_VERIFY, "chunk %u: hashing failed: %s", i, kf_strerror(err));
        return;
    }
    if (j->pass == 1) {
        char why[96];
        if (cs->read_err)
            kf_errf(why, sizeof(why), "a read failed");
        else if (strcmp(hex, c->sha256))
            kf_errf(why, sizeof(why), "its bytes hash to %.16s…", hex);
        else {
            atomic_fetch_add(&j->chunks_reused, 1);
            atomic_fetch_add(&j->bytes_reused, c->size);
            chunk_verified(j, i);
            return;
        }
        corrupt_cached(j, i, why);
        return;
    }
    if (strcmp(hex, c->sha256)) {
        job_fail(j, -EBADMSG, CTL_STAGE_VERIFY,
                 "chunk %u of %zu (blobs/sha256/%s, bytes %llu..%llu of the blob) hashes to %s: "
                 "tampered or corrupted in the object store",
                 i, j->m->n_chunks, c->sha256, (unsigned long long)c->offset,
                 (unsigned long long)(c->offset + c->size), hex);
        return;
    }
    atomic_fetch_add(&j->chunks_fetched, 1);
    atomic_fetch_add(&j->bytes_fetched, c->size);
    cache_file_close(j, i, true);
    chunk_verified(j, i);
}

/* Part @p p of chunk @p i is in the blob: hash what is now contiguous. */
static void part_arrived(struct job *j, uint32_t i, uint32_t p)
{
    struct chunk_state *cs = &j->cs[i];
    const struct manifest_chunk *c = &j->m->chunks[i];
    pthread_mutex_lock(&j->lock);
    j->done[cs->part0 + p] = 1;
    if (cs->hashing || !j->done[cs->part0 + cs->next]) {
        pthread_mutex_unlock(&j->lock);
        return; /* the thread hashing it, or a later arrival, will take it */
    }
    cs->hashing = true;
    while (cs->next < cs->nparts && j->done[cs->part0 + cs->next]) {
        uint64_t off;
        size_t len;
        part_range(j, i, cs->next, &off, &len);
        pthread_mutex_unlock(&j->lock);
        int err = hash_update(j, cs->h, j->sv->blob + c->offset + off, len);
        pthread_mutex_lock(&j->lock);
        if (err) {
            cs->hashing = false;
            pthread_mutex_unlock(&j->lock);
            job_fail(j, err, CTL_STAGE_VERIFY, "chunk %u: hashing failed", i);
            return;
        }
        cs->next++;
    }
    cs->hashing = false;
    bool complete = cs->next == cs->nparts;
    pthread_mutex_unlock(&j->lock);
    if (complete)
        chunk_complete(j, i);
}

/* ------------------------------------------------------------ the items */

static void cache_item(struct job *j, size_t item)
{
    struct part_item pi = j->parts[item];
    uint64_t off;
    size_t len;
    part_range(j, pi.chunk, pi.part, &off, &len);
    char path[PATH_MAX];
    store_chunk_path(j->st, j->m->chunks[pi.chunk].sha256, path, sizeof(path));
    uint8_t *dst = j->sv->blob + j->m->chunks[pi.chunk].offset + off;
    bool ok = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        size_t got = 0;
        while (got < len) {
            ssize_t r = pread(fd, dst + got, len - got, (off_t)(off + got));
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        ok = got == len;
        close(fd);
    }
    if (!ok) { /* removed or shrunk under us: hash what is there, then refetch */
        pthread_mutex_lock(&j->lock);
        j->cs[pi.chunk].read_err = true;
        pthread_mutex_unlock(&j->lock);
    }
    part_arrived(j, pi.chunk, pi.part);
}

static void remote_item(struct job *j, size_t item)
{
    struct part_item pi = j->parts[item];
    const struct manifest_chunk *c = &j->m->chunks[pi.chunk];
    uint64_t off;
    size_t len;
    part_range(j, pi.chunk, pi.part, &off, &len);
    char key[128], why[512];
    store_pathf(key, sizeof(key), "blobs/sha256/%s", c->sha256);
    int err = store_get_range(j->st, key, off, len, j->sv->blob + c->offset + off, j->deadline_us,
                              why, sizeof(why));
    if (err) {
        job_fail(j, err, CTL_STAGE_FETCH, "chunk %u of %zu (%s): %s", pi.chunk, j->m->n_chunks, key,
                 why);
        return;
    }
    cache_file_write(j, pi.chunk, off, len);
    part_arrived(j, pi.chunk, pi.part);
}

/* ------------------------------------------------------------- the pool */

static void *pool_main(void *arg)
{
    struct job *j = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&j->next_item, 1);
        if (i >= j->n_items || atomic_load(&j->failed))
            break;
        j->item_fn(j, i);
    }
    return NULL;
}

static void pool_run(struct job *j, size_t n_items, void (*fn)(struct job *, size_t))
{
    j->n_items = n_items;
    j->item_fn = fn;
    atomic_store(&j->next_item, 0);
    size_t want = n_items < j->st->parallel ? n_items : j->st->parallel;
    pthread_t tid[STORE_MAX_PARALLEL];
    size_t started = 0;
    /* The calling thread is one of the workers. */
    while (started + 1 < want && !pthread_create(&tid[started], NULL, pool_main, j))
        started++;
    pool_main(j);
    for (size_t t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
}

/* Lay out the parts of every chunk @p pick selects, reset their hashing, and
 * run @p fn over them. @returns 0, -ENOMEM */
static int run_pass(struct job *j, int pass, bool (*pick)(const struct chunk_state *),
                    void (*fn)(struct job *, size_t))
{
    const struct manifest *m = j->m;
    size_t n_parts = 0;
    for (size_t i = 0; i < m->n_chunks; i++) {
        struct chunk_state *cs = &j->cs[i];
        if (!pick(cs))
            continue;
        cs->nparts = (uint32_t)((m->chunks[i].size + j->st->part_size - 1) / j->st->part_size);
        cs->part0 = n_parts;
        cs->next = 0;
        cs->hashing = false;
        n_parts += cs->nparts;
        if (!cs->h && !(cs->h = crypto_sha256_new()))
            return -ENOMEM;
    }
    free(j->done);
    free(j->parts);
    j->done = NULL;
    j->parts = NULL;
    if (!n_parts)
        return 0;
    j->done = calloc(n_parts, 1);
    j->parts = calloc(n_parts, sizeof(*j->parts));
    if (!j->done || !j->parts)
        return -ENOMEM;
    size_t k = 0;
    for (uint32_t i = 0; i < m->n_chunks; i++)
        for (uint32_t p = 0; pick(&j->cs[i]) && p < j->cs[i].nparts; p++)
            j->parts[k++] = (struct part_item){i, p};
    j->pass = pass;
    pool_run(j, n_parts, fn);
    return 0;
}

static bool pick_cached(const struct chunk_state *cs)
{
    return cs->where == CHUNK_CACHED;
}

static bool pick_fetch(const struct chunk_state *cs)
{
    return cs->need_fetch;
}

/* Which chunks the cache holds with the right size (one stat each). */
static void cache_survey(struct job *j)
{
    for (uint32_t i = 0; i < j->m->n_chunks && !atomic_load(&j->failed); i++) {
        const struct manifest_chunk *c = &j->m->chunks[i];
        char path[PATH_MAX];
        store_chunk_path(j->st, c->sha256, path, sizeof(path));
        struct stat sb = {0};
        if (!stat(path, &sb) && (uint64_t)sb.st_size == c->size) {
            j->cs[i].where = CHUNK_CACHED;
        } else if (!access(path, F_OK)) {
            char why[96];
            kf_errf(why, sizeof(why), "%lld bytes instead of %llu", (long long)sb.st_size,
                    (unsigned long long)c->size);
            corrupt_cached(j, i, why);
        } else if (j->src == STORE_FROM_CACHE_ONLY) {
            job_fail(j, -ENOENT, CTL_STAGE_FETCH,
                     "cached chunk %u (sha256 %s) of %s/%s: not in the cache", i, c->sha256,
                     j->sv->model, j->sv->version);
        } else {
            j->cs[i].need_fetch = true;
        }
    }
}

int store_chunks_fill(model_store *st, struct store_version *sv, enum store_chunk_source src,
                      int64_t deadline_us, store_verified_fn *on_verified, void *ctx,
                      enum ctl_stage *stage, char *errstr, size_t errstr_size)
{
    const struct manifest *m = sv->manifest;
    struct job j = {
        .st = st,
        .sv = sv,
        .m = m,
        .src = src,
        .deadline_us = deadline_us,
        .on_verified = on_verified,
        .cb_ctx = ctx,
    };
    pthread_mutex_init(&j.lock, NULL);
    int err = 0;
    if (!(j.cs = calloc(m->n_chunks, sizeof(*j.cs)))) {
        job_fail(&j, -ENOMEM, CTL_STAGE_FETCH, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < m->n_chunks; i++)
        j.cs[i].fd = -1;
    if (on_verified && !(j.verified = calloc(m->n_chunks, sizeof(*j.verified)))) {
        job_fail(&j, -ENOMEM, CTL_STAGE_FETCH, "out of memory");
        goto done;
    }

    cache_survey(&j);
    if (!atomic_load(&j.failed) && run_pass(&j, 1, pick_cached, cache_item))
        job_fail(&j, -ENOMEM, CTL_STAGE_FETCH, "out of memory");
    if (!atomic_load(&j.failed) && run_pass(&j, 2, pick_fetch, remote_item))
        job_fail(&j, -ENOMEM, CTL_STAGE_FETCH, "out of memory");

done:
    if (atomic_load(&j.failed)) {
        err = j.err;
        *stage = j.stage;
        kf_errf(errstr, errstr_size, "%s", j.errstr);
    }
    sv->counts.bytes_fetched = atomic_load(&j.bytes_fetched);
    sv->counts.bytes_reused = atomic_load(&j.bytes_reused);
    sv->counts.chunks_fetched = atomic_load(&j.chunks_fetched);
    sv->counts.chunks_reused = atomic_load(&j.chunks_reused);
    sv->counts.chunks_corrupt = atomic_load(&j.chunks_corrupt);
    sv->timings.hash_us = atomic_load(&j.hash_us);
    if (j.cs) {
        for (uint32_t i = 0; i < m->n_chunks; i++) {
            cache_file_close(&j, i, false); /* left open only by a failed fetch */
            crypto_sha256_free(j.cs[i].h);
            free(j.cs[i].tmp);
        }
    }
    free(j.cs);
    free(j.done);
    free(j.parts);
    free(j.verified);
    pthread_mutex_destroy(&j.lock);
    return err;
}

/* ------------------------------------------------------ retried requests */

static int retry_wait(int64_t deadline_us, int *backoff_ms)
{
    int64_t left_ms = (deadline_us - kf_clock_mono_us()) / 1000;
    if (left_ms <= 0)
        return -ETIMEDOUT;
    kf_sleep_ms(*backoff_ms < left_ms ? *backoff_ms : left_ms);
    *backoff_ms = *backoff_ms * 2 > STORE_BACKOFF_MAX_MS ? STORE_BACKOFF_MAX_MS : *backoff_ms * 2;
    return 0;
}

static int left_ms(int64_t deadline_us)
{
    int64_t ms = (deadline_us - kf_clock_mono_us()) / 1000;
    return ms <= 0 ? 0 : ms > INT_MAX ? INT_MAX : (int)ms;
}

int store_get_range(model_store *st, const char *key, uint64_t offset, size_t len, void *dst,
                    int64_t deadline_us, char *errstr, size_t errstr_size)
{
    s3io *s3 = objstore_s3(st->os);
    int backoff = STORE_BACKOFF_MS, err = -ETIMEDOUT;
    kf_errf(errstr, errstr_size, "%s: deadline passed before the first request", key);
    for (;;) {
        int ms = left_ms(deadline_us);
        if (!ms)
            return err;
        err = s3 ? s3io_get_range(s3, key, offset, len, dst, ms, errstr, errstr_size)
                 : objstore_get_range(st->os, key, offset, len, dst, errstr, errstr_size);
        if (!err || !kf_err_is_retriable(err) || retry_wait(deadline_us, &backoff))
            return err;
    }
}

int store_get_small(model_store *st, const char *key, kf_buf *out, size_t max, int64_t deadline_us,
                    char *errstr, size_t errstr_size)
{
    s3io *s3 = objstore_s3(st->os);
    int backoff = STORE_BACKOFF_MS, err = -ETIMEDOUT;
    kf_errf(errstr, errstr_size, "%s: deadline passed before the first request", key);
    for (;;) {
        int ms = left_ms(deadline_us);
        if (!ms)
            return err;
        out->len = 0;
        err = s3 ? s3io_get(s3, key, out, max, ms, errstr, errstr_size)
                 : objstore_get(st->os, key, out, max, errstr, errstr_size);
        if (!err || !kf_err_is_retriable(err) || retry_wait(deadline_us, &backoff))
            return err;
    }
}
