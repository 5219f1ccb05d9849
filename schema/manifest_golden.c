/* Golden-vector comparison: the worker's last check before it trusts a version. */
#include "schema/manifest.h"

#include <errno.h>
#include <math.h>

int manifest_golden_check(const struct manifest *m, const float *got, size_t n, size_t *bad_index)
{
    const struct manifest_golden *g = &m->golden;
    if (!got || n != g->n_outputs)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        double want = (double)g->outputs[i], have = (double)got[i];
        /* Written so that NaN fails: every comparison with NaN is false. */
        if (!(fabs(have - want) <= g->atol + g->rtol * fabs(want))) {
            if (bad_index)
                *bad_index = i;
            return -EBADMSG;
        }
    }
    return 0;
}
