#include "common/kf_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *kf_strerror(int err)
{
    switch (err) {
    case 0: return "success";
    case -EPROTO: return "bad wire data";
    case -EBADMSG: return "signature or digest mismatch";
    case -ETIMEDOUT: return "timed out";
    default: break;
    }
    /* strerror() is not thread-safe in general, but glibc's returns static
     * strings for known codes, which is all we pass it. */
    return strerror(err < 0 ? -err : err);
}

bool kf_err_is_retriable(int err)
{
    switch (err) {
    case -EAGAIN:
    case -ETIMEDOUT:
    case -ECONNREFUSED:
    case -ECONNRESET:
    case -EHOSTUNREACH:
    case -ENETUNREACH:
    case -EBUSY:
    case -EINTR: return true;
    default: return false;
    }
}

void kf_errf(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    if (!errstr || !errstr_size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
}
