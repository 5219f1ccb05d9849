/**
 * @file manifest_impl.h
 * @brief Internal: architecture <-> jansson, shared by arch.c and the
 *        manifest parser/encoder.
 */
#ifndef SCHEMA_MANIFEST_IMPL_H
#define SCHEMA_MANIFEST_IMPL_H

#include "schema/json_impl.h"
#include "schema/manifest.h"

/** @brief Fill @p a from a JSON object named @p path in errors. @returns 0, -EPROTO, -E2BIG,
 * -ENOMEM */
int arch_from_json(const json_t *o, const char *path, struct arch_desc *a, char *errstr,
                   size_t errstr_size);
/** @brief A new JSON object for @p a (output_width written when non-zero), or NULL on OOM. */
json_t *arch_to_json(const struct arch_desc *a);

#endif
