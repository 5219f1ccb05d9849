/**
 * @file kf_buf.h
 * @brief Byte buffers: payloads are {ptr, len}, never assumed NUL-terminated.
 */
#ifndef KF_BUF_H
#define KF_BUF_H

#include <stddef.h>
#include <stdint.h>

/** @brief A borrowed view of bytes (valid as long as its owner says). */
typedef struct kf_bytes {
    const uint8_t *ptr;
    size_t len;
} kf_bytes;

/** @brief A growable, owned byte buffer. Embedded: kf_buf_init / kf_buf_fini. */
typedef struct kf_buf {
    uint8_t *ptr;
    size_t len;
    size_t cap;
} kf_buf;

void kf_buf_init(kf_buf *b);
/** @brief Release the memory; the buffer is empty and reusable afterwards. */
void kf_buf_fini(kf_buf *b);
/** @brief Make room for @p extra more bytes. @returns 0, -ENOMEM (also on size overflow). */
int kf_buf_reserve(kf_buf *b, size_t extra);
/** @returns 0, -ENOMEM */
int kf_buf_append(kf_buf *b, const void *data, size_t len);
/** @brief Append printf-formatted text (no NUL counted in len). @returns 0, -ENOMEM */
int kf_buf_appendf(kf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** @brief Keep the memory, drop the contents. */
void kf_buf_reset(kf_buf *b);
/**
 * @brief Take the memory out of the buffer: new, the caller frees it with free().
 *        The buffer is empty afterwards. Returns NULL for an empty buffer.
 */
uint8_t *kf_buf_steal(kf_buf *b, size_t *len);

static inline kf_bytes kf_buf_view(const kf_buf *b)
{
    return (kf_bytes){b->ptr, b->len};
}

#endif
