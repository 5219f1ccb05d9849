/**
 * @file pub_model.h
 * @brief The model file a push starts from: a safetensors file mapped
 *        read-only, its validated header, and the architecture (from --arch
 *        or the file's "kfleet.architecture" metadata) bound to its tensors.
 */
#ifndef KF_PUB_MODEL_H
#define KF_PUB_MODEL_H

#include "schema/manifest.h"
#include "schema/safet.h"

#include <stddef.h>
#include <stdint.h>

struct pub_model {
    const uint8_t *file; /**< the whole file, mapped (owned; pub_model_close) */
    size_t file_len;
    struct safet_file *sf;   /**< owned */
    struct arch_desc arch;   /**< owned; bound to sf->tensors */
    enum schema_dtype dtype; /**< of every architecture tensor */
    const uint8_t *blob;     /**< the data section: borrowed from file */
    uint64_t blob_size;
};

/**
 * @brief Map @p weights_path, validate it as safetensors, read the
 *        architecture (@p arch_path, or the metadata when NULL) and bind it.
 * @param pm  filled; pub_model_close it afterwards (also after a failure)
 * @returns 0;
 *          -ENOENT, -EACCES, ... the file (errstr: path and reason);
 *          -EPROTO not valid safetensors (truncated, malformed header,
 *                  unsupported dtype), a malformed architecture, or one that
 *                  does not match the tensors (errstr says which and why);
 *          -EINVAL no architecture anywhere; -ENOMEM
 */
int pub_model_open(struct pub_model *pm, const char *weights_path, const char *arch_path,
                   char *errstr, size_t errstr_size);

/** @brief Unmap and free; the struct is zeroed. Safe on a zeroed or half-opened one. */
void pub_model_close(struct pub_model *pm);

#endif
