/* jansson glue shared by the control-event, manifest and safetensors code. */
#include "schema/json_impl.h"

#include "common/crypto.h"
#include "common/kf_err.h"
#include "schema/dtype.h"
#include "schema/names.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void ju_path(char *out, size_t cap, const char *path, const char *key)
{
    snprintf(out, cap, "%s%s%s", path, *path ? "." : "", key);
}

int ju_load(const uint8_t *buf, size_t len, size_t max_len, const char *what, json_t **out,
            char *errstr, size_t errstr_size)
{
    *out = NULL;
    if (len > max_len) {
        kf_errf(errstr, errstr_size, "%s: %zu bytes, limit %zu", what, len, max_len);
        return -E2BIG;
    }
    json_error_t jerr;
    json_t *j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        kf_errf(errstr, errstr_size, "%s: invalid JSON at line %d column %d: %s", what, jerr.line,
                jerr.column, jerr.text);
        return -EPROTO;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        kf_errf(errstr, errstr_size, "%s: expected a JSON object", what);
        return -EPROTO;
    }
    *out = j;
    return 0;
}

static int dump_cb(const char *buf, size_t size, void *data)
{
    return kf_buf_append(data, buf, size) ? -1 : 0;
}

static int dump_flags(const json_t *j, kf_buf *out, size_t flags)
{
    size_t start = out->len;
    if (json_dump_callback(j, dump_cb, out, flags)) {
        out->len = start;
        return -ENOMEM;
    }
    return 0;
}

int ju_dump(const json_t *j, kf_buf *out)
{
    return dump_flags(j, out, JU_DUMP_FLAGS);
}

int ju_dump_out(const json_t *j, kf_buf *out)
{
    return dump_flags(j, out, JU_OUT_FLAGS);
}

json_t *ju_bytes(kf_bytes b)
{
    json_t *s = json_stringn((const char *)b.ptr, b.len);
    if (s || !b.len)
        return s ? s : json_string("");
    kf_buf hex;
    kf_buf_init(&hex);
    if (kf_buf_reserve(&hex, 4 + 2 * b.len + 1))
        return NULL;
    memcpy(hex.ptr, "hex:", 4);
    crypto_hex_encode(b.ptr, b.len, (char *)hex.ptr + 4);
    s = json_string((const char *)hex.ptr);
    kf_buf_fini(&hex);
    return s;
}

/* The length of the well-formed UTF-8 sequence at @p p (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0 when there is none. */
static size_t utf8_seq_len(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    size_t n;
    unsigned lo = 0x80, hi = 0xbf; /* the range of the second byte */
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        n = 2;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        n = 3, lo = p[0] == 0xe0 ? 0xa0 : 0x80, hi = p[0] == 0xed ? 0x9f : 0xbf;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        n = 4, lo = p[0] == 0xf0 ? 0x90 : 0x80, hi = p[0] == 0xf4 ? 0x8f : 0xbf;
    else
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++) /* a NUL ends the loop here: it is not a continuation */
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

json_t *ju_text(const char *s)
{
    json_t *j = json_string(s); /* the common case: already UTF-8 */
    if (j)
        return j;
    size_t len = strlen(s);
    kf_buf b;
    kf_buf_init(&b);
    if (kf_buf_reserve(&b, 3 * len + 1))
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_seq_len(p);
        if (n) {
            kf_buf_append(&b, p, n);
            p += n;
        } else {
            kf_buf_append(&b, "\xef\xbf\xbd", 3); /* U+FFFD REPLACEMENT CHARACTER */
            p++;
        }
    }
    j = json_stringn((const char *)b.ptr, b.len);
    kf_buf_fini(&b);
    return j;
}

int ju_print_line(const json_t *j, FILE *out)
{
    if (json_dumpf(j, out, JU_OUT_FLAGS))
        return ferror(out) ? -EIO : -ENOMEM;
    return fputc('\n', out) == EOF ? -EIO : 0;
}

void ju_set(json_t *obj, const char *key, json_t *val, int *err)
{
    if (!val || json_object_set_new(obj, key, val))
        *err = -ENOMEM;
}

/* The member, NULL when absent or null; sets the "missing" error if required. */
static const json_t *member(const json_t *obj, const char *path, const char *key, bool required,
                            int *err, char *errstr, size_t errstr_size)
{
    const json_t *v = json_object_get(obj, key);
    *err = 0;
    if (v && !json_is_null(v))
        return v;
    if (required) {
        char p[160];
        ju_path(p, sizeof(p), path, key);
        kf_errf(errstr, errstr_size, "%s: missing", p);
        *err = -EPROTO;
    }
    return NULL;
}

static bool present(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return v && !json_is_null(v);
}

static int type_error(const char *path, const char *key, const char *what, char *errstr,
                      size_t errstr_size)
{
    char p[160];
    ju_path(p, sizeof(p), path, key);
    kf_errf(errstr, errstr_size, "%s: %s", p, what);
    return -EPROTO;
}

int ju_str(const json_t *obj, const char *path, const char *key, bool required, char *out,
           size_t cap, char *errstr, size_t errstr_size)
{
    int err;
    out[0] = '\0';
    const json_t *v = member(obj, path, key, required, &err, errstr, errstr_size);
    if (!v)
        return err;
    if (!json_is_string(v))
        return type_error(path, key, "expected a string", errstr, errstr_size);
    size_t len = json_string_length(v);
    if (len >= cap) {
        char what[64];
        snprintf(what, sizeof(what), "longer than %zu bytes", cap - 1);
        return type_error(path, key, what, errstr, errstr_size);
    }
    memcpy(out, json_string_value(v), len + 1);
    return 0;
}

int ju_name(const json_t *obj, const char *path, const char *key, bool required, char *out,
            size_t cap, char *errstr, size_t errstr_size)
{
    int err = ju_str(obj, path, key, required, out, cap, errstr, errstr_size);
    if (err)
        return err;
    if (!out[0] && !present(obj, key))
        return 0;
    if (!schema_name_valid(out, strlen(out)))
        return type_error(path, key, "expected a name: " SCHEMA_NAME_RULE, errstr, errstr_size);
    return 0;
}

int ju_id(const json_t *obj, const char *path, const char *key, bool required, char *out,
          size_t cap, char *errstr, size_t errstr_size)
{
    int err = ju_str(obj, path, key, required, out, cap, errstr, errstr_size);
    if (err)
        return err;
    if (!out[0] && !present(obj, key))
        return 0;
    if (!schema_id_valid(out, strlen(out)))
        return type_error(path, key, "expected an id: " SCHEMA_ID_RULE, errstr, errstr_size);
    return 0;
}

int ju_uint(const json_t *obj, const char *path, const char *key, bool required, uint64_t min,
            uint64_t max, uint64_t *out, char *errstr, size_t errstr_size)
{
    int err;
    const json_t *v = member(obj, path, key, required, &err, errstr, errstr_size);
    if (!v)
        return err;
    if (!json_is_integer(v))
        return type_error(path, key, "expected an integer", errstr, errstr_size);
    json_int_t i = json_integer_value(v);
    if (i < 0 || (uint64_t)i < min || (uint64_t)i > max) {
        char what[96];
        snprintf(what, sizeof(what), "%lld is outside %llu..%llu", (long long)i,
                 (unsigned long long)min, (unsigned long long)max);
        return type_error(path, key, what, errstr, errstr_size);
    }
    *out = (uint64_t)i;
    return 0;
}

int ju_real(const json_t *obj, const char *path, const char *key, bool required, double min,
            double max, double *out, char *errstr, size_t errstr_size)
{
    int err;
    const json_t *v = member(obj, path, key, required, &err, errstr, errstr_size);
    if (!v)
        return err;
    if (!json_is_number(v))
        return type_error(path, key, "expected a number", errstr, errstr_size);
    double d = json_number_value(v);
    if (!isfinite(d) || d < min || d > max) {
        char what[96];
        snprintf(what, sizeof(what), "%g is outside %g..%g", d, min, max);
        return type_error(path, key, what, errstr, errstr_size);
    }
    *out = d;
    return 0;
}

int ju_bool(const json_t *obj, const char *path, const char *key, bool required, bool *out,
            char *errstr, size_t errstr_size)
{
    int err;
    const json_t *v = member(obj, path, key, required, &err, errstr, errstr_size);
    if (!v)
        return err;
    if (!json_is_boolean(v))
        return type_error(path, key, "expected true or false", errstr, errstr_size);
    *out = json_is_true(v);
    return 0;
}

int ju_sha256(const json_t *obj, const char *path, const char *key, bool required, char *out,
              char *errstr, size_t errstr_size)
{
    int err = ju_str(obj, path, key, required, out, CRYPTO_SHA256_HEX_LEN + 1, errstr, errstr_size);
    if (err)
        return err;
    if (!out[0] && !required)
        return 0;
    bool ok = strlen(out) == CRYPTO_SHA256_HEX_LEN;
    for (size_t i = 0; ok && out[i]; i++)
        ok = (out[i] >= '0' && out[i] <= '9') || (out[i] >= 'a' && out[i] <= 'f');
    if (!ok)
        return type_error(path, key, "expected 64 lower-case hex digits (SHA-256)", errstr,
                          errstr_size);
    return 0;
}

json_t *ju_child(const json_t *obj, const char *path, const char *key, json_type type,
                 bool required, int *err, char *errstr, size_t errstr_size)
{
    const json_t *v = member(obj, path, key, required, err, errstr, errstr_size);
    if (!v)
        return NULL;
    if (json_typeof(v) != type) {
        *err =
            type_error(path, key, type == JSON_OBJECT ? "expected an object" : "expected an array",
                       errstr, errstr_size);
        return NULL;
    }
    return (json_t *)v;
}
