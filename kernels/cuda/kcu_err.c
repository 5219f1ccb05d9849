/* Translation of CUDA and cuBLAS errors at the edge of the module (STYLE "Errors"): the
 * statement, file and line go to kern_last_error(), and the caller gets an errno. */
#include <errno.h>

#include "kernels/cuda/kcu.h"

static const char *base(const char *file)
{
    const char *b = file;
    for (const char *p = file; *p; p++)
        if (*p == '/')
            b = p + 1;
    return b;
}

int kcu_cuda_fail(cudaError_t e, const char *stmt, const char *file, int line)
{
    /* The runtime keeps a failed call's error as the "last error" until someone reads it, and
     * the next launch check (cudaGetLastError) would then report this failure again: after a
     * load that ran out of memory, a healthy batch would fail with -ENOMEM. Reading it here
     * clears it; a sticky error (a device fault) stays and is reported by every later call. */
    (void)cudaGetLastError();
    int err;
    switch (e) {
    case cudaErrorMemoryAllocation: err = -ENOMEM; break;
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorInvalidDevice:
    case cudaErrorDevicesUnavailable:
    case cudaErrorNoKernelImageForDevice: err = -ENODEV; break;
    default: err = -EIO; break;
    }
    return kern_fail(err, NULL, 0, "%s:%d: %s: %s (%s)", base(file), line, stmt,
                     cudaGetErrorName(e), cudaGetErrorString(e));
}

int kcu_cublas_fail(cublasStatus_t s, const char *stmt, const char *file, int line)
{
    int err;
    switch (s) {
    case CUBLAS_STATUS_ALLOC_FAILED: err = -ENOMEM; break;
    case CUBLAS_STATUS_NOT_SUPPORTED:
    case CUBLAS_STATUS_ARCH_MISMATCH: err = -ENOTSUP; break;
    case CUBLAS_STATUS_NOT_INITIALIZED: err = -ENODEV; break;
    default: err = -EIO; break;
    }
    return kern_fail(err, NULL, 0, "%s:%d: %s: %s (%s)", base(file), line, stmt,
                     cublasGetStatusName(s), cublasGetStatusString(s));
}
