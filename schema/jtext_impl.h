/**
 * @file jtext_impl.h
 * @brief Internal: the UTF-8 rule the JSON request decoder and the JSON answer
 *        encoder share (RFC 3629: no overlong forms, no surrogates, nothing
 *        above U+10FFFF). Not a public header.
 */
#ifndef SCHEMA_JTEXT_IMPL_H
#define SCHEMA_JTEXT_IMPL_H

#include <stddef.h>
#include <stdint.h>

/** @brief Length (2..4) of the valid UTF-8 sequence at @p p (lead byte >= 0x80), or 0. */
static inline size_t jtext_utf8_len(const uint8_t *p, const uint8_t *end)
{
    uint8_t c = p[0];
    size_t n;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

#endif
