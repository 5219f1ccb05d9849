/* Response decoder: never crashes; decode -> encode -> decode is stable. */
#include "schema/resp.h"
#include "tests/fuzz/fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct resp rs, again;
    char err[256];
    if (resp_decode(data, size, &rs, err, sizeof(err)))
        return 0;
    kf_buf a, b, j;
    kf_buf_init(&a);
    kf_buf_init(&b);
    kf_buf_init(&j);
    FUZZ_CHECK(resp_encode(&rs, &a) == 0);
    FUZZ_CHECK(resp_decode(a.ptr, a.len, &again, err, sizeof(err)) == 0);
    FUZZ_CHECK(resp_encode(&again, &b) == 0);
    FUZZ_CHECK(a.len == b.len && !memcmp(a.ptr, b.ptr, a.len));
    FUZZ_CHECK(resp_to_json(&rs, &j) == 0);
    kf_buf_fini(&a);
    kf_buf_fini(&b);
    kf_buf_fini(&j);
    return 0;
}
