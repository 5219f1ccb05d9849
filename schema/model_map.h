/**
 * @file model_map.h
 * @brief The one mapping from a manifest's architecture (schema/manifest.h)
 *        to the kernels' model description (kernels/kern_model.h): dtypes,
 *        activations, the output, and a whole bound architecture over a
 *        weights blob.
 *
 * Golden vectors mean something only if the publisher (which computes them)
 * and the worker (which must reproduce them) build the same kern_model from
 * the same manifest, so both — and the tools and fixtures that make models —
 * call this module instead of converting enums themselves.
 *
 * Where it lives, and why: it needs both schema/ and kernels/, and neither
 * may need the other. kernels/ builds alone with -Dservices=disabled (the
 * bare GPU machine has no jansson or msgpack), and kfschema is the contracts
 * alone, linked by tools that never run a model (kfleetctl, kfleet-client,
 * the fuzzers). So the file pair sits beside the manifest it interprets, in
 * schema/, but builds into a library of its own, `kfmodel_map`
 * (kfschema + kfkernels_ref), that only model users link.
 *
 * Unknown enum values are errors, never a silent NONE or F32: a manifest
 * whose activation this build does not know must not be served as linear.
 */
#ifndef SCHEMA_MODEL_MAP_H
#define SCHEMA_MODEL_MAP_H

#include "kernels/kern_model.h"
#include "schema/dtype.h"
#include "schema/manifest.h"
#include "schema/tensor.h"

#include <stddef.h>
#include <stdint.h>

/**
 * @brief The kernels' dtype for a schema dtype (f32, f16, bf16 → the same).
 * @param out  receives it on success; untouched on failure
 * @returns 0; -EINVAL for a value outside enum schema_dtype
 */
int model_map_dtype(enum schema_dtype dt, enum kern_dtype *out);

/**
 * @brief The kernels' activation for an architecture activation (same names:
 *        arch_act2str(a) equals kern_act_str(*out)).
 * @param out  receives it on success; untouched on failure
 * @returns 0; -EINVAL for a value outside enum arch_act
 */
int model_map_act(enum arch_act act, enum kern_act *out);

/**
 * @brief The kernels' final step for an architecture's "output".
 * @param out  receives it on success; untouched on failure
 * @returns 0; -EINVAL for a value outside enum arch_output
 */
int model_map_output(enum arch_output output, enum kern_final *out);

/**
 * @brief The network of a bound architecture (arch_bind, or manifest_parse /
 *        manifest_validate, filled the widths and tensor indexes) as a
 *        kern_model whose weights point into @p blob (no copy).
 *
 * Checked here, so that a model it returns never reads outside @p blob even
 * when @p a was bound to another table: 1..KERN_MAX_LAYERS layers; input and
 * layer widths 1..KERN_MAX_WIDTH; each layer's tensor indexes inside @p t;
 * every enum (activation, output, tensor dtypes) known; a weight of exactly
 * out × in elements and a bias of out elements, each lying wholly inside the
 * blob; then kern_model_validate (chaining of widths). errstr names the layer
 * and its weight tensor: `layers[1] ("2.weight"): ...`.
 *
 * @param a          the bound architecture (borrowed)
 * @param t          the tensor table it was bound to (borrowed, @p n_tensors entries)
 * @param blob       the weights blob the tensor offsets refer to (borrowed; the
 *                   model points into it, so it must outlive the model)
 * @param blob_size  bytes in @p blob
 * @param km         receives the model
 * @param layers     receives a new array the model points to (free()); NULL on failure
 * @returns 0; -EINVAL a NULL argument (no blob included); -EPROTO the
 *          architecture does not map onto a kern_model (errstr says where and
 *          why); -ENOMEM
 */
int model_map_build(const struct arch_desc *a, const struct schema_tensor *t, size_t n_tensors,
                    const uint8_t *blob, uint64_t blob_size, struct kern_model *km,
                    struct kern_layer **layers, char *errstr, size_t errstr_size);

#endif
