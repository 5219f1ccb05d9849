/**
 * @file test_fault.h
 * @brief A version that passes its golden check but misbehaves on live
 *        traffic, for the health-window tests (issue 16). Built only with
 *        -Dtest_hooks=true (KFLEET_TEST_HOOKS=1); callers wrap their use in
 *        `#if KFLEET_TEST_HOOKS`, and ops/check-test-hooks finds any
 *        worker_test_* symbol or KFLEET_TEST_ string in a release build.
 *
 * KFLEET_TEST_FAULT=VERSION:errors=F   answer a fraction F (0..1) of the
 *                                      requests VERSION computes with an
 *                                      error (code "test_fault"): every
 *                                      round(1/F)-th, deterministically
 * KFLEET_TEST_FAULT=VERSION:slow=X     VERSION's batches take X times as
 *                                      long: sleep x the batch's
 *                                      compute time, counted as at least 4 ms
 *                                      (twice the default batching window)
 *
 * Several, comma-separated: KFLEET_TEST_FAULT=v2:errors=0.2,v3:slow=5 (at
 * most 4). Read once, at the first call; a malformed value is logged and
 * injects nothing. Golden vectors run through the loader, not
 * the serving path, so the version still loads and validates.
 *
 * @locality any thread
 */
#ifndef KF_WORKER_TEST_FAULT_H
#define KF_WORKER_TEST_FAULT_H

#include <stdbool.h>
#include <stdint.h>

/** @brief Whether the next request computed by @p version is to fail. */
bool worker_test_fault_error(const char *version);

/**
 * @brief How long (µs) to hold a batch of @p version that computed in
 *        @p compute_us, 0 when the version is not slowed.
 */
int64_t worker_test_fault_delay_us(const char *version, int64_t compute_us);

#endif
