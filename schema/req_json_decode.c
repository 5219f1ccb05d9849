/* JSON request decoder (docs/schema.md "JSON requests").
 *
 * Hand-written rather than jansson: jansson builds a node of some 40 bytes for
 * every array element before anything can be checked, so a body of
 * "0,0,0,..." would cost 20 times its size. This parser walks the grammar
 * without allocating (depth bounded), then copies only the fields it knows
 * into the caller's store: strings unescaped, the tensor straight into its
 * final little-endian bytes, after the shape and the limits allowed them.
 * Fields are checked in the msgpack decoder's order with its error texts, so
 * both encodings fail alike. */
#include "schema/req.h"

#include "common/crypto.h"
#include "common/kf_err.h"
#include "schema/jtext_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Deepest nesting of objects and arrays (the msgpack decoder's MP_MAX_DEPTH). */
#define JSON_MAX_DEPTH 24
/* Longest number literal read; more digits than this carry no f32 precision. */
#define JSON_NUM_MAX 400

struct jp {
    const uint8_t *base, *p, *end;
    char *errstr;
    size_t errstr_size;
};

/* A decoded string or tensor in the store, by offset: the store may move. */
struct spot {
    size_t off, len;
    bool set;
};

static void ws(struct jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int syntax(struct jp *j, const char *what)
{
    kf_errf(j->errstr, j->errstr_size, "request: not valid JSON at byte %zu: %s",
            (size_t)(j->p - j->base), what);
    return -EPROTO;
}

/* Four hex digits at @p p (the caller checked they are there). */
static int hex4(const uint8_t *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int h = crypto_hex_digit(p[i]);
        if (h < 0)
            return -1;
        v = v << 4 | h;
    }
    return v;
}

/* The string at j->p ('"'): check it and leave j->p after its closing quote.
 * @p raw / @p raw_len: the text between the quotes; @p escaped: it has a '\'. */
static int scan_string(struct jp *j, const uint8_t **raw, size_t *raw_len, bool *escaped)
{
    j->p++;
    const uint8_t *start = j->p;
    bool esc = false;
    while (j->p < j->end && *j->p != '"') {
        uint8_t c = *j->p;
        if (c < 0x20)
            return syntax(j, "control character in a string");
        if (c == '\\') {
            esc = true;
            if (j->end - j->p < 2)
                break;
            uint8_t e = j->p[1];
            if (e != 'u') {
                if (!strchr("\"\\/bfnrt", e) || !e)
                    return syntax(j, "bad escape in a string");
                j->p += 2;
                continue;
            }
            int cp = j->end - j->p >= 6 ? hex4(j->p + 2) : -1;
            if (cp < 0)
                return syntax(j, "bad \\u escape in a string");
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return syntax(j, "lone low surrogate in a string");
            if (cp >= 0xd800 && cp <= 0xdbff) {
                int lo =
                    j->end - j->p >= 12 && j->p[6] == '\\' && j->p[7] == 'u' ? hex4(j->p + 8) : -1;
                if (lo < 0xdc00 || lo > 0xdfff)
                    return syntax(j, "lone high surrogate in a string");
                j->p += 6;
            }
            j->p += 6;
            continue;
        }
        if (c >= 0x80) {
            size_t n = jtext_utf8_len(j->p, j->end);
            if (!n)
                return syntax(j, "a string is not valid UTF-8");
            j->p += n;
            continue;
        }
        j->p++;
    }
    if (j->p >= j->end)
        return syntax(j, "unterminated string");
    *raw = start;
    *raw_len = (size_t)(j->p - start);
    *escaped = esc;
    j->p++;
    return 0;
}

static size_t put_utf8(uint8_t *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xc0 | cp >> 6);
        o[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xe0 | cp >> 12);
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (uint8_t)(0xf0 | cp >> 18);
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

/* Unescape a string scan_string accepted into @p o (room for @p len bytes:
 * an escape never decodes to more bytes than it takes). @returns the length. */
static size_t unescape(const uint8_t *s, size_t len, uint8_t *o)
{
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        if (s[i] != '\\') {
            o[n++] = s[i++];
            continue;
        }
        uint8_t e = s[i + 1];
        if (e != 'u') {
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            o[n++] = (uint8_t)to[strchr(from, e) - from];
            i += 2;
            continue;
        }
        uint32_t cp = (uint32_t)hex4(s + i + 2);
        i += 6;
        if (cp >= 0xd800 && cp <= 0xdbff) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + ((uint32_t)hex4(s + i + 2) - 0xdc00);
            i += 6;
        }
        n += put_utf8(o + n, cp);
    }
    return n;
}

/* The number literal at j->p (RFC 8259 grammar); j->p after it. */
static int scan_number(struct jp *j, bool *integer)
{
    const uint8_t *p = j->p, *e = j->end;
    *integer = true;
    if (p < e && *p == '-')
        p++;
    if (p < e && *p == '0')
        p++;
    else if (p < e && *p >= '1' && *p <= '9')
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    else
        return syntax(j, "bad number");
    if (p < e && *p == '.') {
        *integer = false;
        if (++p >= e || *p < '0' || *p > '9')
            return syntax(j, "bad number");
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        *integer = false;
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (p >= e || *p < '0' || *p > '9')
            return syntax(j, "bad number");
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    j->p = p;
    return 0;
}

static int skip_value(struct jp *j, int depth);

/* One member of the object at j->p (after '{' or ','): its key and value.
 * @p key / @p key_len: the key unescaped into @p keybuf (cap 80), or
 * key_len 0 when it is longer than every known key can be. */
static int member(struct jp *j, int depth, char *keybuf, size_t *key_len, const uint8_t **val)
{
    ws(j);
    if (j->p >= j->end || *j->p != '"')
        return syntax(j, "expected a string key");
    const uint8_t *raw;
    size_t raw_len;
    bool esc;
    int err = scan_string(j, &raw, &raw_len, &esc);
    if (err)
        return err;
    *key_len = raw_len <= 80 ? unescape(raw, raw_len, (uint8_t *)keybuf) : 0;
    ws(j);
    if (j->p >= j->end || *j->p != ':')
        return syntax(j, "expected ':'");
    j->p++;
    ws(j);
    *val = j->p;
    return skip_value(j, depth + 1);
}

/* Walk the array or object at j->p ('[' or '{'). */
static int skip_container(struct jp *j, int depth)
{
    bool obj = *j->p == '{';
    if (depth >= JSON_MAX_DEPTH) {
        kf_errf(j->errstr, j->errstr_size, "request: JSON nested deeper than %d levels",
                JSON_MAX_DEPTH);
        return -EPROTO;
    }
    j->p++;
    ws(j);
    if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
        j->p++;
        return 0;
    }
    for (;;) {
        int err;
        if (obj) {
            char key[80];
            size_t klen;
            const uint8_t *val;
            err = member(j, depth, key, &klen, &val);
        } else {
            err = skip_value(j, depth + 1);
        }
        if (err)
            return err;
        ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
            j->p++;
            return 0;
        }
        return syntax(j, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int skip_value(struct jp *j, int depth)
{
    ws(j);
    if (j->p >= j->end)
        return syntax(j, "unexpected end");
    const uint8_t *raw;
    size_t raw_len;
    bool flag;
    switch (*j->p) {
    case '{':
    case '[': return skip_container(j, depth);
    case '"': return scan_string(j, &raw, &raw_len, &flag);
    case 't':
    case 'f':
    case 'n': {
        const char *lit = *j->p == 't' ? "true" : *j->p == 'f' ? "false" : "null";
        size_t n = strlen(lit);
        if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n))
            return syntax(j, "expected a value");
        j->p += n;
        return 0;
    }
    default:
        if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))
            return scan_number(j, &flag);
        return syntax(j, "expected a value");
    }
}

struct jfield {
    const char *name;
    const uint8_t *val; /* the value's first byte; NULL when absent or null */
};

/* Assign the members of the object at @p at (already walked: valid JSON) to
 * @p f by key. Unknown keys are ignored; a null value counts as absent. */
static int object_fields(struct jp *j, const uint8_t *at, struct jfield *f, size_t n,
                         const char *path)
{
    bool seen[8] = {false};
    for (size_t i = 0; i < n; i++)
        f[i].val = NULL;
    if (*at != '{') {
        kf_errf(j->errstr, j->errstr_size, "%s: expected an object", path);
        return -EPROTO;
    }
    j->p = at + 1;
    ws(j);
    if (*j->p == '}')
        return 0;
    for (;;) {
        char key[80];
        size_t klen;
        const uint8_t *val;
        int err = member(j, 1, key, &klen, &val);
        if (err)
            return err;
        for (size_t i = 0; i < n; i++) {
            if (strlen(f[i].name) != klen || memcmp(f[i].name, key, klen))
                continue;
            if (seen[i]) {
                kf_errf(j->errstr, j->errstr_size, "%s.%s: duplicate key", path, f[i].name);
                return -EPROTO;
            }
            seen[i] = true;
            if (*val != 'n')
                f[i].val = val;
            break;
        }
        ws(j);
        if (*j->p++ == '}')
            return 0;
    }
}

/* A non-negative JSON integer (no fraction, no exponent) <= @p max. */
static int get_uint(struct jp *j, const uint8_t *v, const char *path, uint64_t max, uint64_t *out)
{
    bool integer = false;
    j->p = v;
    if (*v < '0' || *v > '9' || scan_number(j, &integer) || !integer) {
        kf_errf(j->errstr, j->errstr_size, "%s: expected a non-negative integer", path);
        return -EPROTO;
    }
    uint64_t u = 0;
    bool over = false;
    for (const uint8_t *p = v; p < j->p; p++)
        over |= __builtin_mul_overflow(u, 10, &u) || __builtin_add_overflow(u, *p - '0', &u);
    if (over || u > max) {
        kf_errf(j->errstr, j->errstr_size, "%s: %.*s is above the maximum %llu", path,
                (int)(j->p - v < 40 ? j->p - v : 40), (const char *)v, (unsigned long long)max);
        return -EPROTO;
    }
    *out = u;
    return 0;
}

/* A string, unescaped into @p store. @p id_limit: refuse more bytes than
 * @p max with -E2BIG ("id: N bytes, limit M") instead of -EPROTO. */
static int get_str(struct jp *j, const uint8_t *v, const char *path, size_t min, size_t max,
                   bool id_limit, kf_buf *store, struct spot *out)
{
    if (*v != '"') {
        kf_errf(j->errstr, j->errstr_size, "%s: expected a string", path);
        return -EPROTO;
    }
    j->p = v;
    const uint8_t *raw;
    size_t raw_len;
    bool esc;
    int err = scan_string(j, &raw, &raw_len, &esc);
    if (err)
        return err;
    if (kf_buf_reserve(store, raw_len + 1)) /* + 1: "" too gets a buffer to point into */
        return -ENOMEM;
    size_t len = unescape(raw, raw_len, store->ptr + store->len);
    if (id_limit && len > max) {
        kf_errf(j->errstr, j->errstr_size, "%s: %zu bytes, limit %zu", path, len, max);
        return -E2BIG;
    }
    if (len < min || len > max) {
        kf_errf(j->errstr, j->errstr_size, "%s: %zu bytes, expected %zu..%zu", path, len, min, max);
        return -EPROTO;
    }
    *out = (struct spot){store->len, len, true};
    store->len += len;
    return 0;
}

/* The shape: an array of exactly 2 positive integers. */
static int get_shape(struct jp *j, const uint8_t *v, uint64_t dims[2])
{
    size_t n = 0;
    j->p = v + 1;
    ws(j);
    bool ok = *v == '[';
    while (ok && *j->p != ']') {
        bool integer;
        const uint8_t *num = j->p;
        ok = n < 2 && *num >= '1' && *num <= '9' && !scan_number(j, &integer) && integer;
        uint64_t u = 0;
        for (const uint8_t *p = num; ok && p < j->p; p++)
            ok = !__builtin_mul_overflow(u, 10, &u) && !__builtin_add_overflow(u, *p - '0', &u);
        if (ok)
            dims[n++] = u;
        ws(j);
        if (*j->p == ',')
            j->p++;
        ws(j);
    }
    if (!ok || n != 2) {
        kf_errf(j->errstr, j->errstr_size, "inputs.shape: expected array of 2 positive integers");
        return -EPROTO;
    }
    return 0;
}

/* One number of a list for an f32 tensor. */
static int put_f32(struct jp *j, const uint8_t *num, size_t len, uint64_t i, uint8_t *dst)
{
    char lit[JSON_NUM_MAX + 1];
    if (len > JSON_NUM_MAX) {
        kf_errf(j->errstr, j->errstr_size, "inputs.data[%llu]: a number of more than %d characters",
                (unsigned long long)i, JSON_NUM_MAX);
        return -EPROTO;
    }
    memcpy(lit, num, len);
    lit[len] = '\0';
    /* strtof rounds the decimal once, correctly; via double it would round twice. */
    float f = strtof(lit, NULL);
    if (isinf(f)) {
        kf_errf(j->errstr, j->errstr_size,
                "inputs.data[%llu]: %.40s does not fit f32 (largest magnitude 3.4028235e38)",
                (unsigned long long)i, lit);
        return -EPROTO;
    }
    uint32_t bits;
    memcpy(&bits, &f, 4);
    for (int k = 0; k < 4; k++)
        dst[k] = (uint8_t)(bits >> (8 * k));
    return 0;
}

/* data as a list of numbers: f32 only, straight into the store. */
static int get_data_list(struct jp *j, const uint8_t *v, const struct req_tensor *t,
                         const struct req_limits *lim, kf_buf *store, struct spot *out)
{
    if (t->dtype != SCHEMA_DTYPE_F32) {
        kf_errf(j->errstr, j->errstr_size,
                "inputs.data: a list of numbers is read as f32 only; send %s data as a base64 "
                "string of its little-endian bytes",
                schema_dtype2str(t->dtype));
        return -EPROTO;
    }
    uint64_t want = t->rows * t->cols; /* the shape check bounded it by max_bytes */
    uint64_t cap = lim->max_bytes / 4;
    if (kf_buf_reserve(store, want * 4))
        return -ENOMEM;
    uint8_t *dst = store->ptr + store->len;
    uint64_t n = 0;
    j->p = v + 1;
    ws(j);
    while (*j->p != ']') {
        const uint8_t *num = j->p;
        bool integer;
        if ((*num != '-' && (*num < '0' || *num > '9')) || scan_number(j, &integer)) {
            kf_errf(j->errstr, j->errstr_size, "inputs.data[%llu]: expected a number",
                    (unsigned long long)n);
            return -EPROTO;
        }
        if (n < want) {
            int err = put_f32(j, num, (size_t)(j->p - num), n, dst + n * 4);
            if (err)
                return err;
        }
        if (++n > cap) {
            kf_errf(j->errstr, j->errstr_size,
                    "inputs.data: more than %llu numbers, the limit of %llu bytes of f32",
                    (unsigned long long)cap, (unsigned long long)lim->max_bytes);
            return -E2BIG;
        }
        ws(j);
        if (*j->p == ',')
            j->p++;
        ws(j);
    }
    if (n != want) {
        kf_errf(j->errstr, j->errstr_size, "inputs.data: %llu numbers, expected %llu × %llu = %llu",
                (unsigned long long)n, (unsigned long long)t->rows, (unsigned long long)t->cols,
                (unsigned long long)want);
        return -EPROTO;
    }
    *out = (struct spot){store->len, want * 4, true};
    store->len += want * 4;
    return 0;
}

/* data as one base64 string of the tensor's little-endian bytes, any dtype. */
static int get_data_base64(struct jp *j, const uint8_t *v, uint64_t want,
                           const struct req_limits *lim, kf_buf *store, struct spot *out, bool *b64)
{
    j->p = v;
    const uint8_t *raw;
    size_t len;
    bool esc;
    int err = scan_string(j, &raw, &len, &esc);
    if (err)
        return err;
    if (len / 4 * 3 > lim->max_bytes + 2) {
        kf_errf(j->errstr, j->errstr_size,
                "inputs.data: %zu base64 characters, more than the limit of %llu bytes", len,
                (unsigned long long)lim->max_bytes);
        return -E2BIG;
    }
    uint8_t *text = NULL;
    if (esc) { /* "\/" is legal JSON for '/': unescape before decoding */
        text = malloc(len ? len : 1);
        if (!text)
            return -ENOMEM;
        len = unescape(raw, len, text);
        raw = text;
    }
    size_t text_want = crypto_base64_len((size_t)want);
    if (len != text_want) {
        free(text);
        kf_errf(j->errstr, j->errstr_size,
                "inputs.data: %zu base64 characters, expected %zu for %llu bytes", len, text_want,
                (unsigned long long)want);
        return -EPROTO;
    }
    if (kf_buf_reserve(store, want)) {
        free(text);
        return -ENOMEM;
    }
    int got = crypto_base64_decode((const char *)raw, len, store->ptr + store->len, want);
    free(text);
    if (got < 0 || (uint64_t)got != want) {
        kf_errf(j->errstr, j->errstr_size, "inputs.data: not valid base64 (RFC 4648, padded)");
        return -EPROTO;
    }
    *out = (struct spot){store->len, want, true};
    store->len += want;
    *b64 = true;
    return 0;
}

enum { I_DTYPE, I_SHAPE, I_DATA, I_COUNT };

static int decode_inputs(struct jp *j, const uint8_t *at, const struct req_limits *lim,
                         struct req_tensor *t, kf_buf *store, struct spot *data, bool *b64)
{
    struct jfield f[I_COUNT] = {{"dtype", NULL}, {"shape", NULL}, {"data", NULL}};
    int err = object_fields(j, at, f, I_COUNT, "inputs");
    if (err)
        return err;
    static const char *const names[I_COUNT] = {"inputs.dtype", "inputs.shape", "inputs.data"};
    for (int i = 0; i < I_COUNT; i++) {
        if (!f[i].val) {
            kf_errf(j->errstr, j->errstr_size, "%s: missing", names[i]);
            return -EPROTO;
        }
    }
    const uint8_t *raw;
    size_t raw_len = 0;
    bool esc;
    char name[16];
    j->p = f[I_DTYPE].val;
    if (*j->p != '"' || scan_string(j, &raw, &raw_len, &esc) || raw_len > sizeof(name) ||
        schema_dtype_from_str(name, unescape(raw, raw_len, (uint8_t *)name), &t->dtype)) {
        kf_errf(j->errstr, j->errstr_size, "inputs.dtype: expected \"f32\", \"f16\" or \"bf16\"");
        return -EPROTO;
    }
    uint64_t dims[2];
    if ((err = get_shape(j, f[I_SHAPE].val, dims)))
        return err;
    t->rows = dims[0];
    t->cols = dims[1];
    if (t->rows > lim->max_rows) {
        kf_errf(j->errstr, j->errstr_size, "inputs.shape: %llu rows, limit %llu",
                (unsigned long long)t->rows, (unsigned long long)lim->max_rows);
        return -E2BIG;
    }
    if (t->cols > lim->max_cols) {
        kf_errf(j->errstr, j->errstr_size, "inputs.shape: %llu columns, limit %llu",
                (unsigned long long)t->cols, (unsigned long long)lim->max_cols);
        return -E2BIG;
    }
    size_t esz = schema_dtype_size(t->dtype);
    uint64_t want;
    if (__builtin_mul_overflow(t->rows, t->cols, &want) ||
        __builtin_mul_overflow(want, (uint64_t)esz, &want) || want > lim->max_bytes) {
        kf_errf(j->errstr, j->errstr_size, "inputs: %llu × %llu %s exceeds the limit of %llu bytes",
                (unsigned long long)t->rows, (unsigned long long)t->cols,
                schema_dtype2str(t->dtype), (unsigned long long)lim->max_bytes);
        return -E2BIG;
    }
    const uint8_t *d = f[I_DATA].val;
    if (*d == '[')
        return get_data_list(j, d, t, lim, store, data);
    if (*d == '"')
        return get_data_base64(j, d, want, lim, store, data, b64);
    kf_errf(j->errstr, j->errstr_size,
            "inputs.data: expected a list of numbers or a base64 string");
    return -EPROTO;
}

enum { F_V, F_ID, F_MODEL, F_VERSION, F_DEADLINE, F_REPLY_TO, F_INPUTS, F_COUNT };
enum { S_ID, S_MODEL, S_VERSION, S_REPLY_TO, S_DATA, S_COUNT };

static int decode_fields(struct jp *j, const struct req_limits *lim, struct req *rq, kf_buf *store,
                         struct spot *s, bool *b64)
{
    struct jfield f[F_COUNT] = {
        {"v", NULL},           {"id", NULL},       {"model", NULL},  {"version", NULL},
        {"deadline_ms", NULL}, {"reply_to", NULL}, {"inputs", NULL},
    };
    int err = object_fields(j, j->p, f, F_COUNT, "request");
    if (err)
        return err;
    static const int required[] = {F_V, F_ID, F_MODEL, F_INPUTS};
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (!f[required[i]].val) {
            kf_errf(j->errstr, j->errstr_size, "%s: missing", f[required[i]].name);
            return -EPROTO;
        }
    }
    uint64_t u;
    if ((err = get_uint(j, f[F_V].val, "v", UINT32_MAX, &u)))
        return err;
    if (u != REQ_VERSION) {
        kf_errf(j->errstr, j->errstr_size, "v: unsupported version %llu (this code speaks %d)",
                (unsigned long long)u, REQ_VERSION);
        return -EPROTO;
    }
    rq->v = (uint32_t)u;
    size_t max_id = lim->max_id_len && lim->max_id_len < REQ_ID_MAX ? lim->max_id_len : REQ_ID_MAX;
    if ((err = get_str(j, f[F_ID].val, "id", 1, max_id, true, store, &s[S_ID])))
        return err;
    if ((err = get_str(j, f[F_MODEL].val, "model", 1, SCHEMA_NAME_MAX, false, store, &s[S_MODEL])))
        return err;
    if (f[F_VERSION].val && (err = get_str(j, f[F_VERSION].val, "version", 1, SCHEMA_NAME_MAX,
                                           false, store, &s[S_VERSION])))
        return err;
    if (f[F_DEADLINE].val) {
        if ((err = get_uint(j, f[F_DEADLINE].val, "deadline_ms", INT64_MAX, &u)))
            return err;
        rq->has_deadline = true;
        rq->deadline_ms = (int64_t)u;
    }
    if (f[F_REPLY_TO].val) {
        if ((err = get_str(j, f[F_REPLY_TO].val, "reply_to", 1, 249, false, store, &s[S_REPLY_TO])))
            return err;
        if (!schema_topic_valid((const char *)store->ptr + s[S_REPLY_TO].off, s[S_REPLY_TO].len)) {
            kf_errf(j->errstr, j->errstr_size, "reply_to: not a legal Kafka topic name");
            return -EPROTO;
        }
    }
    return decode_inputs(j, f[F_INPUTS].val, lim, &rq->inputs, store, &s[S_DATA], b64);
}

static kf_bytes at_spot(const kf_buf *store, const struct spot *s)
{
    return s->set ? (kf_bytes){store->ptr + s->off, s->len} : (kf_bytes){NULL, 0};
}

bool req_is_json(const uint8_t *buf, size_t len)
{
    size_t i = 0;
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
        i++;
    return buf && i < len && buf[i] == '{';
}

int req_decode_json(const uint8_t *buf, size_t len, const struct req_limits *lim, struct req *out,
                    kf_buf *store, bool *data_base64, char *errstr, size_t errstr_size)
{
    if (!buf || !out || !store) {
        kf_errf(errstr, errstr_size, "request: no buffer");
        return -EINVAL;
    }
    struct req_limits deflim;
    if (!lim) {
        req_limits_default(&deflim);
        lim = &deflim;
    }
    memset(out, 0, sizeof(*out));
    bool b64 = false;
    size_t max_json = lim->max_json_bytes ? lim->max_json_bytes : REQ_JSON_MAX;
    if (len > max_json) {
        kf_errf(errstr, errstr_size, "request: %zu bytes of JSON, limit %zu", len, max_json);
        return -E2BIG;
    }
    struct jp j = {buf, buf, buf + len, errstr, errstr_size};
    ws(&j);
    if (j.p >= j.end || *j.p != '{') {
        kf_errf(errstr, errstr_size, "request: expected a JSON object");
        return -EPROTO;
    }
    /* The whole document first, so that no field is read from a body that
     * turns out not to be JSON. */
    const uint8_t *root = j.p;
    int err = skip_value(&j, 0);
    if (!err) {
        ws(&j);
        if (j.p != j.end)
            err = syntax(&j, "trailing bytes after the object");
    }
    if (err)
        return err;
    struct spot s[S_COUNT] = {{0, 0, false}};
    j.p = root;
    err = decode_fields(&j, lim, out, store, s, &b64);
    /* Pointers last: the store may have moved while it grew. id and model
     * are kept on failure so the caller can address an error answer. */
    out->id = at_spot(store, &s[S_ID]);
    out->model = at_spot(store, &s[S_MODEL]);
    if (err) {
        if (!s[S_MODEL].set)
            out->id = (kf_bytes){NULL, 0};
        return err;
    }
    out->version = at_spot(store, &s[S_VERSION]);
    out->reply_to = at_spot(store, &s[S_REPLY_TO]);
    out->inputs.data = at_spot(store, &s[S_DATA]);
    if (data_base64)
        *data_base64 = b64;
    return 0;
}
