/* s3io's reading of S3 answers (common/s3io_xml.c), which the SigV4 transport
 * applies to whatever a server sends: never crashes or reads past the input;
 * a listing is either read (keys non-empty, at most S3IO_KEY_MAX bytes) or
 * refused with -EPROTO and a reason; URI encoding emits only unreserved
 * bytes and %XX. */
#include "common/s3io_xml.h"
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int on_key(void *opaque, const char *key, uint64_t size)
{
    (void)size;
    size_t n = strlen(key);
    FUZZ_CHECK(n > 0 && n <= S3IO_KEY_MAX);
    (*(int *)opaque)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *doc = (const char *)data;
    char next[S3IO_KEY_MAX + 1], why[256] = "", code[64], msg[160];
    bool truncated;
    int keys = 0;
    int err = s3io_xml_list(doc, size, on_key, &keys, &truncated, next, why, sizeof(why));
    FUZZ_CHECK(err == 0 || err == -EPROTO);
    FUZZ_CHECK(err == 0 || why[0]);
    FUZZ_CHECK(strlen(next) <= S3IO_KEY_MAX);
    s3io_xml_error(doc, size, code, sizeof(code), msg, sizeof(msg));
    FUZZ_CHECK(strlen(code) < sizeof(code) && strlen(msg) < sizeof(msg));

    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    kf_buf b;
    kf_buf_init(&b);
    FUZZ_CHECK(s3io_uri_encode(&b, s, true) == 0);
    for (size_t i = 0; i < b.len; i++) {
        char c = (char)b.ptr[i];
        if (c == '%') { /* two upper-case hex digits follow */
            FUZZ_CHECK(i + 2 < b.len);
            for (int k = 1; k <= 2; k++) {
                char h = (char)b.ptr[i + (size_t)k];
                FUZZ_CHECK((h >= '0' && h <= '9') || (h >= 'A' && h <= 'F'));
            }
            i += 2;
            continue;
        }
        FUZZ_CHECK((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '.' || c == '_' || c == '~' || c == '/');
    }
    kf_buf_fini(&b);
    free(s);
    return 0;
}
