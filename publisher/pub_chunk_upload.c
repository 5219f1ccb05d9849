/* Upload what the store lacks. Chunks are content-addressed, so "present"
 * is decided by a HEAD: an object under blobs/sha256/<hex> of the right size
 * holds exactly those bytes (a PUT is atomic on S3; file:// renames). A
 * chunk that appears twice in one blob goes up once. */
#include "publisher/pub_chunk.h"

#include "common/kf_clock.h"
#include "common/kf_err.h"
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

#define MAX_WORKERS 64

struct upload_job {
    objstore *os;
    const struct pub_chunk *c;
    const uint8_t *blob;
    const size_t *todo; /* chunk indexes */
    size_t n_todo;
    bool put;   /* false: HEAD each, true: PUT each */
    int *state; /* per todo entry: HEAD 1 present / 0 missing; PUT 1 done */
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

static void *job_thread(void *arg)
{
    struct upload_job *j = arg;
    for (;;) {
        size_t k = atomic_fetch_add(&j->next, 1);
        if (k >= j->n_todo || atomic_load(&j->err))
            return NULL;
        const struct pub_chunk *c = &j->c[j->todo[k]];
        char key[PUB_CHUNK_KEY_LEN], msg[400];
        pub_chunk_key(c->sha256, key);
        if (!j->put) {
            uint64_t size = 0;
            int err = objstore_head(j->os, key, &size, msg, sizeof(msg));
            if (err && err != -ENOENT)
                job_fail(j, err, key, msg);
            /* A different size cannot be these bytes: upload over it. */
            j->state[k] = !err && size == c->size;
            continue;
        }
        int err = objstore_put(j->os, key, j->blob + c->offset, (size_t)c->size, msg, sizeof(msg));
        if (err) {
            job_fail(j, err, key, msg);
            return NULL;
        }
        j->state[k] = 1;
        pub_progress_update(j->prog, atomic_fetch_add(&j->bytes, c->size) + c->size);
    }
}

/* Run job_thread on up to @p parallel threads (the caller's among them). */
static int job_run(struct upload_job *j, unsigned parallel, char *errstr, size_t errstr_size)
{
    unsigned nt = parallel < 1 ? 1 : parallel > MAX_WORKERS ? MAX_WORKERS : parallel;
    if (nt > j->n_todo)
        nt = j->n_todo ? (unsigned)j->n_todo : 1;
    pthread_t t[MAX_WORKERS];
    unsigned started = 0;
    for (; started + 1 < nt; started++)
        if (pthread_create(&t[started], NULL, job_thread, j))
            break;
    job_thread(j);
    for (unsigned i = 0; i < started; i++)
        pthread_join(t[i], NULL);
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

static int put_batch(s3io *s3, const struct pub_chunk *c, const uint8_t *blob, const size_t *todo,
                     size_t n_todo, const struct pub_upload_opts *o, char *errstr,
                     size_t errstr_size)
{
    s3io_batch *b = s3io_batch_new(s3);
    if (!b)
        return -ENOMEM;
    int err = 0;
    for (size_t k = 0; k < n_todo && !err; k++) {
        char key[PUB_CHUNK_KEY_LEN];
        pub_chunk_key(c[todo[k]].sha256, key);
        int idx = s3io_batch_put(b, key, blob + c[todo[k]].offset, (size_t)c[todo[k]].size);
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

int pub_chunk_upload(objstore *os, const struct pub_chunk *c, size_t n, const uint8_t *blob,
                     const struct pub_upload_opts *o, struct pub_upload_stats *st, char *errstr,
                     size_t errstr_size)
{
    memset(st, 0, sizeof(*st));
    st->chunks = (uint32_t)n;
    size_t *order = calloc(n ? n : 1, sizeof(*order));
    size_t *uniq = calloc(n ? n : 1, sizeof(*uniq));
    size_t *missing = calloc(n ? n : 1, sizeof(*missing));
    int *state = calloc(n ? n : 1, sizeof(*state));
    bool *uploaded = calloc(n ? n : 1, sizeof(*uploaded));
    int err = order && uniq && missing && state && uploaded ? 0 : -ENOMEM;
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

    struct upload_job head = {
        .os = os, .c = c, .blob = blob, .todo = uniq, .n_todo = n_uniq, .state = state};
    pthread_mutex_init(&head.lock, NULL);
    err = job_run(&head, o->parallel, errstr, errstr_size);
    pthread_mutex_destroy(&head.lock);
    if (err)
        goto out;
    for (size_t k = 0; k < n_uniq; k++)
        if (!state[k])
            missing[n_missing++] = uniq[k];
    /* In blob order: an interrupted push leaves a prefix behind. */
    if (n_missing)
        qsort(missing, n_missing, sizeof(*missing), cmp_index);

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
        memset(state, 0, n * sizeof(*state));
        struct upload_job put = {.os = os,
                                 .c = c,
                                 .blob = blob,
                                 .todo = missing,
                                 .n_todo = n_put,
                                 .put = true,
                                 .state = state,
                                 .prog = o->prog};
        pthread_mutex_init(&put.lock, NULL);
        err = job_run(&put, o->parallel, errstr, errstr_size);
        pthread_mutex_destroy(&put.lock);
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
        } else {
            st->chunks_present++;
            st->bytes_present += c[i].size;
        }
    }
out:
    free(order);
    free(uniq);
    free(missing);
    free(state);
    free(uploaded);
    return err;
}
