/**
 * @file manifest.h
 * @brief The model manifest (JSON, ARCHITECTURE §3) and the architecture
 *        description inside it: parse + validate, build + canonical encode,
 *        golden-vector comparison, and the detached manifest.sig file.
 *
 * The weights blob is the DATA SECTION of the published safetensors file
 * (the bytes after its 8-byte length and JSON header), so tensor offsets are
 * the safetensors data_offsets. It is stored as the concatenation of the
 * listed chunks; blob_size is the sum of their sizes.
 *
 * Ownership: a struct manifest comes from manifest_new() or manifest_parse()
 * and is released with manifest_free(), which frees every array it points to
 * (tensors, chunks, arch.layers, golden.inputs/outputs) with free(). The
 * manifest_set_* helpers copy their arguments.
 */
#ifndef SCHEMA_MANIFEST_H
#define SCHEMA_MANIFEST_H

#include "common/crypto.h"
#include "common/kf_buf.h"
#include "schema/ctl_sig.h"
#include "schema/dtype.h"
#include "schema/tensor.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MANIFEST_FORMAT 1              /**< value of "kfleet_manifest" */
#define MANIFEST_MAX_BYTES (64u << 20) /**< larger manifests are refused unparsed */
#define MANIFEST_MAX_TENSORS 65536
#define MANIFEST_MAX_CHUNKS (1u << 20)
#define MANIFEST_MAX_LAYERS 256
#define MANIFEST_MAX_GOLDEN_ROWS 1024
#define ARCH_MAX_BYTES (1u << 20)

enum arch_act {
    ARCH_ACT_NONE = 0, /**< "none" */
    ARCH_ACT_RELU,     /**< "relu" */
    ARCH_ACT_GELU,     /**< "gelu" */
    ARCH_ACT_TANH,     /**< "tanh" */
    ARCH_ACT_SIGMOID,  /**< "sigmoid" */
};

enum arch_output {
    ARCH_OUTPUT_NONE = 0, /**< "none" */
    ARCH_OUTPUT_SOFTMAX,  /**< "softmax" over each output row */
};

const char *arch_act2str(enum arch_act a);
const char *arch_output2str(enum arch_output o);

/** @brief One dense layer: y = act(x · Wᵀ + b), W is [out_width, in_width]. */
struct arch_layer {
    char weight[SCHEMA_TENSOR_NAME_CAP]; /**< tensor name */
    char bias[SCHEMA_TENSOR_NAME_CAP];   /**< tensor name, "" = no bias */
    enum arch_act activation;
    /* Filled by arch_bind() (and so by manifest_parse): */
    uint64_t in_width, out_width;
    long weight_index; /**< into the bound tensor table */
    long bias_index;   /**< -1 without bias */
};

/**
 * @brief An MLP ("kind":"mlp", the only kind). JSON form (the --arch file,
 *        the safetensors __metadata__ key "kfleet.architecture" and the
 *        manifest's "architecture"):
 *        {"kind":"mlp","input_width":256,"output_width":10,
 *         "layers":[{"weight":"0.weight","bias":"0.bias","activation":"relu"},...],
 *         "output":"softmax"}
 *        output_width is optional on input (derived from the last layer) and
 *        always written by manifest_encode; bias is optional.
 */
struct arch_desc {
    uint64_t input_width;
    uint64_t output_width; /**< 0 = not given yet; arch_bind sets it */
    enum arch_output output;
    size_t n_layers;
    struct arch_layer *layers; /**< owned, free() */
};

/**
 * @brief Parse an architecture JSON document (not yet bound to tensors).
 * @param out  filled; release with arch_desc_fini (also after an error)
 * @returns 0; -EPROTO (errstr names the field: "layers[1].activation: ...");
 *          -E2BIG over ARCH_MAX_BYTES or MANIFEST_MAX_LAYERS; -ENOMEM
 */
int arch_parse(const uint8_t *buf, size_t len, struct arch_desc *out, char *errstr,
               size_t errstr_size);

/** @brief Free the layers; the struct is empty afterwards. NULL is a no-op. */
void arch_desc_fini(struct arch_desc *a);

/**
 * @brief Bind an architecture to a tensor table: every weight and bias names
 *        an existing tensor; weights are 2-D [out, in] and biases 1-D [out]
 *        with positive sizes; layer 0's in == input_width, each next layer's
 *        in == the previous out; output_width (if given) == the last out; all
 *        these tensors have one dtype, returned in @p dtype. Fills in_width,
 *        out_width, the indexes and output_width.
 * @returns 0; -EPROTO (errstr names the layer and the rule)
 */
int arch_bind(struct arch_desc *a, const struct schema_tensor *t, size_t n,
              enum schema_dtype *dtype, char *errstr, size_t errstr_size);

struct manifest_chunk {
    char sha256[65]; /**< lower-case hex */
    uint64_t size;   /**< bytes, >= 1 */
    uint64_t offset; /**< derived: where the chunk starts in the blob */
};

struct manifest_source {
    char name[SCHEMA_TENSOR_NAME_CAP]; /**< original file name */
    uint64_t size;
    char sha256[65];
};

/**
 * @brief Golden vectors: inputs and the outputs the CPU reference computed at
 *        publish time. JSON: {"rows":R,"inputs":B64,"outputs":B64,"atol":a,"rtol":r}
 *        where B64 is standard base64 of little-endian f32, row-major,
 *        R × input_width and R × output_width values. A value passes when
 *        |got - want| <= atol + rtol × |want|.
 */
struct manifest_golden {
    uint64_t rows;    /**< 1..MANIFEST_MAX_GOLDEN_ROWS */
    size_t n_inputs;  /**< values in inputs: rows × input_width */
    size_t n_outputs; /**< values in outputs: rows × output_width */
    float *inputs;    /**< owned */
    float *outputs;   /**< owned */
    double atol, rtol;
};

struct manifest {
    uint32_t kfleet_manifest; /**< MANIFEST_FORMAT */
    char model[SCHEMA_NAME_MAX + 1];
    char version[SCHEMA_NAME_MAX + 1];
    uint64_t seq;            /**< >= 1, monotonic per model */
    char created_at[40];     /**< RFC 3339 UTC, "2026-01-02T03:04:05Z" (fraction allowed) */
    enum schema_dtype dtype; /**< of every architecture tensor */
    struct arch_desc arch;
    uint64_t blob_size;
    size_t n_tensors;
    struct schema_tensor *tensors; /**< owned */
    size_t n_chunks;
    struct manifest_chunk *chunks; /**< owned, in blob order */
    struct manifest_source source;
    struct manifest_golden golden;
};

/** @brief A zeroed manifest with kfleet_manifest set; NULL on OOM. */
struct manifest *manifest_new(void);
/** @brief Free @p m and all it owns; NULL is a no-op. */
void manifest_free(struct manifest *m);

/** @brief Replace the tensor table with a copy of @p t. @returns 0, -ENOMEM */
int manifest_set_tensors(struct manifest *m, const struct schema_tensor *t, size_t n);
/** @brief Append a chunk (offset and blob_size follow). @returns 0, -EINVAL bad hex, -ENOMEM */
int manifest_add_chunk(struct manifest *m, const char sha256_hex[65], uint64_t size);
/** @brief Replace the architecture with a deep copy of @p a. @returns 0, -ENOMEM */
int manifest_set_arch(struct manifest *m, const struct arch_desc *a);
/**
 * @brief Set golden vectors (copied): @p rows × arch.input_width inputs and
 *        rows × arch.output_width outputs; set the architecture first.
 * @returns 0, -EINVAL (no architecture, rows 0), -ENOMEM
 */
int manifest_set_golden(struct manifest *m, uint64_t rows, const float *inputs,
                        const float *outputs, double atol, double rtol);

/**
 * @brief Every rule of a manifest: format 1, names, seq >= 1, created_at
 *        shape, at least one chunk, every chunk size >= 1 and the sizes adding
 *        up to blob_size (offsets are recomputed), tensors as in
 *        schema_tensors_check, the architecture bound to the tensors with
 *        compatible shapes and with dtype == m->dtype, golden rows 1..1024,
 *        finite values, atol/rtol finite and >= 0. Binds @p m->arch.
 * @returns 0; -EPROTO (errstr names the field and the rule); -ENOMEM
 */
int manifest_validate(struct manifest *m, char *errstr, size_t errstr_size);

/**
 * @brief Parse and validate a manifest.
 * @param out  new on success (manifest_free); NULL on failure
 * @returns 0; -EINVAL NULL argument; -E2BIG over MANIFEST_MAX_BYTES or a
 *          count limit; -EPROTO malformed or a rule broken (errstr names the
 *          field); -ENOMEM
 */
int manifest_parse(const uint8_t *buf, size_t len, struct manifest **out, char *errstr,
                   size_t errstr_size);

/**
 * @brief Validate @p m, then append its canonical bytes to @p out: compact
 *        JSON, keys sorted, arrays in table order. The same manifest always
 *        gives the same bytes, and parse → encode reproduces canonical input
 *        byte for byte. On failure @p out is left as it was.
 * @returns 0; -EINVAL a rule broken (errstr says which); -ENOMEM
 */
int manifest_encode(struct manifest *m, kf_buf *out, char *errstr, size_t errstr_size);

/**
 * @brief Compare a backend's outputs for the golden inputs with the expected
 *        ones under atol/rtol. NaN never passes.
 * @param got        rows × output_width values
 * @param bad_index  optional out: index of the first value that failed
 * @returns 0 all within tolerance; -EBADMSG a value is not; -EINVAL @p n is
 *          not rows × output_width
 */
int manifest_golden_check(const struct manifest *m, const float *got, size_t n, size_t *bad_index);

/**
 * @brief Sign manifest bytes and append the manifest.sig document
 *        {"alg":"ed25519","key_id":"...","sig":"<base64>"} to @p out.
 * @returns 0; -EINVAL no private key; -EIO; -ENOMEM
 */
int manifest_sig_encode(const struct crypto_ed25519_key *key, const uint8_t *manifest,
                        size_t manifest_len, kf_buf *out);

/**
 * @brief Verify manifest bytes against a manifest.sig document.
 * @param sig_doc     the manifest.sig bytes, or NULL when there is none
 * @param key_id_out  optional out: the key_id it names ("" if unreadable)
 * @returns CTL_SIG_OK, CTL_SIG_UNSIGNED (@p sig_doc NULL), CTL_SIG_MALFORMED
 *          (not the JSON above, alg not ed25519), CTL_SIG_UNKNOWN_KEY,
 *          CTL_SIG_BAD_SIGNATURE
 */
enum ctl_sig_verdict manifest_sig_verify(const uint8_t *sig_doc, size_t sig_len,
                                         const uint8_t *manifest, size_t manifest_len,
                                         const crypto_keyring *kr,
                                         char key_id_out[CRYPTO_KEY_ID_LEN + 1]);

#endif
