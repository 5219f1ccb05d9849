/* msgpack-c glue shared by req_codec.c and resp_codec.c. */
#include "schema/mp_impl.h"

#include "common/kf_err.h"

#include <string.h>

/* Bytes of a type's header after the type byte and the length it announces. */
static int mp_head(const uint8_t *p, size_t avail, size_t *head, uint64_t *payload, uint64_t *items)
{
    uint8_t t = p[0];
    size_t h = 1;
    uint64_t n = 0, pl = 0, it = 0;
    int lenbytes = 0;
    enum { SCALAR, BYTES, ARRAY, MAP, EXT } kind = SCALAR;

    if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3) {
        /* fixint, nil, bool */
    } else if ((t & 0xf0) == 0x80) {
        kind = MAP, n = t & 0x0f;
    } else if ((t & 0xf0) == 0x90) {
        kind = ARRAY, n = t & 0x0f;
    } else if ((t & 0xe0) == 0xa0) {
        kind = BYTES, n = t & 0x1f;
    } else {
        switch (t) {
        case 0xc4:
        case 0xd9: kind = BYTES, lenbytes = 1; break;
        case 0xc5:
        case 0xda: kind = BYTES, lenbytes = 2; break;
        case 0xc6:
        case 0xdb: kind = BYTES, lenbytes = 4; break;
        case 0xc7: kind = EXT, lenbytes = 1; break;
        case 0xc8: kind = EXT, lenbytes = 2; break;
        case 0xc9: kind = EXT, lenbytes = 4; break;
        case 0xca: pl = 4; break;
        case 0xcb: pl = 8; break;
        case 0xcc:
        case 0xd0: pl = 1; break;
        case 0xcd:
        case 0xd1: pl = 2; break;
        case 0xce:
        case 0xd2: pl = 4; break;
        case 0xcf:
        case 0xd3: pl = 8; break;
        case 0xd4: pl = 2; break; /* fixext: type byte + 1..16 data bytes */
        case 0xd5: pl = 3; break;
        case 0xd6: pl = 5; break;
        case 0xd7: pl = 9; break;
        case 0xd8: pl = 17; break;
        case 0xdc: kind = ARRAY, lenbytes = 2; break;
        case 0xdd: kind = ARRAY, lenbytes = 4; break;
        case 0xde: kind = MAP, lenbytes = 2; break;
        case 0xdf: kind = MAP, lenbytes = 4; break;
        default: return -EPROTO; /* 0xc1 is never used */
        }
    }
    if (lenbytes) {
        if (avail < 1 + (size_t)lenbytes)
            return -EPROTO;
        for (int i = 0; i < lenbytes; i++)
            n = n << 8 | p[1 + i];
        h += (size_t)lenbytes;
    }
    switch (kind) {
    case SCALAR: break;
    case BYTES: pl = n; break;
    case EXT: pl = n + 1; break; /* the ext type byte */
    case ARRAY: it = n; break;
    case MAP: it = 2 * n; break;
    }
    *head = h;
    *payload = pl;
    *items = it;
    return 0;
}

int mp_scan(const uint8_t *p, size_t len, size_t *used)
{
    size_t pos = 0;
    int depth = 0;
    uint64_t rem[MP_MAX_DEPTH + 1]; /* objects still to read at each open level */
    uint64_t pending = 1;           /* their sum */
    rem[0] = 1;
    while (depth >= 0) {
        if (!rem[depth]) {
            depth--;
            continue;
        }
        if (pos >= len)
            return -EPROTO;
        size_t head;
        uint64_t payload, items;
        if (mp_head(p + pos, len - pos, &head, &payload, &items))
            return -EPROTO;
        if (payload > len - pos - head)
            return -EPROTO;
        pos += head + (size_t)payload;
        rem[depth]--;
        pending--;
        if (!items)
            continue;
        /* Every element takes at least one byte: a count beyond the rest of
         * the input can never be satisfied, so refuse it before msgpack-c
         * sizes an allocation by it. */
        if (items > len - pos || pending + items > len - pos || depth == MP_MAX_DEPTH)
            return -EPROTO;
        rem[++depth] = items;
        pending += items;
    }
    *used = pos;
    return 0;
}

int mp_unpack_one(const uint8_t *p, size_t len, msgpack_unpacked *u, const char *what, char *errstr,
                  size_t errstr_size)
{
    size_t used = 0, off = 0;
    if (!p || len == 0) {
        kf_errf(errstr, errstr_size, "%s: empty message", what);
        return -EPROTO;
    }
    if (mp_scan(p, len, &used)) {
        kf_errf(errstr, errstr_size,
                "%s: not valid msgpack (truncated, malformed or nested deeper than %d)", what,
                MP_MAX_DEPTH);
        return -EPROTO;
    }
    if (used != len) {
        kf_errf(errstr, errstr_size, "%s: %zu trailing bytes after the map", what, len - used);
        return -EPROTO;
    }
    msgpack_unpack_return r = msgpack_unpack_next(u, (const char *)p, len, &off);
    if (r == MSGPACK_UNPACK_NOMEM_ERROR) {
        /* mp_scan kept the nesting within msgpack-c's stack: this is memory. */
        kf_errf(errstr, errstr_size, "%s: out of memory", what);
        return -ENOMEM;
    }
    if (r != MSGPACK_UNPACK_SUCCESS || off != len) {
        kf_errf(errstr, errstr_size, "%s: not valid msgpack", what);
        return -EPROTO;
    }
    return 0;
}

int mp_map_fields(const msgpack_object *map, struct mp_field *fields, size_t n, const char *path,
                  char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < n; i++)
        fields[i].val = NULL;
    if (map->type != MSGPACK_OBJECT_MAP) {
        kf_errf(errstr, errstr_size, "%s: expected a map", path);
        return -EPROTO;
    }
    bool seen[16] = {false};
    for (uint32_t k = 0; k < map->via.map.size; k++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[k];
        if (kv->key.type != MSGPACK_OBJECT_STR) {
            kf_errf(errstr, errstr_size, "%s: map key #%u is not a string", path, k);
            return -EPROTO;
        }
        const char *key = kv->key.via.str.ptr;
        uint32_t klen = kv->key.via.str.size;
        for (size_t i = 0; i < n && i < 16; i++) {
            if (strlen(fields[i].name) != klen || memcmp(fields[i].name, key, klen))
                continue;
            if (seen[i]) {
                kf_errf(errstr, errstr_size, "%s.%s: duplicate key", path, fields[i].name);
                return -EPROTO;
            }
            seen[i] = true;
            if (kv->val.type != MSGPACK_OBJECT_NIL)
                fields[i].val = &kv->val;
            break;
        }
    }
    return 0;
}

int mp_get_uint(const msgpack_object *o, const char *path, uint64_t max, uint64_t *out,
                char *errstr, size_t errstr_size)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        kf_errf(errstr, errstr_size, "%s: expected a non-negative integer", path);
        return -EPROTO;
    }
    if (o->via.u64 > max) {
        kf_errf(errstr, errstr_size, "%s: %llu is above the maximum %llu", path,
                (unsigned long long)o->via.u64, (unsigned long long)max);
        return -EPROTO;
    }
    *out = o->via.u64;
    return 0;
}

int mp_get_str(const msgpack_object *o, const char *path, size_t min, size_t max, kf_bytes *out,
               char *errstr, size_t errstr_size)
{
    if (o->type != MSGPACK_OBJECT_STR) {
        kf_errf(errstr, errstr_size, "%s: expected a string", path);
        return -EPROTO;
    }
    size_t len = o->via.str.size;
    if (len < min || len > max) {
        kf_errf(errstr, errstr_size, "%s: %zu bytes, expected %zu..%zu", path, len, min, max);
        return -EPROTO;
    }
    out->ptr = (const uint8_t *)o->via.str.ptr;
    out->len = len;
    return 0;
}

static int mp_out_write(void *data, const char *buf, size_t len)
{
    struct mp_out *mo = data;
    if (mo->err)
        return -1;
    int err = kf_buf_append(mo->buf, buf, len);
    if (err) {
        mo->err = err;
        return -1;
    }
    return 0;
}

void mp_out_init(struct mp_out *mo, kf_buf *buf)
{
    mo->buf = buf;
    mo->err = 0;
    msgpack_packer_init(&mo->pk, mo, mp_out_write);
}

void mp_pack_strn(struct mp_out *mo, const void *s, size_t len)
{
    msgpack_pack_str(&mo->pk, len);
    msgpack_pack_str_body(&mo->pk, s, len);
}

void mp_pack_cstr(struct mp_out *mo, const char *s)
{
    mp_pack_strn(mo, s, strlen(s));
}

void mp_pack_bin(struct mp_out *mo, const void *data, size_t len)
{
    msgpack_pack_bin(&mo->pk, len);
    msgpack_pack_bin_body(&mo->pk, data, len);
}
