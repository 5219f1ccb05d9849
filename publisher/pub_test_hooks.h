/**
 * @file pub_test_hooks.h
 * @brief Fault hooks of publish-model for its tests and the workers' tests.
 *        Compiled only in a test build (-Dtest_hooks=true, KFLEET_TEST_HOOKS=1):
 *        callers wrap their use in `#if KFLEET_TEST_HOOKS`, and a release build
 *        has none of these symbols (ops/check-test-hooks checks it).
 */
#ifndef KF_PUB_TEST_HOOKS_H
#define KF_PUB_TEST_HOOKS_H

#include "common/objstore.h"
#include "publisher/pub_chunk.h"

#include <stddef.h>
#include <stdint.h>

/** The environment variable behind pub_test_hook_die_after_chunks(). */
#define PUB_TEST_HOOK_DIE_ENV "KFLEET_TEST_DIE_AFTER_CHUNKS"

/**
 * @brief KFLEET_TEST_DIE_AFTER_CHUNKS=N: a push with more than N chunks to
 *        upload uploads N, then SIGKILLs itself (an interrupted push, for the
 *        tests that it leaves nothing visible and that a re-run completes it).
 * @returns N; -1 when the variable is unset or empty (no kill)
 */
long pub_test_hook_die_after_chunks(void);

/** @brief Say on stderr that @p uploaded chunks went up, then SIGKILL this process. */
_Noreturn void pub_test_hook_die(size_t uploaded);

/**
 * @brief Overwrite chunk @p c of @p blob in the store with its bytes, one of
 *        them flipped: a version whose chunk no longer matches its digest.
 * @returns 0; -ENOMEM; the store's errors (errstr names the key)
 */
int pub_test_hook_tamper_chunk(objstore *os, const struct pub_chunk *c, const uint8_t *blob,
                               char *errstr, size_t errstr_size);

#endif
