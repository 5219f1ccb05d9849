/**
 * @file kt_model.h
 * @brief Test models for publish-model: small MLPs written as safetensors the
 *        way PyTorch's save_file does (0.weight, 0.bias, 2.weight, ...), with
 *        the architecture in __metadata__ or in a separate file, and a plain
 *        C forward pass that the golden vectors are checked against (it
 *        shares no code with the publisher or the kernels).
 */
#ifndef KT_PUB_MODEL_H
#define KT_PUB_MODEL_H

#include "schema/dtype.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KT_MODEL_MAX_LAYERS 8

struct kt_model_spec {
    uint32_t input_width;
    uint32_t n_layers;
    uint32_t widths[KT_MODEL_MAX_LAYERS]; /**< out width of each layer */
    enum schema_dtype dtype;
    uint64_t seed;
    bool softmax;
    bool no_arch_meta; /**< leave "kfleet.architecture" out of the metadata */
    /** Non-zero: change the last layer's bias with this seed (a fine-tune of one tensor). */
    uint64_t tweak_seed;
};

/** @brief Write the model to @p path; exits 99 on failure. @returns the file size */
uint64_t kt_model_write(const char *path, const struct kt_model_spec *s);

/** @brief The architecture JSON of @p s (input width changed by @p input_delta) to @p path. */
void kt_model_write_arch(const char *path, const struct kt_model_spec *s, int input_delta);

/**
 * @brief Forward @p rows f32 inputs through an f32 model file's tensors with
 *        a naive loop (relu between layers, none after the last, softmax if
 *        the spec says so). @p out holds rows × last width.
 */
void kt_model_forward(const char *path, const struct kt_model_spec *s, const float *in,
                      uint32_t rows, float *out);

/** @brief Read a whole file (new, free()); exits 99 on failure. */
uint8_t *kt_read_file(const char *path, size_t *len);
/** @brief Write bytes to a file; exits 99 on failure. */
void kt_write_file(const char *path, const void *data, size_t len);

/** @brief A fresh temporary directory (new, free()); kt_rmtree removes it. */
char *kt_mkdtemp(const char *tag);
void kt_rmtree(const char *path);

#endif
