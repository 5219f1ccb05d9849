/* safetensors reader: never crashes; a file that parses re-writes into one
 * that parses to the same tensor table. */
#include "schema/safet.h"
#include "tests/fuzz/fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    struct safet_file *f, *g;
    if (safet_parse(data, size, size, &f, err, sizeof(err)))
        return 0;
    struct safet_input *in = calloc(f->n_tensors + 1, sizeof(*in));
    FUZZ_CHECK(in);
    for (size_t i = 0; i < f->n_tensors; i++) {
        const uint8_t *p = safet_tensor_data(f, i, data, size);
        FUZZ_CHECK(p || f->tensors[i].length == 0);
        in[i] = (struct safet_input){f->tensors[i].name, f->tensors[i].dtype, f->tensors[i].ndim,
                                     f->tensors[i].shape, p ? p : (const uint8_t *)""};
    }
    kf_buf b;
    kf_buf_init(&b);
    int rc = safet_write(&b, in, f->n_tensors, f->meta, f->n_meta);
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(safet_parse(b.ptr, b.len, b.len, &g, err, sizeof(err)) == 0);
    FUZZ_CHECK(g->n_tensors == f->n_tensors && g->n_meta == f->n_meta);
    for (size_t i = 0; i < g->n_tensors; i++) {
        FUZZ_CHECK(g->tensors[i].length == f->tensors[i].length);
        const uint8_t *p = safet_tensor_data(g, i, b.ptr, b.len);
        FUZZ_CHECK(!g->tensors[i].length || !memcmp(p, in[i].data, g->tensors[i].length));
    }
    safet_file_free(g);
    safet_file_free(f);
    free(in);
    kf_buf_fini(&b);
    return 0;
}
