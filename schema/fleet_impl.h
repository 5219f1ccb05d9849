/**
 * @file fleet_impl.h
 * @brief Internal layout of struct fleet_state, shared by the fleet_*.c files.
 */
#ifndef SCHEMA_FLEET_IMPL_H
#define SCHEMA_FLEET_IMPL_H

#include "schema/fleet.h"

struct fleet_name {
    char s[CTL_NAME_CAP];
};

struct fleet_version {
    char version[CTL_NAME_CAP];
    uint64_t seq;
    int64_t offset;
    struct ctl_manifest_ref manifest;
    struct ctl_strategy strategy;
};

struct fleet_model {
    char name[CTL_NAME_CAP];
    enum fleet_phase phase;
    enum fleet_phase resume_phase;
    char target[CTL_NAME_CAP];
    char previous_good[CTL_NAME_CAP];
    uint64_t seq;
    struct ctl_strategy strategy;
    struct ctl_manifest_ref manifest;
    char halt_reason[CTL_REASON_CAP];
    int64_t phase_offset, cutover_offset;
    struct fleet_claim *claims;
    size_t n_claims, cap_claims;
    struct fleet_name *staged, *healthy;
    size_t n_staged, cap_staged, n_healthy, cap_healthy;
    struct fleet_version *versions;
    size_t n_versions, cap_versions;
    uint64_t n_ignored, n_invalid;
};

struct fleet_worker_model {
    char model[CTL_NAME_CAP];
    char version[CTL_NAME_CAP]; /**< "" = serves the model, nothing loaded */
};

struct fleet_worker {
    char id[CTL_NAME_CAP];
    bool live;
    char host[CTL_HOST_CAP];
    char backend[CTL_BACKEND_CAP];
    char device[CTL_NAME_CAP];
    uint64_t free_memory;
    int64_t last_offset;
    struct fleet_worker_model *models;
    size_t n_models, cap_models;
};

struct fleet_state {
    struct fleet_opts opts;
    int64_t last_offset;
    uint64_t n_records;
    struct fleet_model *models;
    size_t n_models, cap_models;
    struct fleet_worker *workers;
    size_t n_workers, cap_workers;
};

struct fleet_model *fleet_model_find(const fleet_state *fs, const char *name);
struct fleet_worker *fleet_worker_find(const fleet_state *fs, const char *id);
size_t fleet_active_claims(const struct fleet_model *m);
const char *fleet_worker_model_version(const struct fleet_worker *w, const char *model);
/** Grow *ptr (elements of @p size) to hold n+1. @returns 0, -ENOMEM */
int fleet_grow(void **ptr, size_t *cap, size_t n, size_t size);
/** Write a log line through the configured sink. */
void fleet_logf(const fleet_state *fs, enum kf_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
