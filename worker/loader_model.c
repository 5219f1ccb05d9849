/* The manifest's network as a kern_model (schema/model_map.h), and the in-place fit question. */
#include "worker/loader.h"

#include "common/kf_err.h"
#include "schema/model_map.h"

#include <errno.h>
#include <stdlib.h>

int loader_model(const struct store_version *sv, struct kern_model *km, struct kern_layer **layers,
                 char *errstr, size_t errstr_size)
{
    *layers = NULL;
    const struct manifest *m = sv->manifest;
    /* The blob must be the one the manifest describes; the rest (limits,
     * enums, every tensor inside the blob) is the shared mapping's. */
    if (!sv->blob || sv->blob_size != m->blob_size) {
        kf_errf(errstr, errstr_size, "the blob (%llu bytes) is not the manifest's (%llu bytes)",
                (unsigned long long)(sv->blob ? sv->blob_size : 0),
                (unsigned long long)m->blob_size);
        return -EPROTO;
    }
    return model_map_build(&m->arch, m->tensors, m->n_tensors, sv->blob, sv->blob_size, km, layers,
                           errstr, errstr_size);
}

int loader_fits_inplace(struct kern_backend *be, const struct store_version *sv, uint32_t max_rows,
                        uint64_t budget_bytes, uint64_t resident_bytes, bool *fits,
                        uint64_t *need_bytes, char *errstr, size_t errstr_size)
{
    if (!be || !sv || !sv->manifest || !fits || !max_rows || max_rows > KERN_MAX_ROWS) {
        kf_errf(errstr, errstr_size, "loader_fits_inplace: bad argument");
        return -EINVAL;
    }
    struct kern_model km;
    struct kern_layer *layers;
    int err = loader_model(sv, &km, &layers, errstr, errstr_size);
    if (err)
        return err;
    uint64_t need = 0;
    err = kern_weights_size(be, &km, max_rows, &need);
    free(layers);
    if (err) {
        kf_errf(errstr, errstr_size, "kern_weights_size: %s", kf_strerror(err));
        return err;
    }
    if (need_bytes)
        *need_bytes = need;
    if (kern_backend_supports(be, KERN_CAP_DEVICE_MEMORY)) {
        size_t free_b = 0, total_b = 0;
        if ((err = kern_backend_mem_info(be, &free_b, &total_b))) {
            kf_errf(errstr, errstr_size, "device memory query: %s", kern_last_error());
            return err;
        }
        uint64_t margin = need / 16 > LOADER_INPLACE_MARGIN ? need / 16 : LOADER_INPLACE_MARGIN;
        *fits = (uint64_t)free_b >= need + margin;
    } else {
        *fits = !budget_bytes ||
                (resident_bytes <= budget_bytes && need <= budget_bytes - resident_bytes);
    }
    return 0;
}
