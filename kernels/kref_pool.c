/* A minimal fork-join pool for the reference backend: a layer is one job, split by output
 * panels, and the join is the barrier before the next layer. Threads are started once, at
 * backend creation, so a batch creates none. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/kref.h"

#define MAX_THREADS 64u

struct kref_pool {
    unsigned n; /* threads including the caller */
    pthread_t *th;
    unsigned started;

    pthread_mutex_t run_lock; /* one job at a time */
    pthread_mutex_t m;
    pthread_cond_t go, done;
    unsigned long gen; /* bumped per job; a worker runs each generation once */
    kref_job_fn fn;
    void *arg;
    unsigned active;  /* threads taking part in the job */
    unsigned pending; /* workers yet to finish the job */
    int stop;
};

struct worker_arg {
    struct kref_pool *pool;
    unsigned tid;
};

static void *worker(void *p)
{
    struct worker_arg wa = *(struct worker_arg *)p;
    free(p);
    struct kref_pool *pool = wa.pool;
    unsigned long seen = 0;
    for (;;) {
        pthread_mutex_lock(&pool->m);
        while (pool->gen == seen && !pool->stop)
            pthread_cond_wait(&pool->go, &pool->m);
        if (pool->stop) {
            pthread_mutex_unlock(&pool->m);
            return NULL;
        }
        seen = pool->gen;
        kref_job_fn fn = pool->fn;
        void *arg = pool->arg;
        unsigned active = pool->active;
        pthread_mutex_unlock(&pool->m);

        if (wa.tid < active)
            fn(arg, wa.tid, active);

        pthread_mutex_lock(&pool->m);
        if (--pool->pending == 0)
            pthread_cond_signal(&pool->done);
        pthread_mutex_unlock(&pool->m);
    }
}

struct kref_pool *kref_pool_new(unsigned threads, char *errstr, size_t errstr_size)
{
    if (threads == 0) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        threads = ncpu > 0 ? (unsigned)ncpu : 1;
    }
    if (threads > MAX_THREADS)
        threads = MAX_THREADS;
    struct kref_pool *pool = calloc(1, sizeof *pool);
    if (!pool) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    pool->n = threads;
    pthread_mutex_init(&pool->run_lock, NULL);
    pthread_mutex_init(&pool->m, NULL);
    pthread_cond_init(&pool->go, NULL);
    pthread_cond_init(&pool->done, NULL);
    pool->th = calloc(threads, sizeof *pool->th);
    if (!pool->th)
        goto fail;
    for (unsigned t = 1; t < threads; t++) {
        struct worker_arg *wa = malloc(sizeof *wa);
        if (!wa)
            goto fail;
        wa->pool = pool;
        wa->tid = t;
        int rc = pthread_create(&pool->th[t], NULL, worker, wa);
        if (rc) {
            free(wa);
            snprintf(errstr, errstr_size, "pthread_create: %s", strerror(rc));
            kref_pool_free(pool);
            return NULL;
        }
        pool->started = t;
    }
    return pool;

fail:
    snprintf(errstr, errstr_size, "out of memory");
    kref_pool_free(pool);
    return NULL;
}

void kref_pool_free(struct kref_pool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->m);
    pool->stop = 1;
    pthread_cond_broadcast(&pool->go);
    pthread_mutex_unlock(&pool->m);
    for (unsigned t = 1; t <= pool->started; t++)
        pthread_join(pool->th[t], NULL);
    pthread_cond_destroy(&pool->done);
    pthread_cond_destroy(&pool->go);
    pthread_mutex_destroy(&pool->m);
    pthread_mutex_destroy(&pool->run_lock);
    free(pool->th);
    free(pool);
}

unsigned kref_pool_threads(const struct kref_pool *pool)
{
    return pool->n;
}

void kref_pool_run(struct kref_pool *pool, kref_job_fn fn, void *arg, unsigned nthreads)
{
    if (nthreads < 1)
        nthreads = 1;
    if (nthreads > pool->n)
        nthreads = pool->n;
    if (nthreads == 1) {
        /* Nothing of the pool is used: no need to wait for another caller's job. */
        fn(arg, 0, 1);
        return;
    }
    pthread_mutex_lock(&pool->run_lock);
    pthread_mutex_lock(&pool->m);
    pool->fn = fn;
    pool->arg = arg;
    pool->active = nthreads;
    pool->pending = pool->n - 1;
    pool->gen++;
    pthread_cond_broadcast(&pool->go);
    pthread_mutex_unlock(&pool->m);

    fn(arg, 0, nthreads);

    pthread_mutex_lock(&pool->m);
    while (pool->pending)
        pthread_cond_wait(&pool->done, &pool->m);
    pthread_mutex_unlock(&pool->m);
    pthread_mutex_unlock(&pool->run_lock);
}
