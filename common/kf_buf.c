#include "common/kf_buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kf_buf_init(kf_buf *b)
{
    b->ptr = NULL;
    b->len = b->cap = 0;
}

void kf_buf_fini(kf_buf *b)
{
    if (!b)
        return;
    free(b->ptr);
    kf_buf_init(b);
}

int kf_buf_reserve(kf_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len)
        return -ENOMEM;
    size_t need = b->len + extra;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = realloc(b->ptr, cap);
    if (!p)
        return -ENOMEM;
    b->ptr = p;
    b->cap = cap;
    return 0;
}

int kf_buf_append(kf_buf *b, const void *data, size_t len)
{
    if (!len)
        return 0;
    int err = kf_buf_reserve(b, len);
    if (err)
        return err;
    memcpy(b->ptr + b->len, data, len);
    b->len += len;
    return 0;
}

int kf_buf_appendf(kf_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    /* +1 for the NUL vsnprintf writes; it is not counted in len. */
    int err = kf_buf_reserve(b, (size_t)n + 1);
    if (err)
        return err;
    va_start(ap, fmt);
    vsnprintf((char *)b->ptr + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void kf_buf_reset(kf_buf *b)
{
    b->len = 0;
}

uint8_t *kf_buf_steal(kf_buf *b, size_t *len)
{
    uint8_t *p = b->ptr;
    if (len)
        *len = b->len;
    kf_buf_init(b);
    return p;
}
