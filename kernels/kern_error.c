/* The calling thread's last error, in the manner of dlerror(): the run path returns a bare
 * errno so that it stays cheap, and whoever reports the failure asks for the detail. */
#include <stdarg.h>
#include <stdio.h>

#include "kernels/kern_backend.h"
#include "kernels/kern_backend_impl.h"

static _Thread_local char last_error[512];

int kern_vfail(int err, char *errstr, size_t errstr_size, const char *fmt, va_list ap)
{
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    if (errstr && errstr_size)
        snprintf(errstr, errstr_size, "%s", last_error);
    return err;
}

int kern_fail(int err, char *errstr, size_t errstr_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kern_vfail(err, errstr, errstr_size, fmt, ap);
    va_end(ap);
    return err;
}

void kern_clear_error(void)
{
    last_error[0] = '\0';
}

const char *kern_last_error(void)
{
    return last_error;
}
