/**
 * @file kt_stack.h
 * @brief The faults the devstack makes: ops/devstack stop-/start-broker,
 *        stop-/start-s3 and leader-of ($KFLEET_DEVSTACK, which meson sets to
 *        the source tree's ops/devstack). Whatever a row stops is started
 *        again when the process exits, even through a failed assertion: the
 *        devstack is shared. Each returns the script's exit code.
 */
#ifndef KT_STACK_H
#define KT_STACK_H

#include <stdbool.h>

/** @brief `stop-s3` (@p up false) or `start-s3` (returns once S3 answers). */
int kt_stack_s3(bool up);

/** @brief `stop-broker [N] [--kill]` or `start-broker [N]`; @p node 0: the default broker. */
int kt_stack_broker(int node, bool up, bool kill);

/** @brief `leader-of TOPIC PARTITION --cluster`: the cluster node leading it, -1 if none. */
int kt_stack_leader_of(const char *topic, int partition);

#endif
