/**
 * @file kern_model.h
 * @brief The model description every backend loads: a dense network of
 *        `y = act(x · Wᵀ + b)` layers and an optional row-wise softmax.
 *
 * A plain C struct that the manifest parser, the publisher (golden vectors)
 * and the worker fill in; kernels/ never parses JSON or safetensors itself.
 *
 * Weights follow PyTorch's nn.Linear: weight `[out_width, in_width]`,
 * row-major, little-endian, `y = x · Wᵀ + b`. They may be f32, f16 or bf16.
 *
 * Numerics (the contract every backend implements, and the reference defines):
 * - A layer whose weights are f16 or bf16 first rounds its input activations
 *   to that dtype (round to nearest even), then multiplies with f32
 *   accumulation. Products of two f16 or two bf16 values are exact in f32, so
 *   backends differ only in the order of the sum.
 * - Bias (any dtype) is widened to f32 and added in f32; the activation is
 *   computed in f32.
 * - gelu is the exact erf form, `0.5·x·(1 + erf(x/√2))`, PyTorch's default
 *   `nn.GELU()`, not the tanh approximation.
 * - softmax is the stable form `exp(x - max) / Σ exp(x - max)`; a row with a
 *   NaN or +Inf yields NaN in every column.
 * - relu, tanh, sigmoid and gelu propagate NaN; gelu(+Inf) = +Inf, gelu(-Inf) = 0.
 */
#ifndef KERN_MODEL_H
#define KERN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Largest width (features) of any layer a backend must accept. */
#define KERN_MAX_WIDTH 65536u
/** Most layers in one model. */
#define KERN_MAX_LAYERS 1024u
/** Most rows in one batch (the `max_rows` given at load). */
#define KERN_MAX_ROWS 65536u

/** @brief Element type of a weight or bias tensor. */
enum kern_dtype {
    KERN_DTYPE_F32 = 0,
    KERN_DTYPE_F16 = 1,
    KERN_DTYPE_BF16 = 2,
};
#define KERN_DTYPE_COUNT 3

/** @brief Activation after a layer's affine map. */
enum kern_act {
    KERN_ACT_NONE = 0,
    KERN_ACT_RELU = 1,
    KERN_ACT_GELU = 2, /**< exact erf form */
    KERN_ACT_TANH = 3,
    KERN_ACT_SIGMOID = 4,
};
#define KERN_ACT_COUNT 5

/** @brief What follows the last layer. */
enum kern_final {
    KERN_FINAL_NONE = 0,
    KERN_FINAL_SOFTMAX = 1, /**< row-wise, numerically stable */
};
#define KERN_FINAL_COUNT 2

/** @brief One dense layer. */
struct kern_layer {
    uint32_t out_width;           /**< rows of W, columns of the output */
    uint32_t in_width;            /**< columns of W; equals the previous layer's out_width */
    enum kern_dtype weight_dtype; /**< dtype of `weight` (and of the product, see the file doc) */
    enum kern_dtype bias_dtype;   /**< dtype of `bias`; ignored when bias is NULL */
    /** Borrowed: out_width × in_width elements, row-major, little-endian; any alignment. */
    const void *weight;
    /** Borrowed or NULL (no bias): out_width elements, little-endian; any alignment. */
    const void *bias;
    enum kern_act act;
};

/** @brief A whole network. Everything it points to is borrowed. */
struct kern_model {
    uint32_t input_width;            /**< columns of an input row */
    uint32_t n_layers;               /**< 1 … KERN_MAX_LAYERS */
    const struct kern_layer *layers; /**< borrowed, n_layers entries */
    enum kern_final final;
};

/**
 * @brief Check that a model is well formed: 1 … KERN_MAX_LAYERS layers, widths
 *        1 … KERN_MAX_WIDTH, each layer's in_width equal to the previous
 *        out_width (the first to input_width), enums in range, weight non-NULL.
 * @param m       the model (borrowed)
 * @param errstr  receives a reason on failure (may be NULL)
 * @returns 0, or -EINVAL with the first problem found in errstr.
 */
int kern_model_validate(const struct kern_model *m, char *errstr, size_t errstr_size);

/** @brief Output width (the last layer's out_width). @pre the model validates. */
uint32_t kern_model_output_width(const struct kern_model *m);

/** @brief The widest of input_width and every out_width. @pre the model validates. */
uint32_t kern_model_max_width(const struct kern_model *m);

/** @brief Bytes of weights and biases as stored (in their own dtypes). @pre validates. */
uint64_t kern_model_weight_bytes(const struct kern_model *m);

/** @brief Floating-point operations of one row through the network (2·in·out per layer). */
uint64_t kern_model_flops_per_row(const struct kern_model *m);

/** @brief Bytes per element of a dtype (4 or 2); 0 for a value out of range. */
size_t kern_dtype_size(enum kern_dtype dt);

/** @brief "f32", "f16", "bf16"; "?" for a value out of range. Static storage. */
const char *kern_dtype_str(enum kern_dtype dt);
/** @brief "none", "relu", "gelu", "tanh", "sigmoid"; "?" out of range. Static storage. */
const char *kern_act_str(enum kern_act act);
/** @brief "none", "softmax"; "?" out of range. Static storage. */
const char *kern_final_str(enum kern_final fin);

/**
 * @brief Parse a dtype name as the request format spells it ("f32", "f16",
 *        "bf16") or as safetensors does ("F32", "F16", "BF16").
 * @param s    the name, `len` bytes, not necessarily NUL-terminated
 * @param dt   receives the dtype on success
 * @returns 0, or -EINVAL for any other string (dt untouched).
 */
int kern_dtype_parse(const char *s, size_t len, enum kern_dtype *dt);

/**
 * @brief Parse an activation name as the architecture JSON spells it:
 *        "none", "relu", "gelu", "tanh", "sigmoid" (exact, lower case).
 * @returns 0, or -EINVAL (act untouched).
 */
int kern_act_parse(const char *s, size_t len, enum kern_act *act);

/**
 * @brief Parse the architecture's "output": "none" or "softmax".
 * @returns 0, or -EINVAL (fin untouched).
 */
int kern_final_parse(const char *s, size_t len, enum kern_final *fin);

#ifdef __cplusplus
}
#endif

#endif
