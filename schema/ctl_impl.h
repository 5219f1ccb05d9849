/**
 * @file ctl_impl.h
 * @brief Internal: the name tables behind the ctl_*2str functions, shared
 *        with the codec and the reducer's dump.
 */
#ifndef SCHEMA_CTL_IMPL_H
#define SCHEMA_CTL_IMPL_H

#include "schema/ctl_event.h"

#include <jansson.h>

#define CTL_KIND_COUNT 4
#define CTL_SWAP_COUNT 3
#define CTL_ACTION_COUNT 5
#define CTL_MODE_COUNT 3
#define CTL_STAGE_COUNT 7

extern const char *const ctl_type_names[CTL_TYPE_COUNT];
extern const char *const ctl_kind_names[CTL_KIND_COUNT];
extern const char *const ctl_swap_names[CTL_SWAP_COUNT];
extern const char *const ctl_action_names[CTL_ACTION_COUNT];
extern const char *const ctl_mode_names[CTL_MODE_COUNT];
extern const char *const ctl_stage_names[CTL_STAGE_COUNT];

/** @brief The canonical JSON object of a strategy (new reference; NULL and *err = -ENOMEM on OOM).
 */
json_t *ctl_strategy_json(const struct ctl_strategy *st, int *err);

#endif
