#include "tests/worker/kt_outputs.h"

#include "kernels/kern_backend.h"
#include "worker/loader.h"
#include "worker/store.h"

#include <math.h>

int kt_outputs_check(const struct kt_env *e, int from, int to, const struct kt_version *v)
{
    char err[512];
    struct kern_backend *ref =
        kern_backend_new("ref", &(struct kern_backend_config){.threads = 1}, err, sizeof(err));
    KT_ASSERT_MSG(ref, "%s", err);
    /* The fixture's own weights, loaded as a worker loads a version. */
    struct store_version *sv = kt_store_version(v);
    struct slot_version *loaded;
    KT_ASSERT_MSG(!loader_load(ref, sv, 1, &loaded, NULL, NULL, err, sizeof(err)), "%s", err);
    store_version_free(sv);
    uint32_t cols = (uint32_t)v->m->arch.output_width;
    KT_ASSERT(cols > 0 && cols <= KT_ANSWER_MAX_COLS && v->m->arch.input_width == KT_REQUEST_COLS);
    int compared = 0;
    for (int i = from; i < to; i++) {
        const struct kt_answer *a = &e->answers[i];
        KT_ASSERT_MSG(a->answers && a->status == 0 && !strcmp(a->version, v->version),
                      "q%d: %d answers, the last with status %d by version \"%s\" from \"%s\"; "
                      "expected an OK answer by %s",
                      i, a->answers, a->status, a->version, a->worker, v->version);
        KT_ASSERT_MSG(a->cols == cols, "q%d by %s: %u outputs, %s has %u", i, a->worker, a->cols,
                      v->version, cols);
        float in[KT_REQUEST_COLS], want[KT_ANSWER_MAX_COLS];
        kt_env_request_input(i, in);
        KT_ASSERT_INT_EQ(kern_forward(ref, loader_weights(loaded), in, 1, want), 0);
        for (uint32_t k = 0; k < cols; k++, compared++)
            KT_ASSERT_MSG(fabsf(a->outputs[k] - want[k]) <= 1e-5f + 1e-4f * fabsf(want[k]),
                          "q%d[%u] by %s on %s: %g, the reference %g", i, k, a->worker, a->version,
                          (double)a->outputs[k], (double)want[k]);
    }
    loader_version_free(loaded);
    kern_backend_free(ref);
    return compared;
}
