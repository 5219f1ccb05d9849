/**
 * @file worker_conf.h
 * @brief kfleet-worker's property table (see kf_conf.h): the one list that
 *        drives parsing, range checks, --help and docs/worker-config.md.
 */
#ifndef KF_WORKER_CONF_H
#define KF_WORKER_CONF_H

#include "common/kf_conf.h"

#include <stddef.h>

extern const struct kf_prop worker_props[];
extern const size_t worker_props_count;

#endif
