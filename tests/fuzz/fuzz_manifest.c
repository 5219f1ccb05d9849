/* Manifest and architecture parsers, manifest.sig: never crash; a manifest
 * that parses encodes canonically, and the canonical bytes are a fixed point. */
#include "schema/manifest.h"
#include "tests/fuzz/fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    struct arch_desc a;
    arch_parse(data, size, &a, err, sizeof(err));
    arch_desc_fini(&a);
    manifest_sig_verify(data, size, data, size, NULL, NULL);

    struct manifest *m, *m2;
    if (manifest_parse(data, size, &m, err, sizeof(err)))
        return 0;
    kf_buf b1, b2;
    kf_buf_init(&b1);
    kf_buf_init(&b2);
    FUZZ_CHECK(manifest_encode(m, &b1, err, sizeof(err)) == 0);
    FUZZ_CHECK(manifest_parse(b1.ptr, b1.len, &m2, err, sizeof(err)) == 0);
    FUZZ_CHECK(manifest_encode(m2, &b2, err, sizeof(err)) == 0);
    FUZZ_CHECK(b1.len == b2.len && !memcmp(b1.ptr, b2.ptr, b1.len));
    float *got = calloc(m->golden.n_outputs + 1, sizeof(float));
    FUZZ_CHECK(got);
    manifest_golden_check(m, got, m->golden.n_outputs, NULL);
    FUZZ_CHECK(manifest_golden_check(m, m->golden.outputs, m->golden.n_outputs, NULL) == 0);
    free(got);
    manifest_free(m);
    manifest_free(m2);
    kf_buf_fini(&b1);
    kf_buf_fini(&b2);
    return 0;
}
