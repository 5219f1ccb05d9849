#include "schema/dtype.h"

#include <errno.h>
#include <string.h>

static const struct {
    const char *wire, *safet;
    size_t size;
} dtypes[SCHEMA_DTYPE_COUNT] = {
    [SCHEMA_DTYPE_F32] = {"f32", "F32", 4},
    [SCHEMA_DTYPE_F16] = {"f16", "F16", 2},
    [SCHEMA_DTYPE_BF16] = {"bf16", "BF16", 2},
};

static bool dtype_ok(enum schema_dtype dt)
{
    return (unsigned)dt < SCHEMA_DTYPE_COUNT;
}

size_t schema_dtype_size(enum schema_dtype dt)
{
    return dtype_ok(dt) ? dtypes[dt].size : 0;
}

const char *schema_dtype2str(enum schema_dtype dt)
{
    return dtype_ok(dt) ? dtypes[dt].wire : "?";
}

const char *schema_dtype2safet(enum schema_dtype dt)
{
    return dtype_ok(dt) ? dtypes[dt].safet : "?";
}

static int dtype_lookup(const char *s, size_t len, bool safet, enum schema_dtype *out)
{
    for (int i = 0; i < SCHEMA_DTYPE_COUNT; i++) {
        const char *name = safet ? dtypes[i].safet : dtypes[i].wire;
        if (strlen(name) == len && !memcmp(name, s, len)) {
            *out = (enum schema_dtype)i;
            return 0;
        }
    }
    return -EPROTO;
}

int schema_dtype_from_str(const char *s, size_t len, enum schema_dtype *out)
{
    return dtype_lookup(s, len, false, out);
}

int schema_dtype_from_safet(const char *s, size_t len, enum schema_dtype *out)
{
    return dtype_lookup(s, len, true, out);
}

static bool name_chars_ok(const char *s, size_t len, size_t max)
{
    if (!s || len == 0 || len > max)
        return false;
    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

bool schema_name_valid(const char *s, size_t len)
{
    return name_chars_ok(s, len, SCHEMA_NAME_MAX);
}

bool schema_topic_valid(const char *s, size_t len)
{
    return name_chars_ok(s, len, SCHEMA_TOPIC_MAX);
}

bool schema_id_valid(const char *s, size_t len)
{
    if (!s || len == 0 || len > SCHEMA_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}
