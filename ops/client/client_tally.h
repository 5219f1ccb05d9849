/**
 * @file client_tally.h
 * @brief kfleet-client's count of first answers by the model version that
 *        computed them, for the summary ("answered by v1: 2480, by v2: 2520"):
 *        during a rollout it shows the fleet moving from one version to the next.
 */
#ifndef OPS_CLIENT_TALLY_H
#define OPS_CLIENT_TALLY_H

#include "common/kf_buf.h"
#include "schema/names.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CLIENT_TALLY_MAX 16 /**< versions counted one by one; more go to "other" */
#define CLIENT_TALLY_NAME_CAP SCHEMA_NAME_CAP /**< a version name + NUL */

struct client_tally {
    struct {
        char version[CLIENT_TALLY_NAME_CAP]; /**< "" for answers without a version */
        long answers;
    } by[CLIENT_TALLY_MAX];
    size_t n;         /**< entries used in by[], in order of first answer */
    long other;       /**< answers by a version beyond the first CLIENT_TALLY_MAX */
    long unprintable; /**< answers whose version is longer than a name may be */
};

/**
 * @brief Count one answer by @p version (not NUL-terminated; empty: none
 *        was resolved, e.g. unknown_model).
 */
void client_tally_add(struct client_tally *t, kf_bytes version);

/**
 * @brief The version of an answer: its kfleet-version header (provenance,
 *        docs/architecture.md §2) when @p header is non-NULL, else the
 *        response's own version field @p body.
 */
kf_bytes client_tally_version(const kf_bytes *header, kf_bytes body);

/**
 * @brief One line: "answered by v1: 2480, by v2: 2520" (in order of first
 *        answer; "(none)" for answers without a version; "other: N" past
 *        CLIENT_TALLY_MAX versions); "answered by no version" when empty.
 */
void client_tally_print(const struct client_tally *t, FILE *out);

#endif
