/* Every allocation the CUDA backend makes, counted. The backend's promise is that a batch
 * allocates nothing (all of it happens at load), and the gpu suite holds it to that by
 * reading these counters around kern_run()/kern_sync(). */
#include <errno.h>
#include <stdatomic.h>

#include "kernels/cuda/kcu.h"
#include "kernels/cuda/kcu_testing.h"

static _Atomic uint64_t n_dev_alloc, n_dev_free, n_host_alloc, n_host_free, n_handles;

int kcu_dev_alloc(void **p, size_t bytes)
{
    *p = NULL;
    atomic_fetch_add(&n_dev_alloc, 1);
    CUDA_CHECK(cudaMalloc(p, bytes));
    return 0;
}

void kcu_dev_free(void *p)
{
    if (!p)
        return;
    atomic_fetch_add(&n_dev_free, 1);
    /* An error here (a sticky fault from earlier work) has already been reported by whatever
     * failed first; freeing cannot do anything about it. */
    (void)cudaFree(p);
}

int kcu_host_alloc(void **p, size_t bytes)
{
    *p = NULL;
    atomic_fetch_add(&n_host_alloc, 1);
    CUDA_CHECK(cudaHostAlloc(p, bytes, cudaHostAllocDefault));
    return 0;
}

void kcu_host_free(void *p)
{
    if (!p)
        return;
    atomic_fetch_add(&n_host_free, 1);
    (void)cudaFreeHost(p);
}

int kcu_stream_create(cudaStream_t *s)
{
    atomic_fetch_add(&n_handles, 1);
    CUDA_CHECK(cudaStreamCreateWithFlags(s, cudaStreamNonBlocking));
    return 0;
}

void kcu_stream_destroy(cudaStream_t s)
{
    if (s)
        (void)cudaStreamDestroy(s);
}

int kcu_event_create(cudaEvent_t *e)
{
    atomic_fetch_add(&n_handles, 1);
    CUDA_CHECK(cudaEventCreate(e));
    return 0;
}

void kcu_event_destroy(cudaEvent_t e)
{
    if (e)
        (void)cudaEventDestroy(e);
}

int kcu_blas_create(cublasHandle_t *h)
{
    atomic_fetch_add(&n_handles, 1);
    CUBLAS_CHECK(cublasCreate(h));
    return 0;
}

void kcu_blas_destroy(cublasHandle_t h)
{
    if (h)
        (void)cublasDestroy(h);
}

void kcu_alloc_stats(struct kcu_alloc_stats *st)
{
    st->dev_alloc = atomic_load(&n_dev_alloc);
    st->dev_free = atomic_load(&n_dev_free);
    st->host_alloc = atomic_load(&n_host_alloc);
    st->host_free = atomic_load(&n_host_free);
    st->handles = atomic_load(&n_handles);
}
