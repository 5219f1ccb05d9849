/* Request decoder: never crashes; whatever decodes re-encodes, and the
 * canonical encoding is a fixed point. */
#include "schema/req.h"
#include "tests/fuzz/fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct req rq, again;
    char err[256];
    struct req_limits lim;
    req_limits_default(&lim);
    lim.max_bytes = 1 << 20;
    if (req_decode(data, size, &lim, &rq, err, sizeof(err)))
        return 0;
    kf_buf a, b, j;
    kf_buf_init(&a);
    kf_buf_init(&b);
    kf_buf_init(&j);
    FUZZ_CHECK(req_encode(&rq, &a) == 0);
    FUZZ_CHECK(req_decode(a.ptr, a.len, &lim, &again, err, sizeof(err)) == 0);
    FUZZ_CHECK(req_encode(&again, &b) == 0);
    FUZZ_CHECK(a.len == b.len && !memcmp(a.ptr, b.ptr, a.len));
    FUZZ_CHECK(req_to_json(&rq, &j) == 0);
    kf_buf_fini(&a);
    kf_buf_fini(&b);
    kf_buf_fini(&j);
    return 0;
}
