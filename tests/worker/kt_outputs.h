/**
 * @file kt_outputs.h
 * @brief Answers checked by numbers: the outputs a fleet test's ledger kept,
 *        against what a fixture version's weights compute on the reference
 *        backend for the same inputs.
 */
#ifndef KT_OUTPUTS_H
#define KT_OUTPUTS_H

#include "tests/worker/kt_e2e.h"

/**
 * @brief Check answers [@p from, @p to) of the ledger: each one is OK, names
 *        @p v's version, and its outputs equal @p v's on the reference backend
 *        for the request's input (kt_env_request_input) within
 *        1e-5 + 1e-4 × |reference|. Fails the test at the first that does not.
 * @returns the number of output values compared
 */
int kt_outputs_check(const struct kt_env *e, int from, int to, const struct kt_version *v);

#endif
