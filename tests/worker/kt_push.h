/**
 * @file kt_push.h
 * @brief The real publish-model push against a fleet test's topics and store:
 *        a fixture version written as a weights file push takes as it is, and
 *        the push itself, signed by the env's trusted key.
 */
#ifndef KT_PUSH_H
#define KT_PUSH_H

#include "tests/worker/kt_e2e.h"

/**
 * @brief Write @p v as a safetensors file at @p path: its blob is the file's
 *        data section byte for byte (so push, at the fixture's chunk size,
 *        cuts the chunks the fixture's manifest lists) and its manifest's
 *        architecture is in the "kfleet.architecture" metadata. Fails the test
 *        on any error.
 */
void kt_push_write_weights(const struct kt_version *v, const char *path);

/**
 * @brief Run `publish-model push` of @p version of the env's model from
 *        @p weights with the env's brokers, control topic and trusted key,
 *        plus @p extra arguments (NULL-terminated; may be NULL). Fails the test
 *        unless it exits 0.
 * @returns its stdout and stderr (new, free()), also kept in DIR/push-VERSION.log
 */
char *kt_push(struct kt_env *e, const char *publish_bin, const char *version, const char *weights,
              const char *const *extra);

#endif
