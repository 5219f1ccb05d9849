/**
 * @file mp_impl.h
 * @brief Internal msgpack-c helpers for the request/response codecs. Not a
 *        public header: msgpack.h must not leak out of schema/.
 */
#ifndef SCHEMA_MP_IMPL_H
#define SCHEMA_MP_IMPL_H

#include "common/kf_buf.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

/** Deepest nesting of non-empty containers mp_scan lets through. */
#define MP_MAX_DEPTH 24

/**
 * @brief Walk exactly one msgpack object at @p p without allocating, and check
 *        that every container's declared element count fits in the bytes that
 *        remain. msgpack-c allocates `count * sizeof(msgpack_object)` before it
 *        reads the elements, so a 6-byte input declaring 2^32 elements would
 *        otherwise reserve 100 GB; after this scan the unpacker allocates at
 *        most ~48 bytes per input byte.
 *        Containers may nest MP_MAX_DEPTH deep (msgpack-c's own stack is 32).
 * @param used  out: bytes the object occupies
 * @returns 0, -EPROTO (truncated, reserved byte 0xc1, impossible count, too deep)
 */
int mp_scan(const uint8_t *p, size_t len, size_t *used);

/**
 * @brief mp_scan, then msgpack_unpack_next, and require that the object spans
 *        all of the input. @p u must be initialised by the caller and
 *        destroyed by the caller (also on error). Strings and bins in the
 *        result point into @p p (msgpack_unpack_next references its input).
 * @param what  message name for error texts ("request", "response")
 * @returns 0, -EPROTO, -ENOMEM
 */
int mp_unpack_one(const uint8_t *p, size_t len, msgpack_unpacked *u, const char *what, char *errstr,
                  size_t errstr_size);

/** @brief One expected key of a map and, after mp_map_fields, its value (NULL if absent). */
struct mp_field {
    const char *name;
    const msgpack_object *val;
};

/**
 * @brief Assign the values of @p map to @p fields by key. Unknown keys are
 *        ignored (forward compatibility); a nil value counts as absent.
 * @param path  the map's name in error texts ("request", "inputs")
 * @returns 0, -EPROTO (not a map, a key that is not a string, a duplicate key)
 */
int mp_map_fields(const msgpack_object *map, struct mp_field *fields, size_t n, const char *path,
                  char *errstr, size_t errstr_size);

/** @brief A non-negative integer of any encoding, <= @p max. @returns 0, -EPROTO */
int mp_get_uint(const msgpack_object *o, const char *path, uint64_t max, uint64_t *out,
                char *errstr, size_t errstr_size);

/** @brief A str of @p min..@p max bytes, borrowed from the input. @returns 0, -EPROTO */
int mp_get_str(const msgpack_object *o, const char *path, size_t min, size_t max, kf_bytes *out,
               char *errstr, size_t errstr_size);

/** @brief Packs into a kf_buf; the first write error sticks in @c err. */
struct mp_out {
    msgpack_packer pk;
    kf_buf *buf;
    int err;
};

void mp_out_init(struct mp_out *mo, kf_buf *buf);
void mp_pack_strn(struct mp_out *mo, const void *s, size_t len);
void mp_pack_cstr(struct mp_out *mo, const char *s);
void mp_pack_bin(struct mp_out *mo, const void *data, size_t len);

#endif
